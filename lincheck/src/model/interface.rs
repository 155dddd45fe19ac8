//! The interface between the checker and a data type's sequential specification, in the spirit
//! of porcupine's `Model`: an initial state, a step function, a partition of the history into
//! independent parts, and descriptions for people.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification that histories are checked against.
pub trait Model {
    /// What an operation asks for (e.g. `write 3`).
    type Input: Clone + Debug;
    /// What an operation returned (e.g. the value a read saw).
    type Output: Clone + Debug + PartialEq;
    /// The state of one partition; hashed into the search's memo.
    type State: Clone + Eq + Hash + Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after `input` took effect in `state` and returned `output`, or `None` when it
    /// could not have returned that. `output` is `None` when it is unknown (a timed-out call,
    /// Jepsen's `:info`): then any output is allowed.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// The independent parts of `ops` (linearizability is compositional), each a name and the
    /// indices of its operations. By default, one part per key, in key order.
    fn partition(&self, ops: &[Operation<Self::Input, Self::Output>]) -> Vec<(String, Vec<usize>)> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            by_key.entry(op.key.as_str()).or_default().push(i);
        }
        by_key
            .into_iter()
            .map(|(k, idxs)| (k.to_string(), idxs))
            .collect()
    }

    /// A short text for an operation, e.g. `cas(1, 2)` or `read -> 3`.
    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    /// A short text for a state.
    fn describe_state(&self, state: &Self::State) -> String;
}

/// One client operation of a history checked against a [`Model`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// Client (process) that issued it; for display only.
    pub client: u64,
    /// The part of the state it touches (the default partition is by key).
    pub key: String,
    /// What it asked for.
    pub input: I,
    /// What it returned; `None` when unknown (then any output is allowed).
    pub output: Option<O>,
    /// When it was called (any monotone integer clock).
    pub call: u64,
    /// When it returned; `None` when the outcome is unknown: it may or may not have taken effect,
    /// at any time after `call` (Jepsen's `:info`).
    pub ret: Option<u64>,
}

/// The operations of a history checked against model `M`.
pub type Operations<M> = Vec<Operation<<M as Model>::Input, <M as Model>::Output>>;
