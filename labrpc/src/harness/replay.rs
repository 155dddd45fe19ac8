//! A test's seed, its name, and the command that replays it.

use super::grader::grader;

/// The seed from the grader, else from `LAB_SEED`, else a fresh one.
pub fn test_seed() -> u64 {
    if let Some(g) = grader() {
        return g.seed;
    }
    match std::env::var("LAB_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("LAB_SEED must be an unsigned 64-bit integer, got {s:?}")),
        Err(_) => fresh_seed(),
    }
}

/// A seed nobody chose: the one place the framework draws on the OS's randomness.
fn fresh_seed() -> u64 {
    use std::hash::BuildHasher;
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    let s = std::collections::hash_map::RandomState::new();
    s.hash_one(0x5eed_u64) % 1_000_000_000_000
}

/// The name of the running test (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current().name().unwrap_or("test").to_string()
}

/// The command that replays exactly this test with this seed.
pub fn replay_command(seed: u64, cargo_flags: &str) -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_ref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("");
    // Test binaries are named `<target>-<16 hex digits>`.
    let target = match stem.rsplit_once('-') {
        Some((t, h)) if h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()) => t,
        _ => stem,
    };
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let mut cmd = format!("LAB_SEED={seed} cargo test");
    if !package.is_empty() {
        cmd += &format!(" -p {package}");
    }
    if !cfg!(debug_assertions) {
        cmd += " --release";
    }
    if !cargo_flags.is_empty() {
        cmd += " ";
        cmd += cargo_flags;
    }
    if target == package.replace('-', "_") {
        cmd += " --lib";
    } else if !target.is_empty() {
        cmd += &format!(" --test {target}");
    }
    cmd + &format!(" -- --exact {} --nocapture", test_name())
}
