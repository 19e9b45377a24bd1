//! No secret value or token reaches a log line (TRACE, including reqwest/hyper),
//! a `Debug`, or an error, across successful and failing reads against OpenBao.

use std::sync::Arc;

use cleo_core::{SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, assert_no_canary, capture_logs, unique};
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

#[tokio::test]
async fn nothing_secret_reaches_logs_debug_or_errors() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let value = format!("canary-value-{}", unique("v"));
    let other_field = format!("canary-other-{}", unique("o"));
    let token = format!("canarytoken{}", unique("t").replace('-', ""));
    admin.token_with_id(&token).await;
    let path = unique("leak");
    admin
        .put_kv2(
            "secret",
            &path,
            json!({"password": value, "user": other_field}),
        )
        .await;

    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(admin.addr().to_owned()),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(token.clone()),
        "test",
    ));
    let src = VaultSource::with_auth(settings, auth).unwrap();
    let mut seen = String::new();

    let refs = [
        format!("vault://secret/{path}#password"),
        format!("vault://secret/{path}"),
        format!("vault://secret/{path}#missing"),
        format!("vault://secret/{path}?version=99#password"),
        format!("vault://{}/x#y", unique("nomount")),
    ];
    for r in &refs {
        match src.fetch(&SecretRef::parse(r).unwrap()).await {
            Ok(s) => {
                assert!(!s.is_empty());
                seen.push_str(&format!("{s:?}\n{s:#?}\n"));
            }
            Err(e) => seen.push_str(&format!("{e}\n{e:?}\n")),
        }
    }
    seen.push_str(&format!("{src:?}\n"));
    // A revoked token exercises the 403 + lookup-self path.
    admin.revoke(&token).await;
    let e = src
        .fetch(&SecretRef::parse(&refs[0]).unwrap())
        .await
        .unwrap_err();
    seen.push_str(&format!("{e}\n{e:?}\n"));

    let logged = logs.text();
    assert!(
        logged.contains("vault request"),
        "TRACE capture is not working: {logged}"
    );
    assert!(
        logged.contains("hyper_util") && logged.contains("TRACE"),
        "dependencies' TRACE logs are not captured"
    );
    for (what, text) in [
        ("errors and Debug", seen.as_str()),
        ("TRACE logs", logged.as_str()),
    ] {
        assert_no_canary(what, text, &[&value, &other_field, &token]);
    }
}
