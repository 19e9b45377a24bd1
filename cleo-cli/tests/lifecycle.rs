//! What a CLI run leaves behind and announces: the Vault token cleo logged in for is
//! revoked when the command ends (unless --keep-token), values are registered with
//! GitHub Actions' log masking, and completions are printed. Real binary, real OpenBao.

mod common;

use cleo_testkit::{VaultAdmin, assert_no_canary, private_file, unique};
use common::cleo;
use serde_json::json;

struct AppRoleSetup {
    admin: VaultAdmin,
    home: tempfile::TempDir,
    config: String,
    mount: String,
    path: String,
    value: String,
    secret_id: String,
}

async fn approle_setup() -> AppRoleSetup {
    let admin = VaultAdmin::new();
    let path = unique("lifecycle");
    let value = format!("canary-{}", unique("value"));
    admin
        .put_kv2("secret", &path, json!({ "password": value }))
        .await;
    let policy = admin.read_policy(&path).await;
    let role = admin
        .approle(json!({"token_policies": [policy], "token_ttl": "10m"}))
        .await;
    let home = tempfile::tempdir().unwrap();
    let secret_file = private_file(home.path(), &role.secret_id);
    let config = home.path().join("cleo.toml");
    std::fs::write(
        &config,
        format!(
            "[vault]\naddress = \"{}\"\n[vault.auth]\nmethod = \"approle\"\nmount = \"{}\"\nrole_id = \"{}\"\nsecret_id = \"file://{}\"\n",
            admin.addr(),
            role.mount,
            role.role_id,
            secret_file.display()
        ),
    )
    .unwrap();
    AppRoleSetup {
        config: config.display().to_string(),
        admin,
        home,
        mount: role.mount,
        path,
        value,
        secret_id: role.secret_id,
    }
}

#[tokio::test]
async fn a_login_token_is_revoked_when_the_command_ends() {
    let s = approle_setup().await;
    let reference = format!("vault://secret/{}#password", s.path);
    let out = cleo(
        &["--config", &s.config, "get", "--reveal", &reference],
        &[],
        s.home.path(),
    );
    let stderr = out.stderr.clone();
    assert!((out.code == 0), "{stderr}");
    assert_eq!(out.stdout, s.value.as_bytes());
    assert!(stderr.contains("vault login token revoked"), "{stderr}");
    assert_eq!(s.admin.live_login_tokens(&s.mount).await, 0);
    assert_no_canary("stderr", &stderr, &[&s.value, &s.secret_id]);
}

#[tokio::test]
async fn keep_token_leaves_the_login_token_alive() {
    let s = approle_setup().await;
    let reference = format!("vault://secret/{}#password", s.path);
    let out = cleo(
        &["--config", &s.config, "--keep-token", "get", &reference],
        &[],
        s.home.path(),
    );
    assert!((out.code == 0), "{}", out.stderr);
    assert_eq!(s.admin.live_login_tokens(&s.mount).await, 1);
}

#[tokio::test]
async fn a_given_token_is_never_revoked() {
    let admin = VaultAdmin::new();
    let path = unique("given");
    admin.put_kv2("secret", &path, json!({"k": "v-1234"})).await;
    let token = admin
        .token_with_policy(&format!(
            "path \"secret/data/{path}\" {{ capabilities = [\"read\"] }}"
        ))
        .await;
    let home = tempfile::tempdir().unwrap();
    let reference = format!("vault://secret/{path}#k");
    for _ in 0..2 {
        let out = cleo(
            &["get", &reference],
            &[("VAULT_ADDR", admin.addr()), ("VAULT_TOKEN", &token)],
            home.path(),
        );
        assert!((out.code == 0), "{}", out.stderr);
    }
}

#[tokio::test]
async fn in_github_actions_each_line_of_a_value_is_masked_first_and_stdout_stays_exact() {
    let admin = VaultAdmin::new();
    let path = unique("pem");
    let pem = format!(
        "-----BEGIN TEST KEY-----\ncanary{}\nline2-{}\n-----END TEST KEY-----\n",
        unique("a"),
        unique("b")
    );
    admin.put_kv2("secret", &path, json!({ "key": pem })).await;
    let home = tempfile::tempdir().unwrap();
    let reference = format!("vault://secret/{path}#key");
    let env = [
        ("VAULT_ADDR", admin.addr()),
        ("VAULT_TOKEN", admin.root_token()),
        ("GITHUB_ACTIONS", "true"),
    ];
    let out = cleo(&["get", "--reveal", &reference], &env, home.path());
    let stderr = out.stderr.clone();
    assert!((out.code == 0), "{stderr}");
    assert_eq!(out.stdout, pem.as_bytes(), "stdout is the value alone");
    let masks: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    let lines: Vec<&str> = pem.lines().collect();
    assert_eq!(masks, lines, "{stderr}");

    // Without GITHUB_ACTIONS there is no mask command (the value never reaches stderr).
    let out = cleo(&["get", "--reveal", &reference], &env[..2], home.path());
    let stderr = out.stderr.clone();
    assert!(!stderr.contains("::add-mask::"), "{stderr}");
    for line in &lines[1..3] {
        assert_no_canary("stderr", &stderr, &[line]);
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = cleo(&["completions", shell], &[], home.path());
        assert!((out.code == 0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for sub in ["get", "inspect", "exec", "doctor", "credential-process"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let out = cleo(&["completions", "tcsh"], &[], home.path());
    assert_eq!(Some(out.code), Some(2), "an unknown shell is a usage error");
}
