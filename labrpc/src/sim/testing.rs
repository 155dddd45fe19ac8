//! The test-facing wrapper around [`run`]: seeds, the summary line, replay commands and the
//! determinism check.

use std::future::Future;

use super::run::{run, Options, Report};
use super::trace::first_difference;

/// The seed from `LAB_SEED`, or a fresh one.
pub fn test_seed() -> u64 {
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

/// Runs a test body as a simulated run: seeded from `LAB_SEED` (or fresh), checked for determinism
/// when `LAB_CHECK_DETERMINISM=1`, and ended by one summary line with `seed=` and `trace=`.
///
/// The body returns extra text for the summary line. A failure panics with the diagnosis, the seed
/// and the command that replays it; `cargo_flags` are the flags that command needs (e.g. features).
pub fn run_test_with<F, Fut>(cargo_flags: &str, make: F) -> Report
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + 'static,
{
    super::init_logging();
    let name = test_name();
    let seed = test_seed();
    let check = std::env::var("LAB_CHECK_DETERMINISM").is_ok_and(|v| v == "1");
    let opts = Options {
        keep_events: check,
        ..Options::with_seed(seed)
    };
    let fail = |what: String| -> ! {
        panic!(
            "{name} FAILED: {what}\n  replay: {}",
            replay_command(seed, cargo_flags)
        )
    };
    let (extra, report) = match run(opts.clone(), make.clone()) {
        Ok(r) => r,
        Err(e) => fail(e.to_string()),
    };
    if check {
        let (_, again) = match run(opts, make) {
            Ok(r) => r,
            Err(e) => fail(format!("the determinism check's second run failed: {e}")),
        };
        let diff = match (&report.event_list, &again.event_list) {
            (Some(a), Some(b)) => first_difference(a, b),
            _ => None,
        };
        if diff.is_some() || report.trace != again.trace {
            fail(format!(
                "not deterministic: the same seed gave traces {:016x} and {:016x}; {}",
                report.trace,
                again.trace,
                diff.unwrap_or_default()
            ));
        }
    }
    println!(
        "{name}: ok {extra}{}virtual={:.3}s wall={:.3}s events={} seed={} trace={:016x}{}",
        if extra.is_empty() { "" } else { " " },
        report.virtual_time.as_secs_f64(),
        report.wall_time.as_secs_f64(),
        report.events,
        report.seed,
        report.trace,
        if check { " determinism=checked" } else { "" },
    );
    report
}

/// [`run_test_with`] for tests that need no extra cargo flags to replay.
pub fn run_test<F, Fut>(make: F) -> Report
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + 'static,
{
    run_test_with("", make)
}
