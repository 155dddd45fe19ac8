//! Grading one submission: the set-up every grading shares, the submission's tree, lint gate,
//! build and test list, its runs (all of them, or a shard's), its scores and its reports. A class
//! grading (`class.rs`) does this for each of its submissions.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::key::{self, GradingKey};
use crate::report::{self, Summary, TestReport};
use crate::rubric::{self, Rubric};
use crate::run::{self, RunResult, RunSpec};
use crate::sandbox::{self, Protection};
use crate::shard::{self, Built, Part, Shard};
use crate::source::Source;
use crate::tree::{self, BuildLimits, Layout, Solution, TestCase};

/// The options every grading takes (one submission, a class, or the mutants).
#[derive(clap::Args, Clone)]
pub struct Options {
    /// Lab parts to grade, comma-separated (default: every part).
    #[arg(long, value_delimiter = ',', default_values_t = labspec::parts::part_names().map(String::from))]
    pub parts: Vec<String>,
    /// Runs per test, each with its own seed.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Runs at a time (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Seed from which every run's seed derives (default: a fresh one, printed; required with
    /// --shard, so that every shard draws the same seeds).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Wall-clock limit per run, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Memory limit per run, in MiB (address space).
    #[arg(long, default_value_t = 4096)]
    pub memory_mb: u64,
    /// Where the results go: summary.json, results.json, report.txt, logs/ (for a class, one
    /// folder per submission and the class files; for a shard, what the merge needs).
    #[arg(long, default_value = "grading-out")]
    pub out: PathBuf,
    /// A rubric file to use instead of grading/rubric.txt.
    #[arg(long)]
    pub rubric: Option<PathBuf>,
    /// Build the tests without optimizations (as students do; slower runs, same traces).
    #[arg(long)]
    pub debug: bool,
    /// Wall-clock limit of the lint gate, of the build and of listing the tests, each, in seconds.
    #[arg(long, default_value_t = 900.0)]
    pub build_timeout: f64,
    /// Memory limit of the build, in MiB.
    #[arg(long, default_value_t = 8192)]
    pub build_memory_mb: u64,
    /// Run without the sandbox (for machines without namespaces). The results are then NOT
    /// protected from the submission's code; the report says so in its first line.
    #[arg(long)]
    pub no_sandbox: bool,
    /// Grade only shard K of N of the work (submission, test, run), 1 <= K <= N, into a shard
    /// folder that `grading merge` puts together with the other shards' (see grading/README.md).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Skip the lint gate (only to test the sandbox's own defences with submissions that the
    /// gate would stop first).
    #[arg(long, hide = true)]
    pub skip_lint_gate: bool,
}

/// What one grading needs to know, fixed before anything of a submission runs.
pub struct Setup {
    pub pristine: PathBuf,
    pub out: PathBuf,
    pub rubric: Rubric,
    pub rubric_text: String,
    pub seed: u64,
    pub jobs: usize,
    pub parts: Vec<String>,
    pub protection: Protection,
    pub limits: BuildLimits,
    pub opts: Options,
}

/// Checks the options and the machine, and creates the output folder.
pub fn setup(opts: &Options) -> Result<Setup, String> {
    let pristine = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("cannot locate the repository")?
        .canonicalize()
        .map_err(|e| format!("cannot locate the repository: {e}"))?;
    let rubric_text = match &opts.rubric {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?
        }
        None => rubric::DEFAULT.to_string(),
    };
    let rubric = Rubric::parse(&rubric_text)?;
    let parts: Vec<String> = opts.parts.iter().map(|p| p.trim().to_lowercase()).collect();
    if let Some(bad) = parts.iter().find(|p| labspec::parts::part(p).is_none()) {
        let names: Vec<&str> = labspec::parts::part_names().collect();
        return Err(format!(
            "unknown part {bad:?}: the parts are {}",
            names.join(", ")
        ));
    }
    if opts.shard.is_some() && opts.seed.is_none() {
        return Err("--shard needs --seed: every shard must draw the same seeds".into());
    }
    let protection = if opts.no_sandbox {
        Protection::None
    } else {
        let p = Protection::Sandbox(crate::cgroup::Kind::detect());
        sandbox::self_test(p)?;
        p
    };
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let out = opts
        .out
        .canonicalize()
        .map_err(|e| format!("{}: {e}", opts.out.display()))?;
    Ok(Setup {
        pristine,
        out,
        rubric,
        rubric_text,
        seed: opts.seed.unwrap_or_else(labspec::seed::fresh_seed),
        jobs: opts
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1),
        parts,
        protection,
        limits: BuildLimits {
            timeout: Duration::from_secs_f64(opts.build_timeout),
            memory_mb: opts.build_memory_mb,
        },
        opts: opts.clone(),
    })
}

impl Setup {
    /// The key of this grading of `solution`.
    pub fn key(&self, solution: Solution) -> Result<GradingKey, String> {
        Ok(GradingKey {
            seed: self.seed,
            runs: self.opts.runs,
            parts: self.parts.clone(),
            solution,
            timeout_s: self.opts.timeout,
            memory_mb: self.opts.memory_mb,
            profile: if self.opts.debug { "debug" } else { "release" }.into(),
            build_timeout_s: self.opts.build_timeout,
            build_memory_mb: self.opts.build_memory_mb,
            rustc: key::rustc_version(),
            protection: self.protection.describe(),
            rubric: key::sha256(self.rubric_text.as_bytes()),
            tree: key::tree_hash(&self.pristine)?,
        })
    }
}

/// Takes this grading's folders in the target directory (see `Layout`), emptied; returns them
/// with the lock that keeps other gradings out until it is dropped.
pub fn take_work_dirs(setup: &Setup) -> Result<(std::fs::File, Layout), String> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || setup.pristine.join("target").join("grading"),
        PathBuf::from,
    );
    let target_dir =
        std::path::absolute(&target_dir).map_err(|e| format!("{}: {e}", target_dir.display()))?;
    // Cargo names a workspace's artifacts the same wherever the workspace lives, and judges them
    // fresh by file times: two gradings sharing a target directory would use each other's builds.
    // So one grading at a time, and the tree is copied (fresh file times) only once it is ours.
    // Within a grading, the submissions of a class build one after another in the same target
    // folder: the dependencies build once, then only the student crates and the tests.
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

/// A submission's output folder, created, without a previous grading's summary (a grading cut
/// short is then never taken for done) and with its logs folder emptied; returns the logs folder.
pub fn fresh_dest(dest: &Path) -> Result<PathBuf, String> {
    let logs = dest.join("logs");
    let _ = std::fs::remove_file(dest.join("summary.json"));
    let _ = std::fs::remove_file(dest.join(shard::PART));
    let _ = std::fs::remove_dir_all(&logs);
    let _ = std::fs::remove_dir_all(dest.join("tree"));
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    Ok(logs)
}

/// A submission's student files, taken into the staging folder once (`take`): what resuming
/// compares and what is built.
#[derive(Debug, Clone)]
pub struct Taken {
    /// Why the files could not be taken (the submission scores 0), if so.
    pub refused: Option<String>,
    /// SHA-256 of the student files taken ("" when refused).
    pub files: String,
}

/// Where a submission's student files are taken to.
fn staging(layout: &Layout) -> PathBuf {
    layout.work().join("submission")
}

/// Takes a submission's student files into this grading's staging folder; `Err` is the grader's
/// own trouble.
pub fn take(source: &Source, layout: &Layout) -> Result<Taken, String> {
    let staging = staging(layout);
    Ok(match source.materialize(&staging)? {
        Ok(()) => Taken {
            refused: None,
            files: key::files_hash(&staging),
        },
        Err(why) => Taken {
            refused: Some(why),
            files: String::new(),
        },
    })
}

/// What a grading compiles as the student files.
#[derive(Debug, Clone, Copy)]
pub enum What<'a> {
    /// One of this repository's own solutions.
    Own(Solution),
    /// A submission, its files taken (see `take`).
    Submission(&'a Taken),
}

impl What<'_> {
    pub fn solution(self) -> Solution {
        match self {
            What::Own(s) => s,
            What::Submission(_) => Solution::Student,
        }
    }
}

/// Builds one submission's tree: returns its build, and the hash of its student files.
pub fn build(what: What, setup: &Setup, layout: &Layout) -> Result<(Built, String), String> {
    let refused = |output: String| Built {
        ok: false,
        output,
        tests: Vec::new(),
    };
    let (notes, files) = match what {
        What::Own(_) => {
            let _ = std::fs::remove_dir_all(&layout.tree);
            tree::copy_tree(&setup.pristine, &layout.tree, &[&setup.out])
                .map_err(|e| format!("cannot copy the pristine tree: {e}"))?;
            (Vec::new(), String::new())
        }
        What::Submission(taken) => {
            if let Some(why) = &taken.refused {
                return Ok((refused(format!("SUBMISSION REFUSED: {why}")), String::new()));
            }
            let files = taken.files.clone();
            // The student tree is written once per grading; each submission changes only its
            // student files in it (a refused one changes none).
            let base = layout.work().join("skeleton");
            if !base.is_dir() {
                tree::prepare_student_tree(&setup.pristine, &layout.tree, &base)?;
            }
            match tree::put_student_files(&staging(layout), &layout.tree, &base)? {
                Ok(notes) => (notes, files),
                Err(why) => {
                    return Ok((refused(format!("SUBMISSION REFUSED: {why}")), files));
                }
            }
        }
    };
    let built = match lint_build_list(what.solution(), setup, layout) {
        Ok(tests) => Built {
            ok: true,
            output: notes.join("\n"),
            tests,
        },
        Err(why) => refused(why),
    };
    Ok((built, files))
}

/// The lint gate, the build and the test list of the tree; `Err` is why the submission scores 0.
fn lint_build_list(
    solution: Solution,
    setup: &Setup,
    layout: &Layout,
) -> Result<Vec<TestCase>, String> {
    if solution == Solution::Student {
        tree::forget_student_builds(layout)?;
    }
    if setup.opts.skip_lint_gate {
        println!("lint gate skipped (--skip-lint-gate)");
    } else {
        let violations = tree::lint_gate(layout, solution, setup.limits, setup.protection)?;
        if !violations.is_empty() {
            return Err(format!(
                "LINT GATE: the student files use what graded code may not (score 0):\n{}",
                violations.join("\n")
            ));
        }
    }
    let bins = tree::build(
        layout,
        &setup.parts,
        solution,
        !setup.opts.debug,
        setup.limits,
        setup.protection,
    )?;
    let tests = tree::list_tests(layout, &bins, &setup.parts, setup.limits, setup.protection)?;
    if tests.is_empty() {
        return Err(format!("no graded tests for the parts {:?}", setup.parts));
    }
    Ok(tests)
}

/// Builds and runs one submission (at `position` in a class of `class`): the whole of it, or the
/// runs of `setup`'s shard.
pub fn grade_one(
    what: What,
    submission: &str,
    (position, class): (usize, usize),
    setup: &Setup,
    layout: &Layout,
    logs: &Path,
    progress: &Progress,
) -> Result<Part, String> {
    let started = Instant::now();
    let (built, files) = build(what, setup, layout)?;
    let build_time_s = started.elapsed().as_secs_f64();
    let work = match built.ok {
        true => shard::work(
            built.tests.len(),
            setup.opts.runs,
            (position, class),
            setup.opts.shard,
        ),
        false => Vec::new(),
    };
    progress.start(work.len());
    let runs = run_work(&built.tests, &work, setup, layout, logs, progress);
    Ok(Part {
        submission: submission.to_string(),
        files,
        built,
        runs,
        build_time_s,
        wall_time_s: started.elapsed().as_secs_f64(),
    })
}

/// One progress bar over every run of a grading, whatever the number of submissions.
pub struct Progress {
    bar: ProgressBar,
    failures: Mutex<usize>,
    /// Runs the bar counts for the submission being graded before its build tells the real
    /// number (a class grading's estimate).
    estimate: u64,
}

impl Progress {
    /// A bar for `submissions` submissions of about `runs_each` runs each.
    pub fn new(submissions: usize, runs_each: usize) -> Progress {
        let bar = ProgressBar::new((submissions * runs_each) as u64);
        let template = if submissions > 1 {
            "{elapsed_precise} [{bar:40}] {pos}/{len} runs, {prefix}, ETA {eta} {msg}"
        } else {
            "{elapsed_precise} [{bar:40}] {pos}/{len} runs {msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Progress {
            bar,
            failures: Mutex::new(0),
            estimate: runs_each as u64,
        }
    }

    /// Says which submission is being graded.
    pub fn submission(&self, done: usize, of: usize, name: &str) {
        self.bar
            .set_prefix(format!("{done}/{of} submissions done (now {name})"));
    }

    /// The submission being graded has `runs` runs (its estimate is replaced by them).
    pub fn start(&self, runs: usize) {
        let len = self.bar.length().unwrap_or(0);
        self.bar
            .set_length((len + runs as u64).saturating_sub(self.estimate));
    }

    /// A submission was skipped (already graded): its estimate goes.
    pub fn skipped(&self) {
        self.start(0);
    }

    fn ran(&self, result: &RunResult, test: &str) {
        if !result.passed {
            let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            *f += 1;
            self.bar.set_message(format!(
                "({} failed; last: {test} seed={})",
                *f, result.seed
            ));
        }
        self.bar.inc(1);
    }

    /// Prints a line above the bar (or alone, when there is no terminal to draw it on).
    pub fn say(&self, line: &str) {
        self.bar.suspend(|| println!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish();
    }
}

/// Runs the (test, run) pairs of `work`, `jobs` at a time; returns the runs of each test, in the
/// order of `tests`, sorted by seed.
pub fn run_work(
    tests: &[TestCase],
    work: &[(usize, usize)],
    setup: &Setup,
    layout: &Layout,
    logs: &Path,
    progress: &Progress,
) -> Vec<Vec<RunResult>> {
    let queue = Mutex::new(work.iter().copied());
    let results: Mutex<Vec<Vec<RunResult>>> = Mutex::new(vec![Vec::new(); tests.len()]);
    std::thread::scope(|s| {
        for _ in 0..setup.jobs {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((t, r)) = next else {
                        break;
                    };
                    let test = &tests[t];
                    let run_seed = labspec::seed::run_seed(setup.seed, &test.name, r);
                    let spec = RunSpec {
                        test: test.clone(),
                        seed: run_seed,
                        timeout: Duration::from_secs_f64(setup.opts.timeout),
                        memory_mb: setup.opts.memory_mb,
                        log: logs.join(format!("{}-seed{run_seed}.log", test.name)),
                    };
                    let result = run::run(&spec, layout, setup.protection);
                    progress.ran(&result, &test.name);
                    results.lock().unwrap_or_else(|e| e.into_inner())[t].push(result);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for runs in &mut results {
        runs.sort_by_key(|r| r.seed);
    }
    results
}

/// Scores a submission's runs (all of them: unsharded, or merged) by the rubric.
pub fn summarize(part: Part, key: &GradingKey, rubric: &Rubric) -> Summary {
    let tests = if part.built.ok {
        part.built
            .tests
            .iter()
            .zip(part.runs)
            .map(|(t, runs)| report::test_report(t, runs, rubric, key.solution))
            .collect()
    } else {
        unscored_tests(rubric, &key.parts)
    };
    let score = tests.iter().map(|t| t.points).sum();
    let max_score = report::max_score(&tests);
    Summary {
        submission: part.submission,
        protection: key.protection.clone(),
        seed: key.seed,
        runs_per_test: key.runs,
        policy: rubric.policy,
        parts: key.parts.clone(),
        build_ok: part.built.ok,
        build_output: part.built.output,
        score,
        max_score,
        wall_time_s: part.wall_time_s,
        build_time_s: part.build_time_s,
        tests,
        files: part.files,
        key: key.clone(),
    }
}

/// Every graded test of `parts`, with no runs and no points (the build failed).
fn unscored_tests(rubric: &Rubric, parts: &[String]) -> Vec<TestReport> {
    let mut tests = Vec::new();
    for (name, &points) in &rubric.points {
        let part = labspec::parts::part_of_test(name).unwrap_or("").to_string();
        if parts.contains(&part) {
            tests.push(TestReport {
                name: name.clone(),
                part,
                points: 0.0,
                max_points: points,
                bonus: rubric.is_bonus(name),
                passes: 0,
                rate: report::PassRate::of(0, 0, rubric.policy),
                runs: Vec::new(),
                replay: Vec::new(),
            });
        }
    }
    tests
}

/// How much `write_results` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The report and where the files are (one submission).
    Report,
    /// Nothing (a class grading has its own report).
    Quiet,
}

/// Writes a submission's reports into `dest`, each atomically, after every process of every run
/// is gone.
pub fn write_results(dest: &Path, summary: &Summary, echo: Echo) -> Result<(), String> {
    let text = report::render_text(summary);
    shard::write_atomic(
        &dest.join("results.json"),
        &pretty(&report::gradescope_json(summary)),
    )?;
    shard::write_atomic(&dest.join("report.txt"), &text)?;
    // Last: a class grading that finds it takes the submission as graded.
    shard::write_atomic(&dest.join("summary.json"), &pretty(summary))?;
    if echo == Echo::Report {
        println!("\n{text}");
        println!(
            "results: {}/summary.json, {}/results.json, logs in {}",
            dest.display(),
            dest.display(),
            dest.join("logs").display()
        );
    }
    Ok(())
}

/// Pretty JSON of what the grader writes (always serializable).
pub fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
