//! What the grader's end-to-end tests share: scratch folders, submissions, and a grading of
//! part 2A (one run per test, debug builds, in a target folder of these tests' own, so that the
//! grader's lock makes them take turns and the dependencies build once).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A scratch directory under the target directory, fresh for `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("grade-e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A submission: the skeleton's student files, with `raft.rs` replaced when given.
pub fn submission(name: &str, raft_rs: Option<String>) -> PathBuf {
    let dir = scratch(&format!("{name}-submission"));
    for f in labspec::parts::student_files() {
        std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
        std::fs::copy(repo().join(f), dir.join(f)).unwrap();
    }
    if let Some(src) = raft_rs {
        std::fs::write(dir.join("raft/src/raft.rs"), src).unwrap();
    }
    dir
}

/// The skeleton's raft.rs with `code` run first thing in `Raft::new`.
pub fn raft_new_does(code: &str) -> String {
    let src = std::fs::read_to_string(repo().join("raft/src/raft.rs")).unwrap();
    let marker = "let saved = persister.read_raft_state();";
    assert!(
        src.contains(marker),
        "the skeleton changed: update this test"
    );
    src.replacen(marker, &format!("{code}\n        {marker}"), 1)
}

/// What a grading wrote: summary.json, results.json, and its output folder.
pub struct Graded {
    pub summary: serde_json::Value,
    pub results: String,
    pub out: PathBuf,
}

/// Runs `grading grade` on part 2A with `extra` arguments.
pub fn grade(name: &str, submission: Option<&Path>, extra: &[&str]) -> Graded {
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
    let want = tests_of_part("2a");
    assert!(
        r["tests"].as_array().is_some_and(|t| t.len() == want),
        "results.json should list the {want} tests of 2A: {r}"
    );
    Graded {
        summary: serde_json::from_str(&summary).unwrap(),
        results,
        out,
    }
}

/// How many graded tests the rubric lists for `part`.
pub fn tests_of_part(part: &str) -> usize {
    let rubric = std::fs::read_to_string(repo().join("grading/rubric.txt")).expect("rubric");
    rubric
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|t| labspec::parts::part_of_test(t) == Some(part))
        .count()
}

/// How many points the rubric gives `part` (the full score of a grading of that part).
pub fn points_of_part(part: &str) -> f64 {
    let rubric = std::fs::read_to_string(repo().join("grading/rubric.txt")).expect("rubric");
    rubric
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (test, points) = (words.next()?, words.next()?);
            (labspec::parts::part_of_test(test) == Some(part))
                .then(|| points.parse::<f64>().ok())?
        })
        .sum()
}

/// The reasons of every failed run.
pub fn reasons(s: &serde_json::Value) -> Vec<String> {
    s["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["runs"].as_array().unwrap().iter())
        .filter_map(|r| r["reason"].as_str().map(str::to_string))
        .collect()
}

/// The text of every failing run's log.
pub fn logs(g: &Graded) -> String {
    let mut text = String::new();
    if let Ok(dir) = std::fs::read_dir(g.out.join("logs")) {
        for e in dir.flatten() {
            text += &std::fs::read_to_string(e.path()).unwrap_or_default();
        }
    }
    text
}
