//! Hostile submissions (grading/tests/hostile/<case>/, see its README): each must score 0 with a
//! clear reason, leave no process behind and the pristine tree unchanged, and the next honest
//! grading must still get full score. The lint gate stops nearly all of them first; the cases that
//! a gate would stop are graded again with `--skip-lint-gate`, so that the layers behind it (the
//! harness's channel, the sandbox, the limits) are tested on their own.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Graded, grade, logs, points_of_part, reasons, repo, scratch, submission};

// The attack cases that must not compile: `pin_seed` (a `#[no_mangle]` getenv pinning the seed)
// and `ctor_hang` (a static constructor that would hang `--list`).

/// A submission made of the skeleton's student files and the case's attack: `attack.rs` is
/// appended to the skeleton's raft.rs (its first line may name a statement to run first thing in
/// `Raft::new`; `forge.rs` follows when the attack uses it), and the case's other files are put
/// on top.
fn case(name: &str) -> PathBuf {
    let sub = submission(&format!("hostile-{name}"), None);
    let dir = repo().join("grading/tests/hostile").join(name);
    let attack = dir.join("attack.rs");
    if let Ok(text) = std::fs::read_to_string(&attack) {
        let call = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// In Raft::new: "));
        let mut src = match call {
            Some(c) => common::raft_new_does(c),
            None => std::fs::read_to_string(repo().join("raft/src/raft.rs")).unwrap(),
        };
        src.push('\n');
        src += &text;
        if text.contains("hostile_say(") || text.contains("hostile_forged_lines(") {
            let forge = repo().join("grading/tests/hostile/forge.rs");
            src += &std::fs::read_to_string(forge).unwrap();
        }
        std::fs::write(sub.join("raft/src/raft.rs"), src).unwrap();
    }
    copy_into(&dir, &sub);
    let _ = std::fs::remove_file(sub.join("attack.rs"));
    sub
}

fn copy_into(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_into(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Scored 0 with `phrase` in what the grader says of it (build output or run reasons).
fn assert_zero(g: &Graded, phrase: &str) {
    let s = &g.summary;
    assert_eq!(s["score"], 0.0, "{s}");
    let said = format!("{}\n{}", s["build_output"], reasons(s).join("\n"));
    assert!(said.contains(phrase), "expected {phrase:?} in:\n{said}");
}

/// Stopped by the lint gate, with a message naming the file and the rule.
fn assert_gate(g: &Graded, rule: &str) {
    assert_zero(g, "LINT GATE");
    let out = g.summary["build_output"].as_str().unwrap();
    assert!(
        out.contains("raft/src/raft.rs:") && out.contains(rule),
        "expected the file, a line and {rule:?} in:\n{out}"
    );
}

/// No process of any sandboxed command is left: no `sleep 300.0417` of the daemon case (an
/// odd duration, so that nobody else's `sleep 300` on the machine counts), and no control group
/// of the grader's still holding one.
fn assert_no_leftovers() {
    let out = std::process::Command::new("pgrep")
        .args(["-f", "sleep 300[.]0417"])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "processes outlived their run: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The pristine tree holds no file a submission wrote.
fn assert_pristine_untouched() {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo())
        .args([
            "status",
            "--porcelain",
            "--ignored=no",
            "--",
            ".cargo",
            "HACKED",
        ])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "the pristine tree changed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!repo().join("HACKED").exists());
}

#[test]
fn the_reference_is_out_of_reach() {
    // Only the student files are built, in a tree without the reference folders.
    let g = grade("h-path-ref", Some(&case("path_reference")), &[]);
    assert_zero(&g, "couldn't read `raft/src/reference/raft.rs`");
    let g = grade("h-include-ref", Some(&case("include_reference")), &[]);
    assert_zero(&g, "couldn't read");
    // A symlink to the grader's reference is refused, not followed.
    let sub = submission("hostile-symlink", None);
    let link = sub.join("raft/src/raft.rs");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(repo().join("raft/src/reference/raft.rs"), &link).unwrap();
    let g = grade("h-symlink", Some(&sub), &[]);
    assert_zero(&g, "is a symbolic link");
    assert!(g.summary["tests"][0]["runs"].as_array().unwrap().is_empty());
}

#[test]
fn feedback_never_echoes_a_file_whole() {
    // A compile_error! carrying a framework file, with the gate skipped: the build's errors in
    // results.json are cut, so no file's text comes back whole.
    let g = grade(
        "h-echo",
        Some(&case("include_reference")),
        &["--skip-lint-gate"],
    );
    assert_zero(&g, "");
    let lib = std::fs::read_to_string(repo().join("raft/src/lib.rs")).unwrap();
    let lines: Vec<&str> = lib.lines().filter(|l| l.len() > 20).collect();
    let echoed = lines.iter().filter(|l| g.results.contains(*l)).count();
    assert!(
        echoed < lines.len() / 2,
        "{echoed} of {} lines of raft/src/lib.rs came back in results.json",
        lines.len()
    );
}

#[test]
fn only_the_listed_files_are_compiled() {
    // Only the listed files are copied, and in the sandbox nothing else is there ...
    let g = grade("h-path-outside", Some(&case("path_outside")), &[]);
    assert_zero(&g, "couldn't read");
    let g = grade("h-include-macro", Some(&case("include_in_macro")), &[]);
    assert_zero(&g, "couldn't read");
    // ... and where it is (no sandbox, an absolute path), the compiler's dep-info gives it away.
    let extra = scratch("hostile-outside-file").join("extra.rs");
    std::fs::write(&extra, "pub fn helper() -> u64 { 7 }\n").unwrap();
    let src = common::raft_new_does("let _ = outside::helper();").replacen(
        "use std::sync",
        &format!(
            "#[path = {:?}]\nmod outside;\nuse std::sync",
            extra.display()
        ),
        1,
    );
    let sub = submission("hostile-abs-path", Some(src));
    let g = grade("h-abs-path", Some(&sub), &["--no-sandbox"]);
    assert_zero(&g, "may be compiled only from their listed files");
    assert!(
        g.summary["protection"]
            .as_str()
            .unwrap()
            .starts_with("NOT PROTECTED")
    );
}

#[test]
fn the_pass_report_cannot_be_forged() {
    for (name, gate_rule) in [
        ("env_report", "disallowed"),
        ("stdin_steal", "disallowed"),
        ("nested_run_test", "disallowed"),
        ("thread_run_test", "disallowed"),
        ("panic_hook", "disallowed"),
        // Reads the secret from its own memory (/proc/self/mem): behind the gate, a graded
        // run's thread may open no file (Landlock).
        ("mem_scan", "disallowed"),
    ] {
        let g = grade(&format!("h-{name}"), Some(&case(name)), &[]);
        assert_gate(&g, gate_rule);
        // Behind the gate: no secret in the environment, stdin already read, no nested or
        // second report, none from another thread.
        let g = grade(
            &format!("h-{name}-nogate"),
            Some(&case(name)),
            &["--skip-lint-gate"],
        );
        assert_zero(&g, "");
        assert_eq!(g.summary["tests"][0]["passes"], 0, "{name}: {}", g.summary);
    }
}

#[test]
fn unsafe_code_does_not_compile() {
    // A getenv that pins the seed, and a static constructor that hangs `--list`.
    for name in ["pin_seed", "ctor_hang"] {
        let g = grade(&format!("h-{name}"), Some(&case(name)), &[]);
        assert_zero(&g, "unsafe");
    }
}

#[test]
fn the_sandbox_holds() {
    // Each of these is stopped by the gate (but huge_stdout, which uses nothing disallowed);
    // behind it, the run's confinement and the sandbox must hold on their own.
    for name in [
        "write_pristine",
        "daemon",
        "tmp_fill",
        "network",
        "read_others",
        "huge_stdout",
        "memory_children",
    ] {
        if name != "huge_stdout" {
            let g = grade(&format!("h-{name}"), Some(&case(name)), &[]);
            assert_gate(&g, "disallowed");
        }
        let secret = other_students_secret();
        let g = grade(
            &format!("h-{name}-nogate"),
            Some(&case(name)),
            &["--skip-lint-gate", "--memory-mb", "512"],
        );
        assert_zero(&g, "");
        assert_eq!(g.summary["tests"][0]["passes"], 0, "{name}: {}", g.summary);
        assert_no_leftovers();
        assert_pristine_untouched();
        assert!(
            !logs(&g).contains(&secret),
            "{name}: a run read another student's files"
        );
        match name {
            "huge_stdout" => {
                let biggest = std::fs::read_dir(g.out.join("logs"))
                    .unwrap()
                    .flatten()
                    .map(|e| e.metadata().unwrap().len())
                    .max()
                    .unwrap_or(0);
                assert!(biggest < 5 << 20, "a log of {biggest} bytes was kept");
            }
            "daemon" => {
                // A daemon that would rewrite results.json after 5 s: there is none left.
                let results = std::fs::read_to_string(g.out.join("results.json")).unwrap();
                std::thread::sleep(Duration::from_secs(7));
                let again = std::fs::read_to_string(g.out.join("results.json")).unwrap();
                assert_eq!(results, again, "results.json changed after the grading");
            }
            _ => {}
        }
    }
    // Memory for the whole run is capped, with a clear reason (this needs no disallowed item).
    let hog = common::raft_new_does(
        "let hog = vec![1u8; 1600 << 20]; assert!(std::hint::black_box(&hog)[1 << 30] == 1);",
    );
    let g = grade(
        "h-memory",
        Some(&submission("hostile-memory", Some(hog))),
        &["--memory-mb", "512"],
    );
    assert_zero(&g, "out of memory");
    // And the next honest grading still gets full score.
    let g = grade("h-after", None, &[]);
    assert_eq!(g.summary["score"], points_of_part("2a"), "{}", g.summary);
}

/// Puts another student's submission, with a secret in it, where the grader's user can read it;
/// returns the secret.
fn other_students_secret() -> String {
    let secret = "OTHER-STUDENT-SECRET-7f3a91".to_string();
    let dir = scratch("hostile-other-student").join("raft/src");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("raft.rs"), &secret).unwrap();
    let _ = std::fs::write("/tmp/raftlab-other-student-results.json", &secret);
    secret
}

#[test]
fn an_endless_build_is_cut_and_releases_the_lock() {
    let g = grade(
        "h-const-eval",
        Some(&case("const_eval_forever")),
        &["--build-timeout", "30"],
    );
    assert_zero(&g, "did not finish within 30 s");
    assert_no_leftovers();
    // The lock is free again: the next grading starts and completes.
    let g = grade("h-const-eval-after", None, &[]);
    assert_eq!(g.summary["score"], points_of_part("2a"), "{}", g.summary);
}
