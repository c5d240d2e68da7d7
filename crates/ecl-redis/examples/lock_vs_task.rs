//! Micro-benchmark behind the engine's concurrency model (see `engine.rs`): 50 client tasks
//! run batches of SET-like operations against one node's state either (a) under a
//! `std::sync::Mutex` taken once per batch, or (b) by sending the batch to a per-node actor task
//! over a channel and awaiting a oneshot reply. Run with
//! `cargo run --release -p ecl-redis --example lock_vs_task`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

const CLIENTS: usize = 50;
const OPS_PER_CLIENT: usize = 40_000;

type Batch = (Vec<(u64, u64)>, oneshot::Sender<u64>);

fn apply(map: &mut HashMap<u64, u64>, batch: &[(u64, u64)]) -> u64 {
    let mut acc = 0;
    for &(k, v) in batch {
        map.insert(k, v);
        acc += map.get(&(k ^ 1)).copied().unwrap_or(0);
    }
    acc
}

async fn with_lock(batch_size: usize) -> f64 {
    let state = Arc::new(Mutex::new(HashMap::new()));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            while sent < OPS_PER_CLIENT {
                let batch: Vec<(u64, u64)> = (0..batch_size)
                    .map(|i| ((c * 1000 + i) as u64 % 997, i as u64))
                    .collect();
                {
                    let mut g = state.lock().unwrap_or_else(|p| p.into_inner());
                    std::hint::black_box(apply(&mut g, &batch));
                }
                sent += batch_size;
                tokio::task::yield_now().await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (CLIENTS * OPS_PER_CLIENT) as f64 / t.elapsed().as_secs_f64()
}

async fn with_actor(batch_size: usize) -> f64 {
    let (tx, mut rx) = mpsc::channel::<Batch>(1024);
    let actor = tokio::spawn(async move {
        let mut map = HashMap::new();
        while let Some((batch, reply)) = rx.recv().await {
            let _ = reply.send(apply(&mut map, &batch));
        }
    });
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            while sent < OPS_PER_CLIENT {
                let batch: Vec<(u64, u64)> = (0..batch_size)
                    .map(|i| ((c * 1000 + i) as u64 % 997, i as u64))
                    .collect();
                let (rtx, rrx) = oneshot::channel();
                if tx.send((batch, rtx)).await.is_err() {
                    return;
                }
                std::hint::black_box(rrx.await.unwrap_or(0));
                sent += batch_size;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let rate = (CLIENTS * OPS_PER_CLIENT) as f64 / t.elapsed().as_secs_f64();
    drop(tx);
    let _ = actor.await;
    rate
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    rt.block_on(async {
        for batch in [1usize, 16] {
            let lock = with_lock(batch).await;
            let actor = with_actor(batch).await;
            eprintln!("batch {batch:>2}: lock {lock:>12.0} ops/s   actor {actor:>12.0} ops/s   lock/actor {:.2}", lock / actor);
        }
    });
}
