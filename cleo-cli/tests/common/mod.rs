//! Helpers shared by the CLI test files: run the real `cleo` binary with a clean
//! environment and RUST_LOG=trace, and a Vault secret holding a canary value.
#![allow(dead_code)] // each test file uses a different part

use std::path::Path;
use std::process::{Command, Output};

use cleo_testkit::{VaultAdmin, assert_no_canary, unique};
use serde_json::json;

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The one error line cleo prints (logs at TRACE come before it).
    pub fn error_line(&self) -> &str {
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: "),
            "last stderr line is not an error: {}",
            self.stderr
        );
        last
    }

    pub fn assert_clean(&self, canaries: &[&str]) {
        assert_no_canary("stdout", &self.stdout(), canaries);
        assert_no_canary("stderr", &self.stderr, canaries);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(!self.stderr.contains("stack backtrace"), "{}", self.stderr);
    }
}

pub fn cleo(args: &[&str], env: &[(&str, &str)], home: &Path) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cleo"));
    for var in [
        "VAULT_ADDR",
        "BAO_ADDR",
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "VAULT_NAMESPACE",
        "CLEO_CONFIG",
        "CLEO_LOG",
        "GITHUB_ACTIONS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .env("RUST_LOG", "trace")
        .current_dir(home)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run cleo");
    Run {
        code: status.code().expect("exit code"),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub struct Fixture {
    pub admin: VaultAdmin,
    pub home: tempfile::TempDir,
    pub path: String,
    pub value: String,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let admin = VaultAdmin::new();
        let path = unique("cli");
        let value = format!("canary-{}", unique("value"));
        admin
            .put_kv2("secret", &path, json!({"api_token": value, "user": "bob"}))
            .await;
        Fixture {
            admin,
            home: tempfile::tempdir().unwrap(),
            path,
            value,
        }
    }

    pub fn reference(&self) -> String {
        format!("vault://secret/{}#api_token", self.path)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut env = vec![
            ("VAULT_ADDR", self.admin.addr()),
            ("VAULT_TOKEN", self.admin.root_token()),
        ];
        env.extend_from_slice(extra);
        cleo(args, &env, self.home.path())
    }

    pub fn canaries(&self) -> [&str; 2] {
        [&self.value, self.admin.root_token()]
    }
}
