//! What a grading produced: per-test results, the terminal table, summary.json and Gradescope's
//! results.json.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::rubric::{Policy, Rubric};
use crate::run::RunResult;
use crate::stats;
use crate::tree::{Solution, TestCase};

/// One test's runs and what they earn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestReport {
    pub name: String,
    pub part: String,
    pub points: f64,
    pub max_points: f64,
    /// Extra credit: its points count towards the score, not towards the maximum.
    pub bonus: bool,
    pub passes: usize,
    /// The pass rate with its 95% interval (flattened into the test's JSON).
    #[serde(flatten)]
    pub rate: PassRate,
    pub runs: Vec<RunResult>,
    /// The command that replays a failing run on the student's machine, per failing seed.
    pub replay: Vec<String>,
}

/// A test's pass rate and its 95% Wilson interval: the range of per-run pass probabilities its
/// runs are consistent with; it tells how much the runs say, not only what they scored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PassRate {
    /// Passes / runs (0 without runs).
    pub pass_rate: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Under `policy fraction f`: whether `ci95_low >= f`. A test can earn its points with an
    /// interval reaching below f (too few runs to be sure); the scoring does not look at this.
    pub ci95_low_clears_fraction: Option<bool>,
}

impl PassRate {
    /// The rate of `passes` out of `runs`, and under `policy fraction` whether its interval clears
    /// the fraction.
    pub fn of(passes: usize, runs: usize, policy: Policy) -> PassRate {
        let (ci95_low, ci95_high) = stats::wilson95(passes, runs);
        PassRate {
            pass_rate: if runs == 0 {
                0.0
            } else {
                passes as f64 / runs as f64
            },
            ci95_low,
            ci95_high,
            ci95_low_clears_fraction: match policy {
                Policy::All => None,
                Policy::Fraction(f) => Some(ci95_low >= f),
            },
        }
    }
}

/// The whole grading.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub submission: String,
    /// How the runs were protected (the report's first line).
    pub protection: String,
    pub seed: u64,
    pub runs_per_test: usize,
    /// The rubric's pass policy (the reports say whether each interval clears its fraction).
    pub policy: Policy,
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
    /// SHA-256 of the student files graded ("" for this repository's own solutions).
    pub files: String,
    /// What the results depend on besides the files: a class grading skips a submission whose
    /// summary has the same key and files.
    pub key: crate::key::GradingKey,
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
        rate: PassRate::of(passes, runs.len(), rubric.policy),
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

/// `x` (a fraction) in whole percent, rounded down or up: an interval shown as `[72-100]` never
/// looks narrower than it is.
fn percent(x: f64, up: bool) -> u64 {
    let p = x * 100.0;
    match up {
        true => (p - 1e-9).ceil() as u64,
        false => (p + 1e-9).floor() as u64,
    }
}

/// A pass rate with its 95% interval, e.g. `90% [60-99]` (`-` without runs).
fn rate_text(t: &TestReport) -> String {
    if t.runs.is_empty() {
        return "-".into();
    }
    format!(
        "{}% [{}-{}]",
        t.passes * 100 / t.runs.len(),
        percent(t.rate.ci95_low, false),
        percent(t.rate.ci95_high, true)
    )
}

/// The table's pass-rate cell: the rate and interval, and under `policy fraction` whether the
/// interval's lower bound clears the fraction (`ok`) or not (`LOW`).
fn rate_cell(t: &TestReport) -> String {
    let mark = match t.rate.ci95_low_clears_fraction {
        _ if t.runs.is_empty() => "",
        None => "",
        Some(true) => " ok",
        Some(false) => " LOW",
    };
    format!("{}{mark}", rate_text(t))
}

/// What the `ok`/`LOW` marks mean, under `policy fraction f` (empty under `policy all`).
fn fraction_legend(policy: Policy) -> String {
    match policy {
        Policy::All => String::new(),
        Policy::Fraction(f) => format!(
            "Policy fraction {f}: a test earns its points when at least {f} of its runs pass.\n\
             Pass rate `ok`: its 95% interval lies at or above {f}; `LOW`: the interval reaches below {f},\n\
             so its runs cannot tell whether it meets the fraction (more runs can; the points do not\n\
             depend on this).\n\n"
        ),
    }
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
    out.push_str(&fraction_legend(s.policy));
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
            "  {:<62} {:>7} {:>18} {:>13} {:>13} {:>9}",
            "test", "passed", "pass rate (95% CI)", "virt mean/max", "wall mean/max", "points"
        );
        for t in &tests {
            let (vm, vx) = stats(t.runs.iter().filter_map(|r| r.virtual_s));
            let (wm, wx) = stats(t.runs.iter().map(|r| r.wall_s));
            let _ = writeln!(
                out,
                "  {:<62} {:>7} {:>18} {:>13} {:>13} {:>9}",
                t.name,
                format!("{}/{}", t.passes, t.runs.len()),
                rate_cell(t),
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
    out.push_str(&runs_note(s.runs_per_test));
    out
}

/// What the number of runs can tell: the failure rate it catches 95% of the time, and the runs
/// that 5% and 1% rates need (grading/README.md, "Choosing `--runs`").
fn runs_note(runs: usize) -> String {
    let need = |p: f64| stats::runs_to_detect(p).unwrap_or(0);
    format!(
        "{runs} runs per test catch, 95% of the time, a bug that fails {:.0}% of runs or more; \
         a 5% bug needs {} runs, a 1% bug {}.\n",
        stats::detectable_rate(runs) * 100.0,
        need(0.05),
        need(0.01)
    )
}

/// Gradescope's autograder results format.
pub fn gradescope_json(s: &Summary) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = s
        .tests
        .iter()
        .map(|t| {
            let mut output = format!("passed {}/{} runs", t.passes, t.runs.len());
            if !t.runs.is_empty() {
                let _ = write!(output, ": {}", rate_text(t).replace(" [", ", 95% interval ["));
                if let (Some(clears), Policy::Fraction(f)) =
                    (t.rate.ci95_low_clears_fraction, s.policy)
                {
                    let side = if clears { "at or above" } else { "below" };
                    let _ = write!(output, "; its lower bound is {side} the policy's fraction {f}");
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A grading of one test worth 2 points: `passes` of `runs` passing, under `rubric`.
    fn graded(passes: usize, runs: usize, rubric: &str) -> Summary {
        let rubric = Rubric::parse(rubric).unwrap();
        let t = TestCase {
            name: "foo_2a".into(),
            part: "2a".into(),
            target: "raft_2a".into(),
            exe: "raft_2a".into(),
        };
        let results = (0..runs)
            .map(|i| RunResult {
                seed: i as u64,
                passed: i < passes,
                reason: None,
                virtual_s: Some(1.0),
                wall_s: 0.5,
                log: "log".into(),
                limit: None,
            })
            .collect();
        let test = test_report(&t, results, &rubric, Solution::Student);
        Summary {
            submission: "s".into(),
            protection: "protected".into(),
            seed: 1,
            runs_per_test: runs,
            policy: rubric.policy,
            parts: vec!["2a".into()],
            build_ok: true,
            build_output: String::new(),
            score: test.points,
            max_score: test.max_points,
            wall_time_s: 1.0,
            build_time_s: 0.5,
            tests: vec![test],
            files: String::new(),
            key: crate::key::GradingKey {
                seed: 1,
                runs,
                parts: vec!["2a".into()],
                solution: Solution::Student,
                timeout_s: 60.0,
                memory_mb: 4096,
                profile: "release".into(),
                build_timeout_s: 900.0,
                build_memory_mb: 8192,
                rustc: String::new(),
                protection: "protected".into(),
                rubric: String::new(),
                tree: String::new(),
            },
        }
    }

    #[test]
    fn pass_rate_in_every_report() {
        let s = graded(10, 10, "foo_2a 2\n");
        let text = render_text(&s);
        assert!(text.contains("pass rate (95% CI)") && text.contains(" 100% [72-100] "));
        assert!(text.contains("10 runs per test catch, 95% of the time, a bug that fails 26%"));
        assert!(text.contains("a 5% bug needs 59 runs, a 1% bug 299."));
        assert!(text.lines().all(|l| l.len() <= 130), "{text}");
        let json = serde_json::to_value(&s).unwrap();
        let t = &json["tests"][0];
        assert_eq!(t["pass_rate"], 1.0);
        assert_eq!(t["ci95_high"], 1.0);
        assert!((t["ci95_low"].as_f64().unwrap() - 0.72247).abs() < 1e-5);
        assert_eq!(t["ci95_low_clears_fraction"], serde_json::Value::Null);
        let gs = gradescope_json(&s);
        let out = gs["tests"][0]["output"].as_str().unwrap();
        assert_eq!(out, "passed 10/10 runs: 100%, 95% interval [72-100]");
    }

    #[test]
    fn fraction_policy_says_whether_the_interval_clears_it() {
        // 9 of 10 earn the points under fraction 0.9, yet the interval reaches down to 59%.
        let s = graded(9, 10, "policy fraction 0.9\nfoo_2a 2\n");
        assert_eq!(s.score, 2.0);
        let text = render_text(&s);
        assert!(text.contains("90% [59-99] LOW") && text.contains("Policy fraction 0.9"));
        assert!(text.lines().all(|l| l.len() <= 130), "{text}");
        assert_eq!(s.tests[0].rate.ci95_low_clears_fraction, Some(false));
        let out = gradescope_json(&s)["tests"][0]["output"].clone();
        assert!(
            out.as_str()
                .unwrap()
                .contains("below the policy's fraction 0.9")
        );
        // 100 of 100 clear 0.9; 0 runs say nothing.
        let s = graded(100, 100, "policy fraction 0.9\nfoo_2a 2\n");
        assert!(render_text(&s).contains("100% [96-100] ok"));
        let s = graded(0, 0, "policy fraction 0.9\nfoo_2a 2\n");
        assert_eq!(s.tests[0].rate.pass_rate, 0.0);
        assert!(render_text(&s).contains("       - "));
        assert_eq!(gradescope_json(&s)["tests"][0]["output"], "passed 0/0 runs");
    }
}
