//! What makes two gradings comparable: the same seed, runs, parts, limits, rubric and tree. The
//! shards of one grading must agree on it before they are merged, and a class grading skips a
//! submission whose recorded outputs carry the same key and the same student files.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tree::Solution;

/// Everything a grading's results depend on, apart from the submission's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradingKey {
    pub seed: u64,
    pub runs: usize,
    pub parts: Vec<String>,
    /// What is compiled as the student files (a submission's, or one of this tree's solutions).
    pub solution: Solution,
    pub timeout_s: f64,
    pub memory_mb: u64,
    /// `release` or `debug`: the same traces, but not the same wall-clock times against a limit.
    pub profile: String,
    /// The build's limits: a build stopped by one of them scores 0.
    pub build_timeout_s: f64,
    pub build_memory_mb: u64,
    /// `rustc -vV` of the toolchain that builds the submissions.
    pub rustc: String,
    /// How the runs are protected (a report says it in its first line).
    pub protection: String,
    /// SHA-256 of the rubric's text.
    pub rubric: String,
    /// SHA-256 of the pristine tree's files (the framework, the tests and the grader).
    pub tree: String,
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 over what a grading's results depend on in the pristine tree at `root`: the
/// paths the student copy is made of (`labtree::copied`, the solutions included) and the grader's
/// code (`grading/src`, `labtree/src` and their manifests), their file paths and contents in name
/// order. Build output and
/// version control are left out, and so is anything else in the tree (the outputs of gradings,
/// a class folder), so that the shards of one grading agree wherever their outputs are.
/// Symbolic links count by their target's name, never followed.
pub fn tree_hash(root: &Path) -> Result<String, String> {
    let mut items = labtree::copied();
    items.extend([
        "grading/Cargo.toml",
        "grading/src",
        "labtree/Cargo.toml",
        "labtree/src",
    ]);
    items.sort_unstable();
    items.dedup();
    let mut h = Sha256::new();
    for item in items {
        let path = root.join(item);
        let read = match std::fs::symlink_metadata(&path) {
            Err(_) => continue,
            Ok(m) if m.is_dir() => hash_dir(&mut h, &path, Path::new(item)),
            Ok(_) => hash_file(&mut h, &path, Path::new(item)),
        };
        read.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    }
    Ok(hex(&h.finalize()))
}

fn hash_dir(h: &mut Sha256, dir: &Path, rel: &Path) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name == "target" || name == ".git" || name == "grading-out" {
            continue;
        }
        let rel = rel.join(&name);
        if entry.file_type()?.is_dir() {
            hash_dir(h, &entry.path(), &rel)?;
        } else {
            hash_file(h, &entry.path(), &rel)?;
        }
    }
    Ok(())
}

fn hash_file(h: &mut Sha256, path: &Path, rel: &Path) -> std::io::Result<()> {
    let content = if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        std::fs::read_link(path)?
            .to_string_lossy()
            .into_owned()
            .into_bytes()
    } else {
        std::fs::read(path)?
    };
    for part in [rel.to_string_lossy().as_bytes(), &content] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    Ok(())
}

/// The SHA-256 over a submission's student files as they were taken (a missing file counts as
/// missing): a resubmission with any change is graded again.
pub fn files_hash(root: &Path) -> String {
    let mut h = Sha256::new();
    for f in labspec::parts::student_files() {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
        match std::fs::read(root.join(f)) {
            Ok(bytes) => {
                h.update([1]);
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
            Err(_) => h.update([0]),
        }
    }
    hex(&h.finalize())
}

/// What `rustc -vV` says (the toolchain cargo would use here), or why it could not be asked.
pub fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    match std::process::Command::new(rustc).arg("-vV").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("rustc -vV failed: {}", o.status),
        Err(e) => format!("rustc -vV failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_text() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
