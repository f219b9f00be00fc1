//! One UDP port bound several times (SO_REUSEPORT): a socket per sending
//! thread, so that threads fanning out at once each batch their copies on
//! a socket of their own (`outgoing_batch`) instead of sharing one send
//! path. What arrives is steered to the first socket, the only one the
//! runtime watches: a socket in the runtime's epoll set runs its epoll
//! callback for every datagram it sends (the write-space wake-up, under
//! the epoll lock, though nobody waits to write), and the sending sockets
//! are spared that. Where the kernel refuses the steering, every socket is
//! read instead (the kernel then spreads peers over them, each peer always
//! to the same socket, in order).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crate::media::media_socket::MediaSocket;
use crate::media::metered_socket::MeteredSocket;
use crate::media::outgoing_batch::{self, BatchSocket};
use crate::metrics::ActorMetrics;

/// Linux's option for a classic BPF program choosing a group's socket.
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

/// A socket of the group the runtime reads.
pub type WatchedSocket = MeteredSocket<MediaSocket>;

pub struct PortGroup {
    pub port: u16,
    receivers: Vec<Arc<WatchedSocket>>,
    senders: Vec<Arc<dyn BatchSocket>>,
}

/// A UDP socket that other sockets of this process may bind to the same
/// port too.
pub fn reusable_socket(address: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    socket.bind(&address.into())?;
    Ok(socket.into())
}

/// A reusable socket on a port no other socket held a moment before: a
/// plain bind succeeds only on a free port, whereas a reusable one would
/// also join another process's group on it (any process of the same user
/// may, e.g. a second node on this host).
pub fn first_of_group(address: SocketAddr) -> io::Result<UdpSocket> {
    let probe = UdpSocket::bind(address)?;
    let free = probe.local_addr()?;
    drop(probe);
    reusable_socket(free)
}

/// Makes the group of `socket` hand every datagram to its first socket.
fn steer_to_first(socket: &UdpSocket) -> io::Result<()> {
    // One instruction: return 0, the index of the first socket bound.
    let mut program = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let filter = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: a valid descriptor and a filter program that outlives the
    // call, which copies it.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&filter as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A socket that sends from the port of `first` (made by
/// [`reusable_socket`] or [`first_of_group`]) and never receives: all
/// that arrives on the port is steered to `first`. Sending from it spares
/// `first`, which the runtime watches, the epoll callback per datagram.
pub fn send_only_sibling(first: &UdpSocket) -> io::Result<UdpSocket> {
    // Steered before the sibling joins, so nothing arrives on it between.
    steer_to_first(first)?;
    let sibling = reusable_socket(first.local_addr()?)?;
    sibling.set_nonblocking(true)?;
    Ok(sibling)
}

impl PortGroup {
    /// Binds the rest of the group beside `first` (made by
    /// [`reusable_socket`] or [`first_of_group`]); must be called inside
    /// the runtime.
    pub fn around(first: UdpSocket, metrics: &ActorMetrics) -> io::Result<PortGroup> {
        let address = first.local_addr()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let others = (0..(2 * cores).clamp(2, 16))
            .map(|_| reusable_socket(address))
            .collect::<io::Result<Vec<_>>>()?;
        let steered = steer_to_first(&first).is_ok();
        let watched = |socket: UdpSocket| -> io::Result<Arc<WatchedSocket>> {
            Ok(Arc::new(MeteredSocket::new(
                MediaSocket::new(socket)?,
                metrics.clone(),
            )))
        };
        let (receivers, senders) = if steered {
            let mut senders: Vec<Arc<dyn BatchSocket>> = Vec::new();
            for socket in others {
                socket.set_nonblocking(true)?;
                senders.push(Arc::new(MeteredSocket::new(socket, metrics.clone())));
            }
            (vec![watched(first)?], senders)
        } else {
            tracing::debug!("the kernel refused to steer a port group: reading every socket");
            let receivers = std::iter::once(first)
                .chain(others)
                .map(watched)
                .collect::<io::Result<Vec<_>>>()?;
            let senders = receivers
                .iter()
                .map(|r| r.clone() as Arc<dyn BatchSocket>)
                .collect();
            (receivers, senders)
        };
        Ok(PortGroup {
            port: address.port(),
            receivers,
            senders,
        })
    }

    /// The sockets to read.
    pub fn receivers(&self) -> &[Arc<WatchedSocket>] {
        &self.receivers
    }

    /// Sends from this thread's socket: gathered into the thread's batch
    /// inside a fan-out, at once otherwise. Never waits for buffer space.
    pub fn send(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        let socket = &self.senders[thread_slot() % self.senders.len()];
        if outgoing_batch::gather(socket, datagram, destination, false) {
            return Ok(datagram.len());
        }
        socket.send_to(datagram, destination)
    }
}

/// A number per thread, spreading threads over a group's sockets.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Relaxed);
    }
    SLOT.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_send_only_sibling_sends_from_the_port_and_what_arrives_goes_to_the_first() {
        let first = first_of_group("127.0.0.1:0".parse().unwrap()).unwrap();
        let sibling = send_only_sibling(&first).unwrap();
        let port = first.local_addr().unwrap().port();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        sibling.send_to(b"out", peer.local_addr().unwrap()).unwrap();
        let mut buffer = [0u8; 16];
        let (_, from) = peer.recv_from(&mut buffer).unwrap();
        assert_eq!(from.port(), port);
        // Peers on many ports: the kernel's hash alone would give the
        // sibling about half.
        for _ in 0..16 {
            let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.send_to(b"in", ("127.0.0.1", port)).unwrap();
        }
        first
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        for _ in 0..16 {
            first
                .recv_from(&mut buffer)
                .expect("every datagram to the first");
        }
        sibling.set_nonblocking(true).unwrap();
        assert!(
            sibling.recv_from(&mut buffer).is_err(),
            "none to the sibling"
        );
    }

    #[tokio::test]
    async fn every_socket_sends_from_the_one_port_and_all_that_arrives_is_read() {
        let metrics = ActorMetrics::default();
        let group = PortGroup::around(
            reusable_socket("127.0.0.1:0".parse().unwrap()).unwrap(),
            &metrics,
        )
        .unwrap();
        assert_eq!(group.receivers().len(), 1, "steered to the first socket");
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        for socket in &group.senders {
            socket
                .send_to(b"hello", peer.local_addr().unwrap())
                .unwrap();
            let mut buffer = [0u8; 16];
            let (_, from) = peer.recv_from(&mut buffer).unwrap();
            assert_eq!(from.port(), group.port);
        }
        // Peers on many ports (which the kernel's hash would spread): every
        // datagram reaches the socket read.
        let mut arrived = 0;
        for _ in 0..16 {
            let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.send_to(b"in", ("127.0.0.1", group.port)).unwrap();
        }
        let mut buffer = [0u8; 16];
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while arrived < 16 && std::time::Instant::now() < deadline {
            for socket in group.receivers() {
                let read = tokio::time::timeout(
                    Duration::from_millis(5),
                    socket.socket.recv_from(&mut buffer),
                )
                .await;
                if let Ok(Ok(_)) = read {
                    arrived += 1;
                }
            }
        }
        assert_eq!(arrived, 16);
    }

    #[test]
    fn a_port_another_group_holds_is_not_joined() {
        let held = first_of_group("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = held.local_addr().unwrap().port();
        // A reusable bind alone would join it (same user): the probe refuses.
        assert!(reusable_socket(SocketAddr::from(([127, 0, 0, 1], port))).is_ok());
        let refused = first_of_group(SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(
            refused.map(|_| ()).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
    }
}
