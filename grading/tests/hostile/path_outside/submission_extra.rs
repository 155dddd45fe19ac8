//! HOSTILE TEST CASE (helper of path_outside): a file outside the student files, compiled in
//! through a `#[path]` that climbs out of raft/src.

/// Proof that this file was compiled in.
pub fn hostile_extra() {
    eprintln!("hostile: submission_extra.rs, which is not a student file, was compiled in");
}
