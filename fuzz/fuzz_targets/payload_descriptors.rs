//! Codec payloads: the VP8 and VP9 payload descriptors (and their picture
//! numbers rewritten in place), and key-frame detection for VP8, VP9, H264
//! and AV1.
#![no_main]
use libfuzzer_sys::fuzz_target;
use troupe_transports::key_frame::VideoCodec;
use troupe_transports::vp8_descriptor::Vp8Descriptor;
use troupe_transports::vp9_descriptor::Vp9Descriptor;

fuzz_target!(|data: &[u8]| {
    for mime in [
        "video/VP8",
        "video/VP9",
        "video/H264",
        "video/AV1",
        "audio/opus",
    ] {
        if let Some(codec) = VideoCodec::from_mime(mime) {
            let _ = codec.is_key_frame(data);
        }
    }
    if let Ok(vp8) = Vp8Descriptor::parse(data) {
        let mut copy = data.to_vec();
        if let Some(id) = vp8.picture_id {
            id.write(&mut copy, id.value.wrapping_add(7));
        }
        if let Some(tl0) = vp8.tl0_pic_idx {
            tl0.write(&mut copy, tl0.value.wrapping_add(1));
        }
    }
    if let Ok(vp9) = Vp9Descriptor::parse(data) {
        let _ = vp9.is_key_frame();
        let _ = vp9.begins_picture();
        let mut copy = data.to_vec();
        if let Some(id) = vp9.picture_id {
            id.write(&mut copy, id.value.wrapping_add(7));
        }
    }
});
