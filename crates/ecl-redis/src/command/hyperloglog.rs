//! HyperLogLog commands: PFADD, PFCOUNT (several keys = union), PFMERGE.
//!
//! Place in the flow: HLLs are string values in Redis' `HYLL` layout (`db/hll.rs` decodes and
//! encodes them), so GET/SET/DUMP/RESTORE carry them unchanged and `TYPE` says `string`.

use super::flags::*;
use super::ks;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl};
use crate::config::notify;
use crate::db::Value;
use crate::db::hll::{self, Hll, HllError};
use crate::errors::{self, CmdError, CmdResult};

const R: AclCategories = acl::READ.with(acl::HYPERLOGLOG);
const W: AclCategories = acl::WRITE.with(acl::HYPERLOGLOG);

/// `WRONGTYPE` for strings that are not HLLs.
pub const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// Corrupt sparse/dense payload.
pub const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// HyperLogLog family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("pfadd", pfadd).arity(-2).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(Keys::Range(1, 1, 1)).since(Redis(2, 8, 9)).group("hyperloglog")
    .ks(&[ks::RW | ks::INSERT])
    .doc("Adds elements to a HyperLogLog key. Creates the key if it doesn't exist."),
    Cmd::new("pfcount", pfcount).arity(-2).flags(&[READONLY, MAY_REPLICATE]).acl(&[R, acl::SLOW]).keys(Keys::Range(1, -1, 1)).since(Redis(2, 8, 9)).group("hyperloglog")
    .ks(&[ks::RW | ks::ACCESS])
    .doc("Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)."),
    Cmd::new("pfmerge", pfmerge).arity(-2).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(Keys::Range(1, -1, 1)).since(Redis(2, 8, 9)).group("hyperloglog")
    .ks(&[ks::RW | ks::ACCESS | ks::INSERT, ks::RO | ks::ACCESS])
    .doc("Merges one or more HyperLogLog values into a single key."),
];

fn map_err(e: HllError) -> CmdError {
    match e {
        HllError::NotHll => NOT_HLL.into(),
        HllError::Corrupt => CORRUPT.into(),
    }
}

/// Loads the HLL at `key` (`None` when missing).
fn load(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Hll>, CmdError> {
    let now = ctx.now;
    match ctx.db().get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Hll::decode(s).map(Some).map_err(map_err),
            _ => Err(errors::WRONGTYPE.into()),
        },
    }
}

fn sparse_max(ctx: &Ctx<'_>) -> usize {
    super::coll::cfg_i64(ctx, "hll-sparse-max-bytes", 3000).max(0) as usize
}

/// Stores `h` at `key`, keeping any TTL.
fn save(ctx: &mut Ctx<'_>, key: &[u8], h: &Hll) {
    let bytes = h.encode(sparse_max(ctx));
    let now = ctx.now;
    ctx.db()
        .set(key, Value::Str(crate::db::Str::raw(bytes)), now, true);
}

fn pfadd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    // Dense HLLs are updated in place (no decode/encode of 16384 registers per call); the
    // key is only touched when a register really changes.
    let now = ctx.now;
    let dense = match ctx.db().peek(key, now).map(|e| &e.value) {
        Some(Value::Str(b)) if hll::is_dense(b) => {
            Some(hll::dense_would_change(b, argv.iter_from(2)))
        }
        _ => None,
    };
    if argv.len() == 2
        && let Some(e) = ctx.db().peek(key, now)
    {
        // No elements: Redis checks the value is an HLL (header only) and changes nothing.
        let Value::Str(b) = &e.value else {
            return Err(errors::WRONGTYPE.into());
        };
        hll::check_header(b).map_err(map_err)?;
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(change) = dense {
        if change
            && let Some(mut v) = ctx.db().get_mut(key, now)
            && let Value::Str(b) = &mut *v
        {
            hll::dense_add(b, argv.iter_from(2));
        }
        if change {
            ctx.write(key).notify(notify::STRING, "pfadd").dirty(1);
        }
        ctx.out.int(i64::from(change));
        return Ok(());
    }
    let (mut h, created) = match load(ctx, key)? {
        Some(h) => (h, false),
        None => (Hll::new(), true),
    };
    let mut changed = created;
    for e in argv.iter_from(2) {
        changed |= h.add(e);
    }
    if changed {
        save(ctx, key, &h);
        ctx.write(key).notify(notify::STRING, "pfadd").dirty(1);
    }
    ctx.out.int(i64::from(changed));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() == 2 {
        let key = argv.get(1);
        // A valid cached cardinality answers without decoding the registers.
        let now = ctx.now;
        if let Some(Value::Str(b)) = ctx.db().get(key, now).map(|e| &e.value)
            && let Some(n) = hll::cached_count(b)
        {
            ctx.out.int(n as i64);
            return Ok(());
        }
        let Some(mut h) = load(ctx, key)? else {
            ctx.out.int(0);
            return Ok(());
        };
        let n = match h.cached {
            Some(n) => n,
            None => {
                // Refresh the cached cardinality in the header, as Redis does.
                let n = h.count();
                h.cached = Some(n);
                save(ctx, key, &h);
                n
            }
        };
        ctx.out.int(n as i64);
        return Ok(());
    }
    let mut acc = Hll::new();
    for k in argv.iter_from(1) {
        if let Some(h) = load(ctx, k)? {
            acc.merge(&h);
        }
    }
    ctx.out.int(acc.count() as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let dst = argv.get(1);
    let mut acc = load(ctx, dst)?.unwrap_or_default();
    for k in argv.iter_from(2) {
        if let Some(h) = load(ctx, k)? {
            acc.merge(&h);
        }
    }
    acc.cached = None;
    save(ctx, dst, &acc);
    ctx.write(dst).notify(notify::STRING, "pfadd").dirty(1);
    ctx.out.ok();
    Ok(())
}
