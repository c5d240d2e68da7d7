//! The binary parser alone: framing, shape checks, body limits.

use super::*;

fn packet(opcode: u8, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut p = vec![REQ_MAGIC, opcode];
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.push(extras.len() as u8);
    p.extend_from_slice(&[0, 0, 0]);
    let body = (extras.len() + key.len() + value.len()) as u32;
    p.extend_from_slice(&body.to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(&0u64.to_be_bytes());
    p.extend_from_slice(extras);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

#[test]
fn a_set_packet_and_every_split_point() {
    let p = packet(op::SET, &[0, 0, 0, 5, 0, 0, 0, 0], b"key", b"value");
    match parse(&p, &Limits::default()) {
        Ok(Parsed::Done {
            request:
                Request::Binary(BinaryRequest::Packet {
                    header,
                    extras,
                    key,
                    value,
                }),
            consumed,
            discard: 0,
        }) => {
            assert_eq!((header.opcode, header.opaque), (op::SET, 7));
            assert_eq!((extras.len(), key, value), (8, &b"key"[..], &b"value"[..]));
            assert_eq!(consumed, p.len());
        }
        other => panic!("{other:?}"),
    }
    for cut in 0..p.len() {
        match parse(&p[..cut], &Limits::default()) {
            Ok(Parsed::NeedMore { want }) => assert!(want == 0 || want == p.len()),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn malformed_packets_close_with_the_right_error() {
    let mut bad = packet(op::NOOP, &[], &[], &[]);
    bad[0] = 0x81;
    assert_eq!(
        parse(&bad, &Limits::default()).unwrap_err(),
        ProtocolError::BadMagic
    );
    // A get without a key.
    let p = packet(op::GET, &[], &[], &[]);
    assert_eq!(
        parse(&p, &Limits::default()).unwrap_err(),
        ProtocolError::InvalidPacket {
            opcode: op::GET,
            opaque: 7
        }
    );
    // Key and extras longer than the body.
    let mut p = packet(op::GET, &[], b"k", &[]);
    p[11] = 0;
    assert!(matches!(
        parse(&p, &Limits::default()),
        Err(ProtocolError::InvalidPacket { .. })
    ));
    // A key over 250 bytes.
    let p = packet(op::GET, &[], &[b'k'; KEY_MAX + 1], &[]);
    assert!(matches!(
        parse(&p, &Limits::default()),
        Err(ProtocolError::InvalidPacket { .. })
    ));
}

#[test]
fn an_oversized_body_is_refused_from_its_header() {
    let limits = Limits {
        max_item_size: 100,
        cas_disabled: false,
    };
    let p = packet(op::SET, &[0; 8], b"k", &[b'v'; 2000]);
    // A storage opcode's extras and key are read (a SET drops the old item), never its value.
    assert!(matches!(
        parse(&p[..HEADER], &limits),
        Ok(Parsed::NeedMore { want }) if want == HEADER + 9
    ));
    match parse(&p[..HEADER + 9], &limits) {
        Ok(Parsed::Done {
            request: Request::Binary(BinaryRequest::BodyTooLarge { is_store, key, .. }),
            consumed,
            discard,
        }) => assert_eq!(
            (is_store, key, consumed, discard),
            (true, &b"k"[..], HEADER + 9, 2000)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_impossible_body_closes_from_the_header_alone() {
    // A get whose header claims a 2 GB body: refused before any body byte arrives (memcached
    // sends EINVAL and closes), so nothing is buffered for it.
    let mut p = packet(op::GET, &[], b"k", &[]);
    p[8..12].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    assert_eq!(
        parse(&p[..HEADER], &Limits::default()).unwrap_err(),
        ProtocolError::InvalidPacket {
            opcode: op::GET,
            opaque: 7
        }
    );
    // An unknown opcode may carry a body: over the limit it is discarded and answered as
    // unknown, like memcached.
    let mut p = packet(0x55, &[], &[], &[]);
    p[8..12].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    match parse(&p[..HEADER], &Limits::default()) {
        Ok(Parsed::Done {
            request: Request::Binary(BinaryRequest::BodyTooLarge { is_store, .. }),
            consumed,
            discard,
        }) => assert_eq!((is_store, consumed, discard), (false, HEADER, 0x7fff_ffff)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stat_request_reads_only_its_key() {
    let mut p = packet(op::STAT, &[], b"k", &[]);
    p[8..12].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    match parse(&p, &Limits::default()) {
        Ok(Parsed::Done {
            request: Request::Binary(BinaryRequest::Packet { key, value, .. }),
            consumed,
            discard,
        }) => assert_eq!(
            (key, value, consumed, discard),
            (&b"k"[..], &b""[..], HEADER + 1, 0)
        ),
        other => panic!("{other:?}"),
    }
}
