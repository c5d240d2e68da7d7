//! Client-side caching support (`CLIENT TRACKING`): which clients cached which keys, and the
//! invalidation messages sent when those keys change.
//!
//! Place in the flow: the dispatcher consults the command table after each command — the key
//! positions of a `readonly` command are remembered for a tracking client (default mode) — and
//! hands over the keys the databases logged as modified (see `Db::modified_log`), which are
//! invalidated at once for every client that read them. Keys matching a BCAST prefix are
//! collected instead and sent by [`Tracking::flush_broadcasts`] when the connection's batch
//! ends (redis-server's "before sleep"): one message per prefix, its keys in byte order.
//! Expiry, eviction and FLUSH* invalidate too. Messages are RESP3 `invalidate` pushes, or
//! `__redis__:invalidate` Pub/Sub messages on the REDIRECT client.

use crate::client::Clients;
use crate::resp::Reply;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Per-client tracking settings.
#[derive(Clone, Debug, Default)]
pub struct TrackState {
    /// Client that receives this client's invalidations (RESP2 style), if any.
    pub redirect: Option<u64>,
    /// The redirect client is gone (CLIENT TRACKINGINFO `broken_redirect`).
    pub broken: bool,
    /// Broadcasting mode.
    pub bcast: bool,
    /// BCAST prefixes (the empty prefix when none was given).
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

/// One BCAST prefix: its subscribers and the keys changed since the last flush, each with the
/// client that changed it last (`None` = the server: expiry, eviction), for NOLOOP.
#[derive(Debug, Default)]
struct Broadcast {
    clients: BTreeSet<u64>,
    changed: BTreeMap<Vec<u8>, Option<u64>>,
}

/// The node's tracking table.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Tracking clients.
    pub clients: HashMap<u64, TrackState>,
    /// Key → ids of clients that may have cached it (default mode). As in Redis an id stays
    /// until the key is invalidated, also after its client turned tracking off or left: the
    /// message is then dropped (or reaches the client if it tracks again in default mode).
    keys: HashMap<Vec<u8>, BTreeSet<u64>>,
    /// ids across `keys` (INFO `tracking_total_items`).
    items: usize,
    /// BCAST prefixes in use.
    prefixes: BTreeMap<Vec<u8>, Broadcast>,
    /// Messages held for one client, for the caller to place beside its reply instead of
    /// queueing them: keys evicted before its command go in front of the reply, keys a woken
    /// blocked command changed go right behind it (Redis' order).
    pub hold: Hold,
}

/// See [`Tracking::hold`].
#[derive(Debug, Default)]
pub struct Hold {
    /// The client whose messages are held.
    pub client: Option<u64>,
    /// Its messages.
    pub bytes: Vec<u8>,
}

/// What [`Hold::release`] restores: holds nest (a woken blocked command's own evictions).
#[must_use]
pub struct HoldMark {
    client: Option<u64>,
    len: usize,
}

impl Hold {
    /// Holds the messages for `client` until [`Hold::release`].
    pub fn start(&mut self, client: u64) -> HoldMark {
        let mark = HoldMark {
            client: self.client,
            len: self.bytes.len(),
        };
        self.client = Some(client);
        mark
    }

    /// Stops holding; the messages held since `mark`'s start.
    pub fn release(&mut self, mark: HoldMark) -> Vec<u8> {
        self.client = mark.client;
        self.bytes.split_off(mark.len)
    }
}

/// Why `CLIENT TRACKING ... PREFIX` is refused: the redis-server error text.
pub fn prefix_collision(existing: &[Vec<u8>], given: &[Vec<u8>]) -> Option<String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let show = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    const TAIL: &str = "Prefixes for a single client must not overlap.";
    for (i, p) in given.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(p, e)) {
            let (p, e) = (show(p), show(e));
            return Some(format!(
                "ERR Prefix '{p}' overlaps with an existing prefix '{e}'. {TAIL}"
            ));
        }
        if let Some(q) = given[i + 1..].iter().find(|q| overlap(p, q)) {
            let (p, q) = (show(p), show(q));
            return Some(format!(
                "ERR Prefix '{p}' overlaps with another provided prefix '{q}'. {TAIL}"
            ));
        }
    }
    None
}

impl Tracking {
    /// Whether invalidation has anything to do: a client tracks, or the table still names
    /// keys (which are dropped from it when they change).
    pub fn is_active(&self) -> bool {
        !self.clients.is_empty() || !self.keys.is_empty()
    }

    /// Turns tracking on (or changes its options) for client `id`; a BCAST client's prefixes
    /// add to those it has.
    pub fn enable(&mut self, id: u64, mut st: TrackState) {
        if st.bcast && st.prefixes.is_empty() {
            st.prefixes.push(Vec::new());
        }
        if let Some(old) = self.clients.get(&id) {
            let mut prefixes = old.prefixes.clone();
            prefixes.append(&mut st.prefixes);
            st.prefixes = prefixes;
        }
        for p in &st.prefixes {
            let b = self.prefixes.entry(p.clone()).or_default();
            b.clients.insert(id);
        }
        self.clients.insert(id, st);
    }

    /// Turns tracking off for a client (CLIENT TRACKING off, RESET, disconnect). Its ids in the
    /// key table stay, as in Redis.
    pub fn remove_client(&mut self, id: u64) {
        let Some(st) = self.clients.remove(&id) else {
            return;
        };
        for p in &st.prefixes {
            if let Some(b) = self.prefixes.get_mut(p) {
                b.clients.remove(&id);
                if b.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
    }

    /// INFO's `tracking_total_keys`, `tracking_total_items` and `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, usize, usize) {
        (self.keys.len(), self.items, self.prefixes.len())
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
            let ids = match self.keys.get_mut(k) {
                Some(ids) => ids,
                None => self.keys.entry(k.to_vec()).or_default(),
            };
            if ids.insert(id) {
                self.items += 1;
            }
        }
    }

    /// Clears a one-shot `CLIENT CACHING` flag after the command it applied to.
    pub fn end_command(&mut self, id: u64, was_caching_cmd: bool) {
        if !was_caching_cmd && let Some(st) = self.clients.get_mut(&id) {
            st.caching = None;
        }
    }

    /// `keys` changed by client `origin` (`None` = the server itself): one message per key to
    /// every default-mode client that read it; BCAST prefixes collect the key for the flush.
    pub fn invalidate(&mut self, clients: &Clients, keys: &[Vec<u8>], origin: Option<u64>) {
        for k in keys {
            if let Some(ids) = self.keys.remove(k.as_slice()) {
                self.items -= ids.len();
                for id in ids {
                    self.send_key(clients, id, k, origin);
                }
            }
            for (prefix, b) in self.prefixes.iter_mut() {
                if k.starts_with(prefix) {
                    b.changed.insert(k.clone(), origin);
                }
            }
        }
    }

    /// A default-mode message about `key` to client `id`, if it still tracks that way.
    fn send_key(&mut self, clients: &Clients, id: u64, key: &[u8], origin: Option<u64>) {
        let Some(st) = self.clients.get_mut(&id) else {
            return;
        };
        if st.bcast || (st.noloop && origin == Some(id)) {
            return;
        }
        send(clients, &mut self.hold, (id, st), Some(&[key]));
    }

    /// Sends what the BCAST prefixes collected: per prefix one message of its changed keys to
    /// each subscriber (without the keys a NOLOOP subscriber changed itself).
    pub fn flush_broadcasts(&mut self, clients: &Clients) {
        for b in self.prefixes.values_mut() {
            if b.changed.is_empty() {
                continue;
            }
            let changed = std::mem::take(&mut b.changed);
            for id in &b.clients {
                let Some(st) = self.clients.get_mut(id) else {
                    continue;
                };
                let keys: Vec<&[u8]> = changed
                    .iter()
                    .filter(|(_, by)| !(st.noloop && **by == Some(*id)))
                    .map(|(k, _)| k.as_slice())
                    .collect();
                if !keys.is_empty() {
                    send(clients, &mut self.hold, (*id, st), Some(&keys));
                }
            }
        }
    }

    /// `tracking-table-max-keys`: forgets keys over the limit, invalidating each for the
    /// clients that read it, as redis-server does.
    pub fn limit_keys(&mut self, clients: &Clients, max: usize) {
        if max == 0 || self.keys.len() <= max {
            return;
        }
        // Chosen in one pass: taking the table's first key again after each removal scans its
        // emptied front every time (quadratic when a million keys go at once).
        let over: Vec<Vec<u8>> = self
            .keys
            .keys()
            .take(self.keys.len() - max)
            .cloned()
            .collect();
        self.invalidate(clients, &over, None);
    }

    /// FLUSHDB/FLUSHALL: every tracking client drops its whole cache (null invalidation).
    pub fn invalidate_all(&mut self, clients: &Clients) {
        self.keys.clear();
        self.items = 0;
        let mut ids: Vec<u64> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(st) = self.clients.get_mut(&id) {
                send(clients, &mut self.hold, (id, st), None);
            }
        }
    }
}

/// Delivers one invalidation message (`keys = None` means "everything") for client `id`:
/// to the REDIRECT target if any, as a RESP3 `invalidate` push or, to a RESP2 target in
/// Pub/Sub mode, a `__redis__:invalidate` message (a RESP2 client has no other way). A target
/// that left marks the redirection broken and tells a RESP3 client so, as redis-server does.
fn send(
    clients: &Clients,
    hold: &mut Hold,
    (id, st): (u64, &mut TrackState),
    keys: Option<&[&[u8]]>,
) {
    let target = st.redirect.unwrap_or(id);
    let Some(c) = clients.map.get(&target) else {
        st.broken = true;
        if let Some(own) = clients.map.get(&id).filter(|c| c.resp == 3) {
            let mut r = Reply::new();
            r.resp3 = true;
            r.push(2);
            r.bulk(b"tracking-redir-broken");
            r.int(target as i64);
            own.push(r.buf, &clients.output_limits);
        }
        return;
    };
    let mut r = Reply::new();
    r.resp3 = c.resp == 3;
    if r.resp3 {
        r.push(2);
        r.bulk(b"invalidate");
    } else if st.redirect.is_some() && c.subs != (0, 0, 0) {
        r.push(3);
        r.bulk(b"message");
        r.bulk(b"__redis__:invalidate");
    } else {
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
    if hold.client == Some(target) {
        hold.bytes.extend_from_slice(&r.buf);
        return;
    }
    c.push(r.buf, &clients.output_limits);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn prefix_collisions_name_the_pair_as_redis_server_does() {
        let given = prefix_collision(&[], &p(&["FOOBAR", "FOO"]));
        assert!(
            given
                .unwrap()
                .starts_with("ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'.")
        );
        let existing = prefix_collision(&p(&["FOO", "BAR"]), &p(&["BARB"]));
        assert!(
            existing
                .unwrap()
                .starts_with("ERR Prefix 'BARB' overlaps with an existing prefix 'BAR'.")
        );
        assert!(prefix_collision(&p(&["FOO"]), &p(&["BAR", "BA2"])).is_none());
        assert!(prefix_collision(&p(&[""]), &p(&["x"])).is_some());
    }

    #[test]
    fn the_key_table_counts_items_and_keeps_ids_of_clients_that_stopped() {
        let mut t = Tracking::default();
        t.enable(7, TrackState::default());
        t.record_reads(7, [b"a".as_slice(), b"b"].into_iter());
        t.record_reads(7, [b"a".as_slice()].into_iter());
        assert_eq!(t.totals(), (2, 2, 0));
        t.remove_client(7);
        assert!(t.is_active(), "the keys stay until they change");
        t.invalidate(&Clients::default(), &p(&["a"]), None);
        assert_eq!(t.totals(), (1, 1, 0));
        t.limit_keys(&Clients::default(), 1);
        assert_eq!(t.totals(), (1, 1, 0));
        t.invalidate_all(&Clients::default());
        assert!(!t.is_active());
    }
}
