//! `cleo inspect` and `cleo doctor`, the real binary against a real OpenBao and moto
//! with RUST_LOG=trace: what they say about backends, identities and the ADR's
//! controls, their exit codes, and that no value or token is ever printed.

mod common;

use std::os::unix::fs::PermissionsExt;

use cleo_testkit::moto::{moto, sdk_config};
use cleo_testkit::{assert_no_canary, unique};
use common::{Fixture, Run, cleo};
use serde_json::{Value, json};

fn json_of(r: &Run) -> Value {
    serde_json::from_slice(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout()))
}

/// The row of `cleo doctor --json` named `check`.
fn row<'a>(doc: &'a Value, check: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no `{check}` row in {doc:#}"))
}

/// The secret access key the AWS tests run with: a canary (moto takes any key). The
/// access key id is an identifier, printed by the SDK's own `Debug`.
const AWS_SECRET_KEY: &str = "canary-aws-secret-key-5d0e6c1b";

fn aws_env(home: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "AKIDCLEOTEST".into()),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", moto()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        (
            "AWS_CONFIG_FILE",
            home.join("no-aws-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("no-aws-credentials").display().to_string(),
        ),
    ]
}

#[tokio::test]
async fn inspect_names_backend_identity_and_lease_never_the_value() {
    let f = Fixture::new().await;
    let r = f.run(&["inspect", &f.reference()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.stdout();
    for expected in [
        "backend",
        "vault",
        "method",
        "token",
        "origin",
        "VAULT_TOKEN",
        "policies",
        "root",
        "version",
        "renewable",
        "cached",
        f.admin.addr(),
    ] {
        assert!(out.contains(expected), "no {expected:?} in:\n{out}");
    }
    r.assert_clean(&f.canaries());

    let r = f.run(&["inspect", "--json", &f.reference()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json_of(&r);
    assert_eq!(doc["backend"], "vault");
    assert_eq!(doc["version"], "1");
    assert_eq!(doc["auth"]["method"], "token");
    assert_eq!(doc["auth"]["policies"], json!(["root"]));
    assert!(doc.get("value").is_none(), "{doc}");
    r.assert_clean(&f.canaries());

    // A failing read fails inspect with the same code as get.
    let r = f.run(&["inspect", "vault://secret/no-such-path-for-inspect#x"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn inspect_shows_the_aws_identity_for_secrets_manager() {
    let home = tempfile::tempdir().unwrap();
    let name = unique("inspect-sm");
    let value = format!("canary-{}", unique("sm"));
    let sm = aws_sdk_secretsmanager::Client::new(&sdk_config(&moto()));
    sm.create_secret()
        .name(&name)
        .secret_string(&value)
        .send()
        .await
        .unwrap();
    let env = aws_env(home.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = cleo(
        &["inspect", "--json", &format!("aws-sm://{name}")],
        &env,
        home.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json_of(&r);
    assert_eq!(doc["backend"], "aws");
    assert_eq!(doc["auth"]["account"], "123456789012", "{doc}");
    assert!(
        doc["auth"]["method"]
            .as_str()
            .unwrap()
            .contains("AWS_ACCESS_KEY_ID"),
        "{doc}"
    );
    assert_eq!(doc["auth"]["region"], "us-east-1");
    r.assert_clean(&[&value, AWS_SECRET_KEY]);
}

#[tokio::test]
async fn inspect_env_and_file_show_where_the_value_is() {
    let f = Fixture::new().await;
    let file = cleo_testkit::private_file(f.home.path(), &f.value);
    let r = f.run(&["inspect", &format!("file://{}", file.display())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout().contains("0600"), "{}", r.stdout());
    r.assert_clean(&f.canaries());
    let r = f.run_with(
        &["inspect", "--json", "env://CLEO_TEST_INSPECT"],
        &[("CLEO_TEST_INSPECT", &f.value)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json_of(&r)["auth"]["variable"], "CLEO_TEST_INSPECT");
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn doctor_passes_with_warnings_for_a_root_token_and_no_audit_device() {
    let f = Fixture::new().await;
    let config = f.home.path().join("cleo.toml");
    std::fs::write(
        &config,
        format!("[secrets]\n\"app/token\" = \"{}\"\n", f.reference()),
    )
    .unwrap();
    let r = f.run(&["doctor", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout(), r.stderr);
    let doc = json_of(&r);
    assert_eq!(doc["ok"], true);
    assert_eq!(row(&doc, "config")["status"], "ok");
    assert_eq!(row(&doc, "vault address")["status"], "ok");
    let node = row(&doc, &format!("vault node {}", f.admin.addr()));
    assert_eq!(node["status"], "ok", "{node}");
    assert!(
        node["detail"].as_str().unwrap().contains("active"),
        "{node}"
    );
    assert_eq!(row(&doc, "vault clock skew")["status"], "ok");
    let auth = row(&doc, "vault auth");
    assert_eq!(
        auth["status"], "warn",
        "a root token is against least privilege"
    );
    assert!(auth["hint"].as_str().unwrap().contains("least privilege"));
    assert_eq!(
        row(&doc, "vault token ttl")["status"],
        "warn",
        "a root token never expires"
    );
    // The dev server has no audit device: the ADR's audit trail is missing.
    assert_eq!(row(&doc, "vault audit")["status"], "warn");
    assert_eq!(row(&doc, "secret app/token")["status"], "ok");
    assert_eq!(row(&doc, "aws")["status"], "skip");
    assert_eq!(row(&doc, "mlflow auth")["status"], "skip");
    r.assert_clean(&f.canaries());

    // The table for people says the same.
    let r = f.run(&["doctor"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.stdout();
    assert!(out.starts_with("CHECK"), "{out}");
    assert!(out.contains("no audit device"), "{out}");
    assert!(out.lines().last().unwrap().contains("0 failed"), "{out}");
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn doctor_fails_on_a_missing_secret_a_readable_token_file_and_a_dead_node() {
    let f = Fixture::new().await;
    std::fs::write(
        f.home.path().join("cleo.toml"),
        format!(
            "[vault]\naddresses = [\"{}\", \"http://127.0.0.1:9\"]\n\n[secrets]\n\"app/token\" = \"{}\"\n\"app/gone\" = \"vault://secret/{}-gone#x\"\n",
            f.admin.addr(),
            f.reference(),
            f.path
        ),
    )
    .unwrap();
    // The token in ~/.vault-token, readable by everyone.
    let token_file = f.home.path().join(".vault-token");
    std::fs::write(&token_file, f.admin.root_token()).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = cleo(&["doctor", "--json"], &[], f.home.path());
    assert_eq!(r.code, 1, "{}\n{}", r.stdout(), r.stderr);
    let doc = json_of(&r);
    assert_eq!(doc["ok"], false);
    let file_row = row(&doc, "vault token file");
    assert_eq!(file_row["status"], "fail", "{file_row}");
    assert!(file_row["hint"].as_str().unwrap().contains("chmod 600"));
    // The other node answers, so the dead one is a warning (reads fail over).
    let dead = row(&doc, "vault node http://127.0.0.1:9");
    assert_eq!(dead["status"], "warn", "{dead}");
    assert!(
        dead["hint"].as_str().unwrap().contains("fail over"),
        "{dead}"
    );
    // The loose file is refused, so nothing past authentication can be checked.
    assert_eq!(row(&doc, "vault auth")["status"], "fail");
    assert_eq!(row(&doc, "vault audit")["status"], "skip");
    assert_eq!(
        row(&doc, &format!("vault node {}", f.admin.addr()))["status"],
        "ok"
    );
    assert_eq!(row(&doc, "secret app/gone")["status"], "fail");
    r.assert_clean(&f.canaries());

    // A config that does not parse is a failed check, not a crash.
    std::fs::write(f.home.path().join("cleo.toml"), "[secrets\n").unwrap();
    let r = f.run(&["doctor"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout().contains("config"), "{}", r.stdout());
    assert!(r.stdout().contains("fail"), "{}", r.stdout());
}

#[tokio::test]
async fn doctor_with_a_narrow_token_cannot_read_audit_and_says_so() {
    let f = Fixture::new().await;
    let token = f
        .admin
        .token_with_policy(&format!(
            "path \"secret/data/{}\" {{ capabilities = [\"read\"] }}",
            f.path
        ))
        .await;
    std::fs::write(
        f.home.path().join("cleo.toml"),
        format!("[secrets]\n\"app/token\" = \"{}\"\n", f.reference()),
    )
    .unwrap();
    let r = f.run_with(&["doctor", "--json"], &[("VAULT_TOKEN", &token)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout(), r.stderr);
    let doc = json_of(&r);
    assert_eq!(row(&doc, "vault auth")["status"], "ok");
    assert_eq!(row(&doc, "vault token ttl")["status"], "ok");
    assert_eq!(row(&doc, "vault audit")["status"], "skip");
    let mut canaries = f.canaries().to_vec();
    canaries.push(&token);
    r.assert_clean(&canaries);
}

#[tokio::test]
async fn doctor_flags_a_secret_on_the_default_kms_key_and_static_mlflow_credentials() {
    let home = tempfile::tempdir().unwrap();
    let aws = sdk_config(&moto());
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    // moto records the key a secret names without checking it exists.
    let key_id = "arn:aws:kms:us-east-1:123456789012:key/0b8a1f3e-5a43-4a4b-9d0e-cleo00000001";
    let default_key = unique("doctor-default");
    let own_key = unique("doctor-cmk");
    let value = format!("canary-{}", unique("v"));
    sm.create_secret()
        .name(&default_key)
        .secret_string(&value)
        .send()
        .await
        .unwrap();
    sm.create_secret()
        .name(&own_key)
        .secret_string(&value)
        .kms_key_id(key_id)
        .send()
        .await
        .unwrap();
    std::fs::write(
        home.path().join("cleo.toml"),
        format!(
            "[secrets]\n\"ml/default\" = \"aws-sm://{default_key}\"\n\"ml/own\" = \"aws-sm://{own_key}\"\n\"mlflow/api_token\" = \"aws-sm://{own_key}\"\n"
        ),
    )
    .unwrap();
    let static_token = format!("canary-{}", unique("mlflow-static"));
    let mut env = aws_env(home.path());
    env.push(("MLFLOW_TRACKING_TOKEN", static_token.clone()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = cleo(&["doctor", "--json"], &env_ref, home.path());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout(), r.stderr);
    let doc = json_of(&r);
    assert_eq!(row(&doc, "vault")["status"], "skip");
    assert_eq!(row(&doc, "aws region")["status"], "ok");
    assert!(
        row(&doc, "aws identity")["detail"]
            .as_str()
            .unwrap()
            .contains("123456789012")
    );
    assert_eq!(row(&doc, "aws kms ml/default")["status"], "warn");
    assert_eq!(row(&doc, "aws kms ml/own")["status"], "ok");
    let mlflow = row(&doc, "mlflow auth");
    assert_eq!(mlflow["status"], "warn", "{mlflow}");
    assert!(
        mlflow["detail"]
            .as_str()
            .unwrap()
            .contains("MLFLOW_TRACKING_TOKEN")
    );
    r.assert_clean(&[&value, &static_token, AWS_SECRET_KEY]);

    // With the plugin on, doctor names the reference the plugin reads.
    env.push(("MLFLOW_TRACKING_AUTH", "cleo".into()));
    env.retain(|(k, _)| *k != "MLFLOW_TRACKING_TOKEN");
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = cleo(&["doctor", "--json"], &env_ref, home.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json_of(&r);
    let mlflow = row(&doc, "mlflow auth");
    assert_eq!(mlflow["status"], "ok", "{mlflow}");
    assert!(
        mlflow["detail"]
            .as_str()
            .unwrap()
            .contains("mlflow/api_token")
    );
    assert_no_canary("stdout", &r.stdout(), &[&value]);

    // A token pasted into CLEO_MLFLOW_TOKEN (which should hold a reference) is named
    // by its variable, never printed.
    env.push(("CLEO_MLFLOW_TOKEN", static_token.clone()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = cleo(&["doctor", "--json"], &env_ref, home.path());
    let doc = json_of(&r);
    let mlflow = row(&doc, "mlflow auth");
    assert!(
        mlflow["detail"]
            .as_str()
            .unwrap()
            .contains("CLEO_MLFLOW_TOKEN"),
        "{mlflow}"
    );
    r.assert_clean(&[&value, &static_token, AWS_SECRET_KEY]);
}

#[tokio::test]
async fn doctor_names_an_untrusted_certificate_and_trusts_a_configured_ca() {
    let server = cleo_testkit::dev::DevServer::start_tls().await;
    let home = tempfile::tempdir().unwrap();
    let write = |extra: String| {
        std::fs::write(
            home.path().join("cleo.toml"),
            format!("[vault]\naddress = \"{}\"\n{extra}", server.addr),
        )
        .unwrap();
    };
    let node_row = format!("vault node {}", server.addr);

    write(String::new());
    let r = cleo(
        &["doctor", "--json"],
        &[("VAULT_TOKEN", &server.token)],
        home.path(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout(), r.stderr);
    let doc = json_of(&r);
    let node = row(&doc, &node_row);
    assert_eq!(node["status"], "fail", "{node}");
    assert!(
        node["detail"].as_str().unwrap().contains("TLS certificate"),
        "{node}"
    );
    r.assert_clean(&[&server.token]);

    write(format!("ca_cert = \"{}\"\n", server.tls_ca().display()));
    let r = cleo(
        &["doctor", "--json"],
        &[("VAULT_TOKEN", &server.token)],
        home.path(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout(), r.stderr);
    let doc = json_of(&r);
    let node = row(&doc, &node_row);
    assert_eq!(node["status"], "ok", "{node}");
    let detail = node["detail"].as_str().unwrap();
    assert!(
        detail.contains("TLS verified") && detail.contains("vault-ca.pem"),
        "{node}"
    );
    assert_eq!(row(&doc, "vault auth")["status"], "warn", "a root token");
    r.assert_clean(&[&server.token]);
}

#[tokio::test]
async fn doctor_warns_about_a_token_capped_to_minutes_and_fails_when_no_node_answers() {
    let f = Fixture::new().await;
    let created = f
        .admin
        .call(
            "POST",
            "auth/token/create",
            Some(json!({"ttl": "1h", "explicit_max_ttl": "90s", "policies": ["default"]})),
        )
        .await;
    let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = f.run_with(&["doctor", "--json"], &[("VAULT_TOKEN", &token)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout(), r.stderr);
    let doc = json_of(&r);
    let ttl = row(&doc, "vault token ttl");
    assert_eq!(
        ttl["status"], "warn",
        "renewable, but capped at 90 s: {ttl}"
    );
    assert!(ttl["hint"].as_str().unwrap().contains("max TTL"), "{ttl}");
    let mut canaries = f.canaries().to_vec();
    canaries.push(&token);
    r.assert_clean(&canaries);

    // The only node is down: a failure, and nothing past it is checked.
    let r = f.run_with(
        &["doctor", "--json"],
        &[("VAULT_ADDR", "http://127.0.0.1:9")],
    );
    assert_eq!(r.code, 1, "{}", r.stdout());
    let doc = json_of(&r);
    assert_eq!(row(&doc, "vault node http://127.0.0.1:9")["status"], "fail");
    assert_eq!(row(&doc, "vault auth")["status"], "skip");
    r.assert_clean(&f.canaries());
}
