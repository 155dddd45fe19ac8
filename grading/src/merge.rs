//! `grading merge OUT SHARD...`: the shards of one grading put together, written exactly as the
//! unsharded grading writes them (same scores, same failing seeds, same results.json apart from
//! timings), logs included.

use std::path::{Path, PathBuf};

use crate::class::{self, Stamped};
use crate::grade::{self, Echo};
use crate::key::GradingKey;
use crate::rubric::Rubric;
use crate::shard::{self, Part};

/// Merges the shard folders `shards` into `out`.
pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<(), String> {
    let manifests = shard::read_manifests(shards)?;
    let (first, _) = &manifests[0];
    let key = first.key.clone();
    let rubric = Rubric::parse(&first.rubric)?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let out = out
        .canonicalize()
        .map_err(|e| format!("{}: {e}", out.display()))?;
    if manifests
        .iter()
        .any(|(_, d)| d.canonicalize().ok().as_deref() == Some(&out))
    {
        return Err("merge into a folder of its own, not into a shard's".into());
    }
    let class = first.submissions.len();
    for (position, name) in first.submissions.iter().enumerate() {
        let mut parts = Vec::new();
        for (m, dir) in &manifests {
            if !m.shard.grades(class, position) {
                continue;
            }
            let path = shard::dest(dir, name).join(shard::PART);
            let stamped: Stamped = shard::read_json(&path)?;
            if stamped.key != key || stamped.shard != m.shard {
                return Err(format!(
                    "{} is not shard {}/{} of this grading (it was left by another run)",
                    path.display(),
                    m.shard.index,
                    m.shard.count
                ));
            }
            parts.push(stamped.part);
        }
        let dest = shard::dest(&out, name);
        let logs = grade::fresh_dest(&dest)?;
        let submission = parts.first().map_or(name.clone(), |p| p.submission.clone());
        // A submission the shards disagree on gets a row that says so; the others go on.
        let mut part = shard::merge_parts(name, parts)
            .and_then(|p| complete(p, &key))
            .unwrap_or_else(|why| class::grader_trouble(&submission, why));
        for (m, dir) in &manifests {
            if m.shard.grades(class, position) {
                copy_logs(&shard::dest(dir, name).join("logs"), &logs)?;
            }
        }
        relocate_logs(&mut part, &logs);
        let summary = grade::summarize(part, &key, &rubric);
        let echo = if first.class {
            Echo::Quiet
        } else {
            Echo::Report
        };
        grade::write_results(&dest, &summary, echo)?;
    }
    if first.class {
        class::write_class(&out, &key, &first.submissions, &first.ignored)?;
    }
    println!("merged {} shards into {}", manifests.len(), out.display());
    Ok(())
}

/// The merged part, when it holds exactly the runs the unsharded grading makes: every run of
/// every test, once.
fn complete(part: Part, key: &GradingKey) -> Result<Part, String> {
    if !part.built.ok {
        return Ok(part);
    }
    for (t, runs) in part.built.tests.iter().zip(&part.runs) {
        let mut want: Vec<u64> = (0..key.runs)
            .map(|r| labspec::seed::run_seed(key.seed, &t.name, r))
            .collect();
        want.sort_unstable();
        let have: Vec<u64> = runs.iter().map(|r| r.seed).collect();
        if have != want {
            return Err(format!(
                "the shards ran {} runs of {} where the grading makes {}, or other seeds: \
                 grade the submission again",
                have.len(),
                t.name,
                want.len()
            ));
        }
    }
    Ok(part)
}

/// Copies a shard's logs of one submission into the merged logs folder.
fn copy_logs(from: &Path, to: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(e.path(), to.join(e.file_name()))
                .map_err(|err| format!("cannot copy {}: {err}", e.path().display()))?;
        }
    }
    Ok(())
}

/// Points every run's log at the merged logs folder (where the unsharded grading puts it).
fn relocate_logs(part: &mut Part, logs: &Path) {
    for run in part.runs.iter_mut().flatten() {
        if let Some(name) = run.log.file_name() {
            run.log = logs.join(name);
        }
    }
}
