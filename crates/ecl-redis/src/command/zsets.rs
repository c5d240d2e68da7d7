//! Sorted-set commands: adding/scoring, ranks, and every range form (ZRANGE with
//! BYSCORE/BYLEX/REV/LIMIT, the legacy ZRANGEBY*/ZREV* commands, ZRANGESTORE, ZREMRANGEBY*).
//!
//! Place in the flow: argument parsing and reply shaping for `Value::ZSet`; the ordered
//! structure (order-statistic tree + member map) lives in `db/zset.rs`. Set algebra, pops,
//! blocking pops, random members and ZSCAN are in `zsets_ops.rs`. Scores go out as RESP3
//! doubles (RESP2 bulk strings) with Redis' formatting.

use super::coll::{self, cleanup, read};
use super::flags::*;
use super::ks;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl};
use crate::config::notify;
use crate::db::string::rank_range;
use crate::db::zset::{LexBound, LexRange, ScoreRange, ZSet};
use crate::db::{Key, Value};
use crate::errors::{self, CmdError, CmdResult};

pub(crate) const R: AclCategories = acl::READ.with(acl::SORTEDSET);
pub(crate) const W: AclCategories = acl::WRITE.with(acl::SORTEDSET);
const K1: Keys = Keys::Range(1, 1, 1);

/// `ERR min or max is not a float`.
pub const MINMAX_FLOAT: &str = "ERR min or max is not a float";
/// `ERR min or max not valid string range item`.
pub const MINMAX_LEX: &str = "ERR min or max not valid string range item";

/// Sorted-set family table (basic and range commands; see `zsets_ops` for the rest).
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("zadd", zadd).arity(-4).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").doc("Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    Cmd::new("zincrby", zincrby).arity(4).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").ks(&[ks::RW | ks::ACCESS | ks::UPDATE]).doc("Increments the score of a member in a sorted set."),
    Cmd::new("zrem", zrem).arity(-3).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").ks(&[ks::RW | ks::DELETE]).doc("Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    Cmd::new("zcard", zcard).arity(2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").ks(&[ks::RO]).doc("Returns the number of members in a sorted set."),
    Cmd::new("zcount", zcount).arity(4).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("sorted-set").doc("Returns the count of members in a sorted set that have scores within a range."),
    Cmd::new("zlexcount", zlexcount).arity(4).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 8, 9)).group("sorted-set").doc("Returns the number of members in a sorted set within a lexicographical range."),
    Cmd::new("zscore", zscore).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").doc("Returns the score of a member in a sorted set."),
    Cmd::new("zmscore", zmscore).arity(-3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(6, 2, 0)).group("sorted-set").doc("Returns the score of one or more members in a sorted set."),
    // WITHSCORE came with 7.2: before it, ZRANK and ZREVRANK take exactly 3 arguments.
    Cmd::new("zrank", zrank).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).until(Redis(7, 2, 0)).group("sorted-set").doc("Returns the index of a member in a sorted set ordered by ascending scores."),
    Cmd::new("zrank", zrank).arity(-3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("sorted-set").doc("Returns the index of a member in a sorted set ordered by ascending scores.").variant_from(Redis(7, 2, 0)),
    Cmd::new("zrevrank", zrevrank).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).until(Redis(7, 2, 0)).group("sorted-set").doc("Returns the index of a member in a sorted set ordered by descending scores."),
    Cmd::new("zrevrank", zrevrank).arity(-3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("sorted-set").doc("Returns the index of a member in a sorted set ordered by descending scores.").variant_from(Redis(7, 2, 0)),
    Cmd::new("zrange", zrange).arity(-4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").doc("Returns members in a sorted set within a range of indexes."),
    Cmd::new("zrangestore", zrangestore).arity(-5).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(Keys::Range(1, 2, 1)).since(Redis(6, 2, 0)).group("sorted-set").ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Stores a range of members from sorted set in a key."),
    Cmd::new("zrevrange", zrevrange).arity(-4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").doc("Returns members in a sorted set within a range of indexes in reverse order."),
    Cmd::new("zrangebyscore", zrangebyscore).arity(-4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 0, 5)).group("sorted-set").doc("Returns members in a sorted set within a range of scores."),
    Cmd::new("zrevrangebyscore", zrevrangebyscore).arity(-4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 2, 0)).group("sorted-set").doc("Returns members in a sorted set within a range of scores in reverse order."),
    Cmd::new("zrangebylex", zrangebylex).arity(-4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 8, 9)).group("sorted-set").doc("Returns members in a sorted set within a lexicographical range."),
    Cmd::new("zrevrangebylex", zrevrangebylex).arity(-4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 8, 9)).group("sorted-set").doc("Returns members in a sorted set within a lexicographical range in reverse order."),
    Cmd::new("zremrangebyrank", zremrangebyrank).arity(4).flags(&[WRITE]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(2, 0, 0)).group("sorted-set").ks(&[ks::RW | ks::DELETE]).doc("Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    Cmd::new("zremrangebyscore", zremrangebyscore).arity(4).flags(&[WRITE]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(1, 2, 0)).group("sorted-set").ks(&[ks::RW | ks::DELETE]).doc("Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    Cmd::new("zremrangebylex", zremrangebylex).arity(4).flags(&[WRITE]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(2, 8, 9)).group("sorted-set").ks(&[ks::RW | ks::DELETE]).doc("Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
];

/// ZADD's flags, read before its score-member pairs.
#[derive(Clone, Copy, Default)]
struct ZaddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Reads ZADD's flags; returns them with the index of the first score, after checking the
/// combinations Redis refuses (in its order of checks).
fn parse_zadd_flags(argv: &Argv<'_>) -> Result<(ZaddFlags, usize), CmdError> {
    let mut f = ZaddFlags::default();
    let mut i = 2;
    while i < argv.len() {
        let a = argv.get(i).to_ascii_lowercase();
        match a.as_slice() {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            b"ch" => f.ch = true,
            b"incr" => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    let rest = argv.len() - i;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(errors::SYNTAX.into());
    }
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if f.incr && rest > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    Ok((f, i))
}

/// What applying ZADD's pairs did: members added, scores changed, the last score written.
type ZaddOutcome = (i64, i64, Option<f64>);

/// Applies the pairs to `z` under the flags (`me`/`mv`: the listpack limits).
fn apply_zadd_pairs(
    z: &mut ZSet,
    pairs: &[(f64, &[u8])],
    f: ZaddFlags,
    (me, mv): (usize, usize),
) -> Result<ZaddOutcome, CmdError> {
    let (mut added, mut changed) = (0i64, 0i64);
    let mut last: Option<f64> = None;
    let mut longest = 0;
    for &(score, m) in pairs {
        let new = match z.score(m) {
            Some(c) => {
                if f.nx {
                    continue;
                }
                let n = if f.incr { c + score } else { score };
                if n.is_nan() {
                    return Err(CmdError::from("ERR resulting score is not a number (NaN)"));
                }
                if (f.gt && n <= c) || (f.lt && n >= c) {
                    continue;
                }
                if n != c {
                    changed += 1;
                }
                n
            }
            None => {
                if f.xx {
                    continue;
                }
                added += 1;
                longest = longest.max(m.len());
                score
            }
        };
        z.insert(m, new);
        last = Some(new);
    }
    z.check_encoding(me, mv, longest);
    Ok((added, changed, last))
}

pub(crate) fn zadd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (f, first) = parse_zadd_flags(argv)?;
    let mut pairs = Vec::with_capacity((argv.len() - first) / 2);
    let mut j = first;
    while j + 1 < argv.len() {
        pairs.push((score_arg(argv, j)?, argv.get(j + 1)));
        j += 2;
    }
    let key = argv.get(1);
    let limits = coll::listpack_limits(ctx, "zset");
    if f.xx && !coll::check::<ZSet>(ctx, key)? {
        if f.incr {
            ctx.out.null();
        } else {
            ctx.out.int(0);
        }
        return Ok(());
    }
    // Nothing would change (NX on existing members, equal scores, GT/LT refusals): answer
    // without touching the key, so WATCHers are not disturbed.
    if !f.incr
        && let Some(z) = coll::peek::<ZSet>(ctx, key)?
        && pairs.iter().all(|(s, m)| match z.score(m) {
            None => f.xx,
            Some(c) => f.nx || *s == c || (f.gt && *s <= c) || (f.lt && *s >= c),
        })
    {
        ctx.out.int(0);
        return Ok(());
    }
    if f.incr
        && let [(by, m)] = pairs[..]
        && let Some(reply) = incr_without_change(ctx, key, m, by, f)?
    {
        match reply {
            Some(s) => coll::reply_score(ctx, s),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let res = coll::write::<ZSet, _>(ctx, key, true, |z| apply_zadd_pairs(z, &pairs, f, limits))?;
    let (added, changed, last) = match res {
        Some(r) => r?,
        None => (0, 0, None),
    };
    cleanup(ctx, key);
    if f.incr {
        match last {
            Some(s) => coll::reply_score(ctx, s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.int(if f.ch { added + changed } else { added });
    }
    if added + changed > 0 || (f.incr && last.is_some()) {
        ctx.write(key)
            .notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" })
            .dirty((added + changed) as u64)
            .ready();
    }
    Ok(())
}

/// An increment of an existing member that changes nothing (Redis then neither writes nor
/// signals the key): `Some(reply)`, the score left or `None` for a nil reply (NX, or a GT/LT
/// refusal); `None` when the increment must run.
fn incr_without_change(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    m: &[u8],
    by: f64,
    f: ZaddFlags,
) -> Result<Option<Option<f64>>, CmdError> {
    let Some(cur) = coll::peek::<ZSet>(ctx, key)?.and_then(|z| z.score(m)) else {
        return Ok(None);
    };
    let new = cur + by;
    if new.is_nan() {
        return Ok(None);
    }
    Ok(if f.nx || (f.gt && new <= cur) || (f.lt && new >= cur) {
        Some(None)
    } else if new == cur {
        Some(Some(cur))
    } else {
        None
    })
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = score_arg(argv, 2)?;
    let key = argv.get(1);
    let m = argv.get(3);
    if let Some(Some(score)) = incr_without_change(ctx, key, m, by, ZaddFlags::default())? {
        coll::reply_score(ctx, score);
        return Ok(());
    }
    let (me, mv) = coll::listpack_limits(ctx, "zset");
    let r = coll::write::<ZSet, _>(ctx, key, true, |z| {
        // A new member takes the increment itself (so `-0` stays negative zero).
        let n = z.score(m).map_or(by, |s| s + by);
        if n.is_nan() {
            return Err(CmdError::from("ERR resulting score is not a number (NaN)"));
        }
        z.insert(m, n);
        z.check_encoding(me, mv, m.len());
        Ok(n)
    })?;
    let n = match r {
        Some(r) => r,
        None => Ok(0.0),
    };
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            cleanup(ctx, key);
            return Err(e);
        }
    };
    coll::reply_score(ctx, n);
    ctx.write(key)
        .notify(notify::ZSET, "zincr")
        .dirty(1)
        .ready();
    Ok(())
}

fn zrem(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    if !coll::peek::<ZSet>(ctx, key)?
        .is_some_and(|z| argv.iter_from(2).any(|m| z.score(m).is_some()))
    {
        ctx.out.int(0);
        return Ok(());
    }
    let n = coll::write::<ZSet, _>(ctx, key, false, |z| {
        argv.iter_from(2).filter(|m| z.remove(m)).count()
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.write(key).notify(notify::ZSET, "zrem").dirty(n as u64);
        cleanup(ctx, key);
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = read::<ZSet>(ctx, argv.get(1))?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// A score or increment argument (`ERR value is not a valid float`).
pub fn score_arg(argv: &Argv<'_>, i: usize) -> Result<f64, CmdError> {
    crate::db::zset::parse_score(argv.get(i)).ok_or_else(|| errors::NOT_FLOAT.into())
}

/// Parses a score range (`ERR min or max is not a float`).
pub fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    ScoreRange::parse(min, max).ok_or_else(|| MINMAX_FLOAT.into())
}

/// Parses a lex range (`ERR min or max not valid string range item`).
pub fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    match (LexBound::parse(min), LexBound::parse(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(MINMAX_LEX.into()),
    }
}

fn zcount(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let r = score_range(argv.get(2), argv.get(3))?;
    let n = read::<ZSet>(ctx, argv.get(1))?.map_or(0, |z| {
        let (lo, hi) = z.score_span(&r);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let r = lex_range(argv.get(2), argv.get(3))?;
    let n = read::<ZSet>(ctx, argv.get(1))?.map_or(0, |z| {
        let (lo, hi) = z.lex_span(&r);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    match read::<ZSet>(ctx, argv.get(1))?.and_then(|z| z.score(argv.get(2))) {
        Some(s) => coll::reply_score(ctx, s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let r: Vec<Option<f64>> = match read::<ZSet>(ctx, argv.get(1))? {
        Some(z) => argv.iter_from(2).map(|m| z.score(m)).collect(),
        None => vec![None; argv.len() - 2],
    };
    ctx.out.array(r.len());
    for s in r {
        match s {
            Some(s) => coll::reply_score(ctx, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, rev: bool) -> CmdResult {
    let with_score = match argv.len() {
        3 => false,
        // Before 7.2 the commands take exactly key and member.
        _ if !coll::is_72(ctx) => {
            let name = argv.str(0).to_ascii_lowercase();
            return Err(errors::wrong_arity(&name));
        }
        4 if argv.is(3, "withscore") && coll::is_72(ctx) => true,
        4 => return Err(errors::SYNTAX.into()),
        _ => {
            let name = argv.str(0).to_ascii_lowercase();
            return Err(errors::wrong_arity(&name));
        }
    };
    let m = argv.get(2);
    let found = read::<ZSet>(ctx, argv.get(1))?.and_then(|z| {
        let r = z.rank(m)?;
        let r = if rev { z.len() - 1 - r } else { r };
        Some((r, z.score(m).unwrap_or(0.0)))
    });
    match (found, with_score) {
        (None, false) => ctx.out.null(),
        (None, true) => ctx.out.null_array(),
        (Some((r, _)), false) => ctx.out.int(r as i64),
        (Some((r, s)), true) => {
            ctx.out.array(2);
            ctx.out.int(r as i64);
            coll::reply_score(ctx, s);
        }
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    rank_generic(ctx, argv, false)
}
fn zrevrank(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    rank_generic(ctx, argv, true)
}

/// How a range selects elements.
pub enum By {
    /// Inclusive ranks (negative from the end).
    Rank(i64, i64),
    /// Scores.
    Score(ScoreRange),
    /// Member bytes.
    Lex(LexRange),
}

/// A fully-parsed range query.
pub struct RangeSpec {
    /// Selection.
    pub by: By,
    /// Descending order.
    pub rev: bool,
    /// LIMIT offset count (count < 0 = all).
    pub limit: Option<(i64, i64)>,
    /// WITHSCORES.
    pub withscores: bool,
}

/// Evaluates a range against a sorted set: (member, score) in reply order.
pub fn eval_range(z: &ZSet, spec: &RangeSpec) -> Vec<(Key, f64)> {
    let Some((lo, hi)) = span(z, spec) else {
        return Vec::new();
    };
    let mut out = z.range(lo, hi);
    if spec.rev {
        out.reverse();
    }
    out
}

/// Ascending rank interval `[lo, hi)` selected by a range query (LIMIT applied).
pub fn span(z: &ZSet, spec: &RangeSpec) -> Option<(usize, usize)> {
    let len = z.len();
    let (lo, hi) = match &spec.by {
        By::Rank(s, e) => match rank_range(*s, *e, len) {
            None => return None,
            Some((a, b)) if spec.rev => (len - 1 - b, len - a),
            Some((a, b)) => (a, b + 1),
        },
        By::Score(r) => z.score_span(r),
        By::Lex(r) => z.lex_span(r),
    };
    let (mut lo, mut hi) = (lo, hi);
    if let Some((off, count)) = spec.limit {
        if off < 0 {
            return None;
        }
        let off = off as usize;
        let avail = hi.saturating_sub(lo);
        let take = if count < 0 {
            avail
        } else {
            (count as usize).min(avail)
        };
        if off >= avail {
            return None;
        }
        let take = take.min(avail - off);
        if spec.rev {
            hi -= off;
            lo = hi - take;
        } else {
            lo += off;
            hi = lo + take;
        }
    }
    Some((lo, hi.max(lo)))
}

/// Writes a list of members, with scores when asked (RESP3: pairs; RESP2: flat).
pub fn reply_entries(ctx: &mut Ctx<'_>, items: &[(Key, f64)], withscores: bool) {
    if withscores && ctx.out.resp3 {
        ctx.out.array(items.len());
        for (m, s) in items {
            ctx.out.array(2);
            ctx.out.bulk(m);
            coll::reply_score(ctx, *s);
        }
    } else if withscores {
        ctx.out.array(items.len() * 2);
        for (m, s) in items {
            ctx.out.bulk(m);
            coll::reply_score(ctx, *s);
        }
    } else {
        ctx.out.array(items.len());
        for (m, _) in items {
            ctx.out.bulk(m);
        }
    }
}

/// How a range is read: by rank, by score or by lex.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// What [`range_opts`] read: WITHSCORES, LIMIT, the range kind and direction.
struct RangeOpts {
    withscores: bool,
    limit: Option<(i64, i64)>,
    kind: Kind,
    rev: bool,
}

/// The options after `min max`, read as Redis's ZRANGE family does for every variant (the
/// legacy commands preset the kind and direction): options and LIMIT integers first, then the
/// conflicts, and only then the range itself.
fn range_opts(
    argv: &Argv<'_>,
    from: usize,
    store: bool,
    mut kind: Kind,
    mut rev: Option<bool>,
) -> Result<RangeOpts, CmdError> {
    let (mut ws, mut limit) = (false, None);
    let mut i = from;
    while i < argv.len() {
        if !store && argv.is(i, "withscores") {
            ws = true;
        } else if argv.is(i, "limit") && i + 2 < argv.len() {
            limit = Some((argv.i64(i + 1)?, argv.i64(i + 2)?));
            i += 2;
        } else if rev.is_none() && argv.is(i, "rev") {
            rev = Some(true);
        } else if kind == Kind::Auto && argv.is(i, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && argv.is(i, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    // Redis keeps -1 as "no limit", so `LIMIT o -1` passes with a rank range (and is unused).
    if kind == Kind::Rank && limit.is_some_and(|(_, c)| c != -1) {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if ws && kind == Kind::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    if kind == Kind::Rank {
        limit = None;
    }
    Ok(RangeOpts {
        withscores: ws,
        limit,
        kind,
        rev: rev.unwrap_or(false),
    })
}

/// Parses ZRANGE-style arguments: `min max [BYSCORE|BYLEX] [REV] [LIMIT o c] [WITHSCORES]`
/// at `at` (WITHSCORES refused for ZRANGESTORE).
fn parse_zrange(argv: &Argv<'_>, at: usize, store: bool) -> Result<RangeSpec, CmdError> {
    let o = range_opts(argv, at + 2, store, Kind::Auto, None)?;
    range_spec(argv, at, o.kind, o.rev, o.limit, o.withscores)
}

/// The range at `at`, `at + 1` once the options are read.
fn range_spec(
    argv: &Argv<'_>,
    at: usize,
    kind: Kind,
    rev: bool,
    limit: Option<(i64, i64)>,
    withscores: bool,
) -> Result<RangeSpec, CmdError> {
    let (a, b) = (argv.get(at), argv.get(at + 1));
    // With REV the first bound is the maximum for score and lex ranges.
    let (min, max) = if rev { (b, a) } else { (a, b) };
    let by = match kind {
        Kind::Score => By::Score(score_range(min, max)?),
        Kind::Lex => By::Lex(lex_range(min, max)?),
        _ => By::Rank(argv.i64(at)?, argv.i64(at + 1)?),
    };
    Ok(RangeSpec {
        by,
        rev,
        limit,
        withscores,
    })
}

/// Runs a range query against `key` and replies.
fn range_reply(ctx: &mut Ctx<'_>, key: &[u8], spec: &RangeSpec) -> CmdResult {
    // Replies straight from the tree (no member copies): the database and the reply buffer
    // are disjoint parts of the context.
    let legacy = !coll::is_72(ctx);
    let now = ctx.now;
    let out = &mut *ctx.out;
    let z = match ctx.eng.dbs[ctx.client.db].get(key, now) {
        None => {
            out.array(0);
            return Ok(());
        }
        Some(e) => match &e.value {
            Value::ZSet(z) => z,
            _ => return Err(crate::db::wrong_type()),
        },
    };
    let Some((lo, hi)) = span(z, spec) else {
        out.array(0);
        return Ok(());
    };
    let n = hi - lo;
    let pairs = spec.withscores && out.resp3;
    out.array(if spec.withscores && !pairs { 2 * n } else { n });
    z.for_range(lo, hi, spec.rev, &mut |m, s| {
        if pairs {
            out.array(2);
        }
        out.bulk(m);
        if spec.withscores {
            coll::write_score(out, legacy, s);
        }
    });
    Ok(())
}

fn zrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let spec = parse_zrange(argv, 2, false)?;
    range_reply(ctx, argv.get(1), &spec)
}

fn zrangestore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let spec = parse_zrange(argv, 3, true)?;
    let (dst, src) = (argv.get(1), argv.get(2));
    let items = read::<ZSet>(ctx, src)?
        .map(|z| eval_range(z, &spec))
        .unwrap_or_default();
    store_entries(ctx, dst, &items, "zrangestore");
    ctx.out.int(items.len() as i64);
    Ok(())
}

/// Replaces `dst` with a sorted set of `items` (deleting it when empty), with events.
pub fn store_entries(ctx: &mut Ctx<'_>, dst: &[u8], items: &[(Key, f64)], event: &'static str) {
    let (me, mv) = coll::listpack_limits(ctx, "zset");
    let mut z = ZSet::new();
    let mut longest = 0;
    for (m, s) in items {
        z.insert(m, *s);
        longest = longest.max(m.len());
    }
    z.check_encoding(me, mv, longest);
    let now = ctx.now;
    let existed = ctx.db().exists(dst, now);
    if coll::store(ctx, dst, Value::ZSet(Box::new(z)), items.is_empty()) {
        ctx.write(dst).notify(notify::ZSET, event).ready();
    } else if existed {
        ctx.write(dst).notify(notify::GENERIC, "del");
    }
    ctx.dirty(1);
}

fn withscores_only(argv: &Argv<'_>, at: usize) -> Result<bool, CmdError> {
    match argv.len() - at {
        0 => Ok(false),
        1 if argv.is(at, "withscores") => Ok(true),
        _ => Err(errors::SYNTAX.into()),
    }
}

fn zrevrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let ws = withscores_only(argv, 4)?;
    let spec = RangeSpec {
        by: By::Rank(argv.i64(2)?, argv.i64(3)?),
        rev: true,
        limit: None,
        withscores: ws,
    };
    range_reply(ctx, argv.get(1), &spec)
}

fn by_score_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, rev: bool) -> CmdResult {
    let o = range_opts(argv, 4, false, Kind::Score, Some(rev))?;
    let spec = range_spec(argv, 2, Kind::Score, rev, o.limit, o.withscores)?;
    range_reply(ctx, argv.get(1), &spec)
}

fn by_lex_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, rev: bool) -> CmdResult {
    let o = range_opts(argv, 4, false, Kind::Lex, Some(rev))?;
    let spec = range_spec(argv, 2, Kind::Lex, rev, o.limit, false)?;
    range_reply(ctx, argv.get(1), &spec)
}

fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    by_score_generic(ctx, argv, false)
}
fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    by_score_generic(ctx, argv, true)
}
fn zrangebylex(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    by_lex_generic(ctx, argv, false)
}
fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    by_lex_generic(ctx, argv, true)
}

fn remrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>, by: By, event: &'static str) -> CmdResult {
    let key = argv.get(1);
    let spec = RangeSpec {
        by,
        rev: false,
        limit: None,
        withscores: false,
    };
    if coll::peek::<ZSet>(ctx, key)?.is_none_or(|z| eval_range(z, &spec).is_empty()) {
        ctx.out.int(0);
        return Ok(());
    }
    let n = coll::write::<ZSet, _>(ctx, key, false, |z| {
        let items = eval_range(z, &spec);
        for (m, _) in &items {
            z.remove(m);
        }
        items.len()
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.write(key).notify(notify::ZSET, event).dirty(n as u64);
        cleanup(ctx, key);
    }
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = By::Rank(argv.i64(2)?, argv.i64(3)?);
    remrange(ctx, argv, by, "zremrangebyrank")
}
fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = By::Score(score_range(argv.get(2), argv.get(3))?);
    remrange(ctx, argv, by, "zremrangebyscore")
}
fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = By::Lex(lex_range(argv.get(2), argv.get(3))?);
    remrange(ctx, argv, by, "zremrangebylex")
}
