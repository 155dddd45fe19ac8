//! Splitting one grading over machines: `--shard K/N` runs a deterministic K-th of the work list
//! (submission, test, run) and writes what it ran; `grading merge` puts the shards back together
//! into exactly what the unsharded grading writes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::key::GradingKey;
use crate::run::RunResult;
use crate::tree::TestCase;

/// Shard `index` of `count` (1-based, as a Slurm array task or a matrix job names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes K/N with 1 <= K <= N (e.g. 2/3), not {s:?}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the shards deal a class of `class` submissions by whole submissions: when it has
    /// at least one per shard, so that no two shards build the same submission.
    pub fn whole_submissions(self, class: usize) -> bool {
        class >= self.count
    }

    /// Whether this shard grades (builds, and runs some of) the submission at `position`.
    pub fn grades(self, class: usize, position: usize) -> bool {
        !self.whole_submissions(class) || position % self.count == self.index - 1
    }

    /// Whether this shard runs run `run` of test `test` (of `tests`) of the submission at
    /// `position` in a class of `class`. By whole submissions (see `whole_submissions`), or else
    /// round robin over the runs in the order the grader runs them (run r of every test before
    /// run r+1), shifted by the submission's position so that the shards share the first runs.
    pub fn owns(
        self,
        (position, class): (usize, usize),
        tests: usize,
        test: usize,
        run: usize,
    ) -> bool {
        if self.whole_submissions(class) {
            return self.grades(class, position);
        }
        (run * tests + test + position) % self.count == self.index - 1
    }
}

/// The (test, run) pairs of the submission at (position, class size) that `shard` runs (all
/// without a shard), in the order they run: run r of every test before run r+1 of any, so early
/// runs cover every test.
pub fn work(
    tests: usize,
    runs: usize,
    at: (usize, usize),
    shard: Option<Shard>,
) -> Vec<(usize, usize)> {
    (0..runs)
        .flat_map(|r| (0..tests).map(move |t| (t, r)))
        .filter(|&(t, r)| shard.is_none_or(|s| s.owns(at, tests, t, r)))
        .collect()
}

/// The file a shard's folder holds at its top: which shard of which grading it is.
pub const MANIFEST: &str = "shard.json";
/// The file each submission's folder holds in a shard's output: what the shard ran of it.
pub const PART: &str = "shard-part.json";
const FORMAT: &str = "raftlab-grading-shard/1";

/// A shard's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub shard: Shard,
    pub key: GradingKey,
    /// The rubric's text (the key holds its hash), so that the merge scores without it.
    pub rubric: String,
    /// Whether the grading was of a class (outputs per submission folder, and the class files) or
    /// of one submission (outputs at the top).
    pub class: bool,
    /// The class's submissions, by name (one empty name for a single submission).
    pub submissions: Vec<String>,
    /// Files of the class folder that are not submissions (for the class report).
    pub ignored: Vec<String>,
}

impl Manifest {
    pub fn new(
        shard: Shard,
        key: GradingKey,
        rubric: String,
        class: bool,
        submissions: Vec<String>,
        ignored: Vec<String>,
    ) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            shard,
            key,
            rubric,
            class,
            submissions,
            ignored,
        }
    }
}

/// Writes a shard's manifest (the last file a shard writes: its presence means the shard is
/// complete) and says so.
pub fn write_manifest(out: &Path, m: &Manifest) -> Result<(), String> {
    write_atomic(&out.join(MANIFEST), &crate::grade::pretty(m))?;
    println!(
        "shard {}/{} written to {}: merge it with the others (grading merge)",
        m.shard.index,
        m.shard.count,
        out.display()
    );
    Ok(())
}

/// How a submission's build went, as every shard that grades it finds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Built {
    pub ok: bool,
    /// Compiler errors or why it was refused, when not ok; notes about the submission otherwise.
    pub output: String,
    /// The graded tests, in the order their runs are numbered.
    pub tests: Vec<TestCase>,
}

/// What one shard (or the whole grading) did with one submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    /// The submission as the reports name it.
    pub submission: String,
    /// SHA-256 of its student files ("" when they could not be taken).
    pub files: String,
    pub built: Built,
    /// The runs this shard ran, per test of `built.tests`.
    pub runs: Vec<Vec<RunResult>>,
    pub build_time_s: f64,
    pub wall_time_s: f64,
}

/// The output folder of submission `name` under `out` (`out` itself for a single submission).
pub fn dest(out: &Path, name: &str) -> PathBuf {
    if name.is_empty() {
        out.to_path_buf()
    } else {
        out.join(name)
    }
}

/// Reads a JSON file the grader wrote.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a file atomically: a temporary file renamed over the old one.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The shards' manifests with their folders, checked to be every shard 1..N of one grading;
/// sorted by index.
pub fn read_manifests(dirs: &[PathBuf]) -> Result<Vec<(Manifest, PathBuf)>, String> {
    let mut all: Vec<(Manifest, PathBuf)> = Vec::new();
    for d in dirs {
        let m: Manifest = read_json(&d.join(MANIFEST))?;
        if m.format != FORMAT {
            return Err(format!(
                "{}: format {:?}, this grader merges {FORMAT:?}",
                d.display(),
                m.format
            ));
        }
        if let Some((first, _)) = all.first() {
            let same = m.key == first.key
                && m.shard.count == first.shard.count
                && m.rubric == first.rubric
                && m.class == first.class
                && m.submissions == first.submissions;
            if !same {
                return Err(format!(
                    "{} is a shard of another grading than {} (seed, runs, parts, limits, rubric, \
                     tree or submissions differ)",
                    d.display(),
                    dirs[0].display()
                ));
            }
        }
        all.push((m, d.clone()));
    }
    let Some(count) = all.first().map(|(m, _)| m.shard.count) else {
        return Err("merge needs the shards' output folders".into());
    };
    all.sort_by_key(|(m, _)| m.shard.index);
    let have: Vec<usize> = all.iter().map(|(m, _)| m.shard.index).collect();
    if have != (1..=count).collect::<Vec<_>>() {
        return Err(format!(
            "a merge needs every shard 1..{count} exactly once; it got shards {have:?}"
        ));
    }
    Ok(all)
}

/// Puts the shards' parts of one submission together: the same build, and every run.
pub fn merge_parts(name: &str, parts: Vec<Part>) -> Result<Part, String> {
    let mut parts = parts.into_iter();
    let mut merged = parts.next().ok_or("no shard")?;
    for p in parts {
        if p.built != merged.built || p.files != merged.files || p.submission != merged.submission {
            return Err(format!(
                "the shards built submission {name:?} differently (its files, its build or its \
                 tests differ): grade it again"
            ));
        }
        for (runs, more) in merged.runs.iter_mut().zip(p.runs) {
            runs.extend(more);
        }
        merged.build_time_s = merged.build_time_s.max(p.build_time_s);
        merged.wall_time_s = merged.wall_time_s.max(p.wall_time_s);
    }
    for runs in &mut merged.runs {
        runs.sort_by_key(|r| r.seed);
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_work_exactly() {
        for count in 1..5 {
            for position in 0..3 {
                let at = (position, 1);
                let mut all: Vec<(usize, usize)> = (1..=count)
                    .flat_map(|index| work(7, 5, at, Some(Shard { index, count })))
                    .collect();
                all.sort_unstable();
                let mut whole = work(7, 5, at, None);
                whole.sort_unstable();
                assert_eq!(all, whole);
            }
        }
        let sizes: Vec<usize> = (1..=3)
            .map(|index| work(7, 5, (0, 2), Some(Shard { index, count: 3 })).len())
            .collect();
        assert_eq!(sizes, vec![12, 12, 11]);
        // A class of at least one submission per shard is dealt by submission.
        let shard = Shard { index: 2, count: 3 };
        let owned: Vec<usize> = (0..7).filter(|&p| shard.grades(7, p)).collect();
        assert_eq!(owned, vec![1, 4]);
        assert_eq!(work(7, 5, (4, 7), Some(shard)).len(), 35);
        assert!(work(7, 5, (3, 7), Some(shard)).is_empty());
    }

    #[test]
    fn shard_syntax() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
