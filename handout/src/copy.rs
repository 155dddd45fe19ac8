//! What goes into the student copy: the student tree (`labtree`: the framework without the
//! reference solutions), the lab texts and the README.

use std::path::Path;

use labtree::{copy_file, mkdir, read_dir};

/// The lab texts: `handout/labs/*.md` go to `labs/` in the copy (each part's, as `labspec` names
/// it, and the pages common to all), except these (for instructors).
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
    if let Some(p) = labspec::parts::parts().find(|p| !labs.join(p.text).is_file()) {
        return Err(format!(
            "part {}: its lab text handout/labs/{} is missing",
            p.name, p.text
        ));
    }
    copy_file(
        &repo.join("handout/student/README.md"),
        &out.join("README.md"),
    )?;
    count += 1;
    Ok(count)
}
