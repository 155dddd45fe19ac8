//! Seeded random streams: one per node, and one for each part of the framework that asks.

use std::cell::Cell;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::context::{CURRENT, ctx};

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
