// In Raft::new: let _ = std::hint::black_box(HOSTILE_FOREVER);
// HOSTILE TEST CASE: a constant whose evaluation never ends, with the compiler's long-running-const-eval lint allowed.
//
// Counts a u64 through all 2^64 values at compile time: rustc keeps evaluating (warning now and then)
// instead of stopping. Stopped by: the grader's build timeout, which must kill the whole build (rustc
// included) and release the build lock, reported as "did not finish within N s".
/// Never finishes evaluating.
#[allow(long_running_const_eval)]
const HOSTILE_FOREVER: u64 = {
    let mut i: u64 = 0;
    loop {
        i = i.wrapping_add(1);
        if i == 0 {
            break i;
        }
    }
};
