//! One UDP port shared by the plain transports that ask for it
//! (`sharedPort`), as mediasoup's WebRtcServer shares one for WebRTC. With
//! a port per transport, the copies of a fan-out leave from as many
//! sockets and each needs its own system call; on one port they leave in
//! `sendmmsg` batches (`outgoing_batch`). The peer of each transport is
//! known by the address given in `connect`, which is how what arrives is
//! told apart — so no comedia, and RTCP on the RTP port.
//! The port is a `PortGroup`: a socket per sending thread.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock, Weak};

use crate::media::plain_endpoint::PlainEndpoint;
use crate::media::port_allocator::{AllocatedPort, PortAllocator};
use crate::media::port_group::{first_of_group, PortGroup, WatchedSocket};
use crate::metrics::ActorMetrics;

const MAX_DATAGRAM: usize = 2048;

pub struct SharedPlainPort {
    group: PortGroup,
    by_remote: RwLock<HashMap<SocketAddr, Weak<PlainEndpoint>>>,
    metrics: ActorMetrics,
    _reservation: AllocatedPort,
}

impl SharedPlainPort {
    /// Binds a port of the range on `ip` as a port group; must be called
    /// inside the runtime, which then reads every socket.
    fn open(
        ip: IpAddr,
        allocator: &Arc<PortAllocator>,
        metrics: ActorMetrics,
    ) -> io::Result<Arc<Self>> {
        let reservation = allocator.allocate_with(ip, first_of_group)?;
        let group = PortGroup::around(reservation.socket.try_clone()?, &metrics)?;
        let shared = Arc::new(SharedPlainPort {
            group,
            by_remote: RwLock::new(HashMap::new()),
            metrics,
            _reservation: reservation,
        });
        for socket in shared.group.receivers() {
            tokio::spawn(Self::receive(Arc::downgrade(&shared), socket.clone()));
        }
        Ok(shared)
    }

    async fn receive(port: Weak<SharedPlainPort>, socket: Arc<WatchedSocket>) {
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

    pub fn port(&self) -> u16 {
        self.group.port
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

    /// Sends from this thread's socket, in its batch inside a fan-out.
    pub fn send(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.group.send(datagram, destination)
    }
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
