//! A test's seed, its name, and the command that replays it.

use super::grader::grader;

/// The seed from the grader, else from `LAB_SEED`, else a fresh one.
pub fn test_seed() -> u64 {
    if let Some(g) = grader() {
        return g.seed;
    }
    match env_seed() {
        Ok(Some(seed)) => seed,
        // A seed nobody chose: the one place the framework draws on the OS's randomness.
        Ok(None) => labspec::seed::fresh_seed(),
        Err(e) => panic!("{e}"),
    }
}

/// The seed `LAB_SEED` gives, if set; an error names a malformed value.
pub(super) fn env_seed() -> Result<Option<u64>, String> {
    let var = labspec::env::SEED;
    match std::env::var(var) {
        Ok(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{var} must be an unsigned 64-bit integer, got {s:?}")),
        Err(_) => Ok(None),
    }
}

/// The name of the running test (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current().name().unwrap_or("test").to_string()
}

/// The command that replays exactly this test with this seed.
pub fn replay_command(seed: u64, cargo_flags: &str) -> String {
    replay(seed, cargo_flags).to_string()
}

/// [`replay_command`] as the protocol's type.
pub(super) fn replay(seed: u64, cargo_flags: &str) -> labspec::Replay {
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
    let target = if target == package.replace('-', "_") {
        labspec::ReplayTarget::Lib
    } else if !target.is_empty() {
        labspec::ReplayTarget::Test(target.to_string())
    } else {
        labspec::ReplayTarget::Any
    };
    labspec::Replay {
        check_determinism: false,
        seed,
        package: (!package.is_empty()).then_some(package),
        release: !cfg!(debug_assertions),
        cargo_flags: cargo_flags.to_string(),
        target,
        test: test_name(),
    }
}
