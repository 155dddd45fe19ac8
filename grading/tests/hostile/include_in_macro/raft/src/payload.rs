// HOSTILE TEST CASE (helper of include_in_macro): not a student file; it reaches the build only
// if the grader copies more than the listed files.

fn hostile_payload() -> &'static str {
    "hostile: raft/src/payload.rs, which is not a student file, was compiled in"
}
