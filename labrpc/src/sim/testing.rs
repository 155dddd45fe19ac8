//! The test-facing wrapper around [`run`]: seeds, the summary line, replay commands and the
//! determinism check.

use std::future::Future;
use std::io::Read;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

use super::run::{Options, Report, run};
use super::trace::first_difference;

/// The environment variable that tells the harness a grader runs it: `LAB_GRADER=stdin` means the
/// grader's secret and seed wait on standard input. Not a secret itself.
pub const GRADER_VAR: &str = labspec::env::GRADER;

/// What a grader handed the harness: a per-run secret that authenticates the completion report,
/// and the seed the run must use. Read once from standard input, to its end, before any student
/// code runs (the harness reads it on the first test call), so that later code finds nothing.
#[derive(Debug)]
struct GraderChannel {
    nonce: String,
    seed: u64,
    /// The thread that read it: the test's own thread. A report from any other thread is refused.
    owner: ThreadId,
}

static GRADER: OnceLock<Option<GraderChannel>> = OnceLock::new();
static REPORTED: AtomicBool = AtomicBool::new(false);

/// The grader's channel, read on first use; `None` when no grader runs this process.
fn grader() -> Option<&'static GraderChannel> {
    GRADER
        .get_or_init(|| {
            if std::env::var(GRADER_VAR).ok()? != labspec::env::GRADER_STDIN {
                return None;
            }
            let mut text = String::new();
            // A grader that sent nothing (or garbage) gets no report: it then fails the run.
            std::io::stdin().lock().read_to_string(&mut text).ok()?;
            let labspec::GraderInput { nonce, seed } = text.parse().ok()?;
            Some(GraderChannel {
                nonce,
                seed,
                owner: std::thread::current().id(),
            })
        })
        .as_ref()
}

/// In a graded process, takes from the calling thread (a simulation's, before any code of the run)
/// and from every thread it starts the right to open any file or use the network (Landlock):
/// graded code has no use for them, and a process may otherwise read its own memory through
/// `/proc/self/mem`, the grader's secret included. Panics when the kernel cannot enforce it, so
/// the run fails (loudly) rather than run unconfined; outside a grading it does nothing.
pub(crate) fn confine_if_graded() {
    use landlock::{ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr};
    if grader().is_none() {
        return;
    }
    let abi = ABI::V4;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    match status {
        Ok(s) if s.ruleset != landlock::RulesetStatus::NotEnforced => {}
        Ok(_) => {
            panic!("graded run: this kernel does not enforce Landlock; the run cannot be confined")
        }
        Err(e) => panic!("graded run: cannot confine the simulation's thread: {e}"),
    }
}

/// The seed from the grader, else from `LAB_SEED`, else a fresh one.
pub fn test_seed() -> u64 {
    if let Some(g) = grader() {
        return g.seed;
    }
    let var = labspec::env::SEED;
    match std::env::var(var) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be an unsigned 64-bit integer, got {s:?}")),
        // A seed nobody chose: the one place the framework draws on the OS's randomness.
        Err(_) => labspec::seed::fresh_seed(),
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
fn replay(seed: u64, cargo_flags: &str) -> labspec::Replay {
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

/// How a test runs: its seed, whether to check determinism, and what its replay command needs.
#[derive(Debug, Clone)]
pub struct TestConfig {
    pub seed: u64,
    /// Run twice with the same seed and compare the traces.
    pub check_determinism: bool,
    /// Cargo flags the replay command needs (e.g. `--features X`), put after `cargo test`.
    pub cargo_flags: String,
}

impl TestConfig {
    /// From the environment: `LAB_SEED` (or a fresh seed) and `LAB_CHECK_DETERMINISM=1`.
    pub fn from_env(cargo_flags: &str) -> Self {
        TestConfig {
            seed: test_seed(),
            check_determinism: std::env::var(labspec::env::CHECK_DETERMINISM)
                .is_ok_and(|v| v == labspec::env::CHECK_DETERMINISM_ON),
            cargo_flags: cargo_flags.to_string(),
        }
    }
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
    run_test_config(TestConfig::from_env(cargo_flags), make)
}

/// [`run_test_with`] with an explicit configuration instead of the environment's.
pub fn run_test_config<F, Fut>(config: TestConfig, make: F) -> Report
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + 'static,
{
    run_test_then(config, make, Ok)
}

/// Runs a test whose verdict needs work outside the simulation: the body's result goes to
/// `finish` on the test's own thread (no watchdog, no virtual time), which returns the extra text
/// of the summary line, or the failure message.
pub fn run_test_then<T, F, Fut, C>(config: TestConfig, make: F, finish: C) -> Report
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
    C: FnOnce(T) -> Result<String, String>,
{
    if super::in_simulation() {
        panic!(
            "a simulated test cannot start inside a simulated run (the harness is the tester's)"
        );
    }
    let grading = grader();
    super::init_logging();
    let name = test_name();
    let TestConfig {
        seed,
        check_determinism: check,
        cargo_flags,
    } = config;
    let opts = Options {
        keep_events: check,
        ..Options::with_seed(seed)
    };
    let fail = |what: String| -> ! {
        panic!(
            "{name} FAILED: {what}\n  replay: {}",
            replay_command(seed, &cargo_flags)
        )
    };
    let (value, report) = match run(opts.clone(), make.clone()) {
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
            panic!(
                "{name} FAILED: not deterministic: the same seed gave traces {:016x} and {:016x}; \
                 {}\n  usual causes: iterating a HashMap/HashSet, std::time, an unseeded RNG, \
                 threads (`cargo clippy` points at them)\n  replay: {}",
                report.trace,
                again.trace,
                diff.unwrap_or_default(),
                labspec::Replay {
                    check_determinism: true,
                    ..replay(seed, &cargo_flags)
                }
            );
        }
    }
    let extra = match finish(value) {
        Ok(extra) => extra,
        Err(what) => fail(format!(
            "{what}\n  virtual time {}, seed={seed}",
            super::fmt_time(report.virtual_time.as_nanos() as u64)
        )),
    };
    let summary = labspec::Summary {
        test: name.clone(),
        extra,
        virtual_s: report.virtual_time.as_secs_f64(),
        wall_s: report.wall_time.as_secs_f64(),
        events: report.events,
        seed: report.seed,
        trace: report.trace,
        determinism_checked: check,
    };
    println!("{summary}");
    if let Some(g) = grading {
        report_completion(g, &name, &report);
    }
    report
}

/// Tells the grader that the test ran to its end: prints `<nonce> pass <test> seed=...` on a line
/// of its own on standard output, which the grader reads. Only reached after every check passed,
/// so a process that exits early (even with status 0) prints no such line; only the test's own
/// thread reports, and only once per process, so a second run started by other code cannot.
fn report_completion(g: &GraderChannel, name: &str, report: &Report) {
    use std::io::Write;
    if std::thread::current().id() != g.owner {
        panic!("{name}: a simulated test ran on a thread other than the test's: no report");
    }
    if REPORTED.swap(true, Ordering::SeqCst) {
        panic!("{name}: a second simulated test in one graded process: no report");
    }
    let completion = labspec::Completion {
        nonce: g.nonce.clone(),
        test: name.to_string(),
        seed: report.seed,
        virtual_s: report.virtual_time.as_secs_f64(),
        wall_s: report.wall_time.as_secs_f64(),
        trace: report.trace,
    };
    let line = format!("\n{completion}\n");
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
        panic!("cannot write the completion report: {e}");
    }
}

/// [`run_test_with`] for tests that need no extra cargo flags to replay.
pub fn run_test<F, Fut>(make: F) -> Report
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + 'static,
{
    run_test_with("", make)
}
