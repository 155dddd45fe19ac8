//! What a student copy of raftlab holds, in one place for the two tools that make one: the
//! handout generator (the copy students get) and the grader (the copy a submission is built in).
//! A student copy is the framework, the testers and the graded tests, with the reference
//! solutions and the instructors' tools left out and the `reference` feature edited away.
//! The labs themselves (student crates, student files, parts) are listed in `labspec`, which a
//! student copy holds; this crate, which it does not, says only what is copied and what stays out.
//! (It runs outside the simulation, so it may use the file system.)
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::Path;

/// Files and folders copied as they are (folders without `target/` and without what
/// [`left_out`] names), relative to the repository's root, besides every student crate of
/// `labspec::LABS` (see [`copied`]). The instructors' tools (`labtree/`, `grading/`, `handout/`)
/// are not among them.
pub const COPIED: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "clippy.toml",
    ".gitignore",
    ".cargo",
    "labspec",
    "labrpc",
    "lincheck",
    "src",
    "tests",
];

/// The solutions' folders in each student crate's `src/`: the reference and the alternative.
pub const SOLUTIONS: &[&str] = &["reference", "alternative"];

/// Everything copied: [`COPIED`] and the student crates' folders.
pub fn copied() -> Vec<&'static str> {
    let crates = labspec::parts::student_crates().map(|c| c.name);
    COPIED.iter().copied().chain(crates).collect()
}

/// Paths under the copied folders that stay out: each student crate's [`SOLUTIONS`] folders,
/// e.g. `raft/src/reference`.
pub fn left_out() -> Vec<String> {
    labspec::parts::student_crates()
        .flat_map(|c| SOLUTIONS.iter().map(move |s| format!("{}/src/{s}", c.name)))
        .collect()
}

/// One edit of a copied file: `from` must occur in it (so a change of the source that the
/// generator does not know about stops it, rather than leaking something), and becomes `to`.
pub struct Edit {
    pub file: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

pub const EDITS: &[Edit] = &[
    Edit {
        file: "Cargo.toml",
        from: r#"members = ["labspec", "labrpc", "lincheck", "raft", "kvraft", "shardctrler", "shardkv", "labtree", "grading", "handout"]"#,
        to: r#"members = ["labspec", "labrpc", "lincheck", "raft", "kvraft", "shardctrler", "shardkv"]"#,
    },
    Edit {
        file: "Cargo.toml",
        from: "[features]\n# Use the reference solutions instead of the student skeletons.\n\
               reference = [\"raft/reference\", \"kvraft/reference\", \"shardctrler/reference\", \"shardkv/reference\"]\n\
               # Use the second, independent solutions instead (see grading/README.md).\n\
               alternative = [\"raft/alternative\", \"kvraft/alternative\", \
               \"shardctrler/alternative\", \"shardkv/alternative\"]\n\n",
        to: "",
    },
    Edit {
        file: "raft/Cargo.toml",
        from: "[features]\n# Build the reference solution instead of the student's raft.rs.\n\
               reference = []\n# Build the second, independent solution (raft/src/alternative/) \
               instead.\nalternative = []\n\n",
        to: "",
    },
    Edit {
        file: "kvraft/Cargo.toml",
        from: "[features]\n# Build the reference solution instead of the student's client.rs, \
               server.rs and common.rs.\nreference = []\n# Build the second, independent solution \
               (kvraft/src/alternative/) instead.\nalternative = [\"raft/alternative\"]\n\n",
        to: "",
    },
    Edit {
        file: "raft/src/lib.rs",
        from: r#"// The student's Raft, or the reference solution when the `reference` feature is on (or the
// second, independent solution with `alternative`, which the tests must not punish either).
#[cfg_attr(feature = "reference", path = "reference/raft.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/raft.rs"
)]
"#,
        to: "// The student's Raft.\n",
    },
    Edit {
        file: "kvraft/src/lib.rs",
        from: SOLUTION_MODULES,
        to: STUDENT_MODULES,
    },
    Edit {
        file: "shardctrler/Cargo.toml",
        from: "[features]\n# Build the reference solution instead of the student's client.rs, \
               server.rs and common.rs.\nreference = []\n# Build the second, independent solution \
               (shardctrler/src/alternative/) instead.\nalternative = [\"raft/alternative\"]\n\n",
        to: "",
    },
    Edit {
        file: "shardkv/Cargo.toml",
        from: "[features]\n# Build the reference solution instead of the student's client.rs, \
               server.rs and common.rs.\nreference = []\n# Build the second, independent solution \
               (shardkv/src/alternative/) instead.\nalternative = [\"raft/alternative\", \
               \"shardctrler/alternative\"]\n\n",
        to: "",
    },
    Edit {
        file: "shardctrler/src/lib.rs",
        from: SOLUTION_MODULES,
        to: STUDENT_MODULES,
    },
    Edit {
        file: "shardkv/src/lib.rs",
        from: SOLUTION_MODULES,
        to: STUDENT_MODULES,
    },
    Edit {
        file: "src/raft_tester.rs",
        from: "/// The cargo flags that replay a test of this package (with or without the reference \
               solutions).\npub const REPLAY_FLAGS: &str = if cfg!(feature = \"reference\") {\n    \
               \"--features reference\"\n} else if cfg!(feature = \"alternative\") {\n    \
               \"--features alternative\"\n} else {\n    \"\"\n};\n",
        to: "/// The cargo flags that replay a test of this package.\npub const REPLAY_FLAGS: &str = \"\";\n",
    },
];

/// What the student copy's lib.rs of kvraft, shardctrler and shardkv says instead of
/// [`SOLUTION_MODULES`].
const STUDENT_MODULES: &str = "// The student's files.\nmod client;\nmod common;\nmod server;\n";

/// How the lib.rs of kvraft, shardctrler and shardkv choose between the student's files and the
/// solutions' (all three crates have client.rs, common.rs and server.rs).
const SOLUTION_MODULES: &str = r#"// The student's files, or the reference solution's when the `reference` feature is on (or the
// second, independent solution's with `alternative`, which the tests must not punish either).
#[cfg_attr(feature = "reference", path = "reference/client.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/client.rs"
)]
mod client;
#[cfg_attr(feature = "reference", path = "reference/common.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/common.rs"
)]
mod common;
#[cfg_attr(feature = "reference", path = "reference/server.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/server.rs"
)]
mod server;
"#;

/// Writes the student copy of the tree at `repo` into the folder `out` (which should be empty):
/// [`copied`] without [`left_out`] and `target/`, with [`EDITS`] applied. Returns how many files
/// it wrote. Fails when an edit's text is not found, rather than leave the reference in. (The
/// copied Cargo.lock still lists the instructors' tools; the handout generator prunes it.)
pub fn write_student_tree(repo: &Path, out: &Path) -> Result<usize, String> {
    let mut count = 0;
    let left_out = left_out();
    for item in copied() {
        count += copy_path(repo, out, Path::new(item), &left_out)?;
    }
    for edit in EDITS {
        let path = out.join(edit.file);
        let text = read(&path)?;
        if !text.contains(edit.from) {
            return Err(format!(
                "{}: the text that takes the reference out is not there any more; update \
                 labtree/src/lib.rs:\n{}",
                edit.file, edit.from
            ));
        }
        write(&path, &text.replacen(edit.from, edit.to, 1))?;
    }
    Ok(count)
}

/// Copies `rel` (a file, or a folder recursively) from `repo` into `out`, but what `left_out`
/// names.
fn copy_path(repo: &Path, out: &Path, rel: &Path, left_out: &[String]) -> Result<usize, String> {
    let from = repo.join(rel);
    if left_out.iter().any(|l| Path::new(l) == rel) || rel.ends_with("target") {
        return Ok(0);
    }
    if from.is_dir() {
        mkdir(&out.join(rel))?;
        let mut count = 0;
        for name in read_dir(&from)? {
            count += copy_path(repo, out, &rel.join(name), left_out)?;
        }
        Ok(count)
    } else {
        copy_file(&from, &out.join(rel))?;
        Ok(1)
    }
}

// File helpers with the path in their errors, for the tools that make copies (the handout
// generator adds the lab texts with them).

/// The names in a folder, sorted (so a copy is made the same way every time).
pub fn read_dir(dir: &Path) -> Result<Vec<std::ffi::OsString>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = entries
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    names.sort();
    Ok(names)
}

/// Creates a folder and its parents.
pub fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Copies one file.
pub fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

/// Reads a text file.
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn student_crates_list_every_source_file_of_theirs() {
        for c in labspec::parts::student_crates() {
            let (name, files) = (c.name, c.sources);
            let src = repo().join(name).join("src");
            let mut found: Vec<String> = std::fs::read_dir(&src)
                .unwrap()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
                .map(|e| format!("{name}/src/{}", e.file_name().to_string_lossy()))
                .collect();
            found.sort();
            let mut listed: Vec<String> = files.iter().map(|f| f.to_string()).collect();
            listed.sort();
            assert_eq!(
                found, listed,
                "labspec::LABS lists the sources of {name} wrongly"
            );
            for s in SOLUTIONS {
                assert!(src.join(s).is_dir(), "{name} has no {s} solution");
            }
        }
        for f in labspec::parts::student_files() {
            assert!(repo().join(f).is_file(), "{f} is not in the tree");
        }
    }

    /// Every part's test target and lab text exist, every graded test is named after its part, and
    /// every test target is some part's.
    #[test]
    fn parts_match_the_tests_and_the_lab_texts() {
        let targets: Vec<&str> = labspec::parts::parts().map(|p| p.target).collect();
        for file in read_dir(&repo().join("tests")).unwrap() {
            let file = file.to_string_lossy().into_owned();
            if let Some(target) = file.strip_suffix(".rs") {
                assert!(
                    targets.contains(&target),
                    "tests/{file} is no part's target"
                );
            }
        }
        for p in labspec::parts::parts() {
            let text = repo().join("handout/labs").join(p.text);
            assert!(text.is_file(), "{}: no lab text {}", p.name, text.display());
            let tests = read(&repo().join("tests").join(format!("{}.rs", p.target))).unwrap();
            let mut lines = tests.lines();
            let mut count = 0;
            while let Some(line) = lines.next() {
                if line.trim() == "#[test]" {
                    let f = lines
                        .next()
                        .and_then(|l| l.trim().strip_prefix("fn "))
                        .unwrap();
                    let name = f.split('(').next().unwrap();
                    assert_eq!(
                        labspec::parts::part_of_test(name),
                        Some(p.name),
                        "{name} in tests/{}.rs",
                        p.target
                    );
                    count += 1;
                }
            }
            assert!(count > 0, "tests/{}.rs has no tests", p.target);
        }
    }

    /// The copy holds the crates a student builds: labspec (labrpc's harness needs it) and every
    /// student crate, each a member of the copy's workspace.
    #[test]
    fn the_copy_holds_every_crate_a_student_builds() {
        let members = EDITS
            .iter()
            .find(|e| e.from.starts_with("members"))
            .unwrap();
        for name in ["labspec", "labrpc"]
            .into_iter()
            .chain(labspec::parts::student_crates().map(|c| c.name))
        {
            assert!(copied().contains(&name), "{name} is not copied");
            assert!(
                members.to.contains(&format!("\"{name}\"")),
                "{name} is no member"
            );
        }
        for tool in ["labtree", "grading", "handout"] {
            assert!(!copied().contains(&tool) && !members.to.contains(tool));
        }
    }

    #[test]
    fn student_crates_share_one_lint_set_that_keeps_the_root_lints() {
        let root = std::fs::read_to_string(repo().join("clippy.toml")).unwrap();
        let raft = std::fs::read_to_string(repo().join("raft/clippy.toml")).unwrap();
        for c in labspec::parts::student_crates() {
            let lints = std::fs::read_to_string(repo().join(c.name).join("clippy.toml")).unwrap();
            assert_eq!(
                raft, lints,
                "raft/clippy.toml and {}/clippy.toml differ",
                c.name
            );
        }
        for line in root
            .lines()
            .filter(|l| l.trim_start().starts_with("{ path"))
        {
            assert!(raft.contains(line), "the student lint set lacks {line}");
        }
        for banned in [
            "std::fs::read",
            "std::env::var",
            "std::process::Command",
            "std::io::stdin",
        ] {
            assert!(
                raft.contains(&format!("\"{banned}\"")),
                "{banned} is not disallowed"
            );
        }
        for name in labspec::parts::student_crates().map(|c| c.name) {
            let lib = std::fs::read_to_string(repo().join(name).join("src/lib.rs")).unwrap();
            assert!(
                lib.contains("#![forbid(unsafe_code)]"),
                "{name}: no forbid(unsafe_code)"
            );
            assert!(
                lib.contains("clippy::disallowed_methods,"),
                "{name}: lints not forbidden"
            );
        }
    }
}
