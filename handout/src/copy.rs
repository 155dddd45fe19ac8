//! What goes into the student copy: the student tree (`labtree`: the framework without the
//! reference solutions), the lab texts and the README.

use std::path::Path;

/// The lab texts: `handout/labs/*.md` go to `labs/` in the copy, except these (for instructors).
const INSTRUCTOR_PAGES: &[&str] = &["instructors.md"];

/// Writes the copy of `repo` into the empty folder `out`; returns how many files it wrote.
pub fn write_copy(repo: &Path, out: &Path) -> Result<usize, String> {
    let mut count = labtree::write_student_tree(repo, out)?;
    let labs = out.join("labs");
    mkdir(&labs)?;
    for entry in read_dir(&repo.join("handout/labs"))? {
        let name = entry.to_string_lossy().into_owned();
        if name.ends_with(".md") && !INSTRUCTOR_PAGES.contains(&name.as_str()) {
            copy_file(&repo.join("handout/labs").join(&name), &labs.join(&name))?;
            count += 1;
        }
    }
    copy_file(
        &repo.join("handout/student/README.md"),
        &out.join("README.md"),
    )?;
    count += 1;
    Ok(count)
}

/// The names in a folder, sorted (so the copy is made the same way every time).
fn read_dir(dir: &Path) -> Result<Vec<std::ffi::OsString>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = entries
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    names.sort();
    Ok(names)
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
