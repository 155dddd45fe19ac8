//! HOSTILE TEST CASE: a #[path] module that compiles the grader's reference solution in place of a Raft.
//!
//! The whole submission: `raft/src/reference/raft.rs` is resolved next to this file, so wherever
//! the reference sits in the build tree, this "student" passes every test. Stopped by: the
//! grader's build tree holding no reference solution (rustc: "file not found for module").

#[path = "reference/raft.rs"]
mod r;

pub use r::*;
