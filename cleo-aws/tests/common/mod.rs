//! Set-up shared by the AWS tests: a context on the shared moto, and admin clients.

#![allow(dead_code)]

use std::sync::Arc;

use aws_config::SdkConfig;
use cleo_aws::{AwsConfig, AwsContext};
use cleo_core::CacheSettings;
use cleo_testkit::moto::{moto, sdk_config};

/// The shared moto with test keys.
pub fn sdk() -> SdkConfig {
    sdk_config(&moto())
}

/// A cleo AWS context on the shared moto.
pub fn context() -> Arc<AwsContext> {
    Arc::new(
        AwsContext::with_sdk_config(AwsConfig::default(), CacheSettings::default(), sdk()).unwrap(),
    )
}

/// A Secrets Manager admin client.
pub fn sm() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk())
}

/// A Parameter Store admin client.
pub fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk())
}
