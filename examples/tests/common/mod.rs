//! Helpers shared by the example tests.

/// An S3 client for `config` with path-style addressing: moto does not resolve
/// `<bucket>.host` names.
pub fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}
