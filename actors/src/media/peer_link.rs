//! A plain transport's send-only sibling socket (`port_group`), connected
//! to the transport's peer while the peer sends nothing to the RTP port,
//! as a recorder (ffmpeg, GStreamer) consuming a room does. A connected
//! UDP socket keeps its route, and its copies go without an address: the
//! kernel neither looks up a route nor copies an address per copy (at 500
//! consumers on ports of their own, 6 % of Troupe's CPU; measured in
//! docs/benchmarks.md).
//!
//! Its price: the kernel hands a connected socket whatever its peer sends
//! to the port, and nobody watches the sibling (watching it costs an epoll
//! wake-up per sent copy, measured at 7 %, more than the lookup saves). So
//! the link is released as soon as the peer may send: when a producer is
//! made on the transport, and when a look at the sibling, once a second,
//! finds anything there. Disconnecting would not do: once a socket of a
//! port's group has been connected, the kernel no longer steers the group
//! (the newest socket gets everything, measured). So the sibling's
//! descriptor is pointed at the watched socket instead (dup2, atomic for
//! the threads sending on it), the sibling closed, and what it caught is
//! handed to the transport as if the watched socket had read it. The
//! transport then sends from the watched socket, with addresses, paying
//! the wake-up: what a peer that talks back costs either way.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a linked sibling is looked at for what the peer sent.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Datagrams handed on from a released sibling; the rest of its queue is
/// dropped with it (at most a second of what a peer sends).
const CAUGHT_AT_MOST: usize = 1024;

/// The sibling and whether copies go to its connected peer; the flag lives
/// in the transport's first cache line, read on every copy.
pub struct PeerLink<'a> {
    pub sibling: &'a UdpSocket,
    pub to_peer: &'a AtomicBool,
}

impl PeerLink<'_> {
    /// Connects the sibling to `peer`; copies then go without an address.
    pub fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        self.sibling.connect(peer)?;
        self.to_peer.store(true, Ordering::Release);
        Ok(())
    }

    pub fn is_linked(&self) -> bool {
        self.to_peer.load(Ordering::Acquire)
    }

    /// Whether the peer has sent anything to the sibling (which does not
    /// block: it is made non-blocking).
    pub fn has_caught(&self) -> bool {
        // An error is an empty queue or an ICMP report (the peer is not
        // listening), not data.
        self.sibling.peek(&mut [0u8; 1]).is_ok()
    }

    /// Copies carry their address again and leave by `watched` (the
    /// sibling's descriptor now names it), the sibling is closed (so the
    /// peer's datagrams reach `watched` from now on), and what it caught
    /// goes to `caught`. A datagram arriving between the last read and the
    /// close is lost: a window of microseconds, once per transport.
    pub fn release(&self, watched: &impl AsRawFd, mut caught: impl FnMut(&[u8], SocketAddr)) {
        if !self.to_peer.swap(false, Ordering::AcqRel) {
            return;
        }
        let sibling = match self.sibling.try_clone() {
            Ok(sibling) => sibling,
            Err(e) => {
                tracing::warn!("a plain transport stays linked to its peer: {e}");
                self.to_peer.store(true, Ordering::Release);
                return;
            }
        };
        // SAFETY: both descriptors are open; dup2 replaces what the
        // sibling's descriptor names, atomically for concurrent sends.
        if unsafe { libc::dup2(watched.as_raw_fd(), self.sibling.as_raw_fd()) } < 0 {
            tracing::warn!(
                "a plain transport stays linked to its peer: {}",
                io::Error::last_os_error()
            );
            self.to_peer.store(true, Ordering::Release);
            return;
        }
        let mut buffer = vec![0u8; 65_536];
        for _ in 0..CAUGHT_AT_MOST {
            match sibling.recv_from(&mut buffer) {
                Ok((length, from)) => caught(&buffer[..length], from),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // An ICMP report consumed; datagrams may follow it.
                Err(_) => continue,
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A socket bound to a port named at bind, as Troupe's are: one bound
    /// to port 0 loses its port when disconnected.
    pub(crate) fn bound_to_a_port_of_its_own() -> UdpSocket {
        let free = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        UdpSocket::bind(free).unwrap()
    }

    /// Dissolves a UDP socket's association with its peer (connect(2) to an
    /// `AF_UNSPEC` address).
    pub(crate) fn disconnect(socket: &UdpSocket) -> io::Result<()> {
        // SAFETY: all-zero is a valid sockaddr; only its family is read.
        let mut unspecified: libc::sockaddr = unsafe { std::mem::zeroed() };
        unspecified.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
        // SAFETY: a valid descriptor and an address of the size given.
        let result = unsafe {
            libc::connect(
                socket.as_raw_fd(),
                &unspecified,
                std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn linked() -> (UdpSocket, UdpSocket, AtomicBool) {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sibling = bound_to_a_port_of_its_own();
        sibling.set_nonblocking(true).unwrap();
        let to_peer = AtomicBool::new(false);
        PeerLink {
            sibling: &sibling,
            to_peer: &to_peer,
        }
        .connect(peer.local_addr().unwrap())
        .unwrap();
        (peer, sibling, to_peer)
    }

    #[test]
    fn what_the_peer_sent_is_handed_on_at_release_and_the_link_dissolves() {
        let (peer, sibling, to_peer) = linked();
        let link = PeerLink {
            sibling: &sibling,
            to_peer: &to_peer,
        };
        let local = sibling.local_addr().unwrap();
        assert!(link.is_linked());
        assert!(!link.has_caught());
        sibling.send(b"to the peer, without an address").unwrap();
        let mut buffer = [0u8; 64];
        assert_eq!(peer.recv(&mut buffer).unwrap(), 31);

        peer.send_to(b"rtcp", sibling.local_addr().unwrap())
            .unwrap();
        peer.send_to(b"rtp", sibling.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(link.has_caught());
        assert!(link.has_caught(), "looking takes nothing away");
        let watched = bound_to_a_port_of_its_own();
        let mut caught = Vec::new();
        link.release(&watched, |datagram, from| {
            caught.push((datagram.to_vec(), from))
        });
        let from = peer.local_addr().unwrap();
        assert_eq!(
            caught,
            vec![(b"rtcp".to_vec(), from), (b"rtp".to_vec(), from)]
        );
        assert!(!link.is_linked());
        assert_ne!(local, watched.local_addr().unwrap());
        assert_eq!(
            sibling.local_addr().unwrap(),
            watched.local_addr().unwrap(),
            "the sibling's descriptor names the watched socket"
        );
        assert_eq!(
            sibling.send(b"no peer now").unwrap_err().raw_os_error(),
            Some(libc::EDESTADDRREQ)
        );
        link.release(&watched, |_, _| panic!("released once"));
    }

    #[test]
    fn a_peer_that_is_not_listening_is_no_datagram() {
        let (peer, sibling, to_peer) = linked();
        drop(peer);
        // The ICMP port-unreachable sets an error on the socket.
        sibling.send(b"to nobody").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let link = PeerLink {
            sibling: &sibling,
            to_peer: &to_peer,
        };
        assert!(!link.has_caught());
    }
}
