//! What the labs are and how the test harness and the grader talk, in one place: the lab parts
//! with their test targets, lab texts and student files ([`parts`]), the `LAB_*` variables
//! ([`mod@env`]), the lines the harness prints and the grader reads ([`lines`]), and the seeds
//! ([`seed`]). The harness (labrpc, in the student copy), the grader, the handout generator and
//! `labtree` all use it; it has no dependencies and holds nothing secret (a student copy has it).
//!
//! # Adding a lab
//!
//! Add one [`Lab`] to [`LABS`]: its student crates (every source file, and which of them the
//! student writes), and its parts (name, test target, lab text). The next one, sharded KV, reads:
//!
//! ```text
//! Lab {
//!     crates: &[
//!         StudentCrate { name: "shardctrler", sources: &[..], student_files: &[..] },
//!         StudentCrate { name: "shardkv", sources: &[..], student_files: &[..] },
//!     ],
//!     parts: &[
//!         Part { name: "4a", target: "shardctrler_4a", text: "4a-shardctrler.md" },
//!         Part { name: "4b", target: "shardkv_4b", text: "4b-shardkv.md" },
//!     ],
//! },
//! ```
//!
//! Everything else follows from the list: the grader's `--parts`, its builds, lint gate and
//! submission intake, the mutants' lab parts, the handout's copy, scan and verification, and
//! `labtree`'s tests, which check the list against the tree (every source file listed, every
//! target and lab text present, every graded test named `<...>_<part>`). What no list can write
//! is the lab itself: the crates (`reference/` and `alternative/` solutions behind features of
//! those names, like raft's, plus the `labtree::EDITS` entries that take that wiring out of a
//! student copy), the workspace members, `tests/<target>.rs`, `handout/labs/<text>`, and the
//! rubric's points for the new tests.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod env;
pub mod lines;
pub mod parts;
pub mod seed;

pub use lines::{Completion, GraderInput, Replay, ReplayTarget, Summary};
pub use parts::{LABS, Lab, Part, StudentCrate};
