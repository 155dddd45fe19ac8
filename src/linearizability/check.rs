//! The linearizability checker: a Wing–Gong/Lowe depth-first search per key.
//!
//! Each key is checked on its own (linearizability is compositional). For one key the
//! search keeps the not-yet-linearized operations in a doubly linked list of call and
//! return events ordered by time; the operations whose call comes before the first
//! return event are the ones allowed to take effect next. The search linearizes one of
//! them, recurses, and undoes it on a dead end. States already explored (set of
//! linearized operations plus the key's value) are remembered so they are never
//! explored twice.
//!
//! What makes it fast on key/value histories:
//! * Values are represented exactly and canonically as nodes of a trie of all the
//!   outputs the key's Gets returned; reads compare node numbers. A value that no
//!   pending Get can read, now or after more appends (it is not a prefix of a pending
//!   Get's output), behaves like any other such value until a Put replaces it, so all
//!   of them are one state, "unreadable".
//! * Some ops are linearized at once, never reconsidered, because any valid order can
//!   be rearranged to start with them: a Get that can come next and reads the current
//!   value; and, while the value is unreadable, a write whose effect no pending Get can
//!   see. Reads therefore never cause branching, and neither do such writes.
//! * A state is abandoned as soon as one of the earliest pending Gets can no longer get
//!   its output: neither the current value nor a pending Put that could precede it can
//!   be extended to that output by pending Appends that could precede it.
//! * Operations with an unknown outcome are tried after the known ones, and are never
//!   required to take effect.
//!
//! Explored states are remembered as 128-bit fingerprints (a Zobrist hash of the set of
//! linearized operations combined with the value's node), 16 bytes each, up to a cap.
//! Two distinct states share a fingerprint with probability about 2^-128 per pair; that
//! is the only inexactness. Work is counted in steps, never in wall time, so a history
//! always gets the same verdict.

use super::history::{History, OpKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Limits for one check; every key gets the same limits.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Search steps allowed per key before giving up with [`Verdict::Undecided`].
    /// A step is one search state entered or one candidate operation tried.
    pub max_steps: u64,
    /// Most explored-state fingerprints remembered per key (16 bytes each, table at most
    /// twice that). Past it the search goes on without remembering new states.
    pub max_memo: usize,
}

impl Default for CheckOptions {
    /// 10 million steps and 4 Mi remembered states per key (table at most 128 MiB).
    fn default() -> Self {
        CheckOptions {
            max_steps: 10_000_000,
            max_memo: 1 << 22,
        }
    }
}

/// Outcome of checking a key, or a whole history.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Proven not linearizable (ordered first so violations sort first).
    NotLinearizable,
    /// The step budget ran out before a verdict was reached.
    Undecided,
    /// A valid linearization was found.
    Linearizable,
}

/// Verdict and explanation for one key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct KeyResult {
    /// The key.
    pub key: String,
    /// Verdict for this key alone.
    pub verdict: Verdict,
    /// Indices into `History::ops`, in linearization order: the full linearization when
    /// linearizable, otherwise the deepest linearizable prefix the search reached.
    pub linearization: Vec<usize>,
    /// On a violation: the operation with the earliest call among those that cannot come
    /// after `linearization` (index into `History::ops`).
    pub failing_op: Option<usize>,
    /// Search steps used.
    pub steps: u64,
    /// Explored-state fingerprints remembered when the search ended.
    pub memo_entries: usize,
}

/// Verdicts for all keys of a history.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// NotLinearizable if any key is, else Undecided if any key is, else Linearizable.
    pub verdict: Verdict,
    /// One result per key, in key order.
    pub keys: Vec<KeyResult>,
}

impl CheckResult {
    /// The result for `key`, if the history touches it.
    pub fn key(&self, key: &str) -> Option<&KeyResult> {
        self.keys.iter().find(|k| k.key == key)
    }
}

/// Checks every key of `h` independently and combines the verdicts.
pub fn check(h: &History, opts: &CheckOptions) -> CheckResult {
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in h.ops.iter().enumerate() {
        by_key.entry(op.key.as_str()).or_default().push(i);
    }
    let keys: Vec<KeyResult> = by_key
        .into_iter()
        .map(|(key, idxs)| check_key(h, key, &idxs, opts))
        .collect();
    let verdict = keys
        .iter()
        .map(|k| k.verdict)
        .min()
        .unwrap_or(Verdict::Linearizable);
    CheckResult { verdict, keys }
}

/// Checks the operations `idxs` of `h` (all on `key`).
fn check_key(h: &History, key: &str, idxs: &[usize], opts: &CheckOptions) -> KeyResult {
    // A Get whose outcome or result is unknown constrains nothing: leave it out.
    let mut chosen: Vec<usize> = idxs
        .iter()
        .copied()
        .filter(|&i| {
            let op = &h.ops[i];
            op.kind != OpKind::Get || (op.ret.is_some() && op.output.is_some())
        })
        .collect();
    chosen.sort_by_key(|&i| (h.ops[i].call, i));
    let mut s = Search::new(h, &chosen, opts);
    let verdict = s.run();
    let linearization: Vec<usize> = s.best.iter().map(|&l| s.ops[l as usize].global).collect();
    let failing_op = if verdict == Verdict::NotLinearizable {
        let mut placed = vec![false; s.ops.len()];
        for &l in &s.best {
            placed[l as usize] = true;
        }
        // A read found impossible right after the prefix is the culprit. Otherwise take
        // the first unplaced completed op: ops are sorted by call, so it has the earliest
        // call (and could come next as far as real time goes).
        let blocker = Some(s.best_blocker).filter(|&b| b != NONE);
        blocker
            .or_else(|| {
                (0..s.ops.len() as u32)
                    .find(|&l| !placed[l as usize] && s.ops[l as usize].ret.is_some())
            })
            .map(|l| s.ops[l as usize].global)
    } else {
        None
    };
    KeyResult {
        key: key.to_string(),
        verdict,
        linearization,
        failing_op,
        steps: s.steps,
        memo_entries: s.memo.len,
    }
}

// ---------------------------------------------------------------------------------------
// Building blocks.

/// Finalizer of SplitMix64: a strong 64-bit mixing function.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Open-addressing set of 128-bit fingerprints, growing up to a fixed entry cap.
struct Memo {
    slots: Vec<[u64; 2]>,
    len: usize,
    cap: usize,
}

impl Memo {
    fn new(cap: usize) -> Memo {
        Memo {
            slots: vec![[0; 2]; 1024],
            len: 0,
            cap,
        }
    }

    /// Records `fp`; returns false if it was already recorded. When full, only looks up.
    fn visit(&mut self, fp: [u64; 2]) -> bool {
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

/// Read-only byte trie of a set of strings, nodes numbered in preorder (node 0 is the
/// empty string), so the subtree of node `x` is exactly `x .. x + size[x]`.
struct Trie {
    /// Byte on the edge into each node.
    byte: Vec<u8>,
    /// Number of nodes in each subtree.
    size: Vec<u32>,
    /// Length of the string each node spells.
    depth: Vec<u32>,
    /// Parent of each node (u32::MAX for the root).
    parent: Vec<u32>,
    /// Items ending at node `x` are `tags[tag_start[x]..tag_start[x + 1]]`.
    tag_start: Vec<u32>,
    tags: Vec<u32>,
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
    fn build(items: &[(&[u8], u32)]) -> (Trie, Vec<u32>) {
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
    fn child(&self, x: u32, b: u8) -> Option<u32> {
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
    fn walk(&self, mut x: u32, s: &[u8]) -> Option<u32> {
        for &b in s {
            x = self.child(x, b)?;
        }
        Some(x)
    }

    /// Is the string of `a` a prefix of the string of `b`?
    fn is_prefix(&self, a: u32, b: u32) -> bool {
        a <= b && b < a + self.size[a as usize]
    }

    fn tags(&self, x: u32) -> &[u32] {
        &self.tags[self.tag_start[x as usize] as usize..self.tag_start[x as usize + 1] as usize]
    }
}

/// Fenwick (binary indexed) tree of counts over positions `0..n`.
struct Fenwick {
    tree: Vec<i32>,
}

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick {
            tree: vec![0; n + 1],
        }
    }

    fn add(&mut self, pos: u32, delta: i32) {
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
    fn sum(&self, start: u32, end: u32) -> i32 {
        self.prefix(end) - self.prefix(start)
    }
}

// ---------------------------------------------------------------------------------------
// The search.

/// Model value that no pending Get can read, now or after more appends.
const UNREADABLE: u32 = u32::MAX;
const NONE: u32 = u32::MAX;

/// How many pending reads called after the real-time limit are checked for
/// reachability per node, besides all those called before it.
const EXTRA_READS: usize = 4;

/// One operation of the key under search.
struct SOp<'a> {
    global: usize,
    kind: OpKind,
    arg: &'a [u8],
    output: &'a [u8],
    call: u64,
    ret: Option<u64>,
    /// Zobrist key, XORed into the fingerprint of every set containing the op.
    zob: [u64; 2],
    /// Get: node of its output. Put: node of its value, or UNREADABLE.
    node: u32,
}

/// What to do at a freshly entered search node.
enum Entry {
    /// Some pending read can no longer be satisfied: backtrack.
    Dead,
    /// Try the candidates one by one.
    Free,
    /// Linearize this op (a read of the current value, or a blind write while the value
    /// is unreadable) and nothing else: that loses no solution.
    Forced(u32),
}

/// Undo record for one linearized operation.
struct Frame {
    op: u32,
    /// Linearized by a reduction ([`Entry::Forced`]): no alternatives to try at its node.
    forced: bool,
    old_value: u32,
    /// Real-time limit of the parent node (see `Search::limit`).
    limit: u64,
}

struct Search<'a> {
    ops: Vec<SOp<'a>>,
    /// Prefix trie of all Get outputs: model values are its nodes.
    outputs: Trie,
    /// Trie of the non-empty Append values, tagged with their ops.
    appends: Trie,
    /// Per Get: the Puts that could come before it and whose value starts its output.
    resets: Vec<Vec<u32>>,
    // All event lists share the `next`/`prev`/`ev_*` arrays. Entry 0 heads the known
    // list (call and return events of ops with a known outcome, by time), `tail_k` ends
    // it. Two more lists hold one entry per op, by call time: the unknown-outcome ops
    // (`head_u`..`tail_u`) and the pending completed Gets (`head_g`).
    next: Vec<u32>,
    prev: Vec<u32>,
    ev_op: Vec<u32>,
    ev_ret: Vec<bool>,
    ev_time: Vec<u64>,
    /// Per op: its call event (in the known or the unknown list).
    call_ev: Vec<u32>,
    /// Per op: its return event, or NONE when the outcome is unknown.
    ret_ev: Vec<u32>,
    /// Per Get: its entry in the Get list.
    get_ev: Vec<u32>,
    tail_k: u32,
    head_u: u32,
    tail_u: u32,
    head_g: u32,
    /// Per op: linearized already?
    placed: Vec<bool>,
    /// Per Append: its value occurs in no Get output, so after it the value stays
    /// unreadable until the next Put.
    unseen: Vec<bool>,
    /// Pending Gets counted at the `outputs` node of their output: a value is live
    /// while some pending Get's output has it as a prefix.
    readers: Fenwick,
    /// Reused buffer of [`Search::completable`].
    scratch: Vec<bool>,
    /// Completed ops not yet linearized.
    remaining: usize,
    /// Time of the first pending return: only ops called at or before it may come next.
    limit: u64,
    /// The model: the key's value as a node of `outputs`, or UNREADABLE.
    value: u32,
    /// XOR of the Zobrist keys of linearized ops.
    set_key: [u64; 2],
    stack: Vec<Frame>,
    /// Deepest stack seen (ops in linearization order).
    best: Vec<u32>,
    /// Length of the common prefix of `best` and the stack (so updating `best` only
    /// copies the part that differs).
    common: usize,
    /// True while the current stack is `best`.
    at_best: bool,
    /// The pending Get found unreachable right after `best`, if that is why it failed.
    best_blocker: u32,
    memo: Memo,
    steps: u64,
    max_steps: u64,
}

impl<'a> Search<'a> {
    fn new(h: &'a History, chosen: &[usize], opts: &CheckOptions) -> Search<'a> {
        let mut seed = 0x6A09_E667_F3BC_C908u64;
        let mut rand = || {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix64(seed)
        };
        let mut ops: Vec<SOp> = chosen
            .iter()
            .map(|&g| {
                let op = &h.ops[g];
                SOp {
                    global: g,
                    kind: op.kind,
                    arg: op.value.as_bytes(),
                    output: op.output.as_deref().unwrap_or("").as_bytes(),
                    call: op.call,
                    // A reply before the call is malformed; treat it as instantaneous.
                    ret: op.ret.map(|r| r.max(op.call)),
                    zob: [rand(), rand()],
                    node: UNREADABLE,
                }
            })
            .collect();
        let n = ops.len();
        let of_kind = |k: OpKind| -> Vec<u32> {
            (0..n as u32)
                .filter(|&i| ops[i as usize].kind == k)
                .collect()
        };
        let (gets, puts, apps) = (
            of_kind(OpKind::Get),
            of_kind(OpKind::Put),
            of_kind(OpKind::Append),
        );

        let items: Vec<(&[u8], u32)> = gets.iter().map(|&g| (ops[g as usize].output, g)).collect();
        let (outputs, nodes) = Trie::build(&items);
        for (k, &g) in gets.iter().enumerate() {
            ops[g as usize].node = nodes[k];
        }
        for &p in &puts {
            ops[p as usize].node = outputs.walk(0, ops[p as usize].arg).unwrap_or(UNREADABLE);
        }
        let items: Vec<(&[u8], u32)> = apps
            .iter()
            .filter(|&&a| !ops[a as usize].arg.is_empty())
            .map(|&a| (ops[a as usize].arg, a))
            .collect();
        let (appends, _) = Trie::build(&items);
        // An Append is seen by some Get iff its value ends at some node of `outputs`:
        // walk up from every node through the trie of reversed Append values.
        let reversed: Vec<Vec<u8>> = items
            .iter()
            .map(|(v, _)| v.iter().rev().copied().collect())
            .collect();
        let rev_items: Vec<(&[u8], u32)> = reversed
            .iter()
            .zip(&items)
            .map(|(r, &(_, a))| (r.as_slice(), a))
            .collect();
        let (rev, _) = Trie::build(&rev_items);
        let mut seen = vec![false; n];
        for x in 1..outputs.byte.len() as u32 {
            let (mut y, mut r) = (x, 0u32);
            while y != 0 {
                match rev.child(r, outputs.byte[y as usize]) {
                    Some(c) => r = c,
                    None => break,
                }
                for &a in rev.tags(r) {
                    seen[a as usize] = true;
                }
                y = outputs.parent[y as usize];
            }
        }
        let unseen: Vec<bool> = (0..n)
            .map(|i| ops[i].kind == OpKind::Append && !ops[i].arg.is_empty() && !seen[i])
            .collect();
        let mut readers = Fenwick::new(outputs.byte.len());
        for &g in &gets {
            readers.add(ops[g as usize].node, 1);
        }
        // The Gets whose output a Put's value starts are those in its node's subtree.
        let mut resets = vec![Vec::new(); n];
        let mut by_node: Vec<(u32, u32)> =
            gets.iter().map(|&g| (ops[g as usize].node, g)).collect();
        by_node.sort_unstable();
        for &p in &puts {
            let put = &ops[p as usize];
            if put.node == UNREADABLE {
                continue;
            }
            let end = put.node + outputs.size[put.node as usize];
            let lo = by_node.partition_point(|&(x, _)| x < put.node);
            let hi = by_node.partition_point(|&(x, _)| x < end);
            for &(_, g) in &by_node[lo..hi] {
                if ops[g as usize].ret.is_none_or(|r| put.call <= r) {
                    resets[g as usize].push(p);
                }
            }
        }

        // Known events sorted by (time, calls before returns, op); `ops` is by call.
        let mut known: Vec<(u64, bool, u32)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if let Some(r) = op.ret {
                known.push((op.call, false, i as u32));
                known.push((r, true, i as u32));
            }
        }
        known.sort();
        let unknown: Vec<(u64, bool, u32)> = (0..n as u32)
            .filter(|&i| ops[i as usize].ret.is_none())
            .map(|i| (ops[i as usize].call, false, i))
            .collect();
        let get_items: Vec<(u64, bool, u32)> = gets
            .iter()
            .map(|&g| (ops[g as usize].call, false, g))
            .collect();

        let total = known.len() + unknown.len() + get_items.len() + 6;
        let mut s = Search {
            remaining: known.len() / 2,
            ops,
            outputs,
            appends,
            resets,
            next: vec![NONE; total],
            prev: vec![NONE; total],
            ev_op: vec![NONE; total],
            ev_ret: vec![false; total],
            ev_time: vec![u64::MAX; total],
            call_ev: vec![NONE; n],
            ret_ev: vec![NONE; n],
            get_ev: vec![NONE; n],
            tail_k: 0,
            head_u: 0,
            tail_u: 0,
            head_g: 0,
            placed: vec![false; n],
            unseen,
            readers,
            scratch: Vec::new(),
            limit: u64::MAX,
            value: 0,
            set_key: [0; 2],
            stack: Vec::new(),
            best: Vec::new(),
            common: 0,
            at_best: true,
            best_blocker: NONE,
            memo: Memo::new(opts.max_memo.max(1)),
            steps: 0,
            max_steps: opts.max_steps,
        };
        let mut free = 0u32;
        let (_, tail_k) = s.build_list(&mut free, &known, |s, op, e, is_ret| {
            if is_ret {
                s.ret_ev[op] = e;
            } else {
                s.call_ev[op] = e;
            }
        });
        let (head_u, tail_u) = s.build_list(&mut free, &unknown, |s, op, e, _| s.call_ev[op] = e);
        let (head_g, _) = s.build_list(&mut free, &get_items, |s, op, e, _| s.get_ev[op] = e);
        (s.tail_k, s.head_u, s.tail_u, s.head_g) = (tail_k, head_u, tail_u, head_g);
        s
    }

    /// Allocates a list head, one entry per `(time, is_return, op)` item and a tail
    /// starting at entry `free`, chains them, and calls `note` for each item's entry.
    fn build_list(
        &mut self,
        free: &mut u32,
        items: &[(u64, bool, u32)],
        note: impl Fn(&mut Self, usize, u32, bool),
    ) -> (u32, u32) {
        let head = *free;
        let mut p = head;
        for &(t, is_ret, op) in items {
            let e = p + 1;
            self.ev_op[e as usize] = op;
            self.ev_ret[e as usize] = is_ret;
            self.ev_time[e as usize] = t;
            note(self, op as usize, e, is_ret);
            self.next[p as usize] = e;
            self.prev[e as usize] = p;
            p = e;
        }
        let tail = p + 1;
        self.next[p as usize] = tail;
        self.prev[tail as usize] = p;
        *free = tail + 1;
        (head, tail)
    }

    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        self.prev[n as usize] = e;
    }

    /// Removes op `i`'s events from the lists (it has been linearized).
    fn lift(&mut self, i: u32) {
        self.placed[i as usize] = true;
        self.unlink(self.call_ev[i as usize]);
        let r = self.ret_ev[i as usize];
        if r != NONE {
            self.unlink(r);
            self.remaining -= 1;
        }
        let g = self.get_ev[i as usize];
        if g != NONE {
            self.unlink(g);
            self.readers.add(self.ops[i as usize].node, -1);
        }
    }

    /// Undoes [`Search::lift`] (entries are restored in the reverse order).
    fn unlift(&mut self, i: u32) {
        self.placed[i as usize] = false;
        let g = self.get_ev[i as usize];
        if g != NONE {
            self.relink(g);
            self.readers.add(self.ops[i as usize].node, 1);
        }
        let r = self.ret_ev[i as usize];
        if r != NONE {
            self.relink(r);
            self.remaining += 1;
        }
        self.relink(self.call_ev[i as usize]);
    }

    /// The value after applying op `i` to the current value.
    fn apply(&self, i: u32) -> u32 {
        let op = &self.ops[i as usize];
        match op.kind {
            OpKind::Get => self.value,
            OpKind::Put => op.node,
            OpKind::Append if self.value == UNREADABLE => UNREADABLE,
            OpKind::Append => self.outputs.walk(self.value, op.arg).unwrap_or(UNREADABLE),
        }
    }

    /// False if pending read `g` can no longer return its output: starting from the
    /// current value, or from a pending Put that could precede `g` and starts its
    /// output, the rest of the output must be a concatenation of values of pending
    /// Appends that could precede `g` (reuse allowed, so this never rejects too much).
    fn reachable(&mut self, g: u32) -> bool {
        let node = self.ops[g as usize].node;
        if self.value != UNREADABLE
            && self.outputs.is_prefix(self.value, node)
            && self.completable(g, self.value)
        {
            return true;
        }
        for k in 0..self.resets[g as usize].len() {
            let p = self.resets[g as usize][k];
            if !self.placed[p as usize] && self.completable(g, self.ops[p as usize].node) {
                return true;
            }
        }
        false
    }

    /// Can the output of Get `g` be spelled from `from` (a node on its path) by pending
    /// Appends called before `g` returned?
    fn completable(&mut self, g: u32, from: u32) -> bool {
        let op = &self.ops[g as usize];
        let ret = op.ret.unwrap_or(u64::MAX);
        let rest = &op.output[self.outputs.depth[from as usize] as usize..];
        if rest.is_empty() {
            return true;
        }
        // reach[p]: rest[..p] can be spelled.
        let mut reach = std::mem::take(&mut self.scratch);
        reach.clear();
        reach.resize(rest.len() + 1, false);
        reach[0] = true;
        for p in 0..rest.len() {
            if !reach[p] {
                continue;
            }
            let mut x = 0;
            for (d, &b) in rest[p..].iter().enumerate() {
                match self.appends.child(x, b) {
                    Some(c) => x = c,
                    None => break,
                }
                let usable = self
                    .appends
                    .tags(x)
                    .iter()
                    .any(|&a| !self.placed[a as usize] && self.ops[a as usize].call <= ret);
                if usable {
                    reach[p + d + 1] = true;
                }
            }
        }
        let ok = reach[rest.len()];
        self.scratch = reach;
        ok
    }

    /// Tries to linearize op `i` next (Put or Append, or a matching Get when `forced`).
    /// Returns false if that state was explored before.
    fn push(&mut self, i: u32, forced: bool) -> bool {
        let op = &self.ops[i as usize];
        let set_key = [self.set_key[0] ^ op.zob[0], self.set_key[1] ^ op.zob[1]];
        let value = self.apply(i);
        self.lift(i);
        // A value no pending Get can read (or extend towards its output) behaves like
        // any other such value: merge them all into UNREADABLE.
        let value = if self.live(value) { value } else { UNREADABLE };
        let v = value as u64;
        let fp = [
            set_key[0] ^ mix64(v ^ 0x5851_F42D_4C95_7F2D),
            set_key[1] ^ mix64(v.wrapping_add(0x1405_7B7E_F767_814F)),
        ];
        if !self.memo.visit(fp) {
            self.unlift(i);
            return false;
        }
        self.stack.push(Frame {
            op: i,
            forced,
            old_value: self.value,
            limit: self.limit,
        });
        self.value = value;
        self.set_key = set_key;
        let depth = self.stack.len();
        if depth > self.best.len() {
            self.best.truncate(self.common);
            self.best
                .extend(self.stack[self.common..].iter().map(|f| f.op));
            self.common = depth;
            self.best_blocker = NONE;
        } else if self.common == depth - 1 && self.best[depth - 1] == i {
            self.common = depth;
        }
        self.at_best = self.common == depth && depth == self.best.len();
        true
    }

    /// Can some pending Get still read value `x` or an extension of it?
    fn live(&self, x: u32) -> bool {
        x != UNREADABLE && self.readers.sum(x, x + self.outputs.size[x as usize]) > 0
    }

    /// Is op `i` a write that keeps an unreadable value unreadable and whose effect no
    /// pending Get can see? (A Put of a value no pending Get can read, or an Append whose
    /// value occurs in no output.)
    fn blind(&self, i: u32) -> bool {
        let op = &self.ops[i as usize];
        match op.kind {
            OpKind::Get => false,
            OpKind::Put => !self.live(op.node),
            OpKind::Append => self.unseen[i as usize],
        }
    }

    /// Undoes the last push; returns its frame.
    fn pop(&mut self) -> Option<Frame> {
        let f = self.stack.pop()?;
        self.at_best = false;
        self.common = self.common.min(self.stack.len());
        let op = &self.ops[f.op as usize];
        self.set_key[0] ^= op.zob[0];
        self.set_key[1] ^= op.zob[1];
        self.value = f.old_value;
        self.limit = f.limit;
        self.unlift(f.op);
        Some(f)
    }

    /// Counts a step; false when the budget is exhausted.
    fn step(&mut self) -> bool {
        self.steps += 1;
        self.steps <= self.max_steps
    }

    /// Runs the depth-first search to a verdict.
    fn run(&mut self) -> Verdict {
        // `cursor` is the next candidate event at the current node; NONE: a fresh node.
        let mut cursor = NONE;
        loop {
            if self.remaining == 0 {
                self.best = self.stack.iter().map(|f| f.op).collect();
                return Verdict::Linearizable;
            }
            if cursor == NONE {
                if !self.step() {
                    return Verdict::Undecided;
                }
                match self.enter() {
                    Entry::Free => {
                        cursor = self.next[0];
                        continue;
                    }
                    Entry::Forced(i) => {
                        if self.push(i, true) {
                            continue; // cursor stays NONE: a fresh node
                        }
                        // That state was explored before, so this node fails as well.
                    }
                    Entry::Dead => {}
                }
                match self.backtrack() {
                    Some(c) => cursor = c,
                    None => return Verdict::NotLinearizable,
                }
                continue;
            }
            // Next candidate: known calls before the first return, then unknown calls
            // within the limit.
            let mut e = cursor;
            if e < self.tail_k && self.ev_ret[e as usize] {
                e = self.next[self.head_u as usize];
            }
            let is_candidate =
                e < self.tail_k || (e != self.tail_u && self.ev_time[e as usize] <= self.limit);
            if !is_candidate {
                match self.backtrack() {
                    Some(c) => cursor = c,
                    None => return Verdict::NotLinearizable,
                }
                continue;
            }
            cursor = self.next[e as usize];
            let i = self.ev_op[e as usize];
            if self.ops[i as usize].kind == OpKind::Get {
                // Reads were all checked on entering the node and none matched.
                continue;
            }
            if !self.step() {
                return Verdict::Undecided;
            }
            if self.push(i, false) {
                cursor = NONE;
            }
        }
    }

    /// Prepares a freshly entered node: sets the real-time limit, checks that the
    /// earliest pending reads can still be satisfied, and looks for an op that can be
    /// linearized at once without losing any solution.
    fn enter(&mut self) -> Entry {
        let mut e = self.next[0];
        let mut forced = NONE;
        while !self.ev_ret[e as usize] {
            let i = self.ev_op[e as usize];
            let op = &self.ops[i as usize];
            if forced == NONE && op.kind == OpKind::Get && op.node == self.value {
                forced = i;
            }
            e = self.next[e as usize];
        }
        // remaining > 0, so a return event ends the candidates.
        self.limit = self.ev_time[e as usize];
        if forced == NONE && self.value == UNREADABLE {
            forced = self.blind_candidate();
        }
        let mut g = self.next[self.head_g as usize];
        let mut extra = 0;
        loop {
            let i = self.ev_op[g as usize];
            if i == NONE {
                break; // the list's tail
            }
            if self.ev_time[g as usize] > self.limit {
                if extra == EXTRA_READS {
                    break;
                }
                extra += 1;
            }
            if !self.reachable(i) {
                if self.at_best {
                    self.best_blocker = i;
                }
                return Entry::Dead;
            }
            g = self.next[g as usize];
        }
        if forced == NONE {
            Entry::Free
        } else {
            Entry::Forced(forced)
        }
    }

    /// A pending blind write that may come next. When the value is unreadable, doing it
    /// at once is safe: in any valid continuation it can be moved to the front (it keeps
    /// the value unreadable, and no Get can come between its old place and the next
    /// Put), or inserted at the front if the continuation left it out.
    fn blind_candidate(&self) -> u32 {
        let mut e = self.next[0];
        while !self.ev_ret[e as usize] {
            let i = self.ev_op[e as usize];
            if self.blind(i) {
                return i;
            }
            e = self.next[e as usize];
        }
        let mut e = self.next[self.head_u as usize];
        while e != self.tail_u && self.ev_time[e as usize] <= self.limit {
            let i = self.ev_op[e as usize];
            if self.blind(i) {
                return i;
            }
            e = self.next[e as usize];
        }
        NONE
    }

    /// Undoes linearized ops up to the nearest node with alternatives left; returns the
    /// cursor to resume there, or None when the whole search space failed.
    fn backtrack(&mut self) -> Option<u32> {
        loop {
            let f = self.pop()?;
            if !f.forced {
                return Some(self.next[self.call_ev[f.op as usize] as usize]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::generate::{GenOptions, inject_stale_read, random_history};
    use super::super::history::{History, Op, OpKind, parse_json};
    use super::*;

    fn op(client: u64, kind: OpKind, arg: &str, call: u64, ret: Option<u64>) -> Op {
        let (value, output) = match kind {
            OpKind::Get => (String::new(), Some(arg.to_string())),
            _ => (arg.to_string(), None),
        };
        Op {
            client,
            kind,
            key: "k".into(),
            value,
            output,
            call,
            ret,
        }
    }
    fn put(c: u64, v: &str, call: u64, ret: u64) -> Op {
        op(c, OpKind::Put, v, call, Some(ret))
    }
    fn app(c: u64, v: &str, call: u64, ret: u64) -> Op {
        op(c, OpKind::Append, v, call, Some(ret))
    }
    fn get(c: u64, out: &str, call: u64, ret: u64) -> Op {
        op(c, OpKind::Get, out, call, Some(ret))
    }
    /// An op whose reply never came.
    fn lost(mut o: Op) -> Op {
        o.ret = None;
        o
    }
    fn run(ops: Vec<Op>) -> KeyResult {
        let h = History {
            ops,
            annotations: vec![],
            time_unit: None,
        };
        let r = check(&h, &CheckOptions::default());
        assert_eq!(r.keys.len(), 1);
        assert_eq!(r.verdict, r.keys[0].verdict);
        r.keys[0].clone()
    }
    fn verdict(ops: Vec<Op>) -> Verdict {
        run(ops).verdict
    }
    use Verdict::{Linearizable as Lin, NotLinearizable as NotLin};

    #[test]
    fn sequential_ok() {
        let r = run(vec![
            get(0, "", 0, 1),
            put(0, "a", 2, 3),
            app(1, "b", 4, 5),
            get(2, "ab", 6, 7),
            app(0, "c", 8, 9),
            get(1, "abc", 10, 11),
        ]);
        assert_eq!(r.verdict, Lin);
        assert_eq!(r.linearization, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(r.failing_op, None);
    }

    #[test]
    fn concurrent_ok_needs_reordering() {
        // b is called after a but must take effect first.
        let r = run(vec![
            app(0, "a", 0, 10),
            app(1, "b", 5, 15),
            get(2, "b", 6, 30),
            get(3, "ba", 20, 30),
        ]);
        assert_eq!(r.verdict, Lin);
        assert_eq!(r.linearization, vec![1, 2, 0, 3]);
        // A read concurrent with a write may see either value.
        assert_eq!(verdict(vec![app(0, "a", 0, 10), get(1, "", 5, 6)]), Lin);
        assert_eq!(verdict(vec![app(0, "a", 0, 10), get(1, "a", 5, 6)]), Lin);
    }

    #[test]
    fn stale_read() {
        let r = run(vec![
            put(0, "a", 0, 10),
            put(1, "b", 20, 30),
            get(2, "a", 40, 50),
        ]);
        assert_eq!(r.verdict, NotLin);
        assert_eq!(r.linearization, vec![0, 1]);
        assert_eq!(r.failing_op, Some(2));
    }

    #[test]
    fn lost_append() {
        let r = run(vec![
            app(0, "x", 0, 10),
            app(1, "y", 20, 30),
            get(2, "y", 40, 50),
        ]);
        assert_eq!(r.verdict, NotLin);
        assert_eq!(r.failing_op, Some(2));
    }

    #[test]
    fn duplicated_append() {
        assert_eq!(
            verdict(vec![app(0, "x", 0, 10), get(1, "xx", 20, 30)]),
            NotLin
        );
        assert_eq!(
            verdict(vec![
                app(0, "x", 0, 10),
                app(2, "x", 5, 12),
                get(1, "xx", 20, 30)
            ]),
            Lin
        );
    }

    #[test]
    fn put_overwrites() {
        let base = || vec![app(0, "a", 0, 1), put(1, "b", 2, 3), app(2, "c", 4, 5)];
        let mut ok = base();
        ok.push(get(3, "bc", 6, 7));
        assert_eq!(verdict(ok), Lin);
        let mut bad = base();
        bad.push(get(3, "abc", 6, 7));
        assert_eq!(verdict(bad), NotLin);
    }

    #[test]
    fn unknown_outcome_ops() {
        // A lost append that took effect...
        assert_eq!(
            verdict(vec![lost(app(0, "x", 0, 0)), get(1, "x", 10, 20)]),
            Lin
        );
        // ...and one that did not (or not yet).
        assert_eq!(
            verdict(vec![
                lost(app(0, "x", 0, 0)),
                get(1, "", 10, 20),
                get(1, "x", 30, 40)
            ]),
            Lin
        );
        assert_eq!(
            verdict(vec![lost(app(0, "x", 0, 0)), get(1, "", 10, 20)]),
            Lin
        );
        // A value only a lost put could have written.
        assert_eq!(
            verdict(vec![
                put(0, "a", 0, 5),
                lost(put(1, "z", 6, 0)),
                get(2, "z", 50, 60)
            ]),
            Lin
        );
        // But not before it was called, and not a value nobody wrote.
        assert_eq!(
            verdict(vec![get(2, "z", 0, 5), lost(put(1, "z", 6, 0))]),
            NotLin
        );
        assert_eq!(
            verdict(vec![lost(put(1, "z", 0, 0)), get(2, "q", 10, 20)]),
            NotLin
        );
        // A lost append takes effect at most once.
        assert_eq!(
            verdict(vec![lost(app(1, "x", 0, 0)), get(2, "xx", 10, 20)]),
            NotLin
        );
        // Lost gets are ignored, whatever they claim.
        let mut g = lost(get(1, "nonsense", 0, 0));
        g.output = Some("nonsense".into());
        assert_eq!(verdict(vec![g, get(2, "", 10, 20)]), Lin);
    }

    #[test]
    fn keys_are_independent_and_sorted() {
        let mut a = put(0, "1", 0, 5);
        a.key = "b".into();
        let mut b = get(1, "2", 10, 20);
        b.key = "b".into();
        let c = get(2, "", 0, 5);
        let h = History {
            ops: vec![a, b, c],
            annotations: vec![],
            time_unit: None,
        };
        let r = check(&h, &CheckOptions::default());
        assert_eq!(r.verdict, NotLin);
        assert_eq!(r.keys[0].key, "b");
        assert_eq!(r.keys[0].verdict, NotLin);
        assert_eq!(r.key("k").unwrap().verdict, Lin);
        assert_eq!(
            check(&History::default(), &CheckOptions::default()).verdict,
            Lin
        );
    }

    #[test]
    fn json_round_trip() {
        let s = r#"{"ops": [
            {"client":1,"kind":"append","key":"k","value":"x","output":null,"call":10,"ret":25},
            {"client":2,"kind":"get","key":"k","value":"","output":"x","call":30,"ret":31},
            {"client":3,"kind":"put","key":"j","value":"v","call":5,"ret":null}],
          "annotations": [{"time": 100, "text": "partition [0,1] [2,3,4]"},
                          {"time": 10, "end": 40, "text": "crash 2"}]}"#;
        let h = parse_json(s).unwrap();
        assert_eq!(h.ops.len(), 3);
        assert_eq!(h.ops[2].ret, None);
        assert_eq!(h.annotations[1].end, Some(40));
        let again = parse_json(&h.to_json()).unwrap();
        assert_eq!(h, again);
        let e = parse_json("{\"ops\": [\n{\"client\": 1}]}").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_json(r#"{"ops":[{"client":1,"kind":"get","key":"k","call":9,"ret":3}]}"#)
            .unwrap_err();
        assert!(e.message.contains("before call"), "{e}");
    }

    fn stale(seed: u64, clients: usize, keys: usize, key: &str) -> (History, usize) {
        let mut h = random_history(&GenOptions {
            seed,
            clients,
            keys,
            ..GenOptions::default()
        });
        let g = inject_stale_read(&mut h, key).expect("a stale read can be injected");
        (h, g)
    }

    #[test]
    fn budget_exhaustion_is_deterministic() {
        let (h, _) = stale(7, 50, 2, "k1");
        let opts = CheckOptions {
            max_steps: 2000,
            ..CheckOptions::default()
        };
        let a = check(&h, &opts);
        let b = check(&h, &opts);
        assert_eq!(a, b);
        assert_eq!(a.verdict, Verdict::Undecided);
        assert!(a.keys.iter().all(|k| k.steps <= 2001));
        assert!(a.keys.iter().all(|k| k.failing_op.is_none()));
    }

    #[test]
    fn generated_history_is_linearizable() {
        for seed in 1..4 {
            let h = random_history(&GenOptions {
                seed,
                ..GenOptions::default()
            });
            assert_eq!(h.ops.len(), 5000);
            let r = check(&h, &CheckOptions::default());
            assert_eq!(r.verdict, Lin, "seed {seed}");
            assert_eq!(r.keys.len(), 10);
            let total: usize = r.keys.iter().map(|k| k.linearization.len()).sum();
            assert_eq!(total, 5000);
        }
    }

    #[test]
    fn generated_history_with_lost_replies_is_linearizable() {
        let h = random_history(&GenOptions {
            seed: 11,
            unknown_percent: 5,
            ..GenOptions::default()
        });
        assert!(h.ops.iter().any(|o| o.ret.is_none()));
        assert_eq!(check(&h, &CheckOptions::default()).verdict, Lin);
    }

    #[test]
    fn injected_violation_found_on_exactly_that_key() {
        let (h, g) = stale(3, 50, 10, "k4");
        let r = check(&h, &CheckOptions::default());
        assert_eq!(r.verdict, NotLin);
        for k in &r.keys {
            let expect = if k.key == "k4" { NotLin } else { Lin };
            assert_eq!(k.verdict, expect, "key {}", k.key);
        }
        let k4 = r.key("k4").unwrap();
        let failing = k4.failing_op.unwrap();
        assert_eq!(h.ops[failing].key, "k4");
        assert!(h.ops[failing].call <= h.ops[g].call);
        assert!(!k4.linearization.contains(&failing));
    }

    #[test]
    fn tiny_memo_still_correct() {
        let h = random_history(&GenOptions {
            seed: 5,
            clients: 10,
            ops_per_client: 30,
            keys: 2,
            ..GenOptions::default()
        });
        let opts = CheckOptions {
            max_memo: 1,
            ..CheckOptions::default()
        };
        assert_eq!(check(&h, &opts).verdict, Lin);
        let mut bad = h.clone();
        inject_stale_read(&mut bad, "k0").unwrap();
        let r = check(&bad, &opts);
        assert_eq!(r.key("k0").unwrap().verdict, NotLin);
        assert_eq!(r.key("k1").unwrap().verdict, Lin);
    }

    /// Exhaustive reference: tries every order (and every subset of lost ops).
    fn brute_force(ops: &[Op]) -> bool {
        let ops: Vec<&Op> = ops
            .iter()
            .filter(|o| o.kind != OpKind::Get || (o.ret.is_some() && o.output.is_some()))
            .collect();
        fn go(ops: &[&Op], placed: &mut Vec<bool>, value: &str) -> bool {
            let pending_done = |placed: &[bool], j: usize| !placed[j] && ops[j].ret.is_some();
            if !(0..ops.len()).any(|j| pending_done(placed, j)) {
                return true;
            }
            for i in 0..ops.len() {
                if placed[i] {
                    continue;
                }
                // i may go next unless a pending completed op returned before its call.
                let blocked = (0..ops.len())
                    .any(|j| pending_done(placed, j) && ops[j].ret.unwrap() < ops[i].call);
                if blocked {
                    continue;
                }
                let next = match ops[i].kind {
                    OpKind::Get if ops[i].output.as_deref() != Some(value) => continue,
                    OpKind::Get => value.to_string(),
                    OpKind::Put => ops[i].value.clone(),
                    OpKind::Append => format!("{value}{}", ops[i].value),
                };
                placed[i] = true;
                let ok = go(ops, placed, &next);
                placed[i] = false;
                if ok {
                    return true;
                }
            }
            false
        }
        go(&ops, &mut vec![false; ops.len()], "")
    }

    #[test]
    fn matches_brute_force_on_small_random_histories() {
        let mut seed = 12345u64;
        let mut rnd = |n: u64| {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix64(seed) % n
        };
        let words = ["a", "b", "ab", "", "ba"];
        let (mut lin, mut not) = (0, 0);
        for _ in 0..4000 {
            let n = 2 + rnd(6) as usize;
            let mut ops = Vec::new();
            let mut value = String::new();
            for c in 0..n as u64 {
                let call = rnd(20);
                let ret = call + rnd(12);
                let kind = [OpKind::Get, OpKind::Put, OpKind::Append][rnd(3) as usize];
                let arg = words[rnd(words.len() as u64) as usize];
                let mut o = op(c, kind, arg, call, Some(ret));
                if kind == OpKind::Get {
                    // Usually a value some write sequence could produce.
                    let out = match rnd(4) {
                        0 => value.clone(),
                        1 => words[rnd(words.len() as u64) as usize].to_string(),
                        _ => format!("{value}{}", words[rnd(words.len() as u64) as usize]),
                    };
                    o.output = Some(out);
                } else if kind == OpKind::Put {
                    value = arg.to_string();
                } else {
                    value.push_str(arg);
                }
                if rnd(6) == 0 {
                    o.ret = None;
                }
                ops.push(o);
            }
            let expect = brute_force(&ops);
            let h = History {
                ops: ops.clone(),
                annotations: vec![],
                time_unit: None,
            };
            let got = check(&h, &CheckOptions::default()).verdict;
            assert_eq!(got == Lin, expect, "{ops:#?}");
            if expect {
                lin += 1;
            } else {
                not += 1;
            }
        }
        assert!(lin > 500 && not > 500, "{lin} {not}");
    }
}
