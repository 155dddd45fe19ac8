//! Nodes: the simulated servers, each a named group of tasks with its own random stream.

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use rand::rngs::StdRng;
use tokio::task::{AbortHandle, JoinHandle};

use super::context::{CURRENT, ctx};
use super::rng::new_rng;
use super::task::Task;
use super::trace::{EventKind, trace_event};

/// Identifies a simulated server (a node) within one run. Node 0 is the tester.
pub type NodeId = u32;

/// What the run knows of one node.
pub(crate) struct NodeState {
    pub(crate) name: Arc<str>,
    /// Shown after the name on this node's log lines (see [`super::set_label`]).
    pub(crate) label: String,
    pub(crate) alive: bool,
    pub(crate) tasks: Vec<Option<AbortHandle>>,
    pub(crate) free: Vec<usize>,
    pub(crate) rng: StdRng,
}

/// A simulated server: a named group of tasks that can be killed together.
///
/// Every task belongs to the node that spawned it (or to the node passed to [`Node::spawn`]);
/// [`Node::kill`] aborts them all, so nothing of a crashed server keeps running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node(NodeId);

impl Node {
    /// Creates a new node. Node ids are never reused: a restarted server is a new node.
    /// Only the tester creates nodes (the student lints disallow this in graded code).
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
            .push(name.clone());
        drop(nodes);
        super::timeline::node_started(id, &name);
        Node(id)
    }

    /// The node whose task is running now (the tester's node outside any server task).
    pub fn current() -> Node {
        Node(CURRENT.with(Cell::get))
    }

    /// The tester's node, which runs the test itself (the student lints disallow it in graded code).
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
            0,
        );
    }
}

/// Sets the current node and restores the previous one when dropped (also on unwinding).
pub(crate) struct EnterGuard(NodeId);

impl EnterGuard {
    pub(crate) fn new(node: NodeId) -> Self {
        EnterGuard(CURRENT.with(|c| c.replace(node)))
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.0));
    }
}
