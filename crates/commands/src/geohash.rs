//! The geohash arithmetic behind the GEO commands (Redis geohash.c and geohash_helper.c): pure
//! functions, no keyspace, no replies.
//!
//! A position is stored as the score of a sorted set member: its longitude and latitude, each
//! cut into 2^26 steps over Redis's ranges (longitude -180..180, latitude -85.05112878..
//! 85.05112878, the Web Mercator limits), interleaved into a 52-bit integer. Neighbouring
//! cells therefore share a score prefix, and the members of a cell are one score range of the
//! sorted set. A radius or box search picks a cell size from the search's extent, takes the
//! cell of the centre and its eight neighbours (dropping those the bounding box does not
//! reach), scans their score ranges, and keeps the members whose distance or offsets pass.
//!
//! Every step repeats Redis's floating-point operations in Redis's order (and uses the same
//! libm functions), so that the scores, the decoded coordinates, the distances and the cells
//! searched are bit for bit Redis's: a member found or missed at the edge of a search area is
//! found or missed exactly as Redis does. That includes the C conversions Redis relies on (a
//! score that is not a geohash decodes as x86-64 converts it to an unsigned integer).

use std::f64::consts::PI;

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;

/// Bits per coordinate of a stored position (26 + 26 = 52, exact in a double).
pub const STEP_MAX: u8 = 26;

/// Redis's Earth radius (the quadratic mean radius of WGS-84), in metres.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;

/// Half the Web Mercator world's width, in metres: the extent of a one-bit cell.
const MERCATOR_MAX_M: f64 = 20037726.37;

const DEG_TO_RAD: f64 = PI / 180.0;

fn deg_rad(deg: f64) -> f64 {
    deg * DEG_TO_RAD
}

fn rad_deg(rad: f64) -> f64 {
    rad / DEG_TO_RAD
}

/// A cell: `step` bits per coordinate, interleaved (latitude in the even bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    /// The "no cell" marker of a neighbour the search skips (Redis GZERO).
    const NONE: Cell = Cell { bits: 0, step: 0 };

    fn is_none(self) -> bool {
        self == Cell::NONE
    }

    /// The cell's bits moved to the top of a 52-bit score (Redis geohashAlign52Bits).
    fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }

    /// The sorted set scores of the members inside the cell: `min <= score < max`.
    pub fn score_range(self) -> (f64, f64) {
        let min = self.align52();
        let max = Cell {
            bits: self.bits.wrapping_add(1),
            step: self.step,
        }
        .align52();
        (min as f64, max as f64)
    }
}

#[derive(Debug, Clone, Copy)]
struct Span {
    min: f64,
    max: f64,
}

const WGS84_LONG: Span = Span {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Span = Span {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// The area a cell covers.
#[derive(Debug, Clone, Copy)]
struct Area {
    long: Span,
    lat: Span,
}

/// Spreads the bits of `x` over the even positions and those of `y` over the odd ones.
fn interleave(x: u32, y: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut v = u64::from(v);
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

/// The inverse of `interleave`: the even bits in the low half, the odd bits in the high half.
fn deinterleave(v: u64) -> u64 {
    fn squash(mut v: u64) -> u64 {
        v &= 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF
    }
    squash(v) | (squash(v >> 1) << 32)
}

/// Redis geohashEncode: the cell of `step` bits holding the point, or None outside the ranges
/// (or the WGS-84 limits, which every range of Redis's lies within).
fn encode(
    long_span: Span,
    lat_span: Span,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Cell> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_span.min
        || latitude > lat_span.max
        || longitude < long_span.min
        || longitude > long_span.max
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (latitude - lat_span.min) / (lat_span.max - lat_span.min) * scale;
    let long_offset = (longitude - long_span.min) / (long_span.max - long_span.min) * scale;
    // C's conversion to uint32_t: truncation (the offsets lie in 0..=2^step).
    Some(Cell {
        bits: interleave(lat_offset as u32, long_offset as u32),
        step,
    })
}

/// Redis geohashDecode: the area a cell covers.
fn decode(long_span: Span, lat_span: Span, cell: Cell) -> Option<Area> {
    if cell.is_none() {
        return None;
    }
    let separated = deinterleave(cell.bits);
    let lat_scale = lat_span.max - lat_span.min;
    let long_scale = long_span.max - long_span.min;
    let ilat = separated as u32;
    let ilong = (separated >> 32) as u32;
    let cells = (1u64 << cell.step) as f64;
    // `i + 1` is C's unsigned 32-bit arithmetic: it wraps.
    Some(Area {
        lat: Span {
            min: lat_span.min + (f64::from(ilat) / cells) * lat_scale,
            max: lat_span.min + (f64::from(ilat.wrapping_add(1)) / cells) * lat_scale,
        },
        long: Span {
            min: long_span.min + (f64::from(ilong) / cells) * long_scale,
            max: long_span.min + (f64::from(ilong.wrapping_add(1)) / cells) * long_scale,
        },
    })
}

/// The centre of an area, clamped to the WGS-84 limits: (longitude, latitude).
fn centre(area: &Area) -> (f64, f64) {
    let longitude = ((area.long.min + area.long.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let latitude = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (longitude, latitude)
}

/// The score a position is stored with (GEOADD), or None outside the WGS-84 limits. The 52-bit
/// integer becomes a double as Redis's ZADD parses its decimal text: rounded to nearest (only
/// the very last cell, longitude 180, needs more than 53 bits).
pub fn score_of(longitude: f64, latitude: f64) -> Option<f64> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, STEP_MAX).map(|cell| cell.align52() as f64)
}

/// x86-64's conversion of a double to an unsigned 64-bit integer as compiled C performs it
/// (Redis casts any score to uint64_t before decoding it): truncation in range, 2^63 for
/// negative values beyond i64 and for NaN, 0 for values of 2^64 and more.
pub fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const INDEFINITE: u64 = 1 << 63;
    if score.is_nan() {
        INDEFINITE
    } else if score >= TWO_63 {
        let low = score - TWO_63;
        if low >= TWO_63 {
            0
        } else {
            (low as u64) ^ INDEFINITE
        }
    } else if score >= -TWO_63 {
        score as i64 as u64
    } else {
        INDEFINITE
    }
}

/// x86-64's conversion of a double to a signed 64-bit integer (WITHHASH replies a score so):
/// truncation in range, i64::MIN otherwise.
pub fn score_as_i64(score: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if score.is_nan() || !(-TWO_63..TWO_63).contains(&score) {
        i64::MIN
    } else {
        score as i64
    }
}

/// The position a score stands for: (longitude, latitude) of its cell's centre. Any score
/// decodes (as in Redis): one that no GEOADD produced lands somewhere, clamped to the limits.
pub fn decode_score(score: f64) -> (f64, f64) {
    let cell = Cell {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    match decode(WGS84_LONG, WGS84_LAT, cell) {
        Some(area) => centre(&area),
        // Unreachable: a step of 26 is never "no cell".
        None => (0.0, 0.0),
    }
}

/// The standard 11-character geohash of a score's position (GEOHASH): re-encoded over the
/// latitude range -90..90 the standard uses, the last character always '0' (52 bits only).
pub fn geohash_text(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (longitude, latitude) = decode_score(score);
    let standard_lat = Span {
        min: -90.0,
        max: 90.0,
    };
    let bits =
        encode(WGS84_LONG, standard_lat, longitude, latitude, STEP_MAX).map_or(0, |c| c.bits);
    let mut text = [b'0'; 11];
    for (i, c) in text.iter_mut().enumerate().take(10) {
        let index = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = ALPHABET[index as usize];
    }
    text
}

/// A coordinate as Redis replies it (GEOPOS, WITHCOORD: ld2string's "human" form): 17
/// decimals, trailing zeros and a trailing point removed, "-0" written "0".
pub fn coordinate_text(v: f64) -> String {
    let mut text = format!("{v:.17}");
    let kept = text.trim_end_matches('0').trim_end_matches('.').len();
    text.truncate(kept);
    if text == "-0" {
        text.remove(0);
    }
    text
}

/// A distance as Redis replies it (GEODIST, WITHDIST): 4 decimals.
pub fn distance_text(v: f64) -> String {
    format!("{v:.4}")
}

/// The great-circle distance in metres between two positions (Redis's haversine).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lat1r = deg_rad(lat1);
    let lon1r = deg_rad(lon1);
    let lat2r = deg_rad(lat2);
    let lon2r = deg_rad(lon2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_M * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// What a search covers, in the unit its sizes were given in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Extent {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search area: its centre, extent, and the unit's size in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub longitude: f64,
    pub latitude: f64,
    pub extent: Extent,
    /// Metres per unit (m 1, km 1000, ft 0.3048, mi 1609.34).
    pub to_meters: f64,
}

impl Shape {
    /// The distance in metres from the centre to a point inside the shape, None outside (Redis
    /// geohashGetDistanceIfInRadius / geohashGetDistanceIfInRectangle).
    pub fn distance_if_within(&self, longitude: f64, latitude: f64) -> Option<f64> {
        let (x1, y1) = (self.longitude, self.latitude);
        match self.extent {
            Extent::Radius(radius) => {
                let d = distance(x1, y1, longitude, latitude);
                (d <= radius * self.to_meters).then_some(d)
            }
            Extent::Box { width, height } => {
                let width_m = width * self.to_meters;
                let height_m = height * self.to_meters;
                let long_distance = distance(longitude, latitude, x1, latitude);
                let lat_distance = distance(longitude, latitude, longitude, y1);
                if long_distance > width_m / 2.0 || lat_distance > height_m / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, longitude, latitude))
            }
        }
    }

    /// The half-extents in metres: (north-south, east-west).
    fn half_extents_m(&self) -> (f64, f64) {
        match self.extent {
            Extent::Radius(r) => (self.to_meters * r, self.to_meters * r),
            Extent::Box { width, height } => (
                self.to_meters * (height / 2.0),
                self.to_meters * (width / 2.0),
            ),
        }
    }

    /// The longitude and latitude bounds of the shape (Redis geohashBoundingBox): min long,
    /// min lat, max long, max lat. Longitudes widen towards the pole the shape reaches.
    fn bounding_box(&self) -> [f64; 4] {
        let (height, width) = self.half_extents_m();
        let (longitude, latitude) = (self.longitude, self.latitude);
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let long_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_M / deg_rad(latitude - lat_delta).cos());
        let long_delta = if latitude < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            longitude - long_delta,
            latitude - lat_delta,
            longitude + long_delta,
            latitude + lat_delta,
        ]
    }

    /// The distance in metres the cell size is chosen for: the radius, or the half-diagonal
    /// of a box.
    fn reach_m(&self) -> f64 {
        let reach = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        reach * self.to_meters
    }
}

/// The cell size (bits per coordinate) for a search reaching `range_m` metres around a point
/// at `latitude` (Redis geohashEstimateStepsByRadius): coarser towards the poles.
fn estimate_step(mut range_m: f64, latitude: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    // Bounded: a positive double doubles past the limit in at most about 1,100 rounds.
    while range_m < MERCATOR_MAX_M {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&latitude) {
        step -= 1;
        if !(-80.0..=80.0).contains(&latitude) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The directions of a cell's eight neighbours, in Redis's order (N, S, E, W, NE, NW, SE,
/// SW), as (east-west, north-south) moves.
const DIRECTIONS: [(i8, i8); 8] = [
    (0, 1),
    (0, -1),
    (1, 0),
    (-1, 0),
    (1, 1),
    (-1, 1),
    (1, -1),
    (-1, -1),
];

/// The cell's eight neighbours (in `DIRECTIONS` order), wrapping around at the ends of each
/// axis (Redis geohashNeighbors).
fn neighbours(cell: Cell) -> [Cell; 8] {
    const LONG_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    const LAT_BITS: u64 = 0x5555_5555_5555_5555;
    let shift = 64 - u32::from(cell.step) * 2;
    // Adds or subtracts one on the axis whose bits `axis` selects, leaving the other's alone.
    let move_axis = |bits: u64, axis: u64, d: i8| -> u64 {
        if d == 0 {
            return bits;
        }
        let other = !axis;
        let mut moving = bits & axis;
        let fill = other >> shift;
        if d > 0 {
            moving = moving.wrapping_add(fill.wrapping_add(1));
        } else {
            moving |= fill;
            moving = moving.wrapping_sub(fill.wrapping_add(1));
        }
        (moving & (axis >> shift)) | (bits & other)
    };
    DIRECTIONS.map(|(dx, dy)| Cell {
        bits: move_axis(move_axis(cell.bits, LONG_BITS, dx), LAT_BITS, dy),
        step: cell.step,
    })
}

/// The cells a search scans, in Redis's order (the centre's, then its neighbours in
/// `DIRECTIONS` order), with the neighbours the bounding box does not reach left out (Redis
/// geohashCalculateAreasByShapeWGS84 and membersOfAllNeighbors). A cell equal to the one
/// scanned just before it (huge searches wrap around) is left out too, as Redis skips it.
pub fn search_cells(shape: &Shape) -> Vec<Cell> {
    let [min_lon, min_lat, max_lon, max_lat] = shape.bounding_box();
    let (longitude, latitude) = (shape.longitude, shape.latitude);
    let mut step = estimate_step(shape.reach_m(), latitude);
    let at = |step: u8| {
        let cell = encode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
            .unwrap_or(Cell { bits: 0, step });
        (cell, neighbours(cell))
    };
    let (mut cell, mut around) = at(step);
    let area_of = |c: Cell| decode(WGS84_LONG, WGS84_LAT, c);
    // A neighbour too close to the search edge to cover it calls for cells twice the size.
    let [north, south, east, west, ..] = around.map(area_of);
    let too_small = north.is_some_and(|a| a.lat.max < max_lat)
        || south.is_some_and(|a| a.lat.min > min_lat)
        || east.is_some_and(|a| a.long.max < max_lon)
        || west.is_some_and(|a| a.long.min > min_lon);
    if step > 1 && too_small {
        step -= 1;
        (cell, around) = at(step);
    }
    if step >= 2 {
        if let Some(area) = area_of(cell) {
            // The centre cell already reaches past the bounding box on a side: the
            // neighbours on that side are not needed.
            for (n, (dx, dy)) in around.iter_mut().zip(DIRECTIONS) {
                if (dy < 0 && area.lat.min < min_lat)
                    || (dy > 0 && area.lat.max > max_lat)
                    || (dx < 0 && area.long.min < min_lon)
                    || (dx > 0 && area.long.max > max_lon)
                {
                    *n = Cell::NONE;
                }
            }
        }
    }
    let mut cells: Vec<Cell> = Vec::with_capacity(9);
    for c in std::iter::once(cell).chain(around) {
        if c.is_none() || cells.last() == Some(&c) {
            continue;
        }
        cells.push(c);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values below are what Redis 7.0.15 answers (ZSCORE after GEOADD, GEOPOS,
    // GEOHASH, GEODIST).

    #[test]
    fn scores_match_redis() {
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698.0));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909.0));
        // The very last cell needs 54 bits: rounded as ZADD parses it.
        assert_eq!(score_of(180.0, 85.05112878), Some(13510798882111488.0));
        assert_eq!(score_of(-180.0, -85.05112878), Some(0.0));
        assert_eq!(score_of(180.000001, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
    }

    #[test]
    fn decoding_matches_redis() {
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(coordinate_text(lon), "13.36138933897018433");
        assert_eq!(coordinate_text(lat), "38.11555639549629859");
        let (lon, lat) = decode_score(3479447370796909.0);
        assert_eq!(coordinate_text(lon), "15.08726745843887329");
        assert_eq!(coordinate_text(lat), "37.50266842333162032");
    }

    #[test]
    fn arbitrary_scores_decode_like_redis() {
        // ZADD z -1 a 1e300 b 4503599627370496 c 9007199254740992 d -1e300 e 0.5 f; GEOPOS.
        let cases: [(f64, &str, &str); 6] = [
            (-1.0, "180", "85.0511287799999991"),
            (1e300, "-179.99999731779098511", "-85.05112751263942528"),
            (
                4503599627370496.0,
                "-179.99999731779098511",
                "85.0511287799999991",
            ),
            (9007199254740992.0, "180", "-85.05112751263942528"),
            (-1e300, "180", "-85.05112751263942528"),
            (0.5, "-179.99999731779098511", "-85.05112751263942528"),
        ];
        for (score, lon, lat) in cases {
            let (x, y) = decode_score(score);
            assert_eq!(
                (coordinate_text(x).as_str(), coordinate_text(y).as_str()),
                (lon, lat),
                "{score}"
            );
        }
    }

    #[test]
    fn geohash_strings_match_redis() {
        assert_eq!(&geohash_text(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&geohash_text(3479447370796909.0), b"sqdtr74hyu0");
        assert_eq!(&geohash_text(-1.0), b"bp05b5048p0");
        assert_eq!(&geohash_text(1e300), b"00bh0hbj200");
    }

    #[test]
    fn distances_match_redis() {
        let (x1, y1) = decode_score(3479099956230698.0);
        let (x2, y2) = decode_score(3479447370796909.0);
        assert_eq!(distance_text(distance(x1, y1, x2, y2)), "166274.1516");
        assert_eq!(distance_text(distance(x1, y1, x2, y2) / 1000.0), "166.2742");
        // GEOSEARCH k FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST: Palermo 190.4424, Catania
        // 56.4413.
        assert_eq!(
            distance_text(distance(15.0, 37.0, x1, y1) / 1000.0),
            "190.4424"
        );
        assert_eq!(
            distance_text(distance(15.0, 37.0, x2, y2) / 1000.0),
            "56.4413"
        );
    }

    #[test]
    fn interleaving_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x03ff_ffff, 0x0155_5555),
            (u32::MAX, 7),
        ] {
            let v = interleave(x, y);
            assert_eq!(deinterleave(v), u64::from(x) | (u64::from(y) << 32));
        }
    }

    #[test]
    fn neighbours_wrap_within_the_step() {
        // Step 1: two cells per axis, so north and south (east and west) are the same cell.
        let cell = Cell { bits: 0, step: 1 };
        let [north, south, east, west, ..] = neighbours(cell);
        assert_eq!(north, south);
        assert_eq!(east, west);
        assert_eq!(north, Cell { bits: 1, step: 1 });
        assert_eq!(east, Cell { bits: 2, step: 1 });
        // A huge search scans each of the four cells once.
        let shape = Shape {
            longitude: 0.0,
            latitude: 0.0,
            extent: Extent::Radius(20_000.0),
            to_meters: 1000.0,
        };
        let cells = search_cells(&shape);
        assert!(cells.iter().all(|c| c.step == 1));
        let mut bits: Vec<u64> = cells.iter().map(|c| c.bits).collect();
        bits.sort_unstable();
        assert_eq!(bits, vec![0, 1, 2, 3]);
    }

    #[test]
    fn step_estimates_follow_redis() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(1.0, 0.0), 24);
        assert_eq!(estimate_step(200_000.0, 0.0), 6);
        assert_eq!(estimate_step(200_000.0, 70.0), 5);
        assert_eq!(estimate_step(200_000.0, -85.0), 4);
        assert_eq!(estimate_step(f64::INFINITY, 0.0), 1);
        assert_eq!(estimate_step(f64::MIN_POSITIVE, 0.0), 26);
    }

    #[test]
    fn c_conversions() {
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(1e300), 0);
        assert_eq!(score_bits(-1e300), 1 << 63);
        assert_eq!(score_bits(f64::INFINITY), 0);
        assert_eq!(score_bits(1.8e19), 18_000_000_000_000_000_000);
        assert_eq!(score_as_i64(1e300), i64::MIN);
        assert_eq!(score_as_i64(-5.5), -5);
    }
}
