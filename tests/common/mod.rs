//! A real Troupe server on an OS-assigned loopback port, in its own runtime
//! thread, for tests that speak HTTP to it like any client.

#![allow(dead_code)]

pub mod browser;
pub mod cluster;
pub mod data_client;
pub mod footprint;
pub mod media_tools;
pub mod netns;
pub mod webrtc_client;

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde_json::Value;
use troupe_config::{Config, Layer};

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

pub fn config(pairs: &[(&str, &str)]) -> Config {
    let mut layer = Layer::default();
    layer.set_text("http_listen", "127.0.0.1:0").unwrap();
    layer.set_text("webrtc_port", "0").unwrap();
    for (k, v) in pairs {
        layer.set_text(k, *v).unwrap();
    }
    Config::from_layer(&layer).unwrap()
}

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        Self::start_with(config, |_| {})
    }

    /// Starts a server and runs `setup` on it before returning.
    pub fn start_with(
        config: Config,
        setup: impl FnOnce(&troupe::RunningServer) + Send + 'static,
    ) -> TestServer {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = troupe::start(config).await.expect("server starts");
                setup(&server);
                addr_tx.send(server.http_addr()).unwrap();
                let _ = stop_rx.await;
                server.stop().await;
            });
        });
        let addr = addr_rx.recv().expect("server reports its address");
        TestServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Another handle on a running server's address; owns nothing.
    pub fn alias(addr: SocketAddr) -> TestServer {
        TestServer {
            addr,
            stop: None,
            thread: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with_token(method, path, body, None)
    }

    pub fn call_with_token(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = self.url(path);
        let auth = token.map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => {
                let mut r = agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("DELETE", _) => {
                let mut r = agent.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("POST", body) => {
                let mut r = agent.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                match body {
                    Some(b) => r.send(b.to_string()),
                    None => r.send_empty(),
                }
            }
            (other, _) => panic!("unsupported method {other}"),
        }
        .expect("the server answers");
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap_or_default();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// A metric without labels, 0 while it has no value.
    pub fn metric(&self, name: &str) -> u64 {
        self.series(name)
    }

    /// `troupe_packets_dropped_total` for one reason.
    pub fn dropped(&self, reason: &str) -> u64 {
        self.series(&format!(
            "troupe_packets_dropped_total{{reason=\"{reason}\"}}"
        ))
    }

    /// One series on `/metrics` (name and labels as written there), 0
    /// while it has no value.
    fn series(&self, series: &str) -> u64 {
        let (_, text) = self.text("/metrics");
        let prefix = format!("{series} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0)
    }

    pub fn text(&self, path: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent.get(&self.url(path)).call().unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Asserts an error response: status, code, and (for 400s) the field named.
pub fn assert_error(response: &(u16, Value), status: u16, code: &str) {
    assert_eq!(response.0, status, "{:?}", response.1);
    assert_eq!(response.1["error"]["code"], code, "{:?}", response.1);
    assert!(response.1["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

/// The URL a `troupe` process prints on its first line of stdout (the port
/// may have been 0).
pub fn listening_url(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .strip_prefix("troupe listening on ")
        .expect(&line)
        .to_string()
}
