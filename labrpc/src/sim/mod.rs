//! The deterministic virtual-time simulation every lab runs on: what code under test uses.
//!
//! A run is one OS thread with a single-threaded tokio runtime whose clock is paused: whenever every
//! task waits, time jumps to the next timer, so minutes of protocol time take milliseconds. One seed
//! fixes every random choice (the network's delays and drops, each server's own random stream, tokio's
//! `select!` order), so a run replays exactly; the [`harness`](crate::harness), which starts runs,
//! reports a digest of the run's event trace to prove it.
//!
//! Code under test writes ordinary tokio code (`tokio::time::sleep`, `tokio::select!`, `tokio::sync`)
//! and uses this module for the things that must be simulated:
//! - [`spawn`] instead of `tokio::spawn`: every task belongs to a simulated server ([`Node`]), and
//!   killing the node aborts all of its tasks, as a crash would.
//! - [`random_range`] / [`with_rng`] instead of `rand::rng()`: the calling node's seeded stream.
//! - [`now`] for the virtual time since the start of the run, when a log line wants it;
//!   [`set_label`] to tag the calling node's log lines; [`record`] to add an event to the trace.
//!
//! Testers wrap their calls into code under test in [`student_call`], so that a failure inside one
//! names the student's method.

mod context;
pub(crate) mod log;
mod node;
mod rng;
pub(crate) mod run;
mod student;
mod task;
pub mod timeline;
mod trace;
mod watchdog;

pub(crate) use context::report_misuse;
pub use context::{fmt_time, in_simulation, now, seed};
pub(crate) use log::init_logging;
pub use log::set_label;
pub use node::{Node, NodeId};
pub use rng::{new_rng, random_range, with_rng};
pub use student::{StudentCall, student_call, student_call_sync};
pub use task::spawn;
pub use timeline::Timeline;
pub use trace::{Event, EventKind, digest, record};
pub(crate) use trace::{first_difference, trace_event};
