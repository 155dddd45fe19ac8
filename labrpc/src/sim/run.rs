//! Running one simulated run: the runtime, the watchdog loop, failures and their messages.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Once, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

use super::trace::{Event, Tracer};
use super::watchdog::{Monitor, Verdict, Watch};
use super::{CTX, CURRENT, Ctx, NodeId, PanicRecord, Shared, fmt_time};

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fixes every random choice of the run.
    pub seed: u64,
    /// The run fails when its virtual time exceeds this (Go's per-test limit is 120 s).
    pub virtual_limit: Duration,
    /// The run fails when its wall time exceeds this.
    pub wall_limit: Duration,
    /// How long the watchdog lets the thread stay in one poll, or virtual time stand still.
    pub stall_limit: Duration,
    /// Keep every event (for the determinism check); otherwise only the digest is kept.
    pub keep_events: bool,
}

impl Options {
    /// Defaults with the given seed: 120 s virtual, 60 s wall (or `LAB_WALL_LIMIT` seconds), 3 s stall.
    pub fn with_seed(seed: u64) -> Self {
        let wall = std::env::var(labspec::env::WALL_LIMIT)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map_or(Duration::from_secs(60), Duration::from_secs_f64);
        Options {
            seed,
            virtual_limit: Duration::from_secs(120),
            wall_limit: wall,
            stall_limit: Duration::from_secs(3),
            keep_events: false,
        }
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    /// Digest of the ordered event sequence: same seed, same digest.
    pub trace: u64,
    /// Number of events in the trace.
    pub events: u64,
    pub virtual_time: Duration,
    pub wall_time: Duration,
    /// Every event, when [`Options::keep_events`] was set.
    pub event_list: Option<Vec<Event>>,
}

/// Why a run failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// A check of the test failed (a panic in the tester's own code).
    Check { message: String, location: String },
    /// A task of a simulated server panicked.
    Panic {
        node: String,
        message: String,
        location: String,
        task: String,
        backtrace: String,
    },
    /// The framework was used in a way it does not allow.
    Misuse { message: String },
    /// The run's virtual time passed its limit.
    VirtualLimit {
        limit: Duration,
        /// When the last network or trace event happened.
        last_event: Duration,
    },
    /// One poll held the thread without using the CPU.
    Blocked { task: String },
    /// One poll held the thread while using the CPU.
    BusyLoop { task: String },
    /// Tasks kept running but virtual time stood still.
    Livelock { tasks: Vec<String> },
    /// Virtual time advanced, but too slowly for the wall-clock limit.
    WallLimit { limit: Duration },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Check { message, location } => write!(f, "{message}\n  (check at {location})"),
            Failure::Panic {
                node,
                message,
                location,
                task,
                backtrace,
            } => {
                write!(
                    f,
                    "{node} panicked at {location}: {message}\n  in the task spawned at {task}"
                )?;
                if !backtrace.is_empty() {
                    write!(f, "\n{backtrace}")?;
                }
                Ok(())
            }
            Failure::Misuse { message } => write!(f, "{message}"),
            Failure::VirtualLimit { limit, last_event } => {
                write!(
                    f,
                    "the test did not finish within {}s of virtual time",
                    limit.as_secs()
                )?;
                if limit.saturating_sub(*last_event) >= Duration::from_secs(10) {
                    write!(
                        f,
                        "; nothing happened on the network after {}: every task waited on something \
                         that never came (a lock never released, a channel nobody sends on, a task \
                         awaiting itself)",
                        fmt_time(last_event.as_nanos() as u64)
                    )?;
                }
                Ok(())
            }
            Failure::Blocked { task } => write!(
                f,
                "the simulation thread is blocked in {task}: a blocking call in async code, most \
                 often a std::sync::Mutex locked again by code that already holds its guard (a \
                 helper that locks while its caller holds the lock: pass it the locked state \
                 instead), else a blocking channel recv or std::thread::sleep. The last line \
                 this task's server logged (RUST_LOG=debug) comes just before the blocking call"
            ),
            Failure::BusyLoop { task } => write!(
                f,
                "the simulation thread is spinning in {task}: a loop that never reaches an await \
                 (wait with tokio::time::sleep or a tokio::sync primitive inside loops)"
            ),
            Failure::Livelock { tasks } => {
                write!(
                    f,
                    "livelock: tasks keep running but virtual time no longer advances (a loop that \
                 yields or sleeps zero time without ever waiting for time to pass); tasks seen \
                 running: {}",
                    if tasks.is_empty() {
                        "(none sampled)".to_string()
                    } else {
                        tasks.join(", ")
                    }
                )
            }
            Failure::WallLimit { limit } => write!(
                f,
                "the test ran out of wall-clock time ({}s) while virtual time still advanced: \
                 the code is too slow (heavy work per event, or far too many RPCs); \
                 LAB_WALL_LIMIT=<secs> raises the limit",
                limit.as_secs_f64()
            ),
        }
    }
}

/// A failed run: the failure, and where the run was when it happened.
#[derive(Debug, Clone)]
pub struct RunError {
    pub failure: Failure,
    pub seed: u64,
    pub virtual_time: Duration,
    /// Each node's last event, as text.
    pub last_events: Vec<String>,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  virtual time {}, seed={}",
            self.failure,
            fmt_time(self.virtual_time.as_nanos() as u64),
            self.seed
        )?;
        if !self.last_events.is_empty() {
            write!(f, "\n  last event of each server:")?;
            for l in &self.last_events {
                write!(f, "\n    {l}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RunError {}

/// The run's root future: the test body, polled as the tester's node, stoppable by the watchdog.
struct Root<F> {
    fut: Pin<Box<F>>,
    shared: Arc<Shared>,
}

struct Stopped;

impl<F: Future> Future for Root<F> {
    type Output = Result<F::Output, Stopped>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let m = &this.shared.monitor;
        m.set_root_waker(cx.waker());
        if m.stop_requested() {
            return Poll::Ready(Err(Stopped));
        }
        let _poll = m.enter_poll(0, ROOT_LOCATION);
        this.fut.as_mut().poll(cx).map(Ok)
    }
}

/// Stands for the test body where the watchdog and the panic hook want a task's spawn location.
static ROOT_LOCATION: &Location<'static> = Location::caller();

/// Installs (once per process) the panic hook that attributes panics on simulation threads.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let Some(c) = super::try_ctx() else {
                return previous(info);
            };
            let message = info
                .payload_as_str()
                .map(str::to_string)
                .unwrap_or_else(|| "(a panic with a non-string payload)".to_string());
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let bt = std::backtrace::Backtrace::capture();
            let backtrace = match bt.status() {
                std::backtrace::BacktraceStatus::Captured => bt.to_string(),
                _ => String::new(),
            };
            let node = CURRENT.with(Cell::get);
            let task = c.shared.monitor.current_task().map(|(_, l)| l);
            let mut slot = c.shared.panic.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(PanicRecord {
                    node,
                    message,
                    location,
                    task,
                    backtrace,
                });
            }
        }));
    });
}

type Outcome<T> = Result<(T, Report), RunError>;

/// Runs `make()`'s future as one simulated run and reports how it went.
///
/// The future runs on a fresh thread (it need not be `Send`); the calling thread watches it and
/// returns a failure when it panics, blocks, spins, livelocks or passes a limit. A run stuck in a
/// blocking call cannot be killed: its thread is left behind, and the caller goes on.
#[allow(clippy::result_large_err)] // one result per run: its size does not matter
pub fn run<T, Fut, F>(opts: Options, make: F) -> Outcome<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    install_panic_hook();
    let shared = Arc::new(Shared {
        monitor: Monitor::default(),
        tracer: Mutex::new(Tracer::new(opts.keep_events)),
        panic: Mutex::new(None),
        misuse: Mutex::new(None),
        node_names: Mutex::new(Vec::new()),
    });
    let (tx, rx) = mpsc::channel();
    let thread_shared = shared.clone();
    let thread_opts = opts.clone();
    let mut watch = Watch::new(opts.wall_limit, opts.stall_limit);
    #[allow(clippy::disallowed_methods)] // the simulation's own thread
    let spawned = std::thread::Builder::new()
        .name(std::thread::current().name().unwrap_or("sim").to_string())
        .stack_size(32 << 20)
        .spawn(move || {
            let r = sim_thread(thread_opts, thread_shared, make);
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(error(
            &shared,
            opts.seed,
            Failure::Misuse {
                message: format!("could not start the simulation thread: {e}"),
            },
        ));
    }
    let tick = Duration::from_millis(50).min(opts.stall_limit / 4);
    loop {
        match rx.recv_timeout(tick) {
            Ok(Ok((v, mut report))) => {
                report.wall_time = watch.elapsed();
                return Ok((v, report));
            }
            Ok(Err(failure)) => return Err(error(&shared, opts.seed, failure)),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(error(
                    &shared,
                    opts.seed,
                    Failure::Misuse {
                        message: "the simulation thread ended without a result".into(),
                    },
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let Some(verdict) = watch.sample(&shared.monitor) else {
            continue;
        };
        shared.monitor.request_stop();
        let failure = match verdict {
            Verdict::Blocked(t) => Failure::Blocked {
                task: task_name(&shared, t),
            },
            Verdict::BusyLoop(t) => Failure::BusyLoop {
                task: task_name(&shared, t),
            },
            Verdict::Livelock(ts) => Failure::Livelock {
                tasks: ts
                    .into_iter()
                    .map(|t| task_name(&shared, Some(t)))
                    .collect(),
            },
            Verdict::Slow => Failure::WallLimit {
                limit: opts.wall_limit,
            },
        };
        // A run that can still reach an await stops now; give it a moment so its thread ends.
        let _ = rx.recv_timeout(Duration::from_millis(500));
        return Err(error(&shared, opts.seed, failure));
    }
}

fn task_name(shared: &Shared, t: Option<(NodeId, &'static Location<'static>)>) -> String {
    match t {
        None => "the runtime itself, outside any task (a Drop implementation?)".to_string(),
        Some((_, loc)) if std::ptr::eq(loc, ROOT_LOCATION) => "the test body".to_string(),
        Some((node, loc)) => format!("{}'s task spawned at {loc}", shared.node_name(node)),
    }
}

fn error(shared: &Shared, seed: u64, failure: Failure) -> RunError {
    let tracer = shared.tracer.lock().unwrap_or_else(|e| e.into_inner());
    let last_events = tracer
        .last_by_node
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            Some(format!(
                "{}: {}",
                shared.node_name(i as NodeId),
                e.as_ref()?
            ))
        })
        .collect();
    RunError {
        failure,
        seed,
        virtual_time: Duration::from_nanos(shared.monitor.vtime()),
        last_events,
    }
}

/// The body of the simulation thread.
fn sim_thread<T, Fut, F>(
    opts: Options,
    shared: Arc<Shared>,
    make: F,
) -> Result<(T, Report), Failure>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    shared.monitor.register_thread();
    let mut seed_bytes = [0u8; 16];
    seed_bytes[..8].copy_from_slice(&opts.seed.to_le_bytes());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .rng_seed(tokio::runtime::RngSeed::from_bytes(&seed_bytes))
        .unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime)
        .on_thread_unpark(|| {
            if let Some(c) = super::try_ctx() {
                c.shared.monitor.set_vtime(super::now().as_nanos() as u64);
            }
        })
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            return Err(Failure::Misuse {
                message: format!("cannot build the runtime: {e}"),
            });
        }
    };
    // From here on the run's code executes on this thread: in a graded run, it opens no file.
    super::testing::confine_if_graded();
    let start = {
        let _g = rt.enter();
        tokio::time::Instant::now()
    };
    let ctx = Rc::new(Ctx {
        seed: opts.seed,
        start,
        nodes: RefCell::new(Vec::new()),
        shared: shared.clone(),
        streams: Cell::new(0),
    });
    CTX.with(|c| *c.borrow_mut() = Some(ctx));
    CURRENT.with(|c| c.set(0));
    let tester = rt.block_on(async { super::Node::new("tester") });
    debug_assert_eq!(tester.id(), 0);

    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let root = {
            let _g = rt.enter();
            Root {
                fut: Box::pin(make()),
                shared: shared.clone(),
            }
        };
        rt.block_on(async { tokio::time::timeout(opts.virtual_limit, root).await })
    }));
    let vtime = {
        let _g = rt.enter();
        super::now()
    };
    shared.monitor.set_vtime(vtime.as_nanos() as u64);
    // Drop every remaining task while the context is still there.
    drop(rt);
    CTX.with(|c| *c.borrow_mut() = None);

    let misuse = shared
        .misuse
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let panic = shared
        .panic
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let value = match outcome {
        _ if misuse.is_some() => {
            return Err(Failure::Misuse {
                message: misuse.unwrap_or_default(),
            });
        }
        Ok(Ok(Ok(v))) => v,
        Ok(Ok(Err(Stopped))) => {
            return Err(Failure::Misuse {
                message: "the run was stopped by its watchdog".into(),
            });
        }
        Ok(Err(_elapsed)) => {
            let last = shared
                .tracer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last_at_ns;
            return Err(Failure::VirtualLimit {
                limit: opts.virtual_limit,
                last_event: Duration::from_nanos(last),
            });
        }
        Err(payload) => return Err(panic_failure(&shared, panic, payload)),
    };
    let tracer = std::mem::take(&mut *shared.tracer.lock().unwrap_or_else(|e| e.into_inner()));
    Ok((
        value,
        Report {
            seed: opts.seed,
            trace: tracer.digest(),
            events: tracer.count,
            virtual_time: vtime,
            wall_time: Duration::ZERO,
            event_list: tracer.list,
        },
    ))
}

fn panic_failure(
    shared: &Shared,
    record: Option<PanicRecord>,
    payload: Box<dyn std::any::Any + Send>,
) -> Failure {
    let Some(p) = record else {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        return Failure::Check {
            message,
            location: String::new(),
        };
    };
    // The tester's node runs only the test's own code: its panics are failed checks. Code under
    // test runs on its servers' nodes, even when the tester calls into it.
    if p.node == 0 {
        Failure::Check {
            message: p.message,
            location: p.location,
        }
    } else {
        Failure::Panic {
            node: shared.node_name(p.node).to_string(),
            message: p.message,
            location: p.location,
            task: p.task.map_or_else(|| "(unknown)".into(), |l| l.to_string()),
            backtrace: p.backtrace,
        }
    }
}
