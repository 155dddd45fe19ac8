//! Tests of many runs (`LAB_RUNS=N`, `LAB_SEEDS=a..b`): the seeds, the runs in parallel under
//! one process-wide cap, a progress bar per test, and the summary of the failures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use labspec::env;

use super::Report;
use super::outcome::{Attempt, Failed, Passed, Stuck, fail_test};
use super::replay::env_seed;

/// The seeds of a test of many runs, and how they were chosen.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    /// One run per seed, in this order.
    pub(super) seeds: Vec<u64>,
    /// The variables that choose these seeds again, e.g. `LAB_SEED=12 LAB_RUNS=500`.
    pub(super) origin: String,
    /// Stop at the first failing run.
    pub(super) fail_fast: bool,
}

impl Batch {
    /// The batch `LAB_RUNS` or `LAB_SEEDS` asks for, if any; an error names a malformed value.
    ///
    /// `LAB_RUNS=N` derives run `i`'s seed from the base seed (`LAB_SEED`, else a fresh one) the
    /// way the grader does, so `LAB_SEED=7 LAB_RUNS=10` runs the seeds of `grade --seed 7 --runs 10`.
    pub(super) fn from_env(test: &str) -> Result<Option<Batch>, String> {
        let runs = std::env::var(env::RUNS).ok();
        let range = std::env::var(env::SEEDS).ok();
        let fail_fast = std::env::var(env::FAIL_FAST).is_ok_and(|v| v == env::ON);
        let (seeds, origin) = match (runs, range) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{} and {} are both set: give the number of runs or a range of seeds, not both",
                    env::RUNS,
                    env::SEEDS
                ));
            }
            (Some(n), None) => {
                let n: usize = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("{} must be a positive number of runs, got {n:?}", env::RUNS)
                })?;
                let base = env_seed()?.unwrap_or_else(process_base_seed);
                let seeds = (0..n)
                    .map(|i| labspec::seed::run_seed(base, test, i))
                    .collect();
                (seeds, format!("{}={base} {}={n}", env::SEED, env::RUNS))
            }
            (None, Some(r)) => {
                let seeds = parse_range(&r)?;
                (seeds, format!("{}={}", env::SEEDS, r.trim()))
            }
        };
        Ok(Some(Batch {
            seeds,
            origin,
            fail_fast,
        }))
    }
}

/// One fresh base seed for every test of this process, so that one printed `LAB_SEED` runs
/// them all again.
fn process_base_seed() -> u64 {
    static BASE: OnceLock<u64> = OnceLock::new();
    *BASE.get_or_init(labspec::seed::fresh_seed)
}

/// `a..b` (b excluded) or `a..=b`, not empty, at most a million seeds.
fn parse_range(r: &str) -> Result<Vec<u64>, String> {
    let bad = || {
        format!(
            "{} must be a range of seeds like 1..500 (500 excluded) or 1..=500, got {r:?}",
            env::SEEDS
        )
    };
    let (a, b, inclusive) = if let Some((a, b)) = r.trim().split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = r.trim().split_once("..") {
        (a, b, false)
    } else {
        return Err(bad());
    };
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    let end = if inclusive { b.checked_add(1) } else { Some(b) }.ok_or_else(bad)?;
    if end <= a || end - a > 1_000_000 {
        return Err(bad());
    }
    Ok((a..end).collect())
}

/// Runs stuck in a blocking call that a process may leave behind before it stops starting
/// runs: each costs a thread and its stack, no CPU.
const MAX_BLOCKED: usize = 64;

/// Threads left spinning in this process, and left blocked.
static SPINNING: AtomicUsize = AtomicUsize::new(0);
static BLOCKED: AtomicUsize = AtomicUsize::new(0);

/// The number of runs that may go at once in this process, over every test libtest runs in
/// parallel: one per core.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Why no more runs should start in this process, if they should not: each thread left
/// spinning takes a core for good, and blocked ones add up.
fn too_many_stuck() -> Option<String> {
    let spinning = SPINNING.load(Ordering::Relaxed);
    let blocked = BLOCKED.load(Ordering::Relaxed);
    if spinning >= cores() {
        Some(format!(
            "stopped: {spinning} runs of this process are left spinning, one per core; fix the \
             busy loop first"
        ))
    } else if blocked >= MAX_BLOCKED {
        Some(format!(
            "stopped: {blocked} runs of this process are left blocked; fix the blocking call first"
        ))
    } else {
        None
    }
}

/// Counts a thread that a run left behind, blocked or spinning.
pub(super) fn note_stuck(stuck: Stuck) {
    match stuck {
        Stuck::Blocked => BLOCKED.fetch_add(1, Ordering::Relaxed),
        Stuck::Spinning => SPINNING.fetch_add(1, Ordering::Relaxed),
        Stuck::No => 0,
    };
}

/// A counting semaphore over the whole process: at most [`cores`] simulations at once.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// One simulation's place; given back when dropped.
struct Slot(&'static Slots);

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

fn slot() -> Slot {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| Slots {
        free: Mutex::new(cores()),
        freed: Condvar::new(),
    });
    let mut free = slots.free.lock().unwrap_or_else(|e| e.into_inner());
    while *free == 0 {
        free = slots.freed.wait(free).unwrap_or_else(|e| e.into_inner());
    }
    *free -= 1;
    Slot(slots)
}

/// The progress bars of every test of many runs in this process, on standard error (hidden
/// when it is not a terminal; libtest's capture does not reach them).
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Writes a line to standard error past libtest's capture, above the progress bars.
fn say(line: &str) {
    bars().suspend(|| {
        let _ = writeln!(std::io::stderr(), "{line}");
    });
}

/// What the runs of a batch came to so far.
#[derive(Default)]
struct Tally {
    passed: usize,
    /// Failed runs by their index in the batch.
    failed: BTreeMap<usize, Failed>,
    /// A report of a passing run, to return.
    report: Option<Report>,
    /// Why the batch stopped before its last run.
    stopped: Option<String>,
    /// Runs of this batch that left their thread behind.
    left_blocked: usize,
    left_spinning: usize,
}

/// Runs a test once per seed of `batch`, in parallel; prints its summary and returns a passing
/// run's report, or fails the test with the summary of its failures.
pub(super) fn run_many<T, F, Fut, C>(
    attempt: &Attempt,
    batch: &Batch,
    make: &F,
    finish: &C,
) -> Report
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
    C: Fn(T, u64) -> Result<String, String> + Sync,
{
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    // wall time for the summary; nothing reaches a run
    let started = std::time::Instant::now();
    let n = batch.seeds.len();
    let bar = bars().add(ProgressBar::new(n as u64));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(attempt.name.clone());
    let tally = Mutex::new(Tally::default());
    let next = AtomicUsize::new(0);
    let (next, tally_ref, bar_ref) = (&next, &tally, &bar);
    std::thread::scope(|scope| {
        for _ in 0..cores().min(n) {
            let make = make.clone();
            let work = move || worker(attempt, batch, &make, finish, next, tally_ref, bar_ref);
            // Worker threads carry the test's name: the replay line and the runs' threads take it.
            let spawned = std::thread::Builder::new()
                .name(attempt.name.clone())
                .spawn_scoped(scope, work);
            if let Err(e) = spawned {
                lock(tally_ref).stopped = Some(format!("stopped: could not start a thread: {e}"));
            }
        }
    });
    bar.finish_and_clear();
    bars().remove(&bar);
    let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    let wall = started.elapsed().as_secs_f64();
    let ran = tally.passed + tally.failed.len();
    if tally.failed.is_empty() && tally.stopped.is_none() {
        say(&format!(
            "{}: {ran}/{n} runs passed ({}, {wall:.1}s)",
            attempt.name, batch.origin
        ));
        if let Some(report) = tally.report {
            return report;
        }
    }
    let summary = summarize(attempt, batch, make, &tally, wall);
    say(summary.lines().next().unwrap_or_default());
    fail_test(&summary)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One worker: takes the next seed, waits for a free slot, runs, tallies; until the seeds run
/// out or the batch stops.
fn worker<T, F, Fut, C>(
    attempt: &Attempt,
    batch: &Batch,
    make: &F,
    finish: &C,
    next: &AtomicUsize,
    tally: &Mutex<Tally>,
    bar: &ProgressBar,
) where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
    C: Fn(T, u64) -> Result<String, String> + Sync,
{
    loop {
        if lock(tally).stopped.is_some() {
            return;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(&seed) = batch.seeds.get(i) else {
            return;
        };
        let slot = slot();
        if let Some(why) = too_many_stuck() {
            lock(tally).stopped = Some(why);
            return;
        }
        let outcome = attempt.run(seed, make, finish);
        drop(slot);
        let mut t = lock(tally);
        match outcome {
            Ok(Passed { report, .. }) => {
                t.passed += 1;
                t.report.get_or_insert(report);
            }
            Err(failed) => {
                note_stuck(failed.stuck);
                match failed.stuck {
                    Stuck::Blocked => t.left_blocked += 1,
                    Stuck::Spinning => t.left_spinning += 1,
                    Stuck::No => {}
                }
                t.failed.insert(i, failed);
                if batch.fail_fast && t.stopped.is_none() {
                    t.stopped = Some(format!(
                        "stopped at the first failure ({}=1)",
                        env::FAIL_FAST
                    ));
                }
            }
        }
        bar.inc(1);
        bar.set_message(format!("passed {}, failed {}", t.passed, t.failed.len()));
    }
}

/// How many groups of failures get a timeline of their first run (each costs a run).
const TIMELINES: usize = 3;

/// The failing test's message: the count, the failures grouped by their first line (digits
/// aside), each group's seeds, replay command and timeline, then the first failure in full.
fn summarize<T, F, Fut>(
    attempt: &Attempt,
    batch: &Batch,
    make: &F,
    tally: &Tally,
    wall: f64,
) -> String
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let n = batch.seeds.len();
    let ran = tally.passed + tally.failed.len();
    let mut s = format!(
        "{} FAILED: {} of {ran} runs failed ({}, {wall:.1}s)",
        attempt.name,
        tally.failed.len(),
        batch.origin
    );
    if ran < n {
        let _ = write!(s, "; {} of {n} runs not made", n - ran);
    }
    if let Some(why) = &tally.stopped {
        let _ = write!(s, "\n  {why}");
    }
    if tally.left_blocked + tally.left_spinning > 0 {
        let _ = write!(
            s,
            "\n  {} runs left their thread blocked and {} left it spinning; those threads end \
             with the test process",
            tally.left_blocked, tally.left_spinning
        );
    }
    for (g, (shape, group)) in group_failures(&tally.failed).iter().enumerate() {
        let first = &tally.failed[&group[0]];
        let seeds: Vec<String> = group
            .iter()
            .take(8)
            .map(|i| tally.failed[i].seed.to_string())
            .collect();
        let more = match group.len() {
            l if l > 8 => format!(" and {} more", l - 8),
            _ => String::new(),
        };
        let _ = write!(
            s,
            "\n  {} x {}\n      seeds {}{more}\n      replay: {}",
            group.len(),
            shape,
            seeds.join(", "),
            first.replay(attempt)
        );
        if g < TIMELINES
            && let Some(path) = attempt.timeline_of(first.seed, make, first)
        {
            let _ = write!(s, "\n      timeline: {path}");
        }
    }
    if let Some(first) = tally.failed.values().next() {
        let _ = write!(
            s,
            "\nthe first failing run in full:\n{}",
            first.message(attempt, None)
        );
    }
    s
}

/// The failed runs' indexes, grouped by their failure's first line with numbers as `#` (so that
/// `one(102) failed` and `one(215) failed` are one failure); the biggest group first.
fn group_failures(failed: &BTreeMap<usize, Failed>) -> Vec<(String, Vec<usize>)> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (&i, f) in failed {
        groups.entry(shape(f.first_line())).or_default().push(i);
    }
    let mut groups: Vec<(String, Vec<usize>)> = groups.into_iter().collect();
    groups.sort_by_key(|(_, g)| (std::cmp::Reverse(g.len()), g[0]));
    groups
}

/// A line with every run of digits replaced by `#`.
fn shape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_digits = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("3..6"), Ok(vec![3, 4, 5]));
        assert_eq!(parse_range(" 3..=5 "), Ok(vec![3, 4, 5]));
        assert!(parse_range("5..5").is_err());
        assert!(parse_range("6..3").is_err());
        assert!(parse_range("1-5").is_err());
        assert!(parse_range("0..2000000").is_err());
        assert!(parse_range("1..=18446744073709551615").is_err());
    }

    #[test]
    fn failures_group_by_shape() {
        assert_eq!(
            shape("one(102) failed to reach agreement on raft-2"),
            "one(#) failed to reach agreement on raft-#"
        );
        let f = |line: &str| Failed {
            headline: format!("{line}\n  details"),
            seed: 1,
            virtual_time: std::time::Duration::ZERO,
            last_events: Vec::new(),
            backtrace: String::new(),
            replay: None,
            stuck: Stuck::No,
            timeline: None,
        };
        let failed: BTreeMap<usize, Failed> = [
            (0, f("a 1")),
            (3, f("b")),
            (5, f("a 22")),
            (7, f("b")),
            (9, f("b")),
        ]
        .into_iter()
        .collect();
        let groups = group_failures(&failed);
        assert_eq!(
            groups,
            vec![
                ("b".to_string(), vec![3, 7, 9]),
                ("a #".to_string(), vec![0, 5])
            ]
        );
    }
}
