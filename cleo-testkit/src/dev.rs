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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let token = unique("root").replace('-', "");
        let home = std::env::temp_dir().join(unique("cleo-dev"));
        std::fs::create_dir_all(&home).unwrap();
        let child = Command::new("bao")
            .env("HOME", &home)
            .args(["server", "-dev"])
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("`bao` must be on PATH (scripts/test installs it into .venv/bin)");
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
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
