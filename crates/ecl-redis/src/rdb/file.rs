//! Whole RDB files: the writer ([`write`]) and the loader ([`read`]).
//!
//! Place in the flow: the node's snapshot API and SAVE/BGSAVE/DEBUG RELOAD (`crate::persistence`)
//! call these with the engine's databases; values go through the value codec in
//! [`super`]. A file is `REDIS` + four-digit version, auxiliary fields, then per non-empty
//! database a SELECTDB and RESIZEDB opcode followed by its keys (each optionally preceded by
//! an expiry and LRU/LFU opcodes), the EOF opcode and the CRC-64 of everything before it.
//! We write the encodings a Redis of the node's version writes (integer and LZF strings,
//! quicklist-2 lists, listpack hashes/sorted sets, intsets, listpack sets from RDB 11, streams in the
//! stream type of the version; RDB 9
//! files get plain lists, hashes and sorted sets instead of listpacks, which Redis 5/6 lack) and
//! read those plus the older ones (ziplists, quicklist 1). Every length read is checked
//! against the input that remains, and every error names the byte offset it was found at.

use super::listpack::{self, ListpackWriter};
use super::lzf::Compressor;
use super::{CRC, Reader, decode_body, put_len, put_string, stream, ty};
use crate::db::bytes::SmallBytes;
use crate::db::set::SetEnc;
use crate::db::{Db, Entry, Key, Value};
use std::fmt;

/// File-level opcodes (the byte where a value type would otherwise stand).
mod op {
    pub const SLOT_INFO: u8 = 0xF4;
    pub const FUNCTION2: u8 = 0xF5;
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;
}

/// Byte budget of one quicklist node, as with Redis' default `list-max-listpack-size -2`.
const QUICKLIST_NODE_BYTES: usize = 8192;

/// Why a file was refused: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    /// Offset in the file where the fault was found.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

impl std::error::Error for RdbError {}

fn err<T>(offset: usize, reason: impl Into<String>) -> Result<T, RdbError> {
    Err(RdbError {
        offset,
        reason: reason.into(),
    })
}

/// What the writer puts in the header and auxiliary fields.
#[derive(Debug, Clone)]
pub struct WriteMeta {
    /// RDB format version (see [`super::rdb_version`]).
    pub rdb_version: u16,
    /// Engine version written as `redis-ver`.
    pub engine_version: String,
    /// Creation time (Unix s), `ctime`.
    pub ctime_s: i64,
    /// Memory in use, `used-mem`.
    pub used_mem: u64,
}

/// Serialises every database into an RDB file image. Keys already expired at `now_ms` are
/// left out (a loading primary would drop them anyway).
pub fn write(dbs: &[Db], meta: &WriteMeta, now_ms: i64) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(dbs.iter().map(Db::used_memory).sum::<usize>() / 2 + 64),
        lzf: Compressor::default(),
        version: meta.rdb_version,
    };
    w.out
        .extend_from_slice(format!("REDIS{:04}", meta.rdb_version).as_bytes());
    w.aux(b"redis-ver", meta.engine_version.as_bytes());
    w.aux(b"redis-bits", b"64");
    w.aux(b"ctime", meta.ctime_s.to_string().as_bytes());
    w.aux(b"used-mem", meta.used_mem.to_string().as_bytes());
    w.aux(b"aof-base", b"0");
    for (i, db) in dbs.iter().enumerate().filter(|(_, d)| !d.is_empty()) {
        w.out.push(op::SELECTDB);
        put_len(&mut w.out, i as u64);
        w.out.push(op::RESIZEDB);
        put_len(&mut w.out, db.len() as u64);
        put_len(&mut w.out, db.expires_len() as u64);
        for (k, e) in db.iter() {
            if e.expire_at != 0 {
                if e.expire_at <= now_ms {
                    continue;
                }
                w.out.push(op::EXPIRETIME_MS);
                w.out.extend_from_slice(&e.expire_at.to_le_bytes());
            }
            w.object(k, &e.value);
        }
    }
    w.out.push(op::EOF);
    let crc = CRC.checksum(&w.out);
    w.out.extend_from_slice(&crc.to_le_bytes());
    w.out
}

/// The output buffer with its reusable LZF table.
struct Writer {
    out: Vec<u8>,
    lzf: Compressor,
    version: u16,
}

impl Writer {
    fn aux(&mut self, key: &[u8], value: &[u8]) {
        self.out.push(op::AUX);
        self.string(key);
        self.string(value);
    }

    /// A string in Redis' compact forms (see [`put_string`]).
    fn string(&mut self, s: &[u8]) {
        put_string(&mut self.lzf, &mut self.out, s);
    }

    /// Whether the format has listpack types (RDB 10, Redis 7.0, on). Older files get the
    /// plain forms, which every Redis loads (Redis 5/6 would write ziplists there; we do not
    /// write that retired format).
    fn listpacks(&self) -> bool {
        self.version >= 10
    }

    /// Type byte, key and value body.
    fn object(&mut self, key: &[u8], v: &Value) {
        match v {
            Value::Str(s) => {
                self.out.push(ty::STRING);
                self.string(key);
                self.string(s);
            }
            Value::List(l) if self.listpacks() => {
                self.out.push(ty::LIST_QUICKLIST_2);
                self.string(key);
                self.quicklist(l.iter().map(SmallBytes::as_slice));
            }
            Value::List(l) => {
                self.out.push(ty::LIST);
                self.string(key);
                put_len(&mut self.out, l.len() as u64);
                for e in l.iter() {
                    self.string(e);
                }
            }
            Value::Set(s) => self.set(key, s),
            Value::Hash(h) if h.encoding() == "listpack" && self.listpacks() => {
                self.out.push(ty::HASH_LISTPACK);
                self.string(key);
                let mut lp = ListpackWriter::default();
                for (f, val) in h.iter() {
                    lp.push(f);
                    lp.push(val);
                }
                self.string(&lp.finish());
            }
            Value::Hash(h) => {
                self.out.push(ty::HASH);
                self.string(key);
                put_len(&mut self.out, h.len() as u64);
                for (f, val) in h.iter() {
                    self.string(f);
                    self.string(val);
                }
            }
            Value::ZSet(z) => self.zset(key, z),
            Value::Stream(st) => {
                self.out.push(stream::type_byte(self.version));
                self.string(key);
                let lzf = &mut self.lzf;
                stream::encode(st, self.version, &mut self.out, &mut |o, b| {
                    put_string(lzf, o, b)
                });
            }
        }
    }

    /// A list as quicklist-2 nodes of packed listpacks, each up to the default node size.
    fn quicklist<'a>(&mut self, items: impl Iterator<Item = &'a [u8]>) {
        let mut nodes: Vec<Vec<u8>> = Vec::new();
        let mut lp = ListpackWriter::default();
        for item in items {
            if lp.count() > 0 && lp.size() + item.len() + 11 > QUICKLIST_NODE_BYTES {
                nodes.push(std::mem::take(&mut lp).finish());
            }
            lp.push(item);
        }
        if lp.count() > 0 {
            nodes.push(lp.finish());
        }
        put_len(&mut self.out, nodes.len() as u64);
        for n in nodes {
            // Container 2: a packed listpack node (1 would be a single plain element).
            put_len(&mut self.out, 2);
            self.string(&n);
        }
    }

    fn set(&mut self, key: &[u8], s: &crate::db::set::Set) {
        let enc = s.encoding_kind();
        if enc == SetEnc::Intset {
            let ints: Option<Vec<i64>> = s.iter().map(|m| listpack::canonical_int(m)).collect();
            if let Some(mut ints) = ints {
                self.out.push(ty::SET_INTSET);
                self.string(key);
                self.string(&listpack::intset_encode(&mut ints));
                return;
            }
        }
        // Listpack sets exist from RDB 11 (Redis 7.2) on; older files hold them plainly.
        if enc == SetEnc::Listpack && self.version >= 11 {
            self.out.push(ty::SET_LISTPACK);
            self.string(key);
            let mut lp = ListpackWriter::default();
            for m in s.iter() {
                lp.push(m);
            }
            self.string(&lp.finish());
            return;
        }
        self.out.push(ty::SET);
        self.string(key);
        put_len(&mut self.out, s.len() as u64);
        for m in s.iter() {
            self.string(m);
        }
    }

    fn zset(&mut self, key: &[u8], z: &crate::db::zset::ZSet) {
        if z.encoding() == "listpack" && self.listpacks() {
            self.out.push(ty::ZSET_LISTPACK);
            self.string(key);
            let mut lp = ListpackWriter::default();
            for (m, score) in z.iter() {
                lp.push(&m);
                lp.push(score_text(score).as_bytes());
            }
            self.string(&lp.finish());
            return;
        }
        self.out.push(ty::ZSET_2);
        self.string(key);
        put_len(&mut self.out, z.len() as u64);
        for (m, score) in z.iter() {
            self.string(&m);
            self.out.extend_from_slice(&score.to_le_bytes());
        }
    }
}

/// A score as listpack text that `strtod` reads back exactly: integers plainly, infinities
/// as `inf`/`-inf`, anything else in Rust's shortest round-trip exponent form.
fn score_text(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v == v.trunc() && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        return format!("{}", v as i64);
    }
    format!("{v:e}")
}

/// How the loader treats keys.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Newest RDB version accepted (the node's own, as Redis refuses newer files).
    pub max_version: u16,
    /// Databases the node has (SELECTDB beyond them is an error).
    pub databases: usize,
    /// The node's clock: keys expired by then are skipped, as a loading primary does.
    pub now_ms: i64,
    /// Whether the node's eviction policy is LFU (how the key's access field is filled).
    pub lfu: bool,
}

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// RDB version of the file.
    pub rdb_version: u16,
    /// Keys loaded.
    pub keys_loaded: u64,
    /// Keys skipped because their TTL had passed.
    pub keys_expired: u64,
    /// Function library records in the file (their code is in `functions`).
    pub functions_skipped: u64,
    /// The source code of each function library in the file (`FUNCTION2` records), for the
    /// node to load (see `rdb::functions`).
    pub functions: Vec<Vec<u8>>,
    /// Auxiliary fields, in file order.
    pub aux: Vec<(String, String)>,
}

/// The decoded content of a file: per database, its entries.
pub type Dataset = Vec<Vec<(Key, Entry)>>;

/// Parses a whole RDB file image. Nothing is applied here: the caller swaps the dataset in
/// only once the whole file, checksum included, has been verified.
pub fn read(bytes: &[u8], opts: &ReadOptions) -> Result<(Dataset, LoadStats), RdbError> {
    let version = header(bytes, opts.max_version)?;
    let mut stats = LoadStats {
        rdb_version: version,
        ..LoadStats::default()
    };
    let mut data: Dataset = (0..opts.databases).map(|_| Vec::new()).collect();
    let mut r = Reader { b: bytes, p: 9 };
    let mut db = 0usize;
    let mut pending = KeyMeta::default();
    loop {
        let at = r.p;
        let Some(t) = r.byte() else {
            return err(at, "unexpected end of file (no EOF opcode)");
        };
        match t {
            op::EOF => break,
            op::SELECTDB => {
                let n = r.len_plain(at)?;
                if n >= opts.databases as u64 {
                    return err(at, format!("database index {n} out of range"));
                }
                db = n as usize;
            }
            op::RESIZEDB => {
                // Sizing hints only: never trusted for allocation.
                r.len_plain(at)?;
                r.len_plain(at)?;
            }
            op::AUX => {
                let k = r.string().ok_or_else(|| bad(at, "auxiliary field"))?;
                let v = r.string().ok_or_else(|| bad(at, "auxiliary field"))?;
                let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
                stats.aux.push((text(k), text(v)));
            }
            op::EXPIRETIME_MS => pending.expire_at = Some(i64::from_le_bytes(r.fixed(at)?)),
            op::EXPIRETIME => {
                let s = i32::from_le_bytes(r.fixed(at)?);
                pending.expire_at = Some(i64::from(s) * 1000);
            }
            op::FREQ => pending.freq = Some(r.byte().ok_or_else(|| bad(at, "LFU frequency"))?),
            op::IDLE => pending.idle = Some(r.len_plain(at)?),
            op::FUNCTION2 => {
                let code = r.string().ok_or_else(|| bad(at, "function library"))?;
                stats.functions.push(code);
                stats.functions_skipped += 1;
            }
            op::SLOT_INFO => {
                for _ in 0..3 {
                    r.len_plain(at)?;
                }
            }
            op::MODULE_AUX | op::FUNCTION_PRE_GA => {
                return err(
                    at,
                    format!("unsupported opcode {t:#04x} (modules/functions)"),
                );
            }
            _ => {
                r.p = at;
                let (key, value) = key_value(&mut r, t)?;
                let meta = std::mem::take(&mut pending);
                let expire_at = meta.expire_at.unwrap_or(0);
                if expire_at != 0 && expire_at <= opts.now_ms {
                    stats.keys_expired += 1;
                    continue;
                }
                let lru = meta.lru(opts);
                data[db].push((
                    key.into(),
                    Entry {
                        value,
                        expire_at,
                        lru,
                    },
                ));
                stats.keys_loaded += 1;
            }
        }
    }
    trailer(bytes, r.p, version)?;
    Ok((data, stats))
}

/// Checks the magic and version; returns the version.
fn header(bytes: &[u8], max_version: u16) -> Result<u16, RdbError> {
    if bytes.len() < 9 || &bytes[..5] != b"REDIS" {
        return err(0, "not an RDB file (no REDIS magic)");
    }
    let digits = std::str::from_utf8(&bytes[5..9]).ok();
    let Some(version) = digits.and_then(|d| d.parse::<u16>().ok()) else {
        return err(5, "bad RDB version digits");
    };
    if version == 0 || version > max_version {
        return err(
            5,
            format!("RDB version {version} not supported (newest {max_version})"),
        );
    }
    Ok(version)
}

/// After EOF at `end`: the CRC-64 (from RDB 5 on; zero means "not computed") and nothing else.
fn trailer(bytes: &[u8], end: usize, version: u16) -> Result<(), RdbError> {
    if version < 5 {
        return if end == bytes.len() {
            Ok(())
        } else {
            err(end, "bytes after EOF")
        };
    }
    let Some(tail) = bytes.get(end..end + 8) else {
        return err(end, "checksum missing after EOF");
    };
    if end + 8 != bytes.len() {
        return err(end + 8, "bytes after the checksum");
    }
    let want = u64::from_le_bytes(tail.try_into().unwrap_or_default());
    if want != 0 && CRC.checksum(&bytes[..end]) != want {
        return err(end, "CRC-64 checksum mismatch");
    }
    Ok(())
}

/// One key and its value, starting at the type byte.
fn key_value(r: &mut Reader<'_>, t: u8) -> Result<(Vec<u8>, Value), RdbError> {
    let at = r.p;
    if matches!(t, 6 | 7) {
        return err(at, "module values are not supported");
    }
    r.p += 1;
    let key = r.string().ok_or_else(|| bad(at, "key"))?;
    let body = r.p;
    let value = decode_body(r, t).ok_or_else(|| bad(body, &format!("value of type {t}")))?;
    Ok((key, value))
}

fn bad(at: usize, what: &str) -> RdbError {
    RdbError {
        offset: at,
        reason: format!("cannot decode {what}"),
    }
}

/// Expiry and access opcodes seen before the key they belong to.
#[derive(Default)]
struct KeyMeta {
    expire_at: Option<i64>,
    idle: Option<u64>,
    freq: Option<u8>,
}

impl KeyMeta {
    /// The entry's access field, from the file's IDLE/FREQ hints or as if just written.
    fn lru(&self, opts: &ReadOptions) -> u32 {
        let now_s = opts.now_ms / 1000;
        match (self.idle, self.freq) {
            (_, Some(f)) if opts.lfu => {
                ((opts.now_ms / 60_000) as u32 & 0xFFFF) << 8 | u32::from(f)
            }
            (Some(idle), _) if !opts.lfu => (now_s - idle.min(now_s as u64) as i64) as u32,
            _ if opts.lfu => crate::db::evict::lfu_initial(opts.now_ms),
            _ => now_s as u32,
        }
    }
}

impl Reader<'_> {
    /// A plain (non-encoded) length.
    fn len_plain(&mut self, at: usize) -> Result<u64, RdbError> {
        match self.len() {
            Some((n, false)) => Ok(n),
            _ => err(at, "bad length"),
        }
    }

    /// `N` raw bytes.
    fn fixed<const N: usize>(&mut self, at: usize) -> Result<[u8; N], RdbError> {
        match self.take(N).and_then(|b| <[u8; N]>::try_from(b).ok()) {
            Some(b) => Ok(b),
            None => err(at, "unexpected end of file"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn opts(max_version: u16) -> ReadOptions {
        ReadOptions {
            max_version,
            databases: 16,
            now_ms: NOW,
            lfu: false,
        }
    }

    /// A file from raw body bytes (after the header), with EOF and a correct CRC.
    fn file(version: u16, body: &[u8]) -> Vec<u8> {
        let mut f = format!("REDIS{version:04}").into_bytes();
        f.extend_from_slice(body);
        f.push(op::EOF);
        let crc = CRC.checksum(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    #[test]
    fn header_version_and_checksum_errors_name_offsets() {
        assert_eq!(read(b"RUBBISH00", &opts(10)).unwrap_err().offset, 0);
        let e = read(&file(11, b""), &opts(10)).unwrap_err();
        assert_eq!((e.offset, e.reason.contains("RDB version 11")), (5, true));
        let mut f = file(10, &[op::SELECTDB, 0, ty::STRING, 1, b'k', 1, b'v']);
        let n = f.len();
        f[n - 1] ^= 1;
        let e = read(&f, &opts(10)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("CRC-64 checksum mismatch at byte {}", n - 8)
        );
        let e = read(&file(10, &[op::SELECTDB, 16]), &opts(10)).unwrap_err();
        assert_eq!(e.offset, 9);
        // A value whose length runs past the end: the offset is its body's.
        let e = read(
            &file(10, &[ty::STRING, 1, b'k', 0x80, 0, 0, 0, 40]),
            &opts(10),
        )
        .unwrap_err();
        assert_eq!(e.offset, 12, "{e}");
    }

    #[test]
    fn expiry_idle_freq_and_function_opcodes() {
        let past = (NOW - 1).to_le_bytes();
        let future_s = ((NOW / 1000 + 100) as i32).to_le_bytes();
        let mut body = vec![op::FUNCTION2, 3, b'l', b'u', b'a', op::EXPIRETIME_MS];
        body.extend_from_slice(&past);
        body.extend_from_slice(&[ty::STRING, 1, b'a', 1, b'x', op::EXPIRETIME]);
        body.extend_from_slice(&future_s);
        body.extend_from_slice(&[op::IDLE, 10, ty::STRING, 1, b'b', 0xC0, 7]);
        body.extend_from_slice(&[op::FREQ, 5, ty::STRING, 1, b'c', 1, b'z']);
        let (data, stats) = read(&file(10, &body), &opts(10)).unwrap();
        assert_eq!(
            (
                stats.keys_loaded,
                stats.keys_expired,
                stats.functions_skipped
            ),
            (2, 1, 1)
        );
        let (k, e) = &data[0][0];
        assert_eq!(
            (&k[..], e.expire_at),
            (&b"b"[..], (NOW / 1000 + 100) * 1000)
        );
        assert_eq!(e.lru, (NOW / 1000 - 10) as u32);
        assert!(matches!(&e.value, Value::Str(s) if s[..] == b"7"[..]));
    }

    #[test]
    fn rdb_9_has_no_listpack_types() {
        let mut h = crate::db::hash::Hash::new();
        h.insert(b"f", b"v".to_vec());
        let mut l = crate::db::list::List::new();
        l.push_back(b"x".to_vec());
        for (v, want9, want10) in [
            (Value::Hash(Box::new(h)), ty::HASH, ty::HASH_LISTPACK),
            (Value::List(Box::new(l)), ty::LIST, ty::LIST_QUICKLIST_2),
        ] {
            for (version, want) in [(9, want9), (10, want10)] {
                let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
                let e = Entry {
                    value: v.clone(),
                    expire_at: 0,
                    lru: 0,
                };
                dbs[0].insert_entry(b"k", e);
                let meta = WriteMeta {
                    rdb_version: version,
                    engine_version: "6.2.6".into(),
                    ctime_s: 0,
                    used_mem: 0,
                };
                let f = write(&dbs, &meta, NOW);
                // SELECTDB 0, RESIZEDB 1 0, then the type byte.
                let at = f
                    .windows(5)
                    .position(|w| w == [op::SELECTDB, 0, op::RESIZEDB, 1, 0]);
                assert_eq!(f[at.unwrap() + 5], want, "RDB {version}");
                assert_eq!(read(&f, &opts(version)).unwrap().1.keys_loaded, 1);
            }
        }
    }

    #[test]
    fn score_text_reads_back_exactly() {
        for v in [
            1.5,
            -3.0,
            1e-7,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.1 + 0.2,
        ] {
            let t = score_text(v);
            let back = crate::db::string::parse_f64(t.as_bytes()).unwrap();
            assert!(
                back == v && back.is_sign_negative() == v.is_sign_negative(),
                "{t}"
            );
        }
    }
}
