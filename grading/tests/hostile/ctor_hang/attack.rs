// HOSTILE TEST CASE: (must not compile) a static constructor in .init_array that sleeps forever, before main (hangs even `--list`).
//
// Stopped by: #![forbid(unsafe_code)] in raft/src/lib.rs (link_section is unsafe); were it built, the
// grader's time limit on every command it runs from the test binary, `--list` included.
/// Runs before main, from the dynamic loader.
extern "C" fn hostile_hang() {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static HOSTILE_CTOR: extern "C" fn() = hostile_hang;
