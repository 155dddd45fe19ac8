// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: runs an empty harness TestRun on a std::thread named after the test, joins it, then exit(0).
//
// Like nested_run_test, but from a thread of its own carrying the test's name (the harness takes the
// test's name from the thread's). Stopped by: the lint gate (std::thread, TestRun,
// std::process::exit); behind it, only the test's own thread may report, once.
/// The attack: a second harness run on a thread that looks like the test's.
fn hostile_attack() {
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let spawned = std::thread::Builder::new()
        .name(name)
        .spawn(|| labrpc::harness::TestRun::new().run(|| async { String::new() }));
    match spawned {
        Ok(handle) => eprintln!("hostile: the thread's TestRun gave {:?}", handle.join()),
        Err(e) => eprintln!("hostile: cannot spawn a thread: {e}"),
    }
    std::process::exit(0);
}
