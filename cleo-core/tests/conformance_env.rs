//! The conformance suite against `env://`.
//!
//! Setting variables is `unsafe` in Rust 2024 because another thread may read the
//! environment at the same time; this binary has one test on a current-thread
//! runtime, so nothing else runs while a variable is set.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use cleo_core::sources::EnvSource;
use cleo_core::{SecretSource, async_trait};
use cleo_testkit::conformance::{Fixture, run_all};
use cleo_testkit::unique;

struct Env;

#[async_trait]
impl Fixture for Env {
    fn source(&self) -> Arc<dyn SecretSource> {
        Arc::new(EnvSource::new())
    }

    async fn put(&self, value: &[u8]) -> String {
        let name = unique("CLEO_CONF").replace('-', "_").to_uppercase();
        // SAFETY: single-threaded test binary (see the module docs).
        unsafe { std::env::set_var(&name, OsStr::from_bytes(value)) };
        format!("env://{name}")
    }

    fn binary(&self) -> bool {
        true
    }

    fn missing(&self) -> String {
        "env://CLEO_CONFORMANCE_NEVER_SET".into()
    }

    async fn put_fields(&self, _: &[(&str, &str)]) -> Option<String> {
        None
    }

    async fn put_versions(&self, _: &str, _: &str) -> Option<(String, String)> {
        None
    }
}

#[test]
fn env_source_conforms() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_all(&Env));
}
