//! One graded run: one test with one seed, in its own process group, with a wall-clock and a
//! memory limit, passing only when the harness reported the test's completion.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub test: String,
    pub exe: PathBuf,
    pub seed: u64,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// Where the run's output goes.
    pub log: PathBuf,
    /// Where the harness reports completion.
    pub report: PathBuf,
}

/// How a run went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    pub seed: u64,
    pub passed: bool,
    /// Why it failed (the test's own message when it gave one).
    pub reason: Option<String>,
    pub virtual_s: Option<f64>,
    pub wall_s: f64,
    pub log: PathBuf,
}

/// A nonce nobody can guess from inside the test process before it is told.
fn nonce() -> String {
    use std::hash::BuildHasher;
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    let (a, b) = {
        let s = std::collections::hash_map::RandomState::new();
        (s.hash_one(1u8), s.hash_one(2u8))
    };
    format!("{a:016x}{b:016x}")
}

/// Runs one test once.
pub fn run(spec: &RunSpec) -> RunResult {
    let started = Instant::now();
    let nonce = nonce();
    let _ = std::fs::remove_file(&spec.report);
    let log = match std::fs::File::create(&spec.log) {
        Ok(f) => f,
        Err(e) => {
            return failed(
                spec,
                started,
                format!("cannot create {}: {e}", spec.log.display()),
            );
        }
    };
    let log2 = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return failed(spec, started, format!("cannot share the log file: {e}")),
    };
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={}", spec.memory_mb << 20))
        .arg("--")
        .arg(&spec.exe)
        .args(["--exact", &spec.test, "--nocapture", "--test-threads=1"])
        .env("LAB_SEED", spec.seed.to_string())
        .env("LAB_REPORT_FILE", &spec.report)
        .env("LAB_REPORT_NONCE", &nonce)
        // Let the harness's own watchdog report slowness before the grader has to kill.
        .env(
            "LAB_WALL_LIMIT",
            format!("{:.1}", spec.timeout.as_secs_f64() * 0.8),
        )
        .env("RUST_BACKTRACE", "1")
        .env_remove("LAB_CHECK_DETERMINISM")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return failed(
                spec,
                started,
                format!("cannot start the test ({e}); is prlimit (util-linux) installed?"),
            );
        }
    };
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= spec.timeout => {
                // The whole group: the test and anything it started.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                killed = true;
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return failed(spec, started, format!("lost the test process: {e}")),
        }
    };
    let mut output = String::new();
    if let Ok(mut f) = std::fs::File::open(&spec.log) {
        let _ = f.read_to_string(&mut output);
    }
    let report = std::fs::read_to_string(&spec.report).unwrap_or_default();
    let completed = report
        .lines()
        .find(|l| l.starts_with(&format!("{nonce} pass {} ", spec.test)));
    let wall_s = started.elapsed().as_secs_f64();
    let exited_ok = status.is_some_and(|s| s.success());
    if let (true, Some(line)) = (exited_ok, completed) {
        return RunResult {
            seed: spec.seed,
            passed: true,
            reason: None,
            virtual_s: field(line, "virtual="),
            wall_s,
            log: spec.log.clone(),
        };
    }
    let reason = if killed {
        format!(
            "killed after {:.0}s, the grader's wall-clock limit per run: the test neither finished nor failed in time",
            spec.timeout.as_secs_f64()
        )
    } else {
        failure_reason(&output, exited_ok, spec.memory_mb, status)
    };
    RunResult {
        seed: spec.seed,
        passed: false,
        virtual_s: output
            .split("virtual time ")
            .nth(1)
            .and_then(|s| s.split('s').next()?.parse().ok()),
        reason: Some(reason),
        wall_s,
        log: spec.log.clone(),
    }
}

fn field(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.parse().ok())
}

fn failed(spec: &RunSpec, started: Instant, reason: String) -> RunResult {
    RunResult {
        seed: spec.seed,
        passed: false,
        reason: Some(reason),
        virtual_s: None,
        wall_s: started.elapsed().as_secs_f64(),
        log: spec.log.clone(),
    }
}

/// The most useful explanation of a failed run that its output allows.
fn failure_reason(
    output: &str,
    exited_ok: bool,
    memory_mb: u64,
    status: Option<std::process::ExitStatus>,
) -> String {
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
                (does the code call std::process::exit?)"
            .to_string();
    }
    match status {
        Some(s) => format!("the test process failed ({s}) without a message; see the log"),
        None => "the test process ended without a status".to_string(),
    }
}
