//! A read-only byte trie: the KV search represents values as its nodes.

/// Read-only byte trie of a set of strings, nodes numbered in preorder (node 0 is the
/// empty string), so the subtree of node `x` is exactly `x .. x + size[x]`.
pub(crate) struct Trie {
    /// Byte on the edge into each node.
    pub(crate) byte: Vec<u8>,
    /// Number of nodes in each subtree.
    pub(crate) size: Vec<u32>,
    /// Length of the string each node spells.
    pub(crate) depth: Vec<u32>,
    /// Parent of each node (u32::MAX for the root).
    pub(crate) parent: Vec<u32>,
    /// Items ending at node `x` are `tags[tag_start[x]..tag_start[x + 1]]`.
    pub(crate) tag_start: Vec<u32>,
    pub(crate) tags: Vec<u32>,
}

/// The length of the longest common prefix of `a` and `b`. Compares blocks as slices (a memcmp
/// even in unoptimized builds, where the tests run): outputs can be long and share most bytes.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

impl Trie {
    /// Builds the trie of `items` (string, tag); returns it and each item's node.
    pub(crate) fn build(items: &[(&[u8], u32)]) -> (Trie, Vec<u32>) {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| items[a].0.cmp(items[b].0).then(a.cmp(&b)));
        let mut t = Trie {
            byte: vec![0],
            size: Vec::new(),
            depth: vec![0],
            parent: vec![u32::MAX],
            tag_start: Vec::new(),
            tags: Vec::new(),
        };
        let mut path: Vec<u32> = vec![0];
        let mut prev: &[u8] = &[];
        let mut node_of = vec![0u32; items.len()];
        let mut tagged: Vec<(u32, u32)> = Vec::new();
        for &k in &order {
            let s = items[k].0;
            let lcp = common_prefix(prev, s);
            path.truncate(lcp + 1);
            for (d, &b) in s.iter().enumerate().skip(lcp) {
                let id = t.byte.len() as u32;
                t.byte.push(b);
                t.depth.push(d as u32 + 1);
                t.parent.push(path[d]);
                path.push(id);
            }
            node_of[k] = path[s.len()];
            tagged.push((path[s.len()], items[k].1));
            prev = s;
        }
        let n = t.byte.len();
        t.size = vec![1; n];
        for x in (1..n).rev() {
            let p = t.parent[x] as usize;
            t.size[p] += t.size[x];
        }
        // Nodes of sorted items come in preorder, so `tagged` is sorted by node.
        t.tag_start = vec![0; n + 1];
        for &(x, _) in &tagged {
            t.tag_start[x as usize + 1] += 1;
        }
        for x in 0..n {
            t.tag_start[x + 1] += t.tag_start[x];
        }
        t.tags = tagged.iter().map(|&(_, tag)| tag).collect();
        (t, node_of)
    }

    /// The child of `x` along byte `b`.
    pub(crate) fn child(&self, x: u32, b: u8) -> Option<u32> {
        let end = x + self.size[x as usize];
        let mut c = x + 1;
        while c < end {
            if self.byte[c as usize] == b {
                return Some(c);
            }
            c += self.size[c as usize];
        }
        None
    }

    /// The node spelling (string of `x`) + `s`.
    pub(crate) fn walk(&self, mut x: u32, s: &[u8]) -> Option<u32> {
        for &b in s {
            x = self.child(x, b)?;
        }
        Some(x)
    }

    /// Is the string of `a` a prefix of the string of `b`?
    pub(crate) fn is_prefix(&self, a: u32, b: u32) -> bool {
        a <= b && b < a + self.size[a as usize]
    }

    pub(crate) fn tags(&self, x: u32) -> &[u32] {
        &self.tags[self.tag_start[x as usize] as usize..self.tag_start[x as usize + 1] as usize]
    }
}
