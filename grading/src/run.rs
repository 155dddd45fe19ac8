//! One graded run: one test with one seed, in the sandbox, with a wall-clock and a memory limit,
//! passing only when the harness reported the test's completion with this run's secret and seed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::sandbox::{self, Protection};
use crate::tree::{self, Layout, TestCase};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub test: TestCase,
    pub seed: u64,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// Where the run's output goes when it fails.
    pub log: PathBuf,
}

/// How a run went.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    pub seed: u64,
    pub passed: bool,
    /// Why it failed (the test's own message when it gave one).
    pub reason: Option<String>,
    pub virtual_s: Option<f64>,
    pub wall_s: f64,
    pub log: PathBuf,
    /// The grader's limit the run hit, if any (the class report lists such submissions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
}

/// A per-run limit of the grader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// The wall-clock limit (`--timeout`).
    WallClock,
    /// The memory limit (`--memory-mb`).
    Memory,
}

/// Runs one test once. The secret and the seed go to the harness on standard input (never in the
/// environment); its report comes back on standard output.
pub fn run(spec: &RunSpec, layout: &Layout, protection: Protection) -> RunResult {
    let started = Instant::now();
    // A secret nobody can guess from inside the test process.
    let input = labspec::GraderInput {
        nonce: labspec::seed::fresh_nonce(),
        seed: spec.seed,
    };
    let sandbox_spec = test_spec(spec, layout);
    match sandbox::run(
        sandbox_spec,
        protection,
        input.to_string().as_bytes(),
        spec.timeout,
    ) {
        Ok(out) => judge(spec, &input.nonce, &out, started),
        Err(e) => failed(spec, started, e),
    }
}

/// The sandbox spec of one run: the test alone, the harness told that a grader runs it.
fn test_spec(spec: &RunSpec, layout: &Layout) -> sandbox::Spec {
    use labspec::env;
    let env = vec![
        (env::GRADER.to_string(), env::GRADER_STDIN.to_string()),
        // So that a student's replay line shows the seed; the harness takes the grader's.
        (env::SEED.into(), spec.seed.to_string()),
        // Let the harness's own watchdog report slowness before the grader has to kill.
        (
            env::WALL_LIMIT.into(),
            format!("{:.1}", spec.timeout.as_secs_f64() * 0.8),
        ),
        ("RUST_BACKTRACE".into(), "1".into()),
    ];
    let args = [
        "--exact",
        &spec.test.name,
        "--nocapture",
        "--test-threads=1",
    ]
    .map(String::from)
    .to_vec();
    tree::run_spec(layout, &spec.test.exe, args, env, spec.memory_mb, 256)
}

/// How a run that ended went: passed only with exit status 0, no process left over, and the
/// harness's completion report with this run's secret, test and seed. A failed run's output goes
/// to its log.
fn judge(spec: &RunSpec, nonce: &str, out: &sandbox::Outcome, started: Instant) -> RunResult {
    let prefix = labspec::Completion::prefix(nonce, &spec.test.name);
    let report = out.output.lines().find(|l| l.starts_with(&prefix));
    let completion = report.and_then(|l| l.parse::<labspec::Completion>().ok());
    let wall_s = started.elapsed().as_secs_f64();
    let seed_ok = completion.as_ref().is_some_and(|c| c.seed == spec.seed);
    if let (Some(0), Some(c), true, 0) = (out.code, &completion, seed_ok, out.leftover) {
        return RunResult {
            seed: spec.seed,
            passed: true,
            reason: None,
            virtual_s: Some(c.virtual_s),
            wall_s,
            log: spec.log.clone(),
            limit: None,
        };
    }
    let _ = std::fs::write(&spec.log, &out.output);
    let reason = if out.timed_out {
        format!(
            "killed after {:.0}s, the grader's wall-clock limit per run: the test neither finished nor failed in time",
            spec.timeout.as_secs_f64()
        )
    } else if out.out_of_memory {
        format!(
            "out of memory (the limit is {} MiB for the whole run)",
            spec.memory_mb
        )
    } else if out.leftover > 0 {
        "processes of the run survived its end and had to be killed".to_string()
    } else if report.is_some() && completion.is_none() {
        "the completion report is malformed".to_string()
    } else if report.is_some() && !seed_ok {
        "the completion report names another seed than the grader set".to_string()
    } else {
        failure_reason(&out.output, out.code == Some(0), spec.memory_mb, out.code)
    };
    RunResult {
        seed: spec.seed,
        passed: false,
        virtual_s: out
            .output
            .split("virtual time ")
            .nth(1)
            .and_then(|s| s.split('s').next()?.parse().ok()),
        reason: Some(tree::cap(&reason)),
        wall_s,
        log: spec.log.clone(),
        limit: if out.timed_out {
            Some(Limit::WallClock)
        } else if out.out_of_memory || reason.starts_with("out of memory") {
            Some(Limit::Memory)
        } else {
            None
        },
    }
}

fn failed(spec: &RunSpec, started: Instant, reason: String) -> RunResult {
    RunResult {
        seed: spec.seed,
        passed: false,
        reason: Some(reason),
        virtual_s: None,
        wall_s: started.elapsed().as_secs_f64(),
        log: spec.log.clone(),
        limit: None,
    }
}

/// The most useful explanation of a failed run that its output allows.
fn failure_reason(output: &str, exited_ok: bool, memory_mb: u64, code: Option<i32>) -> String {
    // The harness's own message: "<test> FAILED: <what>" up to the replay line.
    if let Some(at) = output.find(" FAILED: ") {
        let text: Vec<&str> = output[at + 9..]
            .lines()
            .take_while(|l| {
                !l.trim_start().starts_with("replay:") && !l.starts_with("stack backtrace")
            })
            .take(20)
            .collect();
        return text.join("\n");
    }
    if output.contains("memory allocation of") || output.contains("out of memory") {
        return format!("out of memory (the limit is {memory_mb} MiB per run)");
    }
    if let Some(at) = output.find("panicked at") {
        let text: Vec<&str> = output[at..].lines().take(2).collect();
        return text.join(" ");
    }
    if exited_ok {
        return "the test process exited with status 0 before the test completed \
                (does the code call std::process::exit?), or it did not report its completion"
            .to_string();
    }
    match code {
        Some(137) => format!(
            "the test process was killed (SIGKILL) without a message: out of memory? (the limit is {memory_mb} MiB)"
        ),
        Some(c) => format!("the test process failed (status {c}) without a message; see the log"),
        None => "the test process ended without a status".to_string(),
    }
}
