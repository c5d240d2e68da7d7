//! The request loop of one connection: parse a request from the input buffer, run it,
//! repeat until the buffer holds no complete request or the output is large.
//!
//! Place in the flow: `server::serve` reads into the buffer and calls [`process`] with the
//! protocol it detected; [`process`] calls the pure parsers (`protocol::text::parse`,
//! `protocol::binary::parse`) and `execute::execute`, and leaves incomplete input in the
//! buffer. `server` then writes the accumulated output in one go.

use bytes::{Buf as _, BytesMut};

use crate::execute::{self, OUTPUT_SOFT_LIMIT, Step};
use crate::node::NodeShared;
use crate::protocol::{self, Parsed};
use crate::wire;

/// Per-connection protocol state.
pub(crate) struct ConnState {
    /// Counter stripe of this connection.
    pub(crate) stripe: usize,
    /// Bytes of a refused data block still to discard.
    pub(crate) swallow: usize,
    /// Close after flushing the output.
    pub(crate) closing: bool,
    /// The protocol stopped early because its output is large; call it again before reading.
    pub(crate) output_full: bool,
    /// Keys already served of the paused multi-key get at the head of the buffer.
    pub(crate) resume: usize,
    /// The connection is closing because the client broke the protocol (its `conn_close`
    /// log line says `reason=error`).
    pub(crate) protocol_error: bool,
}

impl ConnState {
    /// The state of a fresh connection on counter stripe `stripe`.
    pub(crate) fn new(stripe: usize) -> ConnState {
        ConnState {
            stripe,
            swallow: 0,
            closing: false,
            output_full: false,
            resume: 0,
            protocol_error: false,
        }
    }
}

/// Consumes complete requests of the given protocol from `buf`, appending replies to `out`
/// (which the caller hands in empty).
pub(crate) fn process(
    node: &NodeShared,
    st: &mut ConnState,
    buf: &mut BytesMut,
    out: &mut Vec<u8>,
    binary: bool,
) -> Step {
    // Where `out` stood when memcached would last have sent it (see `Step::Sent`).
    let mut sent_upto = 0;
    loop {
        if must_wait(st, buf, out) || buf.is_empty() {
            return Step::More;
        }
        let limits = node.limits();
        let parsed = if binary {
            protocol::binary::parse(buf, &limits)
        } else {
            protocol::text::parse(buf, &limits)
        };
        match parsed {
            Err(e) => {
                execute::protocol_error(e, out);
                st.protocol_error = true;
                return Step::Close;
            }
            Ok(Parsed::NeedMore { want }) => {
                // Room for the announced request, at most 1 MiB ahead of what arrived: a
                // header claiming a large body commits nothing before its bytes come.
                buf.reserve(want.saturating_sub(buf.len()).min(1 << 20));
                return Step::More;
            }
            Ok(Parsed::Done {
                request,
                consumed,
                discard,
            }) => {
                let step = execute::execute(node, st.stripe, request, &mut st.resume, out);
                if step == Step::Paused {
                    // The request stays in the buffer; the next call resumes it at the cursor
                    // once the writer has sent this part.
                    st.output_full = true;
                    return Step::More;
                }
                buf.advance(consumed);
                st.swallow = discard;
                match step {
                    Step::Sent => sent_upto = out.len(),
                    Step::Abort => {
                        st.protocol_error = true;
                        return Step::Close;
                    }
                    // memcached refuses `watch` behind replies it has not sent yet.
                    Step::Watch(_) if out.len() > sent_upto => {
                        out.extend_from_slice(wire::WATCH_PIPELINED);
                    }
                    // The rest of the input is never read: a watcher only listens.
                    Step::Watch(_) => return step,
                    _ if step == Step::Close || st.closing => return Step::Close,
                    _ => {}
                }
            }
        }
    }
}

/// The start of every turn of the loop: first drop the rest of a data block being discarded
/// (an oversized or refused value), then stop taking requests while the output is over
/// [`OUTPUT_SOFT_LIMIT`]. `true` means "wait for more input or for the writer".
fn must_wait(st: &mut ConnState, buf: &mut BytesMut, out: &[u8]) -> bool {
    if st.swallow > 0 {
        let n = st.swallow.min(buf.len());
        buf.advance(n);
        st.swallow -= n;
        if st.swallow > 0 {
            return true;
        }
    }
    if out.len() >= OUTPUT_SOFT_LIMIT {
        st.output_full = true;
        return true;
    }
    false
}

#[cfg(test)]
mod robustness {
    //! Feeds pseudo-random requests built from protocol fragments through both parsers: no
    //! input may panic, and the buffer must always shrink or wait for more.
    use bytes::BytesMut;

    use super::{ConnState, process};
    use crate::MemcachedConfig;
    use crate::execute::Step;
    use crate::node::NodeShared;
    use crate::test_rng::Rng;

    const FRAGMENTS: &[&[u8]] = &[
        b"get",
        b"gets",
        b"gat",
        b"set",
        b"add",
        b"cas",
        b"append",
        b"incr",
        b"decr",
        b"touch",
        b"delete",
        b"flush_all",
        b"stats",
        b"verbosity",
        b"mg",
        b"ms",
        b"md",
        b"ma",
        b"mn",
        b"me",
        b"config",
        b"lru_crawler",
        b"metadump",
        b"crawl",
        b"all",
        b"slabs",
        b"automove",
        b"reassign",
        b"watch",
        b"fetchers",
        b"mutations",
        b"connevents",
        b"k",
        b"key",
        b"0",
        b"1",
        b"-1",
        b"5",
        b"99999999999",
        b"18446744073709551616",
        b"noreply",
        b"v",
        b"c",
        b"q",
        b"k",
        b"b",
        b"N30",
        b"T-1",
        b"MA",
        b"MX",
        b"D5",
        b"J",
        b"O12",
        b"E5",
        b"I",
        b"x",
        b"R5",
        b"YTY0",
        b"\r\n",
        b"\n",
        b" ",
        b"  ",
        b"\0",
        b"\xff",
    ];

    #[test]
    fn random_text_and_binary_input_never_panics() {
        let mut config = MemcachedConfig::for_tests();
        config.max_item_size = 4096;
        config.memory_limit = 1 << 20;
        let node = NodeShared::new(&config);
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..20_000u32 {
            let mut input = Vec::new();
            if round.is_multiple_of(3) {
                // Binary: a request header with random fields, then random bytes.
                input.push(0x80);
                for _ in 0..(23 + rng.next() % 40) {
                    input.push((rng.next() % 256) as u8);
                }
                // Keep bodies small so the loop finishes.
                input[8] = 0;
                input[9] = 0;
            } else {
                for _ in 0..(rng.next() % 30) {
                    input.extend_from_slice(
                        FRAGMENTS[(rng.next() % FRAGMENTS.len() as u64) as usize],
                    );
                    if rng.next().is_multiple_of(2) {
                        input.push(b' ');
                    }
                }
                input.extend_from_slice(b"\r\n");
            }
            let mut buf = BytesMut::from(&input[..]);
            let mut out = Vec::new();
            let mut st = ConnState::new(0);
            for _ in 0..64 {
                let before = buf.len();
                let step = process(&node, &mut st, &mut buf, &mut out, input[0] == 0x80);
                if step == Step::Close || buf.is_empty() || (buf.len() == before && !st.output_full)
                {
                    break;
                }
                out.clear();
            }
        }
        // The node is intact: it still answers and stayed within its budget.
        let mut st = ConnState::new(0);
        let mut buf = BytesMut::from(&b"version\r\n"[..]);
        let mut out = Vec::new();
        process(&node, &mut st, &mut buf, &mut out, false);
        assert_eq!(out, b"VERSION 1.6.22\r\n");
        assert!(node.store.bytes() <= 1 << 20);
    }
}
