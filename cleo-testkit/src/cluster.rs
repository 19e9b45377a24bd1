//! A three-node OpenBao raft cluster on loopback, started from the `bao` binary on
//! `PATH` (scripts/test puts `.venv/bin` there), for failover tests. The nodes are
//! killed when the cluster is dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::unique;

/// One node: its API address and process.
pub struct Node {
    /// `http://127.0.0.1:<port>`.
    pub addr: String,
    child: Option<Child>,
}

/// A running, unsealed three-node cluster with KV v2 at `secret/`.
pub struct BaoCluster {
    /// The nodes, in start order.
    pub nodes: Vec<Node>,
    /// The root token.
    pub root_token: String,
    dir: PathBuf,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl BaoCluster {
    /// Starts, initialises and unseals three nodes, and waits for a leader.
    pub async fn start() -> BaoCluster {
        let dir = std::env::temp_dir().join(unique("cleo-raft"));
        std::fs::create_dir_all(&dir).unwrap();
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (api, cluster)) in ports.iter().enumerate() {
            let data = dir.join(format!("node{i}"));
            std::fs::create_dir_all(&data).unwrap();
            let joins: String = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (p, _))| {
                    format!("  retry_join {{ leader_api_addr = \"http://127.0.0.1:{p}\" }}\n")
                })
                .collect();
            let config = format!(
                "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"node{i}\"\n  performance_multiplier = 1\n{joins}}}\n\
                 listener \"tcp\" {{\n  address = \"127.0.0.1:{api}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\n\
                 api_addr = \"http://127.0.0.1:{api}\"\ncluster_addr = \"http://127.0.0.1:{cluster}\"\ndisable_mlock = true\n",
                data.display()
            );
            let config_path = dir.join(format!("node{i}.hcl"));
            std::fs::write(&config_path, config).unwrap();
            let log = std::fs::File::create(dir.join(format!("node{i}.log"))).unwrap();
            let child = Command::new("bao")
                .env("HOME", &dir)
                .arg("server")
                .arg(format!("-config={}", config_path.display()))
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("`bao` must be on PATH (scripts/test installs it into .venv/bin)");
            nodes.push(Node {
                addr: format!("http://127.0.0.1:{api}"),
                child: Some(child),
            });
        }
        let mut cluster = BaoCluster {
            nodes,
            root_token: String::new(),
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        for n in 0..3 {
            cluster.wait_listening(n).await;
        }
        let init = cluster
            .raw(
                "PUT",
                0,
                "sys/init",
                Some(json!({"secret_shares": 1, "secret_threshold": 1})),
            )
            .await
            .1;
        let key = init["keys"][0].as_str().expect("unseal key").to_owned();
        cluster.root_token = init["root_token"].as_str().expect("root token").to_owned();
        cluster.unseal(0, &key).await;
        let first = cluster.wait_leader(Duration::from_secs(30)).await;
        // Joined nodes start as non-voters; autopilot promotes them once stable.
        // Make that quick, so the cluster can lose its leader soon after start.
        let (status, body) = cluster
            .raw(
                "POST",
                first,
                "sys/storage/raft/autopilot/configuration",
                Some(json!({"server_stabilization_time": "1s", "cleanup_dead_servers": false})),
            )
            .await;
        assert!(status < 300, "autopilot configuration: {status} {body}");
        for n in 1..3 {
            // A joining node needs the key too; retry while it catches up with the leader.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                cluster.unseal(n, &key).await;
                let (status, _) = cluster
                    .raw("GET", n, "sys/health?standbyok=true", None)
                    .await;
                if status == 200 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "node {n} did not join: see {}",
                    cluster.dir.display()
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        let leader = cluster.wait_leader(Duration::from_secs(30)).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, config) = cluster
                .raw("GET", leader, "sys/storage/raft/configuration", None)
                .await;
            let servers = config["data"]["config"]["servers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if servers.len() == 3 && servers.iter().all(|s| s["voter"] == json!(true)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "nodes were not promoted to voters: see {}",
                cluster.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let (status, body) = cluster
            .raw(
                "POST",
                leader,
                "sys/mounts/secret",
                Some(json!({"type": "kv", "options": {"version": "2"}})),
            )
            .await;
        assert!(status < 300, "enabling secret/: {status} {body}");
        cluster
    }

    async fn wait_listening(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .http
            .get(format!("{}/v1/sys/health", self.nodes[n].addr))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "node {n} did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn unseal(&self, n: usize, key: &str) {
        let _ = self
            .raw("PUT", n, "sys/unseal", Some(json!({ "key": key })))
            .await;
    }

    /// Sends a request to node `n` with the root token; returns status and JSON body.
    pub async fn raw(
        &self,
        method: &str,
        n: usize,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}/v1/{path}", self.nodes[n].addr));
        if !self.root_token.is_empty() {
            req = req.header("X-Vault-Token", &self.root_token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// The index of the active node, waiting up to `limit` for one.
    pub async fn wait_leader(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            for n in 0..self.nodes.len() {
                if self.nodes[n].child.is_some()
                    && self.raw("GET", n, "sys/health", None).await.0 == 200
                {
                    return n;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no leader within {limit:?}: see {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Kills node `n` at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, n: usize) {
        if let Some(mut c) = self.nodes[n].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every node's address.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr.clone()).collect()
    }
}

impl Drop for BaoCluster {
    fn drop(&mut self) {
        for n in 0..self.nodes.len() {
            self.kill(n);
        }
        // Keep the nodes' logs when a test failed, so the message's path is useful.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
