// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: starts a second, empty harness run from Raft::new so that the harness itself reports a pass, then exit(0).
//
// labrpc::harness::run spawns its own thread with its own runtime, so the call works even from inside the
// outer run; the nested TestRun then writes the genuine completion report (with the nonce) for this
// test's name, since the simulation thread is named after the test. Stopped by: the lint gate
// (labrpc::harness::TestRun is a harness entry point, std::process::exit); behind it, the harness must
// refuse a nested run (or report only from the test's own outermost run, once, after its checks)
// and the exit-0 shortcut must not count.
/// The attack: let the real harness report a pass for an empty test body.
fn hostile_attack() {
    let nested = std::panic::catch_unwind(|| {
        labrpc::harness::TestRun::new().run(|| async { String::new() })
    });
    eprintln!("hostile: the nested TestRun gave {nested:?}");
    std::process::exit(0);
}
