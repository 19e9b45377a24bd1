//! Logging in to a real OpenBao: AppRole and JWT (from a file and from a stand-in for
//! the GitHub Actions ID-token endpoint), re-login after revocation and before
//! expiry, and errors that explain a refused login without showing a credential.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cleo_core::{ErrorKind, Expiring, SecretRef, SecretSource};
use cleo_testkit::{JwtSigner, VaultAdmin, assert_no_canary, capture_logs, epoch_now, unique};
use cleo_vault::{
    AuthConfig, JwtSource, LoginMethod, SecretString, VaultConfig, VaultSettings, VaultSource,
};
use serde_json::json;

use cleo_testkit::github::{ISSUER, claims};

/// A KV v2 secret and a policy that may read only it.
async fn guarded_secret(admin: &VaultAdmin) -> (String, String, String) {
    let path = unique("app");
    let value = format!("canary-{}", unique("value"));
    admin
        .put_kv2("secret", &path, json!({ "password": value }))
        .await;
    let policy = unique("read-app");
    admin
        .call(
            "PUT",
            &format!("sys/policies/acl/{policy}"),
            Some(json!({ "policy": format!("path \"secret/data/{path}\" {{ capabilities = [\"read\"] }}") })),
        )
        .await;
    (path, value, policy)
}

fn secret_file(dir: &tempfile::TempDir, contents: &str) -> PathBuf {
    // With a trailing newline, as editors and `echo` leave one.
    cleo_testkit::private_file(dir.path(), &format!("{contents}\n"))
}

async fn approle(admin: &VaultAdmin, policy: &str, ttl: &str) -> (String, String, String) {
    let r = admin
        .approle(json!({"token_policies": [policy], "token_ttl": ttl, "token_max_ttl": "1h"}))
        .await;
    (r.mount, r.role_id, r.secret_id)
}

fn source(admin: &VaultAdmin, auth: AuthConfig) -> VaultSource {
    let settings = VaultSettings::resolve(&VaultConfig {
        address: Some(admin.addr().to_owned()),
        timeout: Some("5s".into()),
        auth: Some(auth),
        ..Default::default()
    })
    .unwrap();
    VaultSource::new(settings).unwrap()
}

async fn read(src: &VaultSource, path: &str) -> cleo_core::Result<String> {
    let s = src
        .fetch(&SecretRef::parse(&format!("vault://secret/{path}#password")).unwrap())
        .await?;
    Ok(s.expose_str()?.to_owned())
}

#[tokio::test]
async fn approle_logs_in_and_logs_in_again_after_revocation() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let (path, value, policy) = guarded_secret(&admin).await;
    let (mount, role_id, secret_id) = approle(&admin, &policy, "1h").await;
    let dir = tempfile::tempdir().unwrap();
    let file = secret_file(&dir, &secret_id);
    let src = source(
        &admin,
        AuthConfig::Approle {
            mount: mount.clone(),
            role_id: role_id.clone(),
            secret_id: format!("file://{}", file.display()),
        },
    );
    assert_eq!(read(&src, &path).await.unwrap(), value);

    // Every token this auth mount issued is revoked: the next read is refused, and
    // cleo logs in again once instead of failing.
    admin
        .call(
            "PUT",
            &format!("sys/leases/revoke-prefix/auth/{mount}/login"),
            None,
        )
        .await;
    assert_eq!(read(&src, &path).await.unwrap(), value);

    // A wrong secret id is a clear authentication error.
    let wrong = secret_file(&dir, "canary-wrong-secret-id-1f3e");
    let bad = source(
        &admin,
        AuthConfig::Approle {
            mount,
            role_id,
            secret_id: format!("file://{}", wrong.display()),
        },
    );
    let e = read(&bad, &path).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(e.to_string().contains("approle login"), "{e}");
    let shown = format!("{e} {e:?} {src:?}");
    assert_no_canary(
        "errors",
        &shown,
        &[&secret_id, "canary-wrong-secret-id-1f3e", &value],
    );
    assert_no_canary(
        "TRACE logs",
        &logs.text(),
        &[&secret_id, "canary-wrong-secret-id-1f3e", &value],
    );
}

#[tokio::test]
async fn a_short_lived_token_is_replaced_before_it_expires() {
    let admin = VaultAdmin::new();
    let (path, value, policy) = guarded_secret(&admin).await;
    let (mount, role_id, secret_id) = approle(&admin, &policy, "3s").await;
    let dir = tempfile::tempdir().unwrap();
    let file = secret_file(&dir, &secret_id);
    let src = source(
        &admin,
        AuthConfig::Approle {
            mount,
            role_id,
            secret_id: format!("file://{}", file.display()),
        },
    );
    // Read for longer than two token lifetimes: every read succeeds.
    let started = Instant::now();
    let mut reads = 0;
    while started.elapsed() < Duration::from_secs(7) {
        assert_eq!(
            read(&src, &path).await.unwrap(),
            value,
            "read {reads} failed"
        );
        reads += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(reads > 20);
}

async fn jwt_auth(admin: &VaultAdmin, signer: &JwtSigner, policy: &str) -> String {
    let mount = unique("jwt");
    admin
        .call(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "jwt"})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("auth/{mount}/config"),
            Some(json!({"jwt_validation_pubkeys": [signer.public_pem], "bound_issuer": ISSUER})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("auth/{mount}/role/ci"),
            Some(json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": ["cleo-test"],
                "bound_claims": {"repository": "acme/cleo"},
                "token_policies": [policy],
                "token_ttl": "10m",
            })),
        )
        .await;
    mount
}

#[tokio::test]
async fn jwt_from_a_file_logs_in_and_a_wrong_claim_is_explained() {
    let logs = capture_logs();
    let admin = VaultAdmin::new();
    let signer = JwtSigner::new();
    let (path, value, policy) = guarded_secret(&admin).await;
    let mount = jwt_auth(&admin, &signer, &policy).await;
    let dir = tempfile::tempdir().unwrap();

    let good = signer.sign(&claims("acme/cleo", "cleo-test"));
    let file = secret_file(&dir, &good);
    let src = source(
        &admin,
        AuthConfig::Jwt {
            mount: mount.clone(),
            role: "ci".into(),
            jwt: format!("file://{}", file.display()),
            audience: None,
        },
    );
    assert_eq!(read(&src, &path).await.unwrap(), value);

    let other_repo = signer.sign(&claims("evil/fork", "cleo-test"));
    let file = secret_file(&dir, &other_repo);
    let bad = source(
        &admin,
        AuthConfig::Jwt {
            mount,
            role: "ci".into(),
            jwt: format!("file://{}", file.display()),
            audience: None,
        },
    );
    let e = read(&bad, &path).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("role `ci`") && text.contains("server said"),
        "{text}"
    );
    assert!(
        text.contains(ISSUER) && text.contains("cleo-test") && text.contains("repo:evil/fork"),
        "{text}"
    );
    // The JWT itself (and its signature) never shows.
    let sig = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    for secret in [&good, &other_repo, &sig(&good), &sig(&other_repo), &value] {
        assert_no_canary("error", &format!("{e} {e:?}"), &[secret]);
        assert_no_canary("TRACE logs", &logs.text(), &[secret]);
    }
}

#[tokio::test]
async fn jwt_from_the_github_actions_endpoint() {
    let admin = VaultAdmin::new();
    let signer = JwtSigner::new();
    let (path, value, policy) = guarded_secret(&admin).await;
    let mount = jwt_auth(&admin, &signer, &policy).await;
    let request_url = cleo_testkit::github::actions_token_endpoint(
        signer,
        "canary-request-token-77".into(),
        "acme/cleo",
    )
    .await;

    let settings = |token: &str, audience: &str| {
        let mut s = VaultSettings::resolve(&VaultConfig {
            address: Some(admin.addr().to_owned()),
            ..Default::default()
        })
        .unwrap();
        s.login = Some(LoginMethod::Jwt {
            mount: mount.clone(),
            role: "ci".into(),
            jwt: JwtSource::GithubActions {
                request_url: request_url.clone(),
                request_token: SecretString::from(token.to_owned()),
                audience: audience.into(),
            },
        });
        s
    };
    let src = VaultSource::new(settings("canary-request-token-77", "cleo-test")).unwrap();
    assert_eq!(read(&src, &path).await.unwrap(), value);

    // The role is bound to audience cleo-test; asking GitHub for another is refused.
    let wrong_aud =
        VaultSource::new(settings("canary-request-token-77", "sts.amazonaws.com")).unwrap();
    let e = read(&wrong_aud, &path).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e}");
    assert!(e.to_string().contains("sts.amazonaws.com"), "{e}");

    let unauthorized = VaultSource::new(settings("not-the-request-token", "cleo-test")).unwrap();
    let e = read(&unauthorized, &path).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(e.to_string().contains("id-token: write"), "{e}");
    assert_no_canary(
        "error",
        &format!("{e} {e:?} {src:?}"),
        &["canary-request-token-77"],
    );
}

#[tokio::test]
async fn a_renewable_token_is_renewed_until_max_ttl_then_replaced_by_a_login() {
    let admin = VaultAdmin::new();
    let (path, value, policy) = guarded_secret(&admin).await;
    let cleo_testkit::AppRole {
        mount,
        role_id,
        secret_id,
    } = admin
        .approle(json!({"token_policies": [policy], "token_ttl": "3s", "token_max_ttl": "8s"}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = secret_file(&dir, &secret_id);
    let src = source(
        &admin,
        AuthConfig::Approle {
            mount,
            role_id,
            secret_id: format!("file://{}", file.display()),
        },
    );
    let mut seen: std::collections::BTreeMap<
        String,
        std::collections::BTreeSet<std::time::SystemTime>,
    > = Default::default();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(13) {
        assert_eq!(read(&src, &path).await.unwrap(), value);
        let t = src.token().await.unwrap();
        seen.entry(t.accessor().unwrap().to_owned())
            .or_default()
            .insert(t.expires_at().unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen.len() >= 2,
        "max_ttl should have forced a new login: {seen:?}"
    );
    assert!(
        seen.values().any(|expiries| expiries.len() >= 2),
        "a token should have been renewed (same accessor, later expiry): {seen:?}"
    );
}

/// cleo's Kubernetes method sends `{role, jwt}` with the service-account token file to
/// `auth/<mount>/login`. There is no Kubernetes API here for OpenBao's kubernetes auth
/// to review tokens against, so the peer is OpenBao's jwt auth mounted at that path
/// and validating the same request with a test key: it proves the request, the
/// mount, and that the token file is re-read at every login.
#[tokio::test]
async fn kubernetes_method_reads_the_service_account_token_at_every_login() {
    let admin = VaultAdmin::new();
    let signer = JwtSigner::new();
    let (path, value, policy) = guarded_secret(&admin).await;
    let mount = unique("k8s");
    admin
        .call(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "jwt"})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("auth/{mount}/config"),
            Some(json!({"jwt_validation_pubkeys": [signer.public_pem], "bound_issuer": "https://kubernetes.default.svc"})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("auth/{mount}/role/trainer"),
            Some(json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": ["vault"],
                "bound_subject": "system:serviceaccount:ml:trainer",
                "token_policies": [policy],
                "token_ttl": "10m",
            })),
        )
        .await;
    let sa_token = |sub: &str| {
        let now = epoch_now();
        signer.sign(&json!({
            "iss": "https://kubernetes.default.svc", "aud": "vault", "sub": sub,
            "iat": now, "nbf": now - 5, "exp": now + 600,
        }))
    };
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, sa_token("system:serviceaccount:ml:trainer")).unwrap();
    std::fs::set_permissions(&token_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let src = source(
        &admin,
        AuthConfig::Kubernetes {
            mount,
            role: "trainer".into(),
            token_path: token_path.clone(),
        },
    );
    assert_eq!(read(&src, &path).await.unwrap(), value);
    assert_eq!(src.token().await.unwrap().origin(), "kubernetes login");

    // The kubelet rotates the file; the next login must use what is there now.
    std::fs::write(
        &token_path,
        sa_token("system:serviceaccount:other:intruder"),
    )
    .unwrap();
    cleo_core::CredentialProvider::invalidate(&*src.auth_provider());
    let e = src.token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e}");
    assert!(
        e.to_string()
            .contains("system:serviceaccount:other:intruder"),
        "{e}"
    );
}
