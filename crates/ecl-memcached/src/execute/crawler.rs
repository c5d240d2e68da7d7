//! The `lru_crawler` commands: switching the crawler on and off, sweeping chosen slab
//! classes now (`crawl`), and listing the live items (`metadump`), with memcached 1.6.18's
//! replies.
//!
//! Place in the flow: `execute::text` hands `TextRequest::LruCrawler` here. A node's crawler
//! is `Store::crawl` (the background sweep in `server.rs` is its LRU maintainer, which
//! `lru_crawler disable` leaves running, as memcached's); classes are memcached's
//! default slab classes by item size (`slab_class`). A metadump is streamed like a multi-key
//! get: it pauses once the output holds `OUTPUT_SOFT_LIMIT` bytes and goes on from a store
//! cursor kept in the connection's `resume`, so a dump of millions of items never sits whole
//! in memory.

use std::sync::atomic::Ordering;

use super::{OUTPUT_SOFT_LIMIT, Step};
use crate::node::NodeShared;
use crate::protocol::text::LruCrawler;
use crate::slab_class::{self, MAX_CLASSES};
use crate::store::LiveItem;
use crate::wire;

/// Items a metadump looks at before it pauses (see [`metadump`]).
const VISITS_PER_TURN: usize = 16_384;

/// The classes a crawl or a metadump covers: every class (`all`, `hash`) or a list of ids.
struct Selection([bool; MAX_CLASSES]);

impl Selection {
    /// `all`, `hash` or comma-separated class ids (1 to 63); `None` for anything else
    /// (memcached's BADCLASS).
    fn parse(text: &[u8]) -> Option<Selection> {
        if text == b"all" || text == b"hash" {
            return Some(Selection([true; MAX_CLASSES]));
        }
        let mut wanted = [false; MAX_CLASSES];
        for part in text.split(|&b| b == b',').filter(|p| !p.is_empty()) {
            let id: usize = std::str::from_utf8(part).ok()?.parse().ok()?;
            if !(1..MAX_CLASSES).contains(&id) {
                return None;
            }
            wanted[id - 1] = true;
        }
        Some(Selection(wanted))
    }

    /// Whether the class at `index` (id minus one) is covered.
    fn covers(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }
}

/// Runs one `lru_crawler` subcommand.
pub(super) fn run(
    node: &NodeShared,
    sub: LruCrawler<'_>,
    resume: &mut usize,
    out: &mut Vec<u8>,
) -> Step {
    let enabled = node.lru_crawler.load(Ordering::Relaxed);
    match sub {
        LruCrawler::Enable(on) => {
            node.lru_crawler.store(on, Ordering::Relaxed);
            out.extend_from_slice(wire::OK);
        }
        LruCrawler::Tocrawl(n) => {
            node.lru_crawler_tocrawl.store(n, Ordering::Relaxed);
            out.extend_from_slice(wire::OK);
        }
        LruCrawler::Sleep(n) => {
            node.lru_crawler_sleep.store(n, Ordering::Relaxed);
            out.extend_from_slice(wire::OK);
        }
        LruCrawler::Crawl(_) | LruCrawler::Metadump(_) if !enabled && *resume == 0 => {
            out.extend_from_slice(wire::CRAWLER_DISABLED);
        }
        LruCrawler::Crawl(classes) => crawl(node, classes, out),
        LruCrawler::Metadump(classes) => return metadump(node, classes, resume, out),
    }
    Step::More
}

/// `lru_crawler crawl`: memcached starts a crawler per selected class whether or not it holds
/// items (OK), and has no hash walk for this one (`hash` is its "unknown error").
fn crawl(node: &NodeShared, classes: &[u8], out: &mut Vec<u8>) {
    if classes == b"hash" {
        out.extend_from_slice(wire::CRAWLER_UNKNOWN_ERROR);
        return;
    }
    let Some(selection) = Selection::parse(classes) else {
        out.extend_from_slice(wire::CRAWLER_BADCLASS);
        return;
    };
    let per_class = node.lru_crawler_tocrawl.load(Ordering::Relaxed) as usize;
    node.store.crawl(|class| selection.covers(class), per_class);
    node.lru_crawler_starts.fetch_add(1, Ordering::Relaxed);
    out.extend_from_slice(wire::OK);
}

/// `lru_crawler metadump`: the checks on its first call (`*resume == 0`), then a line per
/// live item of the selected classes from the cursor `*resume - 1`, and `END` after the last
/// (alone for an empty selection, as memcached).
fn metadump(node: &NodeShared, classes: &[u8], resume: &mut usize, out: &mut Vec<u8>) -> Step {
    let Some(selection) = Selection::parse(classes) else {
        out.extend_from_slice(wire::CRAWLER_BADCLASS);
        return Step::More;
    };
    let max_item = node.store.settings.max_item_size.load(Ordering::Relaxed);
    let class_of = |item: &LiveItem<'_>| {
        slab_class::class_index(
            max_item,
            slab_class::item_size(item.key.len(), item.value_len),
        )
    };
    if *resume == 0 {
        // memcached streams the dump from its crawler thread straight to the socket, so it
        // refuses one queued behind other replies of the same batch.
        if !out.is_empty() {
            out.extend_from_slice(wire::METADUMP_PIPELINED);
            return Step::More;
        }
        node.lru_crawler_starts.fetch_add(1, Ordering::Relaxed);
    }
    let cursor = resume.saturating_sub(1) as u64;
    // A pause every VISITS_PER_TURN items, written or not: a dump of one small class out of
    // millions of items still lets the node's other connections take their turns.
    let mut visits = 0;
    let stopped = node.store.walk_from(cursor, |item| {
        let class = class_of(item);
        if selection.covers(class) {
            metadump_line(item, class + 1, out);
        }
        visits += 1;
        out.len() < OUTPUT_SOFT_LIMIT && visits < VISITS_PER_TURN
    });
    match stopped {
        // The item at `at` was written: go on after it (+1), kept non-zero (+1).
        Some(at) => {
            *resume = at as usize + 2;
            Step::Paused
        }
        None => {
            *resume = 0;
            out.extend_from_slice(wire::END);
            Step::More
        }
    }
}

/// `key=<uri-encoded key> exp=<-1 or Unix time> la=<Unix time> cas=<n> fetch=<yes|no>
/// cls=<class id> size=<bytes as memcached accounts the item>`, ended by a bare newline as
/// memcached's crawler writes it.
fn metadump_line(item: &LiveItem<'_>, class_id: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"key=");
    for &b in item.key {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    let exp = if item.exptime == 0 {
        -1
    } else {
        i64::from(item.exptime)
    };
    let line = format!(
        " exp={exp} la={} cas={} fetch={} cls={class_id} size={}\n",
        item.atime,
        item.cas,
        if item.fetched { "yes" } else { "no" },
        slab_class::item_size(item.key.len(), item.value_len)
    );
    out.extend_from_slice(line.as_bytes());
}
