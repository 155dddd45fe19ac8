//! The rubric: points per test and the pass policy (grading/rubric.txt, or `--rubric FILE`).

use std::collections::{BTreeMap, BTreeSet};

/// The rubric shipped with the grader.
pub const DEFAULT: &str = include_str!("../rubric.txt");

/// When a test earns its points.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Policy {
    /// Every run must pass.
    All,
    /// At least this fraction of the runs must pass.
    Fraction(f64),
}

/// Points per test and the policy.
#[derive(Debug, Clone)]
pub struct Rubric {
    pub policy: Policy,
    pub points: BTreeMap<String, f64>,
    /// The tests whose points are extra credit (a line `<test> <points> bonus`): earned points
    /// count towards the score, but not towards the maximum (the lab's challenges).
    pub bonus: BTreeSet<String>,
}

impl Rubric {
    /// Parses the rubric format; errors name the line.
    pub fn parse(text: &str) -> Result<Rubric, String> {
        let mut rubric = Rubric {
            policy: Policy::All,
            points: BTreeMap::new(),
            bonus: BTreeSet::new(),
        };
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let bad = |what: &str| format!("rubric line {}: {what}: {raw:?}", n + 1);
            match words.as_slice() {
                ["policy", "all"] => rubric.policy = Policy::All,
                ["policy", "fraction", f] => {
                    let f: f64 = f.parse().map_err(|_| bad("not a number"))?;
                    if !(0.0..=1.0).contains(&f) {
                        return Err(bad("the fraction must be between 0 and 1"));
                    }
                    rubric.policy = Policy::Fraction(f);
                }
                [test, points] | [test, points, "bonus"] => {
                    let p: f64 = points.parse().map_err(|_| bad("points must be a number"))?;
                    rubric.points.insert(test.to_string(), p);
                    if words.len() == 3 {
                        rubric.bonus.insert(test.to_string());
                    }
                }
                _ => {
                    return Err(bad(
                        "expected \"<test> <points>\", \"<test> <points> bonus\" or a policy line",
                    ));
                }
            }
        }
        Ok(rubric)
    }

    /// The points `test` is worth.
    pub fn max_points(&self, test: &str) -> f64 {
        self.points.get(test).copied().unwrap_or(0.0)
    }

    /// Whether `test`'s points are extra credit.
    pub fn is_bonus(&self, test: &str) -> bool {
        self.bonus.contains(test)
    }

    /// Whether `passes` out of `runs` earn the points.
    pub fn earns(&self, passes: usize, runs: usize) -> bool {
        match self.policy {
            Policy::All => runs > 0 && passes == runs,
            Policy::Fraction(f) => runs > 0 && passes as f64 >= f * runs as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rubric_parses() {
        let r = Rubric::parse(DEFAULT).unwrap();
        assert_eq!(r.policy, Policy::All);
        // Exactly the graded tests: every `#[test]` function of the root package's tests/.
        let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
        let mut graded = std::collections::BTreeSet::new();
        for file in labtree::read_dir(&tests).unwrap() {
            let text = labtree::read(&tests.join(file)).unwrap();
            let mut lines = text.lines();
            while let Some(line) = lines.next() {
                if line.trim() == "#[test]"
                    && let Some(f) = lines.next().and_then(|l| l.trim().strip_prefix("fn "))
                {
                    graded.insert(f.split('(').next().unwrap().to_string());
                }
            }
        }
        let listed: std::collections::BTreeSet<String> = r.points.keys().cloned().collect();
        assert_eq!(
            listed, graded,
            "grading/rubric.txt and the tests in tests/ differ"
        );
        assert_eq!(r.max_points("initial_election_2a"), 5.0);
        assert!(r.earns(10, 10) && !r.earns(9, 10));
    }

    #[test]
    fn policies_and_errors() {
        let r = Rubric::parse("policy fraction 0.9\nfoo_2a 2\n").unwrap();
        assert!(r.earns(9, 10) && !r.earns(8, 10));
        assert!(Rubric::parse("foo_2a two").unwrap_err().contains("line 1"));
        let r = Rubric::parse("foo_4b 5\nbar_4b 4 bonus\n").unwrap();
        assert!(r.is_bonus("bar_4b") && !r.is_bonus("foo_4b"));
        assert_eq!(r.max_points("bar_4b"), 4.0);
        assert!(Rubric::parse("foo_4b 4 extra").is_err());
        assert!(Rubric::parse("policy fraction 2").is_err());
    }
}
