//! End to end: a class folder of submissions (folders and archives, good, empty-handed and
//! hostile) graded in one command, each in its own row; graded again, nothing is redone; graded
//! in three shards and merged, the results are the unsharded grading's.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{points_of_part, repo, scratch, tests_of_part};

/// Every student file, at its handout path under `dir/prefix`: the reference's where a crate has
/// one (`reference: true`), the skeleton's otherwise.
fn files(dir: &Path, prefix: &str, reference: bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for f in labspec::parts::student_files() {
        let p = Path::new(f);
        let with_ref = p
            .parent()
            .unwrap()
            .join("reference")
            .join(p.file_name().unwrap());
        let from = if reference && repo().join(&with_ref).is_file() {
            repo().join(with_ref)
        } else {
            repo().join(f)
        };
        let bytes = std::fs::read(from).unwrap();
        let to = dir.join(prefix).join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, &bytes).unwrap();
        out.push((format!("{prefix}{f}"), bytes));
    }
    out
}

fn tar_gz(path: &Path, entries: &[(String, Vec<u8>)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// A zip whose entries are written raw, so that hostile names (`../`) stay as they are.
fn zip(path: &Path, entries: &[(String, Vec<u8>)], links: &[(&str, &str)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for (name, bytes) in entries {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    for (name, target) in links {
        z.add_symlink(*name, *target, opts).unwrap();
    }
    z.finish().unwrap();
}

/// A class of six: two with the reference (a nested folder, a .tar.gz), the skeleton (a .zip),
/// and three that must be refused without harm to the others.
fn class() -> PathBuf {
    let dir = scratch("class-submissions");
    let tmp = scratch("class-staging");
    files(&dir.join("alice"), "raftlab-main/", true);
    tar_gz(
        &dir.join("bob.tar.gz"),
        &files(&tmp.join("b"), "handout/", true),
    );
    zip(
        &dir.join("carol.zip"),
        &files(&tmp.join("c"), "", false),
        &[],
    );
    // dave's raft/src is a link to the grader's own reference folder.
    let dave = dir.join("dave");
    files(&dave, "", false);
    std::fs::remove_dir_all(dave.join("raft/src")).unwrap();
    std::os::unix::fs::symlink(repo().join("raft/src/reference"), dave.join("raft/src")).unwrap();
    // erin's archive climbs out of its folder and links to the reference.
    let climb = vec![(
        "../../raft/src/raft.rs".to_string(),
        b"pub fn evil() {}".to_vec(),
    )];
    let reference = repo().join("raft/src/reference/raft.rs");
    zip(
        &dir.join("erin.zip"),
        &climb,
        &[("raft/src/raft.rs", reference.to_str().unwrap())],
    );
    // frank's archive is not one.
    std::fs::write(dir.join("frank.tar.gz"), b"not gzip").unwrap();
    std::fs::write(dir.join("notes.txt"), b"not a submission").unwrap();
    dir
}

fn grading(args: &[&str]) -> String {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grade-e2e-target");
    let out = Command::new(env!("CARGO_BIN_EXE_grading"))
        .args(args)
        .args(["--parts", "2a", "--runs", "2", "--seed", "5", "--debug"])
        .args(["--jobs", "2", "--timeout", "20"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run the grader");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the grader failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// results.json without its one timing.
fn results(dir: &Path) -> String {
    read(&dir.join("results.json"))
        .lines()
        .filter(|l| !l.contains("\"execution_time\""))
        .collect::<Vec<_>>()
        .join("\n")
}

const NAMES: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "frank"];

#[test]
fn a_class_grades_in_rows_resumes_and_shards() {
    let dir = class();
    let out = scratch("class-out");
    let d = dir.to_str().unwrap();
    grading(&["grade-class", d, "--out", out.to_str().unwrap()]);

    let full = points_of_part("2a");
    let csv = read(&out.join("class.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "submission,status,2a,total,max,failing_tests,hit_limits"
    );
    assert_eq!(lines.len(), 7, "{csv}");
    assert!(
        lines[1].starts_with(&format!("alice,graded,{full},{full},{full},,0")),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("bob,graded,{full},{full},{full},,0")),
        "{csv}"
    );
    let carol: Vec<&str> = lines[3].split(',').collect();
    assert_eq!(
        carol[..5],
        ["carol", "graded", "0", "0", &full.to_string()],
        "{csv}"
    );
    assert_eq!(carol[5].split(' ').count(), tests_of_part("2a"), "{csv}");
    for (line, name) in lines[4..].iter().zip(["dave", "erin", "frank"]) {
        assert!(
            line.starts_with(&format!("{name},refused,0,0,{full}")),
            "{csv}"
        );
    }

    let summary = |name: &str| -> serde_json::Value {
        serde_json::from_str(&read(&out.join(name).join("summary.json"))).unwrap()
    };
    assert!(
        summary("dave")["build_output"]
            .as_str()
            .unwrap()
            .contains("symbolic link (raft/src)")
    );
    assert!(
        summary("erin")["build_output"]
            .as_str()
            .unwrap()
            .contains("not a regular file")
    );
    assert!(
        summary("frank")["build_output"]
            .as_str()
            .unwrap()
            .contains("cannot be read")
    );
    let report = read(&out.join("class-report.txt"));
    assert!(report.contains("Class: 6 submissions"), "{report}");
    assert!(
        report.contains("Not built: refused, stopped by the lint gate or failed to compile (3)"),
        "{report}"
    );
    assert!(
        report.contains("Not submissions (ignored): notes.txt"),
        "{report}"
    );
    let class: serde_json::Value = serde_json::from_str(&read(&out.join("class.json"))).unwrap();
    assert_eq!(class["histogram"][0], 4);
    assert_eq!(class["histogram"][10], 2);
    assert_eq!(class["most_failing"][0][1], 1);

    // Again: everything that was graded is kept (a refusal costs nothing to repeat).
    let again = grading(&["grade-class", d, "--out", out.to_str().unwrap()]);
    assert!(
        again.contains("3 submissions were graded before"),
        "{again}"
    );
    // A changed submission is graded again, and only it.
    std::fs::write(
        dir.join("alice/raftlab-main/raft/src/raft.rs"),
        read(&repo().join("raft/src/raft.rs")),
    )
    .unwrap();
    let again = grading(&["grade-class", d, "--out", out.to_str().unwrap()]);
    assert!(
        again.contains("2 submissions were graded before"),
        "{again}"
    );
    assert!(read(&out.join("class.csv")).contains("\nalice,graded,0,0,"));
    files(&dir.join("alice"), "raftlab-main/", true);
    grading(&["grade-class", d, "--out", out.to_str().unwrap()]);

    // Three shards and a merge write what the unsharded grading wrote: six submissions are dealt
    // whole, two per shard.
    let mut shards = Vec::new();
    for k in 1..=3 {
        let s = scratch(&format!("class-shard{k}"));
        grading(&[
            "grade-class",
            d,
            "--shard",
            &format!("{k}/3"),
            "--out",
            s.to_str().unwrap(),
        ]);
        assert!(s.join("shard.json").is_file());
        shards.push(s.to_str().unwrap().to_string());
    }
    // A shard run again keeps what it graded (alice; dave's refusal is cheap to repeat).
    let again = grading(&["grade-class", d, "--shard", "1/3", "--out", &shards[0]]);
    assert!(
        again.contains("1 submissions were graded before"),
        "{again}"
    );
    let merged = scratch("class-merged");
    let mut args = vec!["merge", "--out", merged.to_str().unwrap()];
    args.extend(shards.iter().rev().map(String::as_str));
    let status = Command::new(env!("CARGO_BIN_EXE_grading"))
        .args(&args)
        .status()
        .unwrap();
    assert!(status.success());
    for f in ["class.csv", "class.json"] {
        assert_eq!(read(&out.join(f)), read(&merged.join(f)), "{f}");
    }
    for name in NAMES {
        assert_eq!(
            results(&out.join(name)),
            results(&merged.join(name)),
            "{name}"
        );
    }
    // A merge without every shard is refused.
    let status = Command::new(env!("CARGO_BIN_EXE_grading"))
        .args(["merge", "--out", scratch("class-merged2").to_str().unwrap()])
        .args(&shards[..2])
        .status()
        .unwrap();
    assert!(!status.success());
}

#[test]
fn one_submission_in_three_shards_merges_into_its_grading() {
    let out = scratch("single-full");
    grading(&["grade", "--out", out.to_str().unwrap()]);
    let mut shards = Vec::new();
    for k in 1..=3 {
        let s = scratch(&format!("single-shard{k}"));
        let text = grading(&[
            "grade",
            "--shard",
            &format!("{k}/3"),
            "--out",
            s.to_str().unwrap(),
        ]);
        assert!(text.contains(&format!("shard {k}/3 written")), "{text}");
        shards.push(s.to_str().unwrap().to_string());
    }
    // Each shard ran a third of the runs.
    let part: serde_json::Value =
        serde_json::from_str(&read(&Path::new(&shards[0]).join("shard-part.json"))).unwrap();
    let ran: usize = part["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().len())
        .sum();
    assert_eq!(ran, (tests_of_part("2a") * 2).div_ceil(3));
    let merged = scratch("single-merged");
    let status = Command::new(env!("CARGO_BIN_EXE_grading"))
        .args(["merge", "--out", merged.to_str().unwrap()])
        .args(&shards)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(results(&out), results(&merged));
    let summary = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&read(&d.join("summary.json"))).unwrap()
    };
    let (a, b) = (summary(&out), summary(&merged));
    assert_eq!(a["score"], b["score"]);
    assert_eq!(a["key"], b["key"]);
    assert_eq!(
        a["tests"].as_array().unwrap().len(),
        b["tests"].as_array().unwrap().len()
    );
    // --shard without --seed is refused: the shards would draw different seeds.
    let o = Command::new(env!("CARGO_BIN_EXE_grading"))
        .args([
            "grade",
            "--shard",
            "1/2",
            "--out",
            scratch("noseed").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--shard needs --seed"));
}
