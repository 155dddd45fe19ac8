//! The instructors' tool (it runs outside the simulation, so it may use threads and real time).
//!
//! - `grading grade [--submission DIR] [--parts 2a,2b,...] [--runs N] [--jobs J] [--seed S]
//!   [--timeout SECS] [--out DIR]`: grades a submission (without one, this tree with the
//!   reference solutions); see grading/README.md.
//! - `grading check-history FILE [--html OUT]`: decides whether a key/value history (the JSON the
//!   KV tests write, or Jepsen EDN) is linearizable. Exit status 0 linearizable, 1 not, 2
//!   undecided or bad input.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod cgroup;
mod mutants;
mod report;
mod rubric;
mod run;
mod sandbox;
mod stats;
mod tree;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lincheck::{self as lin, Verdict};

use report::{Summary, TestReport};
use rubric::Rubric;
use run::{RunResult, RunSpec};
use sandbox::Protection;
use tree::{BuildLimits, Layout, Solution, TestCase};

#[derive(Parser)]
#[command(name = "grading", about = "Grade raftlab submissions; check histories")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Grade a submission: every test of the chosen parts, many seeded runs each.
    Grade(GradeArgs),
    /// Check a history for linearizability: key/value (JSON from the tests, or Jepsen EDN), or a
    /// register's (Jepsen EDN).
    CheckHistory {
        /// The history file.
        file: PathBuf,
        /// What the history is of: the labs' key/value store, a read/write register, or a
        /// compare-and-set register (read/write/cas).
        #[arg(long, value_enum, default_value = "kv")]
        model: HistoryModel,
        /// Also write a visualization of the history and the verdict to this HTML file (key/value
        /// histories only).
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Grade every mutant of the corpus (grading/mutants/): which tests catch which planted bug.
    Mutants(MutantsArgs),
    /// Internal: the sandbox's jail, which the grader starts for each build, listing and run.
    #[command(hide = true)]
    SandboxExec { spec: String },
}

#[derive(clap::Args, Clone)]
struct GradeArgs {
    /// The student's tree (a handout copy or a copy of this repository); only the student files
    /// are taken from it. Without it, this tree is graded with the reference solutions.
    #[arg(long, conflicts_with = "solution")]
    submission: Option<PathBuf>,
    /// Without a submission: which of this repository's solutions to grade (the second,
    /// independent one checks that the tests do not punish a design unlike the reference's).
    #[arg(long, value_enum, default_value = "reference")]
    solution: Solution,
    /// Lab parts to grade, comma-separated (default: every part).
    #[arg(long, value_delimiter = ',', default_values_t = labspec::parts::part_names().map(String::from))]
    parts: Vec<String>,
    /// Runs per test, each with its own seed.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Runs at a time (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seed from which every run's seed derives (default: a fresh one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Wall-clock limit per run, in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Memory limit per run, in MiB (address space).
    #[arg(long, default_value_t = 4096)]
    memory_mb: u64,
    /// Where the results go: summary.json, results.json, logs/.
    #[arg(long, default_value = "grading-out")]
    out: PathBuf,
    /// A rubric file to use instead of grading/rubric.txt.
    #[arg(long)]
    rubric: Option<PathBuf>,
    /// Build the tests without optimizations (as students do; slower runs, same traces).
    #[arg(long)]
    debug: bool,
    /// Wall-clock limit of the lint gate, of the build and of listing the tests, each, in seconds.
    #[arg(long, default_value_t = 900.0)]
    build_timeout: f64,
    /// Memory limit of the build, in MiB.
    #[arg(long, default_value_t = 8192)]
    build_memory_mb: u64,
    /// Run without the sandbox (for machines without namespaces). The results are then NOT
    /// protected from the submission's code; the report says so in its first line.
    #[arg(long)]
    no_sandbox: bool,
    /// Skip the lint gate (only to test the sandbox's own defences with submissions that the
    /// gate would stop first).
    #[arg(long, hide = true)]
    skip_lint_gate: bool,
}

#[derive(clap::Args)]
struct MutantsArgs {
    /// Runs per test and mutant, each with its own seed (the same seeds for every mutant).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Lab parts to grade each mutant on, comma-separated (default: the parts of its lab).
    #[arg(long, value_delimiter = ',')]
    parts: Vec<String>,
    /// Only these mutants (their names, comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Leave these tests out (names, comma-separated): to measure what the corpus escapes
    /// without them.
    #[arg(long, value_delimiter = ',')]
    skip_tests: Vec<String>,
    /// Runs at a time (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seed from which every run's seed derives (default: a fresh one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Wall-clock limit per run, in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Where the table goes: mutants.txt, mutants.json, logs/.
    #[arg(long, default_value = "grading-out/mutants")]
    out: PathBuf,
    /// Build the tests without optimizations.
    #[arg(long)]
    debug: bool,
    /// Run without the sandbox (the corpus is the repository's own code).
    #[arg(long)]
    no_sandbox: bool,
}

impl MutantsArgs {
    /// The grading each mutant gets: the reference's, over `parts`.
    fn grade_args(&self, parts: Vec<String>) -> GradeArgs {
        GradeArgs {
            submission: None,
            solution: Solution::Reference,
            parts,
            runs: self.runs,
            jobs: self.jobs,
            seed: self.seed,
            timeout: self.timeout,
            memory_mb: 4096,
            out: self.out.clone(),
            rubric: None,
            debug: self.debug,
            build_timeout: 900.0,
            build_memory_mb: 8192,
            no_sandbox: self.no_sandbox,
            skip_lint_gate: true,
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Mutants(args) => match grade_mutants(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::CheckHistory { file, model, html } => check_history(&file, model, html.as_deref()),
        Command::SandboxExec { spec } => {
            ExitCode::from(u8::try_from(sandbox::jail_main(&spec)).unwrap_or(125))
        }
        Command::Grade(args) => match grade(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// What gets compiled as the student files.
fn solution(args: &GradeArgs) -> Solution {
    match args.submission {
        Some(_) => Solution::Student,
        None => args.solution,
    }
}

/// How the report names one of this repository's solutions.
fn solution_name(args: &GradeArgs) -> &'static str {
    args.solution.feature().unwrap_or("student")
}

/// What one grading needs to know, fixed before anything of the submission runs.
struct Setup {
    pristine: PathBuf,
    out: PathBuf,
    logs: PathBuf,
    rubric: Rubric,
    seed: u64,
    jobs: usize,
    parts: Vec<String>,
    protection: Protection,
    limits: BuildLimits,
}

/// Grades a submission (or one of this repository's solutions): prepares and builds the tree,
/// runs and scores every test, and writes the reports.
fn grade(args: &GradeArgs) -> Result<(), String> {
    let started = Instant::now();
    let setup = setup(args)?;
    announce(args, &setup);
    let (_lock, layout) = take_work_dirs(&setup)?;
    let mut summary = empty_summary(args, &setup);
    match prepare_and_build(args, &setup, &layout) {
        Err(why) => {
            summary.build_output = why;
            summary.tests = unscored_tests(&setup);
        }
        Ok((notes, tests)) => {
            summary.build_time_s = started.elapsed().as_secs_f64();
            summary.build_ok = true;
            summary.build_output = notes.join("\n");
            summary.tests = run_and_score(&tests, args, &setup, &layout);
        }
    }
    let _ = std::fs::remove_dir_all(layout.work());
    summary.score = summary.tests.iter().map(|t| t.points).sum();
    summary.max_score = report::max_score(&summary.tests);
    summary.wall_time_s = started.elapsed().as_secs_f64();
    write_results(&setup.out, &summary)
}

/// Says how the grading is protected and what it grades, before anything runs.
fn announce(args: &GradeArgs, setup: &Setup) {
    println!("{}", setup.protection.describe());
    println!(
        "grading {} (seed {}, {} runs per test, {} at a time)",
        match &args.submission {
            Some(s) => s.display().to_string(),
            None => format!("the {} solutions", solution_name(args)),
        },
        setup.seed,
        args.runs,
        setup.jobs
    );
}

/// The summary of a grading before anything was built or run: no tests, no points.
fn empty_summary(args: &GradeArgs, setup: &Setup) -> Summary {
    Summary {
        submission: args
            .submission
            .as_ref()
            .map_or_else(|| solution_name(args).into(), |p| p.display().to_string()),
        protection: setup.protection.describe(),
        seed: setup.seed,
        runs_per_test: args.runs,
        policy: setup.rubric.policy,
        parts: setup.parts.clone(),
        build_ok: false,
        build_output: String::new(),
        score: 0.0,
        max_score: 0.0,
        wall_time_s: 0.0,
        build_time_s: 0.0,
        tests: Vec::new(),
    }
}

/// Runs every built test and scores it by the rubric.
fn run_and_score(
    tests: &[TestCase],
    args: &GradeArgs,
    setup: &Setup,
    layout: &Layout,
) -> Vec<TestReport> {
    let results = run_all(tests, args, setup, layout, &setup.logs);
    tests
        .iter()
        .zip(results)
        .map(|(t, runs)| report::test_report(t, runs, &setup.rubric, solution(args)))
        .collect()
}

/// Takes this grading's folders in the target directory (see `Layout`), emptied; returns them
/// with the lock that keeps other gradings out until it is dropped.
fn take_work_dirs(setup: &Setup) -> Result<(std::fs::File, Layout), String> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || setup.pristine.join("target").join("grading"),
        PathBuf::from,
    );
    let target_dir =
        std::path::absolute(&target_dir).map_err(|e| format!("{}: {e}", target_dir.display()))?;
    // Cargo names a workspace's artifacts the same wherever the workspace lives, and judges them
    // fresh by file times: two gradings sharing a target directory would use each other's builds.
    // So one grading at a time, and the tree is copied (fresh file times) only once it is ours.
    let lock = lock_target_dir(&target_dir)?;
    let work = target_dir.join("work");
    let layout = Layout {
        tree: work.join("tree"),
        target: target_dir.join("build"),
        bins: work.join("bin"),
    };
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&layout.target)
        .map_err(|e| format!("cannot create {}: {e}", layout.target.display()))?;
    Ok((lock, layout))
}

/// Checks the arguments and the machine, and prepares the output folder.
fn setup(args: &GradeArgs) -> Result<Setup, String> {
    let pristine = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("cannot locate the repository")?
        .canonicalize()
        .map_err(|e| format!("cannot locate the repository: {e}"))?;
    let rubric_text = match &args.rubric {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?
        }
        None => rubric::DEFAULT.to_string(),
    };
    let rubric = Rubric::parse(&rubric_text)?;
    let parts: Vec<String> = args.parts.iter().map(|p| p.trim().to_lowercase()).collect();
    if let Some(bad) = parts.iter().find(|p| labspec::parts::part(p).is_none()) {
        let names: Vec<&str> = labspec::parts::part_names().collect();
        return Err(format!(
            "unknown part {bad:?}: the parts are {}",
            names.join(", ")
        ));
    }
    let protection = if args.no_sandbox {
        Protection::None
    } else {
        let p = Protection::Sandbox(cgroup::Kind::detect());
        sandbox::self_test(p)?;
        p
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let out = args
        .out
        .canonicalize()
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    let logs = out.join("logs");
    let _ = std::fs::remove_dir_all(&logs);
    let _ = std::fs::remove_dir_all(out.join("tree"));
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    Ok(Setup {
        pristine,
        out,
        logs,
        rubric,
        seed: args.seed.unwrap_or_else(labspec::seed::fresh_seed),
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1),
        parts,
        protection,
        limits: BuildLimits {
            timeout: Duration::from_secs_f64(args.build_timeout),
            memory_mb: args.build_memory_mb,
        },
    })
}

/// The tree, the lint gate, the build and the test list; `Err` is why the submission scores 0.
fn prepare_and_build(
    args: &GradeArgs,
    setup: &Setup,
    layout: &Layout,
) -> Result<(Vec<String>, Vec<TestCase>), String> {
    let solution = solution(args);
    let notes = match &args.submission {
        None => {
            tree::copy_tree(&setup.pristine, &layout.tree, &[&setup.out])
                .map_err(|e| format!("cannot copy the pristine tree: {e}"))?;
            Vec::new()
        }
        Some(sub) => tree::prepare_submission(&setup.pristine, sub, &layout.tree)?
            .map_err(|why| format!("SUBMISSION REFUSED: {why}"))?,
    };
    if args.skip_lint_gate {
        println!("lint gate skipped (--skip-lint-gate)");
    } else {
        println!("checking the student files (lint gate) ...");
        let violations = tree::lint_gate(layout, solution, setup.limits, setup.protection)?;
        if !violations.is_empty() {
            return Err(format!(
                "LINT GATE: the student files use what graded code may not (score 0):\n{}",
                violations.join("\n")
            ));
        }
    }
    println!("building ...");
    let bins = tree::build(
        layout,
        &setup.parts,
        solution,
        !args.debug,
        setup.limits,
        setup.protection,
    )?;
    let tests = tree::list_tests(layout, &bins, &setup.parts, setup.limits, setup.protection)?;
    if tests.is_empty() {
        return Err(format!("no graded tests for the parts {:?}", setup.parts));
    }
    Ok((notes, tests))
}

/// Every graded test of the chosen parts, with no runs and no points (the build failed).
fn unscored_tests(setup: &Setup) -> Vec<TestReport> {
    let mut tests = Vec::new();
    for (name, &points) in &setup.rubric.points {
        let part = labspec::parts::part_of_test(name).unwrap_or("").to_string();
        if setup.parts.contains(&part) {
            tests.push(TestReport {
                name: name.clone(),
                part,
                points: 0.0,
                max_points: points,
                bonus: setup.rubric.is_bonus(name),
                passes: 0,
                rate: report::PassRate::of(0, 0, setup.rubric.policy),
                runs: Vec::new(),
                replay: Vec::new(),
            });
        }
    }
    tests
}

/// Writes the reports, each atomically (a temporary file renamed over the old one), after every
/// process of every run is gone.
fn write_results(out: &Path, summary: &Summary) -> Result<(), String> {
    let text = report::render_text(summary);
    println!("\n{text}");
    let write = |name: &str, v: String| {
        let tmp = out.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, v)
            .and_then(|()| std::fs::rename(&tmp, out.join(name)))
            .map_err(|e| format!("cannot write {name}: {e}"))
    };
    write(
        "summary.json",
        serde_json::to_string_pretty(summary).unwrap_or_default(),
    )?;
    write(
        "results.json",
        serde_json::to_string_pretty(&report::gradescope_json(summary)).unwrap_or_default(),
    )?;
    write("report.txt", text)?;
    println!(
        "results: {}/summary.json, {}/results.json, logs in {}",
        out.display(),
        out.display(),
        out.join("logs").display()
    );
    Ok(())
}

/// Takes the target directory's grading lock, waiting for another grading to finish.
fn lock_target_dir(dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(".grading-lock");
    let file = std::fs::File::create(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    if file.try_lock().is_err() {
        println!("another grading is using {}; waiting for it", dir.display());
        file.lock()
            .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    }
    Ok(file)
}

/// Runs every test `args.runs` times, `jobs` at a time, with a progress bar; returns the runs of
/// each test, in the order of `tests`.
fn run_all(
    tests: &[TestCase],
    args: &GradeArgs,
    setup: &Setup,
    layout: &Layout,
    logs: &Path,
) -> Vec<Vec<RunResult>> {
    // Run r of every test before run r+1 of any: early runs cover every test.
    let queue: VecDeque<(usize, usize)> = (0..args.runs)
        .flat_map(|r| (0..tests.len()).map(move |t| (t, r)))
        .collect();
    let total = queue.len();
    let queue = Mutex::new(queue);
    let results: Mutex<Vec<Vec<RunResult>>> = Mutex::new(vec![Vec::new(); tests.len()]);
    let failures = Mutex::new(0usize);
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    std::thread::scope(|s| {
        for _ in 0..setup.jobs {
            s.spawn(|| {
                loop {
                    let Some((t, r)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        break;
                    };
                    let test = &tests[t];
                    let run_seed = labspec::seed::run_seed(setup.seed, &test.name, r);
                    let spec = RunSpec {
                        test: test.clone(),
                        seed: run_seed,
                        timeout: Duration::from_secs_f64(args.timeout),
                        memory_mb: args.memory_mb,
                        log: logs.join(format!("{}-seed{run_seed}.log", test.name)),
                    };
                    let result = run::run(&spec, layout, setup.protection);
                    if !result.passed {
                        let mut f = failures.lock().unwrap_or_else(|e| e.into_inner());
                        *f += 1;
                        bar.set_message(format!(
                            "({} failed; last: {} seed={run_seed})",
                            *f, test.name
                        ));
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[t].push(result);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish();
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for runs in &mut results {
        runs.sort_by_key(|r| r.seed);
    }
    results
}

/// Grades every selected mutant of the corpus and writes the table.
fn grade_mutants(args: &MutantsArgs) -> Result<(), String> {
    let started = Instant::now();
    let given = !args.parts.is_empty();
    let parts = if given {
        args.parts.clone()
    } else {
        labspec::parts::part_names().map(String::from).collect()
    };
    let setup = setup(&args.grade_args(parts))?;
    let corpus = mutants::load(&setup.pristine.join("grading").join("mutants"))?;
    if let Some(bad) = args
        .only
        .iter()
        .find(|n| !corpus.iter().any(|m| &m.name == *n))
    {
        return Err(format!("no mutant called {bad:?} in grading/mutants/"));
    }
    let chosen: Vec<_> = corpus
        .iter()
        .filter(|m| args.only.is_empty() || args.only.contains(&m.name))
        .collect();
    println!("{}", setup.protection.describe());
    println!(
        "{} mutants (seed {}, {} runs per test, {} at a time)",
        chosen.len(),
        setup.seed,
        args.runs,
        setup.jobs
    );
    let (_lock, layout) = take_work_dirs(&setup)?;
    tree::copy_tree(&setup.pristine, &layout.tree, &[&setup.out])
        .map_err(|e| format!("cannot copy the pristine tree: {e}"))?;
    let mut outcomes = Vec::new();
    for m in chosen {
        let parts = if given {
            setup.parts.clone()
        } else {
            m.lab_parts()
        };
        println!("\n== {} ({} {:?}): {}", m.name, m.part, m.kind, m.about);
        let grade = args.grade_args(parts);
        let outcome = grade_mutant(m, &grade, &args.skip_tests, &setup, &layout);
        if let Some(e) = &outcome.error {
            println!("{e}");
        }
        outcomes.push(outcome);
    }
    let _ = std::fs::remove_dir_all(layout.work());
    let table = mutants::render(&outcomes);
    println!("\n{table}");
    let write = |name: &str, text: String| {
        std::fs::write(setup.out.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))
    };
    write("mutants.txt", table)?;
    write(
        "mutants.json",
        serde_json::to_string_pretty(&outcomes).unwrap_or_default(),
    )?;
    println!(
        "table: {}, in {:.0} s",
        setup.out.join("mutants.txt").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Plants `m` in the work tree, builds and runs the tests of `grade.parts`, and takes it out.
fn grade_mutant(
    m: &mutants::Mutant,
    grade: &GradeArgs,
    skip_tests: &[String],
    setup: &Setup,
    layout: &Layout,
) -> mutants::Outcome {
    let file = layout.tree.join(&m.file);
    let pristine = match std::fs::read_to_string(setup.pristine.join(&m.file)) {
        Ok(t) => t,
        Err(e) => return mutants::Outcome::failed(m, format!("cannot read {}: {e}", m.file)),
    };
    let graded = m.apply(&pristine).and_then(|mutated| {
        std::fs::write(&file, mutated).map_err(|e| format!("cannot write {}: {e}", m.file))?;
        let release = !grade.debug;
        let bins = tree::build(
            layout,
            &grade.parts,
            Solution::Reference,
            release,
            setup.limits,
            setup.protection,
        )?;
        let mut tests =
            tree::list_tests(layout, &bins, &grade.parts, setup.limits, setup.protection)?;
        tests.retain(|t| !skip_tests.contains(&t.name));
        let logs = setup.logs.join(&m.name);
        std::fs::create_dir_all(&logs)
            .map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let runs = run_all(&tests, grade, setup, layout, &logs);
        Ok(mutants::outcome(m, &tests, &runs))
    });
    if let Err(e) = std::fs::write(&file, &pristine) {
        return mutants::Outcome::failed(m, format!("cannot restore {}: {e}", m.file));
    }
    graded.unwrap_or_else(|e| mutants::Outcome::failed(m, e))
}

/// The models `check-history` checks a history against.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum HistoryModel {
    /// Get, Put and Append on string keys (the labs' store).
    Kv,
    /// Read and write.
    Register,
    /// Read, write and compare-and-set.
    Cas,
}

/// Parses a history file: JSON when it starts like a JSON object with a key, EDN otherwise.
fn parse(text: &str) -> Result<lin::History, lin::ParseError> {
    let t = text.trim_start();
    let json = t.starts_with('{') && t[1..].trim_start().starts_with('"');
    if json {
        lin::parse_json(text)
    } else {
        lin::parse_edn(text)
    }
}

fn check_history(file: &Path, model: HistoryModel, html: Option<&Path>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let kind = match model {
        HistoryModel::Kv => return check_kv_history(file, &text, html),
        HistoryModel::Register => lin::RegisterKind::ReadWrite,
        HistoryModel::Cas => lin::RegisterKind::CompareAndSet,
    };
    if html.is_some() {
        eprintln!("error: --html draws key/value histories only");
        return ExitCode::from(2);
    }
    let history = match lin::parse_edn_register(&text, kind) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let opts = lin::CheckOptions::default();
    let result = match kind {
        lin::RegisterKind::ReadWrite => lin::check_model(&lin::RegisterModel, &history.ops, &opts),
        lin::RegisterKind::CompareAndSet => {
            lin::check_model(&lin::CasRegisterModel, &history.ops, &opts)
        }
    };
    report(&result, history.ops.len())
}

/// Prints the verdict per key and overall; the exit status says it (0 linearizable, 1 not, 2
/// undecided).
fn report(result: &lin::CheckResult, ops: usize) -> ExitCode {
    for k in &result.keys {
        println!("key {:?}: {:?} ({} steps)", k.key, k.verdict, k.steps);
    }
    println!(
        "{} operations, {} keys: {:?}",
        ops,
        result.keys.len(),
        result.verdict
    );
    match result.verdict {
        Verdict::Linearizable => ExitCode::SUCCESS,
        Verdict::NotLinearizable => ExitCode::from(1),
        Verdict::Undecided => ExitCode::from(2),
    }
}

/// Checks a key/value history (the tests' JSON, or EDN) and draws it if asked.
fn check_kv_history(file: &Path, text: &str, html: Option<&Path>) -> ExitCode {
    let history = match parse(text) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let result = lin::check(&history, &lin::CheckOptions::default());
    let status = report(&result, history.ops.len());
    if let Some(out) = html {
        if let Err(e) = std::fs::write(out, lin::render_html(&history, &result)) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::from(2);
        }
        println!("visualization: {}", out.display());
    }
    status
}
