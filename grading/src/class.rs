//! Grading a class: every submission of a folder, one after another in one target folder (the
//! dependencies build once), each in its own tree and sandbox, with one progress bar; then the
//! class's CSV, JSON summary and report. A submission already graded with the same key and files
//! is skipped, so an interrupted grading picks up where it stopped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::grade::{self, Echo, Options, Progress, Setup, Taken, What};
use crate::key::GradingKey;
use crate::report::{Summary, TestReport};
use crate::run::Limit;
use crate::shard::{self, Built, Manifest, Part};
use crate::source;
use crate::tree::{GRADER_ERROR, Solution};

/// The class files, in the output folder beside the submissions' folders.
pub const CSV: &str = "class.csv";
pub const JSON: &str = "class.json";
pub const REPORT: &str = "class-report.txt";

/// Grades every submission in `dir` (see the module's doc); `fresh` grades again what was graded.
pub fn grade_class(dir: &Path, fresh: bool, opts: &Options) -> Result<(), String> {
    let setup = grade::setup(opts)?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if setup.out.starts_with(&dir) {
        return Err(format!(
            "the output folder {} is inside the class folder: put it elsewhere",
            setup.out.display()
        ));
    }
    // A shard's manifest says the shard is complete: not until this run has written it again.
    let _ = std::fs::remove_file(setup.out.join(shard::MANIFEST));
    let (sources, ignored) = source::list(&dir)?;
    if sources.is_empty() {
        return Err(format!(
            "{} holds no submissions (folders, or .tar.gz, .tgz or .zip archives)",
            dir.display()
        ));
    }
    let key = setup.key(Solution::Student)?;
    println!("{}", setup.protection.describe());
    println!(
        "grading {} submissions in {} (seed {}, {} runs per test, {} at a time{})",
        sources.len(),
        dir.display(),
        setup.seed,
        opts.runs,
        setup.jobs,
        opts.shard.map_or(String::new(), |s| format!(
            ", shard {}/{}",
            s.index, s.count
        ))
    );
    let (_lock, layout) = grade::take_work_dirs(&setup)?;
    let progress = Progress::new(sources.len(), estimated_runs(&setup, sources.len()));
    let mut skipped = 0;
    for (position, src) in sources.iter().enumerate() {
        progress.submission(position, sources.len(), &src.name);
        let dest = setup.out.join(&src.name);
        if opts
            .shard
            .is_some_and(|s| !s.grades(sources.len(), position))
        {
            progress.skipped();
            continue;
        }
        let at = (position, sources.len());
        let taken = grade::take(src, &layout);
        if !fresh && graded_before(&dest, &taken, &key, at, &setup) {
            progress.skipped();
            skipped += 1;
            continue;
        }
        let logs = grade::fresh_dest(&dest)?;
        let part = taken
            .and_then(|taken| {
                grade::grade_one(
                    What::Submission(&taken),
                    &src.name,
                    at,
                    &setup,
                    &layout,
                    &logs,
                    &progress,
                )
            })
            .unwrap_or_else(|e| grader_trouble(&src.name, e));
        let line = write_part(&dest, part, &key, at, &setup, Echo::Quiet)?;
        progress.say(&format!(
            "[{}/{}] {}: {line}",
            position + 1,
            sources.len(),
            src.name
        ));
    }
    progress.finish();
    let _ = std::fs::remove_dir_all(layout.work());
    if skipped > 0 {
        println!("{skipped} submissions were graded before with the same key and files: kept");
    }
    let names: Vec<String> = sources.into_iter().map(|s| s.name).collect();
    finish(&setup, key, names, ignored)
}

/// The class files (unsharded) or the shard's manifest (sharded), once every submission is done.
fn finish(
    setup: &Setup,
    key: GradingKey,
    names: Vec<String>,
    ignored: Vec<String>,
) -> Result<(), String> {
    let Some(shard) = setup.opts.shard else {
        return write_class(&setup.out, &key, &names, &ignored);
    };
    let m = Manifest::new(shard, key, setup.rubric_text.clone(), true, names, ignored);
    shard::write_manifest(&setup.out, &m)
}

/// Writes a submission's results (unsharded) or its shard part (sharded); returns a line that
/// says how it went.
pub fn write_part(
    dest: &Path,
    part: Part,
    key: &GradingKey,
    at: (usize, usize),
    setup: &Setup,
    echo: Echo,
) -> Result<String, String> {
    let secs = part.wall_time_s;
    match setup.opts.shard {
        None => {
            let summary = grade::summarize(part, key, &setup.rubric);
            grade::write_results(dest, &summary, echo)?;
            let r = row(&summary);
            Ok(format!(
                "{}/{} ({}) in {secs:.0} s",
                r.score, r.max_score, r.status
            ))
        }
        Some(shard) => {
            let line = match part.built.ok {
                true => format!(
                    "{} runs in {secs:.0} s",
                    part.runs.iter().map(Vec::len).sum::<usize>()
                ),
                false => "not built (score 0)".to_string(),
            };
            let stamped = Stamped {
                key: key.clone(),
                shard,
                at,
                part,
            };
            shard::write_atomic(&dest.join(shard::PART), &grade::pretty(&stamped))?;
            Ok(line)
        }
    }
}

/// A shard's part of a submission, with what it was graded under (for a resumed shard).
#[derive(Serialize, serde::Deserialize)]
pub struct Stamped {
    pub key: GradingKey,
    pub shard: shard::Shard,
    /// The submission's position in the class and the class's size: they decide which runs are
    /// the shard's.
    pub at: (usize, usize),
    #[serde(flatten)]
    pub part: Part,
}

/// A submission the grader itself failed on (e.g. a disk error): its row says so, the others go on.
pub fn grader_trouble(name: &str, why: String) -> Part {
    Part {
        submission: name.to_string(),
        files: String::new(),
        built: Built {
            ok: false,
            output: crate::tree::grader_error(why),
            tests: Vec::new(),
        },
        runs: Vec::new(),
        build_time_s: 0.0,
        wall_time_s: 0.0,
    }
}

/// About how many runs a submission has (this shard's share), for the bar before its build.
fn estimated_runs(setup: &Setup, class: usize) -> usize {
    let tests = setup
        .rubric
        .points
        .keys()
        .filter(|t| {
            labspec::parts::part_of_test(t).is_some_and(|p| setup.parts.iter().any(|q| q == p))
        })
        .count();
    match setup.opts.shard {
        Some(s) if !s.whole_submissions(class) => (tests * setup.opts.runs).div_ceil(s.count),
        _ => tests * setup.opts.runs,
    }
}

/// Whether `dest` holds a grading of this submission's files under the same key (and shard).
fn graded_before(
    dest: &Path,
    taken: &Result<Taken, String>,
    key: &GradingKey,
    at: (usize, usize),
    setup: &Setup,
) -> bool {
    let files = match taken {
        Ok(Taken {
            refused: None,
            files,
        }) => files.as_str(),
        _ => return false,
    };
    match setup.opts.shard {
        None => shard::read_json::<Summary>(&dest.join("summary.json")).is_ok_and(|s| {
            &s.key == key && s.files == files && !s.build_output.starts_with(GRADER_ERROR)
        }),
        Some(shard) => shard::read_json::<Stamped>(&dest.join(shard::PART)).is_ok_and(|s| {
            &s.key == key
                && s.shard == shard
                && s.at == at
                && s.part.files == files
                && !s.part.built.output.starts_with(GRADER_ERROR)
        }),
    }
}

/// One submission's line in the class outputs.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub submission: String,
    /// `graded`, `build failed`, `lint gate` (the student files use what graded code may not),
    /// `refused` (the submission's files could not be taken) or `grader error` (the grader's own
    /// trouble: graded again next time).
    pub status: String,
    pub score: f64,
    pub max_score: f64,
    /// Points per part (extra credit included).
    pub parts: BTreeMap<String, f64>,
    /// The tests that did not earn their points.
    pub failing_tests: Vec<String>,
    /// `test seed=N: wall-clock|memory` for every run that hit a limit of the grader's.
    pub hit_limits: Vec<String>,
    /// Why it scored 0 without runs (first line), when it did.
    pub why: String,
}

/// Whether a test did not earn all it could.
fn failed(t: &TestReport) -> bool {
    if t.max_points > 0.0 {
        t.points < t.max_points
    } else {
        t.passes < t.runs.len()
    }
}

fn row(s: &Summary) -> Row {
    let mut parts: BTreeMap<String, f64> = s.parts.iter().map(|p| (p.clone(), 0.0)).collect();
    for t in &s.tests {
        *parts.entry(t.part.clone()).or_default() += t.points;
    }
    let status = if s.build_ok {
        "graded"
    } else if s.build_output.starts_with("SUBMISSION REFUSED") {
        "refused"
    } else if s.build_output.starts_with("LINT GATE") {
        "lint gate"
    } else if s.build_output.starts_with(GRADER_ERROR) {
        "grader error"
    } else {
        "build failed"
    };
    let hit_limits = s
        .tests
        .iter()
        .flat_map(|t| {
            t.runs.iter().filter_map(move |r| {
                let what = match r.limit? {
                    Limit::WallClock => "wall-clock",
                    Limit::Memory => "memory",
                };
                Some(format!("{} seed={}: {what}", t.name, r.seed))
            })
        })
        .collect();
    Row {
        submission: s.submission.clone(),
        status: status.into(),
        score: s.score,
        max_score: s.max_score,
        parts,
        failing_tests: match s.build_ok {
            true => s
                .tests
                .iter()
                .filter(|t| failed(t))
                .map(|t| t.name.clone())
                .collect(),
            false => Vec::new(),
        },
        hit_limits,
        why: match s.build_ok {
            true => String::new(),
            false => s.build_output.lines().next().unwrap_or("").to_string(),
        },
    }
}

/// The class's JSON summary.
#[derive(Serialize)]
struct ClassSummary<'a> {
    key: &'a GradingKey,
    submissions: usize,
    /// Files of the class folder that are not submissions.
    ignored: &'a [String],
    rows: &'a [Row],
    /// Per test, how many built submissions did not earn its points; most first.
    most_failing: Vec<(String, usize)>,
    /// Submissions per tenth of the maximum score: [0-10%), ..., [90-100%), 100% and above.
    histogram: [usize; 11],
}

/// Writes class.csv, class.json and class-report.txt from the submissions' summaries.
pub fn write_class(
    out: &Path,
    key: &GradingKey,
    names: &[String],
    ignored: &[String],
) -> Result<(), String> {
    let mut rows = Vec::new();
    for name in names {
        let s: Summary = shard::read_json(&out.join(name).join("summary.json"))?;
        rows.push(row(&s));
    }
    let summary = ClassSummary {
        key,
        submissions: rows.len(),
        ignored,
        most_failing: most_failing(&rows),
        histogram: histogram(&rows),
        rows: &rows,
    };
    shard::write_atomic(&out.join(CSV), &csv(&rows, &key.parts))?;
    shard::write_atomic(&out.join(JSON), &grade::pretty(&summary))?;
    let text = report(&summary);
    shard::write_atomic(&out.join(REPORT), &text)?;
    println!("\n{text}");
    println!(
        "class: {}, {}, {}; each submission's results in its folder",
        out.join(CSV).display(),
        out.join(JSON).display(),
        out.join(REPORT).display()
    );
    Ok(())
}

fn most_failing(rows: &[Row]) -> Vec<(String, usize)> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        for t in &r.failing_tests {
            *count.entry(t).or_default() += 1;
        }
    }
    let mut v: Vec<(String, usize)> = count.into_iter().map(|(t, n)| (t.to_string(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn histogram(rows: &[Row]) -> [usize; 11] {
    let mut h = [0; 11];
    for r in rows {
        let f = if r.max_score > 0.0 {
            r.score / r.max_score
        } else {
            0.0
        };
        h[((f * 10.0 + 1e-9).floor() as usize).min(10)] += 1;
    }
    h
}

/// A CSV field, quoted when it must be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One line per submission: its status, points per part, total, maximum, failing tests.
fn csv(rows: &[Row], parts: &[String]) -> String {
    let mut out = String::from("submission,status");
    for p in parts {
        let _ = write!(out, ",{p}");
    }
    out.push_str(",total,max,failing_tests,hit_limits\n");
    for r in rows {
        let _ = write!(out, "{},{}", field(&r.submission), field(&r.status));
        for p in parts {
            let _ = write!(out, ",{}", r.parts.get(p).copied().unwrap_or(0.0));
        }
        let _ = writeln!(
            out,
            ",{},{},{},{}",
            r.score,
            r.max_score,
            field(&r.failing_tests.join(" ")),
            r.hit_limits.len()
        );
    }
    out
}

/// A section of the class report: its title with the number of `rows`, then a line per row,
/// `<submission>: <what>`.
fn rows_section<'a>(
    out: &mut String,
    title: &str,
    rows: impl Iterator<Item = &'a Row>,
    what: impl Fn(&Row) -> String,
) {
    let lines: Vec<String> = rows
        .map(|r| format!("  {}: {}", r.submission, what(r)))
        .collect();
    let _ = writeln!(out, "\n{title} ({}):", lines.len());
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
}

/// The class report: the score histogram, the tests that fail most, the submissions that did not
/// build or hit limits, and a line per submission.
fn report(c: &ClassSummary) -> String {
    let mut out = String::new();
    let k = c.key;
    let _ = writeln!(
        out,
        "{}\nClass: {} submissions, parts {}, {} runs per test, seed {}\n",
        k.protection,
        c.submissions,
        k.parts.join(","),
        k.runs,
        k.seed
    );
    let _ = writeln!(out, "Scores (share of the maximum):");
    for (i, n) in c.histogram.iter().enumerate() {
        let label = match i {
            10 => "100%".to_string(),
            i => format!("{}-{}%", i * 10, i * 10 + 9),
        };
        let _ = writeln!(out, "  {label:>7} {:>4} {}", n, "#".repeat(*n));
    }
    let built = c.rows.iter().filter(|r| r.status == "graded").count();
    let _ = writeln!(
        out,
        "\nTests that fail most (submissions that lose its points, of {built} built):"
    );
    for (t, n) in c.most_failing.iter().take(10) {
        let _ = writeln!(out, "  {t:<62} {n:>4}");
    }
    if c.most_failing.is_empty() {
        let _ = writeln!(out, "  none");
    }
    rows_section(
        &mut out,
        "Not built: refused, stopped by the lint gate or failed to compile",
        c.rows.iter().filter(|r| r.status != "graded"),
        |r| crate::tree::cap_line(&r.why, 100),
    );
    rows_section(
        &mut out,
        "Submissions with runs that hit a limit",
        c.rows.iter().filter(|r| !r.hit_limits.is_empty()),
        |r| format!("{} runs (first: {})", r.hit_limits.len(), r.hit_limits[0]),
    );
    if !c.ignored.is_empty() {
        let _ = writeln!(out, "\nNot submissions (ignored): {}", c.ignored.join(", "));
    }
    let _ = writeln!(
        out,
        "\nPer submission (details in <submission>/report.txt):"
    );
    for r in c.rows {
        let _ = writeln!(
            out,
            "  {:<40} {:>7}/{:<5} {:<12} {}",
            r.submission,
            r.score,
            r.max_score,
            r.status,
            match r.failing_tests.len() {
                0 => String::new(),
                n => format!("{n} tests lose points"),
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(field("alice"), "alice");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
