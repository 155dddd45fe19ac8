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

/// Runs every selected test this many times, with seeds derived from one base seed ([`SEED`],
/// else a fresh one), in parallel; the test fails if any run fails, with a summary of the failures.
pub const RUNS: &str = "LAB_RUNS";

/// Runs every selected test once per seed of a range, `a..b` (b excluded) or `a..=b`.
pub const SEEDS: &str = "LAB_SEEDS";

/// `1`: a test of many runs stops at its first failing run.
pub const FAIL_FAST: &str = "LAB_FAIL_FAST";

/// `1`: write a run's timeline (an HTML page) even when it passes; a failing run always gets one.
/// [`TIMELINE_FULL`] does too, and embeds the whole run even past the page's size budget.
pub const TIMELINE: &str = "LAB_TIMELINE";

/// The value of [`TIMELINE`] that embeds the whole run in the page.
pub const TIMELINE_FULL: &str = "full";

/// The value of the on/off variables ([`FAIL_FAST`], [`TIMELINE`]) that turns them on.
pub const ON: &str = "1";

/// `columns`: print log lines (still filtered by `RUST_LOG`) in one column per server.
pub const LOG: &str = "LAB_LOG";

/// The value of [`LOG`] that prints one column per server.
pub const LOG_COLUMNS: &str = "columns";

/// Every variable above: what a tool that runs the tests as a student would clears first.
pub const ALL: &[&str] = &[
    SEED,
    CHECK_DETERMINISM,
    WALL_LIMIT,
    GRADER,
    RUNS,
    SEEDS,
    FAIL_FAST,
    TIMELINE,
    LOG,
];
