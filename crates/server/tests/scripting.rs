//! Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT): conversions both ways in RESP2
//! and RESP3, errors and their texts, the sandbox, shebang flags, the scripts cache, atomicity
//! across an AOF restart, WATCH, and a differential run of representative scripts against a real
//! redis-server (when one is installed) that compares every reply byte for byte.

mod common;
use common::redis_server::Redis;
use common::{hello3, run, Raw, Server};

fn eval(r: &mut Raw, script: &str, keys: &[&str], args: &[&str]) -> String {
    let n = keys.len().to_string();
    let mut all = vec!["EVAL", script, n.as_str()];
    all.extend_from_slice(keys);
    all.extend_from_slice(args);
    run(r, &all)
}

#[test]
fn conversions_resp2() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(eval(&mut r, "return 3.99", &[], &[]), ":3");
    assert_eq!(eval(&mut r, "return 'x'", &[], &[]), "x");
    assert_eq!(eval(&mut r, "return true", &[], &[]), ":1");
    assert_eq!(eval(&mut r, "return false", &[], &[]), "(nil)");
    assert_eq!(eval(&mut r, "return nil", &[], &[]), "(nil)");
    assert_eq!(
        eval(&mut r, "return {1,2,{3,'x'},nil,5}", &[], &[]),
        "[:1,:2,[:3,x]]"
    );
    assert_eq!(eval(&mut r, "return {ok='fine'}", &[], &[]), "+fine");
    assert_eq!(
        eval(&mut r, "return {err='BAD thing'}", &[], &[]),
        "-BAD thing"
    );
    assert_eq!(
        eval(
            &mut r,
            "return redis.call('get', KEYS[1]) == false",
            &["nokey"],
            &[]
        ),
        ":1"
    );
    assert_eq!(
        eval(
            &mut r,
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["k"],
            &["v"]
        ),
        "+OK"
    );
    assert_eq!(
        eval(&mut r, "return type(redis.call('set', 'k', 'v'))", &[], &[]),
        "table"
    );
    assert_eq!(
        eval(&mut r, "return redis.call('set', 'f', 0.1)", &[], &[]),
        "+OK"
    );
    assert_eq!(run(&mut r, &["GET", "f"]), "0.10000000000000001");
    assert_eq!(
        eval(&mut r, "return redis.call('incrby', 'n', 5) + 1", &[], &[]),
        ":6"
    );
}

#[test]
fn conversions_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    hello3(&mut r);
    assert_eq!(eval(&mut r, "return false", &[], &[]), "(nil)");
    run(&mut r, &["HSET", "h", "a", "1"]);
    assert_eq!(
        eval(
            &mut r,
            "redis.setresp(3); local m = redis.call('hgetall', 'h'); return m.map.a",
            &[],
            &[]
        ),
        "1"
    );
    assert_eq!(
        eval(
            &mut r,
            "redis.setresp(3); return redis.call('hgetall', 'h')",
            &[],
            &[]
        ),
        "[a,1]"
    );
    assert_eq!(
        eval(&mut r, "redis.setresp(3); return true", &[], &[]),
        "#t"
    );
    assert_eq!(
        eval(&mut r, "redis.setresp(3); return false", &[], &[]),
        "#f"
    );
    assert_eq!(eval(&mut r, "return {double=1.5}", &[], &[]), ",1.5");
    assert_eq!(eval(&mut r, "return {big_number='123'}", &[], &[]), "(123");
    assert_eq!(
        eval(
            &mut r,
            "redis.setresp(3); return redis.call('get', 'none') == nil",
            &[],
            &[]
        ),
        "#t"
    );
}

#[test]
fn errors_pcall_and_sandbox() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(&mut r, &["SET", "s", "abc"]);
    let sha_err = eval(&mut r, "return redis.call('incr','s')", &[], &[]);
    assert!(
        sha_err.starts_with("-ERR value is not an integer or out of range script: ")
            && sha_err.ends_with(", on @user_script:1."),
        "{sha_err}"
    );
    assert_eq!(
        eval(&mut r, "return redis.pcall('incr','s')", &[], &[]),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        eval(
            &mut r,
            "local t = redis.pcall('incr','s'); return t.err",
            &[],
            &[]
        ),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        eval(&mut r, "return redis.pcall('nosuch')", &[], &[]),
        "-ERR Unknown Redis command called from script"
    );
    assert!(eval(&mut r, "return redis.call()", &[], &[])
        .starts_with("-ERR Please specify at least one argument for this redis lib call script:"));
    assert!(eval(&mut r, "return redis.call('multi')", &[], &[])
        .starts_with("-ERR This Redis command is not allowed from script script:"));
    assert!(eval(&mut r, "return redis.call('blpop', 'l', 0)", &[], &[])
        .starts_with("-ERR This Redis command is not allowed from script script:"));
    assert_eq!(
        eval(&mut r, "return redis.error_reply('My Error')", &[], &[]),
        "-My Error"
    );
    assert!(eval(&mut r, "x = 1", &[], &[])
        .starts_with("-ERR user_script:1: Attempt to modify a readonly table script:"));
    assert!(eval(&mut r, "return y", &[], &[]).starts_with(
        "-ERR user_script:1: Script attempted to access nonexistent global variable 'y' script:"
    ));
    for banned in ["os", "io", "loadfile", "dofile", "debug", "require"] {
        let reply = eval(&mut r, &format!("return {banned}"), &[], &[]);
        assert!(
            reply.contains("nonexistent global variable"),
            "{banned}: {reply}"
        );
    }
    assert!(eval(&mut r, "string.upper = nil", &[], &[]).contains("readonly table"));
    assert_eq!(eval(&mut r, "return string.upper('a')", &[], &[]), "A");
    assert!(eval(&mut r, "return 'x", &[], &[])
        .starts_with("-ERR Error compiling script (new function): user_script:1:"));
    assert_eq!(
        eval(&mut r, "return 1", &[], &[]).len(),
        2,
        "the interpreter survives errors"
    );
    assert_eq!(
        run(&mut r, &["EVAL", "return 1", "-1"]),
        "-ERR Number of keys can't be negative"
    );
    assert_eq!(
        run(&mut r, &["EVAL", "return 1", "2", "a"]),
        "-ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        eval(&mut r, "return {pcall(redis.call, 'incr', 's')}", &[], &[]),
        "[(nil),ERR value is not an integer or out of range]"
    );
    assert_eq!(
        eval(
            &mut r,
            "return cjson.encode(cjson.decode('{\"a\":[1,2,null]}'))",
            &[],
            &[]
        ),
        "{\"a\":[1,2,null]}"
    );
    assert_eq!(
        eval(&mut r, "return bit.tohex(bit.bnot(5))", &[], &[]),
        "fffffffa"
    );
    assert_eq!(
        eval(&mut r, "return redis.sha1hex('')", &[], &[]),
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
}

#[test]
fn flags_read_only_and_cache() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert!(run(
        &mut r,
        &["EVAL_RO", "return redis.call('set','a','b')", "0"]
    )
    .starts_with("-ERR Write commands are not allowed from read-only scripts. script:"));
    assert!(eval(
        &mut r,
        "#!lua flags=no-writes\nreturn redis.call('set','a','b')",
        &[],
        &[]
    )
    .starts_with("-ERR Write commands are not allowed from read-only scripts. script:"));
    assert_eq!(
        run(&mut r, &["EVAL_RO", "#!lua\nreturn 1", "0"]),
        "-ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(
        eval(&mut r, "#!lua flags=bogus\nreturn 1", &[], &[]),
        "-ERR Unexpected flag in script shebang: bogus"
    );
    assert_eq!(
        eval(&mut r, "#!python\nreturn 1", &[], &[]),
        "-ERR Unexpected engine in script shebang: #!python"
    );
    let sha = run(&mut r, &["SCRIPT", "LOAD", "return ARGV[1]"]);
    assert_eq!(sha.len(), 40);
    assert_eq!(run(&mut r, &["EVALSHA", &sha, "0", "hi"]), "hi");
    assert_eq!(
        run(&mut r, &["EVALSHA_RO", &sha.to_uppercase(), "0", "hi"]),
        "hi"
    );
    assert_eq!(
        run(
            &mut r,
            &[
                "SCRIPT",
                "EXISTS",
                &sha,
                "ffffffffffffffffffffffffffffffffffffffff"
            ]
        ),
        "[:1,:0]"
    );
    assert_eq!(run(&mut r, &["SCRIPT", "FLUSH", "ASYNC"]), "+OK");
    assert_eq!(
        run(&mut r, &["EVALSHA", &sha, "0"]),
        "-NOSCRIPT No matching script. Please use EVAL."
    );
    assert_eq!(
        run(&mut r, &["SCRIPT", "FLUSH", "LATER"]),
        "-ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    );
    assert!(run(&mut r, &["SCRIPT", "KILL"]).starts_with("-ERR unknown subcommand 'KILL'"));
    // maxmemory: a script that may write is refused before it starts, one with allow-oom runs.
    run(&mut r, &["SET", "big", &"x".repeat(100_000)]);
    run(&mut r, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(
        eval(&mut r, "#!lua\nreturn redis.call('set','a','b')", &[], &[]),
        "-OOM command not allowed when used memory > 'maxmemory'."
    );
    assert!(eval(&mut r, "return redis.call('set','a','b')", &[], &[])
        .starts_with("-OOM command not allowed when used memory > 'maxmemory'. script:"));
    assert_eq!(
        eval(
            &mut r,
            "#!lua flags=allow-oom\nreturn redis.call('set','a','b')",
            &[],
            &[]
        ),
        "+OK"
    );
    assert_eq!(eval(&mut r, "return redis.call('get','a')", &[], &[]), "b");
    run(&mut r, &["CONFIG", "SET", "maxmemory", "0"]);
    let info = run(&mut r, &["INFO", "memory"]);
    assert!(info.contains("number_of_cached_scripts:"), "{info}");
    let stats = run(&mut r, &["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_eval:calls="), "{stats}");
}

#[test]
fn redis_crate_script_with_evalsha_fallback() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let script = redis::Script::new("return redis.call('incrby', KEYS[1], ARGV[1])");
    let first: i64 = script.key("counter").arg(5).invoke(&mut c).expect("invoke");
    let second: i64 = script.key("counter").arg(2).invoke(&mut c).expect("invoke");
    assert_eq!((first, second), (5, 7));
}

#[test]
fn watch_is_invalidated_by_a_script_write() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    run(&mut a, &["WATCH", "w"]);
    eval(
        &mut b,
        "return redis.call('set', KEYS[1], 'x')",
        &["w"],
        &[],
    );
    run(&mut a, &["MULTI"]);
    run(&mut a, &["SET", "w", "y"]);
    assert_eq!(run(&mut a, &["EXEC"]), "(nil)");
    // Inside MULTI a script runs with the transaction, and is not wrapped a second time.
    run(&mut a, &["MULTI"]);
    eval(
        &mut a,
        "redis.call('set','m1','1'); return redis.call('set','m2','2')",
        &[],
        &[],
    );
    assert_eq!(run(&mut a, &["EXEC"]), "[+OK]");
    assert_eq!(run(&mut a, &["MGET", "m1", "m2"]), "[1,2]");
}

#[test]
fn a_scripts_writes_survive_a_kill_together() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = s.raw();
    let reply = eval(
        &mut r,
        "for i = 1, 100 do redis.call('rpush', KEYS[1], i) end; local n = redis.call('llen', KEYS[1]); \
         redis.call('select', '1'); redis.call('set', 'other', 'db1'); return n",
        &["list"],
        &[],
    );
    assert_eq!(reply, ":100");
    assert_eq!(
        run(&mut r, &["GET", "other"]),
        "(nil)",
        "SELECT stays in the script"
    );
    let s = s.restart(&["--appendonly", "yes"]);
    common::wait_until(
        "the AOF to load",
        std::time::Duration::from_secs(10),
        || run(&mut s.raw(), &["LLEN", "list"]) == ":100",
    );
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["LLEN", "list"]), ":100");
    run(&mut r, &["SELECT", "1"]);
    assert_eq!(run(&mut r, &["GET", "other"]), "db1");
}

/// Representative scripts (locks, counters, rate limiters, queues, cjson, errors) run on both
/// servers; every reply must be byte for byte the same.
const DIFFERENTIAL: &[(&str, &[&str], &[&str])] = &[
    ("return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])", &["lock"], &["tok1", "30000"]),
    ("return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])", &["lock"], &["tok2", "30000"]),
    ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", &["lock"], &["tok2"]),
    ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", &["lock"], &["tok1"]),
    ("local n = redis.call('incr', KEYS[1]); if n == 1 then redis.call('expire', KEYS[1], 60) end; return n", &["rate"], &[]),
    ("local n = redis.call('incr', KEYS[1]); if n == 1 then redis.call('expire', KEYS[1], 60) end; return n", &["rate"], &[]),
    ("local c = tonumber(redis.call('get', KEYS[1]) or '0'); if c + 1 > tonumber(ARGV[1]) then return 0 end; redis.call('incr', KEYS[1]); return 1", &["lim"], &["2"]),
    ("redis.call('zadd', KEYS[1], 1, 'a', 2, 'b', 3, 'c'); return redis.call('zrangebyscore', KEYS[1], '-inf', '+inf', 'WITHSCORES')", &["z"], &[]),
    ("redis.call('hset', KEYS[1], 'f', 'v', 'g', 'w'); return redis.call('hgetall', KEYS[1])", &["h"], &[]),
    ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", &["h"], &[]),
    ("redis.setresp(3); return redis.call('smembers', KEYS[1])", &["nosuchset"], &[]),
    ("redis.call('lpush', KEYS[1], 'j1', 'j2'); return redis.call('rpoplpush', KEYS[1], KEYS[2])", &["queue", "work"], &[]),
    ("return {redis.call('lrange', KEYS[1], 0, -1), redis.call('llen', KEYS[2])}", &["queue", "work"], &[]),
    ("return cjson.encode({a = 1, list = {1, 2, 3}, s = 'x/y\"z', f = 1.5, n = cjson.null})", &[], &[]),
    ("return cjson.encode(cjson.decode(ARGV[1]))", &[], &["[1,\"two\",{\"three\":3},true,false,null]"]),
    ("local t = cjson.decode(ARGV[1]); return {t.id, t.tags[2], type(t.missing)}", &[], &["{\"id\":7,\"tags\":[\"a\",\"b\"]}"]),
    ("return cjson.encode({})", &[], &[]),
    ("return cjson.decode('x')", &[], &[]),
    ("return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(3, 1), bit.lshift(1, 4), bit.rshift(-1, 28), bit.arshift(-16, 2), bit.tohex(255, 4), bit.tobit(2^32 + 1)}", &[], &[]),
    ("return {math.random(100), math.random(5, 10), math.floor(math.random() * 1000)}", &[], &[]),
    ("return redis.call('incr', KEYS[1])", &["h"], &[]),
    ("return redis.pcall('incr', KEYS[1])", &["h"], &[]),
    ("return redis.call('nosuch')", &[], &[]),
    ("return redis.call('get')", &[], &[]),
    ("return redis.call('set', 'x', {})", &[], &[]),
    ("return redis.error_reply('MYERR custom')", &[], &[]),
    ("return redis.status_reply('DONE')", &[], &[]),
    ("error('boom')", &[], &[]),
    ("error({err = 'CUSTOM table error'})", &[], &[]),
    ("local x = nil; return x.y", &[], &[]),
    ("return undefined_global", &[], &[]),
    ("newglobal = 1", &[], &[]),
    ("return {1, 2, nil, 4}", &[], &[]),
    ("return {1.9, -2.9, 'a', true, false}", &[], &[]),
    ("return redis.call('exists', KEYS[1], KEYS[2])", &["queue", "nokey"], &[]),
    ("return redis.call('type', KEYS[1])", &["z"], &[]),
    ("return tostring(12345678901234567)", &[], &[]),
    ("return redis.sha1hex(ARGV[1])", &[], &["hello"]),
    ("return redis.setresp(9)", &[], &[]),
    ("return #KEYS + #ARGV * 10", &["a", "b"], &["c"]),
    ("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", &["lock"], &[]),
    ("#!lua flags=no-writes\nreturn redis.call('del', KEYS[1])", &["lock"], &[]),
    ("return 'x", &[], &[]),
];

#[test]
fn replies_match_redis_server() {
    let Some(redis) = Redis::start() else { return };
    let ringkv = Server::start(&[]);
    let mut want = Raw::connect(&format!("127.0.0.1:{}", redis.port));
    let mut got = ringkv.raw();
    for protocol in ["2", "3"] {
        for r in [&mut want, &mut got] {
            run(r, &["HELLO", protocol]);
            run(r, &["FLUSHALL"]);
            run(r, &["SCRIPT", "FLUSH"]);
        }
        for (script, keys, args) in DIFFERENTIAL {
            // Random numbers depend on the generator's state, which the first protocol moved on.
            if protocol == "3" && script.contains("math.random") {
                continue;
            }
            let w = eval(&mut want, script, keys, args);
            let g = eval(&mut got, script, keys, args);
            assert_eq!(g, w, "RESP{protocol} script: {script}");
        }
    }
    println!("{} scripts compared with redis-server", DIFFERENTIAL.len());
}

/// The commands of the live AOF incr file, as their names in order.
fn logged_commands(s: &Server) -> Vec<String> {
    let dir = s.dir.path().join("appendonlydir");
    let incr = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file");
    let text = std::fs::read(incr).unwrap();
    let text = String::from_utf8_lossy(&text);
    // RESP multibulk: after each "*N" line comes "$len", then the command name.
    let lines: Vec<&str> = text.split("\r\n").collect();
    lines
        .windows(3)
        .filter(|w| w[0].starts_with('*') && w[1].starts_with('$'))
        .map(|w| w[2].to_ascii_uppercase())
        .collect()
}

#[test]
fn a_scripts_writes_are_logged_as_one_transaction() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = s.raw();
    assert_eq!(
        eval(
            &mut r,
            "redis.call('set', KEYS[1], 'a'); redis.call('incr', KEYS[2]); return 1",
            &["k", "n"],
            &[]
        ),
        ":1"
    );
    // A read-only script logs nothing.
    assert_eq!(
        eval(&mut r, "return redis.call('get', KEYS[1])", &["k"], &[]),
        "a"
    );
    // A script inside EXEC is part of EXEC's transaction: not wrapped a second time.
    assert_eq!(run(&mut r, &["MULTI"]), "+OK");
    assert_eq!(
        eval(&mut r, "return redis.call('incr', KEYS[1])", &["n"], &[]),
        "+QUEUED"
    );
    assert_eq!(run(&mut r, &["EXEC"]), "[:2]");
    let logged: Vec<String> = logged_commands(&s)
        .into_iter()
        .filter(|c| c != "SELECT")
        .collect();
    assert_eq!(
        logged,
        ["MULTI", "SET", "INCR", "EXEC", "MULTI", "INCR", "EXEC"],
        "{logged:?}"
    );
}
