//! Register updates made on an HLL's own bytes, the way Redis makes them: PFADD and PFMERGE
//! edit a sparse HLL's opcodes in place and promote it to dense when it outgrows them.
//!
//! Place in the flow: `command/hyperloglog.rs` calls [`set_register`] for every register PFADD
//! or PFMERGE raises; `db/hll.rs` holds the layout, the decoder and the estimator.
//!
//! Why not decode, update and re-encode canonically: Redis never re-encodes a sparse HLL. It
//! finds the one opcode covering the register, replaces it by at most three (the run before,
//! the new value, the run after), merges equal neighbouring VAL opcodes only within a window
//! of five opcodes from the one before, and does not read the rest. So the bytes a client
//! later GETs (and DUMPs, and replicates) depend on the order of the updates, and a sparse
//! payload with junk after the opcode that covers the register is updated rather than refused.
//! Redis's documented rules followed here: an update needing a value above 32 (what VAL holds)
//! or growing the payload beyond `hll-sparse-max-bytes` converts to dense first; a payload that
//! ends before the register's opcode, or that does not sum to 16384 registers when converted,
//! is corrupt; the header (magic, cached cardinality bytes) is carried over as it is, and an
//! update only sets the stale bit of the cached cardinality.

use super::hll::{self, HllError, REGISTERS};

/// The longest run a ZERO opcode holds; longer zero runs take an XZERO.
const ZERO_MAX_LEN: usize = 64;
/// The longest run a VAL opcode holds.
const VAL_MAX_LEN: usize = 4;
/// How many opcodes after the one before the edit are looked at for VAL merges.
const MERGE_WINDOW: usize = 5;

/// One sparse opcode as read at some offset.
#[derive(Clone, Copy)]
enum Op {
    /// A run of zero registers, one byte (`00xxxxxx`).
    Zero(usize),
    /// A run of zero registers, two bytes (`01xxxxxx yyyyyyyy`).
    XZero(usize),
    /// A run of up to four registers holding `value` (`1vvvvvxx`).
    Val { value: u8, len: usize },
}

impl Op {
    /// Reads the opcode at `at`. An XZERO cut by the end of the payload reads its missing byte
    /// as 0, as Redis (which reads the string's terminator there) does.
    fn read(b: &[u8], at: usize) -> Op {
        let op = b[at];
        match op & 0xc0 {
            0x00 => Op::Zero(usize::from(op & 0x3f) + 1),
            0x40 => {
                let lo = b.get(at + 1).copied().unwrap_or(0);
                Op::XZero((usize::from(op & 0x3f) << 8 | usize::from(lo)) + 1)
            }
            _ => Op::Val {
                value: ((op >> 2) & 0x1f) + 1,
                len: usize::from(op & 0x3) + 1,
            },
        }
    }

    /// Registers covered.
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) => n,
            Op::Val { len, .. } => len,
        }
    }

    /// Bytes taken.
    fn width(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            _ => 1,
        }
    }
}

fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let n = len - 1;
        seq.push(0x40 | (n >> 8) as u8);
        seq.push((n & 0xff) as u8);
    } else {
        seq.push((len - 1) as u8);
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}

/// Raises register `index` of the HLL `b` (sparse or dense, header already checked) to
/// `count` when it is lower: `Ok(true)` when it changed. A sparse HLL is edited in place or,
/// when the edit needs it, converted to dense first; `Err(Corrupt)` when its opcodes end before
/// the register or it cannot be converted. An in-place sparse edit marks the cached cardinality
/// stale itself (as Redis's does); after a dense update the caller marks it.
pub fn set_register(
    b: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, HllError> {
    if !hll::is_sparse(b) {
        return Ok(hll::dense_raise(b, index, count));
    }
    if count > hll::SPARSE_VAL_MAX {
        return promote_and_set(b, index, count);
    }
    // Find the opcode covering `index` and the one before it.
    let (mut at, mut first, mut prev) = (hll::HDR, 0usize, None);
    let op = loop {
        if at >= b.len() {
            return Err(HllError::Corrupt);
        }
        let op = Op::read(b, at);
        if index < first + op.span() {
            break op;
        }
        prev = Some(at);
        at += op.width();
        first += op.span();
    };
    let seq = match op {
        Op::Val { value, .. } if value >= count => return Ok(false),
        Op::Val { len: 1, .. } | Op::Zero(1) => vec![val_byte(count, 1)],
        _ => replacement(op, index - first, first + op.span() - 1 - index, count),
    };
    let width = op.width();
    let new_len = b.len() + seq.len() - width;
    if seq.len() > width && new_len > sparse_max {
        return promote_and_set(b, index, count);
    }
    let tail = (at + width).min(b.len());
    b.splice(at..tail, seq);
    // An XZERO cut by the end counted its missing byte: the payload ends where Redis's does.
    b.truncate(new_len);
    merge_values(b, prev.unwrap_or(hll::HDR));
    hll::mark_stale(b);
    Ok(true)
}

/// The opcodes replacing `op` when one register inside it, `before` registers from its start
/// and `after` from its end, becomes `count`.
fn replacement(op: Op, before: usize, after: usize, count: u8) -> Vec<u8> {
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Val { value, .. } => {
            if before > 0 {
                seq.push(val_byte(value, before));
            }
            seq.push(val_byte(count, 1));
            if after > 0 {
                seq.push(val_byte(value, after));
            }
        }
        Op::Zero(_) | Op::XZero(_) => {
            if before > 0 {
                push_zeros(&mut seq, before);
            }
            seq.push(val_byte(count, 1));
            if after > 0 {
                push_zeros(&mut seq, after);
            }
        }
    }
    seq
}

/// Merges neighbouring VAL opcodes of equal value (while their runs fit one opcode) among the
/// few opcodes from `from` on: only where the edit can have made such neighbours.
fn merge_values(b: &mut Vec<u8>, from: usize) {
    let mut p = from;
    for _ in 0..MERGE_WINDOW {
        if p >= b.len() {
            break;
        }
        let here = Op::read(b, p);
        let Op::Val { value, len } = here else {
            p += here.width();
            continue;
        };
        if p + 1 < b.len()
            && let Op::Val {
                value: next_value,
                len: next_len,
            } = Op::read(b, p + 1)
            && next_value == value
            && len + next_len <= VAL_MAX_LEN
        {
            b[p + 1] = val_byte(value, len + next_len);
            b.remove(p);
            // Looked at again: the merged opcode may merge with the next one too.
            continue;
        }
        p += 1;
    }
}

/// Converts the sparse HLL `b` to dense (header bytes kept, encoding byte changed); a dense one
/// is left as it is. `Err(Corrupt)` when the opcodes do not cover exactly 16384 registers.
pub fn to_dense(b: &mut Vec<u8>) -> Result<(), HllError> {
    if !hll::is_sparse(b) {
        return Ok(());
    }
    let regs = hll::Hll::decode(b)?.regs;
    debug_assert_eq!(regs.len(), REGISTERS);
    let mut dense = b[..hll::HDR].to_vec();
    dense[4] = hll::DENSE;
    dense.resize(hll::DENSE_SIZE, 0);
    for (i, &r) in regs.iter().enumerate() {
        hll::dense_set(&mut dense[hll::HDR..], i, r);
    }
    *b = dense;
    Ok(())
}

/// Converts to dense, then raises the register there.
fn promote_and_set(b: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(b)?;
    Ok(hll::dense_raise(b, index, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::hll::Hll;

    fn empty() -> Vec<u8> {
        Hll::new().encode(3000)
    }

    fn regs(b: &[u8]) -> Vec<u8> {
        Hll::decode(b).map(|h| h.regs).unwrap_or_default()
    }

    #[test]
    fn splits_a_zero_run_and_keeps_the_registers() {
        let mut b = empty();
        assert_eq!(set_register(&mut b, 100, 3, 3000), Ok(true));
        // XZERO 100, VAL 3, XZERO 16283.
        assert_eq!(&b[16..], &[0x40, 99, 0x88, 0x7f, 0x9a]);
        assert_eq!(set_register(&mut b, 100, 2, 3000), Ok(false));
        let mut want = vec![0u8; REGISTERS];
        want[100] = 3;
        assert_eq!(regs(&b), want);
    }

    #[test]
    fn merges_equal_neighbours_up_to_four() {
        let mut b = empty();
        for i in 0..5 {
            assert_eq!(set_register(&mut b, i, 2, 3000), Ok(true));
        }
        // Runs of five are held as four and one.
        assert_eq!(&b[16..19], &[val_byte(2, 4), val_byte(2, 1), 0x7f]);
        let mut want = vec![0u8; REGISTERS];
        want[..5].fill(2);
        assert_eq!(regs(&b), want);
    }

    #[test]
    fn junk_after_the_covering_opcode_is_left_alone() {
        let mut b = empty();
        b.extend_from_slice(b"junk");
        assert_eq!(set_register(&mut b, 5, 1, 3000), Ok(true));
        assert!(b.ends_with(b"junk"));
        // A payload ending before the register is corrupt.
        let mut short = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00".to_vec();
        assert_eq!(set_register(&mut short, 5, 1, 3000), Err(HllError::Corrupt));
    }

    #[test]
    fn promotes_on_big_values_and_size_keeping_the_header() {
        let mut b = empty();
        b[8] = 7;
        assert_eq!(set_register(&mut b, 9, 40, 3000), Ok(true));
        assert_eq!(b.len(), hll::DENSE_SIZE);
        assert_eq!((b[4], b[8]), (hll::DENSE, 7));
        assert_eq!(regs(&b)[9], 40);
        let mut small = empty();
        assert_eq!(set_register(&mut small, 9, 1, 18), Ok(true));
        assert_eq!(small.len(), hll::DENSE_SIZE);
    }

    /// Bounded fuzz (run by `cargo test`, so by CI): random updates on valid sparse HLLs and on
    /// damaged ones (bytes flipped, cut, appended). Never a panic; the payload never grows
    /// beyond the sparse limit plus one edit or the dense size; on a payload that decodes,
    /// an update changes exactly the one register, to the maximum of old and new.
    #[test]
    fn fuzz_updates_keep_the_registers_and_never_panic() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        let mut rng = StdRng::seed_from_u64(0x4859_4c4c);
        for _ in 0..400 {
            let max = [0usize, 20, 300, 3000][rng.random_range(0..4)];
            let mut b = empty();
            for _ in 0..rng.random_range(0..300) {
                let (i, n) = (rng.random_range(0..REGISTERS), rng.random_range(1..40));
                let _ = set_register(&mut b, i, n, 3000);
            }
            match rng.random_range(0..4) {
                0 if b.len() > hll::HDR => {
                    let at = rng.random_range(hll::HDR..b.len());
                    b[at] = rng.random();
                }
                1 if b.len() > hll::HDR => {
                    let at = rng.random_range(hll::HDR..b.len());
                    b.truncate(at);
                }
                2 => b.extend((0..rng.random_range(1..4)).map(|_| rng.random::<u8>())),
                _ => {}
            }
            // Callers check the header first (PFADD, PFMERGE): a cut dense HLL never gets here.
            if hll::check_header(&b).is_err() {
                continue;
            }
            for _ in 0..20 {
                let before = Hll::decode(&b).ok().map(|h| h.regs);
                let (i, n) = (rng.random_range(0..REGISTERS), rng.random_range(1..40));
                let len = b.len();
                let result = set_register(&mut b, i, n, max);
                assert!(b.len() <= (len + 4).max(hll::DENSE_SIZE));
                if let (Some(mut want), Ok(changed)) = (before, result) {
                    assert_eq!(changed, want[i] < n);
                    want[i] = want[i].max(n);
                    assert_eq!(regs(&b), want);
                }
            }
        }
    }
}
