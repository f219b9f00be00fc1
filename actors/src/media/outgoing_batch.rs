//! Datagrams of one fan-out, sent together. While a fan-out runs on a
//! thread (a [`Scope`] is open), its copies are gathered per thread and
//! leave [`BATCH`] at a time: a batch on one socket (a port group's) in one
//! `sendmmsg(2)` call, a batch over many sockets (plain consumers on ports
//! of their own) as one io_uring submission of a send per copy. One
//! system call per 64 copies instead of one per copy (the kernel's floor
//! measured here: 3.0 against 3.8 µs per copy at 100 consumers). The
//! arena is one per thread and is reused, so the copies of a fan-out stay
//! in cache; it is flushed when full and when the scope closes, so nothing
//! waits past the fan-out that made it. Where io_uring cannot be set up
//! (an old kernel, a seccomp filter), each run of one socket's copies goes
//! in its own `sendmmsg`.
//!
//! A copy may go to its socket's connected peer: it then carries no
//! address, and the kernel neither reads one nor looks up a route for it
//! (the socket keeps its route; at N=500 on ports of their own the lookup
//! and the address were 6 % of Troupe's time). Should the connection fail
//! the copy (the socket disconnected since, or an earlier copy's ICMP
//! error), it is sent again with its address.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Arc;

/// Messages per `sendmmsg` call, as the floor measures them.
pub const BATCH: usize = 64;
/// Room for a datagram; longer ones are sent on their own.
const SLOT: usize = 1536;

/// What a batched send goes out of: the socket and how failures are
/// counted.
pub trait BatchSocket: Send + Sync {
    fn fd(&self) -> RawFd;
    /// One datagram now, outside any batch.
    fn send_to(&self, datagram: &[u8], destination: SocketAddr) -> std::io::Result<usize>;
    /// Counts copies the kernel refused (buffer full, unreachable).
    fn dropped(&self, copies: usize);
}

struct Batch {
    /// Open scopes on this thread; gathering only while one is open.
    depth: usize,
    /// The sockets of the gathered copies, one entry per run of copies to
    /// the same socket (so at most one per copy).
    sockets: Vec<Arc<dyn BatchSocket>>,
    /// Each copy's socket, an index into `sockets`.
    socket_of: [u8; BATCH],
    /// Each copy's socket's descriptor, read while gathering (next to the
    /// reference count the gathering updates): read at the flush, after
    /// the sends of the copies before it, it was a miss a copy.
    fds: [RawFd; BATCH],
    arena: Box<[u8]>,
    lengths: [usize; BATCH],
    destinations: [libc::sockaddr_storage; BATCH],
    destination_lengths: [libc::socklen_t; BATCH],
    /// Whether copy `i` goes to its socket's connected peer, without its
    /// address.
    to_peer: [bool; BATCH],
    count: usize,
}

impl Batch {
    fn new() -> Self {
        Batch {
            depth: 0,
            sockets: Vec::with_capacity(BATCH),
            socket_of: [0; BATCH],
            fds: [-1; BATCH],
            arena: vec![0; SLOT * BATCH].into_boxed_slice(),
            lengths: [0; BATCH],
            // SAFETY: all-zero is a valid sockaddr_storage.
            destinations: unsafe { std::mem::zeroed() },
            destination_lengths: [0; BATCH],
            to_peer: [false; BATCH],
            count: 0,
        }
    }

    fn flush(&mut self) {
        if self.count == 0 {
            self.sockets.clear();
            return;
        }
        let sent_by_ring = self.sockets.len() > 1
            && RING_OF_THREAD.with(|slot| {
                let mut slot = slot.borrow_mut();
                let Some(ring) = slot.as_mut() else {
                    return false;
                };
                if ring.send(self).is_err() {
                    // A ring that failed to submit is not trusted again:
                    // this thread goes on with sendmmsg.
                    *slot = None;
                }
                true
            });
        if !sent_by_ring {
            let mut iovecs = [EMPTY_IOVEC; BATCH];
            // SAFETY: all-zero is a valid mmsghdr.
            let mut messages: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
            self.headers(&mut iovecs, &mut messages);
            let mut start = 0;
            while start < self.count {
                let socket_index = self.socket_of[start];
                let run = self.socket_of[start..self.count]
                    .iter()
                    .take_while(|&&s| s == socket_index)
                    .count();
                self.send_run(start, &mut messages[start..start + run]);
                start += run;
            }
        }
        self.count = 0;
        self.sockets.clear();
    }

    /// Copy `i` as gathered.
    fn datagram(&self, i: usize) -> &[u8] {
        &self.arena[i * SLOT..i * SLOT + self.lengths[i]]
    }

    /// Message headers for the gathered copies, pointing into the batch,
    /// for `sendmmsg` and io_uring's `sendmsg`.
    fn headers(
        &mut self,
        iovecs: &mut [libc::iovec; BATCH],
        messages: &mut [libc::mmsghdr; BATCH],
    ) {
        for i in 0..self.count {
            iovecs[i] = libc::iovec {
                iov_base: self.arena[i * SLOT..].as_mut_ptr().cast(),
                iov_len: self.lengths[i],
            };
            if !self.to_peer[i] {
                messages[i].msg_hdr.msg_name =
                    (&mut self.destinations[i] as *mut libc::sockaddr_storage).cast();
                messages[i].msg_hdr.msg_namelen = self.destination_lengths[i];
            }
            messages[i].msg_hdr.msg_iov = &mut iovecs[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
    }
}

const EMPTY_IOVEC: libc::iovec = libc::iovec {
    iov_base: std::ptr::null_mut(),
    iov_len: 0,
};

impl Batch {
    /// Copies `first..` (as many as `messages`), all to one socket, in
    /// `sendmmsg` calls; a refused copy is counted and the rest still go,
    /// as one `sendto` per copy would.
    fn send_run(&self, first: usize, messages: &mut [libc::mmsghdr]) {
        let socket = &*self.sockets[usize::from(self.socket_of[first])];
        let mut start = 0;
        while start < messages.len() {
            // SAFETY: each message points at its iovec, arena slot and
            // address, all of which outlive the call; the count is within
            // the slice.
            let sent = unsafe {
                libc::sendmmsg(
                    socket.fd(),
                    messages[start..].as_mut_ptr(),
                    (messages.len() - start) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if sent <= 0 {
                let error = std::io::Error::last_os_error().raw_os_error();
                if !self.resent_with_address(first + start, error.map(|e| -e)) {
                    socket.dropped(1);
                }
                start += 1;
            } else {
                start += sent as usize;
            }
        }
    }

    /// Sends copy `i` again, with its address, if it went to its socket's
    /// peer and failed (`result`, a negated errno) for the connection's
    /// sake, not its own: the socket was disconnected after the copy was
    /// gathered (EDESTADDRREQ), or reported an earlier copy's ICMP error
    /// (ECONNREFUSED: a socket without a peer is never told, and sends
    /// this copy). True if it went.
    fn resent_with_address(&self, i: usize, result: Option<i32>) -> bool {
        let connection_error = matches!(
            result.map(|r| -r),
            Some(libc::EDESTADDRREQ | libc::ECONNREFUSED)
        );
        if !self.to_peer[i] || !connection_error {
            return false;
        }
        let datagram = self.datagram(i);
        // SAFETY: the datagram and address live in the batch through the
        // call.
        let sent = unsafe {
            libc::sendto(
                self.fds[i],
                datagram.as_ptr().cast(),
                datagram.len(),
                libc::MSG_DONTWAIT,
                (&self.destinations[i] as *const libc::sockaddr_storage).cast(),
                self.destination_lengths[i],
            )
        };
        sent >= 0
    }
}

/// A thread's io_uring, for batches over many sockets.
struct SendRing {
    ring: io_uring::IoUring,
    /// Whether a `send` may carry its destination (Linux 6.0): the kernel
    /// then reads no message header and no iovec per copy (at N=500 these
    /// were 2 % of Troupe's time), else each copy is a `sendmsg`.
    sends_to_address: bool,
}

impl SendRing {
    fn new() -> Option<SendRing> {
        let ring = io_uring::IoUring::builder()
            // Completions are reaped by the thread that submitted.
            .setup_single_issuer()
            .build(BATCH as u32)
            .or_else(|_| io_uring::IoUring::new(BATCH as u32))
            .ok()?;
        let mut ring = SendRing {
            ring,
            sends_to_address: false,
        };
        ring.sends_to_address = ring.can_send_to_address();
        Some(ring)
    }

    /// Sends one datagram to a socket of its own through the ring with its
    /// destination given: older kernels refuse it (EINVAL).
    fn can_send_to_address(&mut self) -> bool {
        let Ok(receiver) = std::net::UdpSocket::bind("127.0.0.1:0") else {
            return false;
        };
        let Ok(sender) = std::net::UdpSocket::bind("127.0.0.1:0") else {
            return false;
        };
        let Ok(address) = receiver.local_addr() else {
            return false;
        };
        let (destination, length) = socket_address(address);
        let datagram = [0u8; 1];
        let entry = send_to_address(
            std::os::fd::AsRawFd::as_raw_fd(&sender),
            &datagram,
            Some((&destination, length)),
        );
        // SAFETY: the datagram and address outlive the wait below.
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            return false;
        }
        if self.ring.submit_and_wait(1).is_err() {
            return false;
        }
        let sent = self.ring.completion().next();
        sent.is_some_and(|c| c.result() == 1)
    }

    /// One send per gathered copy (a `sendmsg` where sends cannot carry an
    /// address), in one submission; waits for them all (a UDP send that
    /// does not fit fails at once with `MSG_DONTWAIT`, so the wait is the
    /// submission itself), then counts the refused ones.
    /// Err when the ring refused the submission; the copies not reaped are
    /// counted as refused.
    fn send(&mut self, batch: &mut Batch) -> Result<(), std::io::Error> {
        let mut iovecs = [EMPTY_IOVEC; BATCH];
        // SAFETY: all-zero is a valid mmsghdr.
        let mut messages: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        if !self.sends_to_address {
            batch.headers(&mut iovecs, &mut messages);
        }
        let count = batch.count;
        let (socket_of, sockets, fds) = (&batch.socket_of, &batch.sockets, &batch.fds);
        // Copies the ring never took are counted at once, and not waited for.
        let mut reaped = [false; BATCH];
        let mut outstanding = 0;
        {
            let mut queue = self.ring.submission();
            for i in 0..count {
                let fd = fds[i];
                let entry = if self.sends_to_address {
                    send_to_address(
                        fd,
                        batch.datagram(i),
                        (!batch.to_peer[i])
                            .then(|| (&batch.destinations[i], batch.destination_lengths[i])),
                    )
                } else {
                    io_uring::opcode::SendMsg::new(
                        io_uring::types::Fd(fd),
                        &messages[i].msg_hdr as *const libc::msghdr,
                    )
                    .flags(libc::MSG_DONTWAIT as u32)
                    .build()
                }
                .user_data(i as u64);
                // SAFETY: the copy, its address and (for sendmsg) its
                // header and iovec live until the completions below are
                // reaped. The queue holds BATCH entries and is empty here.
                if unsafe { queue.push(&entry) }.is_ok() {
                    outstanding += 1;
                } else {
                    sockets[usize::from(socket_of[i])].dropped(1);
                    reaped[i] = true;
                }
            }
        }
        while outstanding > 0 {
            if let Err(e) = self.ring.submit_and_wait(outstanding) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                for (i, _) in reaped[..count].iter().enumerate().filter(|(_, r)| !**r) {
                    sockets[usize::from(socket_of[i])].dropped(1);
                }
                return Err(e);
            }
            for completion in self.ring.completion() {
                let i = completion.user_data() as usize;
                let Some(&socket) = socket_of.get(i) else {
                    continue;
                };
                outstanding = outstanding.saturating_sub(1);
                reaped[i] = true;
                if completion.result() < 0
                    && !batch.resent_with_address(i, Some(completion.result()))
                {
                    sockets[usize::from(socket)].dropped(1);
                }
            }
        }
        Ok(())
    }
}

/// A send of `datagram` to `destination`, or to the socket's connected
/// peer without one.
fn send_to_address(
    fd: RawFd,
    datagram: &[u8],
    destination: Option<(&libc::sockaddr_storage, libc::socklen_t)>,
) -> io_uring::squeue::Entry {
    let send = io_uring::opcode::Send::new(
        io_uring::types::Fd(fd),
        datagram.as_ptr(),
        datagram.len() as u32,
    )
    .flags(libc::MSG_DONTWAIT);
    match destination {
        Some((address, length)) => send
            .dest_addr((address as *const libc::sockaddr_storage).cast())
            .dest_addr_len(length)
            .build(),
        None => send.build(),
    }
}

thread_local! {
    static BATCH_OF_THREAD: RefCell<Batch> = RefCell::new(Batch::new());
    static RING_OF_THREAD: RefCell<Option<SendRing>> = RefCell::new(SendRing::new());
}

/// Gathers this thread's batched sends (port groups' and plain transports'
/// own sockets) until dropped, then sends them.
pub struct Scope(());

impl Scope {
    pub fn begin() -> Scope {
        BATCH_OF_THREAD.with(|b| {
            if let Ok(mut batch) = b.try_borrow_mut() {
                batch.depth += 1;
            }
        });
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        BATCH_OF_THREAD.with(|b| {
            if let Ok(mut batch) = b.try_borrow_mut() {
                batch.depth = batch.depth.saturating_sub(1);
                if batch.depth == 0 {
                    batch.flush();
                }
            }
        });
    }
}

/// Queues `datagram` for `destination` if a scope is open on this thread
/// (true), else leaves it to the caller to send now (false). `to_peer`:
/// the socket is connected to `destination`, so the copy goes without
/// its address.
pub fn gather(
    socket: &Arc<dyn BatchSocket>,
    datagram: &[u8],
    destination: SocketAddr,
    to_peer: bool,
) -> bool {
    gather_holding(
        &**socket,
        || Some(socket.clone()),
        datagram,
        destination,
        to_peer,
    )
}

/// As [`gather`], for a socket whose owner keeps it open: `hold` gives
/// the owner, asked only when the previous copy went by another socket; a
/// `None` (the owner is closing) leaves the copy to the caller. A plain
/// transport holds itself, whose reference counts its consumer's copy has
/// just updated: holding its socket instead was a miss on one more line a
/// copy (2 % of Troupe's time at N=500).
pub fn gather_holding(
    socket: &dyn BatchSocket,
    hold: impl FnOnce() -> Option<Arc<dyn BatchSocket>>,
    datagram: &[u8],
    destination: SocketAddr,
    to_peer: bool,
) -> bool {
    if datagram.len() > SLOT {
        return false;
    }
    BATCH_OF_THREAD.with(|b| {
        let Ok(mut batch) = b.try_borrow_mut() else {
            return false;
        };
        if batch.depth == 0 {
            return false;
        }
        if batch.count == BATCH {
            batch.flush();
        }
        // A socket is noted again when another came between: a fan-out
        // goes consumer by consumer, so searching would rarely find one.
        let same_as_last = batch
            .sockets
            .last()
            .is_some_and(|s| std::ptr::addr_eq(Arc::as_ptr(s), socket));
        if !same_as_last {
            let Some(held) = hold() else {
                return false;
            };
            batch.sockets.push(held);
        }
        let socket_index = batch.sockets.len() - 1;
        let i = batch.count;
        // At most one entry per copy, so the index fits a u8.
        batch.socket_of[i] = socket_index as u8;
        batch.fds[i] = socket.fd();
        batch.arena[i * SLOT..i * SLOT + datagram.len()].copy_from_slice(datagram);
        batch.lengths[i] = datagram.len();
        let (address, length) = socket_address(destination);
        batch.destinations[i] = address;
        batch.destination_lengths[i] = length;
        batch.to_peer[i] = to_peer;
        batch.count += 1;
        true
    })
}

fn socket_address(address: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage, and each branch writes
    // a smaller sockaddr at its start.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let length = match address {
            SocketAddr::V4(v4) => {
                let raw = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                std::ptr::write_unaligned(
                    (&mut storage as *mut libc::sockaddr_storage).cast(),
                    raw,
                );
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                let raw = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                std::ptr::write_unaligned(
                    (&mut storage as *mut libc::sockaddr_storage).cast(),
                    raw,
                );
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        (storage, length as libc::socklen_t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    struct Counted(UdpSocket, AtomicUsize);

    impl BatchSocket for Counted {
        fn fd(&self) -> RawFd {
            self.0.as_raw_fd()
        }
        fn send_to(&self, datagram: &[u8], to: SocketAddr) -> std::io::Result<usize> {
            self.0.send_to(datagram, to)
        }
        fn dropped(&self, copies: usize) {
            self.1.fetch_add(copies, Relaxed);
        }
    }

    fn counted_socket() -> (Arc<Counted>, Arc<dyn BatchSocket>) {
        let counted = Arc::new(Counted(
            crate::media::peer_link::tests::bound_to_a_port_of_its_own(),
            AtomicUsize::new(0),
        ));
        (counted.clone(), counted)
    }

    fn receive_all(socket: &UdpSocket) -> Vec<Vec<u8>> {
        socket.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buffer = [0u8; 2048];
        while let Ok(n) = socket.recv(&mut buffer) {
            got.push(buffer[..n].to_vec());
        }
        got
    }

    #[test]
    fn copies_wait_for_the_scope_and_arrive_in_order() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = sink.local_addr().unwrap();
        let (_counted, out) = counted_socket();
        assert!(
            !gather(&out, b"no scope", to, false),
            "outside a scope: sent by the caller"
        );
        let scope = Scope::begin();
        let inner = Scope::begin();
        for i in 0..150u8 {
            assert!(gather(&out, &[i; 100], to, false));
        }
        drop(inner);
        // Full batches went out; the rest waits for the outer scope.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(receive_all(&sink).len(), 2 * BATCH);
        drop(scope);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let rest = receive_all(&sink);
        assert_eq!(rest.len(), 150 - 2 * BATCH);
        assert_eq!(rest[0], vec![128u8; 100]);
    }

    #[test]
    fn a_refused_copy_is_counted_and_the_rest_still_go() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = sink.local_addr().unwrap();
        let (counted, out) = counted_socket();
        {
            let _scope = Scope::begin();
            gather(&out, b"first", to, false);
            // An IPv4 socket cannot send to an IPv6 address.
            gather(&out, b"refused", "[::1]:9".parse().unwrap(), false);
            gather(&out, b"last", to, false);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let got = receive_all(&sink);
        assert_eq!(got, vec![b"first".to_vec(), b"last".to_vec()]);
        assert_eq!(counted.1.load(Relaxed), 1);
    }

    #[test]
    fn a_held_owner_stays_until_its_copies_leave() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = sink.local_addr().unwrap();
        let (counted, out) = counted_socket();
        let owner: Arc<dyn BatchSocket> = counted.clone();
        let scope = Scope::begin();
        assert!(
            !gather_holding(&*counted, || None, b"closing", to, false),
            "an owner that is closing leaves the copy to the caller"
        );
        for copy in [b"one", b"two"] {
            assert!(gather_holding(
                &*counted,
                || Some(owner.clone()),
                copy,
                to,
                false
            ));
        }
        drop(out);
        // Held once for the run of two copies, beside `counted` and `owner`.
        assert_eq!(Arc::strong_count(&counted), 3);
        drop(scope);
        assert_eq!(Arc::strong_count(&counted), 2);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(receive_all(&sink), vec![b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn oversized_datagrams_are_left_to_the_caller() {
        let (_counted, out) = counted_socket();
        let _scope = Scope::begin();
        assert!(!gather(
            &out,
            &[0; SLOT + 1],
            "127.0.0.1:9".parse().unwrap(),
            false
        ));
    }

    /// Copies to three sockets, interleaved as a fan-out makes them; each
    /// arrives from its own socket, in order, and a refused one is counted
    /// on its socket only. Sockets 0 and 2 are connected to the sink and
    /// their copies go without an address; socket 2 is disconnected before
    /// the last batch leaves, and its copies there go again with theirs.
    fn many_sockets_in_one_batch() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = sink.local_addr().unwrap();
        let sockets: Vec<_> = (0..3).map(|_| counted_socket()).collect();
        sockets[0].0 .0.connect(to).unwrap();
        sockets[2].0 .0.connect(to).unwrap();
        {
            let _scope = Scope::begin();
            for i in 0..150u8 {
                let which = usize::from(i) % 3;
                assert!(gather(&sockets[which].1, &[i; 10], to, which != 1));
            }
            gather(&sockets[1].1, b"refused", "[::1]:9".parse().unwrap(), false);
            crate::media::peer_link::tests::disconnect(&sockets[2].0 .0).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        sink.set_nonblocking(true).unwrap();
        let mut from: Vec<Vec<u8>> = vec![Vec::new(); 3];
        let mut buffer = [0u8; 64];
        while let Ok((n, source)) = sink.recv_from(&mut buffer) {
            let which = sockets
                .iter()
                .position(|(c, _)| c.0.local_addr().unwrap() == source)
                .expect("from one of the three");
            assert_eq!(n, 10);
            from[which].push(buffer[0]);
        }
        for (which, got) in from.iter().enumerate() {
            let expected: Vec<u8> = (0..150u8)
                .filter(|i| usize::from(*i) % 3 == which)
                .collect();
            assert_eq!(got, &expected, "socket {which}: all, in order");
        }
        let refused: Vec<usize> = sockets.iter().map(|(c, _)| c.1.load(Relaxed)).collect();
        assert_eq!(refused, [0, 1, 0]);
    }

    #[test]
    fn copies_to_many_sockets_leave_in_one_submission() {
        if RING_OF_THREAD.with(|r| r.borrow().is_none()) {
            // A seccomp filter or an old kernel: the fallback's test covers
            // what Troupe then does.
            eprintln!("io_uring cannot be set up here");
        }
        let with_address = RING_OF_THREAD.with(|r| r.borrow().as_ref().map(|r| r.sends_to_address));
        eprintln!("the ring sends with the destination in the entry: {with_address:?}");
        many_sockets_in_one_batch();
    }

    #[test]
    fn a_kernel_that_cannot_send_to_an_address_gets_a_sendmsg_per_copy() {
        RING_OF_THREAD.with(|r| {
            if let Some(ring) = r.borrow_mut().as_mut() {
                ring.sends_to_address = false;
            }
        });
        many_sockets_in_one_batch();
    }

    #[test]
    fn without_io_uring_each_socket_run_leaves_in_its_own_sendmmsg() {
        RING_OF_THREAD.with(|r| *r.borrow_mut() = None);
        many_sockets_in_one_batch();
    }
}
