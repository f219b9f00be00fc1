//! A set of one-byte ids (payload types, header extension ids) held inline:
//! the packet path asks "is this one of the consumer's?" for every copy, and
//! a `Vec` would be one more cold cache line per copy.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdSet([u64; 4]);

impl IdSet {
    pub fn contains(&self, id: u8) -> bool {
        self.0[usize::from(id >> 6)] & (1 << (id & 63)) != 0
    }

    pub fn insert(&mut self, id: u8) {
        self.0[usize::from(id >> 6)] |= 1 << (id & 63);
    }
}

impl FromIterator<u8> for IdSet {
    fn from_iter<I: IntoIterator<Item = u8>>(ids: I) -> Self {
        let mut set = IdSet::default();
        ids.into_iter().for_each(|id| set.insert(id));
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_what_was_put_in_across_the_whole_byte() {
        let ids = [0u8, 1, 63, 64, 96, 127, 128, 200, 255];
        let set: IdSet = ids.into_iter().collect();
        for id in 0..=255u8 {
            assert_eq!(set.contains(id), ids.contains(&id), "id {id}");
        }
        assert!(!IdSet::default().contains(0));
    }
}
