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
use crate::db::hll_sparse;
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
    load_counted(ctx, key, true)
}

/// [`load`], counting a keyspace hit or miss only when `counted` (a key already looked up
/// once by the same command is not counted twice, as redis-server looks it up once).
fn load_counted(ctx: &mut Ctx<'_>, key: &[u8], counted: bool) -> Result<Option<Hll>, CmdError> {
    let now = ctx.now;
    match ctx.db().lookup_for(key, now, counted) {
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

/// Stores a new empty HLL at `key`: sparse whatever `hll-sparse-max-bytes` says, as Redis
/// creates every HLL (the limit is checked only when an update grows it).
fn create_empty(ctx: &mut Ctx<'_>, key: &[u8]) {
    let empty = Hll::new().encode(usize::MAX);
    let now = ctx.now;
    ctx.db()
        .set(key, Value::Str(crate::db::Str::raw(empty)), now, false);
}

fn pfadd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let now = ctx.now;
    let max = sparse_max(ctx);
    let created = match ctx.db().peek(key, now).map(|e| &e.value) {
        None => true,
        Some(Value::Str(b)) => {
            hll::check_header(b).map_err(map_err)?;
            false
        }
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    if created {
        create_empty(ctx, key);
    }
    // Redis edits its own (unshared, so `raw`) copy of the string in place, register by
    // register; an element whose register lies past a corrupt sparse payload's end fails the
    // command, the registers raised before it stay raised, and the key is not signalled.
    let mut raised = 0u64;
    let mut failed = None;
    if let Some(mut v) = ctx.db().get_mut(key, now)
        && let Value::Str(s) = &mut *v
    {
        let bytes: &mut Vec<u8> = s.vec_mut();
        for e in argv.iter_from(2) {
            let (index, count) = hll::pattern(e);
            match hll_sparse::set_register(bytes, index, count, max) {
                Ok(true) => raised += 1,
                Ok(false) => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if raised > 0 && failed.is_none() {
            hll::mark_stale(bytes);
        }
        if raised == 0 && !created {
            v.unchanged();
        }
    }
    if let Some(e) = failed {
        return Err(map_err(e));
    }
    let updated = raised + u64::from(created);
    if updated > 0 {
        // Redis counts every raised register (and the creation) as a change.
        ctx.write(key)
            .notify(notify::STRING, "pfadd")
            .dirty(updated);
    }
    ctx.out.int(i64::from(updated > 0));
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
        let Some(h) = load_counted(ctx, key, false)? else {
            ctx.out.int(0);
            return Ok(());
        };
        let n = match h.cached {
            Some(n) => n,
            None => {
                // Redis writes the fresh cardinality into the header in place, and counts
                // that as a change of the key (WATCH, dirty, replicated as PFCOUNT).
                let n = h.count();
                if let Some(mut v) = ctx.db().get_mut(key, now)
                    && let Value::Str(s) = &mut *v
                {
                    hll::store_cached(s, n);
                }
                ctx.write(key).dirty(1);
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
    // The register-wise maximum of every input, the destination included.
    let mut acc = load(ctx, dst)?.unwrap_or_default();
    for k in argv.iter_from(2) {
        if let Some(h) = load(ctx, k)? {
            acc.merge(&h);
        }
    }
    let now = ctx.now;
    let max = sparse_max(ctx);
    if !ctx.db().exists(dst, now) {
        create_empty(ctx, dst);
    }
    // Written into the destination's own bytes register by register, as Redis does: dense
    // first when any input was dense, else edited sparse (and promoted if it outgrows it).
    if let Some(mut v) = ctx.db().get_mut(dst, now)
        && let Value::Str(s) = &mut *v
    {
        let bytes: &mut Vec<u8> = s.vec_mut();
        if acc.dense {
            hll_sparse::to_dense(bytes).map_err(map_err)?;
        }
        for (index, &count) in acc.regs.iter().enumerate() {
            if count > 0 {
                hll_sparse::set_register(bytes, index, count, max).map_err(map_err)?;
            }
        }
        hll::mark_stale(bytes);
    }
    ctx.write(dst).notify(notify::STRING, "pfadd").dirty(1);
    ctx.out.ok();
    Ok(())
}
