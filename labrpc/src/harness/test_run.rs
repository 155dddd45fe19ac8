//! The one entry point of a simulated test: seeds, the summary line, replay commands and the
//! determinism check.

use std::future::Future;

use super::grader::{grader, report_completion};
use super::replay::{replay, replay_command, test_name, test_seed};
use super::{Options, Report, run};
use crate::sim::{first_difference, fmt_time, in_simulation, init_logging};

/// How a test runs, built step by step; [`TestRun::run`] (or [`TestRun::run_then`]) runs it.
///
/// ```no_run
/// # use labrpc::harness::TestRun;
/// TestRun::new()
///     .cargo_flags("--features extra")
///     .run(|| async { "extra text for the summary line".to_string() });
/// ```
///
/// The body runs as one simulated run, seeded from the grader, else `LAB_SEED`, else fresh; it
/// runs twice and the traces are compared when `LAB_CHECK_DETERMINISM=1`. A passing test prints one
/// summary line with `seed=` and `trace=`; a failure panics with the diagnosis, the seed and the
/// command that replays it.
#[derive(Debug, Clone)]
pub struct TestRun {
    seed: u64,
    /// Run twice with the same seed and compare the traces.
    check_determinism: bool,
    /// Cargo flags the replay command needs (e.g. `--features X`), put after `cargo test`.
    cargo_flags: String,
}

impl Default for TestRun {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRun {
    /// From the environment: the grader's seed, else `LAB_SEED`, else a fresh one; the determinism
    /// check when `LAB_CHECK_DETERMINISM=1`; no extra cargo flags.
    pub fn new() -> Self {
        TestRun {
            seed: test_seed(),
            check_determinism: std::env::var(labspec::env::CHECK_DETERMINISM)
                .is_ok_and(|v| v == labspec::env::CHECK_DETERMINISM_ON),
            cargo_flags: String::new(),
        }
    }

    /// The cargo flags the replay command needs (e.g. `--features extra`).
    pub fn cargo_flags(mut self, flags: &str) -> Self {
        self.cargo_flags = flags.to_string();
        self
    }

    /// Uses `seed` instead of the environment's.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The seed the test will run with (e.g. to name files the test writes).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Checks determinism (two runs, same trace) whatever the environment says.
    pub fn check_determinism(mut self) -> Self {
        self.check_determinism = true;
        self
    }

    /// Runs a test body that returns extra text for the summary line.
    pub fn run<F, Fut>(self, make: F) -> Report
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = String> + 'static,
    {
        self.run_then(make, Ok)
    }

    /// Runs a test whose verdict needs work outside the simulation: the body's result goes to
    /// `finish` on the test's own thread (no watchdog, no virtual time), which returns the extra
    /// text of the summary line, or the failure message.
    pub fn run_then<T, F, Fut, C>(self, make: F, finish: C) -> Report
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
        C: FnOnce(T) -> Result<String, String>,
    {
        if in_simulation() {
            panic!(
                "a simulated test cannot start inside a simulated run (the harness is the tester's)"
            );
        }
        let grading = grader();
        init_logging();
        let name = test_name();
        let TestRun {
            seed,
            check_determinism: check,
            cargo_flags,
        } = self;
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
            check_determinism(&name, &report, opts, make, &cargo_flags);
        }
        let extra = match finish(value) {
            Ok(extra) => extra,
            Err(what) => fail(format!(
                "{what}\n  virtual time {}, seed={seed}",
                fmt_time(report.virtual_time.as_nanos() as u64)
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
}

/// Runs the test a second time with the same seed and panics, naming the first event that
/// differs, when the traces differ.
fn check_determinism<T, F, Fut>(
    name: &str,
    report: &Report,
    opts: Options,
    make: F,
    cargo_flags: &str,
) where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let seed = opts.seed;
    let again = match run(opts, make) {
        Ok((_, again)) => again,
        Err(e) => panic!(
            "{name} FAILED: the determinism check's second run failed: {e}\n  replay: {}",
            replay_command(seed, cargo_flags)
        ),
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
                ..replay(seed, cargo_flags)
            }
        );
    }
}
