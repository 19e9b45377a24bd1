//! cleo-vault against a real OpenBao dev server (started by scripts/test).

use std::sync::Arc;

use cleo_core::{ErrorKind, SecretRef, SecretSource};
use cleo_testkit::{VaultAdmin, unique};
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

fn source_at(addr: &str, token: &str) -> VaultSource {
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(addr.to_owned()),
        timeout: Some("5s".into()),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(token.to_owned()),
        "test",
    ));
    VaultSource::with_auth(settings, auth).unwrap()
}

fn source(admin: &VaultAdmin) -> VaultSource {
    source_at(admin.addr(), admin.root_token())
}

async fn fetch(src: &VaultSource, reference: &str) -> cleo_core::Result<cleo_core::Secret> {
    src.fetch(&SecretRef::parse(reference).unwrap()).await
}

#[tokio::test]
async fn kv2_reads_a_field_the_whole_map_and_old_versions() {
    let admin = VaultAdmin::new();
    let path = unique("app");
    admin
        .put_kv2(
            "secret",
            &path,
            json!({"user": "bob", "password": "v1-pass"}),
        )
        .await;
    let v2 = admin
        .put_kv2(
            "secret",
            &path,
            json!({"user": "bob", "password": "v2-pass"}),
        )
        .await;
    let src = source(&admin);

    let s = fetch(&src, &format!("vault://secret/{path}#password"))
        .await
        .unwrap();
    assert_eq!(s.expose_secret(), b"v2-pass");
    assert_eq!(s.meta().version.as_deref(), Some(v2.to_string().as_str()));
    assert_eq!(s.meta().backend, "vault");
    assert!(s.meta().expires_at.is_none());

    let old = fetch(&src, &format!("vault://secret/{path}?version=1#password"))
        .await
        .unwrap();
    assert_eq!(old.expose_secret(), b"v1-pass");
    assert_eq!(old.meta().version.as_deref(), Some("1"));

    let whole = fetch(&src, &format!("vault://secret/{path}"))
        .await
        .unwrap();
    let map: serde_json::Value = serde_json::from_slice(whole.expose_secret()).unwrap();
    assert_eq!(map, json!({"user": "bob", "password": "v2-pass"}));
}

#[tokio::test]
async fn exact_bytes_round_trip_for_unicode_escapes_and_empty_values() {
    let admin = VaultAdmin::new();
    let path = unique("bytes");
    let tricky = "é\"\\\n\t\u{0}😀 end";
    admin
        .put_kv2(
            "secret",
            &path,
            json!({"tricky": tricky, "empty": "", "n": 42, "obj": {"a": [1, 2]}}),
        )
        .await;
    let src = source(&admin);
    let get = |f: &str| {
        let r = format!("vault://secret/{path}#{f}");
        let src = &src;
        async move { fetch(src, &r).await.unwrap() }
    };
    assert_eq!(get("tricky").await.expose_secret(), tricky.as_bytes());
    assert!(get("empty").await.is_empty());
    assert_eq!(get("n").await.expose_secret(), b"42");
    assert_eq!(get("obj").await.expose_secret(), br#"{"a":[1,2]}"#);
}

#[tokio::test]
async fn kv1_mounts_are_detected_and_reject_versions() {
    let admin = VaultAdmin::new();
    let mount = admin.kv_mount(1).await;
    admin
        .put_kv1(&mount, "svc/db", json!({"password": "kv1-pass"}))
        .await;
    let src = source(&admin);
    let s = fetch(&src, &format!("vault://{mount}/svc/db#password"))
        .await
        .unwrap();
    assert_eq!(s.expose_secret(), b"kv1-pass");
    assert!(s.meta().version.is_none());
    let e = fetch(&src, &format!("vault://{mount}/svc/db?version=1#password"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("KV version 2"), "{e}");
}

#[tokio::test]
async fn nested_kv2_mounts_resolve_to_the_longest_mount() {
    let admin = VaultAdmin::new();
    let outer = unique("team");
    let mount = format!("{outer}/kv");
    admin
        .call(
            "POST",
            &format!("sys/mounts/{mount}"),
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        )
        .await;
    admin.put_kv2(&mount, "app", json!({"k": "nested"})).await;
    let s = fetch(&source(&admin), &format!("vault://{mount}/app#k"))
        .await
        .unwrap();
    assert_eq!(s.expose_secret(), b"nested");
}

#[tokio::test]
async fn missing_path_field_deleted_and_destroyed_versions_are_distinct_errors() {
    let admin = VaultAdmin::new();
    let path = unique("gone");
    admin.put_kv2("secret", &path, json!({"a": "1"})).await;
    admin.put_kv2("secret", &path, json!({"a": "2"})).await;
    admin.put_kv2("secret", &path, json!({"a": "3"})).await;
    admin
        .call(
            "POST",
            &format!("secret/delete/{path}"),
            Some(json!({"versions": [1]})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("secret/destroy/{path}"),
            Some(json!({"versions": [2]})),
        )
        .await;
    let src = source(&admin);

    let missing = fetch(
        &src,
        &format!("vault://secret/{}#a", unique("nothing-here")),
    )
    .await
    .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert!(missing.to_string().contains("no secret at"), "{missing}");

    let field = fetch(&src, &format!("vault://secret/{path}#b"))
        .await
        .unwrap_err();
    assert_eq!(field.kind(), ErrorKind::NotFound);
    assert!(field.to_string().contains("no field `b`"), "{field}");
    assert!(field.to_string().contains("fields present: a"), "{field}");

    let deleted = fetch(&src, &format!("vault://secret/{path}?version=1#a"))
        .await
        .unwrap_err();
    assert_eq!(deleted.kind(), ErrorKind::NotFound);
    assert!(deleted.to_string().contains("was deleted"), "{deleted}");
    assert!(deleted.to_string().contains("undelete"), "{deleted}");

    let destroyed = fetch(&src, &format!("vault://secret/{path}?version=2#a"))
        .await
        .unwrap_err();
    assert_eq!(destroyed.kind(), ErrorKind::NotFound);
    assert!(destroyed.to_string().contains("destroyed"), "{destroyed}");

    for e in [&missing, &field, &deleted, &destroyed] {
        assert!(!e.is_temporary());
        assert_eq!(e.backend(), Some("vault"));
        assert!(e.reference().is_some());
    }
}

#[tokio::test]
async fn a_bad_token_is_unauthenticated_and_a_missing_policy_is_permission_denied() {
    let admin = VaultAdmin::new();
    let path = unique("guarded");
    admin.put_kv2("secret", &path, json!({"k": "v"})).await;

    let bad = fetch(
        &source_at(admin.addr(), "s.not-a-real-token"),
        &format!("vault://secret/{path}#k"),
    )
    .await
    .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Unauthenticated, "{bad}");
    assert!(
        bad.to_string().contains("invalid, expired or revoked"),
        "{bad}"
    );

    let other = unique("other");
    let narrow = admin
        .token_with_policy(&format!(
            "path \"secret/data/{other}\" {{ capabilities = [\"read\"] }}"
        ))
        .await;
    let denied = fetch(
        &source_at(admin.addr(), &narrow),
        &format!("vault://secret/{path}#k"),
    )
    .await
    .unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::PermissionDenied, "{denied}");

    let revoked = admin
        .token_with_policy("path \"secret/*\" { capabilities = [\"read\"] }")
        .await;
    let src = source_at(admin.addr(), &revoked);
    fetch(&src, &format!("vault://secret/{path}#k"))
        .await
        .unwrap();
    admin.revoke(&revoked).await;
    let e = fetch(&src, &format!("vault://secret/{path}#k"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
}

#[tokio::test]
async fn a_server_that_is_down_is_unavailable_and_temporary() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let src = source_at(&format!("http://127.0.0.1:{port}"), "s.whatever");
    let e = fetch(&src, "vault://secret/app#k").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary());
    assert!(e.to_string().contains("cannot connect to Vault"), "{e}");
    assert!(e.to_string().contains("VAULT_ADDR"), "{e}");
}

#[tokio::test]
async fn a_missing_mount_says_what_to_check() {
    let admin = VaultAdmin::new();
    let e = fetch(
        &source(&admin),
        &format!("vault://{}/app#k", unique("nomount")),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("bao secrets list"), "{e}");
}

#[tokio::test]
async fn no_address_is_a_config_error_at_first_read() {
    let settings = VaultSettings::resolve(&VaultConfig::default()).unwrap();
    if settings.address.is_some() {
        // VAULT_ADDR is set in this environment; the no-address path is covered by the CLI tests.
        return;
    }
    let src = VaultSource::with_auth(
        settings,
        Arc::new(StaticTokenProvider::new(
            SecretString::from("t".to_owned()),
            "test",
        )),
    )
    .unwrap();
    let e = fetch(&src, "vault://secret/app#k").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
}

#[tokio::test]
async fn tls_problems_are_named_not_reported_as_a_dead_server() {
    // A TLS dev server whose certificate comes from a CA this machine does not trust.
    let server = cleo_testkit::dev::DevServer::start_tls().await;
    let e = fetch(
        &source_at(&server.addr, &server.token),
        "vault://secret/a#b",
    )
    .await
    .unwrap_err();
    drop(server);
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        !e.is_temporary(),
        "a refused certificate will not fix itself: {e}"
    );
    assert!(e.to_string().contains("TLS certificate"), "{e}");
    assert!(!e.to_string().contains("is running"), "{e}");

    // https:// to a server that speaks plain HTTP.
    let admin = VaultAdmin::new();
    let plain = admin.addr().replace("http://", "https://");
    let e = fetch(&source_at(&plain, admin.root_token()), "vault://secret/a#b")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("did not answer with TLS"), "{e}");
    assert!(e.to_string().contains("http://"), "{e}");
}

#[tokio::test]
async fn a_missing_version_and_a_denied_kv2_path_get_precise_hints() {
    let admin = VaultAdmin::new();
    let path = unique("hints");
    admin.put_kv2("secret", &path, json!({"k": "v"})).await;
    let e = fetch(
        &source(&admin),
        &format!("vault://secret/{path}?version=99#k"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("has no version 99"), "{e}");
    let narrow = admin
        .token_with_policy(&format!(
            "path \"secret/data/{}\" {{ capabilities = [\"read\"] }}",
            unique("other")
        ))
        .await;
    let e = fetch(
        &source_at(admin.addr(), &narrow),
        &format!("vault://secret/{path}#k"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(
        e.to_string().contains(&format!("secret/data/{path}")),
        "{e}"
    );
}

#[tokio::test]
async fn a_namespace_from_the_config_scopes_every_request() {
    let admin = VaultAdmin::new();
    let ns = unique("team");
    admin
        .call("POST", &format!("sys/namespaces/{ns}"), None)
        .await;
    let http = reqwest::Client::new();
    let in_ns = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}/v1/{path}", admin.addr()))
            .header("X-Vault-Token", admin.root_token())
            .header("X-Vault-Namespace", &ns)
    };
    let r = in_ns(reqwest::Method::POST, "sys/mounts/kv")
        .json(&json!({"type": "kv", "options": {"version": "2"}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = in_ns(reqwest::Method::POST, "kv/data/app")
        .json(&json!({"data": {"k": "inside-the-namespace"}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(admin.addr().to_owned()),
        namespace: Some(ns.clone()),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(admin.root_token().to_owned()),
        "test",
    ));
    let scoped = VaultSource::with_auth(settings, auth).unwrap();
    let s = fetch(&scoped, "vault://kv/app#k").await.unwrap();
    assert_eq!(s.expose_secret(), b"inside-the-namespace");
    // The same reference without the namespace does not see it.
    assert!(fetch(&source(&admin), "vault://kv/app#k").await.is_err());
}

/// A server that answers every request with 429 and `Retry-After: 7`: the fault a
/// real OpenBao produces only under a rate-limit quota, made on demand.
async fn rate_limiting_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = r#"{"errors":["request path \"secret/data/app\": rate limit quota exceeded"]}"#;
                    let reply = format!(
                        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn rate_limits_are_temporary_and_their_retry_after_is_honoured() {
    let (addr, hits) = rate_limiting_server().await;
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(addr),
        kv_versions: [("secret".to_owned(), 2u8)].into_iter().collect(),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from("t".to_owned()),
        "test",
    ));
    let source: Arc<dyn SecretSource> = Arc::new(VaultSource::with_auth(settings, auth).unwrap());

    let e = source
        .fetch(&SecretRef::parse("vault://secret/app#k").unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(e.is_temporary());
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(7)));
    assert!(e.to_string().contains("rate limit quota exceeded"), "{e}");

    // Through the cache on a manual clock: each retry waits at least the 7 s asked.
    let clock = cleo_core::ManualClock::new(std::time::SystemTime::now());
    let start = cleo_core::Clock::now(&clock);
    let cache = cleo_core::Cache::with_clock(
        cleo_core::CacheSettings {
            backoff_max: std::time::Duration::from_secs(60),
            ..Default::default()
        },
        Arc::new(clock.clone()),
    )
    .unwrap();
    let cached = cleo_core::CachedSource::new(source, cache);
    let before = hits.load(std::sync::atomic::Ordering::SeqCst);
    let e = cached
        .fetch(&SecretRef::parse("vault://secret/app#k").unwrap())
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::RateLimited, 3));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst) - before, 3);
    let waited = cleo_core::Clock::now(&clock).duration_since(start).unwrap();
    assert!(
        waited >= std::time::Duration::from_secs(14),
        "waited only {waited:?}"
    );
}

#[tokio::test]
async fn kv_v1_and_api_path_forms_on_a_v2_mount_are_explained() {
    let admin = VaultAdmin::new();
    let path = unique("forms");
    admin.put_kv2("secret", &path, json!({"k": "v"})).await;

    // A wrong override makes cleo read the v2 mount through the v1 API.
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(admin.addr().to_owned()),
        kv_versions: [("secret".to_owned(), 1u8)].into_iter().collect(),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(admin.root_token().to_owned()),
        "test",
    ));
    let wrong = VaultSource::with_auth(settings, auth).unwrap();
    let e = fetch(&wrong, &format!("vault://secret/{path}#k"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e}");
    assert!(
        e.to_string().contains("KV version 2 mount") && e.to_string().contains("kv_versions"),
        "{e}"
    );

    // The API path form (secret/data/...) in a reference.
    let e = fetch(&source(&admin), &format!("vault://secret/data/{path}#k"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string().contains(&format!("vault://secret/{path}")),
        "{e}"
    );

    // And a plain missing path stays a plain NotFound.
    let e = fetch(
        &source(&admin),
        &format!("vault://secret/{}#k", unique("nope")),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("no secret at") && !e.to_string().contains("API path"),
        "{e}"
    );
}
