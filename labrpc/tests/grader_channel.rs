//! The harness's side of the grader's channel: the secret and the seed come on standard input
//! (`LAB_GRADER=stdin`), the completion report goes to standard output once, only from the test's
//! own thread, never from a run nested in a simulation. Each check runs this binary again as a
//! child, the way the grader runs a graded test.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::Write;
use std::process::{Command, Stdio};

use labrpc::harness::{self, TestRun};

/// Runs test `name` of this binary as the grader would; returns its output and whether it passed.
fn as_graded(name: &str, input: &str) -> (String, bool) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(harness::GRADER_VAR, "stdin")
        .env("LAB_GRADED_CHILD", "1")
        .env("LAB_SEED", "999")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// Whether this process is the graded child (the bodies below only act there).
fn child() -> bool {
    std::env::var("LAB_GRADED_CHILD").is_ok()
}

#[test]
fn body_passes() {
    if child() {
        TestRun::new().run(|| async { String::new() });
    }
}

#[test]
fn body_reads_stdin_and_nests() {
    if !child() {
        return;
    }
    TestRun::new().run(|| async {
        // Student code finds standard input already read to its end ...
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut rest);
        assert!(rest.is_empty(), "stdin still held {rest:?}");
        // ... and cannot start a run of its own inside the simulation.
        let nested = std::panic::catch_unwind(|| TestRun::new().run(|| async { String::new() }));
        assert!(nested.is_err(), "a nested run was allowed");
        String::new()
    });
}

#[test]
fn body_reads_its_own_memory() {
    if !child() {
        return;
    }
    TestRun::new().run(|| async {
        // A graded run's code opens no file: not its own memory, nor anything else.
        for path in ["/proc/self/mem", "/proc/self/maps", "/etc/hostname", "/tmp"] {
            assert!(std::fs::File::open(path).is_err(), "{path} could be opened");
        }
        let std_thread = std::thread::spawn(|| std::fs::File::open("/proc/self/maps").is_err());
        assert!(
            std_thread.join().unwrap(),
            "a thread it started could open a file"
        );
        String::new()
    });
}

#[test]
fn body_reports_from_another_thread() {
    if child() {
        TestRun::new().run(|| async { String::new() });
        // A second run, on another thread that carries the test's name: no second report.
        let name = harness::test_name();
        let other = std::thread::Builder::new()
            .name(name)
            .spawn(|| TestRun::new().run(|| async { String::new() }))
            .unwrap()
            .join();
        assert!(other.is_err(), "a run on another thread reported");
    }
}

#[test]
fn the_report_carries_the_secret_and_the_graders_seed() {
    let (out, ok) = as_graded("body_passes", "s3cr3t 42\n");
    assert!(ok, "{out}");
    let reports: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("s3cr3t pass "))
        .collect();
    assert_eq!(reports.len(), 1, "{out}");
    assert!(
        reports[0].starts_with("s3cr3t pass body_passes seed=42 "),
        "the seed is the grader's, not LAB_SEED's: {out}"
    );
}

#[test]
fn student_code_finds_no_secret_and_cannot_nest() {
    let (out, ok) = as_graded("body_reads_stdin_and_nests", "s3cr3t 42\n");
    // The body's own assertions: stdin was empty and the nested run panicked.
    assert!(ok, "{out}");
    assert_eq!(out.matches("s3cr3t pass").count(), 1, "{out}");
}

#[test]
fn a_graded_run_opens_no_file() {
    let (out, ok) = as_graded("body_reads_its_own_memory", "s3cr3t 42\n");
    assert!(ok, "{out}");
    assert_eq!(out.matches("s3cr3t pass").count(), 1, "{out}");
}

#[test]
fn only_one_report_per_process() {
    let (out, ok) = as_graded("body_reports_from_another_thread", "s3cr3t 42\n");
    assert!(ok, "{out}");
    assert_eq!(out.matches("s3cr3t pass").count(), 1, "{out}");
}

#[test]
fn no_report_without_a_secret() {
    let (out, ok) = as_graded("body_passes", "");
    assert!(ok, "{out}");
    assert!(!out.contains(" pass body_passes"), "{out}");
}
