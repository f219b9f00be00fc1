//! A real cluster for tests: a Debian etcd on free ports with its own data
//! directory, and `troupe` processes (not threads: a node must be killable
//! with SIGKILL) registered in it.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{listening_url, TestServer};

/// A port free at the moment (etcd cannot take port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn etcd_available() -> bool {
    super::media_tools::which("etcd")
}

pub struct Etcd {
    child: Option<Child>,
    data_dir: tempfile::TempDir,
    pub client_url: String,
    peer_url: String,
    ip: String,
}

impl Etcd {
    pub fn start() -> Etcd {
        Self::start_on("127.0.0.1")
    }

    /// Starts etcd listening on `ip` (an address of this namespace).
    pub fn start_on(ip: &str) -> Etcd {
        let mut etcd = Etcd {
            child: None,
            data_dir: tempfile::tempdir().unwrap(),
            client_url: format!("http://{ip}:{}", free_port()),
            peer_url: format!("http://{ip}:{}", free_port()),
            ip: ip.to_string(),
        };
        etcd.resume();
        etcd
    }

    /// Starts (again) on the same ports and data: leases and keys survive.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "etcd is already running");
        let log = std::fs::File::create(self.data_dir.path().join("etcd.log")).unwrap();
        let child = Command::new("etcd")
            .args(["--name", "t"])
            .arg("--data-dir")
            .arg(self.data_dir.path().join("data"))
            .args(["--listen-client-urls", &self.client_url])
            .args(["--advertise-client-urls", &self.client_url])
            .args(["--listen-peer-urls", &self.peer_url])
            .args(["--initial-advertise-peer-urls", &self.peer_url])
            .args(["--initial-cluster", &format!("t={}", self.peer_url)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let health = format!("{}/health", self.client_url);
        loop {
            let healthy = ureq::get(&health)
                .call()
                .ok()
                .and_then(|r| r.into_body().read_to_string().ok())
                .is_some_and(|body| body.contains("true"));
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd not healthy within 20 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills etcd: nodes can no longer reach it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn endpoint(&self) -> String {
        self.client_url.clone()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("etcd.log")).unwrap_or_default()
    }

    pub fn ip(&self) -> &str {
        &self.ip
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `troupe` process of a test cluster.
pub struct Node {
    pub id: String,
    pub api: TestServer,
    child: Child,
    log: PathBuf,
    pub token: Option<String>,
}

pub struct NodeOptions<'a> {
    pub id: &'a str,
    pub region: &'a str,
    pub etcd: &'a str,
    pub cluster: &'a str,
    /// Run the process through this prefix (e.g. `ip netns exec NS`).
    pub wrapper: &'a [&'a str],
    /// The node's address: API, WebRTC, pipes and control bind to it.
    pub ip: &'a str,
    pub token: Option<&'a str>,
    pub log_dir: &'a Path,
    /// More settings, as environment variables.
    pub env: &'a [(&'a str, &'a str)],
}

impl Node {
    /// A node on 127.0.0.1 with the defaults, in `region`.
    pub fn on_loopback(etcd: &Etcd, cluster: &str, id: &str, region: &str, logs: &Path) -> Node {
        Self::on_loopback_with(etcd, cluster, id, region, logs, &[])
    }

    /// The same, with more settings as environment variables.
    pub fn on_loopback_with(
        etcd: &Etcd,
        cluster: &str,
        id: &str,
        region: &str,
        logs: &Path,
        env: &[(&str, &str)],
    ) -> Node {
        Node::start(NodeOptions {
            id,
            region,
            etcd: &etcd.endpoint(),
            cluster,
            wrapper: &[],
            ip: "127.0.0.1",
            token: None,
            log_dir: logs,
            env,
        })
    }

    pub fn start(options: NodeOptions) -> Node {
        let log = options.log_dir.join(format!("{}.log", options.id));
        let mut command = match options.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(env!("CARGO_BIN_EXE_troupe"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_troupe")),
        };
        let ip = options.ip;
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TROUPE_HTTP_LISTEN", format!("{ip}:0"))
            .env("TROUPE_WEBRTC_PORT", "0")
            .env("TROUPE_WEBRTC_LISTEN_IP", ip)
            .env("TROUPE_CONTROL_LISTEN", format!("{ip}:0"))
            .env("TROUPE_ETCD_ENDPOINTS", options.etcd)
            .env("TROUPE_CLUSTER", options.cluster)
            .env("TROUPE_CLUSTER_SECRET", "test-secret")
            .env("TROUPE_NODE_ID", options.id)
            .env("TROUPE_REGION", options.region)
            .env("TROUPE_LOG", "info,troupe_cluster=debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (name, value) in options.env {
            command.env(name, value);
        }
        if let Some(token) = options.token {
            command.env("TROUPE_API_TOKEN", token);
        }
        let mut child = command.spawn().expect("troupe starts");
        let url = listening_url(&mut child);
        let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
        Node {
            id: options.id.to_string(),
            api: TestServer::alias(addr),
            child,
            log,
            token: options.token.map(str::to_string),
        }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api
            .call_with_token(method, path, body, self.token.as_deref())
    }

    /// POSTs and expects success.
    pub fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.call("POST", path, Some(body));
        assert!(
            status == 200 || status == 204,
            "{} {path}: {status} {value}",
            self.id
        );
        value
    }

    pub fn cluster_view(&self) -> Value {
        self.call("GET", "/v1/cluster", None).1
    }

    /// How many members this node sees in the cluster.
    pub fn members(&self) -> usize {
        self.cluster_view()["members"]
            .as_array()
            .map_or(0, Vec::len)
    }

    /// A plain transport on this node sending to a fresh sink, and a
    /// consumer of `producer` on it made through `via`'s API (any node
    /// answers for any object). Returns the sink and the consumer.
    pub fn consume_to_sink(
        &self,
        via: &Node,
        router: &str,
        producer: &str,
        caps: &Value,
    ) -> (Sink, Value) {
        let sink = Sink::open("127.0.0.1");
        let transport = self.post(&format!("/v1/routers/{router}/plain-transports"), json!({}));
        let transport = transport["id"].as_str().unwrap().to_string();
        assert!(
            transport.starts_with(&format!("{}~", self.id)),
            "{transport} lives on {}",
            self.id
        );
        via.post(
            &format!("/v1/transports/{transport}/connect"),
            json!({"ip": "127.0.0.1", "port": sink.port}),
        );
        let consumer = via.post(
            &format!("/v1/transports/{transport}/consumers"),
            json!({"producerId": producer, "rtpCapabilities": caps}),
        );
        (sink, consumer)
    }

    /// SIGTERM, then waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `check` holds, or fails with `what` after `limit`.
pub fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Notifications from a node's `/v1/events`, collected in the background.
pub struct EventLog {
    seen: Arc<Mutex<Vec<Value>>>,
}

impl EventLog {
    pub fn subscribe(node: &Node) -> EventLog {
        Self::subscribe_to(node.api.addr, node.token.clone())
    }

    /// Every notification of the server at `addr`, from now on.
    pub fn subscribe_to(addr: SocketAddr, token: Option<String>) -> EventLog {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let url = format!("ws://{addr}/v1/events");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = seen.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use futures_util::StreamExt;
                use tokio_tungstenite::tungstenite::client::IntoClientRequest;
                let mut request = url.into_client_request().unwrap();
                if let Some(token) = token {
                    request
                        .headers_mut()
                        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
                }
                let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
                ready_tx.send(()).unwrap();
                while let Some(Ok(message)) = socket.next().await {
                    if let Ok(text) = message.to_text() {
                        if let Ok(value) = serde_json::from_str::<Value>(text) {
                            sink.lock().unwrap().push(value);
                        }
                    }
                }
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the events socket opens");
        EventLog { seen }
    }

    /// Whether `event` was seen with `data[key] == value`.
    pub fn saw_data(&self, event: &str, key: &str, value: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .any(|n| n["event"] == event && n["data"][key] == value)
    }

    /// The notifications `event` for object `target_id`, oldest first.
    pub fn data_of(&self, event: &str, target_id: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n["event"] == event && n["targetId"] == target_id)
            .map(|n| n["data"].clone())
            .collect()
    }

    /// Whether `event` was seen for object `target_id`.
    pub fn saw(&self, event: &str, target_id: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .any(|n| n["event"] == event && n["targetId"] == target_id)
    }
}

/// A UDP socket a plain consumer sends to, read in the background.
pub struct Sink {
    pub port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Sink {
    pub fn open(ip: &str) -> Sink {
        let socket = UdpSocket::bind((ip, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let into = received.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 2048];
            loop {
                if let Ok(n) = socket.recv(&mut buffer) {
                    if !troupe_transports::packet_kind::is_rtcp(&buffer[..n]) {
                        let mut list = into.lock().unwrap();
                        if list.len() < 100_000 {
                            list.push(buffer[..n].to_vec());
                        }
                    }
                }
                if Arc::strong_count(&into) == 1 {
                    return;
                }
            }
        });
        Sink { port, received }
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn packets(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}

/// Stops a sending thread when dropped.
pub struct Running(pub Arc<std::sync::atomic::AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Opus packets to `to`, numbered from 0, `per_second` of them each second,
/// until the returned guard is dropped.
pub fn send_opus(to: SocketAddr, payload_type: u8, ssrc: u32, per_second: u64) -> Running {
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = running.clone();
    std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let gap = Duration::from_micros(1_000_000 / per_second.max(1));
        let mut sequence: u16 = 0;
        while flag.load(std::sync::atomic::Ordering::Relaxed) {
            let packet = super::webrtc_client::opus_packet(payload_type, ssrc, sequence, "0");
            let _ = socket.send_to(&packet, to);
            sequence = sequence.wrapping_add(1);
            std::thread::sleep(gap);
        }
    });
    Running(running)
}
