//! What a run is given and what it gives back: its options, its report, and why it failed.

use std::fmt;
use std::time::Duration;

use crate::sim::{Event, Timeline, fmt_time};

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fixes every random choice of the run.
    pub seed: u64,
    /// The run fails when its virtual time exceeds this (Go's per-test limit is 120 s).
    pub virtual_limit: Duration,
    /// The run fails when its wall time exceeds this.
    pub wall_limit: Duration,
    /// How long the watchdog lets the thread stay in one poll, or virtual time stand still.
    pub stall_limit: Duration,
    /// Keep every event (for the determinism check); otherwise only the digest is kept.
    pub keep_events: bool,
    /// Record the run's timeline (network, crashes, labels, tester actions, log lines) for
    /// [`save_timeline`](super::save_timeline). Recording changes nothing in the run.
    pub timeline: bool,
    /// With [`timeline`](Self::timeline): print no log lines, whatever `RUST_LOG` says (a run
    /// made again only for its timeline, whose lines the first run printed).
    pub quiet: bool,
}

impl Options {
    /// Defaults with the given seed: 120 s virtual, 60 s wall (or `LAB_WALL_LIMIT` seconds), 3 s stall.
    pub fn with_seed(seed: u64) -> Self {
        let wall = std::env::var(labspec::env::WALL_LIMIT)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map_or(Duration::from_secs(60), Duration::from_secs_f64);
        Options {
            seed,
            virtual_limit: Duration::from_secs(120),
            wall_limit: wall,
            stall_limit: Duration::from_secs(3),
            keep_events: false,
            timeline: false,
            quiet: false,
        }
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed the run used.
    pub seed: u64,
    /// Digest of the ordered event sequence: same seed, same digest.
    pub trace: u64,
    /// Number of events in the trace.
    pub events: u64,
    /// Virtual time when the run ended.
    pub virtual_time: Duration,
    /// Wall time the run took.
    pub wall_time: Duration,
    /// Every event, when [`Options::keep_events`] was set.
    pub event_list: Option<Vec<Event>>,
    /// The run's timeline, when [`Options::timeline`] was set.
    pub timeline: Option<Timeline>,
}

/// Why a run failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// A check of the test failed (a panic in the tester's own code).
    Check {
        /// The panic's message.
        message: String,
        /// Where the check is (file:line:column), if known.
        location: String,
    },
    /// A task of a simulated server panicked.
    Panic {
        /// The name of the node whose task panicked.
        node: String,
        /// The panic's message.
        message: String,
        /// Where the panic happened (file:line:column).
        location: String,
        /// Where it panicked: the task's spawn location, or the tester's call into the student's
        /// method it was in.
        task: String,
        /// The backtrace, when `RUST_BACKTRACE` asked for one (else empty).
        backtrace: String,
    },
    /// The framework was used in a way it does not allow.
    Misuse {
        /// What was wrong.
        message: String,
    },
    /// The run's virtual time passed its limit.
    VirtualLimit {
        /// The limit that was passed.
        limit: Duration,
        /// When the last network or trace event happened.
        last_event: Duration,
    },
    /// One poll held the thread while it slept (a blocking call).
    Blocked {
        /// The task that held the thread, or the student's method the tester had called there.
        task: String,
    },
    /// One poll held the thread while it ran or waited for a CPU (a loop with no await).
    BusyLoop {
        /// The task that held the thread, or the student's method the tester had called there.
        task: String,
    },
    /// Tasks kept running but virtual time stood still.
    Livelock {
        /// Tasks seen running while time stood still.
        tasks: Vec<String>,
    },
    /// Virtual time advanced, but too slowly for the wall-clock limit.
    WallLimit {
        /// The limit that was passed.
        limit: Duration,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Check { message, location } => write!(f, "{message}\n  (check at {location})"),
            Failure::Panic {
                node,
                message,
                location,
                task,
                backtrace,
            } => {
                write!(f, "{node} panicked at {location}: {message}\n  in {task}")?;
                if !backtrace.is_empty() {
                    write!(f, "\n{backtrace}")?;
                }
                Ok(())
            }
            Failure::Misuse { message } => write!(f, "{message}"),
            Failure::VirtualLimit { limit, last_event } => {
                write!(
                    f,
                    "the test did not finish within {}s of virtual time",
                    limit.as_secs()
                )?;
                if limit.saturating_sub(*last_event) >= Duration::from_secs(10) {
                    write!(
                        f,
                        "; nothing happened on the network after {}: every task waited on something \
                         that never came (a lock never released, a channel nobody sends on, a task \
                         awaiting itself)",
                        fmt_time(last_event.as_nanos() as u64)
                    )?;
                }
                Ok(())
            }
            Failure::Blocked { task } => write!(
                f,
                "the simulation thread is blocked in {task}: a blocking call in async code, most \
                 often a std::sync::Mutex locked again by code that already holds its guard (a \
                 helper that locks while its caller holds the lock: pass it the locked state \
                 instead), else a blocking channel recv or std::thread::sleep. With \
                 RUST_LOG=raft=debug (or kvraft=debug), that server's last log line shows how \
                 far it got before the blocking call"
            ),
            Failure::BusyLoop { task } => write!(
                f,
                "the simulation thread is spinning in {task}: a loop that never reaches an await \
                 (wait with tokio::time::sleep or a tokio::sync primitive inside loops)"
            ),
            Failure::Livelock { tasks } => {
                write!(
                    f,
                    "livelock: tasks keep running but virtual time no longer advances (a loop that \
                 yields or sleeps zero time without ever waiting for time to pass); tasks seen \
                 running: {}",
                    if tasks.is_empty() {
                        "(none sampled)".to_string()
                    } else {
                        tasks.join(", ")
                    }
                )
            }
            Failure::WallLimit { limit } => write!(
                f,
                "the test ran out of wall-clock time ({}s) while virtual time still advanced: \
                 the code is too slow (heavy work per event, or far too many RPCs); \
                 LAB_WALL_LIMIT=<secs> raises the limit",
                limit.as_secs_f64()
            ),
        }
    }
}

/// A failed run: the failure, and where the run was when it happened.
#[derive(Debug, Clone)]
pub struct RunError {
    /// What went wrong.
    pub failure: Failure,
    /// The seed the run used.
    pub seed: u64,
    /// Virtual time when the run stopped.
    pub virtual_time: Duration,
    /// Each node's last event, as text.
    pub last_events: Vec<String>,
    /// The run's timeline up to the failure, when [`Options::timeline`] was set.
    pub timeline: Option<Box<Timeline>>,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  virtual time {}, seed={}",
            self.failure,
            fmt_time(self.virtual_time.as_nanos() as u64),
            self.seed
        )?;
        if !self.last_events.is_empty() {
            write!(f, "\n  last event of each server:")?;
            for l in &self.last_events {
                write!(f, "\n    {l}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RunError {}
