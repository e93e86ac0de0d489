//! GEO commands against a real server. Every expected reply below is what Redis 7.0.15 answers
//! to the same command sequence (the differential test compares thousands of random GEO
//! commands with a real redis-server): errors and their order, option combinations, STORE and
//! STOREDIST (an empty result deletes the destination), TTLs, geo sets as sorted sets and
//! sorted sets as geo sets, RESP3 reply types, COMMAND GETKEYS, and geo sets brought back by
//! the AOF after a SIGKILL.

mod common;
use common::{run, Raw, Server, SYNTAX, WRONGTYPE};

const SICILY: &[&str] = &[
    "GEOADD",
    "Sicily",
    "13.361389",
    "38.115556",
    "Palermo",
    "15.087269",
    "37.502669",
    "Catania",
];

/// A server holding Palermo and Catania (and Agrigento if asked) in `Sicily`.
fn sicily(agrigento: bool, extra: &[&str]) -> (Server, Raw) {
    let s = Server::start(extra);
    let mut r = s.raw();
    assert_eq!(run(&mut r, SICILY), ":2");
    if agrigento {
        let add = ["GEOADD", "Sicily", "13.583333", "37.316667", "Agrigento"];
        assert_eq!(run(&mut r, &add), ":1");
    }
    (s, r)
}

fn check(r: &mut Raw, cases: &[(&str, &str)]) {
    for (line, want) in cases {
        let args: Vec<&str> = line.split(' ').collect();
        assert_eq!(run(r, &args), *want, "{line}");
    }
}

#[test]
fn geoadd_geodist_geohash_geopos_follow_redis() {
    let (_s, mut r) = sicily(false, &[]);
    check(
        &mut r,
        &[
            (
                "GEOADD Sicily NX CH 13.361389 38.115556 Palermo 13.583333 37.316667 Agrigento",
                ":1",
            ),
            ("GEOADD Sicily XX CH 13.5 38.1 Palermo 1 1 newone", ":1"),
            ("GEOADD Sicily XX 13.361389 38.115556 Palermo", ":0"),
            ("GEOADD missing XX 1 2 a", ":0"),
            ("EXISTS missing", ":0"),
            (
                "GEOADD Sicily 13.361389 38.115556",
                "-ERR wrong number of arguments for 'geoadd' command",
            ),
            ("GEOADD Sicily NX XX 1 2 a", SYNTAX),
            ("GEOADD Sicily CH CH CH", SYNTAX),
            ("GEOADD Sicily 1 2 a 3", SYNTAX),
            ("GEOADD Sicily GT 1 2 a", SYNTAX),
            (
                "GEOADD Sicily 200 100 x",
                "-ERR invalid longitude,latitude pair 200.000000,100.000000",
            ),
            ("GEOADD Sicily abc 1 x", "-ERR value is not a valid float"),
            // A bad pair anywhere adds nothing.
            (
                "GEOADD Sicily 1 1 first 1 86 second",
                "-ERR invalid longitude,latitude pair 1.000000,86.000000",
            ),
            ("ZSCORE Sicily first", "(nil)"),
            ("GEODIST Sicily Palermo Catania", "166274.1516"),
            ("GEODIST Sicily Palermo Catania km", "166.2742"),
            ("GEODIST Sicily Palermo Catania MI", "103.3182"),
            ("GEODIST Sicily Palermo Catania ft", "545518.8700"),
            ("GEODIST Sicily Palermo nope", "(nil)"),
            ("GEODIST nokey a b", "(nil)"),
            (
                "GEODIST Sicily Palermo Catania yd",
                "-ERR unsupported unit provided. please use M, KM, FT, MI",
            ),
            ("GEODIST Sicily Palermo Catania km x", SYNTAX),
            (
                "GEOHASH Sicily Palermo Catania nope",
                "[sqc8b49rny0,sqdtr74hyu0,(nil)]",
            ),
            ("GEOHASH nokey a", "[(nil)]"),
            (
                "GEOPOS Sicily Palermo nope",
                "[[13.36138933897018433,38.11555639549629859],(nil)]",
            ),
            ("GEOPOS nokey a", "[(nil)]"),
            // A geo set is a sorted set, scored by 52-bit geohashes.
            ("TYPE Sicily", "+zset"),
            ("ZSCORE Sicily Palermo", "3479099956230698"),
            ("ZRANGE Sicily 0 -1", "[Agrigento,Palermo,Catania]"),
            ("GEOADD edge 180 85.05112878 corner", ":1"),
            ("ZSCORE edge corner", "13510798882111488"),
        ],
    );
}

#[test]
fn searches_follow_redis() {
    let (_s, mut r) = sicily(true, &[]);
    check(
        &mut r,
        &[
            (
                "GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC",
                "[[Catania,56.4413,:3479447370796909,[15.08726745843887329,37.50266842333162032]],\
                 [Agrigento,130.4235,:3479030013248308,[13.5833314061164856,37.31666804993816555]],\
                 [Palermo,190.4424,:3479099956230698,[13.36138933897018433,38.11555639549629859]]]",
            ),
            (
                "GEORADIUS Sicily 15 37 200 km DESC",
                "[Palermo,Agrigento,Catania]",
            ),
            ("GEORADIUS Sicily 15 37 200 km COUNT 1", "[Catania]"),
            ("GEORADIUS Sicily 15 37 200 km COUNT 1 DESC", "[Palermo]"),
            (
                "GEORADIUS Sicily 15 37 200 km COUNT 0",
                "-ERR COUNT must be > 0",
            ),
            (
                "GEORADIUS Sicily 15 37 200 km COUNT x",
                "-ERR value is not an integer or out of range",
            ),
            (
                "GEORADIUS Sicily 15 37 200 km ANY",
                "-ERR the ANY argument requires COUNT argument",
            ),
            ("GEORADIUS Sicily 15 37 200 km FOO", SYNTAX),
            (
                "GEORADIUS Sicily 15 37 -1 km",
                "-ERR radius cannot be negative",
            ),
            ("GEORADIUS Sicily 15 37 x km", "-ERR need numeric radius"),
            (
                "GEORADIUS Sicily 15 37 1 yd",
                "-ERR unsupported unit provided. please use M, KM, FT, MI",
            ),
            ("GEORADIUS_RO Sicily 15 37 200 km STORE dst", SYNTAX),
            (
                "GEORADIUSBYMEMBER Sicily Agrigento 100 km",
                "[Agrigento,Palermo]",
            ),
            (
                "GEORADIUSBYMEMBER Sicily nope 100 km",
                "-ERR could not decode requested zset member",
            ),
            (
                "GEORADIUSBYMEMBER_RO Sicily Agrigento 100 km WITHDIST ASC",
                "[[Agrigento,0.0000],[Palermo,90.9778]]",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST",
                "[[Catania,56.4413,[15.08726745843887329,37.50266842333162032]],\
                 [Agrigento,130.4235,[13.5833314061164856,37.31666804993816555]],\
                 [Palermo,190.4424,[13.36138933897018433,38.11555639549629859]]]",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km",
                "[Agrigento,Palermo]",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 100 km",
                SYNTAX,
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo ASC WITHDIST",
                "-ERR wrong number of arguments for 'geosearch' command",
            ),
            (
                "GEOSEARCH Sicily ASC WITHDIST COUNT 1 BYRADIUS 1 km",
                "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH",
            ),
            (
                "geosearch Sicily ASC WITHDIST COUNT 1 FROMLONLAT 1 2",
                "-ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 500 km COUNT 2 ANY",
                "[Agrigento,Palermo]",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 500 km ANY",
                "-ERR the ANY argument requires COUNT argument",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX -1 2 km",
                "-ERR height or width cannot be negative",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 x km",
                "-ERR need numeric height",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km STORE x",
                SYNTAX,
            ),
            // A missing key: the arguments are still checked, the member is not looked up.
            ("GEOSEARCH nokey FROMMEMBER Palermo BYRADIUS 100 km", "[]"),
            (
                "GEOSEARCH nokey FROMMEMBER Palermo BYRADIUS -1 km",
                "-ERR radius cannot be negative",
            ),
            ("GEORADIUSBYMEMBER nokey x 1 km COUNT 1", "[]"),
            // Removing a member is ZREM.
            ("ZREM Sicily Agrigento", ":1"),
            (
                "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 500 km ASC",
                "[Catania,Palermo]",
            ),
        ],
    );
}

#[test]
fn store_replaces_or_deletes_the_destination() {
    let (_s, mut r) = sicily(true, &[]);
    check(
        &mut r,
        &[
            ("GEORADIUS Sicily 15 37 200 km STORE dst", ":3"),
            (
                "ZRANGE dst 0 -1 WITHSCORES",
                "[Agrigento,3479030013248308,Palermo,3479099956230698,Catania,3479447370796909]",
            ),
            ("GEORADIUS Sicily 15 37 200 km STOREDIST dst2 COUNT 2", ":2"),
            ("ZRANGE dst2 0 -1", "[Catania,Agrigento]"),
            (
                "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST COUNT 2",
                "[[Catania,56.4413],[Agrigento,130.4235]]",
            ),
            (
                "GEORADIUS Sicily 15 37 200 km STORE dst WITHDIST",
                "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            ),
            (
                "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST",
                "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            ),
            (
                "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST",
                ":3",
            ),
            ("ZRANGE dst 0 -1", "[Catania,Agrigento,Palermo]"),
            // A destination of another type with a TTL is replaced, TTL dropped.
            ("SET plain v", "+OK"),
            ("EXPIRE plain 1000", ":1"),
            ("GEOSEARCHSTORE plain Sicily FROMLONLAT 15 37 BYRADIUS 60 km", ":1"),
            ("TYPE plain", "+zset"),
            ("TTL plain", ":-1"),
            // An empty result deletes the destination, also when the source is missing.
            ("GEOSEARCHSTORE plain Sicily FROMLONLAT 15 37 BYRADIUS 1 m", ":0"),
            ("EXISTS plain", ":0"),
            ("SET plain v", "+OK"),
            ("GEOSEARCHSTORE plain nokey FROMLONLAT 15 37 BYRADIUS 1 m", ":0"),
            ("EXISTS plain", ":0"),
            ("GEORADIUSBYMEMBER nokey x 1 km STORE dst", ":0"),
            ("EXISTS dst", ":0"),
            // The source can be the destination.
            ("GEOSEARCHSTORE Sicily Sicily FROMMEMBER Catania BYRADIUS 100 km", ":1"),
            ("ZRANGE Sicily 0 -1", "[Catania]"),
        ],
    );
}

#[test]
fn types_and_ttls() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("SET plain v", "+OK"),
            ("GEOADD plain 1 2 a", WRONGTYPE),
            ("GEOPOS plain a", WRONGTYPE),
            ("GEOHASH plain a", WRONGTYPE),
            ("GEODIST plain a b", WRONGTYPE),
            // The type check comes before the arguments.
            ("GEOSEARCH plain FROMLONLAT 200 37 BYRADIUS 1 m", WRONGTYPE),
            ("GEORADIUS plain 200 37 1 m", WRONGTYPE),
            (
                "GEOSEARCHSTORE dst plain FROMLONLAT 15 37 BYRADIUS 1 m",
                WRONGTYPE,
            ),
            // GEOADD keeps the key's TTL.
            ("GEOADD ttl 1 2 a", ":1"),
            ("EXPIRE ttl 1000", ":1"),
            ("GEOADD ttl 1 3 b", ":1"),
            ("TTL ttl", ":1000"),
            // Any sorted set answers GEO commands; any score decodes somewhere.
            ("ZADD z -1 a 1e300 b 0.5 c", ":3"),
            (
                "GEOPOS z a b c",
                "[[180,85.0511287799999991],[-179.99999731779098511,-85.05112751263942528],\
                 [-179.99999731779098511,-85.05112751263942528]]",
            ),
            ("GEOHASH z a b", "[bp05b5048p0,00bh0hbj200]"),
            ("GEORADIUSBYMEMBER z c 1 km WITHHASH", "[[c,:0]]"),
            (
                "COMMAND GETKEYS GEORADIUS k 1 2 3 km STORE d STOREDIST e",
                "[k,d,e]",
            ),
            (
                "COMMAND GETKEYS GEOSEARCHSTORE d s FROMLONLAT 1 2 BYRADIUS 1 km",
                "[d,s]",
            ),
            ("COMMAND GETKEYS GEORADIUS_RO k 1 2 3 km", "[k]"),
        ],
    );
}

#[test]
fn resp3_replies_coordinates_as_doubles() {
    let (_s, mut r) = sicily(false, &[]);
    run(&mut r, &["HELLO", "3"]);
    check(
        &mut r,
        &[
            (
                "GEOPOS Sicily Palermo nope",
                "[[,13.36138933897018433,,38.11555639549629859],(nil)]",
            ),
            // Distances stay bulk strings, as in Redis.
            ("GEODIST Sicily Palermo Catania", "166274.1516"),
            ("GEODIST Sicily Palermo nope", "(nil)"),
            (
                "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST WITHCOORD WITHHASH COUNT 1",
                "[[Catania,56.4413,:3479447370796909,[,15.08726745843887329,,37.50266842333162032]]]",
            ),
            ("GEORADIUS nokey 1 1 1 km", "[]"),
            ("GEOHASH nokey a", "[(nil)]"),
        ],
    );
}

#[test]
fn geo_sets_survive_an_aof_restart() {
    let (s, mut r) = sicily(false, &["--appendonly", "yes", "--appendfsync", "always"]);
    check(
        &mut r,
        &[
            (
                "GEOADD Sicily CH 13.583333 37.316667 Agrigento 15 37 Catania",
                ":2",
            ),
            (
                "GEOSEARCHSTORE near Sicily FROMLONLAT 15 37 BYRADIUS 150 km STOREDIST",
                ":2",
            ),
            ("GEORADIUS Sicily 15 37 200 km STORE all", ":3"),
            ("SET gone v", "+OK"),
            ("GEORADIUS Sicily 16 36 1 m STORE gone", ":0"),
        ],
    );
    let dump = |r: &mut Raw| -> Vec<String> {
        ["Sicily", "near", "all", "gone"]
            .iter()
            .map(|k| run(r, &["ZRANGE", k, "0", "-1", "WITHSCORES"]))
            .collect()
    };
    let before = dump(&mut r);
    assert_eq!(before[3], "[]");
    drop(r);
    let s = s.restart(&["--appendonly", "yes"]);
    let mut r = s.raw();
    assert_eq!(dump(&mut r), before);
    assert_eq!(
        run(&mut r, &["GEOPOS", "Sicily", "Catania"]),
        "[[14.99999910593032837,37.00000026605963654]]"
    );
}
