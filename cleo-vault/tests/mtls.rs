//! Mutual TLS against a real OpenBao whose listener requires a client certificate
//! (`tls_require_and_verify_client_cert`), with a private CA made by `openssl`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cleo_core::{SecretRef, SecretSource};
use cleo_testkit::unique;
use cleo_vault::{SecretString, StaticTokenProvider, VaultConfig, VaultSettings, VaultSource};
use serde_json::json;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1, and a client certificate, all signed by the CA.
fn pki(dir: &Path) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ca.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=cleo test CA",
            "-days",
            "2",
            "-out",
            "ca.pem",
        ],
    );
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                &format!("/CN={name}"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
        std::fs::set_permissions(
            dir.join(format!("{name}.key")),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_server_that_requires_a_client_certificate() {
    let dir = std::env::temp_dir().join(unique("cleo-mtls"));
    std::fs::create_dir_all(&dir).unwrap();
    pki(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = |f: &str| dir.join(f).display().to_string();
    std::fs::write(
        dir.join("server.hcl"),
        format!(
            "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"\n  tls_client_ca_file = \"{}\"\n  tls_require_and_verify_client_cert = true\n}}\ndisable_mlock = true\napi_addr = \"https://127.0.0.1:{port}\"\n",
            p("server.pem"),
            p("server.key"),
            p("ca.pem")
        ),
    )
    .unwrap();
    let mut server = Command::new("bao")
        .env("HOME", &dir)
        .arg("server")
        .arg(format!("-config={}", p("server.hcl")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bao on PATH");

    // Set the server up with a client that has the certificate.
    let admin = reqwest::Client::builder()
        .tls_certs_only(
            reqwest::Certificate::from_pem_bundle(&std::fs::read(dir.join("ca.pem")).unwrap())
                .unwrap(),
        )
        .identity(
            reqwest::Identity::from_pem(
                &[
                    std::fs::read(dir.join("client.pem")).unwrap(),
                    std::fs::read(dir.join("client.key")).unwrap(),
                ]
                .concat(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let addr = format!("https://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let init = loop {
        if let Ok(r) = admin
            .put(format!("{addr}/v1/sys/init"))
            .json(&json!({"secret_shares": 1, "secret_threshold": 1}))
            .send()
            .await
        {
            break r.json::<serde_json::Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the mTLS server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let root = init["root_token"].as_str().unwrap().to_owned();
    let key = init["keys"][0].as_str().unwrap().to_owned();
    admin
        .put(format!("{addr}/v1/sys/unseal"))
        .json(&json!({ "key": key }))
        .send()
        .await
        .unwrap();
    let call = |path: &str, body: serde_json::Value| {
        admin
            .post(format!("{addr}/v1/{path}"))
            .header("X-Vault-Token", &root)
            .json(&body)
            .send()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !call(
        "sys/mounts/secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    )
    .await
    .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "could not mount secret/");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        call("secret/data/app", json!({"data": {"k": "over-mtls"}}))
            .await
            .unwrap()
            .status()
            .is_success()
    );

    let source = |cert: Option<(PathBuf, PathBuf)>| {
        let settings = VaultSettings::resolve(&VaultConfig {
            address: Some(addr.clone()),
            ca_cert: Some(dir.join("ca.pem")),
            client_cert: cert.as_ref().map(|c| c.0.clone()),
            client_key: cert.as_ref().map(|c| c.1.clone()),
            timeout: Some("5s".into()),
            ..Default::default()
        })
        .unwrap();
        let auth = Arc::new(StaticTokenProvider::new(
            SecretString::from(root.clone()),
            "test",
        ));
        VaultSource::with_auth(settings, auth)
    };
    let reference = SecretRef::parse("vault://secret/app#k").unwrap();
    let with_cert = source(Some((dir.join("client.pem"), dir.join("client.key")))).unwrap();
    let ok = with_cert.fetch(&reference).await;
    let without = source(None).unwrap().fetch(&reference).await;
    std::fs::set_permissions(
        dir.join("client.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let loose = source(Some((dir.join("client.pem"), dir.join("client.key"))));
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(ok.unwrap().expose_secret(), b"over-mtls");
    let e = without.unwrap_err();
    assert_eq!(e.kind(), cleo_core::ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("client_cert"), "{e}");
    let e = loose.unwrap_err();
    assert!(e.to_string().contains("chmod 600"), "{e}");
}
