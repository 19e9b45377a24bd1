//! Turning AWS SDK errors into cleo errors: a kind a caller can act on, whether a
//! retry may help, and a hint. AWS error messages name resources, never values.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cleo_core::{Error, ErrorKind};

pub(crate) const BACKEND: &str = "aws";

/// Whether the error says the session token has expired: the caller refreshes its
/// credentials and retries once.
pub(crate) fn is_expired_token(e: &Error) -> bool {
    e.kind() == ErrorKind::Unauthenticated && e.message().contains("ExpiredToken")
}

/// Maps an SDK error of the call `op` (e.g. `GetSecretValue`).
pub(crate) fn map_sdk_error<E>(op: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            match service.err().code() {
                Some(code) => by_code(op, code, service.err().message().unwrap_or("")),
                // No error code: the body was not AWS's (a proxy page, a truncated
                // answer). A 5xx is the server's trouble; anything else is not AWS.
                None if status == 401 || status == 403 => Error::new(
                    if status == 401 {
                        ErrorKind::Unauthenticated
                    } else {
                        ErrorKind::PermissionDenied
                    },
                    format!("{op}: AWS refused the call (HTTP {status})"),
                )
                .with_hint(
                    "the identity's policy does not allow this; `cleo doctor` shows which identity is used",
                ),
                None if status >= 500 => Error::new(
                    ErrorKind::Unavailable,
                    format!("{op}: AWS answered HTTP {status}"),
                )
                .with_hint("the service had an error; cleo retries"),
                None => Error::new(
                    ErrorKind::Unexpected,
                    format!("{op}: the answer (HTTP {status}) is not an AWS response cleo can read"),
                )
                .with_temporary(true)
                .with_hint("a proxy or endpoint that is not AWS may be in the way; check AWS_ENDPOINT_URL"),
            }
        }
        SdkError::TimeoutError(_) => Error::new(
            ErrorKind::Unavailable,
            format!("{op}: AWS did not answer in time"),
        )
        .with_hint("check the network path to AWS, or raise [aws] timeout"),
        SdkError::DispatchFailure(d) => {
            let chain = chain_text(&err);
            if d.is_io() || d.is_timeout() {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("{op}: cannot reach AWS: {chain}"),
                )
                .with_hint(
                    "check the endpoint (AWS_ENDPOINT_URL, [aws] endpoint_url) and the network",
                )
            } else if mentions_credentials(&chain) {
                no_credentials(op, &chain)
            } else {
                Error::new(ErrorKind::Unavailable, format!("{op}: {chain}"))
            }
        }
        SdkError::ResponseError(_) => Error::new(
            ErrorKind::Unexpected,
            format!("{op}: AWS answered something that is not a valid response"),
        )
        .with_temporary(true)
        .with_hint("a proxy or endpoint that is not AWS may be in the way"),
        _ => {
            let chain = chain_text(&err);
            if mentions_credentials(&chain) {
                no_credentials(op, &chain)
            } else {
                Error::new(ErrorKind::Unexpected, format!("{op}: {chain}"))
            }
        }
    }
    .with_backend(BACKEND)
}

fn mentions_credentials(chain: &str) -> bool {
    let c = chain.to_ascii_lowercase();
    c.contains("credentials") || c.contains("identity")
}

fn no_credentials(op: &str, chain: &str) -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        format!("{op}: no usable AWS credentials: {chain}"),
    )
    .with_hint(
        "give the process an identity: a role (instance, ECS, EKS), AWS_PROFILE, \
         web identity ([aws.roles] web_identity) or, for a quick test only, AWS_ACCESS_KEY_ID",
    )
}

/// The error and its sources on one line. SDK errors describe requests, not values.
fn chain_text(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        next = e.source();
    }
    out
}

/// Maps an AWS error code (the same codes across STS, Secrets Manager and SSM).
pub(crate) fn by_code(op: &str, code: &str, message: &str) -> Error {
    let text = if message.is_empty() {
        format!("{op} failed: {code}")
    } else {
        format!("{op} failed: {code}: {message}")
    };
    let (kind, temporary, hint): (ErrorKind, Option<bool>, &str) = match code {
        "ResourceNotFoundException"
        | "ParameterNotFound"
        | "ParameterVersionNotFound"
        | "NoSuchEntity"
        | "NoSuchKey"
        | "NoSuchBucket" => (
            ErrorKind::NotFound,
            None,
            "check the name (and region: secrets live in one region)",
        ),
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" | "Forbidden" => (
            ErrorKind::PermissionDenied,
            None,
            "the identity's policy (or the session policy) does not allow this; \
             `cleo doctor` shows which identity is used",
        ),
        "ExpiredToken" | "ExpiredTokenException" => (
            ErrorKind::Unauthenticated,
            Some(false),
            "the session expired: cleo refreshes role credentials and retries once; \
             for other identities renew the session (aws sso login, new CI token)",
        ),
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken"
        | "IncompleteSignature"
        | "InvalidIdentityToken"
        | "IDPRejectedClaim"
        | "IDPCommunicationError" => (
            ErrorKind::Unauthenticated,
            None,
            "the credentials or identity token were rejected: check the key, the token's \
             issuer and audience, and the role's trust policy",
        ),
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ThrottledException"
        | "SlowDown"
        | "ProvisionedThroughputExceededException" => (
            ErrorKind::RateLimited,
            None,
            "AWS is throttling this account: cleo backs off; cache longer ([cache] default_ttl) \
             to call less often",
        ),
        "KMSDisabledException"
        | "KMSInvalidStateException"
        | "DisabledException"
        | "KMSNotFoundException"
        | "KMSAccessDeniedException"
        | "DecryptionFailure"
        | "KMSInvalidSignatureException"
        | "InvalidKeyId" => (
            ErrorKind::Unavailable,
            Some(false),
            "the KMS key that encrypts this value is disabled, missing or not usable by this \
             identity: enable the key or grant kms:Decrypt; retrying will not help",
        ),
        "ValidationException"
        | "InvalidParameterException"
        | "InvalidParameterValue"
        | "MalformedPolicyDocument"
        | "PackedPolicyTooLarge"
        | "ValidationError" => (
            ErrorKind::InvalidReference,
            None,
            "AWS rejected a parameter: check the reference and the role settings",
        ),
        "InvalidRequestException" => (
            ErrorKind::NotFound,
            None,
            "the secret may be scheduled for deletion; restore it or use another",
        ),
        "RegionDisabledException" => (
            ErrorKind::ConfigInvalid,
            None,
            "STS is not enabled in this region: enable it or set another region",
        ),
        "InternalServiceError"
        | "InternalServiceErrorException"
        | "InternalFailure"
        | "InternalError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => (
            ErrorKind::Unavailable,
            None,
            "AWS had a server error; cleo retries",
        ),
        _ => (
            ErrorKind::Unexpected,
            None,
            "an AWS error cleo does not know; its code is in the message",
        ),
    };
    let mut e = Error::new(kind, text).with_hint(hint);
    if let Some(t) = temporary {
        e = e.with_temporary(t);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds_a_caller_can_act_on() {
        let k = |c| by_code("Op", c, "m");
        assert_eq!(k("ResourceNotFoundException").kind(), ErrorKind::NotFound);
        assert_eq!(k("ParameterNotFound").kind(), ErrorKind::NotFound);
        assert_eq!(
            k("AccessDeniedException").kind(),
            ErrorKind::PermissionDenied
        );
        let throttled = k("ThrottlingException");
        assert_eq!(throttled.kind(), ErrorKind::RateLimited);
        assert!(throttled.is_temporary());
        let kms = k("KMSDisabledException");
        assert!(!kms.is_temporary(), "a disabled key is permanent");
        assert!(kms.hint().unwrap().contains("KMS"));
        let expired = k("ExpiredTokenException");
        assert!(is_expired_token(&expired.with_backend(BACKEND)));
        assert!(!is_expired_token(&k("InvalidClientTokenId")));
        assert_eq!(k("Weird").kind(), ErrorKind::Unexpected);
        assert!(k("Weird").to_string().contains("Weird"));
    }
}
