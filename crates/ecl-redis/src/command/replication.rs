//! WAIT, ROLE and the replication section of INFO, read from the engine's replication state.
//!
//! Place in the flow: WAIT and ROLE are entries of the keys and server families' tables;
//! `INFO` calls [`info_section`]. The state is [`crate::engine::replication`].

use crate::command::{Argv, Ctx};
use crate::engine::Engine;
use crate::engine::replication::{RemoteStatus, Waiter};
use crate::engine::wall_ms;
use crate::errors::{self, CmdResult};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// `WAIT numreplicas timeout`.
pub fn wait_cmd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if ctx.eng.repl.is_replica() {
        return Err(errors::WAIT_ON_REPLICA.into());
    }
    let want = argv.i64(1)?;
    let t = argv.i64(2)?;
    if t < 0 {
        return Err("ERR timeout is negative".into());
    }
    let offset = ctx.eng.repl.offset;
    let have = ctx.eng.repl.acked(offset);
    if want <= 0 || have >= want as usize || ctx.client.in_exec {
        ctx.out.int(have as i64);
        return Ok(());
    }
    ctx.eng.repl.waiters.push(Waiter {
        id: ctx.client.id,
        offset,
        want: want as usize,
    });
    let deadline = ctx.deadline_after(t);
    ctx.block(
        Vec::new(),
        deadline,
        crate::client::TimeoutReply::Int(have as i64),
    )
}

/// `ROLE`.
pub fn role_cmd(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let r = &mut ctx.eng.repl;
    match &r.upstream {
        None => {
            r.prune();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(r.offset as i64);
            ctx.out.array(r.replicas.len());
            for d in &r.replicas {
                ctx.out.array(3);
                ctx.out.bulk(d.addr.0.as_bytes());
                ctx.out.bulk(d.addr.1.to_string().as_bytes());
                ctx.out
                    .bulk(d.link.ack.load(Ordering::Acquire).to_string().as_bytes());
            }
        }
        Some(up) => {
            let state: &[u8] = if up.link.online.load(Ordering::Acquire) {
                b"connected"
            } else {
                b"sync"
            };
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(up.primary.0.as_bytes());
            ctx.out.int(i64::from(up.primary.1));
            ctx.out.bulk(state);
            ctx.out.int(r.offset as i64);
        }
    }
    Ok(())
}

/// `INFO replication` section.
pub fn info_section(eng: &mut Engine, s: &mut String) {
    eng.repl.prune();
    let r = &eng.repl;
    let now = wall_ms();
    s.push_str("# Replication\r\n");
    if let Some(up) = &r.upstream {
        let online = up.link.online.load(Ordering::Acquire);
        let closed = up.link.closed.load(Ordering::Acquire);
        let status = if online && !closed { "up" } else { "down" };
        let _ = write!(
            s,
            "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{status}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
            up.primary.0,
            up.primary.1,
            if online { 0 } else { -1 },
            u8::from(!up.link.loaded.load(Ordering::Acquire)),
            r.offset,
            r.offset,
        );
        if status == "down" {
            let since = up.link.down_since_ms.load(Ordering::Acquire);
            let secs = if since == 0 {
                -1
            } else {
                (now - since).max(0) / 1000
            };
            let _ = write!(s, "master_link_down_since_seconds:{secs}\r\n");
        }
        s.push_str("slave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\n");
    } else if !remote_info_lines(eng, s) {
        s.push_str("role:master\r\n");
    }
    let _ = write!(s, "connected_slaves:{}\r\n", r.replicas.len());
    let (min, max_lag) = eng.cfg.min_replicas;
    if min > 0 && max_lag > 0 {
        let good = r.good_replicas(now, max_lag);
        let _ = write!(s, "min_slaves_good_slaves:{good}\r\n");
    }
    for (i, d) in r.replicas.iter().enumerate() {
        let online = d.link.online.load(Ordering::Acquire);
        let lag = (now - d.link.last_ack_ms.load(Ordering::Acquire)).max(0) / 1000;
        let _ = write!(
            s,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}\r\n",
            d.addr.0,
            d.addr.1,
            if online { "online" } else { "wait_bgsave" },
            d.link.ack.load(Ordering::Acquire),
        );
    }
    let hist = r.offset.saturating_sub(r.backlog_first);
    let _ = write!(
        s,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        r.replid,
        r.replid2,
        r.offset,
        r.second_offset,
        u8::from(r.backlog_active),
        eng.cfg.get("repl-backlog-size").unwrap_or_default(),
        if r.backlog_active {
            r.backlog_first + 1
        } else {
            0
        },
        hist.min(1_048_576),
    );
}

/// INFO replication lines of a node replicating a source over the network; `false` when it
/// does not.
fn remote_info_lines(eng: &Engine, s: &mut String) -> bool {
    let Some(r) = &eng.repl.remote else {
        return false;
    };
    let status = r.state.status();
    let up = status == RemoteStatus::Up;
    let _ = write!(
        s,
        "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\nslave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\n",
        r.source.0,
        r.source.1,
        if up { "up" } else { "down" },
        if up { 0 } else { -1 },
        u8::from(status == RemoteStatus::Syncing),
        r.state.offset.load(Ordering::Acquire),
        r.state.offset.load(Ordering::Acquire),
    );
    true
}
