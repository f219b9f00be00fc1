//! A socket as a fan-out's batch sends on it (`outgoing_batch`): its
//! descriptor, a send outside any batch, and the metric a copy the kernel
//! refused is counted in.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use crate::media::media_socket::MediaSocket;
use crate::media::outgoing_batch::BatchSocket;
use crate::metrics::ActorMetrics;

/// What a metered socket sends with: a watched `MediaSocket` (a port
/// group's first, or a plain transport's own) or a bare send-only
/// `UdpSocket` (a port group's others).
pub trait DatagramSocket: AsRawFd + Send + Sync {
    fn send_datagram(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize>;
}

impl DatagramSocket for MediaSocket {
    fn send_datagram(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.send_to(datagram, destination)
    }
}

impl DatagramSocket for Arc<MediaSocket> {
    fn send_datagram(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.send_to(datagram, destination)
    }
}

impl DatagramSocket for UdpSocket {
    fn send_datagram(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.send_to(datagram, destination)
    }
}

/// A socket with the metrics its failed sends count in, as a fan-out's
/// batch sends on it.
pub struct MeteredSocket<S> {
    /// The socket's descriptor, next to the reference counts a batch
    /// updates: reading it through `socket` was one more cold line a copy.
    fd: RawFd,
    pub socket: S,
    metrics: ActorMetrics,
}

impl<S: AsRawFd> MeteredSocket<S> {
    pub fn new(socket: S, metrics: ActorMetrics) -> Self {
        MeteredSocket {
            fd: socket.as_raw_fd(),
            socket,
            metrics,
        }
    }
}

impl<S: DatagramSocket> BatchSocket for MeteredSocket<S> {
    fn fd(&self) -> RawFd {
        self.fd
    }

    fn send_to(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.socket.send_datagram(datagram, destination)
    }

    fn dropped(&self, copies: usize) {
        for _ in 0..copies {
            self.metrics.drop_packet("send_failed");
        }
    }
}
