//! GEO commands (Redis geo.c): GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS,
//! GEORADIUSBYMEMBER and their _RO forms, GEOSEARCH and GEOSEARCHSTORE.
//!
//! A geo set is an ordinary sorted set whose scores are 52-bit geohashes (`crate::geohash`),
//! as in Redis: GEOADD is ZADD with computed scores (it shares ZADD's code, replies and
//! `zadd` event), ZRANGE, ZREM or DEL work on a geo set, and the GEO commands read any sorted
//! set (a score no GEOADD produced decodes to some position, as Redis's does).
//!
//! Redis's observable behaviour is kept exactly: arguments are checked in Redis's order (the
//! key's type first, then the centre, the extent and the options one by one as they come),
//! errors carry Redis's texts, members are found by scanning the same cells in the same order,
//! so an unsorted reply and a `COUNT n ANY` search list the same members in the same order;
//! ASC/DESC sort stably by distance (COUNT without ANY sorts ascending); distances are replied
//! with 4 decimals as bulk strings, coordinates with 17 decimals as Redis prints a long double
//! (RESP3 doubles). STORE/STOREDIST (and GEOSEARCHSTORE) replace the destination with a sorted
//! set (geohash or distance scores), or delete it when nothing matched.
//!
//! The work of a search is bounded by the members in at most nine score ranges of the set.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, NOT_FLOAT, SYNTAX};
use crate::geohash::{self, Extent, Shape};
use crate::hash::db_and_out;
use crate::parse::{int_arg, is};
use crate::table::{flags, CommandSpec};
use crate::zset::{self, parse_score, read_zset, ZaddFlags};
use ringkv_engine::types::zset::ScoreRange;
use ringkv_engine::ZSetValue;
use ringkv_protocol::{Args, ReplyWriter};

const RW_DENYOOM: u32 = flags::WRITE | flags::DENYOOM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, RW_DENYOOM, geoadd)
        .keys(1, 1, 1)
        .group("geo")
        .doc(
            "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
            "3.2.0",
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        )
        .syntax("key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]"),
    CommandSpec::new("geodist", -4, flags::READONLY, geodist)
        .keys(1, 1, 1)
        .group("geo")
        .doc(
            "Returns the distance between two members of a geospatial index.",
            "3.2.0",
            "O(log(N))",
        )
        .syntax("key member1 member2 [M | KM | FT | MI]"),
    CommandSpec::new("geohash", -2, flags::READONLY, geohash_command)
        .keys(1, 1, 1)
        .group("geo")
        .doc(
            "Returns members from a geospatial index as geohash strings.",
            "3.2.0",
            "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
        )
        .syntax("key [member [member ...]]"),
    CommandSpec::new("geopos", -2, flags::READONLY, geopos)
        .keys(1, 1, 1)
        .group("geo")
        .doc(
            "Returns the longitude and latitude of members from a geospatial index.",
            "3.2.0",
            "O(N) where N is the number of members requested.",
        )
        .syntax("key [member [member ...]]"),
    CommandSpec::new("georadius", -6, RW_DENYOOM, georadius)
        .keys(1, 1, 1)
        .key_finder(store_key)
        .group("geo")
        .doc(
            "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
            "3.2.0",
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .syntax("key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]"),
    CommandSpec::new("georadius_ro", -6, flags::READONLY, georadius_ro)
        .keys(1, 1, 1)
        .group("geo")
        .doc(
            "Returns members from a geospatial index that are within a distance from a coordinate.",
            "3.2.10",
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .syntax("key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"),
    CommandSpec::new("georadiusbymember", -5, RW_DENYOOM, georadiusbymember)
        .keys(1, 1, 1)
        .key_finder(store_key)
        .group("geo")
        .doc(
            "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
            "3.2.0",
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .syntax("key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]"),
    CommandSpec::new("georadiusbymember_ro", -5, flags::READONLY, georadiusbymember_ro)
        .keys(1, 1, 1)
        .group("geo")
        .doc(
            "Returns members from a geospatial index that are within a distance from a member.",
            "3.2.10",
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .syntax("key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"),
    CommandSpec::new("geosearch", -7, flags::READONLY, geosearch)
        .keys(1, 1, 1)
        .group("geo")
        .doc(
            "Queries a geospatial index for members inside an area of a box or a circle.",
            "6.2.0",
            "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        )
        .syntax("key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"),
    CommandSpec::new("geosearchstore", -8, RW_DENYOOM, geosearchstore)
        .keys(1, 2, 1)
        .group("geo")
        .doc(
            "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
            "6.2.0",
            "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        )
        .syntax("destination source <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [STOREDIST]"),
];

const NOT_A_MEMBER: CmdError = CmdError::Static("ERR could not decode requested zset member");

/// GEORADIUS's and GEORADIUSBYMEMBER's destination keys: every argument after a STORE or
/// STOREDIST among the options (the last one is where the result goes; naming them all keeps a
/// cluster from splitting the keys a command line mentions, as Redis's key specs list both).
fn store_key(args: &[&[u8]], keys: &mut Vec<usize>) {
    let mut i = 5;
    while i + 1 < args.len() {
        if is(args[i], "store") || is(args[i], "storedist") {
            keys.push(i + 1);
            i += 1;
        }
        i += 1;
    }
}

/// A longitude, latitude pair (Redis extractLongLatOrReply): both must be floats, then both
/// within the WGS-84 limits geohashes cover.
fn parse_lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let longitude = parse_score(lon).ok_or(NOT_FLOAT)?;
    let latitude = parse_score(lat).ok_or(NOT_FLOAT)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&longitude)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&latitude)
    {
        return Err(CmdError::msg(format!(
            "ERR invalid longitude,latitude pair {longitude:.6},{latitude:.6}"
        )));
    }
    Ok((longitude, latitude))
}

/// Metres per unit (Redis extractUnitOrReply; case-insensitive).
fn parse_unit(unit: &[u8]) -> Result<f64, CmdError> {
    if is(unit, "m") {
        Ok(1.0)
    } else if is(unit, "km") {
        Ok(1000.0)
    } else if is(unit, "ft") {
        Ok(0.3048)
    } else if is(unit, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::Static(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// `radius unit` (Redis extractDistanceOrReply): the radius and metres per unit.
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(Extent, f64), CmdError> {
    let r = parse_score(radius).ok_or(CmdError::Static("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::Static("ERR radius cannot be negative"));
    }
    Ok((Extent::Radius(r), parse_unit(unit)?))
}

/// `width height unit` (Redis extractBoxOrReply).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(Extent, f64), CmdError> {
    let w = parse_score(width).ok_or(CmdError::Static("ERR need numeric width"))?;
    let h = parse_score(height).ok_or(CmdError::Static("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::Static("ERR height or width cannot be negative"));
    }
    Ok((
        Extent::Box {
            width: w,
            height: h,
        },
        parse_unit(unit)?,
    ))
}

/// The position stored for `member`, None when it is not in the set.
fn position_of(zset: &ZSetValue, member: &[u8]) -> Option<(f64, f64)> {
    zset.score(member).map(geohash::decode_score)
}

// ---------------------------------------------------------------------------------------------
// GEOADD, GEODIST, GEOHASH, GEOPOS
// ---------------------------------------------------------------------------------------------

fn geoadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut flags = ZaddFlags::default();
    let mut first = 2;
    while first < args.len() && flags.parse(args.arg(first), false) {
        first += 1;
    }
    let rest = args.len() - first;
    // No triple at all ("GEOADD key CH CH CH") is ZADD's syntax error, like a partial one.
    if rest == 0 || !rest.is_multiple_of(3) || (flags.xx && flags.nx) {
        return Err(SYNTAX);
    }
    let mut pairs = Vec::with_capacity(rest / 3);
    for triple in (first..args.len()).step_by(3) {
        let (lon, lat) = parse_lon_lat(args.arg(triple), args.arg(triple + 1))?;
        let score = geohash::score_of(lon, lat).ok_or(SYNTAX)?;
        pairs.push((score, args.arg(triple + 2)));
    }
    zset::zadd_apply(ctx, args.arg(1), flags, &pairs)
}

fn geodist(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => parse_unit(args.arg(4))?,
        _ => return Err(SYNTAX),
    };
    let (mut db, out) = db_and_out(ctx);
    let Some(zset) = read_zset(&mut db, args.arg(1))? else {
        out.null();
        return Ok(());
    };
    match (
        position_of(zset, args.arg(2)),
        position_of(zset, args.arg(3)),
    ) {
        (Some((x1, y1)), Some((x2, y2))) => {
            let d = geohash::distance(x1, y1, x2, y2) / to_meters;
            out.bulk(geohash::distance_text(d).as_bytes());
        }
        _ => out.null(),
    }
    Ok(())
}

fn geohash_command(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    per_member(ctx, args, |out, score| match score {
        Some(score) => out.bulk(&geohash::geohash_text(score)),
        None => out.null(),
    })
}

fn geopos(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    per_member(ctx, args, |out, score| match score {
        Some(score) => {
            let (longitude, latitude) = geohash::decode_score(score);
            out.array(2);
            write_coordinate(out, longitude);
            write_coordinate(out, latitude);
        }
        None => out.null_array(),
    })
}

/// GEOHASH's and GEOPOS's shape: an array with one reply per member named, written by `write`
/// from the member's score (None when the member or the key is missing).
fn per_member(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    write: impl Fn(&mut ReplyWriter, Option<f64>),
) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let zset = read_zset(&mut db, args.arg(1))?;
    out.array(args.len() - 2);
    for member in args.iter().skip(2) {
        write(out, zset.and_then(|z| z.score(member)));
    }
    Ok(())
}

fn write_coordinate(out: &mut ReplyWriter, v: f64) {
    out.double_text(geohash::coordinate_text(v).as_bytes());
}

// ---------------------------------------------------------------------------------------------
// GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE
// ---------------------------------------------------------------------------------------------

/// Which search command runs (Redis georadiusGeneric's flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS key longitude latitude radius unit ...
    Radius { store: bool },
    /// GEORADIUSBYMEMBER key member radius unit ...
    RadiusByMember { store: bool },
    /// GEOSEARCH key FROM... BY... ...
    Search,
    /// GEOSEARCHSTORE destination source FROM... BY... ...
    SearchStore,
}

impl Form {
    fn is_search(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }

    fn accepts_store(self) -> bool {
        matches!(
            self,
            Form::Radius { store: true } | Form::RadiusByMember { store: true }
        )
    }
}

fn georadius(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    search(ctx, args, Form::Radius { store: true })
}

fn georadius_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    search(ctx, args, Form::Radius { store: false })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    search(ctx, args, Form::RadiusByMember { store: true })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    search(ctx, args, Form::RadiusByMember { store: false })
}

fn geosearch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    search(ctx, args, Form::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    search(ctx, args, Form::SearchStore)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Unsorted,
    Ascending,
    Descending,
}

/// What a search asked for, once its arguments are parsed.
struct Request<'a> {
    /// The centre (None until given, or when FROMMEMBER named a member of a missing key).
    centre: Option<(f64, f64)>,
    /// The extent and metres per unit.
    extent: Option<(Extent, f64)>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Order,
    /// COUNT (0: none).
    count: usize,
    any: bool,
    /// The destination, and whether it stores distances instead of geohashes.
    store: Option<&'a [u8]>,
    store_dist: bool,
}

/// A member found by a search.
struct Found {
    member: Vec<u8>,
    score: f64,
    /// Metres from the centre.
    dist: f64,
    longitude: f64,
    latitude: f64,
}

/// Redis georadiusGeneric: the type check, then the arguments in order, then the search.
fn search(ctx: &mut Ctx<'_>, args: Args<'_>, form: Form) -> CmdResult {
    let src_idx = if form == Form::SearchStore { 2 } else { 1 };
    let (mut db, out) = db_and_out(ctx);
    let zset = read_zset(&mut db, args.arg(src_idx))?;
    let request = parse_request(args, form, zset)?;
    let store = request.store;
    let event = if form.is_search() {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    let (Some(zset), Some((longitude, latitude)), Some((extent, to_meters))) =
        (zset, request.centre, request.extent)
    else {
        // Only a missing source key gets here (every other gap is an error above).
        match store {
            Some(dst) => zset::store_result(&mut db, out, dst, Vec::new(), event),
            None => out.array(0),
        }
        return Ok(());
    };
    let shape = Shape {
        longitude,
        latitude,
        extent,
        to_meters,
    };
    let limit = if request.any { request.count } else { 0 };
    let mut found = members_within(zset, &shape, limit);
    match request.order {
        Order::Unsorted => {}
        Order::Ascending => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Order::Descending => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
    }
    if request.count > 0 {
        found.truncate(request.count);
    }
    match store {
        None => reply_found(out, &request, &found, to_meters),
        Some(dst) => {
            let mut entries: Vec<(Vec<u8>, f64)> = found
                .into_iter()
                .map(|f| {
                    let score = if request.store_dist {
                        f.dist / to_meters
                    } else {
                        f.score
                    };
                    (f.member, score)
                })
                .collect();
            entries.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            zset::store_result(&mut db, out, dst, entries, event);
        }
    }
    Ok(())
}

/// Parses a search's centre, extent and options in Redis's order, with Redis's errors.
fn parse_request<'a>(
    args: Args<'a>,
    form: Form,
    zset: Option<&ZSetValue>,
) -> Result<Request<'a>, CmdError> {
    let mut req = Request {
        centre: None,
        extent: None,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: Order::Unsorted,
        count: 0,
        any: false,
        store: None,
        store_dist: false,
    };
    let first_option = match form {
        Form::Radius { .. } => {
            req.centre = Some(parse_lon_lat(args.arg(2), args.arg(3))?);
            req.extent = Some(parse_radius(args.arg(4), args.arg(5))?);
            6
        }
        Form::RadiusByMember { .. } => {
            if let Some(z) = zset {
                req.centre = Some(position_of(z, args.arg(2)).ok_or(NOT_A_MEMBER)?);
                req.extent = Some(parse_radius(args.arg(3), args.arg(4))?);
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            req.store = Some(args.arg(1));
            3
        }
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut i = first_option;
    while i < args.len() {
        let arg = args.arg(i);
        let more = args.len() - i - 1;
        if is(arg, "withdist") {
            req.with_dist = true;
        } else if is(arg, "withhash") {
            req.with_hash = true;
        } else if is(arg, "withcoord") {
            req.with_coord = true;
        } else if is(arg, "any") {
            req.any = true;
        } else if is(arg, "asc") {
            req.order = Order::Ascending;
        } else if is(arg, "desc") {
            req.order = Order::Descending;
        } else if is(arg, "count") && more >= 1 {
            let n = int_arg(args.arg(i + 1))?;
            if n <= 0 {
                return Err(CmdError::Static("ERR COUNT must be > 0"));
            }
            req.count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && more >= 1 && form.accepts_store() {
            req.store = Some(args.arg(i + 1));
            req.store_dist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && form == Form::SearchStore {
            req.store_dist = true;
        } else if is(arg, "frommember") && more >= 1 && form.is_search() && !from_lonlat {
            // A missing key: parsing goes on, the reply is the empty one.
            if let Some(z) = zset {
                req.centre = Some(position_of(z, args.arg(i + 1)).ok_or(NOT_A_MEMBER)?);
            }
            from_member = true;
            i += 1;
        } else if is(arg, "fromlonlat") && more >= 2 && form.is_search() && !from_member {
            req.centre = Some(parse_lon_lat(args.arg(i + 1), args.arg(i + 2))?);
            from_lonlat = true;
            i += 2;
        } else if is(arg, "byradius") && more >= 2 && form.is_search() && !by_box {
            req.extent = Some(parse_radius(args.arg(i + 1), args.arg(i + 2))?);
            by_radius = true;
            i += 2;
        } else if is(arg, "bybox") && more >= 3 && form.is_search() && !by_radius {
            req.extent = Some(parse_box(
                args.arg(i + 1),
                args.arg(i + 2),
                args.arg(i + 3),
            )?);
            by_box = true;
            i += 3;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if req.store.is_some() && (req.with_dist || req.with_hash || req.with_coord) {
        return Err(CmdError::msg(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if form == Form::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    if form.is_search() {
        let name = String::from_utf8_lossy(args.arg(0));
        if !(from_member || from_lonlat) {
            return Err(CmdError::msg(format!(
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
            )));
        }
        if !(by_radius || by_box) {
            return Err(CmdError::msg(format!(
                "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
            )));
        }
    }
    if req.any && req.count == 0 {
        return Err(CmdError::Static(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    // COUNT keeps the nearest members unless ANY asked for the first ones found.
    if req.count > 0 && req.order == Order::Unsorted && !req.any {
        req.order = Order::Ascending;
    }
    Ok(req)
}

/// The members inside `shape`, in the order Redis finds them: cell by cell, each cell's
/// members by score. With a `limit` (COUNT n ANY) the scan stops once that many are found.
fn members_within(zset: &ZSetValue, shape: &Shape, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    for cell in geohash::search_cells(shape) {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = cell.score_range();
        let range = ScoreRange {
            min,
            min_exclusive: false,
            max,
            max_exclusive: true,
        };
        let ranks = zset.score_range(&range);
        zset.visit_ranks(ranks.start, ranks.end, false, |member, score| {
            let (longitude, latitude) = geohash::decode_score(score);
            if let Some(dist) = shape.distance_if_within(longitude, latitude) {
                found.push(Found {
                    member: member.to_vec(),
                    score,
                    dist,
                    longitude,
                    latitude,
                });
            }
            limit == 0 || found.len() < limit
        });
    }
    found
}

/// The reply of a search without STORE: members alone, or `[member, dist?, hash?, coords?]`.
fn reply_found(out: &mut ReplyWriter, req: &Request<'_>, found: &[Found], to_meters: f64) {
    let extras =
        usize::from(req.with_dist) + usize::from(req.with_hash) + usize::from(req.with_coord);
    out.array(found.len());
    for f in found {
        if extras > 0 {
            out.array(extras + 1);
        }
        out.bulk(&f.member);
        if req.with_dist {
            out.bulk(geohash::distance_text(f.dist / to_meters).as_bytes());
        }
        if req.with_hash {
            out.integer(geohash::score_as_i64(f.score));
        }
        if req.with_coord {
            out.array(2);
            write_coordinate(out, f.longitude);
            write_coordinate(out, f.latitude);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys_are_found() {
        let find = |line: &[&str]| {
            let args: Vec<&[u8]> = line.iter().map(|a| a.as_bytes()).collect();
            let mut keys = Vec::new();
            store_key(&args, &mut keys);
            keys
        };
        let base = ["GEORADIUS", "k", "1", "2", "3", "km"];
        assert_eq!(find(&base), Vec::<usize>::new());
        let mut line = base.to_vec();
        line.extend(["STORE", "d", "STOREDIST", "e"]);
        assert_eq!(find(&line), vec![7, 9]);
        line.push("STORE");
        assert_eq!(find(&line), vec![7, 9]);
    }
}
