//! The node-to-node control link: one TCP connection per (caller, callee)
//! pair, frames of a big-endian u32 length and an rmp-serde body, mutual
//! proof of the cluster secret (HMAC-SHA256 over the peer's nonce) before
//! any request. Every request has a deadline; a broken connection fails
//! its pending requests at once and the next request dials again.
//!
//! Why not `ractor_cluster`: enabling ractor's `cluster` feature removes
//! its blanket `Message` impl for every crate in the build (features
//! unify), so every message type of the media actor tree — many carry
//! sockets and shared packet-path state that can never leave the process —
//! would need a remote-serialisation impl; and it offers neither per-request
//! deadlines nor reconnection. Node-to-node traffic here is a handful of
//! typed requests (`protocol`), which this link carries with both.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ring::hmac;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{ControlRequest, ControlResponse, Frame, RemoteError};

/// Larger frames are refused: no request needs more.
pub const MAX_FRAME: usize = 1 << 20;
/// Frames queued toward one peer before callers are told the link is full.
const SEND_QUEUE: usize = 256;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LinkError {
    #[error("node {0} is not a member of the cluster")]
    UnknownNode(String),
    #[error("cannot reach node {node}: {reason}")]
    Unreachable { node: String, reason: String },
    #[error("node {node} did not answer {request} within {millis} ms")]
    Timeout {
        node: String,
        request: &'static str,
        millis: u128,
    },
    #[error("{}", .0.message)]
    Remote(RemoteError),
}

pub async fn write_frame<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    frame: &Frame,
) -> std::io::Result<()> {
    let body = rmp_serde::to_vec_named(frame)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    if body.len() > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {} bytes exceeds {MAX_FRAME}", body.len()),
        ));
    }
    writer.write_all(&(body.len() as u32).to_be_bytes()).await?;
    writer.write_all(&body).await?;
    writer.flush().await
}

pub async fn read_frame<R: AsyncReadExt + Unpin>(reader: &mut R) -> std::io::Result<Frame> {
    let mut length = [0u8; 4];
    reader.read_exact(&mut length).await?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {length} bytes exceeds {MAX_FRAME}"),
        ));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    rmp_serde::from_slice(&body)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Proof that the sender knows the cluster secret, bound to the peer's
/// nonce and the sender's id.
fn proof(secret: &[u8], nonce: &[u8], node_id: &str) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(nonce);
    context.update(node_id.as_bytes());
    context.sign().as_ref().to_vec()
}

fn proof_ok(secret: &[u8], nonce: &[u8], node_id: &str, given: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut message = nonce.to_vec();
    message.extend_from_slice(node_id.as_bytes());
    hmac::verify(&key, &message, given).is_ok()
}

fn nonce() -> Vec<u8> {
    use rand::RngCore;
    let mut nonce = vec![0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

fn protocol_error(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, message.to_string())
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<ControlResponse, RemoteError>>>>>;

/// Takes a request's waiter out of the pending map when the request ends,
/// however it ends.
struct Waiting {
    pending: Pending,
    id: u64,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        lock(&self.pending).remove(&self.id);
    }
}

/// An open, authenticated connection to one peer.
struct Connection {
    frames: mpsc::Sender<Frame>,
    pending: Pending,
    alive: Arc<AtomicBool>,
}

impl Connection {
    async fn dial(
        address: SocketAddr,
        this_node: &str,
        peer: &str,
        fingerprint: &str,
        secret: &[u8],
    ) -> std::io::Result<Connection> {
        let tcp = TcpStream::connect(address).await?;
        tcp.set_nodelay(true)?;
        let connector = crate::link_tls::connector(fingerprint).map_err(|e| protocol_error(&e))?;
        let mut stream = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            connector.connect(crate::link_tls::server_name(), tcp),
        )
        .await
        .map_err(|_| protocol_error("TLS handshake timed out"))??;
        let Frame::Challenge {
            node_id,
            nonce: server_nonce,
        } = read_frame(&mut stream).await?
        else {
            return Err(protocol_error("expected a challenge"));
        };
        if node_id != peer {
            return Err(protocol_error(&format!(
                "{address} is node {node_id}, not {peer}"
            )));
        }
        let client_nonce = nonce();
        write_frame(
            &mut stream,
            &Frame::Hello {
                node_id: this_node.to_string(),
                proof: proof(secret, &server_nonce, this_node),
                nonce: client_nonce.clone(),
            },
        )
        .await?;
        let Frame::Welcome {
            proof: server_proof,
        } = read_frame(&mut stream).await?
        else {
            return Err(protocol_error(
                "the peer refused our proof of the cluster secret",
            ));
        };
        if !proof_ok(secret, &client_nonce, peer, &server_proof) {
            return Err(protocol_error("the peer does not know the cluster secret"));
        }
        let (mut reader, mut writer) = tokio::io::split(stream);
        let (frames, mut outgoing) = mpsc::channel::<Frame>(SEND_QUEUE);
        let pending: Pending = Default::default();
        let alive = Arc::new(AtomicBool::new(true));
        tokio::spawn(async move {
            while let Some(frame) = outgoing.recv().await {
                if write_frame(&mut writer, &frame).await.is_err() {
                    break;
                }
            }
        });
        let (pending_r, alive_r) = (pending.clone(), alive.clone());
        tokio::spawn(async move {
            while let Ok(frame) = read_frame(&mut reader).await {
                if let Frame::Response { id, result } = frame {
                    let waiter = lock(&pending_r).remove(&id);
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(result);
                    }
                }
            }
            alive_r.store(false, Ordering::Relaxed);
            // Dropping the waiters fails their requests at once.
            lock(&pending_r).clear();
        });
        Ok(Connection {
            frames,
            pending,
            alive,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Outgoing requests to the other nodes.
pub struct Links {
    this_node: String,
    secret: Vec<u8>,
    next_id: AtomicU64,
    connections: tokio::sync::Mutex<HashMap<String, Arc<Connection>>>,
}

impl Links {
    pub fn new(this_node: &str, secret: &[u8]) -> Self {
        Links {
            this_node: this_node.to_string(),
            secret: secret.to_vec(),
            next_id: AtomicU64::new(1),
            connections: Default::default(),
        }
    }

    /// Sends a request to `node` at `address` (whose control certificate
    /// has `fingerprint`) and waits for its answer, at most `deadline` in
    /// all (dialling included).
    pub async fn request(
        &self,
        node: &str,
        address: SocketAddr,
        fingerprint: &str,
        body: ControlRequest,
        traceparent: Option<String>,
        deadline: Duration,
    ) -> Result<ControlResponse, LinkError> {
        let name = body.name();
        let attempt = async {
            let connection = self.connection(node, address, fingerprint).await?;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (answer, answered) = oneshot::channel();
            lock(&connection.pending).insert(id, answer);
            // A request that times out (this future dropped) leaves no waiter
            // behind for an answer that may never come.
            let _waiting = Waiting {
                pending: connection.pending.clone(),
                id,
            };
            let frame = Frame::Request {
                id,
                traceparent,
                body,
            };
            if connection.frames.try_send(frame).is_err() {
                return Err(LinkError::Unreachable {
                    node: node.to_string(),
                    reason: "the link's send queue is full or closed".into(),
                });
            }
            match answered.await {
                Ok(result) => result.map_err(LinkError::Remote),
                Err(_) => Err(LinkError::Unreachable {
                    node: node.to_string(),
                    reason: "the connection closed before the answer".into(),
                }),
            }
        };
        match tokio::time::timeout(deadline, attempt).await {
            Ok(result) => result,
            Err(_) => Err(LinkError::Timeout {
                node: node.to_string(),
                request: name,
                millis: deadline.as_millis(),
            }),
        }
    }

    async fn connection(
        &self,
        node: &str,
        address: SocketAddr,
        fingerprint: &str,
    ) -> Result<Arc<Connection>, LinkError> {
        let mut connections = self.connections.lock().await;
        if let Some(c) = connections.get(node) {
            if c.alive.load(Ordering::Relaxed) {
                return Ok(c.clone());
            }
        }
        let connection =
            Connection::dial(address, &self.this_node, node, fingerprint, &self.secret)
                .await
                .map_err(|e| LinkError::Unreachable {
                    node: node.to_string(),
                    reason: e.to_string(),
                })?;
        let connection = Arc::new(connection);
        connections.insert(node.to_string(), connection.clone());
        Ok(connection)
    }

    /// Forgets the connection to a node that left.
    pub async fn forget(&self, node: &str) {
        self.connections.lock().await.remove(node);
    }
}

pub type Handler = Arc<
    dyn Fn(
            String,
            ControlRequest,
            Option<String>,
        ) -> Pin<Box<dyn Future<Output = Result<ControlResponse, RemoteError>> + Send>>
        + Send
        + Sync,
>;

/// Accepts links from other nodes and answers their requests with `handler`
/// (called with the caller's node id, the request and its traceparent).
pub fn serve(
    listener: TcpListener,
    this_node: String,
    secret: Vec<u8>,
    identity: Arc<crate::link_tls::ControlIdentity>,
    handler: Handler,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, from)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let (this_node, secret, handler) = (this_node.clone(), secret.clone(), handler.clone());
            let acceptor = identity.acceptor();
            tokio::spawn(async move {
                let accepted = async {
                    stream.set_nodelay(true)?;
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                        .map_err(|_| protocol_error("TLS handshake timed out"))?
                };
                let result = match accepted.await {
                    Ok(tls) => serve_connection(tls, &this_node, &secret, handler).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    tracing::debug!(%from, error = %e, "control link closed");
                }
            });
        }
    })
}

async fn serve_connection<S>(
    mut stream: S,
    this_node: &str,
    secret: &[u8],
    handler: Handler,
) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let server_nonce = nonce();
    let handshake = async {
        write_frame(
            &mut stream,
            &Frame::Challenge {
                node_id: this_node.to_string(),
                nonce: server_nonce.clone(),
            },
        )
        .await?;
        let Frame::Hello {
            node_id,
            proof: given,
            nonce: client_nonce,
        } = read_frame(&mut stream).await?
        else {
            return Err(protocol_error("expected hello"));
        };
        if !proof_ok(secret, &server_nonce, &node_id, &given) {
            tracing::warn!(peer = %node_id, "control link refused: wrong cluster secret");
            return Err(protocol_error("wrong cluster secret"));
        }
        write_frame(
            &mut stream,
            &Frame::Welcome {
                proof: proof(secret, &client_nonce, this_node),
            },
        )
        .await?;
        Ok(node_id)
    };
    let peer = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| protocol_error("handshake timed out"))??;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (answers, mut outgoing) = mpsc::channel::<Frame>(SEND_QUEUE);
    tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if write_frame(&mut writer, &frame).await.is_err() {
                break;
            }
        }
    });
    // Requests of one peer handled at once; more wait, unread, in the socket.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(SEND_QUEUE));
    loop {
        let frame = read_frame(&mut reader).await?;
        let Frame::Request {
            id,
            traceparent,
            body,
        } = frame
        else {
            continue;
        };
        let (handler, answers, peer) = (handler.clone(), answers.clone(), peer.clone());
        // The semaphore is never closed: this cannot fail.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return Ok(());
        };
        tokio::spawn(async move {
            let _permit = permit;
            let result = handler(peer, body, traceparent).await;
            let _ = answers.send(Frame::Response { id, result }).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn codecs(
        links: &Links,
        address: SocketAddr,
        router_id: &str,
        deadline: Duration,
    ) -> Result<ControlResponse, LinkError> {
        let request = ControlRequest::RouterCodecs {
            router_id: router_id.into(),
        };
        links
            .request(
                "b",
                address,
                &identity().fingerprint,
                request,
                None,
                deadline,
            )
            .await
    }

    /// One identity for "b" in every test, as a node keeps its own.
    fn identity() -> Arc<crate::link_tls::ControlIdentity> {
        static IDENTITY: std::sync::OnceLock<Arc<crate::link_tls::ControlIdentity>> =
            std::sync::OnceLock::new();
        IDENTITY
            .get_or_init(|| Arc::new(crate::link_tls::ControlIdentity::generate().unwrap()))
            .clone()
    }

    fn echo_handler() -> Handler {
        Arc::new(|from, request, _| {
            Box::pin(async move {
                match request {
                    ControlRequest::RouterCodecs { router_id } if router_id == "slow" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        Ok(ControlResponse::Done)
                    }
                    ControlRequest::RouterCodecs { router_id } => Ok(
                        ControlResponse::RouterCodecs(Some(format!("{from}:{router_id}"))),
                    ),
                    _ => Err(RemoteError {
                        status: 404,
                        code: "not_found".into(),
                        message: "nothing here".into(),
                    }),
                }
            })
        })
    }

    async fn server(secret: &[u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        serve(
            listener,
            "b".into(),
            secret.to_vec(),
            identity(),
            echo_handler(),
        );
        address
    }

    #[tokio::test]
    async fn requests_are_answered_with_the_callers_identity() {
        let address = server(b"s3cret").await;
        let links = Links::new("a", b"s3cret");
        let answer = codecs(&links, address, "r", Duration::from_secs(2)).await;
        assert!(matches!(answer, Ok(ControlResponse::RouterCodecs(Some(s))) if s == "a:r"));
        let refused = links
            .request(
                "b",
                address,
                &identity().fingerprint,
                ControlRequest::CloseRouter {
                    router_id: "r".into(),
                },
                None,
                Duration::from_secs(2),
            )
            .await;
        assert!(matches!(refused, Err(LinkError::Remote(e)) if e.status == 404));
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_both_ways() {
        let address = server(b"right").await;
        let links = Links::new("a", b"wrong");
        let answer = codecs(&links, address, "r", Duration::from_secs(2)).await;
        assert!(
            matches!(answer, Err(LinkError::Unreachable { .. })),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn a_slow_peer_times_out_with_a_clear_error() {
        let address = server(b"s").await;
        let links = Links::new("a", b"s");
        let answer = codecs(&links, address, "slow", Duration::from_millis(200)).await;
        assert_eq!(
            answer.unwrap_err(),
            LinkError::Timeout {
                node: "b".into(),
                request: "router_codecs",
                millis: 200
            }
        );
        let connections = links.connections.lock().await;
        let pending = lock(&connections["b"].pending).len();
        assert_eq!(pending, 0, "a timed-out request leaves no waiter behind");
    }

    #[tokio::test]
    async fn oversized_and_garbage_frames_are_errors_not_panics() {
        let mut huge: &[u8] = &((MAX_FRAME as u32) + 1).to_be_bytes();
        assert!(read_frame(&mut huge).await.is_err());
        let mut garbage: &[u8] = &[0, 0, 0, 3, 0xc1, 0xc1, 0xc1];
        assert!(read_frame(&mut garbage).await.is_err());
        let mut short: &[u8] = &[0, 0, 0, 9, 1];
        assert!(read_frame(&mut short).await.is_err());
    }

    #[tokio::test]
    async fn a_restarted_peer_is_dialled_again() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let first = serve(
            listener,
            "b".into(),
            b"s".to_vec(),
            identity(),
            echo_handler(),
        );
        let links = Links::new("a", b"s");
        let ask = || codecs(&links, address, "r", Duration::from_secs(2));
        assert!(ask().await.is_ok());
        first.abort();
        // Closing the listener's task leaves the accepted connection's task:
        // forget it explicitly, as a membership change would.
        links.forget("b").await;
        let _ = first.await;
        let listener = TcpListener::bind(address).await.unwrap();
        serve(
            listener,
            "b".into(),
            b"s".to_vec(),
            identity(),
            echo_handler(),
        );
        assert!(ask().await.is_ok());
    }

    #[tokio::test]
    async fn a_peer_with_another_certificate_is_refused() {
        let address = server(b"s").await;
        let links = Links::new("a", b"s");
        let impostor = crate::link_tls::ControlIdentity::generate().unwrap();
        let answer = links
            .request(
                "b",
                address,
                &impostor.fingerprint,
                ControlRequest::RouterCodecs {
                    router_id: "r".into(),
                },
                None,
                Duration::from_secs(2),
            )
            .await;
        assert!(
            matches!(&answer, Err(LinkError::Unreachable { reason, .. }) if reason.contains("certificate")),
            "{answer:?}"
        );
    }
}
