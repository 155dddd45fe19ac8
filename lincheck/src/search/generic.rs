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
    let n = ops.len();
    let head = n as u32;
    let mut by_call: Vec<u32> = (0..n as u32).collect();
    by_call.sort_by_key(|&i| (ops[i as usize].call, i));
    let mut by_ret: Vec<u32> = (0..n as u32)
        .filter(|&i| ops[i as usize].ret.is_some())
        .collect();
    by_ret.sort_by_key(|&i| (ops[i as usize].ret, i));
    let mut calls = Links::new(n, &by_call);
    let mut rets = Links::new(n, &by_ret);
    let mut seed = 0x6A09_E667_F3BC_C908u64;
    let zob: Vec<[u64; 2]> = (0..n)
        .map(|_| {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let a = mix64(seed);
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            [a, mix64(seed)]
        })
        .collect();
    let known = |i: u32| ops[i as usize].ret.is_some();
    let output = |i: u32| ops[i as usize].output.as_ref().filter(|_| known(i));
    let mut memo = Memo::new(opts.max_memo.max(1));
    let mut state = model.init();
    let mut set_key = [0u64; 2];
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let (mut best, mut common) = (Vec::<u32>::new(), 0usize);
    let mut steps = 0u64;
    // `cursor`: the next candidate at the current node, in call order.
    let mut cursor = calls.next[head as usize];
    let verdict = loop {
        if rets.next[head as usize] == head {
            best = stack.iter().map(|f| f.op).collect();
            break Verdict::Linearizable;
        }
        let first_ret = rets.next[head as usize];
        let limit = ops[first_ret as usize].ret.unwrap_or(u64::MAX);
        let candidate = cursor != head && ops[cursor as usize].call <= limit;
        if candidate {
            let i = cursor;
            cursor = calls.next[i as usize];
            steps += 1;
            if steps > opts.max_steps {
                break Verdict::Undecided;
            }
            let op = ops[i as usize];
            let Some(next) = model.step(&state, &op.input, output(i)) else {
                continue;
            };
            let key = [
                set_key[0] ^ zob[i as usize][0],
                set_key[1] ^ zob[i as usize][1],
            ];
            let h = state_hash(&next);
            if !memo.visit([key[0] ^ h[0], key[1] ^ h[1]]) {
                continue;
            }
            calls.unlink(i);
            if known(i) {
                rets.unlink(i);
            }
            set_key = key;
            stack.push(Frame {
                op: i,
                old_state: std::mem::replace(&mut state, next),
            });
            let depth = stack.len();
            if depth > best.len() {
                best.truncate(common);
                best.extend(stack[common..].iter().map(|f| f.op));
                common = depth;
            } else if common == depth - 1 && best[depth - 1] == i {
                common = depth;
            }
            cursor = calls.next[head as usize];
            continue;
        }
        // No candidate left here: undo the last op and try the one after it.
        let Some(f) = stack.pop() else {
            break Verdict::NotLinearizable;
        };
        common = common.min(stack.len());
        let i = f.op;
        state = f.old_state;
        set_key = [
            set_key[0] ^ zob[i as usize][0],
            set_key[1] ^ zob[i as usize][1],
        ];
        if known(i) {
            rets.relink(i);
        }
        calls.relink(i);
        cursor = calls.next[i as usize];
    };
    let failing_op = (verdict == Verdict::NotLinearizable)
        .then(|| {
            let mut placed = vec![false; n];
            for &l in &best {
                placed[l as usize] = true;
            }
            by_call
                .iter()
                .copied()
                .find(|&l| !placed[l as usize] && known(l))
        })
        .flatten()
        .map(|l| l as usize);
    Found {
        verdict,
        linearization: best.iter().map(|&l| l as usize).collect(),
        failing_op,
        steps,
        memo_entries: memo.len,
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
