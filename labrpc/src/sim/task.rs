//! Tasks: every spawned future belongs to a node, which can abort them all at once.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

use super::context::{Shared, try_ctx};
use super::node::{EnterGuard, Node, NodeId};

/// Spawns a task owned by the calling node (use this instead of `tokio::spawn`).
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Node::current().spawn_at(fut, Location::caller())
}

/// A spawned future, tagged with its node and spawn location for the watchdog and the panic hook.
pub(crate) struct Task<F> {
    pub(crate) fut: Pin<Box<F>>,
    pub(crate) node: NodeId,
    pub(crate) loc: &'static Location<'static>,
    /// The task's slot in its node's task list; `None` when the node was dead at spawn time.
    pub(crate) slot: Option<usize>,
    pub(crate) shared: Arc<Shared>,
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
