//! lincheck: linearizability checking for key/value histories (Get, Put, Append).
//!
//! A history records, for every client operation, when it was called, when it returned
//! (if it did) and what it returned. [`check()`] decides for each key whether the
//! operations on it could have happened one at a time, in an order that respects real
//! time (an op that returned before another was called comes first) and the semantics
//! of a key/value store. [`render_html()`] draws a history and the verdict as a
//! self-contained web page.
//!
//! ```
//! use lincheck::*;
//! let h = parse_json(r#"{"ops": [
//!   {"client": 1, "kind": "put", "key": "k", "value": "a", "call": 0, "ret": 10},
//!   {"client": 2, "kind": "get", "key": "k", "output": "", "call": 20, "ret": 30}
//! ]}"#).unwrap();
//! let r = check(&h, &CheckOptions::default());
//! assert_eq!(r.verdict, Verdict::NotLinearizable); // the read missed a completed put
//! ```
//!
//! Other data types are checked against a [`Model`] (init, step, partition by key, describe):
//! [`check_model()`] runs a search for any model, with the labs' [`KvModel`], a read/write
//! [`RegisterModel`] and a [`CasRegisterModel`] provided; [`parse_edn_register()`] reads their
//! Jepsen histories. An operation whose outcome is unknown (a timed-out call, Jepsen's `:info`)
//! may take effect at any time after its call, or never. Work is counted in steps: a check that
//! runs out of its budget is [`Verdict::Undecided`], which callers treat as a failure.
//!
//! The crate stands alone (it needs only serde and serde_json; no student code), so it is
//! optimized even in debug builds and not rebuilt after a student's edit: the KV tests use it,
//! and `cargo run --release -p grading -- check-history FILE` runs it on a saved history.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod check;
pub mod edn;
pub mod generate;
pub mod history;
pub mod html;
mod memo;
pub mod model;
pub mod oracle;
mod search;

pub use check::{CheckOptions, CheckResult, KeyResult, Verdict, check, check_model};
pub use edn::{RegisterHistory, RegisterKind, parse_edn, parse_edn_register};
pub use generate::{GenOptions, inject_stale_read, random_history};
pub use history::{Annotation, History, Op, OpKind, ParseError, parse_json};
pub use html::render_html;
pub use model::{
    CasRegisterModel, KvInput, KvModel, Model, Operation, Operations, RegisterInput, RegisterModel,
    RegisterValue, kv_operations,
};
pub use oracle::brute_force;
