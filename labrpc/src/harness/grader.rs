//! The grader's side channel: the secret and seed a grader hands a graded process on standard
//! input, the Landlock confinement of a graded run, and the completion report.

use std::io::Read;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

use super::Report;

/// The environment variable that tells the harness a grader runs it: `LAB_GRADER=stdin` means the
/// grader's secret and seed wait on standard input. Not a secret itself.
pub const GRADER_VAR: &str = labspec::env::GRADER;

/// What a grader handed the harness: a per-run secret that authenticates the completion report,
/// and the seed the run must use. Read once from standard input, to its end, before any student
/// code runs (the harness reads it on the first test call), so that later code finds nothing.
#[derive(Debug)]
pub(super) struct GraderChannel {
    nonce: String,
    pub(super) seed: u64,
    /// The thread that read it: the test's own thread. A report from any other thread is refused.
    owner: ThreadId,
}

static GRADER: OnceLock<Option<GraderChannel>> = OnceLock::new();
static REPORTED: AtomicBool = AtomicBool::new(false);

/// The grader's channel, read on first use; `None` when no grader runs this process.
pub(super) fn grader() -> Option<&'static GraderChannel> {
    GRADER
        .get_or_init(|| {
            if std::env::var(GRADER_VAR).ok()? != labspec::env::GRADER_STDIN {
                return None;
            }
            let mut text = String::new();
            // A grader that sent nothing (or garbage) gets no report: it then fails the run.
            std::io::stdin().lock().read_to_string(&mut text).ok()?;
            let labspec::GraderInput { nonce, seed } = text.parse().ok()?;
            Some(GraderChannel {
                nonce,
                seed,
                owner: std::thread::current().id(),
            })
        })
        .as_ref()
}

/// In a graded process, takes from the calling thread (a simulation's, before any code of the run)
/// and from every thread it starts the right to open any file or use the network (Landlock):
/// graded code has no use for them, and a process may otherwise read its own memory through
/// `/proc/self/mem`, the grader's secret included. Panics when the kernel cannot enforce it, so
/// the run fails (loudly) rather than run unconfined; outside a grading it does nothing.
pub(crate) fn confine_if_graded() {
    use landlock::{ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr};
    if grader().is_none() {
        return;
    }
    let abi = ABI::V4;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    match status {
        Ok(s) if s.ruleset != landlock::RulesetStatus::NotEnforced => {}
        Ok(_) => {
            panic!("graded run: this kernel does not enforce Landlock; the run cannot be confined")
        }
        Err(e) => panic!("graded run: cannot confine the simulation's thread: {e}"),
    }
}

/// Tells the grader that the test ran to its end: prints `<nonce> pass <test> seed=...` on a line
/// of its own on standard output, which the grader reads. Only reached after every check passed,
/// so a process that exits early (even with status 0) prints no such line; only the test's own
/// thread reports, and only once per process, so a second run started by other code cannot.
pub(super) fn report_completion(g: &GraderChannel, name: &str, report: &Report) {
    use std::io::Write;
    if std::thread::current().id() != g.owner {
        panic!("{name}: a simulated test ran on a thread other than the test's: no report");
    }
    if REPORTED.swap(true, Ordering::SeqCst) {
        panic!("{name}: a second simulated test in one graded process: no report");
    }
    let completion = labspec::Completion {
        nonce: g.nonce.clone(),
        test: name.to_string(),
        seed: report.seed,
        virtual_s: report.virtual_time.as_secs_f64(),
        wall_s: report.wall_time.as_secs_f64(),
        trace: report.trace,
    };
    let line = format!("\n{completion}\n");
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
        panic!("cannot write the completion report: {e}");
    }
}
