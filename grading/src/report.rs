//! What a grading produced: per-test results, the terminal table, summary.json and Gradescope's
//! results.json.

use std::fmt::Write as _;

use serde::Serialize;

use crate::rubric::Rubric;
use crate::run::RunResult;
use crate::tree::{Solution, TestCase};

/// One test's runs and what they earn.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub name: String,
    pub part: String,
    pub points: f64,
    pub max_points: f64,
    /// Extra credit: its points count towards the score, not towards the maximum.
    pub bonus: bool,
    pub passes: usize,
    pub runs: Vec<RunResult>,
    /// The command that replays a failing run on the student's machine, per failing seed.
    pub replay: Vec<String>,
}

/// The whole grading.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub submission: String,
    /// How the runs were protected (the report's first line).
    pub protection: String,
    pub seed: u64,
    pub runs_per_test: usize,
    pub parts: Vec<String>,
    pub build_ok: bool,
    /// Compiler errors when the build failed; notes about the submission otherwise.
    pub build_output: String,
    pub score: f64,
    pub max_score: f64,
    pub wall_time_s: f64,
    /// Of which the set-up, the lint gate, the build and the listing.
    pub build_time_s: f64,
    pub tests: Vec<TestReport>,
}

/// The command a student runs to replay one failing run.
pub fn replay_command(t: &TestCase, seed: u64, solution: Solution) -> String {
    labspec::Replay {
        check_determinism: false,
        seed,
        package: None,
        release: false,
        cargo_flags: solution
            .feature()
            .map_or(String::new(), |f| format!("--features {f}")),
        target: labspec::ReplayTarget::Test(t.target.clone()),
        test: t.name.clone(),
    }
    .to_string()
}

/// Collects one test's runs into its report.
pub fn test_report(
    t: &TestCase,
    runs: Vec<RunResult>,
    rubric: &Rubric,
    solution: Solution,
) -> TestReport {
    let passes = runs.iter().filter(|r| r.passed).count();
    let max_points = rubric.max_points(&t.name);
    let points = if rubric.earns(passes, runs.len()) {
        max_points
    } else {
        0.0
    };
    let replay = runs
        .iter()
        .filter(|r| !r.passed)
        .map(|r| replay_command(t, r.seed, solution))
        .collect();
    TestReport {
        name: t.name.clone(),
        part: t.part.clone(),
        points,
        max_points,
        bonus: rubric.is_bonus(&t.name),
        passes,
        runs,
        replay,
    }
}

/// The most a grading can score: every test's points but the extra credit.
pub fn max_score(tests: &[TestReport]) -> f64 {
    tests
        .iter()
        .filter(|t| !t.bonus)
        .map(|t| t.max_points)
        .sum()
}

/// `, +10 bonus` when some of `tests` are extra credit: the bonus points they earned (a part's
/// line shows them beside its points; the score line, which includes them, says "including").
fn bonus_note<'a>(tests: impl Iterator<Item = &'a TestReport>) -> String {
    let bonus: Vec<f64> = tests.filter(|t| t.bonus).map(|t| t.points).collect();
    match bonus.is_empty() {
        true => String::new(),
        false => format!(", +{} bonus", bonus.iter().sum::<f64>()),
    }
}

/// A test's points for the table: `3/4`, or `3/4 bonus` for extra credit.
fn points_cell(t: &TestReport) -> String {
    let bonus = if t.bonus { " bonus" } else { "" };
    format!("{}/{}{bonus}", t.points, t.max_points)
}

fn stats(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = xs.collect();
    if v.is_empty() {
        return (0.0, 0.0);
    }
    (
        v.iter().sum::<f64>() / v.len() as f64,
        v.iter().copied().fold(0.0, f64::max),
    )
}

/// What a failing run says, in one line for the table.
fn first_line(r: &RunResult) -> &str {
    r.reason
        .as_deref()
        .and_then(|s| s.lines().next())
        .unwrap_or("failed")
}

/// The human-readable report: a table per part, then every failure with its replay command.
pub fn render_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.protection);
    if !s.build_ok {
        let _ = writeln!(out, "BUILD FAILED: score 0\n{}\n", s.build_output);
    } else if !s.build_output.is_empty() {
        let _ = writeln!(out, "{}\n", s.build_output);
    }
    for part in &s.parts {
        let tests: Vec<&TestReport> = s.tests.iter().filter(|t| &t.part == part).collect();
        if tests.is_empty() {
            continue;
        }
        let got: f64 = tests.iter().filter(|t| !t.bonus).map(|t| t.points).sum();
        let max: f64 = tests
            .iter()
            .filter(|t| !t.bonus)
            .map(|t| t.max_points)
            .sum();
        let extra = bonus_note(tests.iter().copied());
        let _ = writeln!(
            out,
            "Part {} ({got}/{max} points{extra})",
            part.to_uppercase()
        );
        let _ = writeln!(
            out,
            "  {:<62} {:>7} {:>17} {:>17} {:>9}",
            "test", "passed", "virtual mean/max", "wall mean/max", "points"
        );
        for t in &tests {
            let (vm, vx) = stats(t.runs.iter().filter_map(|r| r.virtual_s));
            let (wm, wx) = stats(t.runs.iter().map(|r| r.wall_s));
            let _ = writeln!(
                out,
                "  {:<62} {:>7} {:>17} {:>17} {:>9}",
                t.name,
                format!("{}/{}", t.passes, t.runs.len()),
                format!("{vm:.1}s/{vx:.1}s"),
                format!("{wm:.2}s/{wx:.2}s"),
                points_cell(t)
            );
        }
        for t in &tests {
            for (r, replay) in t.runs.iter().filter(|r| !r.passed).zip(&t.replay) {
                let _ = writeln!(
                    out,
                    "  FAILED {} seed={}: {}",
                    t.name,
                    r.seed,
                    first_line(r)
                );
                let _ = writeln!(out, "    replay: {replay}");
                let _ = writeln!(out, "    log:    {}", r.log.display());
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Score: {}/{}{} ({} runs per test, seed {}, {:.0}s: {:.0}s to build, {:.0}s of runs)",
        s.score,
        s.max_score,
        bonus_note(s.tests.iter()).replace(", +", ", including "),
        s.runs_per_test,
        s.seed,
        s.wall_time_s,
        s.build_time_s,
        s.wall_time_s - s.build_time_s
    );
    out
}

/// Gradescope's autograder results format.
pub fn gradescope_json(s: &Summary) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = s
        .tests
        .iter()
        .map(|t| {
            let mut output = format!("passed {}/{} runs", t.passes, t.runs.len());
            for (r, replay) in t.runs.iter().filter(|r| !r.passed).zip(&t.replay) {
                let _ = write!(
                    output,
                    "\n\nseed {}: {}\nreplay: {replay}",
                    r.seed,
                    r.reason.as_deref().unwrap_or("failed")
                );
            }
            // Gradescope counts a score above a test's maximum as extra credit.
            let (name, max) = match t.bonus {
                true => (format!("{} ({}, bonus)", t.name, t.part.to_uppercase()), 0.0),
                false => (format!("{} ({})", t.name, t.part.to_uppercase()), t.max_points),
            };
            serde_json::json!({
                "name": name,
                "score": t.points,
                "max_score": max,
                "status": if t.passes == t.runs.len() && !t.runs.is_empty() { "passed" } else { "failed" },
                "output": output,
                "visibility": "visible",
            })
        })
        .collect();
    serde_json::json!({
        "score": s.score,
        "max_score": s.max_score,
        "execution_time": s.wall_time_s.round() as u64,
        "output": if s.build_ok {
            format!("{}\n{} runs per test, seed {}", s.protection, s.runs_per_test, s.seed)
        } else {
            format!("{}\nThe build failed:\n{}", s.protection, s.build_output)
        },
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": tests,
    })
}
