//! Function libraries in RDB form: the FUNCTION DUMP / FUNCTION RESTORE payload and the
//! function records of RDB files.
//!
//! Place in the flow: FUNCTION DUMP/RESTORE (`command/functions.rs`) call [`dump_payload`] and
//! [`read_payload`]; the snapshot writer (`crate::persistence`) adds the node's libraries to a file
//! image with [`append_to_file`], and the file loader hands the codes it read back
//! (`LoadStats::functions`). Either way a library is the `FUNCTION2` opcode (0xF5) followed by
//! its source code as an RDB string, as Redis 7 writes it; a payload ends, like a key's DUMP
//! payload, with the 2-byte RDB version and the CRC-64 of everything before it.

use super::lzf::Compressor;
use super::{CRC, Reader, put_string, rdb_version};

/// The `FUNCTION2` opcode.
const FUNCTION2: u8 = 0xF5;
/// The opcode of Redis 7.0 release candidates' function records (not supported).
const FUNCTION_PRE_GA: u8 = 0xF6;
/// The EOF opcode of an RDB file.
const EOF: u8 = 0xFF;

fn put_records(out: &mut Vec<u8>, codes: &[Vec<u8>]) {
    let mut lzf = Compressor::default();
    for code in codes {
        out.push(FUNCTION2);
        put_string(&mut lzf, out, code);
    }
}

/// FUNCTION DUMP: every library, then the RDB version of `compat` and the CRC-64.
pub fn dump_payload(codes: &[Vec<u8>], compat: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_records(&mut out, codes);
    out.extend_from_slice(&rdb_version(compat).to_le_bytes());
    let crc = CRC.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// FUNCTION RESTORE: the libraries' codes in a payload, or Redis' error for it.
pub fn read_payload(payload: &[u8], compat: u32) -> Result<Vec<Vec<u8>>, &'static str> {
    const WRONG: &str = "ERR DUMP payload version or checksum are wrong";
    if payload.len() < 10 {
        return Err(WRONG);
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let ver = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    let want = u64::from_le_bytes(crc.try_into().map_err(|_| WRONG)?);
    if ver > rdb_version(compat) || (want != 0 && CRC.checksum(body) != want) {
        return Err(WRONG);
    }
    let mut r = Reader {
        b: &body[..body.len() - 2],
        p: 0,
    };
    let mut codes = Vec::new();
    while r.p < r.b.len() {
        match r.byte() {
            Some(FUNCTION2) => {}
            Some(FUNCTION_PRE_GA) => return Err("ERR Pre-GA function format not supported"),
            _ => return Err("ERR given type is not a function"),
        }
        codes.push(r.string().ok_or("ERR Failed loading library payload")?);
    }
    Ok(codes)
}

/// Adds function records for `codes` to a complete RDB file image (they go just before its EOF
/// opcode, where every loader accepts them) and renews its checksum.
pub fn append_to_file(img: &mut Vec<u8>, codes: &[Vec<u8>]) {
    if codes.is_empty() || img.len() < 9 || img[img.len() - 9] != EOF {
        return;
    }
    img.truncate(img.len() - 9);
    put_records(img, codes);
    img.push(EOF);
    let crc = CRC.checksum(img);
    img.extend_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FUNCTION DUMP of redis-server 7.0.15 with no library loaded.
    #[test]
    fn empty_payload_matches_redis() {
        let redis = b"\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda";
        assert_eq!(dump_payload(&[], 70000), redis);
        assert_eq!(read_payload(redis, 70000), Ok(vec![]));
    }

    #[test]
    fn payload_round_trip_and_errors() {
        let codes = vec![
            b"#!lua name=a\nredis.register_function('f', function() return 1 end)".to_vec(),
            vec![b'x'; 300],
        ];
        let p = dump_payload(&codes, 70000);
        assert_eq!(read_payload(&p, 70000), Ok(codes));
        let wrong = "ERR DUMP payload version or checksum are wrong";
        assert_eq!(read_payload(&p, 60200), Err(wrong), "RDB 10 on a 6.2 node");
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert_eq!(read_payload(&bad, 70000), Err(wrong));
        let typed = dump_payload(&[], 70000);
        let mut body = vec![0u8, 1, b'k'];
        body.extend_from_slice(&typed[..2]);
        let crc = CRC.checksum(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            read_payload(&body, 70000),
            Err("ERR given type is not a function")
        );
    }
}
