//! The meta parser alone: flags, tokens, keys and their exact errors.

use super::*;
use crate::protocol::text::{self, Refusal};

fn meta(input: &[u8]) -> MetaRequest<'_> {
    match text::parse(input, &Limits::default()) {
        Ok(Parsed::Done {
            request: Request::Meta(m),
            ..
        }) => m,
        other => panic!("expected a meta request from {input:?}, got {other:?}"),
    }
}

fn error_of(input: &[u8]) -> &'static [u8] {
    match meta(input) {
        MetaRequest::Error(e) => e,
        other => panic!("expected an error from {input:?}, got {other:?}"),
    }
}

#[test]
fn mg_flags_in_order_with_tokens() {
    match meta(b"mg Zm9v b v k O123 T30 N5\r\n") {
        MetaRequest::Get(g) => {
            assert_eq!(&*g.key, b"foo");
            assert_eq!(g.raw_key, b"Zm9v");
            assert_eq!(g.flags.order(), b"bvkOTN");
            assert_eq!(g.flags.token(b'O'), Some(&b"123"[..]));
            assert_eq!((g.ttl, g.vivify, g.recache), (Some(30), Some(5), None));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn flag_errors_differ_by_command() {
    assert_eq!(error_of(b"mg k !\r\n"), wire::INVALID_FLAG);
    assert_eq!(error_of(b"mg k v v\r\n"), wire::DUPLICATE_FLAG);
    assert_eq!(error_of(b"md k v v\r\n"), wire::INVALID_OR_DUPLICATE_FLAG);
    assert_eq!(error_of(b"mg k T\r\n"), wire::BAD_TOKEN);
    assert_eq!(error_of(b"ma k D\r\n"), wire::INVALID_OR_DUPLICATE_FLAG);
    assert_eq!(error_of(b"ma k MX\r\n"), wire::INVALID_MA_MODE);
    assert_eq!(error_of(b"mg k MAB\r\n"), wire::M_TOKEN_LENGTH);
    let opaque = format!("mg k O{}\r\n", "1".repeat(33));
    assert_eq!(error_of(opaque.as_bytes()), wire::OPAQUE_TOO_LONG);
    assert_eq!(error_of(b"mg !!! b\r\n"), wire::KEY_DECODE);
    assert_eq!(error_of(b"md !!! b\r\n"), wire::INVALID_OR_DUPLICATE_FLAG);
}

#[test]
fn uncounted_replies_for_mn_and_a_missing_key() {
    let reply = |input: &[u8]| match text::parse(input, &Limits::default()) {
        Ok(Parsed::Done {
            request: Request::Reply { msg, .. },
            ..
        }) => msg,
        other => panic!("{other:?}"),
    };
    assert_eq!(reply(b"mn\r\n"), wire::MN);
    assert_eq!(reply(b"mg\r\n"), wire::ERROR);
    // memcached 1.6.18 counts tokens first: ms, md and ma without a key are ERROR too; only
    // me checks its key itself (the oracle's reproducers/memcached.txt replays this).
    for cmd in [&b"ms\r\n"[..], b"md\r\n", b"ma\r\n"] {
        assert_eq!(reply(cmd), wire::ERROR);
    }
    assert_eq!(reply(b"me\r\n"), wire::BAD_FORMAT);
}

#[test]
fn ms_flag_error_still_discards_the_data_block() {
    match text::parse(b"ms k 10 MZ\r\n", &Limits::default()) {
        Ok(Parsed::Done {
            request: Request::Meta(MetaRequest::Error(e)),
            consumed,
            discard,
        }) => {
            assert_eq!(e, wire::INVALID_MS_MODE);
            assert_eq!((consumed, discard), (12, 12));
        }
        other => panic!("{other:?}"),
    }
    let small = Limits {
        max_item_size: 100,
        cas_disabled: false,
    };
    match text::parse(b"ms k 100\r\n", &small) {
        Ok(Parsed::Done {
            request: Request::Meta(MetaRequest::SetRefused { why, .. }),
            discard,
            ..
        }) => assert_eq!((why, discard), (Refusal::TooLarge, 102)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ms_and_ma_values() {
    match meta(b"ms k 2 MA N30 c\r\nhi\r\n") {
        MetaRequest::Set(s) => {
            assert_eq!((s.mode, s.vivify, s.data), (b'A', Some(30), &b"hi"[..]));
        }
        other => panic!("{other:?}"),
    }
    match meta(b"ma k MD D7 J3\r\n") {
        MetaRequest::Arith(a) => assert_eq!((a.incr, a.delta, a.initial), (false, 7, 3)),
        other => panic!("{other:?}"),
    }
}
