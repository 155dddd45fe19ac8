// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: writes 1.5 GiB to stdout in 64 KiB lines.
//
// Straight to the file descriptor (std::io::stdout), which libtest's output capture does not take, so
// it all reaches the grader's pipe. Stopped by: the lint gate does not stop it (std::io::stdout is
// allowed); the grader must keep only a bounded part of each run's output (and the wall-clock limit).
/// The attack: flood the grader's log.
fn hostile_attack() {
    use std::io::Write;
    let mut line = vec![b'x'; 64 << 10];
    if let Some(last) = line.last_mut() {
        *last = b'\n';
    }
    let mut out = std::io::stdout().lock();
    // 24576 lines of 64 KiB: 1.5 GiB.
    for i in 0..(3u32 << 13) {
        if let Err(e) = out.write_all(&line) {
            eprintln!("hostile: stdout failed after {i} lines: {e}");
            return;
        }
    }
}
