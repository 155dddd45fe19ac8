//! The run context: per-run state on the run's thread (nodes, clock, random streams) and the part
//! the watchdog reads from its own thread.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::node::{NodeId, NodeState};
use super::timeline::Recorder;
use super::trace::Tracer;
use super::watchdog::{CallSite, Monitor};

/// Per-run state reachable from any thread: the watchdog reads it while the run's thread may be stuck.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) monitor: Monitor,
    pub(crate) tracer: Mutex<Tracer>,
    /// The first panic of the run, as the panic hook saw it.
    pub(crate) panic: Mutex<Option<PanicRecord>>,
    /// A misuse of the framework detected by the framework itself (first one wins).
    pub(crate) misuse: Mutex<Option<String>>,
    /// Node names by id, for messages.
    pub(crate) node_names: Mutex<Vec<Arc<str>>>,
    /// The run's timeline, when it records one (see [`super::timeline`]).
    pub(crate) timeline: Option<Mutex<Recorder>>,
}

/// What the panic hook captured about a panic on the simulation thread.
#[derive(Debug, Clone)]
pub(crate) struct PanicRecord {
    pub(crate) node: NodeId,
    pub(crate) message: String,
    pub(crate) location: String,
    pub(crate) task: Option<&'static Location<'static>>,
    /// The tester's call into code under test the panic happened in, if any.
    pub(crate) call: Option<CallSite>,
    pub(crate) backtrace: String,
}

impl Shared {
    pub(crate) fn node_name(&self, id: NodeId) -> Arc<str> {
        let names = self.node_names.lock().unwrap_or_else(|e| e.into_inner());
        names
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(format!("node{id}")))
    }
}

/// Per-run state that lives on the run's thread.
pub(crate) struct Ctx {
    pub(crate) seed: u64,
    pub(crate) start: tokio::time::Instant,
    pub(crate) nodes: RefCell<Vec<NodeState>>,
    pub(crate) shared: Arc<Shared>,
    /// How many random streams have been handed out; each new stream gets the next number.
    pub(crate) streams: Cell<u64>,
}

thread_local! {
    pub(crate) static CTX: RefCell<Option<Rc<Ctx>>> = const { RefCell::new(None) };
    pub(crate) static CURRENT: Cell<NodeId> = const { Cell::new(0) };
}

const OUTSIDE: &str = "this labrpc::sim function was called outside a simulated run: \
                       tests must run their code through labrpc::harness (the lab's tester does)";

pub(crate) fn ctx() -> Rc<Ctx> {
    try_ctx().expect(OUTSIDE)
}

pub(crate) fn try_ctx() -> Option<Rc<Ctx>> {
    CTX.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Whether the calling code runs inside a simulated run.
pub fn in_simulation() -> bool {
    try_ctx().is_some()
}

/// The run's seed.
pub fn seed() -> u64 {
    ctx().seed
}

/// Virtual time since the start of the run.
pub fn now() -> Duration {
    ctx().now()
}

impl Ctx {
    pub(crate) fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.start)
    }
}

/// Formats a virtual time given in nanoseconds as seconds, e.g. `12.345s`.
pub fn fmt_time(ns: u64) -> String {
    format!(
        "{}.{:06}s",
        ns / 1_000_000_000,
        (ns % 1_000_000_000) / 1_000
    )
}

/// Fails the run with a message about a misuse of the framework (the first one is reported).
pub(crate) fn report_misuse(message: String) {
    if let Some(c) = try_ctx() {
        let mut m = c.shared.misuse.lock().unwrap_or_else(|e| e.into_inner());
        if m.is_none() {
            *m = Some(message);
        }
        c.shared.monitor.request_stop();
    }
}
