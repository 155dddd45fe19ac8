// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: sets a panic hook that prints a forged pass line and exits 0, then panics.
//
// The hook replaces the harness's own (installed before Raft::new runs). Stopped by: the lint gate
// (std::panic::set_hook, std::process::exit); behind it, a pass needs the report channel: an exit
// status of 0 and lines on stdout prove nothing.
/// The attack: turn the coming panic into a clean exit with a pass line.
fn hostile_attack() {
    std::panic::set_hook(Box::new(|_| {
        let name = std::thread::current().name().unwrap_or("test").to_string();
        let nonce = std::env::var("LAB_REPORT_NONCE").unwrap_or_else(|_| "0".to_string());
        hostile_say(&hostile_forged_lines(&nonce, &name, &sim::seed().to_string()));
        std::process::exit(0);
    }));
    panic!("hostile: panicking on purpose, so that the hook runs");
}
