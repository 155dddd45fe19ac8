//! The labs: their student crates and their parts, each part with its test target and lab text.

/// One lab: the crates a student works in for it, and its parts (graded one by one).
#[derive(Debug)]
pub struct Lab {
    /// The crates whose files the student writes (with their other source files).
    pub crates: &'static [StudentCrate],
    /// The lab's parts, in order.
    pub parts: &'static [Part],
}

/// A crate that holds student files.
#[derive(Debug)]
pub struct StudentCrate {
    /// The crate's name, which is also its folder, e.g. `raft`.
    pub name: &'static str,
    /// Every source file that may go into it (framework and student files), relative to the
    /// repository's root. The grader checks the compiler's record of the files it read against
    /// this list, so that `#[path]` or `include!` cannot bring in others.
    pub sources: &'static [&'static str],
    /// The files the student edits, relative to the repository's root (each also in `sources`).
    /// Grading takes only these from a submission; everything else (tests, testers, labrpc,
    /// Cargo.toml, Cargo.lock) comes from the pristine tree, so edits to it have no effect.
    pub student_files: &'static [&'static str],
}

/// One lab part.
#[derive(Debug)]
pub struct Part {
    /// Its name, lower case, e.g. `2a`; every graded test of it is named `<...>_<name>`.
    pub name: &'static str,
    /// The test target (`tests/<target>.rs` of the root package) that holds its graded tests.
    pub target: &'static str,
    /// Its lab text, a file in `handout/labs/` (`labs/` in a student copy).
    pub text: &'static str,
}

/// Every lab, in order. Adding a lab (or a part) is adding it here; see the crate's docs.
pub const LABS: &[Lab] = &[
    Lab {
        crates: &[StudentCrate {
            name: "raft",
            sources: &[
                "raft/src/lib.rs",
                "raft/src/persister.rs",
                "raft/src/raft.rs",
            ],
            student_files: &["raft/src/raft.rs"],
        }],
        parts: &[
            Part {
                name: "2a",
                target: "raft_2a",
                text: "2a-election.md",
            },
            Part {
                name: "2b",
                target: "raft_2b",
                text: "2b-log.md",
            },
            Part {
                name: "2c",
                target: "raft_2c",
                text: "2c-persistence.md",
            },
            Part {
                name: "2d",
                target: "raft_2d",
                text: "2d-snapshots.md",
            },
        ],
    },
    Lab {
        crates: &[StudentCrate {
            name: "kvraft",
            sources: &[
                "kvraft/src/lib.rs",
                "kvraft/src/client.rs",
                "kvraft/src/server.rs",
                "kvraft/src/common.rs",
            ],
            student_files: &[
                "kvraft/src/client.rs",
                "kvraft/src/server.rs",
                "kvraft/src/common.rs",
            ],
        }],
        parts: &[
            Part {
                name: "3a",
                target: "kv_3a",
                text: "3a-kv.md",
            },
            Part {
                name: "3b",
                target: "kv_3b",
                text: "3b-kv-snapshots.md",
            },
        ],
    },
    Lab {
        crates: &[
            StudentCrate {
                name: "shardctrler",
                sources: &[
                    "shardctrler/src/lib.rs",
                    "shardctrler/src/client.rs",
                    "shardctrler/src/server.rs",
                    "shardctrler/src/common.rs",
                ],
                student_files: &[
                    "shardctrler/src/client.rs",
                    "shardctrler/src/server.rs",
                    "shardctrler/src/common.rs",
                ],
            },
            StudentCrate {
                name: "shardkv",
                sources: &[
                    "shardkv/src/lib.rs",
                    "shardkv/src/client.rs",
                    "shardkv/src/server.rs",
                    "shardkv/src/common.rs",
                ],
                student_files: &[
                    "shardkv/src/client.rs",
                    "shardkv/src/server.rs",
                    "shardkv/src/common.rs",
                ],
            },
        ],
        parts: &[
            Part {
                name: "4a",
                target: "shardctrler_4a",
                text: "4a-shardctrler.md",
            },
            Part {
                name: "4b",
                target: "shardkv_4b",
                text: "4b-shardkv.md",
            },
        ],
    },
];

/// Every part of every lab, in order.
pub fn parts() -> impl Iterator<Item = &'static Part> {
    LABS.iter().flat_map(|l| l.parts)
}

/// The part called `name` (lower case, e.g. `2a`).
pub fn part(name: &str) -> Option<&'static Part> {
    parts().find(|p| p.name == name)
}

/// The lab that `part` belongs to.
pub fn lab_of(part: &str) -> Option<&'static Lab> {
    LABS.iter().find(|l| l.parts.iter().any(|p| p.name == part))
}

/// The names of every part, in order (`2a`, `2b`, ...).
pub fn part_names() -> impl Iterator<Item = &'static str> {
    parts().map(|p| p.name)
}

/// The part a graded test belongs to, from its name's last `_<part>` (e.g. `basic_3a`: `3a`),
/// whether or not that part exists.
pub fn part_of_test(test: &str) -> Option<&str> {
    test.rsplit_once('_').map(|(_, p)| p)
}

/// Every crate that holds student files, in order.
pub fn student_crates() -> impl Iterator<Item = &'static StudentCrate> {
    LABS.iter().flat_map(|l| l.crates)
}

/// Every student file, relative to the repository's root, in order.
pub fn student_files() -> impl Iterator<Item = &'static str> {
    student_crates().flat_map(|c| c.student_files.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_consistent() {
        let names: Vec<&str> = part_names().collect();
        assert_eq!(names, ["2a", "2b", "2c", "2d", "3a", "3b", "4a", "4b"]);
        let files: Vec<&str> = student_files().collect();
        assert_eq!(
            files,
            [
                "raft/src/raft.rs",
                "kvraft/src/client.rs",
                "kvraft/src/server.rs",
                "kvraft/src/common.rs",
                "shardctrler/src/client.rs",
                "shardctrler/src/server.rs",
                "shardctrler/src/common.rs",
                "shardkv/src/client.rs",
                "shardkv/src/server.rs",
                "shardkv/src/common.rs"
            ]
        );
        for c in student_crates() {
            for f in c.student_files {
                assert!(c.sources.contains(f), "{f} is not a source of {}", c.name);
            }
            for f in c.sources {
                assert!(f.starts_with(&format!("{}/src/", c.name)), "{f}");
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in parts() {
            assert!(seen.insert(p.name), "part {} twice", p.name);
            assert_eq!(p.name, p.name.to_lowercase());
            assert!(p.target.ends_with(&format!("_{}", p.name)), "{}", p.target);
            assert!(!p.name.contains('_'), "{}", p.name);
        }
        assert_eq!(part("2c").map(|p| p.target), Some("raft_2c"));
        assert_eq!(lab_of("3b").map(|l| l.parts.len()), Some(2));
        assert_eq!(part_of_test("unreliable_agree_2b"), Some("2b"));
        assert_eq!(lab_of("4b").map(|l| l.crates.len()), Some(2));
        assert!(part("5a").is_none() && lab_of("5a").is_none());
    }
}
