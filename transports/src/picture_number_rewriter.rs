//! Keeps a codec's picture numbers (VP8/VP9 picture id, TL0PICIDX) going up
//! by one per forwarded picture, across pictures a consumer drops and across
//! simulcast stream switches: receivers (libwebrtc's reference finders)
//! take a gap for pictures still to come, and hold back what follows.

/// Pictures whose mapping is remembered, for their later packets and
/// retransmissions.
const RECENT: usize = 64;

#[derive(Debug, Clone)]
pub struct PictureNumberRewriter {
    modulus: u32,
    offset: u32,
    highest_in: Option<u16>,
    last_out: Option<u16>,
    resync_pending: bool,
    recent: [Option<(u16, u16)>; RECENT],
}

impl PictureNumberRewriter {
    /// For numbers of `bits` bits (15 for picture ids, 8 for TL0PICIDX).
    pub fn new(bits: u8) -> Self {
        PictureNumberRewriter {
            modulus: 1 << bits,
            offset: 0,
            highest_in: None,
            last_out: None,
            resync_pending: true,
            recent: [None; RECENT],
        }
    }

    fn newer(&self, a: u16, b: u16) -> bool {
        let distance = (u32::from(a) + self.modulus - u32::from(b)) % self.modulus;
        distance != 0 && distance < self.modulus / 2
    }

    fn wrap(&self, value: u32) -> u16 {
        (value % self.modulus) as u16
    }

    /// Another stream follows: its next picture continues from the last one
    /// sent.
    pub fn resync(&mut self) {
        self.resync_pending = true;
        self.recent = [None; RECENT];
    }

    /// The number to send for a forwarded picture numbered `value`.
    pub fn map(&mut self, value: u16) -> u16 {
        let value = self.wrap(u32::from(value));
        let slot = usize::from(value) % RECENT;
        if let Some((input, output)) = self.recent[slot] {
            if input == value {
                return output;
            }
        }
        if self.resync_pending || self.highest_in.is_none() {
            let next = self
                .last_out
                .map_or(u32::from(value), |last| u32::from(last) + 1);
            self.offset = (next + self.modulus - u32::from(value)) % self.modulus;
            self.highest_in = Some(value);
            self.resync_pending = false;
        } else if self.highest_in.is_some_and(|h| self.newer(value, h)) {
            self.highest_in = Some(value);
        }
        let output = self.wrap(u32::from(value) + self.offset);
        if self.last_out.is_none_or(|last| self.newer(output, last)) {
            self.last_out = Some(output);
        }
        self.recent[slot] = Some((value, output));
        output
    }

    /// The picture numbered `value` is not forwarded: later ones close up.
    pub fn drop_picture(&mut self, value: u16) {
        let value = self.wrap(u32::from(value));
        if self.resync_pending {
            return;
        }
        if self.highest_in.is_some_and(|h| self.newer(value, h)) {
            self.highest_in = Some(value);
            self.offset = (self.offset + self.modulus - 1) % self.modulus;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_pictures_leave_no_gap() {
        let mut ids = PictureNumberRewriter::new(15);
        assert_eq!(ids.map(100), 100);
        ids.drop_picture(101);
        ids.drop_picture(101); // its second packet
        assert_eq!(ids.map(102), 101);
        assert_eq!(ids.map(102), 101, "a later packet of the same picture");
        ids.drop_picture(103);
        assert_eq!(ids.map(104), 102);
    }

    #[test]
    fn a_new_stream_continues_from_the_last_number_sent() {
        let mut ids = PictureNumberRewriter::new(15);
        ids.map(5000);
        ids.map(5001);
        ids.resync();
        assert_eq!(ids.map(20), 5002);
        assert_eq!(ids.map(21), 5003);
    }

    #[test]
    fn wraps_at_the_field_size() {
        let mut tl0 = PictureNumberRewriter::new(8);
        assert_eq!(tl0.map(254), 254);
        assert_eq!(tl0.map(255), 255);
        assert_eq!(tl0.map(0), 0);
        let mut ids = PictureNumberRewriter::new(15);
        ids.map(0x7ffe);
        ids.drop_picture(0x7fff);
        assert_eq!(ids.map(0), 0x7fff);
        assert_eq!(ids.map(1), 0);
    }
}
