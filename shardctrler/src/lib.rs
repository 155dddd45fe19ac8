//! FRAMEWORK FILE: do not edit. Your code goes in `client.rs`, `server.rs` and `common.rs`.
//!
//! The shard controller (6.5840 lab 4A): a Raft-replicated service that decides which replica
//! group serves each of the [`NSHARDS`] shards of the sharded key/value service (lab 4B). Its
//! history is a numbered sequence of [`Config`]s: every Join, Leave and Move makes the next one.
//! Clients and the shardkv servers use a [`Clerk`]; each [`ShardCtrler`] runs one Raft peer.
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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
pub use server::ShardCtrler;

/// The number of shards the key space is split into.
pub const NSHARDS: usize = 10;

/// A replica group's id. 0 is no group: the shards of config 0 all belong to it.
pub type Gid = u64;

/// One configuration: which group serves each shard, and which servers make up each group.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Its number: config 0 is the initial one, each Join, Leave and Move makes the next.
    pub num: u64,
    /// The group serving each shard (0: none).
    pub shards: [Gid; NSHARDS],
    /// The servers of each group, by name (turn a name into a `ClientEnd` with the `make_end`
    /// the shardkv tester gives you). A `BTreeMap`, so every replica iterates it in one order.
    pub groups: BTreeMap<Gid, Vec<String>>,
}

impl Config {
    /// How many shards each group of the config serves (groups serving none count 0).
    pub fn shard_counts(&self) -> BTreeMap<Gid, usize> {
        let mut counts: BTreeMap<Gid, usize> = self.groups.keys().map(|&g| (g, 0)).collect();
        for gid in self.shards {
            if let Some(c) = counts.get_mut(&gid) {
                *c += 1;
            }
        }
        counts
    }
}
