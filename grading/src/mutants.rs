//! The mutation corpus (`grading/mutants/*.mutant`): one-edit bugs of the reference solutions,
//! each planted in a scratch copy and graded, to measure which tests catch which bug. The format
//! is in grading/mutants/README.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::run::RunResult;
use crate::tree::TestCase;

/// What a mutant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A bug: its part must lose points.
    Bug,
    /// Legal but slow: it must pass every test; the table shows its cost.
    Slow,
    /// A bug in general that cannot show with this reference (an "equivalent mutant"): kept to
    /// document why no test catches it.
    Equivalent,
}

/// One mutant of the corpus.
#[derive(Debug, Clone, Serialize)]
pub struct Mutant {
    pub name: String,
    /// The lab part whose tests must catch it.
    pub part: String,
    pub kind: Kind,
    /// The reference file it edits, relative to the repository's root.
    pub file: String,
    pub about: String,
    /// (text to find, exactly once; its replacement).
    #[serde(skip)]
    pub hunks: Vec<(String, String)>,
}

const FIND: &str = "<<<<<<<";
const SPLIT: &str = "=======";
const END: &str = ">>>>>>>";

/// Parses one `.mutant` file called `name`.
pub fn parse(name: &str, text: &str) -> Result<Mutant, String> {
    let mut fields = BTreeMap::new();
    let mut lines = text.lines();
    let mut hunks = Vec::new();
    while let Some(line) = lines.next() {
        if line == FIND {
            hunks.push(parse_hunk(name, &mut lines)?);
        } else if let Some((key, value)) = line.split_once(':')
            && hunks.is_empty()
        {
            fields.insert(key.trim(), value.trim().to_string());
        } else if !line.trim().is_empty() {
            return Err(format!("{name}: unexpected line {line:?}"));
        }
    }
    let mut field = |key: &str| {
        fields
            .remove(key)
            .ok_or_else(|| format!("{name}: no `{key}:` line"))
    };
    let kind = match field("kind")?.as_str() {
        "bug" => Kind::Bug,
        "slow" => Kind::Slow,
        "equivalent" => Kind::Equivalent,
        other => return Err(format!("{name}: kind {other:?}: bug, slow or equivalent")),
    };
    let mutant = Mutant {
        name: name.to_string(),
        part: field("part")?,
        kind,
        file: field("file")?,
        about: field("about")?,
        hunks,
    };
    if let Some(key) = fields.keys().next() {
        return Err(format!("{name}: unknown field `{key}:`"));
    }
    if mutant.hunks.is_empty() {
        return Err(format!("{name}: no hunk ({FIND} ... {SPLIT} ... {END})"));
    }
    Ok(mutant)
}

/// Reads the lines of one hunk, after its `<<<<<<<`.
fn parse_hunk<'a>(
    name: &str,
    lines: &mut impl Iterator<Item = &'a str>,
) -> Result<(String, String), String> {
    let (mut find, mut replace) = (String::new(), String::new());
    let mut into_replace = false;
    for line in lines {
        match line {
            SPLIT if !into_replace => into_replace = true,
            END if into_replace => return Ok((find, replace)),
            _ if into_replace => replace.extend([line, "\n"]),
            _ => find.extend([line, "\n"]),
        }
    }
    Err(format!("{name}: a hunk does not end with {END}"))
}

/// Every mutant in `dir`, by name.
pub fn load(dir: &Path) -> Result<Vec<Mutant>, String> {
    let mut mutants = Vec::new();
    for file in labtree::read_dir(dir)? {
        let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".mutant")) else {
            continue;
        };
        mutants.push(parse(name, &labtree::read(&dir.join(&file))?)?);
    }
    mutants.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(mutants)
}

impl Mutant {
    /// The mutated text of its file, from the file's pristine `text`.
    pub fn apply(&self, text: &str) -> Result<String, String> {
        let mut out = text.to_string();
        for (find, replace) in &self.hunks {
            match out.matches(find.as_str()).count() {
                1 => out = out.replacen(find.as_str(), replace, 1),
                n => {
                    return Err(format!(
                        "mutant {}: its text occurs {n} times in {} (it must occur once):\n{find}",
                        self.name, self.file
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The lab's parts: the parts a mutant is graded on unless told otherwise.
    pub fn lab_parts(&self) -> Vec<String> {
        let lab = labspec::parts::lab_of(&self.part);
        lab.map_or(&[][..], |l| l.parts)
            .iter()
            .map(|p| p.name.to_string())
            .collect()
    }
}

/// How one mutant fared.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub mutant: Mutant,
    /// Why it could not be graded (it did not apply or build), if so.
    pub error: Option<String>,
    pub runs_per_test: usize,
    /// Seeds (run numbers) at which some test of the mutant's part failed.
    pub caught_at: usize,
    /// Of the part's tests, how many ran (0: the part was not graded).
    pub part_tests: usize,
    /// Each test that failed at least once: its name and the run numbers that failed.
    pub caught_by: Vec<(String, Vec<usize>)>,
    /// Mean wall time of a run, in seconds, over all runs.
    pub mean_wall_s: f64,
    /// Failure reasons seen, each with its count (the first line of each).
    pub reasons: Vec<(String, usize)>,
}

/// Sums up one mutant's runs: `tests[i]` ran `runs[i]`.
pub fn outcome(mutant: &Mutant, tests: &[TestCase], runs: &[Vec<RunResult>]) -> Outcome {
    let runs_per_test = runs.iter().map(Vec::len).max().unwrap_or(0);
    let mut caught_seed = vec![false; runs_per_test];
    let mut caught_by = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let (mut wall, mut count) = (0.0, 0usize);
    let mut part_tests = 0;
    for (t, rs) in tests.iter().zip(runs) {
        let in_part = t.part == mutant.part;
        part_tests += usize::from(in_part);
        // Runs are sorted by seed; run number r is the r-th seed of the test.
        let failed: Vec<usize> = (0..rs.len()).filter(|&r| !rs[r].passed).collect();
        for r in &failed {
            if in_part {
                caught_seed[*r] = true;
            }
            let reason = rs[*r].reason.as_deref().unwrap_or("failed");
            let first = reason.lines().next().unwrap_or("").chars().take(120);
            *reasons.entry(first.collect()).or_default() += 1;
        }
        if !failed.is_empty() {
            caught_by.push((t.name.clone(), failed));
        }
        wall += rs.iter().map(|r| r.wall_s).sum::<f64>();
        count += rs.len();
    }
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    reasons.truncate(3);
    Outcome {
        mutant: mutant.clone(),
        error: None,
        runs_per_test,
        caught_at: caught_seed.iter().filter(|&&c| c).count(),
        part_tests,
        caught_by,
        mean_wall_s: if count == 0 { 0.0 } else { wall / count as f64 },
        reasons,
    }
}

impl Outcome {
    /// One that could not be graded.
    pub fn failed(mutant: &Mutant, error: String) -> Outcome {
        Outcome {
            mutant: mutant.clone(),
            error: Some(error),
            runs_per_test: 0,
            caught_at: 0,
            part_tests: 0,
            caught_by: Vec::new(),
            mean_wall_s: 0.0,
            reasons: Vec::new(),
        }
    }

    /// Whether it did what its kind says: a bug caught on at least 9 of 10 seeds of its part, a
    /// slow variant passing everything.
    pub fn holds(&self) -> bool {
        if self.error.is_some() || self.part_tests == 0 {
            return false;
        }
        match self.mutant.kind {
            Kind::Bug => self.caught_at * 10 >= self.runs_per_test * 9,
            Kind::Slow => self.caught_by.is_empty(),
            Kind::Equivalent => true,
        }
    }
}

/// The table: one line per mutant, then the mutants that do not hold.
pub fn render(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<36} {:<4} {:<5} {:>7}  caught by (failed runs)",
        "mutant", "part", "kind", "seeds"
    );
    for o in outcomes {
        let m = &o.mutant;
        let seeds = match (&o.error, o.part_tests) {
            (Some(_), _) => "error".to_string(),
            (None, 0) => "-".to_string(),
            (None, _) => format!("{}/{}", o.caught_at, o.runs_per_test),
        };
        let by = match &o.error {
            Some(e) => e.lines().next().unwrap_or("").to_string(),
            None if o.caught_by.is_empty() => format!("nothing (mean run {:.2}s)", o.mean_wall_s),
            None => o
                .caught_by
                .iter()
                .map(|(t, runs)| format!("{t} {}", runs.len()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let kind = match m.kind {
            Kind::Bug => "bug",
            Kind::Slow => "slow",
            Kind::Equivalent => "equiv",
        };
        let _ = writeln!(s, "{:<36} {:<4} {kind:<5} {seeds:>7}  {by}", m.name, m.part);
    }
    let weak: Vec<&Outcome> = outcomes.iter().filter(|o| !o.holds()).collect();
    let _ = writeln!(
        s,
        "\n{} mutants; {} hold (a bug caught by its part on >= 9/10 seeds, a slow variant passing; \
         an equivalent one is only shown)",
        outcomes.len(),
        outcomes.len() - weak.len()
    );
    for o in weak {
        let what = match (o.mutant.kind, &o.error) {
            (_, Some(_)) => "could not be graded",
            (_, None) if o.part_tests == 0 => "its part was not graded",
            (Kind::Bug, None) if o.caught_at == 0 => "NOT CAUGHT by its part",
            (Kind::Bug, None) => "caught on too few seeds",
            (_, None) => "a legal variant FAILS tests",
        };
        let _ = writeln!(s, "  {}: {what} — {}", o.mutant.name, o.mutant.about);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "part: 2c\nkind: bug\nfile: raft/src/x.rs\nabout: it.\n\
                          <<<<<<<\n    a();\n    b();\n=======\n    a();\n>>>>>>>\n";

    #[test]
    fn parses_and_applies() {
        let m = parse("m", SAMPLE).unwrap();
        assert_eq!((m.part.as_str(), m.kind), ("2c", Kind::Bug));
        assert_eq!(
            m.hunks,
            vec![("    a();\n    b();\n".into(), "    a();\n".into())]
        );
        assert_eq!(
            m.apply("x\n    a();\n    b();\ny\n").unwrap(),
            "x\n    a();\ny\n"
        );
        assert!(m.apply("    a();\n    b();\n    a();\n    b();\n").is_err());
        assert!(m.apply("nothing").is_err());
    }

    #[test]
    fn refuses_bad_files() {
        assert!(parse("m", "part: 2c\nkind: bug\nfile: f\nabout: a\n").is_err());
        assert!(parse("m", &SAMPLE.replace("bug", "maybe")).is_err());
        assert!(parse("m", &SAMPLE.replace(">>>>>>>\n", "")).is_err());
        assert!(parse("m", &SAMPLE.replace("about: it.\n", "")).is_err());
        assert!(parse("m", &format!("colour: red\n{SAMPLE}")).is_err());
    }

    /// Every mutant of the corpus parses and applies to today's reference (once per hunk).
    #[test]
    fn the_corpus_applies_to_the_reference() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mutants = load(&repo.join("grading/mutants")).unwrap();
        assert!(!mutants.is_empty());
        for m in &mutants {
            assert!(
                m.file.contains("/src/reference/"),
                "{}: mutants edit the reference",
                m.name
            );
            let text = labtree::read(&repo.join(&m.file)).unwrap();
            let mutated = m.apply(&text).unwrap();
            assert_ne!(mutated, text, "{}: changes nothing", m.name);
            assert!(
                labspec::parts::part(&m.part).is_some(),
                "{}: part {}",
                m.name,
                m.part
            );
        }
    }
}
