//! Geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH / GEOSEARCHSTORE and the legacy
//! GEORADIUS / GEORADIUSBYMEMBER (with STORE / STOREDIST) and their `_RO` forms.
//!
//! Place in the flow: positions live in ordinary sorted sets, each member scored with its
//! 52-bit geohash (`db/geohash.rs` does the arithmetic); GEOADD hands its scores to ZADD, the
//! searches read the sorted set cell by cell and reply (or store) in Redis' formats:
//! distances `%.4f` bulk strings, coordinates `%.17Lf` trimmed (RESP3 doubles), hashes as
//! integers.

use super::flags::*;
use super::ks;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, OwnedArgv, Release::Redis, acl};
use crate::config::notify;
use crate::db::geohash::{self, Shape};
use crate::db::zset::{ScoreRange, ZSet, parse_score};
use crate::db::{Key, Value, wrong_type};
use crate::errors::{self, CmdError, CmdResult};

const R: AclCategories = acl::READ.with(acl::GEO).with(acl::SLOW);
const W: AclCategories = acl::WRITE.with(acl::GEO).with(acl::SLOW);
const K1: Keys = Keys::Range(1, 1, 1);

/// Key positions of the legacy radius forms: the source, then the key after the first STORE
/// and the key after the first STOREDIST found from argument `from` on (Redis' keyword key
/// specs, searched in that order).
fn radius_keys_from(a: &Argv<'_>, from: usize) -> Vec<usize> {
    let mut keys = vec![1];
    for word in ["store", "storedist"] {
        if let Some(i) = (from..a.len().saturating_sub(1)).find(|&i| a.is(i, word)) {
            keys.push(i + 1);
        }
    }
    keys
}

fn radius_keys(a: &Argv<'_>) -> Vec<usize> {
    radius_keys_from(a, 6)
}

fn radius_member_keys(a: &Argv<'_>) -> Vec<usize> {
    radius_keys_from(a, 5)
}

/// Geo family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("geoadd", geoadd).arity(-5).flags(&[WRITE, DENYOOM]).acl(&[W]).keys(K1).since(Redis(3, 2, 0)).group("geo").doc("Adds one or more members to a geospatial index. The key is created if it doesn't exist."),
    Cmd::new("geodist", geodist).arity(-4).flags(&[READONLY]).acl(&[R]).keys(K1).since(Redis(3, 2, 0)).group("geo").doc("Returns the distance between two members of a geospatial index."),
    Cmd::new("geohash", geohash_cmd).arity(-2).flags(&[READONLY]).acl(&[R]).keys(K1).since(Redis(3, 2, 0)).group("geo").doc("Returns members from a geospatial index as geohash strings."),
    Cmd::new("geopos", geopos).arity(-2).flags(&[READONLY]).acl(&[R]).keys(K1).since(Redis(3, 2, 0)).group("geo").doc("Returns the longitude and latitude of members from a geospatial index."),
    Cmd::new("georadius", georadius).arity(-6).flags(&[WRITE, DENYOOM, MOVABLE_KEYS]).acl(&[W]).keys(Keys::Custom(radius_keys)).legacy(1, 1, 1).since(Redis(3, 2, 0)).group("geo").ks(&[ks::RO | ks::ACCESS, ks::OW | ks::UPDATE]).doc("Queries a geospatial index for members within a distance from a coordinate, optionally stores the result."),
    Cmd::new("georadius_ro", georadius_ro).arity(-6).flags(&[READONLY]).acl(&[R]).keys(K1).since(Redis(3, 2, 10)).group("geo").doc("Returns members from a geospatial index that are within a distance from a coordinate."),
    Cmd::new("georadiusbymember", georadiusbymember).arity(-5).flags(&[WRITE, DENYOOM, MOVABLE_KEYS]).acl(&[W]).keys(Keys::Custom(radius_member_keys)).legacy(1, 1, 1).since(Redis(3, 2, 0)).group("geo").ks(&[ks::RO | ks::ACCESS, ks::OW | ks::UPDATE]).doc("Queries a geospatial index for members within a distance from a member, optionally stores the result."),
    Cmd::new("georadiusbymember_ro", georadiusbymember_ro).arity(-5).flags(&[READONLY]).acl(&[R]).keys(K1).since(Redis(3, 2, 10)).group("geo").doc("Returns members from a geospatial index that are within a distance from a member."),
    Cmd::new("geosearch", geosearch).arity(-7).flags(&[READONLY]).acl(&[R]).keys(K1).since(Redis(6, 2, 0)).group("geo").doc("Queries a geospatial index for members inside an area of a box or a circle."),
    Cmd::new("geosearchstore", geosearchstore).arity(-8).flags(&[WRITE, DENYOOM]).acl(&[W]).keys(Keys::Range(1, 2, 1)).since(Redis(6, 2, 0)).group("geo").ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result."),
];

/// A float argument with Redis' strict parsing; `msg` is the error text.
fn float_arg(argv: &Argv<'_>, i: usize, msg: &'static str) -> Result<f64, CmdError> {
    parse_score(argv.get(i)).ok_or_else(|| msg.into())
}

/// Longitude and latitude at `i`, `i + 1`, checked against the indexable area.
fn lonlat_arg(argv: &Argv<'_>, i: usize) -> Result<(f64, f64), CmdError> {
    let lon = float_arg(argv, i, errors::NOT_FLOAT)?;
    let lat = float_arg(argv, i + 1, errors::NOT_FLOAT)?;
    if !geohash::valid(lon, lat) {
        return Err(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}").into());
    }
    Ok((lon, lat))
}

/// Metres per unit.
fn unit_arg(argv: &Argv<'_>, i: usize) -> Result<f64, CmdError> {
    let u = argv.get(i);
    let table: [(&[u8], f64); 4] = [
        (b"m", 1.0),
        (b"km", 1000.0),
        (b"ft", 0.3048),
        (b"mi", 1609.34),
    ];
    table
        .iter()
        .find(|(n, _)| u.eq_ignore_ascii_case(n))
        .map(|(_, f)| *f)
        .ok_or_else(|| "ERR unsupported unit provided. please use M, KM, FT, MI".into())
}

/// Radius and unit at `i`, `i + 1`: (radius in units, metres per unit).
fn radius_arg(argv: &Argv<'_>, i: usize) -> Result<(f64, f64), CmdError> {
    let r = float_arg(argv, i, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((r, unit_arg(argv, i + 1)?))
}

/// Width, height and unit at `i..i + 3`: ((width, height) in units, metres per unit).
fn box_arg(argv: &Argv<'_>, i: usize) -> Result<((f64, f64), f64), CmdError> {
    let w = float_arg(argv, i, "ERR need numeric width")?;
    let h = float_arg(argv, i + 1, "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err("ERR height or width cannot be negative".into());
    }
    Ok(((w, h), unit_arg(argv, i + 2)?))
}

/// The sorted set at `key` for reading (counts hits/misses); WRONGTYPE for other types.
fn read_zset<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c ZSet>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(wrong_type()),
        },
    }
}

fn geoadd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (mut nx, mut xx, mut at) = (false, false, 2);
    while at < argv.len() {
        if argv.is(at, "nx") {
            nx = true;
        } else if argv.is(at, "xx") {
            xx = true;
        } else if !argv.is(at, "ch") {
            break;
        }
        at += 1;
    }
    if !(argv.len() - at).is_multiple_of(3) || (nx && xx) {
        return Err(errors::SYNTAX.into());
    }
    // GEOADD is ZADD with computed scores: same options, events and reply.
    let head = std::iter::once(&b"zadd"[..]).chain(argv.iter_from(1).take(at - 1));
    let mut zadd = OwnedArgv::from_slices(head);
    for i in (at..argv.len()).step_by(3) {
        let (lon, lat) = lonlat_arg(argv, i)?;
        let bits = geohash::encode_score(lon, lat).unwrap_or(0);
        zadd.push(bits.to_string().as_bytes());
        zadd.push(argv.get(i + 2));
    }
    super::zsets::zadd(ctx, &zadd.as_argv())
}

fn geodist(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let to_m = match argv.len() {
        4 => 1.0,
        5 => unit_arg(argv, 4)?,
        _ => return Err(errors::SYNTAX.into()),
    };
    let Some(z) = read_zset(ctx, argv.get(1))? else {
        ctx.out.null();
        return Ok(());
    };
    match (z.score(argv.get(2)), z.score(argv.get(3))) {
        (Some(a), Some(b)) => {
            let (a, b) = (geohash::decode_score(a), geohash::decode_score(b));
            let d = geohash::distance(a.0, a.1, b.0, b.1) / to_m;
            ctx.out.bulk(format!("{d:.4}").as_bytes());
        }
        _ => ctx.out.null(),
    }
    Ok(())
}

fn geohash_cmd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let scores: Vec<Option<f64>> = match read_zset(ctx, argv.get(1))? {
        Some(z) => argv.iter_from(2).map(|m| z.score(m)).collect(),
        None => vec![None; argv.len() - 2],
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.bulk(&geohash::hash_text(s)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn geopos(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let scores: Vec<Option<f64>> = match read_zset(ctx, argv.get(1))? {
        Some(z) => argv.iter_from(2).map(|m| z.score(m)).collect(),
        None => vec![None; argv.len() - 2],
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => {
                let (lon, lat) = geohash::decode_score(s);
                ctx.out.array(2);
                coord(ctx, lon);
                coord(ctx, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// A coordinate as Redis prints it: `%.17Lf` with trailing zeros trimmed (RESP3: a double).
fn coord(ctx: &mut Ctx<'_>, v: f64) {
    let s = format!("{v:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    let s = if s == "-0" { "0" } else { s };
    if ctx.out.resp3 {
        ctx.out.raw(b",");
        ctx.out.raw(s.as_bytes());
        ctx.out.raw(b"\r\n");
    } else {
        ctx.out.bulk(s.as_bytes());
    }
}

/// Which command form is searching.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS[_RO]: centre and radius are positional.
    RadiusCoords,
    /// GEORADIUSBYMEMBER[_RO]: member and radius are positional.
    RadiusMember,
    /// GEOSEARCH.
    Search,
    /// GEOSEARCHSTORE.
    SearchStore,
}

fn georadius(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    search(ctx, argv, Form::RadiusCoords, true)
}
fn georadius_ro(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    search(ctx, argv, Form::RadiusCoords, false)
}
fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    search(ctx, argv, Form::RadiusMember, true)
}
fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    search(ctx, argv, Form::RadiusMember, false)
}
fn geosearch(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    search(ctx, argv, Form::Search, false)
}
fn geosearchstore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    search(ctx, argv, Form::SearchStore, false)
}

/// Result ordering.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Everything a search request says, once parsed.
struct Request<'a> {
    origin: Option<(f64, f64)>,
    shape: Option<Shape>,
    /// Metres per unit of the request's distances.
    unit: f64,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    sort: Sort,
    count: usize,
    any: bool,
    store: Option<&'a [u8]>,
    store_dist: bool,
    from_member: bool,
    from_loc: bool,
    by_radius: bool,
    by_box: bool,
}

/// The position of `member` in `z`, or the error Redis gives for a missing one.
fn member_pos(z: Option<&ZSet>, member: &[u8]) -> Result<Option<(f64, f64)>, CmdError> {
    let Some(z) = z else { return Ok(None) };
    match z.score(member) {
        Some(s) => Ok(Some(geohash::decode_score(s))),
        None => Err("ERR could not decode requested zset member".into()),
    }
}

/// Positional arguments of the legacy forms; returns the index options start at.
fn parse_positional<'a>(
    argv: &Argv<'a>,
    z: Option<&ZSet>,
    form: Form,
    req: &mut Request<'a>,
) -> Result<usize, CmdError> {
    match form {
        Form::RadiusCoords => {
            req.origin = Some(lonlat_arg(argv, 2)?);
            let (r, unit) = radius_arg(argv, 4)?;
            (req.shape, req.unit) = (Some(Shape::Radius(r)), unit);
            Ok(6)
        }
        Form::RadiusMember => {
            if z.is_some() {
                req.origin = member_pos(z, argv.get(2))?;
                let (r, unit) = radius_arg(argv, 3)?;
                (req.shape, req.unit) = (Some(Shape::Radius(r)), unit);
            }
            Ok(5)
        }
        Form::Search => Ok(2),
        Form::SearchStore => {
            req.store = Some(argv.get(1));
            Ok(3)
        }
    }
}

/// Parses one option at `i`; returns how many arguments it took.
fn parse_option<'a>(
    argv: &Argv<'a>,
    z: Option<&ZSet>,
    form: Form,
    may_store: bool,
    i: usize,
    req: &mut Request<'a>,
) -> Result<usize, CmdError> {
    let left = argv.len() - i - 1;
    let search = matches!(form, Form::Search | Form::SearchStore);
    let a = argv.get(i).to_ascii_lowercase();
    match a.as_slice() {
        b"withdist" => req.with_dist = true,
        b"withhash" => req.with_hash = true,
        b"withcoord" => req.with_coord = true,
        b"any" => req.any = true,
        b"asc" => req.sort = Sort::Asc,
        b"desc" => req.sort = Sort::Desc,
        b"count" if left >= 1 => {
            let c = argv.i64(i + 1)?;
            if c <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            req.count = c as usize;
            return Ok(2);
        }
        b"store" | b"storedist" if left >= 1 && may_store && !search => {
            req.store = Some(argv.get(i + 1));
            req.store_dist = a == b"storedist";
            return Ok(2);
        }
        b"storedist" if form == Form::SearchStore => req.store_dist = true,
        b"frommember" if left >= 1 && search && !req.from_loc => {
            req.origin = member_pos(z, argv.get(i + 1))?;
            req.from_member = true;
            return Ok(2);
        }
        b"fromlonlat" if left >= 2 && search && !req.from_member => {
            req.origin = Some(lonlat_arg(argv, i + 1)?);
            req.from_loc = true;
            return Ok(3);
        }
        b"byradius" if left >= 2 && search && !req.by_box => {
            let (r, unit) = radius_arg(argv, i + 1)?;
            (req.shape, req.unit, req.by_radius) = (Some(Shape::Radius(r)), unit, true);
            return Ok(3);
        }
        b"bybox" if left >= 3 && search && !req.by_radius => {
            let ((w, h), unit) = box_arg(argv, i + 1)?;
            (req.shape, req.unit, req.by_box) = (Some(Shape::Box(w, h)), unit, true);
            return Ok(4);
        }
        _ => return Err(errors::SYNTAX.into()),
    }
    Ok(1)
}

/// Checks the combinations Redis refuses once every option is read.
fn validate(argv: &Argv<'_>, form: Form, req: &Request<'_>) -> Result<(), CmdError> {
    if req.store.is_some() && (req.with_dist || req.with_hash || req.with_coord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )
        .into());
    }
    let name = String::from_utf8_lossy(argv.get(0));
    let search = matches!(form, Form::Search | Form::SearchStore);
    if search && !(req.from_member || req.from_loc) {
        return Err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )
        .into());
    }
    if search && !(req.by_radius || req.by_box) {
        return Err(
            format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}").into(),
        );
    }
    if req.any && req.count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    Ok(())
}

/// One match.
struct Hit {
    member: Key,
    score: f64,
    lon: f64,
    lat: f64,
    /// Distance in metres, later in the request's unit.
    dist: f64,
}

fn search(ctx: &mut Ctx<'_>, argv: &Argv<'_>, form: Form, may_store: bool) -> CmdResult {
    let src = if matches!(form, Form::SearchStore) {
        2
    } else {
        1
    };
    let mut req = Request {
        origin: None,
        shape: None,
        unit: 1.0,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        sort: Sort::None,
        count: 0,
        any: false,
        store: None,
        store_dist: false,
        from_member: false,
        from_loc: false,
        by_radius: false,
        by_box: false,
    };
    let hits = {
        let z = read_zset(ctx, argv.get(src))?;
        let mut i = parse_positional(argv, z, form, &mut req)?;
        while i < argv.len() {
            i += parse_option(argv, z, form, may_store, i, &mut req)?;
        }
        validate(argv, form, &req)?;
        match (z, req.origin, req.shape) {
            (Some(z), Some(origin), Some(shape)) => Some(collect(z, origin, shape, &req)),
            _ => None,
        }
    };
    let Some(mut hits) = hits else {
        return match req.store {
            Some(dst) => {
                store(ctx, dst, &[], false, form);
                Ok(())
            }
            None => {
                ctx.out.array(0);
                Ok(())
            }
        };
    };
    if hits.is_empty() && req.store.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    order(&mut hits, &req);
    for h in &mut hits {
        h.dist /= req.unit;
    }
    match req.store {
        Some(dst) => store(ctx, dst, &hits, req.store_dist, form),
        None => reply_hits(ctx, &hits, &req),
    }
    Ok(())
}

/// Scans the cells covering the shape, in Redis' order, keeping the members inside it.
fn collect(z: &ZSet, origin: (f64, f64), shape: Shape, req: &Request<'_>) -> Vec<Hit> {
    let metres = match shape {
        Shape::Radius(r) => Shape::Radius(r * req.unit),
        Shape::Box(w, h) => Shape::Box(w * req.unit, h * req.unit),
    };
    let cells = geohash::search_cells(metres, origin);
    let limit = if req.any { req.count } else { 0 };
    let mut hits = Vec::new();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.step == 0 && cell.bits == 0 {
            continue;
        }
        // Huge radii make neighbours coincide; skip a repeat of the last scanned cell (the
        // centre is never compared, as in Redis).
        if let Some(l) = last.filter(|&l| l > 0)
            && cells[l] == *cell
        {
            continue;
        }
        if limit > 0 && hits.len() >= limit {
            break;
        }
        let (min, max) = geohash::score_span(*cell);
        let range = ScoreRange {
            min,
            max,
            minex: false,
            maxex: true,
        };
        let (lo, hi) = z.score_span(&range);
        let mut found = hits.len();
        let mut consider = |m: &Key, score: f64| {
            let (lon, lat) = geohash::decode_score(score);
            if let Some(dist) = geohash::within(metres, origin, lon, lat) {
                hits.push(Hit {
                    member: m.clone(),
                    score,
                    lon,
                    lat,
                    dist,
                });
                return true;
            }
            false
        };
        if limit == 0 {
            // One in-order walk of the cell's members (a rank lookup each costs a descent).
            z.for_range(lo, hi, false, &mut |m, score| {
                consider(m, score);
            });
        } else {
            // ANY: stop at COUNT hits.
            for rank in lo..hi {
                let Some((m, score)) = z.at(rank) else { break };
                found += usize::from(consider(m, score));
                if found >= limit {
                    break;
                }
            }
        }
        last = Some(i);
    }
    hits
}

/// Sorts (COUNT alone implies ascending) and truncates to COUNT.
fn order(hits: &mut Vec<Hit>, req: &Request<'_>) {
    let sort = if req.count > 0 && req.sort == Sort::None && !req.any {
        Sort::Asc
    } else {
        req.sort
    };
    let mut by_distance = |a: &Hit, b: &Hit| match sort {
        Sort::Desc => b.dist.total_cmp(&a.dist),
        _ => a.dist.total_cmp(&b.dist),
    };
    if sort != Sort::None {
        if req.count > 0 && req.count < hits.len() {
            // Redis sorts only the first COUNT places, with its partial quicksort: equal
            // distances come out in that algorithm's order.
            super::partial_sort::partial_sort(hits, 0, req.count - 1, &mut by_distance);
        } else {
            // A full sort (glibc's qsort is a merge sort: equal distances keep their order).
            hits.sort_by(by_distance);
        }
    }
    if req.count > 0 {
        hits.truncate(req.count);
    }
}

fn reply_hits(ctx: &mut Ctx<'_>, hits: &[Hit], req: &Request<'_>) {
    let extra =
        usize::from(req.with_dist) + usize::from(req.with_hash) + usize::from(req.with_coord);
    ctx.out.array(hits.len());
    for h in hits {
        if extra > 0 {
            ctx.out.array(extra + 1);
        }
        ctx.out.bulk(&h.member);
        if req.with_dist {
            ctx.out.bulk(format!("{:.4}", h.dist).as_bytes());
        }
        if req.with_hash {
            ctx.out.int(h.score as i64);
        }
        if req.with_coord {
            ctx.out.array(2);
            coord(ctx, h.lon);
            coord(ctx, h.lat);
        }
    }
}

/// Replaces `dst` with the hits (scored by hash, or distance for STOREDIST); no hits delete
/// it. Replies with the number stored.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], hits: &[Hit], by_dist: bool, form: Form) {
    let items: Vec<(Key, f64)> = hits
        .iter()
        .map(|h| (h.member.clone(), if by_dist { h.dist } else { h.score }))
        .collect();
    let event = if matches!(form, Form::Search | Form::SearchStore) {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    if items.is_empty() {
        let now = ctx.now;
        if ctx.db().exists(dst, now) {
            ctx.db().remove(dst);
            ctx.write(dst).notify(notify::GENERIC, "del");
            ctx.dirty(1);
        }
    } else {
        super::zsets::store_entries(ctx, dst, &items, event);
        ctx.dirty(items.len() as u64 - 1);
    }
    ctx.out.int(items.len() as i64);
}
