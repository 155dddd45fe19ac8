//! Reference solution of `shardctrler/src/client.rs`: the controller's Clerk.
//!
//! Each request carries the clerk's id and a sequence number; the clerk resends the same request
//! (same number) until a server answers it, remembering which server led last.

use std::collections::BTreeMap;
use std::time::Duration;

use labrpc::{ClientEnd, sim};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::common::{
    Error, JoinArgs, JoinReply, LeaveArgs, LeaveReply, MoveArgs, MoveReply, QueryArgs, QueryReply,
    RequestId,
};
use crate::{Config, Gid};

/// Pause after every server has refused a request, before trying them all again.
const ROUND_PAUSE: Duration = Duration::from_millis(20);

/// A client of the shard controller.
pub struct Clerk {
    servers: Vec<ClientEnd>,
    /// The server that answered last; requests start there.
    leader: usize,
    /// Identifies this clerk to the servers' duplicate detection.
    client: u64,
    /// Number of this clerk's latest request.
    seq: u64,
}

impl Clerk {
    /// A Clerk talking to the controller servers `servers`.
    pub fn new(servers: Vec<ClientEnd>) -> Clerk {
        Clerk {
            servers,
            leader: 0,
            client: sim::random_range(0..u64::MAX),
            seq: 0,
        }
    }

    /// The next request's id.
    fn next_id(&mut self) -> RequestId {
        self.seq += 1;
        RequestId {
            client: self.client,
            seq: self.seq,
        }
    }

    /// Sends `args` to the servers in turn, from the last leader on, until one answers with
    /// something `accept` takes; pauses after each round of refusals.
    async fn call<A: Serialize, R: DeserializeOwned, T>(
        &mut self,
        method: &str,
        args: &A,
        accept: impl Fn(R) -> Option<T>,
    ) -> T {
        let mut tried = 0;
        loop {
            let reply = self.servers[self.leader].call::<A, R>(method, args).await;
            if let Some(t) = reply.ok().and_then(&accept) {
                return t;
            }
            self.leader = (self.leader + 1) % self.servers.len();
            tried += 1;
            if tried % self.servers.len() == 0 {
                tokio::time::sleep(ROUND_PAUSE).await;
            }
        }
    }

    /// The config numbered `num`, or the latest one for `None`.
    pub async fn query(&mut self, num: Option<u64>) -> Config {
        let args = QueryArgs {
            num,
            id: self.next_id(),
        };
        self.call("ShardCtrler.Query", &args, |r: QueryReply| r.result.ok())
            .await
    }

    /// Adds the groups `servers` and rebalances the shards.
    pub async fn join(&mut self, servers: BTreeMap<Gid, Vec<String>>) {
        let args = JoinArgs {
            servers,
            id: self.next_id(),
        };
        self.call("ShardCtrler.Join", &args, |r: JoinReply| ok(r.result))
            .await
    }

    /// Removes the groups `gids` and gives their shards to the groups that remain.
    pub async fn leave(&mut self, gids: &[Gid]) {
        let args = LeaveArgs {
            gids: gids.to_vec(),
            id: self.next_id(),
        };
        self.call("ShardCtrler.Leave", &args, |r: LeaveReply| ok(r.result))
            .await
    }

    /// Gives `shard` to group `gid`.
    pub async fn move_shard(&mut self, shard: usize, gid: Gid) {
        let args = MoveArgs {
            shard,
            gid,
            id: self.next_id(),
        };
        self.call("ShardCtrler.Move", &args, |r: MoveReply| ok(r.result))
            .await
    }
}

/// `Some(())` for a success.
fn ok(result: Result<(), Error>) -> Option<()> {
    result.ok()
}
