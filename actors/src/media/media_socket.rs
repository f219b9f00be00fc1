//! A UDP socket on the packet path, watched by the runtime for reading
//! only. A socket registered for writing too (as `tokio::net::UdpSocket`
//! is) gets a write-space wake-up from the kernel after every datagram it
//! sends, which the runtime's epoll then has to collect: with one socket
//! per plain consumer that was a quarter of Troupe's CPU at 500 consumers
//! (measured with perf: `sock_poll` under `epoll_wait`, and the wake-up
//! under `sock_wfree`, per copy sent). Sends never wait for space anyway:
//! a datagram that does not fit is dropped and counted, as a router must.

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

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.get_ref().local_addr()
    }
}
