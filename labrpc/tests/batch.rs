//! Tests of many runs (`LAB_RUNS`, `LAB_SEEDS`, `LAB_FAIL_FAST`): each check runs this binary
//! again as a child with the variables set, as a student's `cargo test` would, and reads what
//! the child printed.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::Command;
use std::time::Duration;

use labrpc::harness::TestRun;
use labrpc::sim;

/// Runs test `name` of this binary as a child with `vars`; returns its output and whether it passed.
fn child_run(name: &str, vars: &[(&str, &str)]) -> (String, bool) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--test-threads=2"])
        .env("LAB_BATCH_CHILD", "1")
        // Timeline pages go to the tests' scratch folder, not to labrpc/target.
        .env("CARGO_TARGET_DIR", env!("CARGO_TARGET_TMPDIR"))
        .env_remove("RUST_BACKTRACE");
    for var in labspec::env::ALL {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// Whether this process is the child (the bodies below only act there).
fn child() -> bool {
    std::env::var("LAB_BATCH_CHILD").is_ok()
}

/// Fails on seeds ending in 3, blocks the thread on seed 7, passes otherwise.
#[test]
fn body_mixed() {
    if !child() {
        return;
    }
    TestRun::new().run(|| async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let seed = sim::seed();
        tracing::info!(target: "body", "the body logs once per run");
        assert!(seed % 10 != 3, "bad seed {seed}");
        if seed == 7 {
            let m = std::sync::Mutex::new(());
            let _a = m.lock().unwrap();
            let _b = m.lock();
        }
        String::new()
    });
}

/// Passes on every seed.
#[test]
fn body_passes() {
    if child() {
        TestRun::new().run(|| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            String::new()
        });
    }
}

#[test]
fn failures_are_grouped_with_seeds_and_replay() {
    let (out, ok) = child_run("body_mixed", &[("LAB_SEEDS", "0..40")]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("body_mixed FAILED: 5 of 40 runs failed (LAB_SEEDS=0..40, "),
        "{out}"
    );
    assert!(
        out.contains("  4 x bad seed #\n      seeds 3, 13, 23, 33\n"),
        "{out}"
    );
    assert!(
        out.contains("replay: LAB_SEED=3 cargo test -p labrpc --test batch -- --exact body_mixed"),
        "{out}"
    );
    // The first run of each group gets a timeline page.
    let page = format!(
        "{}/timeline/body_mixed-seed3.html",
        env!("CARGO_TARGET_TMPDIR")
    );
    assert!(out.contains(&format!("      timeline: {page}")), "{out}");
    assert!(
        std::fs::metadata(&page).is_ok_and(|m| m.len() > 1000),
        "{out}"
    );
    assert!(
        out.contains("  1 x the simulation thread is blocked in"),
        "{out}"
    );
    assert!(
        out.contains("1 runs left their thread blocked and 0 left it spinning"),
        "{out}"
    );
    // The first failing run in full, with its own seed and replay command.
    assert!(
        out.contains("the first failing run in full:\nbody_mixed FAILED: bad seed 3"),
        "{out}"
    );
    // No "panicked at" line from inside the framework without RUST_BACKTRACE.
    assert!(!out.contains("panicked at labrpc/src/harness"), "{out}");
}

#[test]
fn fail_fast_stops_early() {
    let (out, ok) = child_run(
        "body_mixed",
        &[("LAB_SEEDS", "3..=1000"), ("LAB_FAIL_FAST", "1")],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("stopped at the first failure (LAB_FAIL_FAST=1)"),
        "{out}"
    );
    assert!(out.contains("runs not made"), "{out}");
}

#[test]
fn runs_take_the_graders_seeds() {
    let (out, ok) = child_run("body_passes", &[("LAB_SEED", "7"), ("LAB_RUNS", "25")]);
    assert!(ok, "{out}");
    assert!(
        out.contains("body_passes: 25/25 runs passed (LAB_SEED=7 LAB_RUNS=25, "),
        "{out}"
    );
    // Run i's seed is the grader's for `--seed 7`, so a grading's failure replays here.
    assert_eq!(
        labspec::seed::run_seed(7, "body_passes", 0),
        225_223_149_408
    );
}

#[test]
fn bad_values_are_named() {
    for (var, value) in [("LAB_RUNS", "0"), ("LAB_RUNS", "many"), ("LAB_SEEDS", "5")] {
        let (out, ok) = child_run("body_passes", &[(var, value)]);
        assert!(!ok, "{out}");
        assert!(out.contains(var) && out.contains(value), "{out}");
    }
    let (out, ok) = child_run("body_passes", &[("LAB_RUNS", "2"), ("LAB_SEEDS", "1..3")]);
    assert!(!ok && out.contains("both set"), "{out}");
}

#[test]
fn one_failing_run_reads_at_a_glance() {
    let (out, ok) = child_run("body_mixed", &[("LAB_SEED", "13")]);
    assert!(!ok, "{out}");
    let page = format!(
        "{}/timeline/body_mixed-seed13.html",
        env!("CARGO_TARGET_TMPDIR")
    );
    let expected = "---- body_mixed stdout ----\nbody_mixed FAILED: bad seed 13\n  (check at \
                    labrpc/tests/batch.rs:";
    assert!(out.contains(expected), "{out}");
    assert!(
        out.contains(&format!(
            "  virtual time 0.010000s, seed=13\n  replay: LAB_SEED=13 cargo test -p labrpc --test \
             batch -- --exact body_mixed --nocapture\n  timeline: {page} (open it in a browser)"
        )),
        "{out}"
    );
    assert!(!out.contains("panicked at"), "{out}");
    // The run made again for the timeline prints no log lines: the first run did.
    let (out, _) = child_run(
        "body_mixed",
        &[("LAB_SEED", "13"), ("RUST_LOG", "body=info")],
    );
    assert_eq!(
        out.matches("the body logs once per run").count(),
        1,
        "{out}"
    );
    // RUST_BACKTRACE=1 gives the framework's panic and backtrace back.
    let (out, _) = child_run("body_mixed", &[("LAB_SEED", "13"), ("RUST_BACKTRACE", "1")]);
    assert!(
        out.contains("panicked at labrpc/src/harness/outcome.rs"),
        "{out}"
    );
    assert!(out.contains("stack backtrace:"), "{out}");
}
