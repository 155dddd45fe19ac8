//! The scan of the copy for reference code: its folders, the `reference` feature, and any line
//! of the reference sources that the rest of the repository does not also hold.

use std::collections::BTreeSet;
use std::path::Path;

use labtree::{SOLUTIONS, left_out, read};

/// Lines shorter than this (trimmed) are too common to tell anything (`}`, `Ok(())`, ...).
const MIN_LINE: usize = 24;

/// What the copy must not contain, whatever file it is in: the spellings of the features that
/// select the reference and the alternative solutions, and the paths of their student files
/// (e.g. `reference/raft.rs`).
fn forbidden() -> Vec<String> {
    let mut out = Vec::new();
    for s in SOLUTIONS {
        out.extend([
            format!("feature = \"{s}\""),
            format!("features {s}"),
            format!("--features={s}"),
            format!("{s} = ["),
        ]);
        for f in labspec::parts::student_files() {
            let name = f.rsplit('/').next().unwrap_or(f);
            out.push(format!("{s}/{name}"));
        }
    }
    out
}

/// Scans the copy in `out`; returns one line per finding (none: clean).
pub fn scan(repo: &Path, out: &Path) -> Result<Vec<String>, String> {
    let fingerprints = fingerprints(repo)?;
    let forbidden = forbidden();
    let mut findings = Vec::new();
    for rel in &left_out() {
        if out.join(rel).exists() {
            findings.push(format!("{rel}: a solution folder is in the copy"));
        }
    }
    for file in files(out)? {
        let rel = file
            .strip_prefix(out)
            .unwrap_or(&file)
            .display()
            .to_string();
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue; // not text
        };
        findings.extend(scan_text(&rel, &text, &fingerprints, &forbidden));
    }
    Ok(findings)
}

/// The findings in one file's text.
fn scan_text(
    rel: &str,
    text: &str,
    fingerprints: &BTreeSet<String>,
    forbidden: &[String],
) -> Vec<String> {
    let mut findings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for f in forbidden {
            if line.contains(f) {
                findings.push(format!("{rel}:{}: mentions `{f}`", n + 1));
            }
        }
        if fingerprints.contains(line.trim()) {
            findings.push(format!("{rel}:{}: a line of the reference solution", n + 1));
        }
    }
    findings
}

/// The lines of the reference solutions (trimmed, long enough to mean something) that no other
/// source of the repository holds: API signatures and doc comments shared with the skeletons
/// do not count, everything the solution adds does.
fn fingerprints(repo: &Path) -> Result<BTreeSet<String>, String> {
    let left_out = left_out();
    let mut reference = BTreeSet::new();
    for rel in &left_out {
        for file in files(&repo.join(rel))? {
            reference.extend(significant_lines(&read(&file)?));
        }
    }
    let crates = labspec::parts::student_crates().map(|c| format!("{}/src", c.name));
    let framework = ["labspec/src", "labrpc/src", "lincheck/src", "src", "tests"].map(String::from);
    let mut shared = BTreeSet::new();
    for dir in crates.chain(framework) {
        for file in files(&repo.join(dir))? {
            if !left_out.iter().any(|l| file.starts_with(repo.join(l))) {
                shared.extend(significant_lines(&read(&file)?));
            }
        }
    }
    Ok(reference.difference(&shared).cloned().collect())
}

fn significant_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| l.len() >= MIN_LINE)
        .map(str::to_string)
}

/// Every file under `dir` (recursively), `.git` and `target` excluded, sorted.
fn files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            let name = path.file_name().unwrap_or_default();
            if name == ".git" || name == "target" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn fingerprints_are_the_solution_not_the_api() {
        let prints = fingerprints(repo()).unwrap();
        assert!(prints.len() > 300, "only {} fingerprints", prints.len());
        // The skeleton's public signatures are shared with the reference, so they do not count.
        assert!(
            !prints.contains("pub async fn start(&self, command: Vec<u8>) -> (u64, u64, bool) {")
        );
    }

    #[test]
    fn a_pasted_solution_line_or_the_feature_is_found() {
        let prints = fingerprints(repo()).unwrap();
        let line = prints.iter().next().unwrap().clone();
        let text = format!("fn main() {{}}\n    {line}\n#[cfg(feature = \"reference\")]\n");
        let found = scan_text("src/x.rs", &text, &prints, &forbidden());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("src/x.rs:2: a line of the reference"));
        assert!(found[1].contains("mentions `feature = \"reference\"`"));
        assert!(scan_text("src/x.rs", "fn main() {}\n", &prints, &forbidden()).is_empty());
        assert!(forbidden().contains(&"alternative/client.rs".to_string()));
    }
}
