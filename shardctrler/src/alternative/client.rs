//! Alternative solution of `shardctrler/src/client.rs` (the `alternative` feature): a second,
//! independent solution, used to check that the graded tests do not punish a correct design that
//! differs from the reference. Not part of the handout.
//!
//! The controller's Clerk: a random id and a request number per call (kept across retries). It
//! starts each call at the server that last answered as leader and walks the list from there;
//! after a whole round without success it waits a little (an election may be under way).

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

/// The wait after a round in which no server took the request.
const ROUND_PAUSE: Duration = Duration::from_millis(50);

/// A client of the shard controller.
pub struct Clerk {
    /// One end per controller server, in an order of the tester's choosing.
    servers: Vec<ClientEnd>,
    /// This clerk's random id.
    client: u64,
    /// The number of this clerk's last request.
    seq: u64,
    /// The position in `servers` of the server that last answered as leader.
    leader: usize,
}

impl Clerk {
    /// A Clerk talking to the controller servers `servers`.
    pub fn new(servers: Vec<ClientEnd>) -> Clerk {
        Clerk {
            servers,
            client: sim::random_range(1..u64::MAX),
            seq: 0,
            leader: 0,
        }
    }

    /// The id of a new request.
    fn next_id(&mut self) -> RequestId {
        self.seq += 1;
        RequestId {
            client: self.client,
            seq: self.seq,
        }
    }

    /// Sends `args` to `method` of one server after another until one returns `Ok`; remembers
    /// which server that was.
    async fn until_ok<A, R, T>(
        &mut self,
        method: &str,
        args: &A,
        result: impl Fn(R) -> Result<T, Error>,
    ) -> T
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        let n = self.servers.len();
        loop {
            for k in 0..n {
                let i = (self.leader + k) % n;
                if let Ok(reply) = self.servers[i].call::<A, R>(method, args).await
                    && let Ok(v) = result(reply)
                {
                    self.leader = i;
                    return v;
                }
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }

    /// The config numbered `num`, or the latest one for `None` (and for a number past the
    /// latest). Keeps trying forever in the face of all errors.
    pub async fn query(&mut self, num: Option<u64>) -> Config {
        let args = QueryArgs {
            num,
            id: self.next_id(),
        };
        self.until_ok("ShardCtrler.Query", &args, |r: QueryReply| r.result)
            .await
    }

    /// Adds the groups `servers` (gid to server names) and rebalances the shards.
    pub async fn join(&mut self, servers: BTreeMap<Gid, Vec<String>>) {
        let args = JoinArgs {
            servers,
            id: self.next_id(),
        };
        self.until_ok("ShardCtrler.Join", &args, |r: JoinReply| r.result)
            .await
    }

    /// Removes the groups `gids` and gives their shards to the groups that remain.
    pub async fn leave(&mut self, gids: &[Gid]) {
        let args = LeaveArgs {
            gids: gids.to_vec(),
            id: self.next_id(),
        };
        self.until_ok("ShardCtrler.Leave", &args, |r: LeaveReply| r.result)
            .await
    }

    /// Gives `shard` to group `gid`, and nothing else.
    pub async fn move_shard(&mut self, shard: usize, gid: Gid) {
        let args = MoveArgs {
            shard,
            gid,
            id: self.next_id(),
        };
        self.until_ok("ShardCtrler.Move", &args, |r: MoveReply| r.result)
            .await
    }
}
