//! Reference solution of `shardkv/src/client.rs`: the Clerk.
//!
//! A request goes to the group that serves its key's shard in the clerk's latest config, trying
//! that group's servers in turn. When the group says it does not serve the shard, or none of its
//! servers answers, the clerk asks the controller for the latest config and tries again, always
//! with the same request id, so a server that already applied it does not apply it twice.

use std::collections::BTreeMap;
use std::time::Duration;

use labrpc::{ClientEnd, sim};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::common::{
    Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply, RequestId,
};
use crate::{Config, Gid, MakeEnd, key2shard};

/// Pause before asking the controller again after a group could not serve a request.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A client of the sharded key/value service.
pub struct Clerk {
    ctrler: shardctrler::Clerk,
    make_end: MakeEnd,
    config: Config,
    /// Ends made so far, by server name.
    ends: BTreeMap<String, ClientEnd>,
    /// The server of each group that answered last.
    leaders: BTreeMap<Gid, usize>,
    client: u64,
    seq: u64,
}

/// What a server said to a request: done, or why not.
type Outcome<T> = Result<T, Error>;

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
            client: sim::random_range(0..u64::MAX),
            seq: 0,
        }
    }

    fn next_id(&mut self) -> RequestId {
        self.seq += 1;
        RequestId {
            client: self.client,
            seq: self.seq,
        }
    }

    fn end(&mut self, name: &str) -> ClientEnd {
        if let Some(end) = self.ends.get(name) {
            return end.clone();
        }
        let end = (self.make_end)(name);
        self.ends.insert(name.to_string(), end.clone());
        end
    }

    /// Sends `args` for `key` until the group serving the key's shard answers it; `outcome`
    /// reads a reply. Returns what the group answered: a value or `NoKey`.
    async fn call<A: Serialize, R: DeserializeOwned, T>(
        &mut self,
        key: &str,
        method: &str,
        args: &A,
        outcome: impl Fn(R) -> Outcome<T>,
    ) -> Outcome<T> {
        let shard = key2shard(key);
        loop {
            let gid = self.config.shards[shard];
            let servers = self.config.groups.get(&gid).cloned().unwrap_or_default();
            let first = self.leaders.get(&gid).copied().unwrap_or(0);
            for k in 0..servers.len() {
                let i = (first + k) % servers.len();
                let end = self.end(&servers[i]);
                match end.call::<A, R>(method, args).await.map(&outcome) {
                    Ok(Ok(v)) => {
                        self.leaders.insert(gid, i);
                        return Ok(v);
                    }
                    Ok(Err(Error::NoKey)) => {
                        self.leaders.insert(gid, i);
                        return Err(Error::NoKey);
                    }
                    Ok(Err(Error::WrongGroup)) => break,
                    _ => {} // the next server of the group
                }
            }
            if self.config.num > 0 {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            self.config = self.ctrler.query(None).await;
        }
    }

    /// Fetches the current value of `key` ("" if the key does not exist).
    pub async fn get(&mut self, key: &str) -> String {
        let args = GetArgs {
            key: key.to_string(),
            id: self.next_id(),
        };
        let got = self
            .call(key, "ShardKV.Get", &args, |r: GetReply| r.result)
            .await;
        got.unwrap_or_default()
    }

    /// Shared by Put and Append.
    async fn put_append(&mut self, key: &str, value: &str, op: PutAppendOp) {
        let args = PutAppendArgs {
            key: key.to_string(),
            value: value.to_string(),
            op,
            id: self.next_id(),
        };
        let _ = self
            .call(key, "ShardKV.PutAppend", &args, |r: PutAppendReply| {
                r.result
            })
            .await;
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
