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

use super::fenwick::Fenwick;
use super::trie::Trie;
use crate::check::{CheckOptions, Verdict};
use crate::history::{History, OpKind};
use crate::memo::{Memo, mix64};

/// What the search found for one key, in terms of `History::ops` indices.
pub(crate) struct Found {
    pub(crate) verdict: Verdict,
    /// The full linearization, or the deepest linearizable prefix reached.
    pub(crate) linearization: Vec<usize>,
    /// On a violation: the op that cannot come after `linearization`.
    pub(crate) failing_op: Option<usize>,
    pub(crate) steps: u64,
    pub(crate) memo_entries: usize,
}

/// Searches a linearization of the ops `chosen` of `h` (one key, sorted by call; Gets of
/// unknown outcome or result left out).
pub(crate) fn search(h: &History, chosen: &[usize], opts: &CheckOptions) -> Found {
    let mut s = Search::new(h, chosen, opts);
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
    Found {
        verdict,
        linearization,
        failing_op,
        steps: s.steps,
        memo_entries: s.memo.len,
    }
}

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
        let mut ops = search_ops(h, chosen);
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
        let (outputs, appends, unseen) = value_tries(&mut ops, &gets, &puts, &apps);
        let mut readers = Fenwick::new(outputs.byte.len());
        for &g in &gets {
            readers.add(ops[g as usize].node, 1);
        }
        let resets = resets(&ops, &outputs, &gets, &puts);
        let (known, unknown, get_items) = events(&ops, &gets);

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

/// The search's view of the ops `chosen` of `h`, each with its Zobrist key (values not yet
/// placed in the tries: `node` is UNREADABLE).
fn search_ops<'a>(h: &'a History, chosen: &[usize]) -> Vec<SOp<'a>> {
    let mut seed = 0x6A09_E667_F3BC_C908u64;
    let mut rand = || {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(seed)
    };
    chosen
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
        .collect()
}

/// The trie of the Gets' outputs (setting the node of each Get and Put), the trie of the
/// non-empty Append values, and which Appends no output can show.
fn value_tries(
    ops: &mut [SOp],
    gets: &[u32],
    puts: &[u32],
    apps: &[u32],
) -> (Trie, Trie, Vec<bool>) {
    let n = ops.len();
    let items: Vec<(&[u8], u32)> = gets.iter().map(|&g| (ops[g as usize].output, g)).collect();
    let (outputs, nodes) = Trie::build(&items);
    for (k, &g) in gets.iter().enumerate() {
        ops[g as usize].node = nodes[k];
    }
    for &p in puts {
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
    (outputs, appends, unseen)
}

/// Per Get: the Puts that could come before it and whose value starts its output.
fn resets(ops: &[SOp], outputs: &Trie, gets: &[u32], puts: &[u32]) -> Vec<Vec<u32>> {
    let n = ops.len();
    // The Gets whose output a Put's value starts are those in its node's subtree.
    let mut resets = vec![Vec::new(); n];
    let mut by_node: Vec<(u32, u32)> = gets.iter().map(|&g| (ops[g as usize].node, g)).collect();
    by_node.sort_unstable();
    for &p in puts {
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
    resets
}

/// A `(time, is_return, op)` item of an event list.
type EventItem = (u64, bool, u32);

/// The event lists' items: known calls and returns by (time, calls before returns, op), the
/// unknown-outcome ops' calls, and the Gets' calls (`ops` is by call).
fn events(ops: &[SOp], gets: &[u32]) -> (Vec<EventItem>, Vec<EventItem>, Vec<EventItem>) {
    let n = ops.len();
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
    (known, unknown, get_items)
}
