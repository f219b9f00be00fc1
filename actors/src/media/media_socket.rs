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
use std::net::{SocketAddr, UdpSocket};

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

    /// Sends now or fails; never waits for buffer space.
    pub fn send_to(&self, datagram: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.socket.get_ref().send_to(datagram, destination)
    }
}
