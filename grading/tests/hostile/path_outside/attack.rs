// In Raft::new: extra::hostile_extra();
// HOSTILE TEST CASE: a #[path] module that climbs out of raft/src to a file of the submission that is not a student file.
//
// `submission_extra.rs` sits at the root of this case's folder. The grader must build only the listed
// student files: in the sandbox the outside file is not there (the build fails), and without one the
// compiler's dep-info names every file the build read, so any unlisted one is refused.
#[path = "../../../../submission_extra.rs"]
mod extra;
