//! Set-up shared by the AWS tests: a context on the shared moto, and admin clients.

#![allow(dead_code)]

use std::sync::Arc;

use aws_config::SdkConfig;
use cleo_aws::{AwsConfig, AwsContext};
use cleo_core::CacheSettings;
use cleo_testkit::moto::{moto, sdk_config};

pub fn sdk() -> SdkConfig {
    sdk_config(&moto())
}

pub fn context() -> Arc<AwsContext> {
    Arc::new(AwsContext::with_sdk_config(AwsConfig::default(), CacheSettings::default(), sdk()).unwrap())
}

pub fn sm() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk())
}

pub fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk())
}
