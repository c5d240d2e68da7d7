//! Pub/Sub registry: channel, pattern and shard-channel subscriptions, and message delivery.
//!
//! Place in the flow: SUBSCRIBE-family handlers register the client here; PUBLISH, SPUBLISH and
//! keyspace notifications call [`PubSub::publish`], which encodes the message in each
//! subscriber's protocol (RESP2 array or RESP3 push) and hands it to the subscriber's
//! connection. The publishing client's own copy goes straight into its reply buffer, so its
//! ordering relative to its own replies matches Redis.

use crate::client::Clients;
use crate::glob::glob_match;
use crate::resp::Reply;
use std::collections::HashMap;

/// Subscriptions of the node.
#[derive(Debug, Default)]
pub struct PubSub {
    /// Channel → subscriber ids.
    pub channels: HashMap<Vec<u8>, Vec<u64>>,
    /// Pattern → subscriber ids.
    pub patterns: HashMap<Vec<u8>, Vec<u64>>,
    /// Shard channel → subscriber ids.
    pub shard: HashMap<Vec<u8>, Vec<u64>>,
}

/// Which registry a subscription belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE.
    Shard,
}

fn encode(resp3: bool, parts: &[&[u8]]) -> Vec<u8> {
    let mut r = Reply {
        buf: Vec::with_capacity(64),
        resp3,
    };
    r.push(parts.len());
    for p in parts {
        r.bulk(p);
    }
    r.buf
}

impl PubSub {
    /// Bytes one sharded message takes on the wire for each of this node's subscribers other
    /// than `me` (CLUSTER SLOT-STATS' `network-bytes-out`; RESP2 and RESP3 frames are as long).
    pub fn shard_delivery_bytes(&self, channel: &[u8], msg: &[u8], me: u64) -> u64 {
        let Some(ids) = self.shard.get(channel) else {
            return 0;
        };
        let others = ids.iter().filter(|&&id| id != me).count() as u64;
        let frame = encode(false, &[b"smessage", channel, msg]).len() as u64;
        others * frame
    }

    fn map(&mut self, kind: Kind) -> &mut HashMap<Vec<u8>, Vec<u64>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Adds a subscription.
    pub fn subscribe(&mut self, kind: Kind, name: &[u8], id: u64) {
        let v = self.map(kind).entry(name.to_vec()).or_default();
        if !v.contains(&id) {
            v.push(id);
        }
    }

    /// Removes a subscription.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8], id: u64) {
        let m = self.map(kind);
        if let Some(v) = m.get_mut(name) {
            v.retain(|&x| x != id);
            if v.is_empty() {
                m.remove(name);
            }
        }
    }

    /// Delivers a message; returns the number of receivers. `me` is the publishing client and
    /// `out` its reply buffer (its own copy is written there directly).
    pub fn publish(
        &self,
        clients: &Clients,
        shard: bool,
        channel: &[u8],
        msg: &[u8],
        me: Option<(u64, &mut Reply)>,
    ) -> usize {
        let mut me = me;
        let mut n = 0;
        let mut deliver = |id: u64, parts: &[&[u8]]| {
            if let Some((mid, out)) = me.as_mut()
                && *mid == id
            {
                let b = encode(out.resp3, parts);
                out.raw(&b);
                return true;
            }
            match clients.map.get(&id) {
                Some(c) => c.push(encode(c.resp == 3, parts), &clients.output_limits),
                None => false,
            }
        };
        if shard {
            if let Some(ids) = self.shard.get(channel) {
                for &id in ids {
                    n += usize::from(deliver(id, &[b"smessage", channel, msg]));
                }
            }
            return n;
        }
        if let Some(ids) = self.channels.get(channel) {
            for &id in ids {
                n += usize::from(deliver(id, &[b"message", channel, msg]));
            }
        }
        for (pat, ids) in &self.patterns {
            if glob_match(pat, channel) {
                for &id in ids {
                    n += usize::from(deliver(id, &[b"pmessage", pat, channel, msg]));
                }
            }
        }
        n
    }
}
