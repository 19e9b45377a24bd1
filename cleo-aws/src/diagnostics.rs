//! What `cleo inspect` and `cleo doctor` ask AWS about the identity cleo reads
//! secrets with and about how a secret is encrypted. Identifiers only.

use cleo_core::Result;

use crate::error::map_sdk_error;
use crate::sdk::AwsContext;

/// The identity AWS sees, from STS `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallerIdentity {
    /// The caller's ARN (a user, or an assumed role's session).
    pub arn: String,
    /// The account id.
    pub account: String,
}

/// The AWS-managed key Secrets Manager uses when a secret names none.
pub const DEFAULT_SECRETS_MANAGER_KEY: &str = "alias/aws/secretsmanager";

/// How a Secrets Manager secret is encrypted, from `DescribeSecret`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretEncryption {
    /// The secret's ARN.
    pub arn: Option<String>,
    /// The KMS key it names; `None` means the AWS-managed default key.
    pub kms_key_id: Option<String>,
}

impl SecretEncryption {
    /// Whether the secret is encrypted with the AWS-managed default key, either by
    /// naming no key or by naming that key's alias.
    pub fn uses_default_key(&self) -> bool {
        match self.kms_key_id.as_deref() {
            None | Some("") => true,
            Some(k) => k == DEFAULT_SECRETS_MANAGER_KEY || k.ends_with(":alias/aws/secretsmanager"),
        }
    }
}

impl AwsContext {
    /// The region calls go to, if the configuration and environment name one.
    pub async fn region(&self) -> Option<String> {
        self.sdk_config().await.region().map(|r| r.to_string())
    }

    /// Where the credentials for secrets come from, in words: `[aws] role` and how
    /// it is assumed, else the first link of the SDK's default chain that this
    /// environment provides. Names variables and files, never their contents.
    pub fn credential_source(&self) -> String {
        if let Some(name) = &self.config().role {
            let how = match self.config().role(name).ok().and_then(|r| r.web_identity) {
                Some(crate::WebIdentityKind::Github) => {
                    "AssumeRoleWithWebIdentity, GitHub Actions ID token"
                }
                Some(crate::WebIdentityKind::TokenFile) => "AssumeRoleWithWebIdentity, token file",
                None => "AssumeRole",
            };
            return format!("[aws] role `{name}` ({how})");
        }
        let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        // The SDK's default chain, in its order.
        let link = if set("AWS_ACCESS_KEY_ID") {
            "AWS_ACCESS_KEY_ID in the environment".to_owned()
        } else if let Some(p) = &self.config().profile {
            format!("profile `{p}` ([aws] profile)")
        } else if set("AWS_PROFILE") {
            "the profile named by AWS_PROFILE".to_owned()
        } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
            "web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN)".to_owned()
        } else if set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        {
            "the container credentials endpoint (ECS, EKS Pod Identity)".to_owned()
        } else {
            "~/.aws default profile, or the instance role (IMDS)".to_owned()
        };
        format!("default chain: {link}")
    }

    /// Who cleo reads secrets as: `GetCallerIdentity` with the credentials of
    /// `[aws] role` when one is set, else of the standard chain.
    pub async fn caller_identity(&self) -> Result<CallerIdentity> {
        let (config, _) = self.secrets_config().await?;
        let out = aws_sdk_sts::Client::new(config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| map_sdk_error("GetCallerIdentity", e))?;
        Ok(CallerIdentity {
            arn: out.arn().unwrap_or_default().to_owned(),
            account: out.account().unwrap_or_default().to_owned(),
        })
    }

    /// The encryption of the Secrets Manager secret `secret_id` (a name or ARN),
    /// from `DescribeSecret`: metadata only, the value is not read.
    pub async fn secret_encryption(&self, secret_id: &str) -> Result<SecretEncryption> {
        let (config, _) = self.secrets_config().await?;
        let out = aws_sdk_secretsmanager::Client::new(config)
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| map_sdk_error("DescribeSecret", e))?;
        Ok(SecretEncryption {
            arn: out.arn().map(str::to_owned),
            kms_key_id: out.kms_key_id().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_is_recognised_by_absence_alias_or_alias_arn() {
        let enc = |k: Option<&str>| SecretEncryption {
            arn: None,
            kms_key_id: k.map(str::to_owned),
        };
        assert!(enc(None).uses_default_key());
        assert!(enc(Some("alias/aws/secretsmanager")).uses_default_key());
        assert!(
            enc(Some(
                "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager"
            ))
            .uses_default_key()
        );
        assert!(
            !enc(Some(
                "arn:aws:kms:us-east-1:123456789012:key/fa96e16a-6a46-4bd7-aacc-55f0150c0992"
            ))
            .uses_default_key()
        );
        assert!(!enc(Some("alias/cleo-artifacts")).uses_default_key());
    }
}
