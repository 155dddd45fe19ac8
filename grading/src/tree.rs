//! The tree that gets graded: a fresh copy of the pristine repository with the submission's
//! student files put in, built once, and the graded tests its binaries hold.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::student_files::STUDENT_FILES;

/// A graded test: its name, lab part and the binary that runs it.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    /// e.g. "2a"
    pub part: String,
    /// The test binary's target name, e.g. "raft_2a" (for the replay command).
    pub target: String,
    pub exe: PathBuf,
}

/// Copies `src` to `dst`, leaving out build output, version control and `skip`.
pub fn copy_tree(src: &Path, dst: &Path, skip: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut entries: Vec<_> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target"
            || name == ".git"
            || path == skip
            || path.canonicalize().ok().as_deref() == Some(skip)
        {
            continue;
        }
        let to = dst.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&path, &to, skip)?;
        } else if kind.is_file() {
            std::fs::copy(&path, &to)?;
        }
    }
    Ok(())
}

/// Puts the submission's student files into `tree`; returns notes on files it lacks.
pub fn overlay_student_files(submission: &Path, tree: &Path) -> std::io::Result<Vec<String>> {
    let mut notes = Vec::new();
    for f in STUDENT_FILES {
        let from = submission.join(f);
        if from.is_file() {
            std::fs::copy(&from, tree.join(f))?;
        } else {
            notes.push(format!("the submission has no {f}; the skeleton's is used"));
        }
    }
    Ok(notes)
}

/// The test binary holding a part's graded tests: tests/raft_2a.rs holds 2A, tests/kv_3a.rs 3A.
pub fn target_of(part: &str) -> String {
    if part.starts_with('2') {
        format!("raft_{part}")
    } else {
        format!("kv_{part}")
    }
}

/// Builds the graded tests of `parts` in `tree` once; returns each test binary's target name and
/// path, or the compiler's messages when the build fails.
pub fn build(
    tree: &Path,
    target_dir: &Path,
    parts: &[String],
    reference: bool,
    release: bool,
) -> Result<Vec<(String, PathBuf)>, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(tree)
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
            "-p",
            "raftlab",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        // The pristine .cargo/config.toml decides the compiler flags.
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTDOCFLAGS");
    for part in parts {
        cmd.args(["--test", &target_of(part)]);
    }
    if release {
        cmd.arg("--release");
    }
    if reference {
        cmd.args(["--features", "reference"]);
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(compiler_errors(&String::from_utf8_lossy(&out.stderr)));
    }
    let mut bins = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_test_bin = v["reason"] == "compiler-artifact"
            && v["profile"]["test"] == true
            && v["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"));
        if let (true, Some(exe), Some(name)) = (
            is_test_bin,
            v["executable"].as_str(),
            v["target"]["name"].as_str(),
        ) {
            bins.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    Ok(bins)
}

/// The compiler output worth showing: the errors, or everything if there are none.
fn compiler_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim_start().starts_with("Compiling"))
        .collect();
    let text = lines.join("\n");
    if text.len() > 20_000 {
        format!("{}\n... (cut)", &text[..20_000])
    } else {
        text
    }
}

/// The graded tests in `bins` whose part is in `parts` (names end in `_<part>`).
pub fn list_tests(bins: &[(String, PathBuf)], parts: &[String]) -> Result<Vec<TestCase>, String> {
    let mut tests = Vec::new();
    for (target, exe) in bins {
        let out = Command::new(exe)
            .arg("--list")
            .output()
            .map_err(|e| format!("cannot list the tests of {}: {e}", exe.display()))?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(name) = line.strip_suffix(": test") else {
                continue;
            };
            let Some((_, part)) = name.rsplit_once('_') else {
                continue;
            };
            if parts.iter().any(|p| p == part) {
                tests.push(TestCase {
                    name: name.to_string(),
                    part: part.to_string(),
                    target: target.clone(),
                    exe: exe.clone(),
                });
            }
        }
    }
    tests.sort_by(|a, b| (&a.part, &a.target).cmp(&(&b.part, &b.target)));
    Ok(tests)
}
