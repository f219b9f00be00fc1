//! DTLS records and handshake messages from a peer, as a transport's DTLS
//! session (server role, and client role after its ClientHello) reads them;
//! the input is split into datagrams by its first bytes.
#![no_main]
use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use troupe_transports::certificate::DtlsCertificate;
use troupe_transports::dtls_session::{DtlsRole, DtlsSession};

fn certificate() -> &'static DtlsCertificate {
    static CERTIFICATE: OnceLock<DtlsCertificate> = OnceLock::new();
    CERTIFICATE.get_or_init(|| DtlsCertificate::generate().expect("a certificate"))
}

fuzz_target!(|data: &[u8]| {
    let certificate = certificate();
    for role in [DtlsRole::Server, DtlsRole::Client] {
        let Ok(mut session) = DtlsSession::new(certificate, role, certificate.fingerprints.clone())
        else {
            return;
        };
        let now = Instant::now();
        let _ = session.start(now);
        while session.poll_transmit().is_some() {}
        // Datagrams: a 2-byte length, then that many bytes.
        let mut rest = data;
        while rest.len() >= 2 {
            let length = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
            let (datagram, tail) = rest[2..].split_at(length);
            let _ = session.handle_datagram(now, datagram);
            while session.poll_transmit().is_some() {}
            rest = tail;
        }
        let _ = session.handle_timeout(now + std::time::Duration::from_secs(5));
    }
});
