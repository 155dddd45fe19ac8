//! Alternative solution of `shardkv/src/client.rs` (the `alternative` feature): a second,
//! independent solution, used to check that the graded tests do not punish a correct design that
//! differs from the reference. Not part of the handout.
//!
//! The Clerk: a random id and one request number per operation, kept on every retry, also when
//! the retry goes to another group (the duplicate table moves with the shard, so the new owner
//! recognizes it). It sends to the group its cached config names for the key's shard, starting
//! with the server of that group that last answered; when the group refuses the shard, or no
//! server of it answers, it pauses briefly and asks the controller for the latest config.

use std::collections::BTreeMap;
use std::time::Duration;

use labrpc::{ClientEnd, sim};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};
use crate::{Config, Gid, MakeEnd, key2shard};

/// The pause before asking the controller again.
const REQUERY_PAUSE: Duration = Duration::from_millis(50);

/// A client of the sharded key/value service.
pub struct Clerk {
    /// A client of the shard controller, to learn which group serves which shard.
    ctrler: shardctrler::Clerk,
    /// Makes an end to a server named in a config.
    make_end: MakeEnd,
    /// The latest config this clerk knows (config 0, which has no groups, at first).
    config: Config,
    /// The ends made so far, by server name.
    ends: BTreeMap<String, ClientEnd>,
    /// Per group: the position in its server list of the server that last answered.
    leaders: BTreeMap<Gid, usize>,
    /// This clerk's random id.
    client: u64,
    /// The number of this clerk's last request.
    seq: u64,
}

/// How a group answered.
enum Verdict<T> {
    /// The operation took effect with this result.
    Done(T),
    /// The group does not serve the shard (in its current config).
    WrongGroup,
    /// No answer from this server: try the next.
    TryNext,
}

impl Clerk {
    /// A Clerk that asks the controller servers `ctrlers` for configs and reaches the servers they
    /// name with `make_end`.
    pub fn new(ctrlers: Vec<ClientEnd>, make_end: MakeEnd) -> Clerk {
        Clerk {
            ctrler: shardctrler::Clerk::new(ctrlers),
            make_end,
            config: Config::default(),
            ends: BTreeMap::new(),
            leaders: BTreeMap::new(),
            client: sim::random_range(1..u64::MAX),
            seq: 0,
        }
    }

    /// Fetches the current value of `key` ("" if the key does not exist). Keeps trying forever
    /// in the face of all other errors.
    pub async fn get(&mut self, key: &str) -> String {
        self.seq += 1;
        let args = GetArgs {
            key: key.to_string(),
            client: self.client,
            seq: self.seq,
        };
        self.send(key, "ShardKV.Get", &args, |r: GetReply| match r.result {
            Ok(v) => Verdict::Done(v),
            Err(Error::NoKey) => Verdict::Done(String::new()),
            Err(Error::WrongGroup) => Verdict::WrongGroup,
            Err(_) => Verdict::TryNext,
        })
        .await
    }

    /// Shared by Put and Append.
    async fn put_append(&mut self, key: &str, value: &str, op: PutAppendOp) {
        self.seq += 1;
        let args = PutAppendArgs {
            key: key.to_string(),
            value: value.to_string(),
            op,
            client: self.client,
            seq: self.seq,
        };
        self.send(
            key,
            "ShardKV.PutAppend",
            &args,
            |r: PutAppendReply| match r.result {
                Ok(()) => Verdict::Done(()),
                Err(Error::WrongGroup) => Verdict::WrongGroup,
                Err(_) => Verdict::TryNext,
            },
        )
        .await
    }

    /// Sends `args` to the group serving `key` until one of its servers reports the operation
    /// done, learning the latest config whenever the group refuses or cannot be reached.
    async fn send<A, R, T>(
        &mut self,
        key: &str,
        method: &str,
        args: &A,
        verdict: impl Fn(R) -> Verdict<T>,
    ) -> T
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        let shard = key2shard(key);
        if self.config.num == 0 {
            self.config = self.ctrler.query(None).await;
        }
        loop {
            let gid = self.config.shards[shard];
            let names = self.config.groups.get(&gid).cloned().unwrap_or_default();
            let start = self.leaders.get(&gid).copied().unwrap_or(0);
            for k in 0..names.len() {
                let i = (start + k) % names.len();
                let end = self.end(&names[i]);
                let Ok(reply) = end.call::<A, R>(method, args).await else {
                    continue;
                };
                match verdict(reply) {
                    Verdict::Done(v) => {
                        self.leaders.insert(gid, i);
                        return v;
                    }
                    Verdict::WrongGroup => break,
                    Verdict::TryNext => {}
                }
            }
            tokio::time::sleep(REQUERY_PAUSE).await;
            self.config = self.ctrler.query(None).await;
        }
    }

    /// The end to the server `name` (made once, then kept).
    fn end(&mut self, name: &str) -> ClientEnd {
        if let Some(end) = self.ends.get(name) {
            return end.clone();
        }
        let end = (self.make_end)(name);
        self.ends.insert(name.to_string(), end.clone());
        end
    }

    /// Sets `key` to `value`.
    pub async fn put(&mut self, key: &str, value: &str) {
        self.put_append(key, value, PutAppendOp::Put).await
    }

    /// Appends `value` to the value of `key` (a missing key counts as "").
    pub async fn append(&mut self, key: &str, value: &str) {
        self.put_append(key, value, PutAppendOp::Append).await
    }
}
