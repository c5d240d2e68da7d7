//! BGSAVE under load, for `bench/bgsave.sh`: loads N keys into a RESP server, measures GET
//! latency with concurrent clients for a while (the baseline), then runs BGSAVE and measures
//! the same GETs until the save has finished; prints time to finish and p50/p99/max latency.
//! Works against any server (ours, redis-server), plain `std` sockets.
//!
//! `cargo run --release -p ecl-redis --example bgsave_latency -- PORT [KEYS] [CLIENTS] [SAVE]`
//! (`SAVE` as the fourth argument measures the synchronous SAVE instead: what BGSAVE was
//! before snapshots stopped stalling the node).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a);
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// Reads one reply (status, error, integer or bulk), returned as text.
fn reply(r: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end().to_string();
    if let Some(n) = line.strip_prefix('$') {
        let n: i64 = n.parse().unwrap_or(-1);
        if n < 0 {
            return Ok(String::new());
        }
        let mut buf = vec![0u8; n as usize + 2];
        r.read_exact(&mut buf)?;
        buf.truncate(n as usize);
        return Ok(String::from_utf8_lossy(&buf).into_owned());
    }
    Ok(line)
}

fn connect(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).ok();
    let r = BufReader::new(s.try_clone().expect("clone"));
    (s, r)
}

fn call(s: &mut TcpStream, r: &mut BufReader<TcpStream>, args: &[&[u8]]) -> String {
    s.write_all(&command(args)).expect("write");
    reply(r).expect("reply")
}

fn load(port: u16, keys: usize) {
    let (mut s, mut r) = connect(port);
    call(&mut s, &mut r, &[b"FLUSHALL"]);
    for start in (0..keys).step_by(1000) {
        let mut batch = Vec::new();
        let end = (start + 1000).min(keys);
        for i in start..end {
            let k = format!("key:{i:010}");
            let v = format!("value-{i:016}");
            batch.extend_from_slice(&command(&[b"SET", k.as_bytes(), v.as_bytes()]));
        }
        s.write_all(&batch).expect("write");
        for _ in start..end {
            reply(&mut r).expect("reply");
        }
    }
}

/// GET latencies (when sent, µs) from `clients` closed-loop clients until `stop` is set.
fn measure(port: u16, keys: usize, clients: usize, stop: Arc<AtomicBool>) -> Vec<(Instant, u64)> {
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut s, mut r) = connect(port);
                let mut lat = Vec::new();
                let mut x = 0x9E37_79B9u64 + c as u64;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = format!("key:{:010}", x % keys as u64);
                    let t = Instant::now();
                    call(&mut s, &mut r, &[b"GET", k.as_bytes()]);
                    lat.push((t, t.elapsed().as_micros() as u64));
                }
                lat
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect()
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i] as f64 / 1000.0
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn summary(what: &str, lat: &mut [u64]) {
    println!(
        "{what}: {} GETs, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        lat.len(),
        pct(lat, 0.50),
        pct(lat, 0.99),
        pct(lat, 1.0)
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).expect("PORT");
    let keys: usize = args
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1_000_000);
    let clients: usize = args.next().and_then(|p| p.parse().ok()).unwrap_or(4);
    let verb = args.next().unwrap_or_else(|| "BGSAVE".into());
    let t = Instant::now();
    load(port, keys);
    println!("loaded {keys} keys in {:.2} s", t.elapsed().as_secs_f64());
    let stop = Arc::new(AtomicBool::new(false));
    let base = {
        let stop = stop.clone();
        std::thread::spawn(move || measure(port, keys, clients, stop))
    };
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let mut lat: Vec<u64> = base
        .join()
        .unwrap_or_default()
        .iter()
        .map(|x| x.1)
        .collect();
    summary("baseline (no save)", &mut lat);

    let stop = Arc::new(AtomicBool::new(false));
    let during = {
        let stop = stop.clone();
        std::thread::spawn(move || measure(port, keys, clients, stop))
    };
    std::thread::sleep(Duration::from_millis(200));
    let (mut s, mut r) = connect(port);
    let saves_before = field(
        &call(&mut s, &mut r, &[b"INFO", b"persistence"]),
        "rdb_saves",
    );
    let t = Instant::now();
    let status = call(&mut s, &mut r, &[verb.as_bytes()]);
    loop {
        let info = call(&mut s, &mut r, &[b"INFO", b"persistence"]);
        if field(&info, "rdb_bgsave_in_progress") == "0"
            && field(&info, "rdb_saves") != saves_before
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    println!("{verb} ({status}) finished in {:.3} s", took.as_secs_f64());
    // Only the GETs sent while the save ran.
    let mut lat: Vec<u64> = during
        .join()
        .unwrap_or_default()
        .iter()
        .filter(|(at, _)| *at >= t && *at <= t + took)
        .map(|x| x.1)
        .collect();
    summary(&format!("during {verb}"), &mut lat);
}
