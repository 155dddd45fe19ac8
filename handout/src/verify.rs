//! Building and running the student copy: what a student will do first must work, and every
//! graded test must fail, quickly and without hanging, until the student writes the code.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one part's tests may take to fail with the skeleton, after the build.
const PART_LIMIT: Duration = Duration::from_secs(30);

/// Verifies the copy in `dir`, building into `target`; prints one line per check and returns
/// whether all passed. `Err` only when a check could not run at all.
pub fn verify(dir: &Path, target: &Path) -> Result<bool, String> {
    let cargo = |args: &[&str]| {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(dir)
            .args(args)
            .env("CARGO_TARGET_DIR", target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_MANIFEST_DIR");
        // As a student runs them: none of the harness's variables.
        for var in labspec::env::ALL {
            cmd.env_remove(var);
        }
        cmd
    };
    let mut ok = true;

    let started = Instant::now();
    let build = output(&mut cargo(&["build", "--workspace", "--all-targets"]))?;
    let warnings: Vec<&str> = build
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning") || l.starts_with("error"))
        .collect();
    ok &= check(
        build.success && warnings.is_empty(),
        &format!(
            "builds warning-free ({:.0}s)",
            started.elapsed().as_secs_f64()
        ),
        &build.stderr,
    );

    let clippy = output(&mut cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    ok &= check(
        clippy.success,
        "clippy (the determinism lints) passes",
        &clippy.stderr,
    );

    let framework = output(&mut cargo(&[
        "test", "-p", "labrpc", "-p", "lincheck", "-p", "raftlab", "--lib",
    ]))?;
    ok &= check(
        framework.success,
        "the framework's own tests pass",
        &format!("{}{}", framework.stdout, framework.stderr),
    );

    // The graded test binaries of the copy, one per lab part.
    for part in labspec::parts::parts() {
        ok &= verify_part(|| cargo(&["test", "--test", part.target]), part.target)?;
    }
    Ok(ok)
}

/// Runs one graded test binary: every test in it must fail, within [`PART_LIMIT`].
fn verify_part(cmd: impl Fn() -> Command, part: &str) -> Result<bool, String> {
    let listed = output(cmd().args(["--", "--list"]))?;
    let tests: Vec<&str> = listed
        .stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .collect();
    if tests.is_empty() {
        return Ok(check(
            false,
            &format!("{part}: lists its tests"),
            &listed.stderr,
        ));
    }
    let started = Instant::now();
    let run = output_within(cmd().args(["--", "--test-threads=2"]), PART_LIMIT)?;
    let wall = started.elapsed().as_secs_f64();
    let Some(run) = run else {
        return Ok(check(
            false,
            &format!("{part}: its tests fail within {}s", PART_LIMIT.as_secs()),
            "killed: it did not finish in time",
        ));
    };
    let passed: Vec<&&str> = tests
        .iter()
        .filter(|t| !run.stdout.contains(&format!("test {t} ... FAILED")))
        .collect();
    Ok(check(
        passed.is_empty() && !run.success,
        &format!(
            "{part}: all {} tests fail with the skeleton, in {wall:.1}s",
            tests.len()
        ),
        &format!("did not fail: {passed:?}\n{}", run.stdout),
    ))
}

/// Prints a check's outcome (with `detail` when it failed); returns whether it passed.
fn check(passed: bool, what: &str, detail: &str) -> bool {
    if passed {
        println!("ok    {what}");
    } else {
        println!("FAIL  {what}");
        for line in detail
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            println!("        {line}");
        }
    }
    passed
}

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

fn output(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    Ok(Output {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Like [`output`], but kills the command's whole process group after `limit` (`None`).
fn output_within(cmd: &mut Command, limit: Duration) -> Result<Option<Output>, String> {
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    // Drain both pipes on their own threads so that a chatty test cannot fill one and stall.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let mut bytes = Vec::new();
                let _ = p.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    Ok(status.map(|s| Output {
        success: s.success(),
        stdout,
        stderr,
    }))
}
