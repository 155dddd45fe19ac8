//! The deterministic virtual-time simulation every lab runs on.
//!
//! A run is one OS thread with a single-threaded tokio runtime whose clock is paused: whenever every
//! task waits, time jumps to the next timer, so minutes of protocol time take milliseconds. One seed
//! fixes every random choice (the network's delays and drops, each server's own random stream, tokio's
//! `select!` order), so a run replays exactly; [`run`] reports a digest of its event trace to prove it.
//!
//! Code under test writes ordinary tokio code (`tokio::time::sleep`, `tokio::select!`, `tokio::sync`)
//! and uses this module for the three things that must be simulated:
//! - [`spawn`] instead of `tokio::spawn`: every task belongs to a simulated server ([`Node`]), and
//!   killing the node aborts all of its tasks, as a crash would.
//! - [`random_range`] / [`with_rng`] instead of `rand::rng()`: the calling node's seeded stream.
//! - [`now`] for the virtual time since the start of the run, when a log line wants it.

mod log;
mod run;
mod testing;
mod trace;
mod watchdog;

pub use log::init_logging;
pub use run::{Failure, Options, Report, RunError, run};
pub use testing::{
    GRADER_VAR, TestConfig, replay_command, run_test, run_test_config, run_test_then,
    run_test_with, test_name, test_seed,
};
pub use trace::{Event, EventKind, digest};

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::task::{AbortHandle, JoinHandle};

use watchdog::Monitor;

/// Identifies a simulated server (a node) within one run. Node 0 is the tester.
pub type NodeId = u32;

/// Per-run state reachable from any thread: the watchdog reads it while the run's thread may be stuck.
#[derive(Debug)]
pub(crate) struct Shared {
    pub monitor: Monitor,
    pub tracer: Mutex<trace::Tracer>,
    /// The first panic of the run, as the panic hook saw it.
    pub panic: Mutex<Option<PanicRecord>>,
    /// A misuse of the framework detected by the framework itself (first one wins).
    pub misuse: Mutex<Option<String>>,
    /// Node names by id, for messages.
    pub node_names: Mutex<Vec<Arc<str>>>,
}

/// What the panic hook captured about a panic on the simulation thread.
#[derive(Debug, Clone)]
pub(crate) struct PanicRecord {
    pub node: NodeId,
    pub message: String,
    pub location: String,
    pub task: Option<&'static Location<'static>>,
    pub backtrace: String,
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
struct Ctx {
    seed: u64,
    start: tokio::time::Instant,
    nodes: RefCell<Vec<NodeState>>,
    shared: Arc<Shared>,
    /// How many random streams have been handed out; each new stream gets the next number.
    streams: Cell<u64>,
}

struct NodeState {
    name: Arc<str>,
    /// Shown after the name on this node's log lines (see [`set_label`]).
    label: String,
    alive: bool,
    tasks: Vec<Option<AbortHandle>>,
    free: Vec<usize>,
    rng: StdRng,
}

thread_local! {
    static CTX: RefCell<Option<Rc<Ctx>>> = const { RefCell::new(None) };
    static CURRENT: Cell<NodeId> = const { Cell::new(0) };
}

const OUTSIDE: &str = "this labrpc::sim function was called outside a simulated run: \
                       tests must run their code through labrpc::sim::run (the lab's tester does)";

fn ctx() -> Rc<Ctx> {
    try_ctx().expect(OUTSIDE)
}

fn try_ctx() -> Option<Rc<Ctx>> {
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
    fn now(&self) -> Duration {
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

/// A new random stream, derived from the run's seed and the order in which streams are created.
pub fn new_rng() -> StdRng {
    let c = ctx();
    let n = c.streams.get();
    c.streams.set(n + 1);
    StdRng::seed_from_u64(labspec::seed::stream_seed(c.seed, n))
}

/// Runs `f` with the calling node's random stream (e.g. to pick an election timeout).
pub fn with_rng<R>(f: impl FnOnce(&mut StdRng) -> R) -> R {
    let c = ctx();
    let id = CURRENT.with(Cell::get) as usize;
    let mut nodes = c.nodes.borrow_mut();
    f(&mut nodes[id].rng)
}

/// A uniformly random value in `range`, from the calling node's stream.
pub fn random_range<T, R>(range: R) -> T
where
    T: rand::distr::uniform::SampleUniform,
    R: rand::distr::uniform::SampleRange<T>,
{
    use rand::RngExt;
    with_rng(|r| r.random_range(range))
}

/// Sets a tag shown on every log line of the calling node, e.g. `T3 leader`.
pub fn set_label(label: impl Into<String>) {
    let c = ctx();
    let id = CURRENT.with(Cell::get) as usize;
    let label = label.into();
    if let Ok(mut nodes) = c.nodes.try_borrow_mut() {
        nodes[id].label = label;
    };
}

/// The calling node's name and label, for log lines (`None` outside a run).
pub(crate) fn log_prefix() -> Option<String> {
    let c = try_ctx()?;
    let id = CURRENT.with(Cell::get) as usize;
    let nodes = c.nodes.try_borrow().ok()?;
    let n = nodes.get(id)?;
    let prefix = if n.label.is_empty() {
        n.name.to_string()
    } else {
        format!("{} {}", n.name, n.label)
    };
    Some(prefix)
}

/// Records a user event in the run's trace (it counts towards `trace=` and the determinism check).
pub fn record(label: &str, detail: &[u8]) {
    let node = Node::current();
    trace_event(
        EventKind::User,
        node.name(),
        Arc::from(""),
        Arc::from(label),
        detail,
        node.0,
    );
}

/// Records an event of `node` (internal: the network and the nodes call this).
pub(crate) fn trace_event(
    kind: EventKind,
    from: Arc<str>,
    to: Arc<str>,
    what: Arc<str>,
    bytes: &[u8],
    node: NodeId,
) {
    let c = ctx();
    let at_ns = c.now().as_nanos() as u64;
    c.shared.monitor.set_vtime(at_ns);
    let ev = Event {
        at_ns,
        kind,
        from,
        to,
        what,
        len: bytes.len(),
        bytes_digest: digest(bytes),
    };
    c.shared
        .tracer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(ev, node);
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

/// A simulated server: a named group of tasks that can be killed together.
///
/// Every task belongs to the node that spawned it (or to the node passed to [`Node::spawn`]);
/// [`Node::kill`] aborts them all, so nothing of a crashed server keeps running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node(NodeId);

impl Node {
    /// Creates a new node. Node ids are never reused: a restarted server is a new node.
    pub fn new(name: impl Into<String>) -> Node {
        let c = ctx();
        let name: Arc<str> = Arc::from(name.into());
        let rng = new_rng();
        let mut nodes = c.nodes.borrow_mut();
        let id = nodes.len() as NodeId;
        nodes.push(NodeState {
            name: name.clone(),
            label: String::new(),
            alive: true,
            tasks: Vec::new(),
            free: Vec::new(),
            rng,
        });
        c.shared
            .node_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name);
        Node(id)
    }

    /// The node whose task is running now (the tester's node outside any server task).
    pub fn current() -> Node {
        Node(CURRENT.with(Cell::get))
    }

    /// The tester's node, which runs the test itself.
    pub fn tester() -> Node {
        Node(0)
    }

    /// This node's id.
    pub fn id(self) -> NodeId {
        self.0
    }

    /// This node's name.
    pub fn name(self) -> Arc<str> {
        ctx().nodes.borrow()[self.0 as usize].name.clone()
    }

    /// Whether the node has not been killed.
    pub fn is_alive(self) -> bool {
        ctx().nodes.borrow()[self.0 as usize].alive
    }

    /// Runs `f` as this node: tasks it spawns and random numbers it draws belong to this node.
    pub fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        let _g = EnterGuard::new(self.0);
        f()
    }

    /// Spawns a task owned by this node. On a killed node the task never runs.
    #[track_caller]
    pub fn spawn<F>(self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_at(fut, Location::caller())
    }

    pub(crate) fn spawn_at<F>(
        self,
        fut: F,
        loc: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let c = ctx();
        let slot = {
            let mut nodes = c.nodes.borrow_mut();
            let n = &mut nodes[self.0 as usize];
            if n.alive {
                let slot = n.free.pop().unwrap_or(n.tasks.len());
                if slot == n.tasks.len() {
                    n.tasks.push(None);
                }
                Some(slot)
            } else {
                None
            }
        };
        let task = Task {
            fut: Box::pin(fut),
            node: self.0,
            loc,
            slot,
            shared: c.shared.clone(),
        };
        #[allow(clippy::disallowed_methods)] // the one place that may call tokio::spawn
        let handle = tokio::spawn(task);
        match slot {
            Some(s) => c.nodes.borrow_mut()[self.0 as usize].tasks[s] = Some(handle.abort_handle()),
            None => handle.abort(),
        }
        handle
    }

    /// Kills the node: aborts every task it owns (at their next await point) and refuses new ones.
    pub fn kill(self) {
        let c = ctx();
        let handles: Vec<AbortHandle> = {
            let mut nodes = c.nodes.borrow_mut();
            let n = &mut nodes[self.0 as usize];
            if !n.alive {
                return;
            }
            n.alive = false;
            n.free.clear();
            n.tasks.drain(..).flatten().collect()
        };
        for h in handles {
            h.abort();
        }
        let name = self.name();
        trace_event(
            EventKind::Crash,
            name,
            Arc::from(""),
            Arc::from("kill"),
            &[],
            self.0,
        );
    }
}

/// Spawns a task owned by the calling node (use this instead of `tokio::spawn`).
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Node::current().spawn_at(fut, Location::caller())
}

/// Sets the current node and restores the previous one when dropped (also on unwinding).
struct EnterGuard(NodeId);

impl EnterGuard {
    fn new(node: NodeId) -> Self {
        EnterGuard(CURRENT.with(|c| c.replace(node)))
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.0));
    }
}

/// A spawned future, tagged with its node and spawn location for the watchdog and the panic hook.
struct Task<F> {
    fut: Pin<Box<F>>,
    node: NodeId,
    loc: &'static Location<'static>,
    slot: Option<usize>,
    shared: Arc<Shared>,
}

impl<F: Future> Future for Task<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _node = EnterGuard::new(this.node);
        let _poll = this.shared.monitor.enter_poll(this.node, this.loc);
        this.fut.as_mut().poll(cx)
    }
}

impl<F> Drop for Task<F> {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        if let Some(c) = try_ctx()
            && let Ok(mut nodes) = c.nodes.try_borrow_mut()
        {
            let n = &mut nodes[self.node as usize];
            if n.alive && slot < n.tasks.len() {
                n.tasks[slot] = None;
                n.free.push(slot);
            }
        }
    }
}
