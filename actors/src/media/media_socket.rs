//! A UDP socket on the packet path, watched by the runtime for reading
//! only. For a socket registered for writing too (as `tokio::net::UdpSocket`
//! is), every datagram it sends makes it writable again once the kernel
//! frees it, so the socket joins epoll's ready list and the runtime then
//! collects and dispatches that readiness: with one socket per plain
//! consumer that was about a quarter of Troupe's CPU at 500 consumers
//! (perf: `sock_poll` under `epoll_wait`, and the wake-up under
//! `sock_wfree`). Registered for reading only, the kernel's callback stops
//! at the interest check. Sends never wait for space anyway: a datagram
//! that does not fit is dropped and counted, as a router must.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub struct MediaSocket {
    socket: AsyncFd<UdpSocket>,
}

impl MediaSocket {
    /// Takes a bound socket; must be called inside the runtime.
    pub fn new(socket: UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        // SAFETY: the socket owns its descriptor and moves into the
        // AsyncFd, which keeps it open for as long as it is registered.
        let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(MediaSocket { socket })
    }

    pub async fn recv_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let mut ready = self.socket.readable().await?;
            match ready.try_io(|socket| socket.get_ref().recv_from(buffer)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Asks for a receive buffer of `bytes` (the kernel caps it at
    /// `net.core.rmem_max`); returns what the kernel granted.
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<usize> {
        let fd = self.socket.get_ref().as_raw_fd();
        let wanted = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid descriptor and int options of the right size.
        let granted = unsafe {
            if libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&wanted as *const libc::c_int).cast(),
                size,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let mut granted: libc::c_int = 0;
            if libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut granted as *mut libc::c_int).cast(),
                &mut size,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            granted
        };
        Ok(usize::try_from(granted).unwrap_or(0))
    }

    /// Asks the kernel to stamp each datagram with its arrival time, which
    /// `recv_stamped` then reads.
    pub fn enable_arrival_timestamps(&self) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: a valid descriptor and an int option of the right size.
        let result = unsafe {
            libc::setsockopt(
                self.socket.get_ref().as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Receives a datagram with the time it reached the host: the kernel's
    /// stamp when the socket has them, else now. Congestion control needs
    /// the first: a packet that waited in the socket while the node was
    /// busy did not wait on the network, and feedback that said so would
    /// make senders back off for nothing.
    pub async fn recv_stamped(
        &self,
        buffer: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Instant)> {
        loop {
            let mut ready = self.socket.readable().await?;
            match ready.try_io(|socket| receive_message(socket.get_ref().as_raw_fd(), buffer)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends now or fails; never waits for buffer space.
    pub fn send_to(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.socket.get_ref().send_to(datagram, destination)
    }
}

impl AsRawFd for MediaSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.get_ref().as_raw_fd()
    }
}

/// One `recvmsg` with room for the arrival timestamp.
fn receive_message(fd: i32, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr, Instant)> {
    // SAFETY: every pointer in the header points at a live local of the
    // size given, and the CMSG macros stay within msg_controllen.
    unsafe {
        let mut address: libc::sockaddr_storage = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        let mut control = [0u64; 8];
        let mut header: libc::msghdr = std::mem::zeroed();
        header.msg_name = (&mut address as *mut libc::sockaddr_storage).cast();
        header.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        header.msg_iov = &mut iov;
        header.msg_iovlen = 1;
        header.msg_control = control.as_mut_ptr().cast();
        header.msg_controllen = std::mem::size_of_val(&control) as _;
        let length = libc::recvmsg(fd, &mut header, 0);
        if length < 0 {
            return Err(io::Error::last_os_error());
        }
        let now = Instant::now();
        let mut arrival = now;
        let mut cmsg = libc::CMSG_FIRSTHDR(&header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let stamp: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let stamped = UNIX_EPOCH + Duration::new(stamp.tv_sec as u64, stamp.tv_nsec as u32);
                let waited = SystemTime::now()
                    .duration_since(stamped)
                    .unwrap_or_default();
                arrival = now.checked_sub(waited).unwrap_or(now);
            }
            cmsg = libc::CMSG_NXTHDR(&header, cmsg);
        }
        let from =
            socket_address(&address).ok_or_else(|| io::Error::other("unknown address family"))?;
        Ok((length as usize, from, arrival))
    }
}

fn socket_address(address: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this is a sockaddr_in, which fits.
            let v4: libc::sockaddr_in = unsafe {
                std::ptr::read_unaligned((address as *const libc::sockaddr_storage).cast())
            };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this is a sockaddr_in6, which fits.
            let v6: libc::sockaddr_in6 = unsafe {
                std::ptr::read_unaligned((address as *const libc::sockaddr_storage).cast())
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stamped_receive_gives_the_sender_and_a_time_no_later_than_now() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = receiver.local_addr().unwrap();
        let socket = MediaSocket::new(receiver).unwrap();
        socket.enable_arrival_timestamps().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Linux turns receive timestamping on through deferred work when
        // the first socket asks for it, so a datagram or two right after
        // may be stamped when read: a few tries, each with a 30 ms wait.
        let mut waited = Duration::ZERO;
        for _ in 0..20 {
            let before = Instant::now();
            sender.send_to(b"hello", address).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            let mut buffer = [0u8; 64];
            let (length, from, arrival) = socket.recv_stamped(&mut buffer).await.unwrap();
            assert_eq!(&buffer[..length], b"hello");
            assert_eq!(from, sender.local_addr().unwrap());
            assert!(arrival >= before.checked_sub(Duration::from_millis(5)).unwrap());
            assert!(arrival <= Instant::now());
            waited = Instant::now().duration_since(arrival);
            if waited >= Duration::from_millis(25) {
                break;
            }
        }
        // Stamped when it arrived, not when it was read 30 ms later.
        assert!(waited >= Duration::from_millis(25), "{waited:?}");
    }
}
