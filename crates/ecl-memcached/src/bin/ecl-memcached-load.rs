//! Load generator for the memcached benchmark (`bench/memcached/run.sh`): drives any
//! memcached-compatible server over the text protocol from a separate process.
//!
//! Modes:
//! - `fill --addr A --items N --value-size B`: stores N items (pipelined), for memory
//!   measurements.
//! - `mix --addr A --conns C --ops N --get-ratio R --keys K --value-size B`: C connections,
//!   each performing N requests, a fixed pseudo-random get/set mix over K keys; prints
//!   `ops_per_sec <n>`.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Args {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    ops: usize,
    items: usize,
    keys: usize,
    get_ratio: f64,
    value_size: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: ecl-memcached-load fill|mix --addr IP:PORT [--items N] [--conns C] [--ops N] [--keys K] [--get-ratio R] [--value-size B]"
    );
    std::process::exit(2)
}

fn parse() -> Args {
    let mut a = Args {
        mode: String::new(),
        addr: SocketAddr::from(([127, 0, 0, 1], 11211)),
        conns: 50,
        ops: 20_000,
        items: 100_000,
        keys: 10_000,
        get_ratio: 0.9,
        value_size: 100,
    };
    let mut it = std::env::args().skip(1);
    a.mode = it.next().unwrap_or_else(|| usage());
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--addr" => a.addr = v.parse().unwrap_or_else(|_| usage()),
            "--conns" => a.conns = v.parse().unwrap_or_else(|_| usage()),
            "--ops" => a.ops = v.parse().unwrap_or_else(|_| usage()),
            "--items" => a.items = v.parse().unwrap_or_else(|_| usage()),
            "--keys" => a.keys = v.parse().unwrap_or_else(|_| usage()),
            "--get-ratio" => a.get_ratio = v.parse().unwrap_or_else(|_| usage()),
            "--value-size" => a.value_size = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    a
}

/// xorshift64*: a fixed, seedable sequence so every run issues the same requests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn fill(a: &Args) -> Res<()> {
    let mut s = BufReader::new(TcpStream::connect(a.addr).await?);
    let value = vec![b'v'; a.value_size];
    let mut line = String::new();
    for chunk in (0..a.items).collect::<Vec<_>>().chunks(100) {
        let mut req = Vec::new();
        for i in chunk {
            req.extend_from_slice(format!("set key:{i:08} 0 0 {}\r\n", a.value_size).as_bytes());
            req.extend_from_slice(&value);
            req.extend_from_slice(b"\r\n");
        }
        s.get_mut().write_all(&req).await?;
        for _ in chunk {
            line.clear();
            s.read_line(&mut line).await?;
            if line != "STORED\r\n" {
                return Err(format!("unexpected reply {line:?}").into());
            }
        }
    }
    Ok(())
}

async fn worker(a: &Args, seed: u64) -> Res<()> {
    let mut s = BufReader::new(TcpStream::connect(a.addr).await?);
    s.get_ref().set_nodelay(true)?;
    let mut rng = Rng(seed | 1);
    let value = vec![b'v'; a.value_size];
    let threshold = (a.get_ratio * u32::MAX as f64) as u64;
    let mut line = String::new();
    let mut req = Vec::with_capacity(256);
    let mut sink = vec![0u8; a.value_size + 2];
    for _ in 0..a.ops {
        let r = rng.next();
        let key = (r >> 32) as usize % a.keys;
        req.clear();
        let get = (r & 0xffff_ffff) < threshold;
        if get {
            req.extend_from_slice(format!("get key:{key:08}\r\n").as_bytes());
        } else {
            req.extend_from_slice(format!("set key:{key:08} 0 0 {}\r\n", a.value_size).as_bytes());
            req.extend_from_slice(&value);
            req.extend_from_slice(b"\r\n");
        }
        s.get_mut().write_all(&req).await?;
        line.clear();
        s.read_line(&mut line).await?;
        if get && line.starts_with("VALUE") {
            s.read_exact(&mut sink).await?;
            line.clear();
            s.read_line(&mut line).await?;
        }
        if line != "END\r\n" && line != "STORED\r\n" {
            return Err(format!("unexpected reply {line:?}").into());
        }
    }
    Ok(())
}

fn main() {
    let a = parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let Ok(rt) = rt else { std::process::exit(1) };
    let result: Res<()> = rt.block_on(async {
        match a.mode.as_str() {
            "fill" => fill(&a).await,
            "mix" => {
                let a = std::sync::Arc::new(a);
                let start = Instant::now();
                let mut tasks = Vec::new();
                for c in 0..a.conns {
                    let a = a.clone();
                    tasks.push(tokio::spawn(async move {
                        worker(&a, 0x9E37_79B9_7F4A_7C15 ^ c as u64).await
                    }));
                }
                for t in tasks {
                    t.await??;
                }
                let secs = start.elapsed().as_secs_f64();
                println!("ops_per_sec {:.0}", (a.conns * a.ops) as f64 / secs);
                Ok(())
            }
            _ => usage(),
        }
    });
    if let Err(e) = result {
        eprintln!("load failed: {e}");
        std::process::exit(1);
    }
}
