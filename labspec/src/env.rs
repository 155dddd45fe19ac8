//! The environment variables the test harness reads. None of them is a secret: the grader's
//! secret and seed come on standard input (see [`crate::GraderInput`]).

/// The run's seed (an unsigned 64-bit integer); without it, the harness takes a fresh one. A
/// grader sets it too, for the replay line a student sees; the harness uses the grader's.
pub const SEED: &str = "LAB_SEED";

/// `1`: run every simulated test twice with the same seed and compare the traces.
pub const CHECK_DETERMINISM: &str = "LAB_CHECK_DETERMINISM";

/// The value of [`CHECK_DETERMINISM`] that turns the check on.
pub const CHECK_DETERMINISM_ON: &str = "1";

/// The harness's own wall-clock limit per run, in seconds (default 60).
pub const WALL_LIMIT: &str = "LAB_WALL_LIMIT";

/// [`GRADER_STDIN`] here tells the harness that a grader runs it and that the grader's secret
/// and seed wait on standard input.
pub const GRADER: &str = "LAB_GRADER";

/// The value of [`GRADER`] a grader sets.
pub const GRADER_STDIN: &str = "stdin";

/// Every variable above: what a tool that runs the tests as a student would clears first.
pub const ALL: &[&str] = &[SEED, CHECK_DETERMINISM, WALL_LIMIT, GRADER];
