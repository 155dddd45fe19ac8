//! The watchdog: the calling thread's view of a run in progress.
//!
//! The run's thread publishes, through atomics, which task it is polling and how far virtual time has
//! come. The watchdog samples that and tells apart a thread held by one poll (blocked, or spinning in a
//! loop with no await, told apart by the thread's scheduler state), a livelock (polls go on but
//! virtual time stands still) and plain slowness.
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
    /// Set while the panic hook records a panic (resolving a backtrace can take seconds under load):
    /// the framework's own work, not a poll that holds the thread.
    in_panic_hook: AtomicBool,
    root_waker: Mutex<Option<Waker>>,
    /// The tester's call into code under test in progress, if any (see [`super::student_call`]).
    call: Mutex<Option<CallSite>>,
    /// `/proc/.../task/<tid>/stat` of the run's thread, to tell a spinning thread from a blocked one;
    /// opened once, before any code of the run, and read again from its start at every sample while
    /// one poll holds the thread.
    pub stat: Mutex<Option<std::fs::File>>,
}

/// A call from the tester into code under test: the student's method and the tester's line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallSite {
    pub(crate) method: &'static str,
    pub(crate) caller: &'static Location<'static>,
}

/// Restores the call the monitor showed before a [`CallSite`] was entered, also when it unwinds.
pub(crate) struct CallGuard<'a> {
    monitor: &'a Monitor,
    previous: Option<CallSite>,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        *self.monitor.call.lock().unwrap_or_else(|e| e.into_inner()) = self.previous;
    }
}

/// Ends the panic hook's mark on the monitor.
pub(crate) struct PanicHookGuard<'a>(&'a Monitor);

impl Drop for PanicHookGuard<'_> {
    fn drop(&mut self) {
        self.0.in_panic_hook.store(false, Relaxed);
    }
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

    /// Marks the panic hook's work, until the guard drops.
    pub(crate) fn enter_panic_hook(&self) -> PanicHookGuard<'_> {
        self.in_panic_hook.store(true, Relaxed);
        PanicHookGuard(self)
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

    /// Shows `site` as the call in progress until the guard drops.
    pub(crate) fn enter_call(&self, site: CallSite) -> CallGuard<'_> {
        let previous = self
            .call
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(site);
        CallGuard {
            monitor: self,
            previous,
        }
    }

    /// The tester's call into code under test in progress, if any.
    pub(crate) fn current_call(&self) -> Option<CallSite> {
        *self.call.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The task being polled now, if any: its node and spawn location.
    pub(crate) fn current_task(&self) -> Option<(NodeId, &'static Location<'static>)> {
        if !self.in_poll.load(Relaxed) {
            return None;
        }
        self.last_task()
    }

    /// What holds the thread now: the task being polled and the student call it is in.
    fn culprit(&self) -> Culprit {
        let task = self.current_task();
        Culprit {
            task,
            call: task.and_then(|_| self.current_call()),
        }
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

    /// The run's thread's scheduler state (field 3 of proc(5)'s `stat`), where the OS tells it.
    fn thread_state(&self) -> Option<ThreadState> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 1024];
        let n = self.stat.lock().ok()?.as_ref()?.read_at(&mut buf, 0).ok()?;
        let stat = std::str::from_utf8(&buf[..n]).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: the state follows it.
        let state = stat[stat.rfind(')')? + 1..].split_whitespace().next()?;
        Some(match state {
            "R" => ThreadState::Runnable,
            _ => ThreadState::Sleeping,
        })
    }
}

/// What the scheduler says the run's thread is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThreadState {
    /// Running, or ready to run and waiting for a CPU (a spinning thread on a loaded machine).
    Runnable,
    /// Waiting for something (a lock, a channel, a timer, I/O), or stopped.
    Sleeping,
}

/// Scheduler states of the run's thread seen since the last poll began.
#[derive(Debug, Default, Clone, Copy)]
struct StateCounts {
    runnable: u32,
    sleeping: u32,
}

impl StateCounts {
    fn add(&mut self, s: ThreadState) {
        match s {
            ThreadState::Runnable => self.runnable += 1,
            ThreadState::Sleeping => self.sleeping += 1,
        }
    }

    fn total(self) -> u32 {
        self.runnable + self.sleeping
    }
}

/// Where the run's thread was: the task (node and spawn location; `None` outside any task) and,
/// when the tester had called into code under test there, that call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Culprit {
    pub(crate) task: Option<(NodeId, &'static Location<'static>)>,
    pub(crate) call: Option<CallSite>,
}

/// What the watchdog concluded about a run that did not finish in time.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// One poll has held the thread while it slept: a blocking call.
    Blocked(Culprit),
    /// One poll has held the thread while it ran or waited for a CPU: a loop with no await.
    BusyLoop(Culprit),
    /// Polls go on but virtual time stands still.
    Livelock(Vec<Culprit>),
    /// Virtual time advances, but the run exceeded its wall-clock limit.
    Slow,
}

/// Samples a monitor at a steady wall-clock rate and returns a verdict once one is due.
///
/// Blocked or spinning is decided from the run thread's scheduler state, sampled at every sample
/// while one poll holds the thread: a thread that sleeps is blocked, one that runs or waits for a
/// CPU spins. Unlike CPU time, this holds on a loaded machine, where a spinning thread is runnable
/// but gets little of a CPU.
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
    /// The thread's states at the samples since the last poll began (the sample that saw it
    /// begin excluded: the thread was busy with other polls just before).
    states: StateCounts,
    /// Samples that saw a new poll since virtual time last moved.
    poll_changes: u32,
    livelock_tasks: Vec<Culprit>,
}

/// Fewest state samples a blocked-or-spinning verdict rests on, when the OS gives the state (the
/// run loop samples four times per stall limit or more often; a starved watchdog may sample less).
const MIN_STATE_SAMPLES: u32 = 3;

/// Samples that must see new polls, within a stall of virtual time, for a livelock verdict.
const LIVELOCK_POLL_CHANGES: u32 = 3;

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
            states: StateCounts::default(),
            poll_changes: 0,
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
        let in_hook = m.in_panic_hook.load(Relaxed);
        let new_poll = polls != self.last_polls;
        if new_poll || in_hook {
            self.last_polls = polls;
            self.polls_since = now;
            self.states = StateCounts::default();
            self.poll_changes += 1;
        } else if let Some(s) = m.thread_state() {
            self.states.add(s);
        }
        if vtime != self.last_vtime || in_hook {
            self.last_vtime = vtime;
            self.vtime_since = now;
            self.poll_changes = 0;
            self.livelock_tasks.clear();
        }
        let held = now.duration_since(self.polls_since);
        if held >= self.stall_limit {
            // No poll has started for a while and virtual time is stuck: one poll holds the thread.
            if self.states.total() < MIN_STATE_SAMPLES
                && held < self.stall_limit * 2
                && m.thread_state().is_some()
            {
                return None; // too few samples yet (a starved watchdog): look a little longer
            }
            return Some(self.held_verdict(m.culprit()));
        }
        if now.duration_since(self.vtime_since) >= self.stall_limit / 4 {
            self.note_livelock_task(m);
        }
        // A livelock only while polls go on: new polls seen now and at a few samples before. One
        // poll that began late in the stall (a slow start on a loaded machine) and holds the
        // thread gets the verdict above instead, once it has held it long enough.
        if now.duration_since(self.vtime_since) >= self.stall_limit
            && new_poll
            && self.poll_changes >= LIVELOCK_POLL_CHANGES
        {
            return Some(Verdict::Livelock(std::mem::take(&mut self.livelock_tasks)));
        }
        if now.duration_since(self.started) >= self.wall_limit {
            return Some(Verdict::Slow);
        }
        None
    }

    /// Blocked or spinning, from the states sampled while the poll held the thread: spinning when
    /// the thread was runnable in most samples. Without the state (no `/proc`, e.g. on macOS) the
    /// two cannot be told apart, and the verdict is blocked, the more common cause.
    fn held_verdict(&self, culprit: Culprit) -> Verdict {
        if self.states.runnable * 2 > self.states.total() {
            Verdict::BusyLoop(culprit)
        } else {
            Verdict::Blocked(culprit)
        }
    }

    /// Notes the task polled last (and the student call it is in, if it is still being polled)
    /// among the tasks seen running while virtual time stands still.
    fn note_livelock_task(&mut self, m: &Monitor) {
        let Some(task) = m.last_task() else { return };
        let call = m.current_task().and_then(|_| m.current_call());
        if let Some(seen) = self
            .livelock_tasks
            .iter_mut()
            .find(|c| c.task == Some(task))
        {
            seen.call = seen.call.or(call);
        } else if self.livelock_tasks.len() < 8 {
            self.livelock_tasks.push(Culprit {
                task: Some(task),
                call,
            });
        }
    }
}
