//! The text parser alone: byte strings in, requests or errors out (no node, no store).

use super::*;

fn lim() -> Limits {
    Limits::default()
}

/// Parses `input` expecting one complete request; returns it with the bytes it took.
fn done(input: &[u8]) -> (Request<'_>, usize, usize) {
    match parse(input, &lim()) {
        Ok(Parsed::Done {
            request,
            consumed,
            discard,
        }) => (request, consumed, discard),
        other => panic!("expected a request from {input:?}, got {other:?}"),
    }
}

fn reply_of(input: &[u8]) -> (&'static [u8], bool) {
    match done(input).0 {
        Request::Reply { msg, noreply } => (msg, noreply),
        other => panic!("expected a fixed reply, got {other:?}"),
    }
}

#[test]
fn tokens_split_on_spaces_and_limit() {
    let t = Tokens::split(b"set  k 0 0 1 noreply");
    assert_eq!(t.len, 6);
    assert!(t.noreply());
    let long = vec![&b"a "[..]; 40].concat();
    let t = Tokens::split(&long);
    assert!(t.more);
}

#[test]
fn value_line_format() {
    let mut out = Vec::new();
    encode_value(&mut out, b"k", 5, b"hi", Some(7));
    assert_eq!(out, b"VALUE k 5 2 7\r\nhi\r\n");
}

#[test]
fn set_with_its_data_block() {
    let input = b"set k 5 10 2 noreply\r\nhi\r\nget k\r\n";
    let (req, consumed, discard) = done(input);
    assert_eq!((consumed, discard), (26, 0));
    match req {
        Request::Text(TextRequest::Store {
            cmd,
            key,
            flags,
            exptime,
            cas,
            data,
            noreply,
        }) => {
            assert_eq!(cmd, StoreCmd::Set);
            assert_eq!((key, flags, exptime, cas), (&b"k"[..], 5, 10, 0));
            assert_eq!(data, b"hi");
            assert!(noreply);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn multi_get_keys_and_gat_exptime() {
    match done(b"gets a  bb ccc\n").0 {
        Request::Text(TextRequest::Get {
            kind,
            keys,
            bad_key,
            ..
        }) => {
            assert_eq!(kind, GetKind::Gets);
            assert_eq!(
                keys.iter().collect::<Vec<_>>(),
                [b"a".as_ref(), b"bb", b"ccc"]
            );
            assert!(!bad_key);
        }
        other => panic!("{other:?}"),
    }
    match done(b"gat -1 k\r\n").0 {
        Request::Text(TextRequest::Get { exptime, .. }) => assert_eq!(exptime, Some(-1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(reply_of(b"gat x k\r\n").0, wire::INVALID_EXPTIME);
    assert_eq!(reply_of(b"gat\r\n").0, wire::ERROR);
    assert_eq!(reply_of(b"get\r\n").0, wire::ERROR);
}

#[test]
fn a_key_over_250_bytes_cuts_the_get_and_refuses_the_rest() {
    let long = "x".repeat(KEY_MAX + 1);
    let ok = "y".repeat(KEY_MAX);
    let line = format!("get a {ok} {long} b\r\n");
    match done(line.as_bytes()).0 {
        Request::Text(TextRequest::Get { keys, bad_key, .. }) => {
            assert!(bad_key);
            assert_eq!(keys.iter().count(), 2);
        }
        other => panic!("{other:?}"),
    }
    let set = format!("set {long} 0 0 1\r\nx\r\n");
    assert_eq!(reply_of(set.as_bytes()).0, wire::BAD_FORMAT);
    let delete = format!("delete {long}\r\n");
    assert_eq!(reply_of(delete.as_bytes()).0, wire::BAD_FORMAT);
}

#[test]
fn oversized_item_is_refused_before_its_data_and_the_data_discarded() {
    let limits = Limits {
        max_item_size: 1024,
        cas_disabled: false,
    };
    let input = b"set k 0 0 5000\r\n";
    match parse(input, &limits) {
        Ok(Parsed::Done {
            request: Request::Text(TextRequest::StoreRefused { why, cmd, .. }),
            consumed,
            discard,
        }) => {
            assert_eq!((why, cmd), (Refusal::TooLarge, StoreCmd::Set));
            assert_eq!((consumed, discard), (input.len(), 5002));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn data_block_without_crlf_is_a_bad_chunk() {
    let (req, consumed, _) = done(b"set k 0 0 2\r\nhiXY");
    assert!(matches!(
        req,
        Request::Text(TextRequest::StoreRefused {
            why: Refusal::BadChunk,
            ..
        })
    ));
    assert_eq!(consumed, 17);
}

#[test]
fn malformed_lines_get_memcached_errors() {
    assert_eq!(reply_of(b"set k x 0 1\r\n").0, wire::BAD_FORMAT);
    assert_eq!(reply_of(b"set k 0 0 -1\r\n").0, wire::BAD_FORMAT);
    assert_eq!(reply_of(b"set k 0 0\r\n").0, wire::ERROR);
    assert_eq!(reply_of(b"cas k 0 0 1 x\r\n").0, wire::BAD_FORMAT);
    assert_eq!(
        reply_of(b"incr k x noreply\r\n"),
        (wire::INVALID_DELTA, true)
    );
    assert_eq!(reply_of(b"touch k x\r\n").0, wire::INVALID_EXPTIME);
    assert_eq!(reply_of(b"delete k 5\r\n").0, wire::DELETE_USAGE);
    assert_eq!(reply_of(b"verbosity x\r\n").0, wire::BAD_FORMAT);
    assert_eq!(
        reply_of(b"cache_memlimit 7\r\n").0,
        wire::MEMLIMIT_TOO_SMALL
    );
    assert_eq!(reply_of(b"stats cachedump 1\r\n").0, wire::CACHEDUMP_USAGE);
    assert_eq!(reply_of(b"stats detail x\r\n").0, wire::STATS_DETAIL_USAGE);
    assert!(matches!(
        done(b"stats detail on extra\r\n").0,
        Request::Text(TextRequest::Stats(StatsRequest::Detail(DetailOp::On)))
    ));
    assert_eq!(reply_of(b"slabs automove x\r\n").0, wire::BAD_FORMAT);
    assert_eq!(reply_of(b"slabs automove 3\r\n").0, wire::ERROR);
    assert_eq!(reply_of(b"slabs automove ratio\r\n").0, wire::ERROR);
    assert!(matches!(
        done(b"slabs automove 2 noreply\r\n").0,
        Request::Text(TextRequest::SlabsAutomove {
            setting: Automove::Level(2),
            noreply: true
        })
    ));
    assert_eq!(reply_of(b"shutdown\r\n").0, wire::SHUTDOWN_DISABLED);
    assert_eq!(reply_of(b"bogus\r\n").0, wire::ERROR);
    assert!(matches!(
        done(b"flush_all x\r\n").0,
        Request::Text(TextRequest::FlushAll { delay: None, .. })
    ));
    assert!(matches!(
        done(b"quit\r\n").0,
        Request::Text(TextRequest::Quit)
    ));
}

#[test]
fn long_lines_close_unless_they_are_gets() {
    let junk = vec![b'a'; MAX_LINE + 1];
    assert_eq!(
        parse(&junk, &lim()).unwrap_err(),
        ProtocolError::LineTooLong
    );
    let mut get = b"get ".to_vec();
    get.resize(MAX_LINE + 100, b'k');
    assert!(matches!(
        parse(&get, &lim()),
        Ok(Parsed::NeedMore { want: 0 })
    ));
    get.resize(MAX_GET_LINE + 1, b'k');
    assert_eq!(parse(&get, &lim()).unwrap_err(), ProtocolError::LineTooLong);
}

#[test]
fn every_split_point_of_a_request_waits_for_more() {
    let requests: [&[u8]; 5] = [
        b"set key 1 0 5\r\nhello\r\n",
        b"get a b c\r\n",
        b"cas k 0 0 3 99 noreply\r\nabc\r\n",
        b"ms k 3 T10 F5\r\nabc\r\n",
        b"mg k v c t\r\n",
    ];
    for full in requests {
        let (_, consumed, _) = done(full);
        assert_eq!(consumed, full.len(), "{full:?}");
        for cut in 0..full.len() {
            match parse(&full[..cut], &lim()) {
                Ok(Parsed::NeedMore { want }) => {
                    assert!(want == 0 || want == full.len(), "{full:?} at {cut}: {want}")
                }
                other => panic!("{full:?} cut at {cut}: {other:?}"),
            }
        }
    }
}
