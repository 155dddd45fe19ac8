// In Raft::new: let _ = hostile_payload();
// HOSTILE TEST CASE: include! of a non-student file of the submission, hidden in a macro_rules! and a concat!.
//
// `raft/src/payload.rs` ships next to raft.rs in this case's folder; no grep for `include!("` finds the
// include, since its path is assembled by concat! inside a macro. A grader that copies only the listed
// files makes the build fail (payload.rs is missing); the lint gate's disallowed_macros sees the
// include! through the expansion.
macro_rules! hostile_sneak {
    ($($part:literal),*) => {
        include!(concat!($($part),*));
    };
}

hostile_sneak!("pay", "load.rs");
