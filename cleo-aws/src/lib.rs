#![doc = include_str!("../README.md")]

use std::sync::Arc;

use cleo_core::{Error, ErrorKind, Registry, Result, Secret, SecretRef, SecretSource, async_trait};

/// The Secrets Manager scheme.
pub const SCHEME_SECRETS_MANAGER: &str = "aws-sm";
/// The Parameter Store scheme.
pub const SCHEME_PARAMETER_STORE: &str = "aws-ssm";

/// Answers `aws-sm://` and `aws-ssm://` with a clear "not implemented yet" error.
#[derive(Debug, Default)]
pub struct PendingAwsSource;

#[async_trait]
impl SecretSource for PendingAwsSource {
    fn backend(&self) -> &'static str {
        "aws"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &[SCHEME_SECRETS_MANAGER, SCHEME_PARAMETER_STORE]
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret> {
        Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{}:// references are not served yet in this version of cleo",
                reference.scheme()
            ),
        )
        .with_reference(reference.as_str())
        .with_backend("aws")
        .with_hint("use a vault://, env:// or file:// reference for now"))
    }
}

/// Registers the AWS schemes.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(PendingAwsSource));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn aws_references_get_a_clear_unsupported_error() {
        let mut r = Registry::new();
        register(&mut r);
        let reference = SecretRef::parse("aws-sm://db#password").unwrap();
        let e = r
            .source_for(&reference)
            .unwrap()
            .fetch(&reference)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("not served yet"), "{e}");
    }
}
