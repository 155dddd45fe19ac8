//! Random linearizable histories, produced by simulating a correct key/value store.
//!
//! Used by the tests and the benchmark, and handy for testing a visualization or the
//! checker's speed. Every operation takes effect at a random instant between its call
//! and its return, so the result is linearizable by construction.

use crate::history::{History, Op, OpKind};
use crate::model::{KvInput, KvModel, Model};

/// Shape of a generated history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// Seed of the deterministic random generator.
    pub seed: u64,
    /// Number of concurrent clients; each runs its operations one after another.
    pub clients: usize,
    /// Operations issued by each client.
    pub ops_per_client: usize,
    /// Number of keys (named `k0`, `k1`, ...), chosen uniformly per operation.
    pub keys: usize,
    /// Upper bound on each half of an operation's latency (call to effect, effect to reply).
    pub max_latency: u64,
    /// Upper bound on a client's pause between a reply and its next call.
    pub max_think: u64,
    /// Percentage of operations that are Gets.
    pub get_percent: u32,
    /// Percentage of operations that are Puts (the rest are Appends).
    pub put_percent: u32,
    /// Percentage of operations whose reply is lost (outcome unknown); half of those
    /// take effect, half do not.
    pub unknown_percent: u32,
}

impl Default for GenOptions {
    /// 50 clients × 100 operations over 10 keys; 50% gets, 10% puts, 40% appends.
    fn default() -> Self {
        GenOptions {
            seed: 1,
            clients: 50,
            ops_per_client: 100,
            keys: 10,
            max_latency: 1_000_000,
            max_think: 200_000,
            get_percent: 50,
            put_percent: 10,
            unknown_percent: 0,
        }
    }
}

/// Small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Generates a linearizable history by simulating a store with random latencies.
pub fn random_history(o: &GenOptions) -> History {
    let mut rng = Rng(o.seed ^ 0xD1B5_4A32_D192_ED03);
    let keys = o.keys.max(1) as u64;
    let mut ops = Vec::new();
    // (effect time, op index) of every op that takes effect.
    let mut effects: Vec<(u64, usize)> = Vec::new();
    for c in 0..o.clients {
        let mut t = rng.below(o.max_think + 1);
        for j in 0..o.ops_per_client {
            let roll = rng.below(100) as u32;
            let kind = if roll < o.get_percent {
                OpKind::Get
            } else if roll < o.get_percent + o.put_percent {
                OpKind::Put
            } else {
                OpKind::Append
            };
            let key = format!("k{}", rng.below(keys));
            let value = match kind {
                OpKind::Get => String::new(),
                OpKind::Put => format!("p{c}.{j} "),
                OpKind::Append => format!("x{c}.{j} "),
            };
            let call = t;
            let effect = call + 1 + rng.below(o.max_latency);
            let ret = effect + 1 + rng.below(o.max_latency);
            let lost = (rng.below(100) as u32) < o.unknown_percent;
            if !lost || rng.below(2) == 0 {
                effects.push((effect, ops.len()));
            }
            ops.push(Op {
                client: c as u64,
                kind,
                key,
                value,
                output: None,
                call,
                ret: if lost { None } else { Some(ret) },
            });
            t = ret + rng.below(o.max_think + 1);
        }
    }
    effects.sort();
    let mut store: std::collections::BTreeMap<String, String> = Default::default();
    for (_, i) in effects {
        let op = &mut ops[i];
        let cur = store
            .entry(op.key.clone())
            .or_insert_with(|| KvModel.init());
        if op.kind == OpKind::Get && op.ret.is_some() {
            op.output = Some(cur.clone());
        }
        let input = KvInput {
            kind: op.kind,
            value: op.value.clone(),
        };
        // With its output unknown, any op fits any value.
        if let Some(next) = KvModel.step(cur, &input, None) {
            *cur = next;
        }
    }
    ops.sort_by_key(|o| o.call);
    History {
        ops,
        annotations: Vec::new(),
        time_unit: None,
    }
}

/// Makes one Get on `key` return a stale value, for testing that checkers catch it.
///
/// Picks a read `g` around the middle of the key's history, an earlier read `g0` and a
/// write `w` with `g0` before `w` before `g` in real time, and gives `g` the output of
/// `g0`. With distinct written values that read is impossible, so the history becomes
/// non-linearizable on `key` only. Returns the index of the changed op.
pub fn inject_stale_read(h: &mut History, key: &str) -> Option<usize> {
    let on_key: Vec<usize> = (0..h.ops.len()).filter(|&i| h.ops[i].key == key).collect();
    let done = |i: usize| h.ops[i].ret.is_some();
    let is_read = |i: usize| h.ops[i].kind == OpKind::Get && h.ops[i].output.is_some() && done(i);
    let is_write = |i: usize| h.ops[i].kind != OpKind::Get && done(i);
    let mut reads: Vec<usize> = on_key.iter().copied().filter(|&i| is_read(i)).collect();
    reads.sort_by_key(|&i| h.ops[i].call);
    let middle = reads.len() / 2;
    let order = reads[middle..].iter().chain(reads[..middle].iter().rev());
    for &g in order {
        let call = h.ops[g].call;
        let before = |i: usize, t: u64| h.ops[i].ret.is_some_and(|r| r < t);
        let Some(&w) = on_key
            .iter()
            .filter(|&&w| is_write(w) && before(w, call))
            .max_by_key(|&&w| h.ops[w].call)
        else {
            continue;
        };
        let wcall = h.ops[w].call;
        if let Some(&g0) = reads.iter().rev().find(|&&g0| before(g0, wcall)) {
            h.ops[g].output = h.ops[g0].output.clone();
            return Some(g);
        }
    }
    None
}
