//! The geohash arithmetic behind the GEO commands: coordinates packed into a 52-bit sorted-set
//! score, the search areas (a cell and its eight neighbours) covering a radius or box, and the
//! haversine distances that filter candidates.
//!
//! Place in the flow: `command/geo.rs` parses arguments and shapes replies; it calls here to
//! encode a position as a score, decode a score back to the cell centre, and plan a search.
//! Everything follows the documented Redis model so replies print the same digits: a cell is
//! found by splitting longitude [-180, 180] and latitude [-85.05112878, 85.05112878] (the Web
//! Mercator limits) in halves `step` times; latitude bits take the even positions of the
//! interleaved hash, longitude the odd ones; distances use an Earth radius of 6372797.560856 m.

/// Earth radius in metres used for every distance.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Northmost indexable latitude.
pub const LAT_MAX: f64 = 85.05112878;
/// Southmost indexable latitude.
pub const LAT_MIN: f64 = -85.05112878;
/// Longitude bounds.
pub const LON_MAX: f64 = 180.0;
/// Longitude lower bound.
pub const LON_MIN: f64 = -180.0;
/// Bits per coordinate of a stored score (26 each, 52 in all).
pub const STEP_MAX: u32 = 26;
/// Half the Mercator circumference: radius estimates start from it.
const MERCATOR_MAX: f64 = 20037726.37;
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;

/// A cell: hash bits at a precision of `step` bits per coordinate (`step == 0`: no cell).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    /// Interleaved bits.
    pub bits: u64,
    /// Bits per coordinate.
    pub step: u32,
}

/// The bounds a cell covers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    /// Longitude lower bound.
    pub lon_min: f64,
    /// Longitude upper bound.
    pub lon_max: f64,
    /// Latitude lower bound.
    pub lat_min: f64,
    /// Latitude upper bound.
    pub lat_max: f64,
}

/// The ranges coordinates are divided in: (longitude, latitude), each as (min, max).
#[derive(Clone, Copy, Debug)]
pub struct Ranges {
    /// Longitude range.
    pub lon: (f64, f64),
    /// Latitude range.
    pub lat: (f64, f64),
}

/// The ranges of stored scores (Web Mercator latitude limits).
pub const WGS84: Ranges = Ranges {
    lon: (LON_MIN, LON_MAX),
    lat: (LAT_MIN, LAT_MAX),
};
/// The ranges of the standard textual geohash (GEOHASH).
pub const STANDARD: Ranges = Ranges {
    lon: (-180.0, 180.0),
    lat: (-90.0, 90.0),
};

/// Degrees to radians.
pub fn deg_rad(d: f64) -> f64 {
    d * DEG_TO_RAD
}

fn rad_deg(r: f64) -> f64 {
    r / DEG_TO_RAD
}

/// Whether a longitude/latitude pair can be indexed.
pub fn valid(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `x` into a u32 (inverse of [`spread`]).
fn gather(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Encodes a position at `step` bits per coordinate; `None` outside the indexable area or
/// the given ranges. A coordinate on the upper bound carries into the next bit, as Redis does.
pub fn encode(r: Ranges, lon: f64, lat: f64, step: u32) -> Option<Cell> {
    if step == 0 || step > 32 || !valid(lon, lat) {
        return None;
    }
    if lat < r.lat.0 || lat > r.lat.1 || lon < r.lon.0 || lon > r.lon.1 {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - r.lat.0) / (r.lat.1 - r.lat.0) * scale;
    let lon_off = (lon - r.lon.0) / (r.lon.1 - r.lon.0) * scale;
    // Truncation toward zero, as the C conversion to a 32-bit unsigned does.
    let bits = spread(lat_off as u32) | (spread(lon_off as u32) << 1);
    Some(Cell { bits, step })
}

/// The bounds of `cell` within ranges `r`.
pub fn decode(r: Ranges, cell: Cell) -> Area {
    let lat_i = gather(cell.bits);
    let lon_i = gather(cell.bits >> 1);
    let div = (1u64 << cell.step) as f64;
    let (lat_scale, lon_scale) = (r.lat.1 - r.lat.0, r.lon.1 - r.lon.0);
    Area {
        lat_min: r.lat.0 + (f64::from(lat_i) / div) * lat_scale,
        lat_max: r.lat.0 + ((f64::from(lat_i) + 1.0) / div) * lat_scale,
        lon_min: r.lon.0 + (f64::from(lon_i) / div) * lon_scale,
        lon_max: r.lon.0 + ((f64::from(lon_i) + 1.0) / div) * lon_scale,
    }
}

/// The score → integer conversion of the x86-64 C compilers (values at or above 2^63 go
/// through the high half; negative ones wrap), so odd scores decode as redis-server does.
pub fn score_bits(score: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if score >= TWO63 {
        ((score - TWO63) as i64 as u64) ^ (1 << 63)
    } else {
        score as i64 as u64
    }
}

/// The centre (longitude, latitude) of the 52-bit cell a score stands for, clamped to the
/// indexable area.
pub fn decode_score(score: f64) -> (f64, f64) {
    let a = decode(
        WGS84,
        Cell {
            bits: score_bits(score),
            step: STEP_MAX,
        },
    );
    let lon = ((a.lon_min + a.lon_max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat_min + a.lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The sorted-set score of a valid position.
pub fn encode_score(lon: f64, lat: f64) -> Option<u64> {
    encode(WGS84, lon, lat, STEP_MAX).map(|c| c.bits)
}

/// The 11-character standard geohash of a stored score.
pub fn hash_text(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let bits = encode(STANDARD, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    // 52 bits make ten full characters; the eleventh is padded with zero bits.
    for (i, ch) in out.iter_mut().take(10).enumerate() {
        *ch = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

/// Distance along a meridian between two latitudes.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Great-circle (haversine) distance in metres.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    // Same meridian: the cheaper formula, which Redis also takes (its digits can differ).
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (la1, la2) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((la2 - la1) / 2.0).sin();
    let a = u * u + la1.cos() * la2.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A search shape, sizes in metres (already multiplied by the unit).
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Within a radius.
    Radius(f64),
    /// Within a box of (width, height) centred on the origin.
    Box(f64, f64),
}

/// The distance from the origin when `(lon, lat)` lies within `shape`.
pub fn within(shape: Shape, origin: (f64, f64), lon: f64, lat: f64) -> Option<f64> {
    let (ox, oy) = origin;
    match shape {
        Shape::Radius(r) => {
            let d = distance(ox, oy, lon, lat);
            (d <= r).then_some(d)
        }
        Shape::Box(w, h) => {
            if lat_distance(lat, oy) > h / 2.0 || distance(lon, lat, ox, lat) > w / 2.0 {
                return None;
            }
            Some(distance(ox, oy, lon, lat))
        }
    }
}

/// Bits per coordinate whose cells are about the size of a `range_m` search at `lat`.
fn estimate_step(range_m: f64, lat: f64) -> u32 {
    if range_m == 0.0 {
        return 26;
    }
    let (mut range, mut step) = (range_m, 1i32);
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    // Cells narrow toward the poles: go one (two) levels coarser there.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u32
}

/// (min lon, min lat, max lon, max lat) enclosing the shape.
fn bounding_box(shape: Shape, (lon, lat): (f64, f64)) -> [f64; 4] {
    let (w, h) = match shape {
        Shape::Radius(r) => (r, r),
        Shape::Box(w, h) => (w / 2.0, h / 2.0),
    };
    let lat_delta = rad_deg(h / EARTH_RADIUS_M);
    let top = rad_deg(w / EARTH_RADIUS_M / deg_rad(lat + lat_delta).cos());
    let bottom = rad_deg(w / EARTH_RADIUS_M / deg_rad(lat - lat_delta).cos());
    // The widest parallel is the one nearer the equator.
    let d = if lat < 0.0 { bottom } else { top };
    [lon - d, lat - lat_delta, lon + d, lat + lat_delta]
}

/// Moves a cell one column east (`east`) or west, wrapping within its step.
fn move_x(c: Cell, east: bool) -> Cell {
    let shift = 64 - c.step * 2;
    let x = c.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = c.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    let x = if east {
        x.wrapping_add(zz + 1)
    } else {
        (x | zz).wrapping_sub(zz + 1)
    };
    Cell {
        bits: (x & (0xaaaa_aaaa_aaaa_aaaau64 >> shift)) | y,
        step: c.step,
    }
}

/// Moves a cell one row north (`north`) or south, wrapping within its step.
fn move_y(c: Cell, north: bool) -> Cell {
    let shift = 64 - c.step * 2;
    let x = c.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = c.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    let y = if north {
        y.wrapping_add(zz + 1)
    } else {
        (y | zz).wrapping_sub(zz + 1)
    };
    Cell {
        bits: x | (y & (0x5555_5555_5555_5555u64 >> shift)),
        step: c.step,
    }
}

/// The nine cells to scan, in scan order: centre, N, S, E, W, NE, NW, SE, SW; cells that
/// cannot hold a match are `step == 0`.
pub fn search_cells(shape: Shape, origin: (f64, f64)) -> [Cell; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape, origin);
    let range = match shape {
        Shape::Radius(r) => r,
        Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    };
    let mut step = estimate_step(range, origin.1);
    let mut cells = neighbours(origin, step);
    let edge = |c: Cell| decode(WGS84, c);
    if step > 1
        && (edge(cells[1]).lat_max < max_lat
            || edge(cells[2]).lat_min > min_lat
            || edge(cells[3]).lon_max < max_lon
            || edge(cells[4]).lon_min > min_lon)
    {
        step -= 1;
        cells = neighbours(origin, step);
    }
    if step >= 2 {
        let a = decode(WGS84, cells[0]);
        let mut drop = |idx: &[usize]| idx.iter().for_each(|&i| cells[i] = Cell::default());
        if a.lat_min < min_lat {
            drop(&[2, 8, 7]);
        }
        if a.lat_max > max_lat {
            drop(&[1, 5, 6]);
        }
        if a.lon_min < min_lon {
            drop(&[4, 8, 6]);
        }
        if a.lon_max > max_lon {
            drop(&[3, 7, 5]);
        }
    }
    cells
}

/// The cell holding `origin` at `step` and its eight neighbours, in scan order.
fn neighbours(origin: (f64, f64), step: u32) -> [Cell; 9] {
    let c = encode(WGS84, origin.0, origin.1, step).unwrap_or(Cell { bits: 0, step });
    let (n, s) = (move_y(c, true), move_y(c, false));
    [
        c,
        n,
        s,
        move_x(c, true),
        move_x(c, false),
        move_x(n, true),
        move_x(n, false),
        move_x(s, true),
        move_x(s, false),
    ]
}

/// The score interval `[min, max)` a cell spans at full precision.
pub fn score_span(c: Cell) -> (f64, f64) {
    let shift = 52 - c.step * 2;
    ((c.bits << shift) as f64, ((c.bits + 1) << shift) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_gather_are_inverse() {
        for v in [0u32, 1, 0x3ff_ffff, 0x400_0000, u32::MAX, 0x1234_5678] {
            assert_eq!(gather(spread(v)), v);
        }
    }

    #[test]
    fn known_positions() {
        // Palermo, as the GEOADD documentation example stores it.
        let bits = encode_score(13.361389, 38.115556).unwrap_or(0);
        assert_eq!(bits, 3479099956230698);
        assert_eq!(&hash_text(bits as f64), b"sqc8b49rny0");
        let (lon, lat) = decode_score(bits as f64);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert!(encode_score(180.1, 0.0).is_none());
        assert!(encode_score(0.0, 85.06).is_none());
    }

    #[test]
    fn distance_matches_documented_example() {
        let (a, b) = (
            decode_score(3479099956230698.0),
            decode_score(encode_score(15.087269, 37.502669).unwrap_or(0) as f64),
        );
        assert_eq!(
            format!("{:.4}", distance(a.0, a.1, b.0, b.1)),
            "166274.1516"
        );
    }
}
