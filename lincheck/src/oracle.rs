//! The brute-force oracle: tries every order of a (small) history's operations against a
//! [`Model`]. Exponential; the tests compare the searches with it on histories of a few ops.

use crate::model::{Model, Operation};

/// Is `ops` (one partition, a dozen operations at most) linearizable against `model`? Tries every
/// order that respects real time, and every subset of the operations of unknown outcome.
pub fn brute_force<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>]) -> bool {
    let mut placed = vec![false; ops.len()];
    place_rest(model, ops, &mut placed, &model.init())
}

fn place_rest<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    placed: &mut Vec<bool>,
    state: &M::State,
) -> bool {
    let pending_done = |placed: &[bool], j: usize| !placed[j] && ops[j].ret.is_some();
    if !(0..ops.len()).any(|j| pending_done(placed, j)) {
        return true;
    }
    for i in 0..ops.len() {
        if placed[i] {
            continue;
        }
        // i may go next unless a pending completed op returned before its call.
        let blocked = (0..ops.len())
            .any(|j| pending_done(placed, j) && ops[j].ret.is_some_and(|r| r < ops[i].call));
        if blocked {
            continue;
        }
        let output = ops[i].output.as_ref().filter(|_| ops[i].ret.is_some());
        let Some(next) = model.step(state, &ops[i].input, output) else {
            continue;
        };
        placed[i] = true;
        let ok = place_rest(model, ops, placed, &next);
        placed[i] = false;
        if ok {
            return true;
        }
    }
    false
}
