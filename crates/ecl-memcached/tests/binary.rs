//! Binary protocol against a real node: headers, statuses, quiet variants, CAS, opaque,
//! GETK/GETKQ, incr with initial value, touch/gat, stat, version, flush, quit, and the
//! auto-detection of the protocol from the first byte.

mod common;

use common::{Conn, start};

fn pkt(op: u8, key: &[u8], extras: &[u8], value: &[u8], cas: u64, opaque: u32) -> Vec<u8> {
    let mut p = vec![0x80, op];
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.push(extras.len() as u8);
    p.extend_from_slice(&[0, 0, 0]);
    p.extend_from_slice(&((key.len() + extras.len() + value.len()) as u32).to_be_bytes());
    p.extend_from_slice(&opaque.to_be_bytes());
    p.extend_from_slice(&cas.to_be_bytes());
    p.extend_from_slice(extras);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

fn set(op: u8, key: &[u8], value: &[u8], flags: u32, cas: u64) -> Vec<u8> {
    let mut extras = flags.to_be_bytes().to_vec();
    extras.extend_from_slice(&0u32.to_be_bytes());
    pkt(op, key, &extras, value, cas, 7)
}

/// One response: (opcode, status, key, extras, value, opaque, cas).
struct Resp {
    op: u8,
    status: u16,
    key: Vec<u8>,
    extras: Vec<u8>,
    value: Vec<u8>,
    opaque: u32,
    cas: u64,
}

async fn read_resp(c: &mut Conn) -> Resp {
    let h = c.read_n(24).await;
    assert_eq!(h[0], 0x81, "response magic");
    let key_len = u16::from_be_bytes([h[2], h[3]]) as usize;
    let extras_len = h[4] as usize;
    let body_len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
    let body = c.read_n(body_len).await;
    let mut cas = [0u8; 8];
    cas.copy_from_slice(&h[16..24]);
    Resp {
        op: h[1],
        status: u16::from_be_bytes([h[6], h[7]]),
        extras: body[..extras_len].to_vec(),
        key: body[extras_len..extras_len + key_len].to_vec(),
        value: body[extras_len + key_len..].to_vec(),
        opaque: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
        cas: u64::from_be_bytes(cas),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_set_quiet_and_keyed_variants() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.send(&set(0x01, b"a", b"hello", 5, 0)).await;
    let r = read_resp(&mut c).await;
    assert_eq!((r.op, r.status, r.opaque), (0x01, 0, 7));
    assert_ne!(r.cas, 0);
    let cas = r.cas;
    // GET, GETK, GETQ (hit), GETKQ (miss, silent), NOOP closes the batch.
    let mut batch = pkt(0x00, b"a", &[], &[], 0, 1);
    batch.extend(pkt(0x0c, b"a", &[], &[], 0, 2));
    batch.extend(pkt(0x09, b"a", &[], &[], 0, 3));
    batch.extend(pkt(0x0d, b"missing", &[], &[], 0, 4));
    batch.extend(pkt(0x09, b"missing", &[], &[], 0, 5));
    batch.extend(pkt(0x0a, &[], &[], &[], 0, 6));
    c.send(&batch).await;
    let r = read_resp(&mut c).await;
    assert_eq!(
        (
            r.op,
            r.status,
            r.extras.as_slice(),
            r.key.as_slice(),
            r.value.as_slice(),
            r.opaque,
            r.cas
        ),
        (
            0x00,
            0,
            &5u32.to_be_bytes()[..],
            &b""[..],
            &b"hello"[..],
            1,
            cas
        )
    );
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.op, r.key.as_slice(), r.value.as_slice(), r.opaque),
        (0x0c, &b"a"[..], &b"hello"[..], 2)
    );
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.op, r.value.as_slice(), r.opaque),
        (0x09, &b"hello"[..], 3)
    );
    let r = read_resp(&mut c).await;
    assert_eq!((r.op, r.status, r.opaque), (0x0a, 0, 6));
    // Misses: GET answers "Not found", GETK answers with the key.
    c.send(&pkt(0x00, b"nokey", &[], &[], 0, 8)).await;
    let r = read_resp(&mut c).await;
    assert_eq!((r.status, r.value.as_slice()), (1, &b"Not found"[..]));
    c.send(&pkt(0x0c, b"nokey", &[], &[], 0, 8)).await;
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.status, r.key.as_slice(), r.value.as_slice()),
        (1, &b"nokey"[..], &b""[..])
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn store_variants_cas_and_errors() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.send(&set(0x11, b"a", b"x", 0, 0)).await; // SETQ: silent
    c.send(&set(0x02, b"a", b"y", 0, 0)).await; // ADD existing
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.status, r.value.as_slice()),
        (2, &b"Data exists for key."[..])
    );
    c.send(&set(0x03, b"zz", b"y", 0, 0)).await; // REPLACE missing
    assert_eq!(read_resp(&mut c).await.status, 1);
    c.send(&set(0x01, b"a", b"y", 0, 999)).await; // SET with wrong CAS
    assert_eq!(read_resp(&mut c).await.status, 2);
    c.send(&set(0x01, b"nn", b"y", 0, 5)).await; // SET with CAS on a missing key
    assert_eq!(read_resp(&mut c).await.status, 1);
    c.send(&pkt(0x0e, b"a", &[], b"APP", 0, 1)).await;
    assert_eq!(read_resp(&mut c).await.status, 0);
    c.send(&pkt(0x0f, b"zz", &[], b"P", 0, 1)).await;
    let r = read_resp(&mut c).await;
    assert_eq!((r.status, r.value.as_slice()), (5, &b"Not stored."[..]));
    c.send(&pkt(0x00, b"a", &[], &[], 0, 1)).await;
    let r = read_resp(&mut c).await;
    assert_eq!(r.value, b"xAPP");
    c.send(&set(0x01, b"a", b"z", 0, r.cas)).await;
    assert_eq!(read_resp(&mut c).await.status, 0);
    c.send(&pkt(0x14, b"nope", &[], &[], 0, 1)).await; // DELETEQ miss still reports
    assert_eq!(read_resp(&mut c).await.status, 1);
    c.send(&pkt(0x04, b"a", &[], &[], 0, 1)).await;
    assert_eq!(read_resp(&mut c).await.status, 0);
    c.send(&set(0x01, b"big", &vec![b'x'; 2_000_000], 0, 0))
        .await;
    let r = read_resp(&mut c).await;
    assert_eq!((r.status, r.value.as_slice()), (3, &b"Too large."[..]));
    c.send(&pkt(0x50, &[], &[], &[], 0, 1)).await;
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.status, r.value.as_slice()),
        (0x81, &b"Unknown command"[..])
    );
    // A key over 250 bytes is invalid and memcached drops the connection.
    c.send(&pkt(0x00, &[b'k'; 251], &[], &[], 0, 1)).await;
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.status, r.value.as_slice()),
        (4, &b"Invalid arguments"[..])
    );
    assert!(c.is_closed().await);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incr_decr_touch_gat() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    let arith = |op: u8, delta: u64, initial: u64, exp: u32| {
        let mut e = delta.to_be_bytes().to_vec();
        e.extend_from_slice(&initial.to_be_bytes());
        e.extend_from_slice(&exp.to_be_bytes());
        pkt(op, b"c", &e, &[], 0, 1)
    };
    c.send(&arith(0x05, 1, 10, 0)).await;
    assert_eq!(read_resp(&mut c).await.value, 10u64.to_be_bytes());
    c.send(&arith(0x05, 5, 10, 0)).await;
    assert_eq!(read_resp(&mut c).await.value, 15u64.to_be_bytes());
    c.send(&arith(0x06, 100, 0, 0)).await;
    assert_eq!(read_resp(&mut c).await.value, 0u64.to_be_bytes());
    c.send(&pkt(0x04, b"c", &[], &[], 0, 1)).await;
    assert_eq!(read_resp(&mut c).await.status, 0);
    c.send(&arith(0x05, 1, 0, u32::MAX)).await;
    assert_eq!(read_resp(&mut c).await.status, 1);
    c.send(&set(0x01, b"c", b"abc", 0, 0)).await;
    let _ = read_resp(&mut c).await;
    c.send(&arith(0x05, 1, 0, 0)).await;
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.status, r.value.as_slice()),
        (6, &b"Non-numeric server-side value for incr or decr"[..])
    );
    c.send(&set(0x01, b"t", b"v", 9, 0)).await;
    let _ = read_resp(&mut c).await;
    c.send(&pkt(0x1c, b"t", &100u32.to_be_bytes(), &[], 0, 1))
        .await;
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.status, r.extras.as_slice(), r.value.as_slice()),
        (0, &9u32.to_be_bytes()[..], &b""[..])
    );
    c.send(&pkt(0x23, b"t", &100u32.to_be_bytes(), &[], 0, 1))
        .await;
    let r = read_resp(&mut c).await;
    assert_eq!(
        (r.key.as_slice(), r.value.as_slice()),
        (&b"t"[..], &b"v"[..])
    );
    c.send(&pkt(0x1e, b"nope", &1u32.to_be_bytes(), &[], 0, 1))
        .await;
    c.send(&pkt(0x1c, b"nope", &1u32.to_be_bytes(), &[], 0, 1))
        .await;
    assert_eq!(read_resp(&mut c).await.status, 1);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stat_version_flush_quit() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.send(&pkt(0x0b, &[], &[], &[], 0, 3)).await;
    let r = read_resp(&mut c).await;
    assert_eq!((r.value.as_slice(), r.opaque), (&b"1.6.22"[..], 3));
    c.send(&pkt(0x10, &[], &[], &[], 0, 4)).await;
    let mut names = Vec::new();
    loop {
        let r = read_resp(&mut c).await;
        if r.key.is_empty() {
            break;
        }
        names.push(String::from_utf8_lossy(&r.key).to_string());
    }
    assert!(names.contains(&"pid".to_string()) && names.contains(&"curr_items".to_string()));
    c.send(&pkt(0x10, b"nope", &[], &[], 0, 4)).await;
    assert_eq!(read_resp(&mut c).await.status, 1);
    c.send(&set(0x01, b"a", b"x", 0, 0)).await;
    let _ = read_resp(&mut c).await;
    c.send(&pkt(0x18, &[], &[], &[], 0, 1)).await; // FLUSHQ: silent
    c.send(&pkt(0x00, b"a", &[], &[], 0, 1)).await;
    assert_eq!(read_resp(&mut c).await.status, 1);
    c.send(&pkt(0x07, &[], &[], &[], 0, 9)).await;
    let r = read_resp(&mut c).await;
    assert_eq!((r.op, r.status, r.opaque), (0x07, 0, 9));
    assert!(c.is_closed().await);
    node.shutdown().await;
}
