//! Explored search states, remembered as 128-bit fingerprints in an open-addressing set.

/// Finalizer of SplitMix64: a strong 64-bit mixing function.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Open-addressing set of 128-bit fingerprints, growing up to a fixed entry cap.
pub(crate) struct Memo {
    slots: Vec<[u64; 2]>,
    pub(crate) len: usize,
    cap: usize,
}

impl Memo {
    pub(crate) fn new(cap: usize) -> Memo {
        Memo {
            slots: vec![[0; 2]; 1024],
            len: 0,
            cap,
        }
    }

    /// Records `fp`; returns false if it was already recorded. When full, only looks up.
    pub(crate) fn visit(&mut self, fp: [u64; 2]) -> bool {
        let fp = if fp == [0, 0] { [1, 0] } else { fp };
        let mask = self.slots.len() - 1;
        let mut i = (fp[0] as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == fp {
                return false;
            }
            if s == [0, 0] {
                break;
            }
            i = (i + 1) & mask;
        }
        if self.len >= self.cap {
            return true;
        }
        self.slots[i] = fp;
        self.len += 1;
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![[0; 2]; old.len() * 2];
        let mask = self.slots.len() - 1;
        for fp in old.into_iter().filter(|s| *s != [0, 0]) {
            let mut i = (fp[0] as usize) & mask;
            while self.slots[i] != [0, 0] {
                i = (i + 1) & mask;
            }
            self.slots[i] = fp;
        }
    }
}

/// A deterministic [`std::hash::Hasher`] (seeded, SplitMix64-mixed) for model states: the memo
/// needs the same fingerprint for the same state on every run.
pub(crate) struct StateHasher(u64);

impl StateHasher {
    pub(crate) fn new(seed: u64) -> StateHasher {
        StateHasher(seed)
    }
}

impl std::hash::Hasher for StateHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = mix64(self.0 ^ u64::from_le_bytes(word)).wrapping_add(chunk.len() as u64);
        }
    }

    fn finish(&self) -> u64 {
        mix64(self.0)
    }
}
