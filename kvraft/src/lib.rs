//! FRAMEWORK FILE: do not edit. Your code goes in `client.rs`, `server.rs` and `common.rs`.
//!
//! The KV lab (6.5840 lab 3): a linearizable key/value service replicated with Raft. Clients use
//! a [`Clerk`]; each [`KvServer`] runs one Raft peer and applies the operations Raft commits.
// Graded code may not use unsafe code, nor what the crate's clippy.toml disallows (files,
// processes, the environment, threads, the network, the harness's own entry points): `cargo clippy`
// shows each use as an error, and the grader gives a submission with one 0 points. No `allow` in
// a student file can lift a `forbid`.
#![forbid(unsafe_code)]
#![forbid(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

// The student's files, or the reference solution's when the `reference` feature is on (or the
// second, independent solution's with `alternative`, which the tests must not punish either).
#[cfg_attr(feature = "reference", path = "reference/client.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/client.rs"
)]
mod client;
#[cfg_attr(feature = "reference", path = "reference/common.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/common.rs"
)]
mod common;
#[cfg_attr(feature = "reference", path = "reference/server.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/server.rs"
)]
mod server;

pub use client::Clerk;
pub use server::KvServer;
