//! A Fenwick tree: the KV search counts pending readers per trie node with it.

/// Fenwick (binary indexed) tree of counts over positions `0..n`.
pub(crate) struct Fenwick {
    tree: Vec<i32>,
}

impl Fenwick {
    pub(crate) fn new(n: usize) -> Fenwick {
        Fenwick {
            tree: vec![0; n + 1],
        }
    }

    pub(crate) fn add(&mut self, pos: u32, delta: i32) {
        let mut i = pos as usize + 1;
        while i < self.tree.len() {
            self.tree[i] += delta;
            i += i & i.wrapping_neg();
        }
    }

    /// Sum of positions `0..end`.
    fn prefix(&self, end: u32) -> i32 {
        let (mut i, mut s) = (end as usize, 0);
        while i > 0 {
            s += self.tree[i];
            i &= i - 1;
        }
        s
    }

    /// Sum of positions `start..end`.
    pub(crate) fn sum(&self, start: u32, end: u32) -> i32 {
        self.prefix(end) - self.prefix(start)
    }
}
