//! The instructors' tool (it runs outside the simulation, so it may use threads and real time).
//!
//! - `grading grade [--submission DIR|ARCHIVE] [--parts 2a,2b,...] [--runs N] [--jobs J]
//!   [--seed S] [--timeout SECS] [--out DIR] [--shard K/N]`: grades a submission (without one,
//!   this tree with the reference solutions); see grading/README.md.
//! - `grading grade-class DIR [same options] [--fresh]`: grades every submission in DIR (folders
//!   or archives), with a CSV, a JSON summary and a report for the class.
//! - `grading merge --out OUT SHARD...`: puts the outputs of `--shard K/N` gradings together.
//! - `grading check-history FILE [--html OUT]`: decides whether a key/value history (the JSON the
//!   KV tests write, or Jepsen EDN) is linearizable. Exit status 0 linearizable, 1 not, 2
//!   undecided or bad input.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod cgroup;
mod class;
mod grade;
mod key;
mod merge;
mod mutants;
mod report;
mod rubric;
mod run;
mod sandbox;
mod shard;
mod source;
mod stats;
mod tree;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use lincheck::{self as lin, Verdict};

use grade::{Echo, Options, Progress, Setup, What};
use shard::Manifest;
use source::Source;
use tree::{Layout, Solution};

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
    /// Grade a class: every submission in a folder (its subfolders, and its .tar.gz, .tgz and
    /// .zip archives), with a CSV, a JSON summary and a report for the class.
    GradeClass(ClassArgs),
    /// Put the output folders of the shards of one grading (`--shard K/N`) together, into what
    /// the unsharded grading writes.
    Merge {
        /// Where the merged results go.
        #[arg(long)]
        out: PathBuf,
        /// The shards' output folders, every shard 1..N once.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
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
    /// The student's tree (a handout copy or a copy of this repository, or an archive of one:
    /// .tar.gz, .tgz, .zip); only the student files are taken from it. Without it, this tree is
    /// graded with the reference solutions.
    #[arg(long, conflicts_with = "solution")]
    submission: Option<PathBuf>,
    /// Without a submission: which of this repository's solutions to grade (the second,
    /// independent one checks that the tests do not punish a design unlike the reference's).
    #[arg(long, value_enum, default_value = "reference")]
    solution: Solution,
    #[command(flatten)]
    opts: Options,
}

#[derive(clap::Args, Clone)]
struct ClassArgs {
    /// The class folder: one subfolder or archive per submission.
    dir: PathBuf,
    /// Grade again the submissions already graded (by default a submission whose output folder
    /// holds a grading with the same seed, runs, parts, limits, rubric, tree and student files is
    /// kept).
    #[arg(long)]
    fresh: bool,
    #[command(flatten)]
    opts: Options,
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
    fn options(&self, parts: Vec<String>) -> Options {
        Options {
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
            shard: None,
            skip_lint_gate: true,
        }
    }
}

fn main() -> ExitCode {
    let done = match Cli::parse().command {
        Command::Mutants(args) => grade_mutants(&args),
        Command::CheckHistory { file, model, html } => {
            return check_history(&file, model, html.as_deref());
        }
        Command::SandboxExec { spec } => {
            return ExitCode::from(u8::try_from(sandbox::jail_main(&spec)).unwrap_or(125));
        }
        Command::Grade(args) => grade(&args),
        Command::GradeClass(args) => class::grade_class(&args.dir, args.fresh, &args.opts),
        Command::Merge { out, shards } => merge::merge(&out, &shards),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Grades one submission (or one of this repository's solutions): prepares and builds the tree,
/// runs every test (or a shard's share), and writes the reports (or the shard's part).
fn grade(args: &GradeArgs) -> Result<(), String> {
    let setup = grade::setup(&args.opts)?;
    let source = args.submission.as_deref().map(Source::at).transpose()?;
    let solution = match source {
        Some(_) => Solution::Student,
        None => args.solution,
    };
    let name = match &args.submission {
        Some(s) => s.display().to_string(),
        None => args.solution.feature().unwrap_or("student").to_string(),
    };
    println!("{}", setup.protection.describe());
    println!(
        "grading {} (seed {}, {} runs per test, {} at a time{})",
        match &args.submission {
            Some(_) => name.clone(),
            None => format!("the {name} solutions"),
        },
        setup.seed,
        setup.opts.runs,
        setup.jobs,
        setup.opts.shard.map_or(String::new(), |s| format!(
            ", shard {}/{}",
            s.index, s.count
        ))
    );
    let key = setup.key(solution)?;
    let _ = std::fs::remove_file(setup.out.join(shard::MANIFEST));
    let (_lock, layout) = grade::take_work_dirs(&setup)?;
    let logs = grade::fresh_dest(&setup.out)?;
    let taken = source.map(|s| grade::take(&s, &layout)).transpose()?;
    let what = taken
        .as_ref()
        .map_or(What::Own(args.solution), What::Submission);
    println!("checking the student files (lint gate) and building ...");
    let progress = Progress::new(1, 0);
    let part = grade::grade_one(what, &name, (0, 1), &setup, &layout, &logs, &progress);
    progress.finish();
    let _ = std::fs::remove_dir_all(layout.work());
    class::write_part(&setup.out, part?, &key, (0, 1), &setup, Echo::Report)?;
    let Some(shard) = setup.opts.shard else {
        return Ok(());
    };
    let m = Manifest::new(
        shard,
        key,
        setup.rubric_text.clone(),
        false,
        vec![String::new()],
        Vec::new(),
    );
    shard::write_manifest(&setup.out, &m)
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
    let setup = grade::setup(&args.options(parts))?;
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
    let (_lock, layout) = grade::take_work_dirs(&setup)?;
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
        let outcome = grade_mutant(m, &parts, &args.skip_tests, &setup, &layout);
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
    write("mutants.json", grade::pretty(&outcomes))?;
    println!(
        "table: {}, in {:.0} s",
        setup.out.join("mutants.txt").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Plants `m` in the work tree, builds and runs the tests of `parts`, and takes it out.
fn grade_mutant(
    m: &mutants::Mutant,
    parts: &[String],
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
        let release = !setup.opts.debug;
        let bins = tree::build(
            layout,
            parts,
            Solution::Reference,
            release,
            setup.limits,
            setup.protection,
        )?;
        let mut tests = tree::list_tests(layout, &bins, parts, setup.limits, setup.protection)?;
        tests.retain(|t| !skip_tests.contains(&t.name));
        let logs = setup.out.join("logs").join(&m.name);
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs)
            .map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let work = shard::work(tests.len(), setup.opts.runs, (0, 1), None);
        let progress = Progress::new(1, 0);
        progress.start(work.len());
        let runs = grade::run_work(&tests, &work, setup, layout, &logs, &progress);
        progress.finish();
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
