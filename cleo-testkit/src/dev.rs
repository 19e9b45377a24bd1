//! A throwaway OpenBao dev server with extra flags (`-dev-leased-kv`, `-dev-tls`),
//! on a free loopback port, with a HOME of its own, killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::unique;

/// A running dev server.
pub struct DevServer {
    /// `http://127.0.0.1:<port>`.
    pub addr: String,
    /// Its root token.
    pub token: String,
    child: Child,
    home: std::path::PathBuf,
}

impl DevServer {
    /// Starts `bao server -dev` with `extra` flags and waits until it is healthy.
    pub async fn start(extra: &[&str]) -> DevServer {
        let home = std::env::temp_dir().join(unique("cleo-dev"));
        std::fs::create_dir_all(&home).unwrap();
        let (child, token, port) = DevServer::spawn(&home, extra);
        let addr = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{addr}/v1/sys/health")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "the dev server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        DevServer {
            addr,
            token,
            child,
            home,
        }
    }

    /// Starts `bao server -dev -dev-tls`: HTTPS with a certificate from a CA of its
    /// own, which this machine does not trust. `addr` is `https://...`; the CA's PEM
    /// is at [`DevServer::tls_ca`]. Waits until the port accepts connections.
    pub async fn start_tls() -> DevServer {
        let home = std::env::temp_dir().join(unique("cleo-dev-tls"));
        std::fs::create_dir_all(&home).unwrap();
        let cert_dir = format!("-dev-tls-cert-dir={}", home.display());
        let (child, token, port) = DevServer::spawn(&home, &["-dev-tls", &cert_dir]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || !home.join("vault-ca.pem").exists()
        {
            assert!(
                Instant::now() < deadline,
                "the TLS dev server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        DevServer {
            addr: format!("https://127.0.0.1:{port}"),
            token,
            child,
            home,
        }
    }

    /// The CA certificate of a [`DevServer::start_tls`] server.
    pub fn tls_ca(&self) -> std::path::PathBuf {
        self.home.join("vault-ca.pem")
    }

    /// Starts the server process with HOME at `home`: its child, root token and port.
    fn spawn(home: &std::path::Path, extra: &[&str]) -> (Child, String, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let token = unique("root").replace('-', "");
        let child = Command::new("bao")
            .env("HOME", home)
            .args(["server", "-dev"])
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("`bao` must be on PATH (scripts/test installs it into .venv/bin)");
        (child, token, port)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
