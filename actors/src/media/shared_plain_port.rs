//! One UDP port shared by the plain transports that ask for it
//! (`sharedPort`), as mediasoup's WebRtcServer shares one for WebRTC. With
//! a port per transport, the copies of a fan-out leave from as many
//! sockets and each needs its own system call; on one port they leave in
//! `sendmmsg` batches (`outgoing_batch`). The peer of each transport is
//! known by the address given in `connect`, which is how what arrives is
//! told apart — so no comedia, and RTCP on the RTP port.
//!
//! The port is bound several times with SO_REUSEPORT, a socket per
//! sending thread, so that two threads fanning out at once never share a
//! socket's send path; the kernel spreads what arrives over the sockets by
//! the sender's address, and each socket is read.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, Weak};

use crate::media::media_socket::MediaSocket;
use crate::media::outgoing_batch::{self, BatchSocket};
use crate::media::plain_endpoint::PlainEndpoint;
use crate::media::port_allocator::{AllocatedPort, PortAllocator};
use crate::metrics::ActorMetrics;

const MAX_DATAGRAM: usize = 2048;

/// One of the port's sockets.
struct PortSocket {
    socket: MediaSocket,
    metrics: ActorMetrics,
}

impl BatchSocket for PortSocket {
    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    fn dropped(&self, copies: usize) {
        for _ in 0..copies {
            self.metrics.drop_packet("send_failed");
        }
    }
}

pub struct SharedPlainPort {
    pub port: u16,
    sockets: Vec<Arc<PortSocket>>,
    by_remote: RwLock<HashMap<SocketAddr, Weak<PlainEndpoint>>>,
    metrics: ActorMetrics,
    _reservation: AllocatedPort,
}

/// A socket that others may bind to the same port too.
fn reusable_socket(address: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    socket.bind(&address.into())?;
    Ok(socket.into())
}

impl SharedPlainPort {
    /// Binds a port of the range on `ip`, once per sending thread; must be
    /// called inside the runtime, which then reads every socket.
    fn open(
        ip: IpAddr,
        allocator: &Arc<PortAllocator>,
        metrics: ActorMetrics,
    ) -> io::Result<Arc<Self>> {
        let reservation = allocator.allocate_with(ip, reusable_socket)?;
        let port = reservation.port;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut sockets = vec![Arc::new(PortSocket {
            socket: MediaSocket::new(reservation.socket.try_clone()?)?,
            metrics: metrics.clone(),
        })];
        for _ in 1..(2 * cores).clamp(2, 16) {
            sockets.push(Arc::new(PortSocket {
                socket: MediaSocket::new(reusable_socket(SocketAddr::new(ip, port))?)?,
                metrics: metrics.clone(),
            }));
        }
        let shared = Arc::new(SharedPlainPort {
            port,
            sockets: sockets.clone(),
            by_remote: RwLock::new(HashMap::new()),
            metrics,
            _reservation: reservation,
        });
        for socket in sockets {
            tokio::spawn(Self::receive(Arc::downgrade(&shared), socket));
        }
        Ok(shared)
    }

    async fn receive(port: Weak<SharedPlainPort>, socket: Arc<PortSocket>) {
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        loop {
            let Ok((length, from)) = socket.socket.recv_from(&mut buffer).await else {
                continue;
            };
            let Some(port) = port.upgrade() else {
                break;
            };
            let endpoint = port
                .by_remote
                .read()
                .ok()
                .and_then(|m| m.get(&from).and_then(Weak::upgrade));
            match endpoint {
                Some(endpoint) => endpoint.handle_datagram(&buffer[..length], from, false),
                None => port.metrics.drop_packet("unknown_tuple"),
            }
        }
    }

    /// Makes what `remote` sends go to `endpoint`; false if another live
    /// transport on this port has that peer.
    pub fn register(&self, remote: SocketAddr, endpoint: &Arc<PlainEndpoint>) -> bool {
        let Ok(mut map) = self.by_remote.write() else {
            return false;
        };
        if map.get(&remote).and_then(Weak::upgrade).is_some() {
            return false;
        }
        map.insert(remote, Arc::downgrade(endpoint));
        true
    }

    pub fn unregister(&self, remote: SocketAddr, endpoint: *const PlainEndpoint) {
        if let Ok(mut map) = self.by_remote.write() {
            if map.get(&remote).is_some_and(|w| w.as_ptr() == endpoint) {
                map.remove(&remote);
            }
        }
    }

    /// Sends from this thread's socket: gathered into the thread's batch
    /// inside a fan-out, at once otherwise. Never waits for buffer space.
    pub fn send(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        let socket = &self.sockets[thread_slot() % self.sockets.len()];
        if outgoing_batch::gather(socket, datagram, destination) {
            return Ok(datagram.len());
        }
        socket.socket.send_to(datagram, destination)
    }
}

/// A number per thread, spreading threads over a port's sockets.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Relaxed);
    }
    SLOT.with(|s| *s)
}

/// The node's shared plain ports, one per listen IP, opened on first use
/// and kept for the node's life.
#[derive(Default)]
pub struct SharedPlainPorts {
    ports: Mutex<HashMap<IpAddr, Arc<SharedPlainPort>>>,
}

impl SharedPlainPorts {
    pub fn get_or_open(
        &self,
        ip: IpAddr,
        allocator: &Arc<PortAllocator>,
        metrics: &ActorMetrics,
    ) -> io::Result<Arc<SharedPlainPort>> {
        let mut ports = self
            .ports
            .lock()
            .map_err(|_| io::Error::other("shared port table poisoned"))?;
        if let Some(port) = ports.get(&ip) {
            return Ok(port.clone());
        }
        let port = SharedPlainPort::open(ip, allocator, metrics.clone())?;
        ports.insert(ip, port.clone());
        Ok(port)
    }
}
