//! COMMANDLOG's size logs (Valkey 8.1): the large-request and large-reply logs a node keeps
//! beside its slow log.
//!
//! Place in the flow: part of the engine; the dispatcher records into them and the COMMANDLOG
//! family (`command::commandlog`) reads and resets them. Thresholds and lengths are the
//! `commandlog-*` parameters of the node's configuration (Valkey 8.1's defaults: 1 MiB, 128).

use super::{Engine, SlowEntry};
use crate::argv::Argv;
use crate::client::Client;
use std::collections::VecDeque;

/// One size log: newest entry first, ids growing from 0 across resets.
#[derive(Debug, Default)]
pub struct SizeLog {
    pub(crate) entries: VecDeque<SlowEntry>,
    pub(crate) next: u64,
}

impl SizeLog {
    /// Adds `e` as the newest entry and trims the log to `max_len` (a shorter `max-len` set
    /// since the last entry takes effect here, as in Valkey).
    pub(crate) fn push(&mut self, mut e: SlowEntry, max_len: usize) {
        e.id = self.next;
        self.next += 1;
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }
}

/// The two size logs of a node (the slow one is the engine's slow log).
#[derive(Debug, Default)]
pub struct LargeLogs {
    /// Commands whose request reached `commandlog-request-larger-than` bytes.
    pub request: SizeLog,
    /// Commands whose reply reached `commandlog-reply-larger-than` bytes.
    pub reply: SizeLog,
}

/// Bytes of `argv` as a RESP multibulk request (`*N`, then `$len` and the bytes of each).
pub(crate) fn request_bytes(argv: &Argv<'_>) -> usize {
    let header = |n: usize| 3 + n.checked_ilog10().unwrap_or(0) as usize + 1;
    argv.iter_from(0).fold(header(argv.len()), |sum, a| {
        sum + header(a.len()) + a.len() + 2
    })
}

/// Records the command just run when its request or its reply (`reply_bytes`) is large: at
/// least the log's threshold, which is not negative, on a log whose length is not 0.
pub(crate) fn record(
    eng: &mut Engine,
    client: &Client,
    argv: &Argv<'_>,
    reply_bytes: usize,
    now_ms: i64,
) {
    let cfg = &eng.cfg;
    let logs = [
        (cfg.request_larger_than, cfg.request_log_max_len, false),
        (cfg.reply_larger_than, cfg.reply_log_max_len, true),
    ];
    for (threshold, max_len, large_reply) in logs {
        if threshold < 0 || max_len == 0 {
            continue;
        }
        let size = if large_reply {
            reply_bytes
        } else {
            request_bytes(argv)
        };
        if (size as u64) < threshold as u64 {
            continue;
        }
        let (addr, name) = client_origin(eng, client);
        let entry = SlowEntry {
            id: 0,
            time: now_ms / 1000,
            usec: size as u64,
            args: logged_args(argv),
            addr,
            name,
        };
        let log = if large_reply {
            &mut eng.commandlog.reply
        } else {
            &mut eng.commandlog.request
        };
        log.push(entry, max_len);
    }
}

/// A command's arguments as the slow log and the command logs keep them.
pub(crate) fn logged_args(argv: &Argv<'_>) -> Vec<Vec<u8>> {
    let mut args: Vec<Vec<u8>> = Vec::new();
    for (i, a) in argv.iter_from(0).enumerate() {
        if i == 31 && argv.len() > 32 {
            args.push(format!("... ({} more arguments)", argv.len() - 31).into_bytes());
            break;
        }
        if a.len() > 128 {
            let mut v = a[..128].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
            args.push(v);
        } else {
            args.push(a.to_vec());
        }
    }
    args
}

/// The address and name a log entry shows for `client`.
pub(crate) fn client_origin(eng: &Engine, client: &Client) -> (String, String) {
    // A script's own commands come from Redis' connection-less Lua client: `?:0`, no name.
    if eng.scripts.running {
        ("?:0".to_string(), String::new())
    } else {
        eng.clients
            .map
            .get(&client.id)
            .map(|c| (c.addr.clone(), c.name.clone()))
            .unwrap_or_default()
    }
}
