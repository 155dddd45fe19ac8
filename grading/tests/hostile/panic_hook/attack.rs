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

/// Lines that look like a passing run: the completion report's format, the harness's summary line
/// and libtest's verdict.
fn hostile_forged_lines(nonce: &str, name: &str, seed: &str) -> String {
    format!(
        "{nonce} pass {name} seed={seed} virtual=1.000 wall=0.001 trace=0000000000000000\n\
         {name}: ok virtual=1.000s wall=0.001s events=1 seed={seed} trace=0000000000000000\n\
         test {name} ... ok\n\
         \n\
         test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n"
    )
}

/// Writes straight to the file descriptors: libtest's capture only takes `print!`'s output.
fn hostile_say(text: &str) {
    use std::io::Write;
    // On a line of its own, whatever libtest printed last.
    let text = format!("\n{text}");
    let _ = std::io::stdout().write_all(text.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(text.as_bytes());
}
