//! Failover: a client configured with the three nodes of a real OpenBao raft cluster
//! keeps reading while the leader is killed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cleo_core::{ErrorKind, SecretRef, SecretSource};
use cleo_testkit::cluster::BaoCluster;
use cleo_testkit::unique;
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_the_leader_being_killed() {
    let mut cluster = BaoCluster::start().await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    let path = unique("ha");
    let (status, body) = cluster
        .raw(
            "POST",
            leader,
            &format!("secret/data/{path}"),
            Some(json!({"data": {"k": "v-ha"}})),
        )
        .await;
    assert!(status < 300, "{status} {body}");

    let settings = VaultSettings::resolve(&VaultConfig {
        addresses: cluster.addrs(),
        timeout: Some(format!("{}s", TIMEOUT.as_secs())),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(cluster.root_token.clone()),
        "test",
    ));
    let source = VaultSource::with_auth(settings, auth).unwrap();
    let reference = SecretRef::parse(&format!("vault://secret/{path}#k")).unwrap();
    assert_eq!(
        source.fetch(&reference).await.unwrap().expose_secret(),
        b"v-ha"
    );

    // Read every 100 ms; after one second, kill the leader; keep reading.
    let started = Instant::now();
    let mut killed_at = None;
    let mut outcomes = Vec::new();
    while started.elapsed() < Duration::from_secs(12) {
        if killed_at.is_none() && started.elapsed() > Duration::from_secs(1) {
            cluster.kill(leader);
            killed_at = Some(Instant::now());
        }
        let t = Instant::now();
        let result = source.fetch(&reference).await;
        let took = t.elapsed();
        // No request hangs past its timeout (one per node at the very worst).
        assert!(
            took < TIMEOUT * 3 + Duration::from_secs(1),
            "a read took {took:?}"
        );
        if let Err(e) = &result {
            assert!(
                matches!(e.kind(), ErrorKind::Unavailable),
                "failures during failover must be temporary Unavailable errors: {e}"
            );
        }
        outcomes.push((t, result.map(|s| s.expose_secret().to_vec())));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed_at = killed_at.unwrap();
    let first_ok_after = outcomes
        .iter()
        .find(|(t, r)| *t > killed_at && r.is_ok())
        .map(|(t, _)| t.duration_since(killed_at))
        .expect("no successful read after the leader was killed");
    assert!(
        first_ok_after < Duration::from_secs(8),
        "reads resumed only after {first_ok_after:?}"
    );
    // Reads keep succeeding once the new leader is elected.
    let tail: Vec<_> = outcomes.iter().rev().take(10).collect();
    assert!(
        tail.iter().all(|(_, r)| matches!(r, Ok(v) if v == b"v-ha")),
        "the last reads failed"
    );
    let new_leader = cluster.wait_leader(Duration::from_secs(10)).await;
    assert_ne!(new_leader, leader);
}

#[test]
fn address_and_addresses_together_are_refused() {
    let e = VaultSettings::resolve(&VaultConfig {
        address: Some("http://127.0.0.1:1".into()),
        addresses: vec!["http://127.0.0.1:2".into()],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
}

/// A login is a write on the active node; the read right after it may land on a
/// standby. The index the login returned, sent back with
/// `X-Vault-Inconsistent: forward-active-node`, keeps that read from missing the new
/// token. Twenty fresh logins, each read at once through a standby-first address list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_right_after_a_login_see_the_new_token_through_a_standby() {
    let cluster = BaoCluster::start().await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    let call = |path: String, body: serde_json::Value| {
        let cluster = &cluster;
        async move {
            let (status, v) = cluster.raw("POST", leader, &path, Some(body)).await;
            assert!(status < 300, "{path}: {status} {v}");
            v
        }
    };
    let path = unique("ryw");
    call(
        format!("secret/data/{path}"),
        json!({"data": {"k": "fresh"}}),
    )
    .await;
    call(
        "sys/policies/acl/ryw".into(),
        json!({"policy": format!("path \"secret/data/{path}\" {{ capabilities = [\"read\"] }}")}),
    )
    .await;
    call("sys/auth/approle".into(), json!({"type": "approle"})).await;
    call(
        "auth/approle/role/ci".into(),
        json!({"token_policies": ["ryw"], "token_ttl": "10m"}),
    )
    .await;
    let role_id = cluster
        .raw("GET", leader, "auth/approle/role/ci/role-id", None)
        .await
        .1["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_id =
        call("auth/approle/role/ci/secret-id".into(), json!({})).await["data"]["secret_id"]
            .as_str()
            .unwrap()
            .to_owned();
    // The set-up was written on the leader: wait until every standby can use it
    // (the admin's writes are not this client's to make consistent).
    let deadline = Instant::now() + Duration::from_secs(20);
    for n in (0..3).filter(|n| *n != leader) {
        loop {
            let (status, _) = cluster
                .raw(
                    "POST",
                    n,
                    "auth/approle/login",
                    Some(json!({"role_id": role_id, "secret_id": secret_id})),
                )
                .await;
            if status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "standby {n} never saw the role");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sid");
    std::fs::write(&file, &secret_id).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut addrs = cluster.addrs();
    let leader_addr = addrs.remove(leader);
    addrs.push(leader_addr);
    let reference = SecretRef::parse(&format!("vault://secret/{path}#k")).unwrap();
    for round in 0..20 {
        let settings = VaultSettings::resolve(&VaultConfig {
            addresses: addrs.clone(),
            auth: Some(cleo_vault::AuthConfig::Approle {
                mount: "approle".into(),
                role_id: role_id.clone(),
                secret_id: format!("file://{}", file.display()),
            }),
            ..Default::default()
        })
        .unwrap();
        let source = VaultSource::new(settings).unwrap();
        let s = source
            .fetch(&reference)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(s.expose_secret(), b"fresh");
    }
}

/// A node that answers with a redirect to an address outside the configured set (a
/// standby pointing at a leader cleo was not told about, or a hostile proxy): cleo
/// moves to the next configured node and never follows, so the token goes nowhere else.
#[tokio::test]
async fn the_token_never_follows_a_redirect_out_of_the_configured_set() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let admin = cleo_testkit::VaultAdmin::new();
    let path = unique("redirect");
    admin.put_kv2("secret", &path, json!({"k": "v"})).await;

    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_addr = elsewhere.local_addr().unwrap();
    let contacted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&contacted);
    tokio::spawn(async move {
        while let Ok((_c, _)) = elsewhere.accept().await {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirector_addr = redirector.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = redirector.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = c.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let reply = format!(
                        "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{elsewhere_addr}/v1/secret/data/x\r\ncontent-length: 0\r\n\r\n"
                    );
                    if c.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let settings = VaultSettings::resolve(&VaultConfig {
        addresses: vec![format!("http://{redirector_addr}"), admin.addr().to_owned()],
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from(admin.root_token().to_owned()),
        "test",
    ));
    let source = VaultSource::with_auth(settings, auth).unwrap();
    let s = source
        .fetch(&SecretRef::parse(&format!("vault://secret/{path}#k")).unwrap())
        .await
        .unwrap();
    assert_eq!(s.expose_secret(), b"v");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !contacted.load(std::sync::atomic::Ordering::SeqCst),
        "the redirect target was contacted"
    );
}

/// The header exchange itself, seen from the server side: once any answer carried an
/// `X-Vault-Index`, the next request sends it back with
/// `X-Vault-Inconsistent: forward-active-node`. (The raft test above shows the
/// login-then-read path on a real cluster; this one shows the headers leave cleo.)
#[tokio::test]
async fn the_last_index_is_sent_back_with_forward_active_node() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                while let Ok(n) = c.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let request = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                    record.lock().unwrap().push(request.clone());
                    let body = if request.contains("/sys/internal/ui/mounts/") {
                        r#"{"data":{"path":"secret/","type":"kv","options":{"version":"2"}}}"#
                    } else {
                        r#"{"data":{"data":{"k":"v"},"metadata":{"version":1}}}"#
                    };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nx-vault-index: idx-after-write-42\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if c.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(format!("http://{addr}")),
        ..Default::default()
    })
    .unwrap();
    let auth = Arc::new(StaticTokenProvider::new(
        SecretString::from("t".to_owned()),
        "test",
    ));
    let source = VaultSource::with_auth(settings, auth).unwrap();
    let s = source
        .fetch(&SecretRef::parse("vault://secret/app#k").unwrap())
        .await
        .unwrap();
    assert_eq!(s.expose_secret(), b"v");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        !requests[0].contains("x-vault-index"),
        "no index before the server gave one"
    );
    assert!(
        requests[1].contains("x-vault-index: idx-after-write-42"),
        "{}",
        requests[1]
    );
    assert!(
        requests[1].contains("x-vault-inconsistent: forward-active-node"),
        "{}",
        requests[1]
    );
}
