//! The sandbox every build, test listing and test run of a submission goes through.
//!
//! The grader starts itself again as `grading sandbox-exec SPEC` (the *jail*): the jail joins the
//! run's control group before anything else, so every process the run starts is capped and killed
//! with it, then starts the command in new mount, PID, network, IPC and UTS namespaces
//! (hakoniwa): the system folders and the folders the spec names read-only, the spec's writable
//! folders, a private size-capped `/tmp`, no network, and nothing else of the host (no submission
//! folder, no pristine repository, no other grading, no output folder). The command is PID 1 of
//! its namespace, so when it ends every process it left behind is killed; the grader kills the
//! control group as well, and reads the output through a pipe with a byte cap.
//!
//! With [`Protection::None`] (`--no-sandbox`) the jail only sets rlimits and a process group.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cgroup::{self, Group};

/// How runs are protected on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Namespaces, with this kind of control group for the whole run.
    Sandbox(cgroup::Kind),
    /// `--no-sandbox`: rlimits and a process group only; the results are not protected.
    None,
}

impl Protection {
    /// The line the reports start with.
    pub fn describe(self) -> String {
        match self {
            Protection::Sandbox(kind) => format!(
                "sandbox: namespaces (mount, PID, network, IPC), read-only tree, private /tmp; limits by {}",
                kind.describe()
            ),
            Protection::None => {
                "NOT PROTECTED: graded with --no-sandbox; a submission's code ran with \
                                 the grader's rights and could have changed these results"
                    .to_string()
            }
        }
    }
}

/// What one sandboxed command runs, sees and may use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub program: String,
    pub args: Vec<String>,
    /// The working directory, inside the sandbox.
    pub cwd: String,
    /// The whole environment of the command.
    pub env: Vec<(String, String)>,
    /// Host folders mounted read-only, at the given path inside.
    pub read_only: Vec<(PathBuf, String)>,
    /// Host folders mounted writable, at the given path inside.
    pub writable: Vec<(PathBuf, String)>,
    /// Size of the private `/tmp`, in MiB.
    pub tmp_mb: u64,
    /// Memory for the whole run (with a cgroup), or per process (without), in MiB.
    pub memory_mb: u64,
    /// Processes and threads at once (with a cgroup).
    pub max_tasks: u64,
    /// Largest file the command may write, in MiB.
    pub file_size_mb: u64,
    /// Filled in by [`run`]: the control group files the jail joins.
    #[serde(default)]
    pub cgroup_procs: Vec<PathBuf>,
    /// Filled in by [`run`]: whether to use namespaces.
    #[serde(default)]
    pub namespaces: bool,
}

/// What a sandboxed command did.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code (128 + signal for a signal), or `None` when it was killed at the time limit.
    pub code: Option<i32>,
    pub timed_out: bool,
    /// The kernel killed a process of the run for exceeding the memory cap.
    pub out_of_memory: bool,
    /// Its standard output and error, interleaved, cut to the cap (with a note where cut).
    pub output: String,
    /// Processes of the run still alive after it ended and was killed (always 0 in a sandbox).
    pub leftover: usize,
}

/// How much output is kept: the head, and a tail (where the harness's report line is).
const OUTPUT_HEAD: usize = 4 << 20;
const OUTPUT_TAIL: usize = 64 << 10;

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Runs `spec` under `protection`, with `input` on its standard input, for at most `timeout`.
pub fn run(
    mut spec: Spec,
    protection: Protection,
    input: &[u8],
    timeout: Duration,
) -> Result<Outcome, String> {
    let started = Instant::now();
    let group = match protection {
        Protection::Sandbox(kind @ (cgroup::Kind::V1 | cgroup::Kind::V2)) => {
            let name = format!(
                "g{}-{}",
                std::process::id(),
                SERIAL.fetch_add(1, Ordering::Relaxed)
            );
            Some(Group::create(
                kind,
                &name,
                spec.memory_mb << 20,
                spec.max_tasks,
            )?)
        }
        _ => None,
    };
    spec.cgroup_procs = group.as_ref().map(Group::procs_files).unwrap_or_default();
    spec.namespaces = matches!(protection, Protection::Sandbox(_));
    let json = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the grader: {e}"))?;
    let (reader, writer) = std::io::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| format!("cannot make a pipe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args(["sandbox-exec", &json])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(writer)
        .stderr(writer2);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    drop(cmd); // closes our copies of the pipe's write end
    if let Some(mut stdin) = child.stdin.take() {
        // A command that never reads its input must not block the grader.
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let chunks = read_capped(reader);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                timed_out = true;
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("lost the sandboxed process: {e}")),
        }
    };
    // Whatever is left: the jail's process group, then (where there is one) the whole cgroup.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    if let Some(g) = &group {
        g.kill_all();
    }
    let _ = child.wait();
    let output = collect(chunks, Duration::from_secs(2));
    let out_of_memory = group.as_ref().is_some_and(Group::oom_killed);
    let leftover = group.as_ref().map_or(0, |g| usize::from(!g.is_empty()));
    if let Some(g) = group {
        g.remove();
    }
    Ok(Outcome {
        code: if timed_out {
            None
        } else {
            status.map(exit_code)
        },
        timed_out,
        out_of_memory,
        output,
        leftover,
    })
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Reads the pipe on a thread of its own, sending chunks until every writer is gone.
fn read_capped(mut reader: std::io::PipeReader) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Keeps the head and the tail of the output; stops waiting `grace` after the run ended (a process
/// that escaped, possible only without a sandbox, may hold the pipe open for ever).
fn collect(chunks: mpsc::Receiver<Vec<u8>>, grace: Duration) -> String {
    let deadline = Instant::now() + grace;
    let mut head = Vec::new();
    let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut total = 0u64;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(chunk) = chunks.recv_timeout(left) else {
            break;
        };
        total += chunk.len() as u64;
        let room = OUTPUT_HEAD.saturating_sub(head.len());
        head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        tail.extend(&chunk[room.min(chunk.len())..]);
        while tail.len() > OUTPUT_TAIL {
            tail.pop_front();
        }
    }
    let mut text = String::from_utf8_lossy(&head).into_owned();
    if total > (head.len() + tail.len()) as u64 {
        text += &format!(
            "\n[... output cut: {} bytes in all; the first {} MiB and the last {} KiB are kept ...]\n",
            total,
            OUTPUT_HEAD >> 20,
            OUTPUT_TAIL >> 10
        );
    }
    text += &String::from_utf8_lossy(tail.make_contiguous());
    text
}

/// Checks that this machine can run the sandbox: a trivial command through it.
pub fn self_test(protection: Protection) -> Result<(), String> {
    let spec = Spec {
        program: "/bin/true".into(),
        args: Vec::new(),
        cwd: "/".into(),
        env: Vec::new(),
        read_only: Vec::new(),
        writable: Vec::new(),
        tmp_mb: 1,
        memory_mb: 256,
        max_tasks: 16,
        file_size_mb: 1,
        cgroup_procs: Vec::new(),
        namespaces: false,
    };
    let out = run(spec, protection, b"", Duration::from_secs(20))?;
    if out.code == Some(0) {
        Ok(())
    } else {
        Err(format!(
            "the sandbox does not work on this machine ({}); grade with --no-sandbox to run \
             without it (the results are then not protected)",
            out.output.trim()
        ))
    }
}

/// The jail: `grading sandbox-exec SPEC`. Joins the control group, then runs the command in its
/// namespaces; exits with the command's status.
pub fn jail_main(json: &str) -> i32 {
    let spec: Spec = match serde_json::from_str(json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sandbox: bad spec: {e}");
            return 125;
        }
    };
    for procs in &spec.cgroup_procs {
        if let Err(e) = std::fs::write(procs, "0") {
            eprintln!("sandbox: cannot join {}: {e}", procs.display());
            return 125;
        }
    }
    let result = if spec.namespaces {
        jail_namespaces(&spec)
    } else {
        jail_plain(&spec)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sandbox: {e}");
            125
        }
    }
}

fn jail_namespaces(spec: &Spec) -> Result<i32, String> {
    use hakoniwa::{Container, MountOptions, Namespace, Rlimit};
    let mut c = Container::new();
    // Inside, the command is `nobody`, not root: exec drops every capability, so it cannot
    // remount a read-only folder writable (nor, in a user namespace of its own, the mounts it
    // inherits, which the kernel locks). On the host its files still belong to the grader's user.
    c.uidmap(65534).gidmap(65534);
    c.rootfs("/").map_err(|e| e.to_string())?;
    c.unshare(Namespace::Network)
        .unshare(Namespace::Ipc)
        .unshare(Namespace::Uts)
        .unshare(Namespace::Cgroup);
    c.devfsmount("/dev");
    c.mount(
        "tmpfs",
        "/tmp",
        "tmpfs",
        MountOptions::NOSUID | MountOptions::NODEV,
        Some(format!("size={}m,mode=1777", spec.tmp_mb)),
    );
    for (host, inside) in &spec.read_only {
        c.bindmount_ro(&host.to_string_lossy(), inside);
    }
    for (host, inside) in &spec.writable {
        c.bindmount_rw(&host.to_string_lossy(), inside);
    }
    let file_size = spec.file_size_mb << 20;
    c.setrlimit(Rlimit::Fsize, file_size, file_size);
    c.setrlimit(Rlimit::Core, 0, 0);
    if spec.cgroup_procs.is_empty() {
        let memory = spec.memory_mb << 20;
        c.setrlimit(Rlimit::As, memory, memory);
    }
    let mut cmd = c.command(&spec.program);
    cmd.args(&spec.args).current_dir(&spec.cwd);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let status = cmd.status().map_err(|e| e.to_string())?;
    if status.exit_code.is_none() && status.code != 0 {
        // The sandbox itself failed (a mount, a namespace): say why.
        eprintln!("sandbox: {}", status.reason);
    }
    Ok(status.code)
}

fn jail_plain(spec: &Spec) -> Result<i32, String> {
    use nix::sys::resource::{Resource, setrlimit};
    let memory = spec.memory_mb << 20;
    let file_size = spec.file_size_mb << 20;
    setrlimit(Resource::RLIMIT_AS, memory, memory).map_err(|e| e.to_string())?;
    setrlimit(Resource::RLIMIT_FSIZE, file_size, file_size).map_err(|e| e.to_string())?;
    // Without namespaces the command sees the host's paths: translate the spec's.
    let map = |p: &str| -> String {
        for (host, inside) in spec.read_only.iter().chain(&spec.writable) {
            if let Ok(rest) = Path::new(p).strip_prefix(inside) {
                return host.join(rest).to_string_lossy().into_owned();
            }
        }
        p.to_string()
    };
    let status = Command::new(map(&spec.program))
        .args(spec.args.iter().map(|a| map(a)))
        .current_dir(map(&spec.cwd))
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, map(v))))
        .status()
        .map_err(|e| format!("cannot start {}: {e}", spec.program))?;
    Ok(exit_code(status))
}
