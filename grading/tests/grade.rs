//! End to end: the grader on the reference, the skeleton, and submissions that try to cheat,
//! hang or do not compile. Part 2A only, one run per test, debug builds in a target directory of
//! their own (the grader's lock makes these tests take turns).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// The attacks a hostile student might try are in tests/hostile.rs.

mod common;

use common::{grade, points_of_part, raft_new_does, reasons, repo, submission, tests_of_part};

#[test]
fn reference_gets_full_score() {
    let s = grade("reference", None, &[]).summary;
    assert_eq!(s["build_ok"], true);
    assert_eq!(s["score"], points_of_part("2a"), "{s}");
    assert_eq!(s["max_score"], points_of_part("2a"));
}

#[test]
fn skeleton_gets_zero_with_messages() {
    let s = grade("skeleton", Some(&repo()), &[]).summary;
    assert_eq!(s["score"], 0.0, "{s}");
    let r = reasons(&s);
    assert_eq!(r.len(), tests_of_part("2a"));
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
    let s = grade("cheat", Some(&sub), &[]).summary;
    assert_eq!(s["score"], 0.0, "{s}");
}

#[test]
fn exit_zero_is_not_a_pass() {
    let sub = submission("exit0", Some(raft_new_does("std::process::exit(0);")));
    // The lint gate stops it first ...
    let s = grade("exit0", Some(&sub), &[]).summary;
    assert_eq!(s["score"], 0.0, "{s}");
    let out = s["build_output"].as_str().unwrap();
    assert!(
        out.contains("LINT GATE") && out.contains("std::process::exit"),
        "{out}"
    );
    // ... and without the gate, an exit before the report is no pass either.
    let s = grade("exit0-nogate", Some(&sub), &["--skip-lint-gate"]).summary;
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
    let s = grade("hang", Some(&sub), &["--timeout", "2"]).summary;
    assert_eq!(s["score"], 0.0, "{s}");
    let r = reasons(&s);
    assert!(r.iter().all(|m| m.contains("killed after 2s")), "{r:?}");
}

#[test]
fn a_build_failure_scores_zero_with_the_errors() {
    let sub = submission("broken", Some("this is not rust".to_string()));
    let s = grade("broken", Some(&sub), &[]).summary;
    assert_eq!(s["build_ok"], false);
    assert_eq!(s["score"], 0.0);
    assert!(s["build_output"].as_str().unwrap().contains("error"), "{s}");
}
