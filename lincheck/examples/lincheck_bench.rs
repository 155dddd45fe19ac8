#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a benchmark measures wall time
//! Times the checker on generated histories: `cargo run --release -p lincheck --example lincheck_bench`.
//!
//! Each case is a history produced by simulating a correct store (50 clients × 100 ops
//! unless stated), optionally with stale reads injected. Prints the time, the verdict
//! per key and the process's peak memory.

use lincheck::*;
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn case(name: &str, shape: GenOptions, stale_keys: usize, opts: &CheckOptions) {
    let mut h = random_history(&shape);
    for k in 0..stale_keys {
        inject_stale_read(&mut h, &format!("k{k}")).expect("stale read injected");
    }
    let t = Instant::now();
    let r = check(&h, opts);
    let secs = t.elapsed().as_secs_f64();
    let count = |v| r.keys.iter().filter(|k| k.verdict == v).count();
    let steps: u64 = r.keys.iter().map(|k| k.steps).sum();
    let max_steps = r.keys.iter().map(|k| k.steps).max().unwrap_or(0);
    println!(
        "{name:<48} {:>5} ops {:>2} keys {:>8.1} ms  {:?}: {} lin / {} not / {} undecided, steps {} (max/key {}), peak RSS {:.0} MiB",
        h.ops.len(),
        r.keys.len(),
        secs * 1000.0,
        r.verdict,
        count(Verdict::Linearizable),
        count(Verdict::NotLinearizable),
        count(Verdict::Undecided),
        steps,
        max_steps,
        peak_rss_mib()
    );
}

fn main() {
    let opts = CheckOptions::default();
    let base = GenOptions::default(); // 50 clients × 100 ops, 10 keys, 10% puts
    let with = |seed: u64, keys: usize, unknown: u32| GenOptions {
        seed,
        keys,
        unknown_percent: unknown,
        ..base.clone()
    };
    println!("-- the required shape: 50 clients × 100 ops over 10 keys");
    for seed in 1..=3 {
        case(
            &format!("linearizable (seed {seed})"),
            with(seed, 10, 0),
            0,
            &opts,
        );
    }
    case("linearizable, 5% lost replies", with(4, 10, 5), 0, &opts);
    for seed in 1..=3 {
        case(
            &format!("stale read on k0 (seed {seed})"),
            with(seed, 10, 0),
            1,
            &opts,
        );
    }
    case("stale read on every key", with(5, 10, 0), 10, &opts);
    case(
        "stale read on k0, 5% lost replies",
        with(6, 10, 5),
        1,
        &opts,
    );

    println!("-- harder: all 50 clients on one key, longer histories");
    case("1 key: linearizable", with(2, 1, 0), 0, &opts);
    case(
        "1 key: linearizable, 5% lost replies",
        with(3, 1, 5),
        0,
        &opts,
    );
    case("1 key: stale read", with(2, 1, 0), 1, &opts);
    case(
        "1 key: stale read, 5% lost replies",
        with(3, 1, 5),
        1,
        &opts,
    );
    let put_heavy = GenOptions {
        seed: 3,
        keys: 1,
        put_percent: 40,
        ..base.clone()
    };
    case("1 key, 40% puts: stale read", put_heavy, 1, &opts);
    let crowd = GenOptions {
        seed: 5,
        clients: 100,
        keys: 1,
        unknown_percent: 10,
        ..base.clone()
    };
    case("1 key, 100 clients, 10% lost: stale read", crowd, 1, &opts);
    let big = GenOptions {
        seed: 9,
        ops_per_client: 1000,
        ..base.clone()
    };
    case(
        "50 × 1000 ops, 10 keys: linearizable",
        big.clone(),
        0,
        &opts,
    );
    case(
        "50 × 1000 ops, 10 keys: stale read on every key",
        big,
        10,
        &opts,
    );
}
