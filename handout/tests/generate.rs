//! Runs the generator into a temporary folder and checks the student copy it writes.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn handout(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_handout"))
        .args(args)
        .output()
        .expect("the generator runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&dir);
    dir
}

#[test]
fn the_student_copy_is_complete_verified_and_free_of_reference_code() {
    let out = tmp("handout-copy");
    let tar = tmp("handout-copy.tar");
    // The verification builds share one target folder across runs of this test.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("handout-target");
    let (ok, text) = handout(&[
        "--out",
        out.to_str().unwrap(),
        "--tar",
        tar.to_str().unwrap(),
        "--target-dir",
        target.to_str().unwrap(),
    ]);
    assert!(ok, "the generator failed:\n{text}");
    for check in [
        "ok    no reference code",
        "ok    builds warning-free",
        "ok    clippy",
        "ok    the framework's own tests pass",
        "is a git repository with one commit",
        "ok    packed into",
    ] {
        assert!(text.contains(check), "no {check:?} in:\n{text}");
    }
    // Every graded test of every part fails with the skeleton.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let rubric = std::fs::read_to_string(repo.join("grading/rubric.txt")).unwrap();
    for part in labspec::parts::parts() {
        let graded = rubric
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|t| labspec::parts::part_of_test(t) == Some(part.name))
            .count();
        let check = format!("ok    {}: all {graded} tests fail", part.target);
        assert!(text.contains(&check), "no {check:?} in:\n{text}");
    }

    // The layout a student gets.
    for file in [
        "README.md",
        "Cargo.lock",
        "raft/src/raft.rs",
        "kvraft/src/server.rs",
        "shardctrler/src/server.rs",
        "shardkv/src/server.rs",
        "tests/raft_2a.rs",
        "tests/shardkv_4b.rs",
        "labs/getting-started.md",
        "labs/2a-election.md",
        "labs/3b-kv-snapshots.md",
        "labs/4a-shardctrler.md",
        "labs/4b-shardkv.md",
    ] {
        assert!(out.join(file).is_file(), "{file} missing from the copy");
    }
    for gone in [
        "raft/src/reference",
        "kvraft/src/reference",
        "shardctrler/src/reference",
        "shardkv/src/alternative",
        "grading",
        "handout",
        "labs/instructors.md",
    ] {
        assert!(!out.join(gone).exists(), "{gone} is in the copy");
    }
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("reference") && !manifest.contains("grading"));

    let git = |args: &[&str]| {
        let o = Command::new("git")
            .arg("-C")
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(git(&["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(git(&["status", "--porcelain"]), "");

    let listing = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("handout-copy/raft/src/raft.rs"),
        "{listing}"
    );
    assert!(listing.contains("handout-copy/.git/"));
    assert!(!listing.contains("handout-copy/target/"));
}

#[test]
fn a_folder_that_is_not_empty_is_refused() {
    let out = tmp("handout-not-empty");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let (ok, text) = handout(&["--out", out.to_str().unwrap(), "--no-verify"]);
    assert!(!ok);
    assert!(text.contains("exists and is not empty"), "{text}");
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
}
