//! Primary/replica replication between nodes of this process.
//!
//! Place in the flow: the supervisor links two `RedisNode`s with
//! `RedisNode::replicate_from` (`node::replication`). The replica takes a full copy of the primary's keyspace and
//! function libraries (cloned under the primary's lock, like Redis' fork-time snapshot), then applies the
//! primary's write stream on a task of its own, asynchronously, exactly as a Redis replica
//! reads its master link. On the primary, the dispatcher calls [`crate::engine::Engine::propagate_command`] (`engine::replication`)
//! after every write that changed the keyspace with what the command's handler stated: the
//! command verbatim by default, or what the handler set with [`crate::engine::Ctx::propagate`] /
//! [`crate::engine::Ctx::also_propagate`] (relative expiry → absolute `PEXPIREAT`, SPOP → the `SREM` of the
//! members it popped; this module never looks at command names). Expired or evicted keys
//! become `DEL`s, commands of one `EXEC` are wrapped in `MULTI`/`EXEC`; each unit is numbered
//! by its RESP length
//! (`master_repl_offset`) and sent to every replica link. Replicas acknowledge what they
//! applied, which `WAIT`, `ROLE` and `INFO replication` read.
//!
//! A replica may itself have replicas (chained replication, as Redis allows): it forwards the
//! units it applies, unchanged and with the same offsets, to its own replicas, and when it
//! loads a new full copy (or starts following another primary) its replicas resynchronize
//! from it. The control plane uses this for ElastiCache global datastores, whose secondary
//! group's primary follows the primary group's primary while its own replicas follow it.
//!
//! Replicas refuse writes (`READONLY`) from ordinary clients, do not run active expiry (the
//! primary's `DEL`s remove keys) and apply the stream with expiry suspended, so a key is never
//! dropped by a replica's clock while the primary still has it.

use crate::client::Client;
use crate::command::dispatch;
use crate::db::{Entry, Key};
use crate::engine::Shared;
use crate::engine::wall_ms;
use crate::resp::Reply;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

pub mod remote;

pub use crate::engine::replication::{
    Downstream, LinkState, RemoteStatus, ReplicationRole, Unit, Upstream,
};

/// What a (re)synchronization hands the applier: the copy, its offset and the stream.
pub(crate) struct Attached {
    snapshot: Vec<Vec<(Key, Entry)>>,
    /// The primary's function libraries (their code), part of the copy.
    functions: Vec<Vec<u8>>,
    offset: u64,
    /// Database the stream is in at `offset` (the master client's starting database).
    db: usize,
    rx: mpsc::UnboundedReceiver<Arc<Unit>>,
}

/// Registers `link` on the primary and takes the copy, under the primary's lock (the moment
/// Redis forks for its RDB): the stream starts exactly after the copy.
pub(crate) fn attach(primary: &Shared, link: &Arc<LinkState>, me: (String, u16)) -> Attached {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut p = primary.lock();
    let snapshot: Vec<Vec<(Key, Entry)>> = p
        .dbs
        .iter()
        .map(|d| d.iter().map(|(k, e)| (k.clone(), e.clone())).collect())
        .collect();
    if !p.repl.backlog_active {
        p.repl.backlog_active = true;
        p.repl.backlog_first = p.repl.offset;
    }
    // A primary's next unit selects its database again for the new link; a replica forwards
    // its primary's units unchanged, so the new link starts in the database they are in.
    let db = if p.repl.is_replica() {
        p.repl.last_db.unwrap_or(0)
    } else {
        p.repl.last_db = None;
        0
    };
    link.ack.store(p.repl.offset, Ordering::Release);
    link.pending.store(0, Ordering::Release);
    link.overflow.store(false, Ordering::Release);
    link.closed.store(false, Ordering::Release);
    link.online.store(false, Ordering::Release);
    p.repl.prune();
    p.repl.replicas.retain(|d| !Arc::ptr_eq(&d.link, link));
    p.repl.replicas.push(Downstream {
        addr: me,
        tx,
        link: link.clone(),
    });
    Attached {
        snapshot,
        functions: p.scripts.functions.codes(),
        offset: p.repl.offset,
        db,
        rx,
    }
}

/// The replica's side of a link: load the copy, then apply units as they come.
pub(crate) async fn apply_loop(
    me: Arc<Shared>,
    primary: Arc<Shared>,
    link: Arc<LinkState>,
    generation: u64,
    endpoint: (String, u16),
    first: Attached,
) {
    let mut primary_down = primary.shutdown.subscribe();
    let mut own_down = me.shutdown.subscribe();
    let mut next = Some(first);
    while let Some(attached) = next.take() {
        let overflowed = sync_and_stream(
            &me,
            &primary,
            &link,
            generation,
            attached,
            &mut primary_down,
            &mut own_down,
        )
        .await;
        if overflowed && me.lock().repl.generation == generation {
            tracing::info!(replica = ?endpoint, "resynchronizing after output buffer overflow");
            next = Some(attach(&primary, &link, endpoint.clone()));
        }
    }
    // The primary went away (or this node stops): the link is down until re-targeted.
    link.down_since_ms.store(wall_ms(), Ordering::Release);
    link.online.store(false, Ordering::Release);
}

/// Loads one copy then applies the stream until it ends; true when it ended because the
/// primary dropped the link for overflow (a resync is due).
async fn sync_and_stream(
    me: &Shared,
    primary: &Shared,
    link: &LinkState,
    generation: u64,
    attached: Attached,
    primary_down: &mut tokio::sync::watch::Receiver<bool>,
    own_down: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let Attached {
        snapshot,
        functions,
        offset,
        db,
        mut rx,
    } = attached;
    let mut master = Client::new(0, true);
    master.master = true;
    master.in_exec = true;
    master.db = db;
    {
        let mut eng = me.lock();
        if eng.repl.generation != generation {
            return false;
        }
        for i in 0..eng.dbs.len() {
            eng.flush_db(i);
        }
        for (i, keys) in snapshot.into_iter().enumerate() {
            if let Some(db) = eng.dbs.get_mut(i) {
                for (k, e) in keys {
                    db.insert_entry(&k, e);
                }
            }
        }
        crate::persistence::install_from_rdb(&mut eng, &functions);
        eng.repl.offset = offset;
        eng.repl.last_db = Some(db);
        eng.repl.resync_downstream();
        eng.cluster.offset_cell.store(offset, Ordering::Release);
        crate::persistence::rebase_aof(&mut eng);
        link.online.store(true, Ordering::Release);
        link.loaded.store(true, Ordering::Release);
    }
    ack(primary, link, offset);
    loop {
        let first = tokio::select! {
            u = rx.recv() => u,
            _ = primary_down.changed() => None,
            _ = own_down.changed() => {
                // This replica is gone for good: its primary forgets it.
                link.closed.store(true, Ordering::Release);
                None
            }
        };
        let Some(first) = first else {
            return link.overflow.load(Ordering::Acquire);
        };
        let mut units = vec![first];
        while units.len() < 256
            && let Ok(u) = rx.try_recv()
        {
            units.push(u);
        }
        let end = {
            let mut eng = me.lock();
            if eng.repl.generation != generation {
                return false;
            }
            eng.begin_batch();
            let mut sink = Reply::new();
            let mut end = eng.repl.offset;
            for u in &units {
                for c in u.body() {
                    let a = c.as_argv();
                    dispatch::dispatch(&mut eng, &mut master, &mut sink, &a);
                    sink.buf.clear();
                }
                end = u.end;
                let _ = link
                    .pending
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                        Some(p.saturating_sub(u.bytes))
                    });
            }
            eng.repl.offset = end;
            eng.repl.last_db = Some(master.db);
            eng.cluster.offset_cell.store(end, Ordering::Release);
            // A replica with an AOF records what it applied, one unit per batch.
            eng.flush_txn();
            eng.flush_tracking();
            eng.flush_aof();
            // Chained replication: this node's replicas get the same units, same offsets.
            if !eng.repl.replicas.is_empty() {
                for u in &units {
                    eng.fan_out(u);
                }
            }
            end
        };
        ack(primary, link, end);
    }
}

fn ack(primary: &Shared, link: &LinkState, offset: u64) {
    link.ack.store(offset, Ordering::Release);
    link.last_ack_ms.store(wall_ms(), Ordering::Release);
    primary.lock().on_replica_ack();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::replication::{owned, resp_len};
    use crate::node::RedisNode;

    #[test]
    fn resp_length_matches_encoding() {
        let c = owned(&[b"SET", b"k", b"hello"]);
        assert_eq!(
            resp_len(&c),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n".len() as u64
        );
    }

    /// Bulk strings of a reply (a bulk, or an array/set of bulks), for result-based rewrites.
    fn reply_strings(mut r: &[u8]) -> Vec<Vec<u8>> {
        fn line(r: &[u8]) -> Option<(&[u8], &[u8])> {
            let p = r.windows(2).position(|w| w == b"\r\n")?;
            Some((&r[..p], &r[p + 2..]))
        }
        let mut out = Vec::new();
        let mut bulk_count = 1usize;
        if let Some(&t) = r.first()
            && (t == b'*' || t == b'~')
        {
            let Some((h, rest)) = line(&r[1..]) else {
                return out;
            };
            bulk_count = std::str::from_utf8(h)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            r = rest;
        }
        for _ in 0..bulk_count {
            if r.first() != Some(&b'$') {
                break;
            }
            let Some((h, rest)) = line(&r[1..]) else {
                break;
            };
            let Some(n) = std::str::from_utf8(h)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                break;
            };
            if rest.len() < n + 2 {
                break;
            }
            out.push(rest[..n].to_vec());
            r = &rest[n + 2..];
        }
        out
    }

    /// Sends `args` as one RESP command over `sock` and reads one reply line (enough for the
    /// simple and bulk replies these tests read).
    async fn call(sock: &mut tokio::net::TcpStream, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        call_bytes(sock, &args).await
    }

    async fn call_bytes(sock: &mut tokio::net::TcpStream, args: &[&[u8]]) -> Vec<u8> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        sock.write_all(&b).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = sock.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed");
        buf.truncate(n);
        buf
    }

    fn text(u: &Unit) -> Vec<String> {
        u.cmds
            .iter()
            .map(|c| {
                let a = c.as_argv();
                let parts: Vec<String> = a
                    .iter_from(0)
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect();
                parts.join(" ")
            })
            .collect()
    }

    /// The exact commands the primary streams for the commands it rewrites (relative expiry
    /// as `PEXPIREAT`, SETEX/PSETEX/SET EX as SET + PEXPIREAT, GETEX, RESTORE with ABSTTL, SPOP as SREM),
    /// read straight from a replica link's channel.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rewritten_commands_stream_exactly() {
        let node = RedisNode::start(crate::RedisConfig::for_tests()).expect("node starts");
        let link = Arc::new(LinkState::new(0));
        let mut rx = attach(&node.shared, &link, ("127.0.0.1".to_string(), 1)).rx;
        let mut sock = tokio::net::TcpStream::connect(node.local_addr())
            .await
            .expect("connect");
        let next = |rx: &mut mpsc::UnboundedReceiver<Arc<Unit>>| {
            let u = rx.try_recv().expect("a unit was streamed");
            text(&u)
        };
        call(&mut sock, &["SET", "k", "v"]).await;
        assert_eq!(next(&mut rx), ["SELECT 0", "SET k v"]);
        call(&mut sock, &["EXPIRE", "k", "100"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"k")
            .expect("k")
            .expire_at;
        assert_eq!(next(&mut rx), [format!("PEXPIREAT k {at}")]);
        call(&mut sock, &["PEXPIRE", "k", "-1"]).await;
        assert_eq!(next(&mut rx), ["DEL k"]);
        call(&mut sock, &["SETEX", "s", "100", "v"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"s")
            .expect("s")
            .expire_at;
        // Redis 7.0 streams a SET with a TTL (SETEX and PSETEX too) as SET … PXAT.
        assert_eq!(next(&mut rx), [format!("SET s v PXAT {at}")]);
        call(&mut sock, &["SET", "e", "v", "NX", "PX", "50000", "GET"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"e")
            .expect("e")
            .expire_at;
        assert_eq!(next(&mut rx), [format!("SET e v PXAT {at}")]);
        call(&mut sock, &["SET", "e", "w", "KEEPTTL"]).await;
        assert_eq!(next(&mut rx), ["SET e w KEEPTTL"]);
        call(&mut sock, &["GETEX", "e", "PERSIST"]).await;
        assert_eq!(next(&mut rx), ["PERSIST e"]);
        call(&mut sock, &["GETEX", "e", "EX", "70"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"e")
            .expect("e")
            .expire_at;
        assert_eq!(next(&mut rx), [format!("PEXPIREAT e {at}")]);
        call(&mut sock, &["SADD", "set", "only"]).await;
        assert_eq!(next(&mut rx), ["SADD set only"]);
        call(&mut sock, &["SPOP", "set"]).await;
        assert_eq!(next(&mut rx), ["SREM set only"]);
        call(&mut sock, &["SPOP", "set"]).await;
        assert!(
            rx.try_recv().is_err(),
            "an SPOP that popped nothing streams nothing"
        );
        call(&mut sock, &["SADD", "set", "a", "b", "c"]).await;
        next(&mut rx);
        let popped = reply_strings(&call(&mut sock, &["SPOP", "set", "2"]).await);
        let popped: Vec<String> = popped
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        assert_eq!(next(&mut rx), [format!("SREM set {}", popped.join(" "))]);
        let dump = reply_strings(&call(&mut sock, &["DUMP", "s"]).await);
        call_bytes(&mut sock, &[b"RESTORE", b"r", b"90000", &dump[0]]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"r")
            .expect("r")
            .expire_at;
        // As redis-server rewrites it: the absolute end of the TTL, with ABSTTL.
        let unit = rx.try_recv().expect("RESTORE streamed");
        assert_eq!(unit.cmds.len(), 1);
        let restore = unit.cmds[0].as_argv();
        assert_eq!(restore.get(0), b"RESTORE");
        assert_eq!(restore.get(2), at.to_string().as_bytes());
        assert_eq!(restore.get(3), dump[0].as_slice());
        assert_eq!(restore.get(4), b"ABSTTL");
        call_bytes(&mut sock, &[b"RESTORE", b"p", b"0", &dump[0]]).await;
        assert_eq!(rx.try_recv().expect("RESTORE streamed").cmds.len(), 1);
        node.shutdown().await;
    }

    #[test]
    fn reply_strings_reads_bulks_and_arrays() {
        assert_eq!(reply_strings(b"$1\r\na\r\n"), vec![b"a".to_vec()]);
        assert_eq!(
            reply_strings(b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n"),
            vec![b"a".to_vec(), b"bc".to_vec()]
        );
        assert!(reply_strings(b"$-1\r\n").is_empty());
        assert!(reply_strings(b"*0\r\n").is_empty());
    }
}
