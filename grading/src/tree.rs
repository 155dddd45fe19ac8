//! The tree that gets graded: a student copy of the pristine repository (no reference solutions,
//! no `reference` feature) with the submission's student files put in, checked by the lint gate,
//! built once and listed, all in the sandbox.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use labspec::parts::{student_crates, student_files};

use crate::sandbox::{self, Protection, Spec};

/// A graded test: its name, lab part and the binary that runs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestCase {
    pub name: String,
    /// e.g. "2a"
    pub part: String,
    /// The test binary's target name, e.g. "raft_2a" (for the replay command).
    pub target: String,
    /// The binary, as the runs see it inside the sandbox.
    pub exe: String,
}

/// What a grading compiles as the student files: a submission's, or one of this repository's own
/// solutions (the reference, or the second, independent one), selected by their cargo feature.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Solution {
    /// The student files of the tree (a submission's, once put in).
    Student,
    /// `raft/src/reference/` and `kvraft/src/reference/`.
    Reference,
    /// `raft/src/alternative/` and `kvraft/src/alternative/`.
    Alternative,
}

impl Solution {
    /// The feature of the root package that selects it, and the folder its files are in.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Solution::Student => None,
            Solution::Reference => Some("reference"),
            Solution::Alternative => Some("alternative"),
        }
    }
}

/// How a result the grader's own trouble caused begins (a class grading grades it again).
pub const GRADER_ERROR: &str = "GRADER ERROR (not the submission's fault; grade it again)";

/// An error of the grader's own (the sandbox would not start, a disk error), not the submission's.
pub fn grader_error(why: String) -> String {
    format!("{GRADER_ERROR}: {why}")
}

/// The largest student file taken from a submission.
pub const MAX_STUDENT_FILE: u64 = 1 << 20;
/// How much of the compiler's output a report shows.
const MAX_COMPILER_OUTPUT: usize = 8_000;

/// Where the tree, the target folder and the test binaries are, on the host and inside.
#[derive(Debug, Clone)]
pub struct Layout {
    pub tree: PathBuf,
    pub target: PathBuf,
    /// The test binaries of this grading, copied out of the target folder (which other gradings
    /// share) so that a run sees only them.
    pub bins: PathBuf,
}

impl Layout {
    /// The folder of this grading's own files (the tree and the binaries), removed at its end.
    pub fn work(&self) -> &Path {
        self.tree.parent().unwrap_or(&self.tree)
    }
}

pub const TREE_IN: &str = "/build/tree";
pub const TARGET_IN: &str = "/build/target";
pub const BINS_IN: &str = "/grading/bin";

/// Limits for the build and the listing.
#[derive(Debug, Clone, Copy)]
pub struct BuildLimits {
    pub timeout: Duration,
    pub memory_mb: u64,
}

/// Copies `src` to `dst` as it is (the reference self-check), leaving out build output and
/// version control and `skip`.
pub fn copy_tree(src: &Path, dst: &Path, skip: &[&Path]) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut entries: Vec<_> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let canonical = path.canonicalize().ok();
        if name == "target"
            || name == ".git"
            || name == "grading-out"
            || skip
                .iter()
                .any(|s| path == *s || canonical.as_deref() == Some(*s))
        {
            continue;
        }
        let to = dst.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&path, &to, skip)?;
        } else if kind.is_file() {
            std::fs::copy(&path, &to)?;
        }
    }
    Ok(())
}

/// Writes the student copy of `pristine` into `tree` (once per grading): the framework, the tests
/// and the skeleton, without the reference solutions; keeps the skeleton's student files in
/// `base`, for the submissions that lack one.
pub fn prepare_student_tree(pristine: &Path, tree: &Path, base: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(tree);
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(tree).map_err(|e| format!("cannot create {}: {e}", tree.display()))?;
    labtree::write_student_tree(pristine, tree)?;
    prune_lock(pristine, tree)?;
    for f in student_files() {
        let to = base.join(f);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {f}: {e}"))?;
        }
        std::fs::copy(tree.join(f), &to).map_err(|e| format!("cannot keep {f}: {e}"))?;
    }
    Ok(())
}

/// Puts a submission's student files into the student tree (the skeleton's from `base` for those
/// it lacks), rewriting only the files whose bytes change: cargo then rebuilds the student crates
/// that changed and what depends on them, and nothing of the framework. Returns notes for the
/// report, or why the submission is refused (a score of 0).
pub fn put_student_files(
    submission: &Path,
    tree: &Path,
    base: &Path,
) -> Result<Result<Vec<String>, String>, String> {
    let mut notes = Vec::new();
    for f in student_files() {
        let from = submission.join(f);
        let text = match std::fs::symlink_metadata(&from) {
            Err(_) => {
                notes.push(format!("the submission has no {f}; the skeleton's is used"));
                std::fs::read(base.join(f)).map_err(|e| format!("cannot read {f}: {e}"))?
            }
            Ok(meta) => match student_file(&from, f, &meta)? {
                Ok(text) => text,
                Err(why) => return Ok(Err(why)),
            },
        };
        let to = tree.join(f);
        if std::fs::read(&to).ok().as_deref() != Some(text.as_slice()) {
            std::fs::write(&to, &text)
                .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        }
    }
    Ok(Ok(notes))
}

/// A student file's bytes, or why it is refused.
fn student_file(
    from: &Path,
    f: &str,
    meta: &std::fs::Metadata,
) -> Result<Result<Vec<u8>, String>, String> {
    if meta.file_type().is_symlink() {
        return Ok(Err(format!(
            "{f} is a symbolic link: submit the file itself"
        )));
    }
    if !meta.is_file() {
        return Ok(Err(format!("{f} is not a regular file")));
    }
    if meta.len() > MAX_STUDENT_FILE {
        return Ok(Err(format!(
            "{f} has {} bytes; a student file may have at most {MAX_STUDENT_FILE}",
            meta.len()
        )));
    }
    let text = std::fs::read(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    if std::str::from_utf8(&text).is_err() {
        return Ok(Err(format!("{f} is not UTF-8 text")));
    }
    Ok(Ok(text))
}

/// Brings the student copy's Cargo.lock in line with its workspace (without the instructors'
/// tools), every remaining version as pinned, so that the sandboxed build runs `--locked` and
/// `--offline` in a read-only tree. Cargo needs every locked package's manifest for that, for
/// every platform: `cargo fetch` in the pristine tree gets what is missing (once; later it finds
/// everything cached). Runs before any student file is in the tree, and compiles nothing.
fn prune_lock(pristine: &Path, tree: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let run = |dir: &Path, args: &[&str]| -> Result<(), String> {
        let out = std::process::Command::new(&cargo)
            .current_dir(dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "`cargo {}` failed in {}:\n{}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    };
    if run(tree, &["metadata", "--offline", "--format-version", "1"]).is_err() {
        run(pristine, &["fetch", "--locked"])?;
        run(tree, &["metadata", "--offline", "--format-version", "1"])?;
    }
    Ok(())
}

/// The sandbox spec of a cargo command in the tree: the tree read-only, the target folder
/// writable, the toolchain and the crates cache read-only, no network.
fn cargo_spec(layout: &Layout, args: Vec<String>, limits: BuildLimits) -> Result<Spec, String> {
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let cargo = if cargo.is_absolute() {
        cargo
    } else {
        which(&cargo).ok_or("cannot find cargo on PATH")?
    };
    let toolchain_bin = cargo.parent().ok_or("cargo has no folder")?.to_path_buf();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    let mut env = vec![
        (
            "PATH".to_string(),
            format!("{}:/usr/bin:/bin", toolchain_bin.display()),
        ),
        ("HOME".into(), home),
        ("CARGO_HOME".into(), cargo_home.clone()),
        ("RUSTUP_HOME".into(), rustup_home.clone()),
        ("CARGO_TARGET_DIR".into(), TARGET_IN.into()),
        ("CARGO_TERM_COLOR".into(), "never".into()),
    ];
    if let Ok(t) = std::env::var("RUSTUP_TOOLCHAIN") {
        env.push(("RUSTUP_TOOLCHAIN".into(), t));
    }
    let mut read_only = vec![(layout.tree.clone(), TREE_IN.to_string())];
    for dir in [&cargo_home, &rustup_home] {
        if Path::new(dir).is_dir() {
            read_only.push((PathBuf::from(dir), dir.clone()));
        }
    }
    if !toolchain_bin.starts_with(&rustup_home) && !toolchain_bin.starts_with(&cargo_home) {
        read_only.push((
            toolchain_bin.clone(),
            toolchain_bin.to_string_lossy().into(),
        ));
        if let Some(sysroot) = toolchain_bin.parent() {
            read_only.push((sysroot.to_path_buf(), sysroot.to_string_lossy().into()));
        }
    }
    Ok(Spec {
        program: cargo.to_string_lossy().into_owned(),
        args,
        cwd: TREE_IN.into(),
        env,
        read_only,
        writable: vec![(layout.target.clone(), TARGET_IN.to_string())],
        tmp_mb: 1024,
        memory_mb: limits.memory_mb,
        max_tasks: 1024,
        file_size_mb: 4096,
        cgroup_procs: Vec::new(),
        namespaces: false,
    })
}

fn which(name: &Path) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

/// Runs cargo in the sandbox; `Err` with a clear reason on a timeout or a sandbox failure.
fn cargo(
    layout: &Layout,
    args: Vec<String>,
    limits: BuildLimits,
    protection: Protection,
) -> Result<sandbox::Outcome, String> {
    let spec = cargo_spec(layout, args, limits)?;
    let out = sandbox::run(spec, protection, b"", limits.timeout).map_err(grader_error)?;
    if out.timed_out {
        return Err(format!(
            "the build did not finish within {:.0} s (the grader's build limit): does a constant \
             evaluate forever?",
            limits.timeout.as_secs_f64()
        ));
    }
    if out.out_of_memory {
        return Err(format!(
            "the build ran out of memory (the limit is {} MiB)",
            limits.memory_mb
        ));
    }
    Ok(out)
}

/// Cargo's arguments shared by the lint gate and the build.
fn common_args(features: Option<String>, release: bool) -> Vec<String> {
    let mut args: Vec<String> = ["--offline", "--locked"].map(String::from).to_vec();
    if release {
        args.push("--release".into());
    }
    if let Some(features) = features {
        args.extend(["--features".into(), features]);
    }
    args
}

/// The lints a student file must pass. The student crates' roots forbid them (so that no `allow`
/// in a student file lifts them), and their clippy.toml says what is disallowed.
pub const GATE_LINTS: &[&str] = &[
    "clippy::disallowed_methods",
    "clippy::disallowed_types",
    "clippy::disallowed_macros",
    "unsafe_code",
];

/// The lint gate: clippy over the student crates. Returns the violations of [`GATE_LINTS`]
/// (file:line: rule: message), or the compiler's errors as `Err`.
pub fn lint_gate(
    layout: &Layout,
    solution: Solution,
    limits: BuildLimits,
    protection: Protection,
) -> Result<Vec<String>, String> {
    // JSON diagnostics (with their codes); lints for the student crates only.
    let mut args = vec!["clippy".to_string()];
    for c in student_crates() {
        args.extend(["-p".into(), c.name.into()]);
    }
    args.extend(["--no-deps", "--message-format=json"].map(String::from));
    let features = solution.feature().map(|f| {
        let each: Vec<String> = student_crates()
            .map(|c| format!("{}/{f}", c.name))
            .collect();
        each.join(",")
    });
    args.extend(common_args(features, false));
    let out = cargo(layout, args, limits, protection)?;
    let mut violations = BTreeSet::new();
    let mut errors = Vec::new();
    for d in diagnostics(&out.output) {
        if GATE_LINTS.contains(&d.code.as_str()) {
            let why = d.note.map_or(String::new(), |n| format!(" ({n})"));
            violations.insert(format!("{}: {}: {}{why}", d.at, d.code, d.text));
        } else {
            errors.push(d.shown);
        }
    }
    if violations.is_empty() && (!errors.is_empty() || out.code != Some(0)) {
        return Err(compiler_errors(errors, &out.output));
    }
    Ok(violations.into_iter().map(|v| cap_line(&v, 400)).collect())
}

/// One error of the compiler's, as a report shows it.
struct Diagnostic {
    /// The lint or error code, e.g. `clippy::disallowed_methods`, `E0432`.
    code: String,
    /// `file:line` of the primary span.
    at: String,
    /// The message's first line, cut.
    text: String,
    /// The first note that is not boilerplate (for a disallowed item, its reason).
    note: Option<String>,
    /// The rendered diagnostic, cut to a few lines: never a whole file, whatever the message holds
    /// (`compile_error!(include_str!(..))` puts a file's text in it).
    shown: String,
}

/// The errors in cargo's JSON output.
fn diagnostics(output: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for line in output.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-message" || v["message"]["level"] != "error" {
            continue;
        }
        let msg = &v["message"];
        let span = msg["spans"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["is_primary"] == true).or(s.first()));
        let at = span.map_or_else(String::new, |s| {
            format!(
                "{}:{}",
                s["file_name"].as_str().unwrap_or("?"),
                s["line_start"]
            )
        });
        let text = msg["message"].as_str().unwrap_or("");
        let first = cap_line(text.lines().next().unwrap_or(""), 300);
        let note = msg["children"].as_array().and_then(|c| {
            c.iter()
                .filter_map(|c| c["message"].as_str())
                .find(|n| !n.contains("lint level") && !n.contains("for further information"))
                .map(|n| cap_line(n, 300))
        });
        let rendered = msg["rendered"].as_str().unwrap_or(text);
        let shown = if text.lines().count() > 1 {
            // A message of many lines carries some text of its own: show where, not what.
            format!(
                "error: {first} [... {} lines cut]\n  --> {at}",
                text.lines().count() - 1
            )
        } else {
            let lines: Vec<&str> = rendered.lines().take(12).collect();
            lines.join("\n")
        };
        out.push(Diagnostic {
            code: msg["code"]["code"].as_str().unwrap_or("").to_string(),
            at,
            text: first,
            note,
            shown,
        });
    }
    out
}

/// What a report says of a failed compilation: its errors, cut; or, where cargo gave none (it
/// could not even start the compiler), its own words.
fn compiler_errors(errors: Vec<String>, output: &str) -> String {
    if errors.is_empty() {
        cap(&non_json(output))
    } else {
        cap(&errors.join("\n"))
    }
}

/// Removes from the target folder every artifact of the student crates and of what depends on
/// them (the root package's library and its test binaries), in every profile, before a
/// submission's lint gate and build: these can then read (`include_str!`) neither a previous
/// submission's compiled code and cached compiler messages nor the reference's. They are rebuilt
/// anyway whenever the student files change.
pub fn forget_student_builds(layout: &Layout) -> Result<(), String> {
    let mut names: Vec<String> = student_crates().map(|c| c.name.to_string()).collect();
    names.push("raftlab".into());
    names.extend(
        labspec::parts::part_names()
            .filter_map(labspec::parts::part)
            .map(|p| p.target.to_string()),
    );
    let ours = |file: &str| {
        names.iter().any(|n| {
            let plain = file.strip_prefix("lib").unwrap_or(file);
            plain
                .strip_prefix(n.as_str())
                .is_some_and(|rest| rest.starts_with('-') || rest.starts_with('.'))
        })
    };
    let Ok(profiles) = std::fs::read_dir(&layout.target) else {
        return Ok(());
    };
    for profile in profiles.flatten() {
        let dir = profile.path();
        for sub in [
            dir.clone(),
            dir.join(".fingerprint"),
            dir.join("deps"),
            dir.join("incremental"),
        ] {
            let Ok(entries) = std::fs::read_dir(&sub) else {
                continue;
            };
            for e in entries.flatten() {
                if !ours(&e.file_name().to_string_lossy()) {
                    continue;
                }
                let path = e.path();
                let gone = match e.file_type() {
                    Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                    _ => std::fs::remove_file(&path),
                };
                gone.map_err(|err| {
                    grader_error(format!("cannot remove {}: {err}", path.display()))
                })?;
            }
        }
    }
    Ok(())
}

/// Builds the graded tests of `parts` once; returns each test binary's target name and its path
/// inside the sandbox, or the compiler's messages when the build fails. Then checks that the
/// student crates were compiled from their listed files only.
pub fn build(
    layout: &Layout,
    parts: &[String],
    solution: Solution,
    release: bool,
    limits: BuildLimits,
    protection: Protection,
) -> Result<Vec<(String, String)>, String> {
    let mut args: Vec<String> = ["test", "--no-run", "-p", "raftlab"]
        .map(String::from)
        .to_vec();
    args.push("--message-format=json".into());
    args.extend(common_args(solution.feature().map(String::from), release));
    for part in parts {
        let part = labspec::parts::part(part).ok_or_else(|| format!("no part {part}"))?;
        args.extend(["--test".into(), part.target.into()]);
    }
    let out = cargo(layout, args, limits, protection)?;
    if out.code != Some(0) {
        let errors = diagnostics(&out.output)
            .into_iter()
            .map(|d| d.shown)
            .collect();
        return Err(compiler_errors(errors, &out.output));
    }
    let mut bins = Vec::new();
    let mut dep_infos = Vec::new();
    for line in out.output.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let name = v["target"]["name"].as_str().unwrap_or("");
        if student_crates().any(|c| c.name == name) {
            dep_infos.push((name.to_string(), v["filenames"].clone()));
        }
        let is_test_bin = v["profile"]["test"] == true
            && v["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"));
        if let (true, Some(exe)) = (is_test_bin, v["executable"].as_str()) {
            bins.push((name.to_string(), exe.to_string()));
        }
    }
    check_dep_info(layout, &dep_infos, solution)?;
    copy_bins(layout, bins)
}

/// Copies the test binaries into this grading's own folder; returns their paths inside.
fn copy_bins(
    layout: &Layout,
    bins: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, String> {
    let _ = std::fs::remove_dir_all(&layout.bins);
    std::fs::create_dir_all(&layout.bins).map_err(|e| grader_error(e.to_string()))?;
    let mut out = Vec::new();
    for (name, exe) in bins {
        let host = host_path(layout, &exe)?;
        let to = layout.bins.join(&name);
        std::fs::copy(&host, &to)
            .map_err(|e| grader_error(format!("cannot copy {}: {e}", host.display())))?;
        out.push((name.clone(), format!("{BINS_IN}/{name}")));
    }
    Ok(out)
}

/// A path cargo printed from inside the sandbox, on the host.
fn host_path(layout: &Layout, inside: &str) -> Result<PathBuf, String> {
    let p = Path::new(inside);
    if let Ok(rest) = p.strip_prefix(TARGET_IN) {
        return Ok(layout.target.join(rest));
    }
    if let Ok(rest) = p.strip_prefix(&layout.target) {
        // --no-sandbox: cargo saw the host's paths.
        return Ok(layout.target.join(rest));
    }
    Err(format!("unexpected artifact path {inside}"))
}

/// Checks the compiler's dep-info of each student crate: every source file it read must be one
/// of the crate's listed files (this catches `#[path]` and `include!` in any disguise), and it
/// must not have read the build's environment (`env!`).
fn check_dep_info(
    layout: &Layout,
    crates: &[(String, serde_json::Value)],
    solution: Solution,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for (name, filenames) in crates {
        let Some(allowed) = student_crates().find(|c| c.name == name).map(|c| c.sources) else {
            continue;
        };
        let rlib = filenames
            .as_array()
            .and_then(|f| {
                f.iter()
                    .filter_map(|f| f.as_str())
                    .find(|f| f.ends_with(".rlib") || f.ends_with(".rmeta"))
            })
            .ok_or_else(|| grader_error(format!("no library artifact for {name}")))?;
        let host = host_path(layout, rlib)?;
        let stem = host
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("lib"))
            .ok_or_else(|| format!("odd artifact name {}", host.display()))?
            .to_string();
        let dep_file = host.with_file_name(format!("{stem}.d"));
        let text = std::fs::read_to_string(&dep_file)
            .map_err(|e| grader_error(format!("cannot read {}: {e}", dep_file.display())))?;
        let solution_dir = solution.feature().map(|f| format!("{name}/src/{f}/"));
        problems.extend(dep_info_problems(
            name,
            &text,
            allowed,
            solution_dir.as_deref(),
            layout,
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the student crates may be compiled only from their listed files:\n{}",
            problems.join("\n")
        ))
    }
}

/// What in one dep-info file breaks the rule (see [`check_dep_info`]). Paths are absolute or
/// relative to the tree's root; `also` is a folder whose files are allowed too (this repository's
/// own solution's, when one is graded).
fn dep_info_problems(
    crate_name: &str,
    text: &str,
    allowed: &[&str],
    also: Option<&str>,
    layout: &Layout,
) -> Vec<String> {
    let roots = [PathBuf::from(TREE_IN), layout.tree.clone()];
    let ok = |file: &str| {
        let path = Path::new(file);
        let rel = if path.is_absolute() {
            match roots.iter().find_map(|r| path.strip_prefix(r).ok()) {
                Some(rel) => rel,
                None => return false,
            }
        } else {
            path
        };
        let plain = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        plain
            && (allowed.iter().any(|a| Path::new(a) == rel)
                || also.is_some_and(|dir| rel.starts_with(dir)))
    };
    let mut problems = BTreeSet::new();
    for line in text.lines() {
        if let Some(var) = line.strip_prefix("# env-dep:") {
            let var = var.split('=').next().unwrap_or(var);
            problems.insert(format!(
                "{crate_name}: reads the build's environment variable {var} (env!/option_env!)"
            ));
            continue;
        }
        let Some((_, deps)) = line.split_once(": ") else {
            continue;
        };
        for file in split_deps(deps) {
            if !ok(&file) {
                problems.insert(format!(
                    "{crate_name}: compiled {file}, which is not one of its files ({})",
                    allowed.join(", ")
                ));
            }
        }
    }
    problems.into_iter().collect()
}

/// The paths of a make-style dependency list (spaces in a path are escaped with `\`).
fn split_deps(deps: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The lines of cargo's output that are not its JSON messages (the rendered diagnostics).
fn non_json(output: &str) -> String {
    output
        .lines()
        .filter(|l| !l.starts_with('{') && !l.trim_start().starts_with("Compiling"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Cuts compiler output for a report: no file's text is echoed whole.
pub fn cap(text: &str) -> String {
    let lines: Vec<String> = text.lines().take(120).map(|l| cap_line(l, 300)).collect();
    let mut out = lines.join("\n");
    if out.len() > MAX_COMPILER_OUTPUT {
        let mut end = MAX_COMPILER_OUTPUT;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out += "\n... (cut)";
    } else if text.lines().count() > 120 {
        out += "\n... (cut)";
    }
    out
}

/// One line, at most `max` bytes (cut at a character boundary).
pub fn cap_line(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_string();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...(cut)", &line[..end])
}

/// The graded tests in `bins` whose part is in `parts` (names end in `_<part>`), listed by each
/// binary in the sandbox.
pub fn list_tests(
    layout: &Layout,
    bins: &[(String, String)],
    parts: &[String],
    limits: BuildLimits,
    protection: Protection,
) -> Result<Vec<TestCase>, String> {
    let mut tests = Vec::new();
    for (target, exe) in bins {
        let spec = run_spec(
            layout,
            exe,
            vec!["--list".into()],
            Vec::new(),
            limits.memory_mb,
            64,
        );
        let out = sandbox::run(spec, protection, b"", limits.timeout).map_err(grader_error)?;
        if out.timed_out {
            return Err(format!(
                "listing the tests of {target} did not finish within {:.0} s",
                limits.timeout.as_secs_f64()
            ));
        }
        if out.code != Some(0) {
            return Err(format!(
                "listing the tests of {target} failed (status {:?}):\n{}",
                out.code,
                cap(&out.output)
            ));
        }
        for line in out.output.lines() {
            let Some(name) = line.strip_suffix(": test") else {
                continue;
            };
            let Some(part) = labspec::parts::part_of_test(name) else {
                continue;
            };
            if parts.iter().any(|p| p == part) {
                tests.push(TestCase {
                    name: name.to_string(),
                    part: part.to_string(),
                    target: target.clone(),
                    exe: exe.clone(),
                });
            }
        }
    }
    tests.sort_by(|a, b| (&a.part, &a.target).cmp(&(&b.part, &b.target)));
    Ok(tests)
}

/// The sandbox spec of a test binary: only this grading's binaries, read-only; a private /tmp;
/// the environment the harness needs and nothing of the grader's.
pub fn run_spec(
    layout: &Layout,
    exe: &str,
    args: Vec<String>,
    extra_env: Vec<(String, String)>,
    memory_mb: u64,
    tmp_mb: u64,
) -> Spec {
    let mut env = vec![
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("HOME".into(), "/tmp".into()),
        // What `cargo test` would set; the harness's replay command names the package.
        ("CARGO_PKG_NAME".into(), "raftlab".into()),
        // The linearizability views go to the private /tmp.
        ("CARGO_TARGET_DIR".into(), "/tmp/target".into()),
    ];
    env.extend(extra_env);
    Spec {
        program: exe.to_string(),
        args,
        cwd: "/tmp".into(),
        env,
        read_only: vec![(layout.bins.clone(), BINS_IN.to_string())],
        writable: Vec::new(),
        tmp_mb,
        memory_mb,
        max_tasks: 256,
        file_size_mb: tmp_mb,
        cgroup_procs: Vec::new(),
        namespaces: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            tree: "/host/tree".into(),
            target: "/host/target".into(),
            bins: "/host/bins".into(),
        }
    }

    #[test]
    fn dep_info_accepts_the_listed_files_only() {
        let allowed = labspec::LABS[0].crates[0].sources;
        let good = "/build/target/debug/deps/raft-1.d: /build/tree/raft/src/lib.rs \
                    /build/tree/raft/src/persister.rs /build/tree/raft/src/raft.rs\n";
        assert!(dep_info_problems("raft", good, allowed, None, &layout()).is_empty());
        let relative = "/build/target/debug/deps/raft-1.d: raft/src/lib.rs raft/src/raft.rs\n";
        assert!(dep_info_problems("raft", relative, allowed, None, &layout()).is_empty());
        let climbs = "x.d: raft/src/../../etc/passwd raft/src/reference/raft.rs\n";
        assert_eq!(
            dep_info_problems("raft", climbs, allowed, None, &layout()).len(),
            2
        );
        let reference = "x.d: raft/src/lib.rs raft/src/reference/raft.rs\n";
        let also = Some("raft/src/reference/");
        assert!(dep_info_problems("raft", reference, allowed, also, &layout()).is_empty());
        let bad = "/build/target/debug/deps/raft-1.d: /build/tree/raft/src/lib.rs \
                   /build/tree/raft/src/raft.rs /build/tree/raft/src/my\\ extra.rs\n\
                   # env-dep:HOME=/root\n";
        let problems = dep_info_problems("raft", bad, allowed, None, &layout());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("my extra.rs")));
        assert!(problems.iter().any(|p| p.contains("HOME")));
    }

    #[test]
    fn student_builds_are_forgotten_and_the_framework_kept() {
        let root = std::env::temp_dir().join(format!("raftlab-forget-{}", std::process::id()));
        let target = root.join("target");
        let files = [
            ("release/deps/libraft-1a.rlib", false),
            ("release/deps/raft-1a.d", false),
            ("release/deps/raft_2a-2b", false),
            ("release/deps/libraftlab-3c.rlib", false),
            ("release/deps/liblabrpc-4d.rlib", true),
            ("release/deps/libraft_helper-5e.rlib", true),
            ("release/.fingerprint/kvraft-6f/output-lib-kvraft", false),
            ("release/.fingerprint/labspec-7a/lib-labspec", true),
            ("release/libraft.rlib", false),
            ("debug/incremental/raftlab-8b/s-1/query-cache.bin", false),
            ("debug/deps/libtokio-9c.rlib", true),
        ];
        for (f, _) in files {
            let p = target.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        let layout = Layout {
            tree: root.join("tree"),
            target: target.clone(),
            bins: root.join("bin"),
        };
        forget_student_builds(&layout).unwrap();
        for (f, kept) in files {
            assert_eq!(target.join(f).exists(), kept, "{f}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn caps_cut_at_character_boundaries() {
        let long = "é".repeat(20_000);
        assert!(cap(&long).len() < 400);
        let many = "ab\n".repeat(10_000);
        assert!(cap(&many).ends_with("(cut)"));
        assert_eq!(cap_line("short", 10), "short");
    }
}
