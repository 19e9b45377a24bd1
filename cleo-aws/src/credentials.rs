//! AWS credentials as cleo hands them out: `aws_credential_types::Credentials`
//! (which already wipes its secret parts on drop and redacts them in `Debug`), with
//! an expiry cleo's cache understands, an adapter to the SDK's `ProvideCredentials`,
//! and the `credential_process` JSON shape.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use cleo_core::{CredentialProvider, Error, ErrorKind, Expiring, Result, Zeroizing};
use serde::Serialize;

/// Temporary AWS credentials: access key id, secret key, session token, expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    inner: Credentials,
}

impl AwsCredentials {
    /// Wraps SDK credentials.
    pub fn new(inner: Credentials) -> Self {
        AwsCredentials { inner }
    }

    /// The SDK credentials, for building a client by hand.
    pub fn sdk(&self) -> &Credentials {
        &self.inner
    }

    /// The credentials in the AWS CLI `credential_process` JSON shape
    /// (`Version`, `AccessKeyId`, `SecretAccessKey`, `SessionToken`, `Expiration`),
    /// in a buffer that is wiped when dropped. This holds the secret key in clear:
    /// write it only to the process that asked for it.
    pub fn to_credential_process_json(&self) -> Result<Zeroizing<String>> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Process<'a> {
            version: u8,
            access_key_id: &'a str,
            secret_access_key: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            session_token: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            expiration: Option<String>,
        }
        let expiration = match self.inner.expiry() {
            None => None,
            Some(t) => Some(DateTime::from(t).fmt(Format::DateTime).map_err(|_| {
                Error::new(
                    ErrorKind::Unexpected,
                    "the expiry cannot be written as a date",
                )
            })?),
        };
        let p = Process {
            version: 1,
            access_key_id: self.inner.access_key_id(),
            secret_access_key: self.inner.secret_access_key(),
            session_token: self.inner.session_token(),
            expiration,
        };
        // Sized up front so the buffer never reallocates and leaves a copy behind.
        let mut out = Zeroizing::new(Vec::with_capacity(
            256 + self.inner.secret_access_key().len()
                + self.inner.session_token().map_or(0, str::len),
        ));
        serde_json::to_writer(&mut *out, &p).map_err(|e| {
            Error::new(ErrorKind::Unexpected, "cannot encode the credentials").with_source(e)
        })?;
        let text = String::from_utf8(std::mem::take(&mut *out))
            .map_err(|_| Error::new(ErrorKind::Unexpected, "credentials are not UTF-8"))?;
        Ok(Zeroizing::new(text))
    }
}

impl Deref for AwsCredentials {
    type Target = Credentials;
    fn deref(&self) -> &Credentials {
        &self.inner
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.inner.access_key_id())
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.inner.session_token().map(|_| "** redacted **"),
            )
            .field("expires_at", &self.inner.expiry())
            .finish()
    }
}

impl Expiring for AwsCredentials {
    fn expires_at(&self) -> Option<SystemTime> {
        self.inner.expiry()
    }
}

/// Plugs any cleo credential provider of AWS credentials into an aws-sdk-rust
/// client: `SharedCredentialsProvider::new(SdkCredentials::new(provider))`.
pub struct SdkCredentials {
    provider: Arc<dyn CredentialProvider<Credential = AwsCredentials>>,
}

impl SdkCredentials {
    /// Wraps `provider`.
    pub fn new(provider: Arc<dyn CredentialProvider<Credential = AwsCredentials>>) -> Self {
        SdkCredentials { provider }
    }
}

impl fmt::Debug for SdkCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SdkCredentials")
            .field("provider", &self.provider)
            .finish()
    }
}

impl ProvideCredentials for SdkCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            match self.provider.credential().await {
                Ok(c) => Ok(c.sdk().clone()),
                Err(e) if e.kind() == ErrorKind::ConfigInvalid => {
                    Err(CredentialsError::invalid_configuration(e))
                }
                Err(e) => Err(CredentialsError::provider_error(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn debug_redacts_and_process_json_has_the_aws_shape() {
        let expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let c = AwsCredentials::new(Credentials::new(
            "AKIDEXAMPLE",
            "canary-secret-key",
            Some("canary-session-token".into()),
            Some(expiry),
            "test",
        ));
        let debug = format!("{c:?} {c:#?}");
        assert!(!debug.contains("canary"), "{debug}");
        assert!(debug.contains("AKIDEXAMPLE"), "{debug}");
        let json: serde_json::Value =
            serde_json::from_str(&c.to_credential_process_json().unwrap()).unwrap();
        assert_eq!(json["Version"], 1);
        assert_eq!(json["AccessKeyId"], "AKIDEXAMPLE");
        assert_eq!(json["SecretAccessKey"], "canary-secret-key");
        assert_eq!(json["SessionToken"], "canary-session-token");
        assert_eq!(json["Expiration"], "2027-01-15T08:00:00Z");
        assert_eq!(c.expires_at(), Some(expiry));
    }
}
