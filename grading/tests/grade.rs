//! End to end: the grader on the reference, the skeleton, and submissions that try to cheat,
//! hang or do not compile. Part 2A only, one run per test, debug builds in a target directory of
//! their own (the grader's lock makes these tests take turns).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A scratch directory under the target directory, fresh for `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("grade-e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A submission: the skeleton's student files, with `raft.rs` replaced when given.
fn submission(name: &str, raft_rs: Option<String>) -> PathBuf {
    let dir = scratch(&format!("{name}-submission"));
    for f in [
        "raft/src/raft.rs",
        "kvraft/src/client.rs",
        "kvraft/src/server.rs",
        "kvraft/src/common.rs",
    ] {
        std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
        std::fs::copy(repo().join(f), dir.join(f)).unwrap();
    }
    if let Some(src) = raft_rs {
        std::fs::write(dir.join("raft/src/raft.rs"), src).unwrap();
    }
    dir
}

/// The skeleton's raft.rs with `code` run first thing in `Raft::new`.
fn raft_new_does(code: &str) -> String {
    let src = std::fs::read_to_string(repo().join("raft/src/raft.rs")).unwrap();
    let marker = "let saved = persister.read_raft_state();";
    assert!(
        src.contains(marker),
        "the skeleton changed: update this test"
    );
    src.replacen(marker, &format!("{code}\n        {marker}"), 1)
}

/// Runs `grading grade` on part 2A; returns the summary.json it wrote.
fn grade(name: &str, submission: Option<&Path>, extra: &[&str]) -> serde_json::Value {
    let out = scratch(name);
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grade-e2e-target");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_grading"));
    cmd.args([
        "grade", "--parts", "2a", "--runs", "1", "--seed", "5", "--debug", "--jobs", "2",
    ])
    .arg("--out")
    .arg(&out)
    .args(extra)
    .env("CARGO_TARGET_DIR", &target);
    if let Some(s) = submission {
        cmd.arg("--submission").arg(s);
    }
    let status = cmd.status().expect("run the grader");
    assert!(status.success(), "the grader itself failed: {status}");
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    let results = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    let r: serde_json::Value = serde_json::from_str(&results).unwrap();
    assert!(
        r["tests"].as_array().is_some_and(|t| t.len() == 3),
        "results.json: {r}"
    );
    serde_json::from_str(&summary).unwrap()
}

fn reasons(s: &serde_json::Value) -> Vec<String> {
    s["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["runs"].as_array().unwrap().iter())
        .filter_map(|r| r["reason"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn reference_gets_full_score() {
    let s = grade("reference", None, &[]);
    assert_eq!(s["build_ok"], true);
    assert_eq!(s["score"], 15.0, "{s}");
    assert_eq!(s["max_score"], 15.0);
}

#[test]
fn skeleton_gets_zero_with_messages() {
    let s = grade("skeleton", Some(&repo()), &[]);
    assert_eq!(s["score"], 0.0, "{s}");
    let r = reasons(&s);
    assert_eq!(r.len(), 3);
    assert!(
        r.iter()
            .all(|m| m.contains("expected one leader, got none")),
        "{r:?}"
    );
}

#[test]
fn edited_tests_have_no_effect() {
    let sub = submission("cheat", None);
    // Tests that pass whatever Raft does, and a Cargo.toml asking for nothing.
    std::fs::create_dir_all(sub.join("tests")).unwrap();
    std::fs::write(
        sub.join("tests/raft_2a.rs"),
        "#[test] fn initial_election_2a() {}\n#[test] fn re_election_2a() {}\n#[test] fn many_elections_2a() {}\n",
    )
    .unwrap();
    std::fs::write(sub.join("Cargo.toml"), "[workspace]\n").unwrap();
    let s = grade("cheat", Some(&sub), &[]);
    assert_eq!(s["score"], 0.0, "{s}");
}

#[test]
fn exit_zero_is_not_a_pass() {
    let sub = submission("exit0", Some(raft_new_does("std::process::exit(0);")));
    let s = grade("exit0", Some(&sub), &[]);
    assert_eq!(s["score"], 0.0, "{s}");
    let r = reasons(&s);
    assert!(
        r.iter()
            .all(|m| m.contains("exited with status 0 before the test completed")),
        "{r:?}"
    );
}

#[test]
fn a_hang_is_killed_at_the_limit() {
    // Blocks the simulation thread for good; the grader's 2 s limit comes before the watchdog.
    let sub = submission(
        "hang",
        Some(raft_new_does(
            "let (_tx, rx) = std::sync::mpsc::channel::<()>(); let _ = rx.recv();",
        )),
    );
    let s = grade("hang", Some(&sub), &["--timeout", "2"]);
    assert_eq!(s["score"], 0.0, "{s}");
    let r = reasons(&s);
    assert!(r.iter().all(|m| m.contains("killed after 2s")), "{r:?}");
}

#[test]
fn a_build_failure_scores_zero_with_the_errors() {
    let sub = submission("broken", Some("this is not rust".to_string()));
    let s = grade("broken", Some(&sub), &[]);
    assert_eq!(s["build_ok"], false);
    assert_eq!(s["score"], 0.0);
    assert!(s["build_output"].as_str().unwrap().contains("error"), "{s}");
}
