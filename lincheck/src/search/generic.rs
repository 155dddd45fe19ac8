//! The search for any [`Model`]: a Wing–Gong/Lowe depth-first search over one partition, like
//! porcupine's. The not-yet-linearized operations are kept in two doubly linked lists, by call
//! and (those with a known outcome) by return; an operation may come next if it was called
//! before the first pending return. States already explored (set of linearized operations and
//! model state, as a 128-bit fingerprint) are never explored again. An operation of unknown
//! outcome may take effect at any time after its call, or never. Work is counted in steps.

use crate::check::{CheckOptions, Verdict};
use crate::memo::{Memo, StateHasher, mix64};
use crate::model::{Model, Operation};
use std::hash::{Hash, Hasher};

const NONE: u32 = u32::MAX;

/// What the search found for one partition, in indices of the operations given.
pub(crate) struct Found {
    pub(crate) verdict: Verdict,
    /// The full linearization, or the deepest linearizable prefix reached.
    pub(crate) linearization: Vec<usize>,
    /// On a violation: the earliest-called completed op not in `linearization`.
    pub(crate) failing_op: Option<usize>,
    pub(crate) steps: u64,
    pub(crate) memo_entries: usize,
}

/// One linearized operation, with what undoes it.
struct Frame<S> {
    op: u32,
    old_state: S,
}

/// A doubly linked list over op indices, with entry `n` as its head and sentinel.
struct Links {
    next: Vec<u32>,
    prev: Vec<u32>,
}

impl Links {
    /// Chains `order` (op indices) after the head `n`.
    fn new(n: usize, order: &[u32]) -> Links {
        let mut l = Links {
            next: vec![NONE; n + 1],
            prev: vec![NONE; n + 1],
        };
        let head = n as u32;
        let mut p = head;
        for &i in order {
            l.next[p as usize] = i;
            l.prev[i as usize] = p;
            p = i;
        }
        l.next[p as usize] = head;
        l.prev[head as usize] = p;
        l
    }

    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    /// Undoes the last [`Links::unlink`] of `e` (lists are restored in reverse order).
    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        self.prev[n as usize] = e;
    }
}

/// Searches a linearization of `ops` (one partition) against `model`.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[&Operation<M::Input, M::Output>],
    opts: &CheckOptions,
) -> Found {
    let mut s = Search::new(model, ops, opts);
    let verdict = s.run();
    let failing_op = (verdict == Verdict::NotLinearizable)
        .then(|| s.first_left_out())
        .flatten();
    Found {
        verdict,
        linearization: s.best.iter().map(|&l| l as usize).collect(),
        failing_op,
        steps: s.steps,
        memo_entries: s.memo.len,
    }
}

/// The state of a search: the lists of pending ops, the linearized ones, the model state.
struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [&'a Operation<M::Input, M::Output>],
    /// Pending ops by call, and pending ops of known outcome by return; both headed by entry
    /// `ops.len()`.
    calls: Links,
    rets: Links,
    head: u32,
    /// Zobrist key of each op, XORed into the fingerprint of every set containing it.
    zob: Vec<[u64; 2]>,
    memo: Memo,
    state: M::State,
    /// XOR of the Zobrist keys of linearized ops.
    set_key: [u64; 2],
    stack: Vec<Frame<M::State>>,
    /// Deepest stack seen, and the length of its common prefix with the stack.
    best: Vec<u32>,
    common: usize,
    steps: u64,
    max_steps: u64,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(
        model: &'a M,
        ops: &'a [&'a Operation<M::Input, M::Output>],
        opts: &CheckOptions,
    ) -> Self {
        let n = ops.len();
        let mut by_call: Vec<u32> = (0..n as u32).collect();
        by_call.sort_by_key(|&i| (ops[i as usize].call, i));
        let mut by_ret: Vec<u32> = (0..n as u32)
            .filter(|&i| ops[i as usize].ret.is_some())
            .collect();
        by_ret.sort_by_key(|&i| (ops[i as usize].ret, i));
        let mut seed = 0x6A09_E667_F3BC_C908u64;
        let mut rand = || {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix64(seed)
        };
        let zob = (0..n).map(|_| [rand(), rand()]).collect();
        Search {
            model,
            ops,
            calls: Links::new(n, &by_call),
            rets: Links::new(n, &by_ret),
            head: n as u32,
            zob,
            memo: Memo::new(opts.max_memo.max(1)),
            state: model.init(),
            set_key: [0; 2],
            stack: Vec::new(),
            best: Vec::new(),
            common: 0,
            steps: 0,
            max_steps: opts.max_steps,
        }
    }

    fn known(&self, i: u32) -> bool {
        self.ops[i as usize].ret.is_some()
    }

    /// Runs the depth-first search to a verdict.
    fn run(&mut self) -> Verdict {
        // `cursor`: the next candidate at the current node, in call order.
        let mut cursor = self.calls.next[self.head as usize];
        loop {
            let first_ret = self.rets.next[self.head as usize];
            if first_ret == self.head {
                self.best = self.stack.iter().map(|f| f.op).collect();
                return Verdict::Linearizable;
            }
            // Only ops called before the first pending return may come next.
            let limit = self.ops[first_ret as usize].ret.unwrap_or(u64::MAX);
            if cursor != self.head && self.ops[cursor as usize].call <= limit {
                let i = cursor;
                cursor = self.calls.next[i as usize];
                self.steps += 1;
                if self.steps > self.max_steps {
                    return Verdict::Undecided;
                }
                if self.push(i) {
                    cursor = self.calls.next[self.head as usize];
                }
                continue;
            }
            // No candidate left here: undo the last op and try the one after it.
            match self.pop() {
                Some(i) => cursor = self.calls.next[i as usize],
                None => return Verdict::NotLinearizable,
            }
        }
    }

    /// Linearizes op `i` next if the model allows it and that state is new; says if it did.
    fn push(&mut self, i: u32) -> bool {
        let op = self.ops[i as usize];
        let output = op.output.as_ref().filter(|_| self.known(i));
        let Some(next) = self.model.step(&self.state, &op.input, output) else {
            return false;
        };
        let z = self.zob[i as usize];
        let key = [self.set_key[0] ^ z[0], self.set_key[1] ^ z[1]];
        let h = state_hash(&next);
        if !self.memo.visit([key[0] ^ h[0], key[1] ^ h[1]]) {
            return false;
        }
        self.calls.unlink(i);
        if self.known(i) {
            self.rets.unlink(i);
        }
        self.set_key = key;
        let old_state = std::mem::replace(&mut self.state, next);
        self.stack.push(Frame { op: i, old_state });
        let depth = self.stack.len();
        if depth > self.best.len() {
            self.best.truncate(self.common);
            self.best
                .extend(self.stack[self.common..].iter().map(|f| f.op));
            self.common = depth;
        } else if self.common == depth - 1 && self.best[depth - 1] == i {
            self.common = depth;
        }
        true
    }

    /// Undoes the last push; returns its op.
    fn pop(&mut self) -> Option<u32> {
        let f = self.stack.pop()?;
        self.common = self.common.min(self.stack.len());
        let i = f.op;
        self.state = f.old_state;
        let z = self.zob[i as usize];
        self.set_key = [self.set_key[0] ^ z[0], self.set_key[1] ^ z[1]];
        if self.known(i) {
            self.rets.relink(i);
        }
        self.calls.relink(i);
        Some(i)
    }

    /// The earliest-called op of known outcome that the deepest prefix left out (when the
    /// search failed, every op is back in the call list, in call order).
    fn first_left_out(&self) -> Option<usize> {
        let mut placed = vec![false; self.ops.len()];
        for &l in &self.best {
            placed[l as usize] = true;
        }
        let mut e = self.calls.next[self.head as usize];
        while e != self.head {
            if !placed[e as usize] && self.known(e) {
                return Some(e as usize);
            }
            e = self.calls.next[e as usize];
        }
        None
    }
}

/// A 128-bit hash of a model state (two differently seeded deterministic hashers).
fn state_hash<S: Hash>(s: &S) -> [u64; 2] {
    let mut a = StateHasher::new(0x243F_6A88_85A3_08D3);
    let mut b = StateHasher::new(0x1319_8A2E_0370_7344);
    s.hash(&mut a);
    s.hash(&mut b);
    [a.finish(), b.finish()]
}
