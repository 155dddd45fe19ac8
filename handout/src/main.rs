//! The handout generator (it runs outside the simulation, so it may use processes and real time).
//!
//! `handout --out DIR [--tar FILE] [--target-dir DIR] [--no-verify]` writes the student copy of
//! this repository: the framework, the tester, the graded tests, the skeletons and the lab texts,
//! with the reference solutions and the grading tool removed. Then it verifies the copy (see
//! [`verify`]), makes it a fresh git repository with one commit, and packs it if asked.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod copy;
mod scan;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "handout",
    about = "Write the student copy of raftlab and verify it"
)]
struct Cli {
    /// Where the copy goes; the folder must not exist or be empty.
    #[arg(long)]
    out: PathBuf,
    /// Also pack the copy (with its git history, without build output) into this tar file.
    #[arg(long)]
    tar: Option<PathBuf>,
    /// Cargo's target folder for the verification builds (default: the copy's own `target/`,
    /// which git ignores; a shared folder saves rebuilding the dependencies).
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// Skip building and running the copy (the scan for reference code still runs).
    #[arg(long)]
    no_verify: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match generate(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "handout: the copy in {} FAILED verification",
                cli.out.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("handout: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes, verifies, commits and packs the copy; `Ok(false)` when a check failed.
/// Drops from the copy's Cargo.lock the packages only the instructors' crates use, keeping every
/// other version pinned: otherwise a student's first build rewrites the file (a change in `git
/// status`) and the lock names the grader's dependencies.
fn prune_lock(out: &Path) -> Result<(), String> {
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "metadata",
                "--offline",
                "--format-version",
                "1",
                "--manifest-path",
            ])
            .arg(out.join("Cargo.toml"))
            .env_remove("CARGO_TARGET_DIR")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
    match status.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&status.stderr).trim().to_string()),
    }
}

fn generate(cli: &Cli) -> Result<bool, String> {
    let started = Instant::now();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the handout crate has no parent folder")?;
    let out = &cli.out;
    if out.exists() && out.read_dir().map_err(|e| e.to_string())?.next().is_some() {
        return Err(format!("{} exists and is not empty", out.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let out = out
        .canonicalize()
        .map_err(|e| format!("{}: {e}", out.display()))?;

    let files = copy::write_copy(repo, &out)?;
    println!("wrote {} files to {}", files, out.display());
    match prune_lock(&out) {
        Ok(()) => println!("ok    Cargo.lock holds only the copy's packages"),
        Err(e) => println!("warn  Cargo.lock keeps the instructors' packages ({e})"),
    }

    let mut ok = true;
    let findings = scan::scan(repo, &out)?;
    if findings.is_empty() {
        println!("ok    no reference code (paths, features, or any of its lines)");
    } else {
        ok = false;
        println!("FAIL  reference code found in the copy:");
        for f in &findings {
            println!("        {f}");
        }
    }

    if cli.no_verify {
        println!("skip  building and running the copy (--no-verify)");
    } else {
        let target = cli.target_dir.clone().unwrap_or_else(|| out.join("target"));
        ok &= verify::verify(&out, &target)?;
    }

    git_commit(&out)?;
    println!(
        "ok    {} is a git repository with one commit",
        out.display()
    );
    if let Some(tar) = &cli.tar {
        pack(&out, tar)?;
        println!("ok    packed into {}", tar.display());
    }
    let verdict = match (ok, cli.no_verify) {
        (false, _) => "NOT verified",
        (true, false) => "verified",
        (true, true) => "scanned (not built or run: --no-verify)",
    };
    println!("{verdict} in {:.1}s", started.elapsed().as_secs_f64());
    Ok(ok)
}

/// Runs a command, failing with its output when it fails.
fn run(cmd: &mut Command) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Makes `dir` a fresh git repository whose one commit holds the whole copy.
fn git_commit(dir: &Path) -> Result<(), String> {
    let git = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(dir).args(args);
        // The copy's commit must not depend on the instructor's git configuration.
        cmd.env("GIT_AUTHOR_NAME", "raftlab")
            .env("GIT_AUTHOR_EMAIL", "raftlab@localhost")
            .env("GIT_COMMITTER_NAME", "raftlab")
            .env("GIT_COMMITTER_EMAIL", "raftlab@localhost");
        run(&mut cmd)
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "raftlab labs: handout"])?;
    let status = git(&["status", "--porcelain"])?;
    if !status.trim().is_empty() {
        return Err(format!("files left out of the commit:\n{status}"));
    }
    Ok(())
}

/// Packs `dir` (git history included, build output excluded) into the tar file `tar`.
fn pack(dir: &Path, tar: &Path) -> Result<(), String> {
    let name = dir
        .file_name()
        .ok_or("the copy's folder has no name")?
        .to_string_lossy()
        .into_owned();
    let parent = dir.parent().ok_or("the copy's folder has no parent")?;
    let tar = std::path::absolute(tar).map_err(|e| e.to_string())?;
    run(Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("--exclude")
        .arg(format!("{name}/target"))
        .arg("-C")
        .arg(parent)
        .arg(&name))?;
    Ok(())
}
