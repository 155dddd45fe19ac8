//! The sandbox's jail on its own (`grading sandbox-exec SPEC`), with a shell instead of a test: what
//! a command that escaped every other layer could still do. It must not write a read-only folder
//! (not even by remounting it, nor from a user namespace of its own), see the host's other folders,
//! reach the network, or leave a process behind.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("sandbox")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `script` with /bin/sh in the jail, with `ro` mounted read-only at /ro; returns its output.
fn jail(script: &str, ro: &std::path::Path) -> String {
    let spec = serde_json::json!({
        "program": "/bin/sh",
        "args": ["-c", script],
        "cwd": "/",
        "env": [["PATH", "/usr/bin:/bin:/usr/sbin:/sbin"]],
        "read_only": [[ro, "/ro"]],
        "writable": [],
        "tmp_mb": 8,
        "memory_mb": 512,
        "max_tasks": 64,
        "file_size_mb": 4,
        "cgroup_procs": [],
        "namespaces": true,
    });
    let out = Command::new(env!("CARGO_BIN_EXE_grading"))
        .args(["sandbox-exec", &spec.to_string()])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_read_only_folder_stays_read_only() {
    let ro = scratch("ro");
    let out = jail(
        "mount -o remount,rw,bind /ro; touch /ro/a; \
         unshare -Urm sh -c 'mount -o remount,rw,bind /ro; touch /ro/b'; \
         umount /ro; touch /ro/c; touch /usr/d; id -u",
        &ro,
    );
    let left: Vec<_> = std::fs::read_dir(&ro).unwrap().flatten().collect();
    assert!(left.is_empty(), "the command wrote {left:?}:\n{out}");
    assert!(!std::path::Path::new("/usr/d").exists(), "{out}");
    assert!(
        out.lines().any(|l| l.trim() == "65534"),
        "it ran as root: {out}"
    );
}

#[test]
fn the_host_the_network_and_leftovers_are_out_of_reach() {
    let ro = scratch("ro2");
    let marker = scratch("host-secret").join("secret.txt");
    std::fs::write(&marker, "HOST-SECRET-5c1d").unwrap();
    let script = format!(
        "cat {} 2>&1; ls /work /root /home 2>&1; \
         (setsid sleep 301 &); (sleep 301 &); \
         ip -o link 2>&1 | grep -v ' lo:' | wc -l; \
         head -c 20000000 /dev/zero > /tmp/big 2>&1; ls -l /tmp/big 2>&1",
        marker.display()
    );
    let out = jail(&script, &ro);
    assert!(!out.contains("HOST-SECRET"), "{out}");
    assert!(out.contains("No such file"), "{out}");
    // Only the loopback device: no way out.
    assert!(out.lines().any(|l| l.trim() == "0"), "{out}");
    // /tmp is private and capped (4 MiB files, 8 MiB in all): the 20 MB file was cut.
    assert!(!out.contains("20000000"), "{out}");
    // The command was PID 1 of its namespace: its children died with it.
    let left = Command::new("pgrep")
        .args(["-f", "sleep 301"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "left behind: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}
