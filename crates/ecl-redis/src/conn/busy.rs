//! A connection's turns while a script holds the node lock past `busy-reply-threshold`.
//!
//! Place in the flow: [`super::serve`] comes here when it cannot take the node lock because a
//! script (or function) keeps it: to register a new connection ([`register_when_possible`])
//! and to run its commands ([`busy_turn`]). Redis runs its event loop between a busy script's
//! steps, so its clients get answers while it runs. Here a connection hands its turn to the
//! script as a visit (`engine::visits`): the script's kill check runs the connection's commands
//! through the dispatcher with the engine it holds, where every command not allowed while busy
//! gets BUSY after the usual checks (unknown command, arity, NOAUTH), and AUTH, HELLO, MULTI,
//! WATCH, RESET, QUIT, SCRIPT/FUNCTION KILL and FUNCTION STATS run. A visit the script did not
//! serve before it ended comes back, and the connection takes the lock as usual.

use super::{
    BatchEnd, Output, Registered, account_batch, compact_input, flush, register, run_batch,
};
use crate::client::{Client, Event};
use crate::engine::visits::Visit;
use crate::engine::{Engine, Shared, wall_ms};
use crate::resp::{Decoder, Limits};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// What registering a new connection needs, kept whole so that a visit the script did not
/// serve gives it back.
pub(super) struct Registration {
    pub(super) shared: Arc<Shared>,
    pub(super) tx: mpsc::UnboundedSender<Event>,
    pub(super) addrs: (SocketAddr, SocketAddr, bool),
    pub(super) kill: Arc<Notify>,
}

impl Registration {
    fn run(self, eng: &mut Engine) -> Registered {
        register(eng, &self.shared, self.tx, self.addrs, self.kill)
    }
}

/// Registers a new connection with the node: under the lock, or, while a busy script holds
/// it, as a visit the script serves (so `redis-cli SCRIPT KILL` from a new connection stops a
/// runaway script, as on redis-server). `None`: the node stopped first.
pub(super) async fn register_when_possible(mut reg: Registration) -> Option<Registered> {
    loop {
        let shared = reg.shared.clone();
        if let Some(mut g) = shared.try_lock() {
            return Some(reg.run(&mut g));
        }
        if *reg.shared.shutdown.borrow() {
            return None;
        }
        if reg.shared.script.busy(wall_ms()) {
            let (tx, rx) = oneshot::channel();
            let visit: Visit = Box::new(move |eng: Option<&mut Engine>| {
                let _ = tx.send(match eng {
                    Some(eng) => Ok(reg.run(eng)),
                    None => Err(reg),
                });
            });
            if let Err(unserved) = shared.visits.offer(visit) {
                unserved(None);
            }
            match rx.await {
                Ok(Ok(registered)) => return Some(registered),
                Ok(Err(back)) => reg = back,
                // Dropped without an answer: the node is stopping.
                Err(_) => return None,
            }
        }
        // A short critical section of another connection, a script not yet busy, or one that
        // just ended.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A registered connection's state, lent to the script for one visit.
struct Turn {
    client: Client,
    dec: Decoder,
    input: Vec<u8>,
    out: Output,
}

impl Turn {
    /// Runs the turn's complete commands as a visit; how much input they took and how the
    /// batch ended.
    fn serve(&mut self, eng: &mut Engine) -> (usize, BatchEnd) {
        let paused_run = eng.begin_visit();
        let mut start = 0;
        let end = run_batch(
            eng,
            &mut self.client,
            &mut self.dec,
            &self.input,
            &mut start,
            &mut self.out,
        );
        // Visits run no write (only commands allowed while busy run), so nothing goes to the
        // AOF; the script's own writes reach it when the script ends.
        let unread = self.input.len() - start;
        account_batch(eng, &mut self.client, &self.out, start, unread);
        eng.end_visit(paused_run);
        (start, end)
    }
}

/// What the connection does after a busy turn.
pub(super) enum BusyTurn {
    /// Replies were written (or the script ended): go on.
    Served,
    /// Only part of a command waits: read more first.
    NeedsInput,
    /// The connection ends.
    Closed,
}

/// One turn of a registered connection while a script is busy: its commands run as a visit
/// to the script, then their replies are written.
pub(super) async fn busy_turn<S>(
    stream: &mut S,
    (client, dec): (&mut Client, &mut Decoder),
    (inbuf, start): (&mut Vec<u8>, &mut usize),
    out: &mut Output,
    (shared, shutdown, kill): (&Shared, &mut watch::Receiver<bool>, &Notify),
) -> BusyTurn
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let id = client.id;
    let turn = Turn {
        client: std::mem::replace(client, Client::new(id, false)),
        dec: std::mem::replace(dec, Decoder::new(Limits::default())),
        input: inbuf[*start..].to_vec(),
        out: std::mem::replace(out, Output::new(out.pending.clone())),
    };
    let (tx, rx) = oneshot::channel();
    let visit: Visit = Box::new(move |eng: Option<&mut Engine>| {
        let mut turn = turn;
        let served = eng.map(|eng| turn.serve(eng));
        let _ = tx.send((turn, served));
    });
    if let Err(unserved) = shared.visits.offer(visit) {
        unserved(None);
    }
    // Dropped without an answer: the node is stopping.
    let Ok((turn, served)) = rx.await else {
        return BusyTurn::Closed;
    };
    (*client, *dec, *out) = (turn.client, turn.dec, turn.out);
    let Some((taken, end)) = served else {
        // The script ended first: take the lock as usual.
        return BusyTurn::Served;
    };
    *start += taken;
    compact_input(inbuf, start);
    out.account();
    let pubsub = client.sub_count() > 0;
    if !out.reply.is_empty() && !flush(stream, out, (shared, shutdown, kill), id, pubsub).await {
        return BusyTurn::Closed;
    }
    match end {
        _ if client.close => BusyTurn::Closed,
        BatchEnd::Paused => {
            tokio::time::sleep(Duration::from_millis(5)).await;
            BusyTurn::Served
        }
        BatchEnd::Drained if *start < inbuf.len() => BusyTurn::NeedsInput,
        _ => BusyTurn::Served,
    }
}
