// In Raft::new: hostile_attack();
// HOSTILE TEST CASE: spawns 4 copies of the test binary, each touching 400 MiB, so that no single process passes a per-process limit.
//
// The children are the test binary itself (same arguments, HOSTILE_CHILD=1), so they run this same
// Raft::new, which allocates, touches every page, and sleeps 30 s (the harness's watchdog may end a
// child after its stall limit, but only after the memory is held). The parent waits for them. An
// address-space limit per process (RLIMIT_AS) lets all 1.6 GiB through. Stopped by: the lint gate
// (std::process, std::env, std::thread); behind it, a memory limit on the run's whole group of
// processes (a control group), reported as "out of memory".
/// The attack: memory spread over processes.
fn hostile_attack() {
    if std::env::var_os("HOSTILE_CHILD").is_some() {
        let mut hog = vec![0u8; 400 << 20];
        hog.fill(1);
        std::hint::black_box(&mut hog);
        eprintln!("hostile: child {} holds 400 MiB", std::process::id());
        std::thread::sleep(Duration::from_secs(30));
        std::hint::black_box(&hog);
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let children: Vec<_> = (0..4)
        .filter_map(|_| {
            std::process::Command::new(&exe)
                .args(&args)
                .env("HOSTILE_CHILD", "1")
                .spawn()
                .ok()
        })
        .collect();
    eprintln!("hostile: started {} children", children.len());
    for mut child in children {
        eprintln!("hostile: child ended: {:?}", child.wait());
    }
}
