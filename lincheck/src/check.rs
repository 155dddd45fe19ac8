//! The KV checker's interface: limits, verdicts and results, and [`check()`], which splits a
//! history by key and runs the KV search (`search::kv`) on each key.

use crate::history::{History, OpKind};
use crate::model::{Model, Operation};
use crate::search::{generic, kv};
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
    combine(keys)
}

/// Checks `ops` against `model`, each of its partitions on its own (with the search for any
/// model), and combines the verdicts. Results name operations by their index in `ops`.
pub fn check_model<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    opts: &CheckOptions,
) -> CheckResult {
    let keys: Vec<KeyResult> = model
        .partition(ops)
        .into_iter()
        .map(|(key, idxs)| {
            let part: Vec<&Operation<M::Input, M::Output>> =
                idxs.iter().map(|&i| &ops[i]).collect();
            let found = generic::search(model, &part, opts);
            KeyResult {
                key,
                verdict: found.verdict,
                linearization: found.linearization.iter().map(|&l| idxs[l]).collect(),
                failing_op: found.failing_op.map(|l| idxs[l]),
                steps: found.steps,
                memo_entries: found.memo_entries,
            }
        })
        .collect();
    combine(keys)
}

/// The verdict of a history from its keys': NotLinearizable if any key is, else Undecided if any
/// key is, else Linearizable.
fn combine(keys: Vec<KeyResult>) -> CheckResult {
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
    let found = kv::search(h, &chosen, opts);
    KeyResult {
        key: key.to_string(),
        verdict: found.verdict,
        linearization: found.linearization,
        failing_op: found.failing_op,
        steps: found.steps,
        memo_entries: found.memo_entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{GenOptions, inject_stale_read, random_history};
    use crate::history::{Op, parse_json};
    use crate::memo::mix64;
    use crate::model::{KvModel, kv_operations};
    use crate::oracle::brute_force;

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
    fn generic_budget_exhaustion_is_undecided() {
        let (h, _) = stale(7, 50, 2, "k1");
        let opts = CheckOptions {
            max_steps: 2000,
            ..CheckOptions::default()
        };
        let ops = kv_operations(&h);
        let a = check_model(&KvModel, &ops, &opts);
        assert_eq!(a, check_model(&KvModel, &ops, &opts));
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
    fn generic_search_agrees_on_generated_histories() {
        let shape = GenOptions {
            seed: 8,
            clients: 10,
            ops_per_client: 40,
            keys: 3,
            unknown_percent: 5,
            ..GenOptions::default()
        };
        let h = random_history(&shape);
        let opts = CheckOptions::default();
        let generic = check_model(&KvModel, &kv_operations(&h), &opts);
        assert_eq!(generic.verdict, Lin);
        assert_eq!(generic.keys.len(), 3);
        let mut bad = h.clone();
        inject_stale_read(&mut bad, "k1").unwrap();
        let generic = check_model(&KvModel, &kv_operations(&bad), &opts);
        let special = check(&bad, &opts);
        for (g, s) in generic.keys.iter().zip(&special.keys) {
            assert_eq!((&g.key, g.verdict), (&s.key, s.verdict));
        }
        assert_eq!(generic.key("k1").unwrap().verdict, NotLin);
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
            let h = History {
                ops: ops.clone(),
                annotations: vec![],
                time_unit: None,
            };
            let model_ops = kv_operations(&h);
            let expect = brute_force(&KvModel, &model_ops);
            let got = check(&h, &CheckOptions::default()).verdict;
            assert_eq!(got == Lin, expect, "{ops:#?}");
            let generic = check_model(&KvModel, &model_ops, &CheckOptions::default());
            assert_eq!(generic.verdict == Lin, expect, "generic search: {ops:#?}");
            if expect {
                lin += 1;
            } else {
                not += 1;
            }
        }
        assert!(lin > 500 && not > 500, "{lin} {not}");
    }
}
