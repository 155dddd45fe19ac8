// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: fills /tmp and temp_dir() with 1 GiB files until a write fails.
//
// Stopped by: the lint gate (std::fs, std::env); behind it, the sandbox: a private, size-limited
// /tmp (or a file-size limit) for each run, removed with it, and the wall-clock limit.
/// Writes 1 GiB in 1 MiB chunks.
fn hostile_write_gib(path: &std::path::Path, chunk: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    for _ in 0..1024 {
        f.write_all(chunk)?;
    }
    Ok(())
}

/// The attack: fill the disk.
fn hostile_attack() {
    let chunk = vec![0x55u8; 1 << 20];
    let mut dirs = vec![std::path::PathBuf::from("/tmp"), std::env::temp_dir()];
    dirs.dedup();
    let pid = std::process::id();
    for n in 0.. {
        for dir in &dirs {
            let path = dir.join(format!("hostile-fill-{pid}-{n}"));
            match hostile_write_gib(&path, &chunk) {
                Ok(()) => eprintln!("hostile: wrote 1 GiB to {}", path.display()),
                Err(e) => {
                    eprintln!("hostile: writing {} failed: {e}", path.display());
                    return;
                }
            }
        }
    }
}
