//! FRAMEWORK FILE: do not edit. Your code goes in `client.rs`, `server.rs` and `common.rs`.
//!
//! The sharded key/value service (6.5840 lab 4B): the keys are split into
//! [`NSHARDS`](shardctrler::NSHARDS) shards by [`key2shard`], and each shard is served by one
//! replica group (a [`ShardKv`] per Raft peer) at a time, as the shard controller (lab 4A)
//! assigns them. When the assignment changes, the groups hand the shards' data to each other
//! while clients ([`Clerk`]) keep working.
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

use std::sync::Arc;

use labrpc::ClientEnd;
pub use shardctrler::{Config, Gid, NSHARDS};

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
pub use server::ShardKv;

/// Makes a client end to the server with the given name (a name from a [`Config`]'s groups).
/// Each call makes a new end; keep the ends you will use again.
pub type MakeEnd = Arc<dyn Fn(&str) -> ClientEnd + Send + Sync>;

/// The shard a key belongs to: its first byte modulo [`NSHARDS`] (shard 0 for the empty key).
/// The tester relies on this mapping: do not change it.
pub fn key2shard(key: &str) -> usize {
    key.as_bytes()
        .first()
        .map_or(0, |&b| usize::from(b) % NSHARDS)
}

#[cfg(test)]
mod tests {
    use super::key2shard;

    #[test]
    fn key2shard_is_the_first_byte_modulo_the_shards() {
        assert_eq!(key2shard(""), 0);
        assert_eq!(key2shard("0"), 8); // b'0' is 48
        assert_eq!(key2shard("9"), 7);
        assert_eq!(key2shard("19"), 9);
        assert_eq!(key2shard("a"), 7);
    }
}
