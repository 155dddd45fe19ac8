// HOSTILE TEST CASE: pulls framework files' text into the compiler's error output (compile_error! of include_str!).
//
// Does not compile, by design: each compile_error! carries a whole file as its message, so a grader
// that returns the build's errors verbatim hands the student the reference solution and the harness.
// Stopped by: the lint gate (include_str! is a disallowed macro); behind it, the grader must cut the
// build output it returns (and the reference is not in the build tree at all).
compile_error!(include_str!("lib.rs"));
compile_error!(include_str!("reference/raft.rs"));
compile_error!(include_str!("../../labrpc/src/harness/test_run.rs"));
