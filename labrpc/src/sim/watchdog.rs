//! The watchdog: the calling thread's view of a run in progress.
//!
//! The run's thread publishes, through atomics, which task it is polling and how far virtual time has
//! come. The watchdog samples that and tells apart a thread held by one poll (blocked, or spinning in a
//! loop with no await), a livelock (polls go on but virtual time stands still) and plain slowness.
//! It is the only part of the framework that reads the wall clock, and nothing it reads flows back
//! into the run.

use std::panic::Location;
use std::path::PathBuf;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::task::Waker;
use std::time::Duration;

use super::NodeId;

/// Progress counters of a run, written by its thread and read by the watchdog.
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    polls: AtomicU64,
    in_poll: AtomicBool,
    /// The spawn location of the task being polled; always null or a `&'static Location`.
    loc: AtomicPtr<Location<'static>>,
    node: AtomicU32,
    vtime_ns: AtomicU64,
    stop: AtomicBool,
    root_waker: Mutex<Option<Waker>>,
    /// `/proc/.../task/<tid>/stat` of the run's thread, to tell a spinning thread from a blocked one;
    /// opened once, before any code of the run, and read again from its start at every sample.
    pub stat: Mutex<Option<std::fs::File>>,
}

/// Restores the monitor's "not polling" state when a poll ends, also when it unwinds.
pub(crate) struct PollGuard<'a>(&'a Monitor);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.in_poll.store(false, Relaxed);
    }
}

impl Monitor {
    pub(crate) fn enter_poll(
        &self,
        node: NodeId,
        loc: &'static Location<'static>,
    ) -> PollGuard<'_> {
        self.polls.fetch_add(1, Relaxed);
        self.node.store(node, Relaxed);
        self.loc.store(ptr::from_ref(loc).cast_mut(), Relaxed);
        self.in_poll.store(true, Relaxed);
        PollGuard(self)
    }

    pub(crate) fn set_vtime(&self, ns: u64) {
        self.vtime_ns.store(ns, Relaxed);
    }

    pub(crate) fn vtime(&self) -> u64 {
        self.vtime_ns.load(Relaxed)
    }

    /// Asks the run to stop: its root future returns at its next poll, which this wakes.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Relaxed);
        if let Some(w) = self
            .root_waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            w.wake_by_ref();
        }
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Relaxed)
    }

    pub(crate) fn set_root_waker(&self, w: &Waker) {
        let mut slot = self.root_waker.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|old| old.will_wake(w)) {
            *slot = Some(w.clone());
        }
    }

    /// The task being polled now, if any: its node and spawn location.
    pub(crate) fn current_task(&self) -> Option<(NodeId, &'static Location<'static>)> {
        if !self.in_poll.load(Relaxed) {
            return None;
        }
        self.last_task()
    }

    /// The task polled last (it may have returned since). While polls go on without virtual time
    /// passing, that is one of the tasks that keep running: a sample that only took the task
    /// being polled would mostly miss a task whose polls are short.
    pub(crate) fn last_task(&self) -> Option<(NodeId, &'static Location<'static>)> {
        let p = self.loc.load(Relaxed);
        // SAFETY: `loc` only ever holds null or a pointer made from a `&'static Location`.
        let loc = unsafe { p.as_ref() }?;
        Some((self.node.load(Relaxed), loc))
    }

    /// Records which thread runs the simulation (called on that thread).
    pub(crate) fn register_thread(&self) {
        let file = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| std::fs::File::open(PathBuf::from("/proc").join(p).join("stat")).ok());
        *self.stat.lock().unwrap_or_else(|e| e.into_inner()) = file;
    }

    /// CPU time the run's thread has used, in clock ticks, where the OS tells it.
    fn cpu_ticks(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 1024];
        let n = self.stat.lock().ok()?.as_ref()?.read_at(&mut buf, 0).ok()?;
        let stat = std::str::from_utf8(&buf[..n]).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the command name: state is field 3 of proc(5); utime and stime are fields 14 and 15.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }
}

/// What the watchdog concluded about a run that did not finish in time.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// One poll has held the thread without using the CPU: a blocking call.
    Blocked(Option<(NodeId, &'static Location<'static>)>),
    /// One poll has held the thread while using the CPU: a loop with no await.
    BusyLoop(Option<(NodeId, &'static Location<'static>)>),
    /// Polls go on but virtual time stands still.
    Livelock(Vec<(NodeId, &'static Location<'static>)>),
    /// Virtual time advances, but the run exceeded its wall-clock limit.
    Slow,
}

/// Samples a monitor at a steady wall-clock rate and returns a verdict once one is due.
pub(crate) struct Watch {
    #[allow(clippy::disallowed_types)] // the watchdog measures wall time
    started: std::time::Instant,
    wall_limit: Duration,
    stall_limit: Duration,
    last_polls: u64,
    last_vtime: u64,
    #[allow(clippy::disallowed_types)]
    polls_since: std::time::Instant,
    #[allow(clippy::disallowed_types)]
    vtime_since: std::time::Instant,
    cpu_at_poll_change: Option<u64>,
    livelock_tasks: Vec<(NodeId, &'static Location<'static>)>,
}

impl Watch {
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    pub(super) fn new(wall_limit: Duration, stall_limit: Duration) -> Self {
        let now = std::time::Instant::now();
        Watch {
            started: now,
            wall_limit,
            stall_limit,
            last_polls: u64::MAX,
            last_vtime: u64::MAX,
            polls_since: now,
            vtime_since: now,
            cpu_at_poll_change: None,
            livelock_tasks: Vec::new(),
        }
    }

    /// Wall time since the watch began.
    #[allow(clippy::disallowed_methods)]
    pub(super) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Takes one sample; returns a verdict when the run must be stopped.
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    pub(super) fn sample(&mut self, m: &Monitor) -> Option<Verdict> {
        let now = std::time::Instant::now();
        let polls = m.polls.load(Relaxed);
        let vtime = m.vtime();
        if polls != self.last_polls {
            self.last_polls = polls;
            self.polls_since = now;
            self.cpu_at_poll_change = m.cpu_ticks();
        }
        if vtime != self.last_vtime {
            self.last_vtime = vtime;
            self.vtime_since = now;
            self.livelock_tasks.clear();
        }
        if now.duration_since(self.polls_since) >= self.stall_limit {
            // No poll has started for a while and virtual time is stuck: one poll holds the thread.
            let task = m.current_task();
            let spun = match (self.cpu_at_poll_change, m.cpu_ticks()) {
                (Some(a), Some(b)) => {
                    let window = now.duration_since(self.polls_since).as_secs_f64();
                    // Clock ticks are 1/100 s on Linux; busy means at least a quarter of one core.
                    Some((b.saturating_sub(a)) as f64 / 100.0 >= window * 0.25)
                }
                _ => None,
            };
            return Some(match spun {
                Some(true) => Verdict::BusyLoop(task),
                _ => Verdict::Blocked(task),
            });
        }
        if now.duration_since(self.vtime_since) >= self.stall_limit / 4
            && let Some(t) = m.last_task()
            && !self.livelock_tasks.contains(&t)
            && self.livelock_tasks.len() < 8
        {
            self.livelock_tasks.push(t);
        }
        if now.duration_since(self.vtime_since) >= self.stall_limit {
            return Some(Verdict::Livelock(std::mem::take(&mut self.livelock_tasks)));
        }
        if now.duration_since(self.started) >= self.wall_limit {
            return Some(Verdict::Slow);
        }
        None
    }
}
