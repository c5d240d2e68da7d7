//! Latency figures on the wire: `latency-tracking` (INFO latencystats, LATENCY HISTOGRAM,
//! `latency-tracking-info-percentiles`) and the latency monitor's history, compared with
//! Debian's redis-server 7.0.15 where the reply does not depend on how long commands took.

mod common;
use common::{Raw, ReferenceRedis, start_with};

/// The labels LATENCY HISTOGRAM may give a bucket (µs): the edges of Redis's histogram at
/// 1,024 ns and each power of two above, up to 1 s.
const LADDER: &[u64] = &[
    1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816, 67633, 135266,
    270532, 541065, 1073741,
];

/// The `name:value` lines of an INFO reply's body.
fn info_lines(reply: &str) -> Vec<String> {
    reply
        .lines()
        .filter(|l| l.contains(':') && !l.starts_with('#') && !l.starts_with('$'))
        .map(str::to_string)
        .collect()
}

/// The integers of a RESP2 reply, in order (LATENCY HISTOGRAM: calls, then label/count pairs).
fn integers(reply: &str) -> Vec<u64> {
    reply
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The same commands on a server; returns (INFO latencystats lines, LATENCY HISTOGRAM get set).
async fn run_some_commands(c: &mut Raw) -> (Vec<String>, String) {
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]).await, "+OK\r\n");
    c.cmd(&["SET", "a", "1"]).await;
    c.cmd(&["GET", "a"]).await;
    c.cmd(&["GET", "a"]).await;
    c.cmd(&["CONFIG", "GET", "maxmemory"]).await;
    c.cmd(&["GET"]).await; // rejected (arity): not a call, not timed
    let mut lines = info_lines(&c.cmd(&["INFO", "latencystats"]).await);
    lines.sort();
    let hist = c
        .cmd(&["LATENCY", "HISTOGRAM", "get", "nosuch", "CONFIG"])
        .await;
    (lines, hist)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_tracking_reports_what_redis_server_reports() {
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut ours = Raw::connect(&node).await;
    let (lines, hist) = run_some_commands(&mut ours).await;
    let names: Vec<&str> = lines.iter().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(
        names,
        [
            "latency_percentiles_usec_config|get",
            "latency_percentiles_usec_config|resetstat",
            "latency_percentiles_usec_get",
            "latency_percentiles_usec_set",
        ]
    );
    for l in &lines {
        let figures = l.split_once(':').map(|x| x.1).unwrap_or_default();
        let labels: Vec<&str> = figures
            .split(',')
            .filter_map(|f| f.split('=').next())
            .collect();
        assert_eq!(labels, ["p50", "p99", "p99.9"], "{l}");
    }
    // GET ran twice: two calls, the cumulative count ends at 2, labels on Redis's ladder.
    assert!(
        hist.starts_with("*6\r\n$3\r\nget\r\n*4\r\n$5\r\ncalls\r\n:2\r\n"),
        "{hist}"
    );
    assert!(hist.contains("$10\r\nconfig|get\r\n") && hist.contains("config|resetstat"));
    let figures = integers(&hist);
    assert_eq!(figures.first(), Some(&2));
    // GET's histogram: `histogram_usec` then (RESP2) an array of 2 x N integers (bucket, cumulative
    // count). Its first bucket may be 1 µs, so the points are counted from the array's header.
    let map_len: usize = hist
        .split_once("histogram_usec\r\n")
        .and_then(|(_, rest)| rest.strip_prefix('*'))
        .and_then(|rest| rest.split_once("\r\n"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0);
    let get_points = &figures[1..1 + map_len.min(figures.len() - 1)];
    assert!(!get_points.is_empty(), "{hist}");
    for pair in get_points.chunks(2) {
        assert!(LADDER.contains(&pair[0]), "label {} in {hist}", pair[0]);
    }
    assert_eq!(get_points.last(), Some(&2), "{hist}");
    if let Some(real) = ReferenceRedis::start(&[]) {
        let mut theirs = real.connect().await;
        let (their_lines, their_hist) = run_some_commands(&mut theirs).await;
        let their_names: Vec<&str> = their_lines
            .iter()
            .filter_map(|l| l.split(':').next())
            .collect();
        assert_eq!(names, their_names);
        assert!(their_hist.starts_with("*6\r\n$3\r\nget\r\n*4\r\n$5\r\ncalls\r\n:2\r\n"));
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentile_settings_are_checked_and_shown_as_redis_server_does() {
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut ours = Raw::connect(&node).await;
    let values = [
        "1e1 0x10 .5",
        "33.3333333333 0.0000001 99.12345678 50.0",
        "101",
        "-1",
        "abc",
        "50 nan",
        " 50   99 ",
        "inf",
        "1e400",
        "",
        "50 99 99.9",
    ];
    let mut replies = Vec::new();
    for v in values {
        let set = ours
            .cmd(&["CONFIG", "SET", "latency-tracking-info-percentiles", v])
            .await;
        let get = ours
            .cmd(&["CONFIG", "GET", "latency-tracking-info-percentiles"])
            .await;
        replies.push((v, set, get));
    }
    assert!(
        replies[0].2.ends_with("$9\r\n10 16 0.5\r\n"),
        "{:?}",
        replies[0]
    );
    assert!(
        replies[2].1.contains("should sit between [0.0,100.0]"),
        "{:?}",
        replies[2]
    );
    assert!(
        replies[4]
            .1
            .contains("Invalid latency-tracking-info-percentiles")
    );
    // INFO computes with the value as given: 0.0000001 is past the lowest run, not at it.
    ours.cmd(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "0 0.0000001",
    ])
    .await;
    for _ in 0..50 {
        ours.cmd(&["PING"]).await;
    }
    let info = ours.cmd(&["INFO", "latencystats"]).await;
    let ping = info
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_ping:"));
    let ping = ping.unwrap_or_else(|| panic!("{info}"));
    assert!(ping.contains(":p0=") && ping.contains(",p0="), "{ping}");
    if let Some(real) = ReferenceRedis::start(&[]) {
        let mut theirs = real.connect().await;
        for (v, set, get) in &replies {
            let their_set = theirs
                .cmd(&["CONFIG", "SET", "latency-tracking-info-percentiles", v])
                .await;
            let their_get = theirs
                .cmd(&["CONFIG", "GET", "latency-tracking-info-percentiles"])
                .await;
            assert_eq!((set, get), (&their_set, &their_get), "value {v:?}");
        }
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_off_records_nothing_and_resetstat_forgets() {
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut c = Raw::connect(&node).await;
    c.cmd(&["SET", "k", "v"]).await;
    c.cmd(&["CONFIG", "SET", "latency-tracking", "no"]).await;
    c.cmd(&["SET", "k", "v"]).await;
    // Off: INFO prints the header only; the histogram keeps what it had (one SET).
    assert_eq!(
        c.cmd(&["INFO", "latencystats"]).await,
        "$16\r\n# Latencystats\r\n\r\n"
    );
    assert_eq!(
        integers(&c.cmd(&["LATENCY", "HISTOGRAM", "set"]).await)[0],
        1
    );
    c.cmd(&["CONFIG", "SET", "latency-tracking", "yes"]).await;
    c.cmd(&["CONFIG", "RESETSTAT"]).await;
    let after = c
        .cmd(&["LATENCY", "HISTOGRAM", "set", "config|resetstat"])
        .await;
    assert!(
        after.starts_with("*2\r\n$16\r\nconfig|resetstat\r\n"),
        "{after}"
    );
    // RESP3: maps.
    c.cmd(&["HELLO", "3"]).await;
    let r3 = c.cmd(&["LATENCY", "HISTOGRAM", "nosuch"]).await;
    assert_eq!(r3, "%0\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_history_keeps_one_sample_per_second() {
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut c = Raw::connect(&node).await;
    c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"])
        .await;
    c.cmd(&["DEBUG", "SLEEP", "0.003"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    c.cmd(&["DEBUG", "SLEEP", "0.002"]).await;
    let history = c.cmd(&["LATENCY", "HISTORY", "command"]).await;
    assert!(history.starts_with("*2\r\n*2\r\n:"), "{history}");
    let figures = integers(&history);
    assert!(
        figures[1] >= 3 && figures[3] >= 2 && figures[2] > figures[0],
        "{history}"
    );
    let latest = c.cmd(&["LATENCY", "LATEST"]).await;
    let latest = integers(&latest);
    assert_eq!((latest[0], latest[1]), (figures[2], figures[3]));
    assert!(latest[2] >= figures[1], "the largest ever: {latest:?}");
    node.shutdown().await;
}

/// Blocking commands on one server: (commandstats line of BLPOP, LATENCY HISTOGRAM calls of
/// BLPOP, DEBUG SLEEP's commandstats usec and histogram labels, whether the slow log has it).
async fn blocking_figures(first: &mut Raw, second: &mut Raw) -> (String, u64, u64, Vec<u64>, bool) {
    first.cmd(&["CONFIG", "RESETSTAT"]).await;
    first.cmd(&["SLOWLOG", "RESET"]).await;
    // One BLPOP times out, one is served by a push from the other connection.
    assert_eq!(first.cmd(&["BLPOP", "q", "0.1"]).await, "*-1\r\n");
    first.send(&["BLPOP", "q2", "2"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    second.cmd(&["RPUSH", "q2", "x"]).await;
    assert_eq!(first.read().await, "*2\r\n$2\r\nq2\r\n$1\r\nx\r\n");
    let stats = first.cmd(&["INFO", "commandstats"]).await;
    let blpop = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_blpop:"))
        .unwrap_or_default();
    let blpop = blpop.split(",usec=").next().unwrap_or_default().to_string();
    let hist_calls = integers(&first.cmd(&["LATENCY", "HISTOGRAM", "blpop"]).await)[0];
    // DEBUG SLEEP holds the server 20 ms: that is its run time everywhere.
    assert_eq!(first.cmd(&["DEBUG", "SLEEP", "0.02"]).await, "+OK\r\n");
    let stats = first.cmd(&["INFO", "commandstats"]).await;
    let debug = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_debug:"))
        .unwrap_or_default();
    let usec = debug
        .split(",usec=")
        .nth(1)
        .and_then(|r| r.split(',').next());
    let usec = usec.and_then(|u| u.parse().ok()).unwrap_or(0);
    let labels = integers(&first.cmd(&["LATENCY", "HISTOGRAM", "debug"]).await);
    let slow = first
        .cmd(&["SLOWLOG", "GET"])
        .await
        .contains("$5\r\nDEBUG\r\n");
    (blpop, hist_calls, usec, labels, slow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_commands_and_debug_sleep_count_as_in_redis_server() {
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let (mut a, mut b) = (Raw::connect(&node).await, Raw::connect(&node).await);
    let (blpop, hist_calls, usec, labels, slow) = blocking_figures(&mut a, &mut b).await;
    // Two BLPOPs are two calls; only the served one has a run time in the histogram.
    assert_eq!((blpop.as_str(), hist_calls), ("cmdstat_blpop:calls=2", 1));
    // At least the sleep (a loaded machine may wake it late).
    assert!(
        (20_000..2_000_000).contains(&usec),
        "DEBUG SLEEP usec {usec}"
    );
    assert_eq!(labels[0], 1, "one DEBUG call: {labels:?}");
    assert!(
        labels[1] >= 33_816 && LADDER.contains(&labels[1]),
        "{labels:?}"
    );
    assert!(slow, "DEBUG SLEEP 0.02 is in the slow log");
    if let Some(real) = ReferenceRedis::start(&["--enable-debug-command", "yes"]) {
        let (mut a, mut b) = (real.connect().await, real.connect().await);
        let theirs = blocking_figures(&mut a, &mut b).await;
        assert_eq!((theirs.0.as_str(), theirs.1), ("cmdstat_blpop:calls=2", 1));
        assert!(theirs.2 >= 20_000 && theirs.4, "{theirs:?}");
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_graph_charts_the_samples() {
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut c = Raw::connect(&node).await;
    assert_eq!(
        c.cmd(&["LATENCY", "GRAPH", "command"]).await,
        "-ERR No samples available for event 'command'\r\n"
    );
    c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"])
        .await;
    c.cmd(&["DEBUG", "SLEEP", "0.004"]).await;
    let chart = c.cmd(&["LATENCY", "GRAPH", "command"]).await;
    let body = format!("{}\n \n \n \n_\n \n0\ns\n\r\n", "-".repeat(80));
    assert!(
        chart.starts_with("$") && chart.contains("command - high "),
        "{chart}"
    );
    assert!(chart.ends_with(&body), "{chart:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_fast_commands_are_their_own_latency_event() {
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut c = Raw::connect(&node).await;
    c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"])
        .await;
    // A GET (flagged fast) of a 64 MiB value takes milliseconds to copy into the reply.
    let big = vec![b'a'; 64 << 20];
    c.cmd_bytes(&[b"SET", b"big", &big]).await;
    let mut slow_get = false;
    for _ in 0..5 {
        let reply = c.cmd_bytes(&[b"GET", b"big"]).await;
        assert_eq!(reply.len(), (64 << 20) + 13);
        let latest = c.cmd(&["LATENCY", "LATEST"]).await;
        if latest.contains("$12\r\nfast-command\r\n") {
            slow_get = true;
            break;
        }
    }
    assert!(slow_get, "a GET past the threshold is a fast-command event");
    c.cmd(&["DEBUG", "SLEEP", "0.003"]).await;
    let latest = c.cmd(&["LATENCY", "LATEST"]).await;
    assert!(latest.contains("$7\r\ncommand\r\n"), "{latest}");
    node.shutdown().await;
}

/// The slow log's commands, newest first, without ids, times and durations.
fn slowlog_commands(reply: &str) -> Vec<String> {
    // After the outer array's header, each entry: `*6`, id, time, duration, the argument
    // array (whose bulk strings are the arguments), address and name.
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n").skip(1);
    while let Some(l) = lines.next() {
        if l == "*6" {
            let mut header = lines.by_ref().skip(3);
            let argc: usize = header.next().and_then(|n| n[1..].parse().ok()).unwrap_or(0);
            let args: Vec<&str> = lines.by_ref().take(2 * argc).skip(1).step_by(2).collect();
            out.push(args.join(" "));
        }
    }
    out
}

/// A blocking command goes into the slow log when it is served, after the command that
/// served it (an EXEC's), and never when it blocks or times out, as on redis-server 7.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_command_is_slow_logged_when_served() {
    let transcript = |mut c: Raw, mut w: Raw| async move {
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])
            .await;
        w.send(&["BLPOP", "l", "0"]).await;
        for _ in 0..200 {
            let info = c.cmd(&["INFO", "clients"]).await;
            if info.contains("blocked_clients:1") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut log = Vec::new();
        for cmd in [
            vec!["MULTI"],
            vec!["LPUSH", "l", "foo"],
            vec!["SLOWLOG", "RESET"],
            vec!["EXEC"],
        ] {
            log.push(c.cmd(&cmd).await);
        }
        log.push(common::step_read(&mut w).await);
        log.push(w.cmd(&["BLPOP", "nothere", "0.05"]).await);
        log.push(slowlog_commands(&c.cmd(&["SLOWLOG", "GET"]).await).join(" | "));
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps("slow log of a blocking command", &ours, &theirs);
    assert_eq!(theirs[6], "BLPOP l 0 | SLOWLOG RESET");
}
