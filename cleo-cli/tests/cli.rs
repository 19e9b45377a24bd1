//! The real `cleo` binary against a real OpenBao, with RUST_LOG=trace, asserting exit
//! codes, output, and that no secret value or token appears where it must not.

mod common;

use std::os::unix::fs::PermissionsExt;

use cleo_testkit::{assert_no_canary, unique};
use common::{Fixture, cleo};

#[tokio::test]
async fn get_masks_the_value_and_shows_metadata() {
    let f = Fixture::new().await;
    let r = f.run(&["get", &f.reference()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.stdout();
    assert!(
        out.contains(&f.reference()) && out.contains("vault"),
        "{out}"
    );
    assert!(out.contains("version    1"), "{out}");
    assert!(out.contains("masked"), "{out}");
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn reveal_prints_only_the_exact_value() {
    let f = Fixture::new().await;
    let r = f.run(&["get", "--reveal", &f.reference()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, f.value.as_bytes());
    assert_no_canary("stderr", &r.stderr, &f.canaries());
}

#[tokio::test]
async fn json_has_metadata_and_the_value_only_with_reveal() {
    let f = Fixture::new().await;
    let r = f.run(&["get", "--json", &f.reference()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["reference"], f.reference());
    assert_eq!(doc["backend"], "vault");
    assert_eq!(doc["version"], "1");
    assert!(doc.get("value").is_none());
    r.assert_clean(&f.canaries());

    let r = f.run(&["get", "--json", "--reveal", &f.reference()]);
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["value"], f.value);
    assert_no_canary("stderr", &r.stderr, &f.canaries());
}

#[tokio::test]
async fn logical_names_resolve_through_config_flag_and_env() {
    let f = Fixture::new().await;
    let cfg = f.home.path().join("team.toml");
    std::fs::write(
        &cfg,
        format!("[secrets]\n\"mlflow/api_token\" = \"{}\"\n", f.reference()),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();

    let r = f.run(&["--config", cfg, "get", "--reveal", "mlflow/api_token"]);
    assert_eq!(
        (r.code, r.stdout.as_slice()),
        (0, f.value.as_bytes()),
        "{}",
        r.stderr
    );

    let r = f.run_with(
        &["get", "--reveal", "mlflow/api_token"],
        &[("CLEO_CONFIG", cfg)],
    );
    assert_eq!(
        (r.code, r.stdout.as_slice()),
        (0, f.value.as_bytes()),
        "{}",
        r.stderr
    );

    let r = f.run_with(&["get", "mlflow/nope"], &[("CLEO_CONFIG", cfg)]);
    assert_eq!(r.code, 3);
    assert!(
        r.error_line()
            .contains("unknown logical name `mlflow/nope`"),
        "{}",
        r.stderr
    );
    assert!(r.error_line().contains("team.toml"), "{}", r.stderr);

    let r = f.run(&["get", "mlflow/api_token"]);
    assert_eq!(r.code, 3);
    assert!(
        r.error_line().contains("no cleo.toml was found"),
        "{}",
        r.stderr
    );

    let r = f.run(&[
        "--config",
        "/nonexistent/cleo.toml",
        "get",
        "mlflow/api_token",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.error_line().contains("cannot read config file"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn bad_input_gets_one_clear_line_a_code_and_no_value() {
    let f = Fixture::new().await;
    let missing_path = format!("vault://secret/{}#api_token", unique("absent"));
    let missing_field = format!("vault://secret/{}#nope", f.path);
    let missing_aws = format!("aws-sm://{}#password", unique("absent"));
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["get", "bogus://a/b"],
            2,
            "known schemes: aws-sm, aws-ssm, env, file, vault",
        ),
        (vec!["get", "vault:/secret/x"], 2, "followed by `://`"),
        (vec!["get", "vault://secret"], 2, "<mount>/<path>"),
        (vec!["get", &missing_path], 3, "no secret at"),
        (vec!["get", &missing_field], 3, "no field `nope`"),
        (vec!["get", "env://CLEO_SURELY_UNSET_VAR"], 3, "is not set"),
        // scripts/test points AWS_ENDPOINT_URL at moto.
        (vec!["get", &missing_aws], 3, "ResourceNotFoundException"),
    ];
    for (args, code, needle) in cases {
        let r = f.run(&args);
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        assert!(
            r.error_line().contains(needle),
            "{args:?}: {}",
            r.error_line()
        );
        assert!(r.stdout.is_empty(), "{args:?}");
        r.assert_clean(&f.canaries());
    }
}

#[tokio::test]
async fn wrong_token_no_token_no_address_and_server_down() {
    let f = Fixture::new().await;
    let bad = "canary-wrong-token-51c9";
    let r = cleo(
        &["get", &f.reference()],
        &[("VAULT_ADDR", f.admin.addr()), ("VAULT_TOKEN", bad)],
        f.home.path(),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.error_line().contains("invalid, expired or revoked"),
        "{}",
        r.stderr
    );
    r.assert_clean(&[&f.value, bad, f.admin.root_token()]);

    let r = cleo(
        &["get", &f.reference()],
        &[("VAULT_ADDR", f.admin.addr())],
        f.home.path(),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.error_line().contains("no Vault token found"),
        "{}",
        r.stderr
    );

    // ~/.vault-token with a trailing newline, as `bao login` writes it.
    let token_file = f.home.path().join(".vault-token");
    std::fs::write(&token_file, format!("{}\n", f.admin.root_token())).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = cleo(
        &["get", &f.reference()],
        &[("VAULT_ADDR", f.admin.addr())],
        f.home.path(),
    );
    assert_eq!(
        r.code, 2,
        "a token file others can read is refused: {}",
        r.stderr
    );
    assert!(r.error_line().contains("chmod 600"), "{}", r.stderr);
    r.assert_clean(&f.canaries());
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = cleo(
        &["get", "--reveal", &f.reference()],
        &[("VAULT_ADDR", f.admin.addr())],
        f.home.path(),
    );
    assert_eq!(
        (r.code, r.stdout.as_slice()),
        (0, f.value.as_bytes()),
        "{}",
        r.stderr
    );
    std::fs::remove_file(&token_file).unwrap();

    let r = cleo(
        &["get", &f.reference()],
        &[("VAULT_TOKEN", f.admin.root_token())],
        f.home.path(),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.error_line().contains("no Vault address"), "{}", r.stderr);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("http://127.0.0.1:{port}");
    let r = cleo(
        &["get", &f.reference()],
        &[("VAULT_ADDR", &down), ("VAULT_TOKEN", f.admin.root_token())],
        f.home.path(),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.error_line().contains("cannot connect to Vault"),
        "{}",
        r.stderr
    );
    r.assert_clean(&f.canaries());

    let r = cleo(
        &["get", &f.reference()],
        &[
            ("VAULT_ADDR", "http://vault.example.com:8200"),
            ("VAULT_TOKEN", f.admin.root_token()),
        ],
        f.home.path(),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.error_line().contains("refusing plain http://"),
        "{}",
        r.stderr
    );
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn file_references_check_permissions_and_text() {
    let f = Fixture::new().await;
    let canary = "canary-file-7f20";
    let path = f.home.path().join("token");
    std::fs::write(&path, canary).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reference = format!("file://{}", path.display());
    let r = f.run(&["get", "--reveal", &reference]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.error_line().contains("mode 0644") && r.error_line().contains("chmod 600"),
        "{}",
        r.stderr
    );
    r.assert_clean(&[canary]);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = f.run(&["get", "--reveal", &reference]);
    assert_eq!(
        (r.code, r.stdout.as_slice()),
        (0, canary.as_bytes()),
        "{}",
        r.stderr
    );

    let binary = f.home.path().join("binary");
    let bytes = [0xffu8, 0xfe, b'c', b'a', b'n', 0x00];
    std::fs::write(&binary, bytes).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o600)).unwrap();
    let reference = format!("file://{}", binary.display());
    let r = f.run(&["get", "--reveal", &reference]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.error_line().contains("not UTF-8"), "{}", r.stderr);
    assert!(r.error_line().contains("--base64"), "{}", r.stderr);
    let r = f.run(&["get", "--reveal", "--base64", &reference]);
    assert_eq!(
        (r.code, r.stdout()),
        (0, "//5jYW4A".to_owned()),
        "{}",
        r.stderr
    );

    let json_file = f.home.path().join("creds.json");
    std::fs::write(
        &json_file,
        format!(r#"{{"user":"bob","password":"{canary}"}}"#),
    )
    .unwrap();
    std::fs::set_permissions(&json_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = f.run(&[
        "get",
        "--reveal",
        &format!("file://{}#password", json_file.display()),
    ]);
    assert_eq!(
        (r.code, r.stdout.as_slice()),
        (0, canary.as_bytes()),
        "{}",
        r.stderr
    );
    let r = f.run(&["get", &format!("file://{}#nope", json_file.display())]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.error_line().contains("fields present: password, user"),
        "{}",
        r.stderr
    );
    r.assert_clean(&[canary]);
}

#[test]
fn help_documents_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let r = cleo(&["--help"], &[], home.path());
    assert_eq!(r.code, 0);
    assert!(r.stdout().contains("Exit codes:") && r.stdout().contains("5  backend unavailable"));
}
