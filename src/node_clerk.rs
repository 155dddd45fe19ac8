//! A clerk under test on a node of its own, so that its tasks and random draws are its own (on
//! the timeline too). The lab 3, 4A and 4B testers' clerks run every operation through it.

use std::future::Future;

use labrpc::sim::Node;

/// A clerk and the node it runs on; it runs one operation at a time.
pub struct NodeClerk<C> {
    node: Node,
    /// `None` while an operation runs.
    clerk: Option<C>,
}

impl<C: Send + 'static> NodeClerk<C> {
    /// `clerk`, which runs on `node`.
    pub fn new(node: Node, clerk: C) -> NodeClerk<C> {
        NodeClerk {
            node,
            clerk: Some(clerk),
        }
    }

    /// Runs `f` with the clerk on the clerk's node and waits for it; `f` hands the clerk back
    /// with its result.
    pub async fn run<T, Fut>(&mut self, f: impl FnOnce(C) -> Fut) -> T
    where
        T: Send + 'static,
        Fut: Future<Output = (C, T)> + Send + 'static,
    {
        let clerk = self
            .clerk
            .take()
            .expect("a TestClerk runs one operation at a time");
        let fut = self.node.enter(|| f(clerk));
        let (clerk, v) = self
            .node
            .spawn(fut)
            .await
            .expect("the clerk's task was aborted");
        self.clerk = Some(clerk);
        v
    }
}
