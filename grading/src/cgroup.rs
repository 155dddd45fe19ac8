//! Control groups that cap a whole sandboxed run (every process it starts) in memory and task
//! count, tell whether it ran out of memory, and kill all of it at the end.
//!
//! cgroup v2 where the machine has it with the memory and pids controllers; else cgroup v1's
//! memory and pids hierarchies; else none (the sandbox then falls back to per-process rlimits and
//! the report says so).

use std::path::{Path, PathBuf};

/// Which kind of control group this machine gives a grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    V2,
    V1,
    /// No usable cgroup: per-process limits only.
    None,
}

impl Kind {
    /// Finds out, by creating (and removing) a probe group.
    pub fn detect() -> Kind {
        let probe = |kind| {
            Group::create(kind, &format!("probe-{}", std::process::id()), 1 << 30, 64)
                .map(|g| g.remove())
                .is_ok()
        };
        if probe(Kind::V2) {
            Kind::V2
        } else if probe(Kind::V1) {
            Kind::V1
        } else {
            Kind::None
        }
    }

    /// How a report names what caps a run.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::V2 => "cgroup v2 (memory and task count for the whole run)",
            Kind::V1 => "cgroup v1 (memory and task count for the whole run)",
            Kind::None => "rlimits only (address space per process; no task cap: no usable cgroup)",
        }
    }
}

const V2_ROOT: &str = "/sys/fs/cgroup";
const V1_MEMORY: &str = "/sys/fs/cgroup/memory";
const V1_PIDS: &str = "/sys/fs/cgroup/pids";
/// The parent of every grading group, so that a crashed grader's leftovers are easy to find.
const PARENT: &str = "raftlab-grading";

/// One run's control group (in v1, one directory per hierarchy).
#[derive(Debug)]
pub struct Group {
    kind: Kind,
    dirs: Vec<PathBuf>,
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("{}: {e}", path.display()))
}

fn mkdir(path: &Path) -> Result<(), String> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl Group {
    /// Creates the group `name` with a memory cap (bytes, swap included where the kernel counts
    /// it) and a cap on the number of tasks (processes and threads).
    pub fn create(kind: Kind, name: &str, memory: u64, tasks: u64) -> Result<Group, String> {
        match kind {
            Kind::V2 => {
                let root = Path::new(V2_ROOT);
                let controllers = std::fs::read_to_string(root.join("cgroup.controllers"))
                    .map_err(|e| format!("no cgroup v2: {e}"))?;
                if !(controllers.contains("memory") && controllers.contains("pids")) {
                    return Err("cgroup v2 lacks the memory or pids controller".into());
                }
                let parent = root.join(PARENT);
                mkdir(&parent)?;
                // Enabling controllers for children: in the root, then in our parent.
                let _ = write(&root.join("cgroup.subtree_control"), "+memory +pids");
                write(&parent.join("cgroup.subtree_control"), "+memory +pids")?;
                let dir = parent.join(name);
                mkdir(&dir)?;
                let group = Group {
                    kind,
                    dirs: vec![dir.clone()],
                };
                write(&dir.join("memory.max"), &memory.to_string())?;
                let _ = write(&dir.join("memory.swap.max"), "0");
                write(&dir.join("pids.max"), &tasks.to_string())?;
                Ok(group)
            }
            Kind::V1 => {
                let mem = Path::new(V1_MEMORY).join(PARENT);
                let pids = Path::new(V1_PIDS).join(PARENT);
                mkdir(&mem)?;
                mkdir(&pids)?;
                let group = Group {
                    kind,
                    dirs: vec![mem.join(name), pids.join(name)],
                };
                mkdir(&group.dirs[0])?;
                mkdir(&group.dirs[1])?;
                write(
                    &group.dirs[0].join("memory.limit_in_bytes"),
                    &memory.to_string(),
                )?;
                // Counting swap too, where the kernel accounts it.
                let _ = write(
                    &group.dirs[0].join("memory.memsw.limit_in_bytes"),
                    &memory.to_string(),
                );
                write(&group.dirs[1].join("pids.max"), &tasks.to_string())?;
                Ok(group)
            }
            Kind::None => Err("no cgroup".into()),
        }
    }

    /// The `cgroup.procs` files that a process writes `0` into to join the group.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The processes in the group.
    fn pids(&self) -> Vec<i32> {
        let text = std::fs::read_to_string(&self.procs_files()[0]).unwrap_or_default();
        text.lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// Whether the kernel killed a process of the group for exceeding its memory cap.
    pub fn oom_killed(&self) -> bool {
        let file = match self.kind {
            Kind::V2 => "memory.events",
            _ => "memory.oom_control",
        };
        let text = std::fs::read_to_string(self.dirs[0].join(file)).unwrap_or_default();
        let count = text.lines().find_map(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u64>().ok())
        });
        count.is_some_and(|n| n > 0)
    }

    /// Kills every process in the group and waits until none is left (or gives up after ~5 s).
    pub fn kill_all(&self) {
        // cgroup v2 kills the whole group at once; else each process, again until none is left
        // (the task cap stops a fork bomb from outrunning the loop).
        let killed_by_kernel =
            self.kind == Kind::V2 && write(&self.dirs[0].join("cgroup.kill"), "1").is_ok();
        for _ in 0..500 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            if !killed_by_kernel {
                for pid in pids {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Whether no process is left in the group.
    pub fn is_empty(&self) -> bool {
        self.pids().is_empty()
    }

    /// Kills what is left and removes the group.
    pub fn remove(self) {
        self.kill_all();
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}
