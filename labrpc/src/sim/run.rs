//! Running one simulated run: the runtime, its thread, the watchdog loop, and what went wrong.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Once, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::Runtime;

use super::context::{CTX, CURRENT, Ctx, PanicRecord, Shared, try_ctx};
use super::node::{Node, NodeId};
use super::timeline::{Recorder, Timeline};
use super::trace::Tracer;
use super::watchdog::{CallSite, Culprit, Monitor, Verdict, Watch};
use crate::harness::{Failure, Options, Report, RunError};

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
            let Some(c) = try_ctx() else {
                return previous(info);
            };
            let _hook = c.shared.monitor.enter_panic_hook();
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
            let call = task.and_then(|_| c.shared.monitor.current_call());
            let mut slot = c.shared.panic.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(PanicRecord {
                    node,
                    message,
                    location,
                    task,
                    call,
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
        timeline: opts.timeline.then(|| Mutex::new(Recorder::default())),
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
        let failure = watchdog_failure(&shared, verdict, opts.wall_limit);
        // A run that can still reach an await stops now; give it a moment so its thread ends.
        let _ = rx.recv_timeout(Duration::from_millis(500));
        return Err(error(&shared, opts.seed, failure));
    }
}

/// The failure the watchdog's verdict stands for.
fn watchdog_failure(shared: &Shared, verdict: Verdict, wall_limit: Duration) -> Failure {
    match verdict {
        Verdict::Blocked(c) => Failure::Blocked {
            task: task_name(shared, c),
        },
        Verdict::BusyLoop(c) => Failure::BusyLoop {
            task: task_name(shared, c),
        },
        Verdict::Livelock(cs) => Failure::Livelock {
            tasks: cs.into_iter().map(|c| task_name(shared, c)).collect(),
        },
        Verdict::Slow => Failure::WallLimit { limit: wall_limit },
    }
}

/// Where the thread was, for a message: the student's method when the tester had called into it,
/// else the task.
fn task_name(shared: &Shared, c: Culprit) -> String {
    match (c.task, c.call) {
        (None, _) => "the runtime itself, outside any task (a Drop implementation?)".to_string(),
        (Some((node, _)), Some(call)) => call_name(&shared.node_name(node), call),
        (Some((_, loc)), None) if std::ptr::eq(loc, ROOT_LOCATION) => "the test body".to_string(),
        (Some((node, loc)), None) => format!("{}'s task spawned at {loc}", shared.node_name(node)),
    }
}

fn call_name(node: &str, call: CallSite) -> String {
    format!(
        "the student's {} on {node} (called by the tester at {})",
        call.method, call.caller
    )
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
        timeline: take_timeline(shared, shared.monitor.vtime()).map(Box::new),
    }
}

/// The run's timeline up to `end_ns`, when it recorded one.
fn take_timeline(shared: &Shared, end_ns: u64) -> Option<Timeline> {
    let rec = shared.timeline.as_ref()?;
    let mut r = rec.lock().unwrap_or_else(|e| e.into_inner());
    Some(r.take(end_ns))
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
    let rt = build_runtime(opts.seed)?;
    // A recording run captures its servers' log lines on this thread only.
    let _capture = opts
        .timeline
        .then(|| tracing::subscriber::set_default(super::log::recording_subscriber(opts.quiet)));
    // From here on the run's code executes on this thread: in a graded run, it opens no file.
    crate::harness::confine_if_graded();
    enter_context(&rt, opts.seed, &shared);

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

    let value = settle(&opts, &shared, outcome)?;
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
            timeline: take_timeline(&shared, vtime.as_nanos() as u64),
        },
    ))
}

/// The run's runtime: one thread, paused clock, tokio's own choices seeded by the run's seed.
fn build_runtime(seed: u64) -> Result<Runtime, Failure> {
    let mut seed_bytes = [0u8; 16];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .rng_seed(tokio::runtime::RngSeed::from_bytes(&seed_bytes))
        .unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime)
        .on_thread_unpark(|| {
            if let Some(c) = try_ctx() {
                c.shared.monitor.set_vtime(super::now().as_nanos() as u64);
            }
        })
        .build()
        .map_err(|e| Failure::Misuse {
            message: format!("cannot build the runtime: {e}"),
        })
}

/// Installs the run's context on this thread, with the tester's node (node 0) as the current one.
fn enter_context(rt: &Runtime, seed: u64, shared: &Arc<Shared>) {
    let start = {
        let _g = rt.enter();
        tokio::time::Instant::now()
    };
    let ctx = Rc::new(Ctx {
        seed,
        start,
        nodes: RefCell::new(Vec::new()),
        shared: shared.clone(),
        streams: Cell::new(0),
    });
    CTX.with(|c| *c.borrow_mut() = Some(ctx));
    CURRENT.with(|c| c.set(0));
    let tester = rt.block_on(async { Node::new("tester") });
    debug_assert_eq!(tester.id(), 0);
}

/// What the root future's end means: its value, or the failure (a misuse the framework reported
/// wins over everything else, then a watchdog stop, the virtual limit, a panic).
type RootOutcome<T> = std::thread::Result<Result<Result<T, Stopped>, tokio::time::error::Elapsed>>;

fn settle<T>(opts: &Options, shared: &Shared, outcome: RootOutcome<T>) -> Result<T, Failure> {
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
    match outcome {
        _ if misuse.is_some() => Err(Failure::Misuse {
            message: misuse.unwrap_or_default(),
        }),
        Ok(Ok(Ok(v))) => Ok(v),
        Ok(Ok(Err(Stopped))) => Err(Failure::Misuse {
            message: "the run was stopped by its watchdog".into(),
        }),
        Ok(Err(_elapsed)) => {
            let last = shared
                .tracer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last_at_ns;
            Err(Failure::VirtualLimit {
                limit: opts.virtual_limit,
                last_event: Duration::from_nanos(last),
            })
        }
        Err(payload) => Err(panic_failure(shared, panic, payload)),
    }
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
            task: match (p.call, p.task) {
                (Some(call), _) => call_name(&shared.node_name(p.node), call),
                (None, Some(l)) => format!("the task spawned at {l}"),
                (None, None) => "an unknown task".into(),
            },
            backtrace: p.backtrace,
        }
    }
}
