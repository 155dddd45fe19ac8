//! The one entry point of a simulated test: seeds, the summary line, replay commands, the
//! determinism check, and tests of many runs.

use std::future::Future;

use super::batch::{self, Batch};
use super::grader::{grader, report_completion};
use super::outcome::{Attempt, Failed, Passed, Stuck};
use super::replay::{replay, replay_command, test_name, test_seed};
use super::{Options, Report, TimelineInfo, run, save_timeline};
use crate::sim::{first_difference, in_simulation, init_logging};

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
/// command that replays it. With `LAB_RUNS=N` or `LAB_SEEDS=a..b` (and no grader) the body runs
/// once per seed, in parallel, and the test fails with a summary of the failing runs.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// One run with this seed, or many.
    plan: Plan,
    /// Run twice with the same seed and compare the traces.
    check_determinism: bool,
    /// Cargo flags the replay command needs (e.g. `--features X`), put after `cargo test`.
    cargo_flags: String,
}

/// Which runs a test makes.
#[derive(Debug, Clone)]
enum Plan {
    /// One run with this seed.
    One(u64),
    /// One run per seed of the batch.
    Many(Batch),
}

impl Default for TestRun {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRun {
    /// From the environment: the grader's seed, else `LAB_RUNS`/`LAB_SEEDS` for many runs, else
    /// `LAB_SEED`, else a fresh seed; the determinism check when `LAB_CHECK_DETERMINISM=1`; no
    /// extra cargo flags.
    pub fn new() -> Self {
        let plan = match grader() {
            Some(_) => Plan::One(test_seed()),
            None => match Batch::from_env(&test_name()) {
                Ok(Some(b)) => Plan::Many(b),
                Ok(None) => Plan::One(test_seed()),
                Err(e) => panic!("{e}"),
            },
        };
        TestRun {
            plan,
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

    /// One run with `seed`, whatever the environment says.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.plan = Plan::One(seed);
        self
    }

    /// The seed of the test's one run, or the first seed of its many.
    pub fn seed(&self) -> u64 {
        match &self.plan {
            Plan::One(s) => *s,
            Plan::Many(b) => b.seeds.first().copied().unwrap_or_default(),
        }
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
        self.run_then(make, |extra, _seed| Ok(extra))
    }

    /// Runs a test whose verdict needs work outside the simulation: each run's result goes to
    /// `finish` with the run's seed, outside the run (no watchdog, no virtual time), which returns
    /// the extra text of the summary line, or the failure message.
    ///
    /// Returns the report of the run, or of the last run of many.
    pub fn run_then<T, F, Fut, C>(self, make: F, finish: C) -> Report
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
        C: Fn(T, u64) -> Result<String, String> + Sync,
    {
        if in_simulation() {
            panic!(
                "a simulated test cannot start inside a simulated run (the harness is the tester's)"
            );
        }
        init_logging();
        let record = matches!(self.plan, Plan::One(_))
            && grader().is_none()
            && std::env::var(labspec::env::TIMELINE)
                .is_ok_and(|v| v == labspec::env::ON || v == labspec::env::TIMELINE_FULL);
        let attempt = Attempt {
            name: test_name(),
            check_determinism: self.check_determinism,
            cargo_flags: self.cargo_flags,
            record,
        };
        match self.plan {
            Plan::One(seed) => run_one(&attempt, seed, &make, &finish),
            Plan::Many(b) => batch::run_many(&attempt, &b, &make, &finish),
        }
    }
}

/// The usual test: one run; prints its summary line, or fails the test with its diagnosis.
fn run_one<T, F, Fut, C>(attempt: &Attempt, seed: u64, make: &F, finish: &C) -> Report
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
    C: Fn(T, u64) -> Result<String, String>,
{
    let grading = grader();
    match attempt.run(seed, make, finish) {
        Ok(mut passed) => {
            let timeline = passed.take_timeline();
            let Passed { report, summary } = passed;
            println!("{summary}");
            if let Some(tl) = timeline {
                println!("  timeline: {}", attempt.save(&tl, seed, None));
            }
            if let Some(g) = grading {
                report_completion(g, &attempt.name, &report);
            }
            report
        }
        Err(failed) => {
            let timeline = attempt.timeline_of(seed, make, &failed);
            super::outcome::fail_test(&failed.message(attempt, timeline.as_deref()))
        }
    }
}

impl Attempt {
    /// One run of the test with `seed`: the run, its determinism check, its verdict.
    #[allow(clippy::result_large_err)] // one result per run: its size does not matter
    pub(super) fn run<T, F, Fut, C>(
        &self,
        seed: u64,
        make: &F,
        finish: &C,
    ) -> Result<Passed, Failed>
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
        C: Fn(T, u64) -> Result<String, String>,
    {
        let opts = Options {
            keep_events: self.check_determinism,
            timeline: self.record,
            ..Options::with_seed(seed)
        };
        let (value, mut report) = run(opts.clone(), make.clone()).map_err(Failed::from_run)?;
        if self.check_determinism {
            self.check_same_trace(&mut report, opts, make)?;
        }
        let extra = finish(value, seed).map_err(|what| Failed::from_verdict(what, &mut report))?;
        let summary = labspec::Summary {
            test: self.name.clone(),
            extra,
            virtual_s: report.virtual_time.as_secs_f64(),
            wall_s: report.wall_time.as_secs_f64(),
            events: report.events,
            seed: report.seed,
            trace: report.trace,
            determinism_checked: self.check_determinism,
        };
        Ok(Passed { report, summary })
    }

    /// Runs the test a second time with the same seed; a failure, naming the first event that
    /// differs, when the traces differ.
    #[allow(clippy::result_large_err)]
    fn check_same_trace<T, F, Fut>(
        &self,
        report: &mut Report,
        opts: Options,
        make: &F,
    ) -> Result<(), Failed>
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let opts = Options {
            timeline: false,
            ..opts
        };
        let again = match run(opts, make.clone()) {
            Ok((_, again)) => again,
            Err(e) => {
                let mut failed = Failed::from_run(e);
                failed.headline = format!(
                    "the determinism check's second run failed: {}",
                    failed.headline
                );
                return Err(failed);
            }
        };
        let diff = match (&report.event_list, &again.event_list) {
            (Some(a), Some(b)) => first_difference(a, b),
            _ => None,
        };
        if diff.is_none() && report.trace == again.trace {
            return Ok(());
        }
        let mut failed = Failed::from_verdict(
            format!(
                "not deterministic: the same seed gave traces {:016x} and {:016x}; {}\n  usual \
                 causes: iterating a HashMap/HashSet, std::time, an unseeded RNG, threads \
                 (`cargo clippy` points at them)",
                report.trace,
                again.trace,
                diff.unwrap_or_default(),
            ),
            report,
        );
        failed.replay = Some(
            labspec::Replay {
                check_determinism: true,
                ..replay(report.seed, &self.cargo_flags)
            }
            .to_string(),
        );
        Err(failed)
    }
}

impl Attempt {
    /// The page of a failed run's timeline, as a path to print: the timeline the run recorded,
    /// else one recorded by running the same seed again. `None` under a grader (no pages there)
    /// or when the page could not be made.
    pub(super) fn timeline_of<T, F, Fut>(
        &self,
        seed: u64,
        make: &F,
        failed: &Failed,
    ) -> Option<String>
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        if grader().is_some() {
            return None;
        }
        let failure = Some(failed.headline.clone());
        if let Some(tl) = &failed.timeline {
            return Some(self.save(tl, seed, failure));
        }
        let opts = Options {
            timeline: true,
            quiet: true,
            ..Options::with_seed(seed)
        };
        let timeline = match run(opts, make.clone()) {
            Ok((_, report)) => report.timeline?,
            Err(e) => {
                super::batch::note_stuck(Stuck::after(&e.failure));
                *e.timeline?
            }
        };
        Some(self.save(&timeline, seed, failure))
    }

    /// Writes a run's timeline page; its absolute path, or why it could not be written.
    fn save(&self, timeline: &crate::sim::Timeline, seed: u64, failure: Option<String>) -> String {
        let info = TimelineInfo {
            test: self.name.clone(),
            seed,
            failure,
            replay: replay_command(seed, &self.cargo_flags),
        };
        match save_timeline(timeline, &info) {
            Ok(path) => std::path::absolute(&path)
                .unwrap_or(path)
                .display()
                .to_string(),
            Err(e) => format!("(could not write the timeline page: {e})"),
        }
    }
}
