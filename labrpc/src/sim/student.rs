//! Calls from the tester into code under test, named so that a failure inside one names the
//! student's method rather than the tester's helper task.
//!
//! For testers: wrap each call into the student's code (`Raft::start`, `Clerk::get`, ...) in
//! [`student_call`] (async) or [`student_call_sync`]. While the call runs, the watchdog's blocked
//! and busy-loop verdicts and the panic report say "the student's Raft::start on raft-1 (called by
//! the tester at src/raft_tester.rs:375:9)". It changes only those messages, never the run: the
//! student lints allow it, as a student who calls it can only rename where their own code stops.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::context::try_ctx;
use super::watchdog::CallSite;

/// Runs `f`, a call into code under test named `method` (e.g. `"Raft::kill"`), as one student call.
#[track_caller]
pub fn student_call_sync<R>(method: &'static str, f: impl FnOnce() -> R) -> R {
    in_call(
        CallSite {
            method,
            caller: Location::caller(),
        },
        f,
    )
}

/// Wraps `fut`, a call into code under test named `method` (e.g. `"Raft::start"`): the call is
/// shown as in progress whenever the wrapped future is being polled, and only then.
#[track_caller]
pub fn student_call<F: Future>(method: &'static str, fut: F) -> StudentCall<F> {
    StudentCall {
        fut: Box::pin(fut),
        site: CallSite {
            method,
            caller: Location::caller(),
        },
    }
}

/// The future [`student_call`] returns: `fut`'s output, with the call named while it is polled.
#[derive(Debug)]
pub struct StudentCall<F> {
    fut: Pin<Box<F>>,
    site: CallSite,
}

impl<F: Future> Future for StudentCall<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        in_call(this.site, || this.fut.as_mut().poll(cx))
    }
}

/// Runs `f` with `site` shown as the call in progress (restored after, also when `f` unwinds).
fn in_call<R>(site: CallSite, f: impl FnOnce() -> R) -> R {
    let Some(c) = try_ctx() else {
        return f();
    };
    let _call = c.shared.monitor.enter_call(site);
    f()
}
