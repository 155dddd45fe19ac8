//! What one run of a test came to, and the message a student reads when it failed.

use std::time::Duration;

use super::replay::replay_command;
use super::{Failure, Report, RunError};
use crate::sim::{Timeline, fmt_time};

/// What every run of one test shares: its name and how it runs.
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    /// The test's name, as libtest knows it.
    pub(super) name: String,
    /// Run twice with the same seed and compare the traces.
    pub(super) check_determinism: bool,
    /// Cargo flags the replay command needs.
    pub(super) cargo_flags: String,
    /// Record every run's timeline (`LAB_TIMELINE`), to save it also when the run passes.
    pub(super) record: bool,
}

/// A run that passed: its report and its summary line.
#[derive(Debug)]
pub(super) struct Passed {
    pub(super) report: Report,
    pub(super) summary: labspec::Summary,
}

impl Passed {
    /// The run's timeline, when [`Attempt::record`] asked for it.
    pub(super) fn take_timeline(&mut self) -> Option<Timeline> {
        self.report.timeline.take()
    }
}

/// Whether a failed run left its thread behind, held by the student's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stuck {
    /// The run's thread ended.
    No,
    /// The thread waits forever in a blocking call (it costs memory, not CPU).
    Blocked,
    /// The thread spins forever (it costs a core).
    Spinning,
}

impl Stuck {
    /// Whether a run that failed this way left its thread behind.
    pub(super) fn after(failure: &Failure) -> Stuck {
        match failure {
            Failure::Blocked { .. } => Stuck::Blocked,
            Failure::BusyLoop { .. } => Stuck::Spinning,
            _ => Stuck::No,
        }
    }
}

/// A run that failed, in the pieces its message is made of.
#[derive(Debug)]
pub(super) struct Failed {
    /// What went wrong (possibly several lines); its first line names the failure.
    pub(super) headline: String,
    /// The run's seed.
    pub(super) seed: u64,
    /// Virtual time when the run stopped.
    pub(super) virtual_time: Duration,
    /// Each server's last event, as text.
    pub(super) last_events: Vec<String>,
    /// The panicking task's backtrace, when `RUST_BACKTRACE` asked for one.
    pub(super) backtrace: String,
    /// A replay command other than the usual one.
    pub(super) replay: Option<String>,
    /// Whether the run's thread was left behind.
    pub(super) stuck: Stuck,
    /// The run's timeline up to the failure, if it was recorded.
    pub(super) timeline: Option<Box<Timeline>>,
}

impl Failed {
    /// A run that the simulation stopped (panic, watchdog, limit).
    pub(super) fn from_run(e: RunError) -> Failed {
        let stuck = Stuck::after(&e.failure);
        let mut failure = e.failure;
        let backtrace = match &mut failure {
            Failure::Panic { backtrace, .. } => std::mem::take(backtrace),
            _ => String::new(),
        };
        Failed {
            headline: failure.to_string(),
            seed: e.seed,
            virtual_time: e.virtual_time,
            last_events: e.last_events,
            backtrace,
            replay: None,
            stuck,
            timeline: e.timeline,
        }
    }

    /// A run that finished but whose verdict, given outside the run, is a failure.
    pub(super) fn from_verdict(what: String, report: &mut Report) -> Failed {
        Failed {
            headline: what,
            seed: report.seed,
            virtual_time: report.virtual_time,
            last_events: Vec::new(),
            backtrace: String::new(),
            replay: None,
            stuck: Stuck::No,
            timeline: report.timeline.take().map(Box::new),
        }
    }

    /// The first line of the failure: what a student reads first, and what groups failures.
    pub(super) fn first_line(&self) -> &str {
        self.headline.lines().next().unwrap_or("")
    }

    /// The command that replays this run.
    pub(super) fn replay(&self, attempt: &Attempt) -> String {
        self.replay
            .clone()
            .unwrap_or_else(|| replay_command(self.seed, &attempt.cargo_flags))
    }

    /// The failure's message: what went wrong, then when and with which seed, the replay
    /// command and the timeline, then the details (each server's last event, a backtrace).
    ///
    /// The grader reads it: it takes the text after `<test> FAILED: ` up to the `replay:` line.
    pub(super) fn message(&self, attempt: &Attempt, timeline: Option<&str>) -> String {
        let mut m = format!(
            "{} FAILED: {}\n  virtual time {}, seed={}\n  replay: {}",
            attempt.name,
            self.headline,
            fmt_time(self.virtual_time.as_nanos() as u64),
            self.seed,
            self.replay(attempt)
        );
        if let Some(t) = timeline {
            m.push_str(&format!("\n  timeline: {t} (open it in a browser)"));
        }
        if !self.last_events.is_empty() {
            m.push_str("\n  last event of each server:");
            for l in &self.last_events {
                m.push_str(&format!("\n    {l}"));
            }
        }
        if !self.backtrace.is_empty() {
            m.push_str(&format!(
                "\n  the panicking task's backtrace:\n{}",
                self.backtrace
            ));
        }
        m
    }
}

/// Whether `RUST_BACKTRACE` asks for backtraces (set, and not `0`).
pub(super) fn backtraces_wanted() -> bool {
    std::env::var("RUST_BACKTRACE").is_ok_and(|v| v != "0")
}

/// Fails the running test with `message`. By default the message is all a student sees: no
/// "panicked at" line inside the framework and no hint about backtraces. With `RUST_BACKTRACE`
/// set, it is an ordinary panic, with the framework's backtrace.
pub(super) fn fail_test(message: &str) -> ! {
    if backtraces_wanted() {
        panic!("{message}");
    }
    // libtest captures this and shows it under the failing test, like a panic's message.
    eprintln!("{message}");
    std::panic::resume_unwind(Box::new(message.to_string()))
}
