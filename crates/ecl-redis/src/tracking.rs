//! Client-side caching support (`CLIENT TRACKING`): which clients cached which keys, and the
//! invalidation messages sent when those keys change.
//!
//! Place in the flow: the dispatcher consults the command table after each command — the key
//! positions of a `readonly` command are remembered for a tracking client (default mode), and
//! the keys of a `write` command are invalidated for every client that tracks them (or, in
//! BCAST mode, whose prefixes match). Expiry, eviction and FLUSH* invalidate too. Messages are
//! RESP3 `invalidate` pushes, or `__redis__:invalidate` Pub/Sub messages on the REDIRECT client.

use crate::client::Clients;
use crate::resp::Reply;
use std::collections::{HashMap, HashSet};

/// Per-client tracking settings.
#[derive(Clone, Debug, Default)]
pub struct TrackState {
    /// Client that receives this client's invalidations (RESP2 style), if any.
    pub redirect: Option<u64>,
    /// Broadcasting mode.
    pub bcast: bool,
    /// BCAST prefixes (empty = every key).
    pub prefixes: Vec<Vec<u8>>,
    /// Only track after `CLIENT CACHING yes`.
    pub optin: bool,
    /// Track unless `CLIENT CACHING no`.
    pub optout: bool,
    /// Do not notify about the client's own writes.
    pub noloop: bool,
    /// `CLIENT CACHING` answer for the next command.
    pub caching: Option<bool>,
}

/// The node's tracking table.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Tracking clients.
    pub clients: HashMap<u64, TrackState>,
    /// Key → clients that may have cached it (default mode).
    pub keys: HashMap<Vec<u8>, HashSet<u64>>,
}

impl Tracking {
    /// Whether any client tracks.
    pub fn is_active(&self) -> bool {
        !self.clients.is_empty()
    }

    /// Forgets a client (tracking off, disconnect).
    pub fn remove_client(&mut self, id: u64) {
        self.clients.remove(&id);
        self.keys.retain(|_, ids| {
            ids.remove(&id);
            !ids.is_empty()
        });
    }

    /// Remembers that client `id` read `keys` (default mode, honouring OPTIN/OPTOUT).
    pub fn record_reads<'a>(&mut self, id: u64, keys: impl Iterator<Item = &'a [u8]>) {
        let Some(st) = self.clients.get(&id) else {
            return;
        };
        if st.bcast
            || (st.optin && st.caching != Some(true))
            || (st.optout && st.caching == Some(false))
        {
            return;
        }
        for k in keys {
            self.keys.entry(k.to_vec()).or_default().insert(id);
        }
    }

    /// Clears a one-shot `CLIENT CACHING` flag after the command it applied to.
    pub fn end_command(&mut self, id: u64, was_caching_cmd: bool) {
        if !was_caching_cmd && let Some(st) = self.clients.get_mut(&id) {
            st.caching = None;
        }
    }

    /// Sends invalidations for `keys` changed by client `origin` (`None` = the server itself).
    pub fn invalidate(&mut self, clients: &Clients, keys: &[Vec<u8>], origin: Option<u64>) {
        let mut per_client: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
        for k in keys {
            if let Some(ids) = self.keys.remove(k.as_slice()) {
                for id in ids {
                    per_client.entry(id).or_default().push(k.clone());
                }
            }
            for (id, st) in &self.clients {
                if st.bcast
                    && (st.prefixes.is_empty() || st.prefixes.iter().any(|p| k.starts_with(p)))
                {
                    per_client.entry(*id).or_default().push(k.clone());
                }
            }
        }
        for (id, ks) in per_client {
            let Some(st) = self.clients.get(&id) else {
                continue;
            };
            if st.noloop && origin == Some(id) {
                continue;
            }
            send(clients, id, st.redirect, Some(&ks));
        }
    }

    /// FLUSHDB/FLUSHALL: every tracking client drops its whole cache (null invalidation).
    pub fn invalidate_all(&mut self, clients: &Clients) {
        self.keys.clear();
        for (id, st) in &self.clients {
            send(clients, *id, st.redirect, None);
        }
    }
}

/// Delivers one invalidation message (`keys = None` means "everything").
fn send(clients: &Clients, id: u64, redirect: Option<u64>, keys: Option<&[Vec<u8>]>) {
    let target = redirect.unwrap_or(id);
    let Some(c) = clients.map.get(&target) else {
        return;
    };
    let resp3 = c.resp == 3;
    let mut r = Reply {
        buf: Vec::new(),
        resp3,
    };
    if resp3 && redirect.is_none() {
        r.push(2);
        r.bulk(b"invalidate");
    } else if redirect.is_some() {
        // RESP2-style: a Pub/Sub message on the special channel, with an array payload.
        r.push(3);
        r.bulk(b"message");
        r.bulk(b"__redis__:invalidate");
    } else {
        // A RESP2 client without REDIRECT has no way to receive invalidations.
        return;
    }
    match keys {
        Some(ks) => {
            r.array(ks.len());
            for k in ks {
                r.bulk(k);
            }
        }
        None => r.null_array(),
    }
    c.push(r.buf, &clients.output_limits);
}
