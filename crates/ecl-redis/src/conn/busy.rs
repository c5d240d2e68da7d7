//! A connection's turns while a script holds the node lock past `busy-reply-threshold`.
//!
//! Place in the flow: [`super::serve`] comes here when it cannot take the node lock because a
//! script (or function) keeps it: before the connection is registered
//! ([`lock_for_registration`]) and between batches ([`busy_turn`]). Redis's event loop runs
//! between a busy script's steps, so its clients get answers while it runs; ours answer
//! without the lock from what the script published in [`ScriptWatch`]: SCRIPT KILL, FUNCTION
//! KILL and FUNCTION STATS work, every other command gets BUSY (NOAUTH before a client has
//! authenticated, as Redis checks authentication first).

use super::{Output, READ_CHUNK, compact_input, flush};
use crate::command::Argv;
use crate::engine::{NodeGuard, Shared, wall_ms};
use crate::errors::NOAUTH;
use crate::resp::{Decoder, Limits, Reply};
use crate::scripting::ScriptWatch;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, watch};

/// Input a connection not yet registered buffers while a script runs; past it, the socket is
/// not read until the script ends (back-pressure, nothing dropped).
const UNREGISTERED_INPUT_LIMIT: usize = 1 << 20;

/// Answers the complete commands in `inbuf[start..]` without the lock, as Redis does while a
/// script is busy: SCRIPT KILL (FUNCTION KILL for a function) asks the script to stop (or says
/// why not), FUNCTION STATS shows the running function, every other command gets BUSY. A client
/// that has not authenticated gets NOAUTH, and its AUTH or HELLO waits for the lock (checking a
/// password needs the node's users). (SHUTDOWN NOSAVE is not offered: a node is stopped
/// through the API, which also stops the script.)
fn busy_batch(
    watch: &ScriptWatch,
    authenticated: bool,
    dec: &mut Decoder,
    (inbuf, start): (&[u8], &mut usize),
    reply: &mut Reply,
) {
    loop {
        match dec.next(&inbuf[*start..]) {
            Ok(Some(n)) => {
                let cmd = &inbuf[*start..*start + n];
                let argv = Argv::new(dec.arg_bytes(cmd), dec.args());
                if !authenticated && (argv.is(0, "auth") || argv.is(0, "hello")) {
                    return;
                }
                *start += n;
                if argv.is_empty() {
                    continue;
                }
                if !authenticated {
                    reply.error(NOAUTH);
                    continue;
                }
                let function = argv.is(0, "function");
                if argv.len() == 2 && (function || argv.is(0, "script")) && argv.is(1, "kill") {
                    match watch.request_kill(function) {
                        Ok(()) => reply.ok(),
                        Err(e) => reply.error(e),
                    }
                } else if argv.len() == 2 && function && argv.is(1, "stats") {
                    match watch.running_function() {
                        Some(r) => {
                            crate::command::functions::stats_reply(reply, Some(&r), r.counts)
                        }
                        None => reply.error(watch.busy_error()),
                    }
                } else {
                    reply.error(watch.busy_error());
                }
            }
            // Incomplete or malformed input waits for the lock: the normal path answers it.
            Ok(None) | Err(_) => return,
        }
    }
}

/// One turn of a registered connection while a script is busy: its complete commands are
/// answered without the lock ([`busy_batch`]) and written. `false`: the connection ends.
pub(super) async fn busy_turn<S>(
    stream: &mut S,
    (dec, authenticated): (&mut Decoder, bool),
    (inbuf, start): (&mut Vec<u8>, &mut usize),
    out: &mut Output,
    (shared, shutdown, kill): (&Shared, &mut watch::Receiver<bool>, &Notify),
    id: u64,
) -> bool
where
    S: tokio::io::AsyncWrite + Unpin,
{
    busy_batch(
        &shared.script,
        authenticated,
        dec,
        (inbuf, start),
        &mut out.reply,
    );
    compact_input(inbuf, start);
    out.account();
    if !out.reply.is_empty() && !flush(stream, out, (shared, shutdown, kill), id, false).await {
        return false;
    }
    if *start < inbuf.len() {
        // A partial command (or AUTH before authentication): wait for more bytes (or the
        // lock) a moment.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// The node lock for registering a new connection. Registration needs the lock; while a busy
/// script keeps it, the connection is served as a registered one would be ([`busy_batch`],
/// authenticated when the node's default user needs no password), so `redis-cli SCRIPT KILL`
/// from a new connection stops a runaway script as it does on redis-server. Input read
/// meanwhile stays in `inbuf` for the registered connection. `None`: the peer left or the node
/// stopped first.
pub(super) async fn lock_for_registration<'a, S>(
    shared: &'a Shared,
    stream: &mut S,
    (inbuf, start): (&mut Vec<u8>, &mut usize),
) -> Option<NodeGuard<'a>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut dec: Option<Decoder> = None;
    let mut reply = Reply::new();
    loop {
        if let Some(g) = shared.try_lock() {
            return Some(g);
        }
        if *shared.shutdown.borrow() {
            return None;
        }
        let busy = shared.script.busy(wall_ms());
        let Some(node) = shared.script.node_at_start().filter(|_| busy) else {
            // A short critical section of another connection, or a script not yet busy.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let limits = Limits {
            authenticated: node.open_access,
            ..Limits::default()
        };
        let dec = dec.get_or_insert_with(|| Decoder::new(limits));
        busy_batch(
            &shared.script,
            node.open_access,
            dec,
            (inbuf, start),
            &mut reply,
        );
        compact_input(inbuf, start);
        if !reply.is_empty() {
            if stream.write_all(&reply.buf).await.is_err() {
                return None;
            }
            reply.buf.clear();
        }
        if inbuf.len() >= UNREGISTERED_INPUT_LIMIT {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        inbuf.reserve(READ_CHUNK);
        tokio::select! {
            r = stream.read_buf(inbuf) => match r {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    }
}
