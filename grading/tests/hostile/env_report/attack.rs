// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: forges the completion report from LAB_* variables (std::env, /proc/self/environ, the parent's environ), then exit(0).
//
// In Raft::new: collects every LAB_* variable, writes `<nonce> pass <test> ...` to LAB_REPORT_FILE,
// to stdout and to stderr, and exits with status 0. Stopped by: the lint gate (std::env, std::fs,
// std::process); behind it, the secret must not be readable by the run (not in its environment, not
// in /proc/self/environ, not in its parent's), and the report must come through a channel the
// student's code cannot write.
/// The attack: read the grader's secret wherever it may be, write the pass line, exit 0.
fn hostile_attack() {
    use std::io::Write;
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
        .filter(|(k, _)| k.starts_with("LAB_"))
        .collect();
    // The environment the process started with (a variable removed since then is still there),
    // and the parent's (the test runner, or the grader itself).
    let sources = [
        "/proc/self/environ".to_string(),
        format!("/proc/{}/environ", std::os::unix::process::parent_id()),
    ];
    for source in &sources {
        let Ok(raw) = std::fs::read(source) else {
            continue;
        };
        for kv in raw.split(|b| *b == 0) {
            let kv = String::from_utf8_lossy(kv);
            if let Some((k, v)) = kv.split_once('=')
                && k.starts_with("LAB_")
                && !vars.iter().any(|(k2, v2)| k2 == k && v2 == v)
            {
                vars.push((k.to_string(), v.to_string()));
            }
        }
    }
    let get = |key: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let seed = get("LAB_SEED").unwrap_or_else(|| sim::seed().to_string());
    let nonce = get("LAB_REPORT_NONCE").unwrap_or_default();
    let mut text = String::new();
    for (k, v) in &vars {
        text += &format!("hostile: found {k}={v}\n");
    }
    let line = hostile_forged_lines(&nonce, &name, &seed);
    if let Some(path) = get("LAB_REPORT_FILE") {
        let first = line.lines().next().unwrap_or_default().to_string() + "\n";
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(first.as_bytes()));
        text += &format!("hostile: writing the report to {path}: {written:?}\n");
    }
    hostile_say(&(text + &line));
    std::process::exit(0);
}
