//! RTP headers with CSRCs, one- and two-byte header extensions and padding,
//! and the rebuild every consumer copy goes through.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_transports::rtp_packet::{overwrite_extension, rebuild, Rewrite, RtpHeader};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = RtpHeader::parse(data) else {
        return;
    };
    let extensions: Vec<(u8, &[u8])> = header.extensions(data).collect();
    let _ = header.payload(data);
    let mut copy = data.to_vec();
    for (id, value) in &extensions {
        let replacement = vec![0xab; value.len()];
        let _ = overwrite_extension(&mut copy, &header, *id, &replacement);
    }
    let rewrite = Rewrite {
        payload_type: 96,
        sequence_number: header.sequence_number.wrapping_add(1),
        timestamp: header.timestamp,
        ssrc: 1,
        marker: header.marker,
    };
    let mut out = Vec::new();
    rebuild(data, &header, &rewrite, &extensions, &mut out);
    assert!(RtpHeader::parse(&out).is_ok(), "a rebuilt packet parses");
});
