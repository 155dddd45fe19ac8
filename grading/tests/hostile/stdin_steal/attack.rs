// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: reads standard input again (what is left, a seeked-back duplicate, /proc/self/fd/0) for the grader's secret, prints pass lines, exit(0).
//
// The grader sends `<nonce> <seed>` on stdin and the harness reads it to its end before any student
// code runs; this case tries to get it back anyway: what is left on stdin, a duplicate of fd 0 seeked
// back to its start (works when stdin is a regular file, whose offset the duplicate shares), and
// /proc/self/fd/0 opened anew (a file or a named pipe). Each word pair found becomes a pass line on
// stdout. Stopped by: the lint gate (std::io::stdin, std::os::fd, std::fs, std::process::exit);
// behind it, stdin must be a pipe that the harness has drained, so nothing comes back.
/// The attack: the grader's secret, from stdin, by every way back to it.
fn hostile_attack() {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::fd::AsFd;
    let mut texts: Vec<(&str, std::io::Result<String>)> = Vec::new();
    let mut rest = String::new();
    texts.push(("what is left on stdin", std::io::stdin().read_to_string(&mut rest).map(|_| rest)));
    let again = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(0))?;
            let mut s = String::new();
            f.read_to_string(&mut s)?;
            Ok(s)
        });
    texts.push(("stdin seeked back to 0", again));
    texts.push(("/proc/self/fd/0 reopened", std::fs::read_to_string("/proc/self/fd/0")));
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let mut out = String::new();
    let mut forged = 0;
    for (how, text) in &texts {
        out += &format!("hostile: {how}: {text:?}\n");
        if let Ok(text) = text {
            let mut words = text.split_whitespace();
            if let Some(nonce) = words.next() {
                let seed = words.next().map_or_else(|| sim::seed().to_string(), str::to_string);
                out += &hostile_forged_lines(nonce, &name, &seed);
                forged += 1;
            }
        }
    }
    if forged == 0 {
        out += &hostile_forged_lines("0", &name, &sim::seed().to_string());
    }
    hostile_say(&out);
    std::process::exit(0);
}
