//! UDP ports for plain and pipe transports, from the configured range. A
//! port is taken by binding it, so ports held by other processes are
//! skipped, and released when its transport closes.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct PortAllocator {
    low: u16,
    high: u16,
    used: Mutex<BTreeSet<u16>>,
}

/// A bound socket whose port goes back to the allocator when dropped.
#[derive(Debug)]
pub struct AllocatedPort {
    pub socket: UdpSocket,
    pub port: u16,
    allocator: Arc<PortAllocator>,
}

impl Drop for AllocatedPort {
    fn drop(&mut self) {
        if let Ok(mut used) = self.allocator.used.lock() {
            used.remove(&self.port);
        }
    }
}

impl PortAllocator {
    pub fn new(low: u16, high: u16) -> Arc<Self> {
        Arc::new(PortAllocator {
            low,
            high: high.max(low),
            used: Mutex::new(BTreeSet::new()),
        })
    }

    /// Binds a free port of the range on `ip`, starting the search at a
    /// random place so restarts do not reuse the same ports at once.
    pub fn allocate(self: &Arc<Self>, ip: IpAddr) -> io::Result<AllocatedPort> {
        self.allocate_with(ip, UdpSocket::bind)
    }

    /// The same, binding with `bind` (a socket with options set first).
    pub fn allocate_with(
        self: &Arc<Self>,
        ip: IpAddr,
        bind: impl Fn(SocketAddr) -> io::Result<UdpSocket>,
    ) -> io::Result<AllocatedPort> {
        if self.low == 0 {
            // A range starting at 0 means "any port the OS picks" (tests).
            let socket = bind(SocketAddr::new(ip, 0))?;
            let port = socket.local_addr()?.port();
            return Ok(AllocatedPort {
                socket,
                port,
                allocator: self.clone(),
            });
        }
        let span = u32::from(self.high - self.low) + 1;
        let start = rand::random::<u32>() % span;
        let mut used = self
            .used
            .lock()
            .map_err(|_| io::Error::other("port table poisoned"))?;
        for offset in 0..span {
            let port = self.low + ((start + offset) % span) as u16;
            if used.contains(&port) {
                continue;
            }
            match bind(SocketAddr::new(ip, port)) {
                Ok(socket) => {
                    used.insert(port);
                    return Ok(AllocatedPort {
                        socket,
                        port,
                        allocator: self.clone(),
                    });
                }
                // Another process holds this one: try the next.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
                // The address itself cannot be bound (not this node's, not
                // unicast): every port would fail the same way.
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "no free port in {}-{} (config field `rtp_port_range`)",
                self.low, self.high
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_unique_and_come_back() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        // A range of one port the OS just handed out, so tests never clash.
        let port = UdpSocket::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let allocator = PortAllocator::new(port, port);
        let first = allocator.allocate(ip).unwrap();
        assert_eq!(first.port, port);
        assert!(allocator.allocate(ip).is_err(), "the range is exhausted");
        drop(first);
        assert_eq!(allocator.allocate(ip).unwrap().port, port);
    }

    #[test]
    fn an_address_not_of_this_node_fails_at_once_not_as_an_exhausted_range() {
        let allocator = PortAllocator::new(40_000, 40_999);
        // TEST-NET-3 (RFC 5737): never an address of this machine.
        let err = allocator
            .allocate(IpAddr::from([203, 0, 113, 7]))
            .expect_err("cannot bind");
        assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable, "{err}");
        assert!(allocator.used.lock().unwrap().is_empty());
    }
}
