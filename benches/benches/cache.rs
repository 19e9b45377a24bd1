//! The cache: hits from one and from several threads, and 1,000 concurrent cold
//! reads of one key.
//!
//! `cargo bench -p cleo-benches --bench cache`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use cleo_benches::Instant;
use cleo_core::{Client, Config, Registry, SecretSource};
use cleo_testkit::conformance::Probe;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;

const KEY: &str = "bench://secret/mlflow#api_token";

const KEYS: [&str; 4] = [
    "bench://secret/a#token",
    "bench://secret/b#token",
    "bench://secret/c#token",
    "bench://secret/d#token",
];

fn warm_client() -> Client {
    let mut registry = Registry::new();
    registry.register(Arc::new(Instant::default()));
    let client = Client::new(Config::default(), registry).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for k in std::iter::once(KEY).chain(KEYS) {
        rt.block_on(client.get(k)).unwrap();
    }
    client
}

/// Runs `iters` reads on each of `threads` threads at once; returns the wall time.
fn on_threads(client: &Client, threads: usize, iters: u64, same_key: bool) -> Duration {
    let barrier = Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let client = client.clone();
            let barrier = Arc::clone(&barrier);
            let key = if same_key { KEY } else { KEYS[t % KEYS.len()] };
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    black_box(client.get_cached(black_box(key)).unwrap());
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Clock::now();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn hits(c: &mut Criterion) {
    let client = warm_client();
    c.bench_function("cache hit, get_cached (sync), 1 thread", |b| {
        b.iter(|| black_box(client.get_cached(black_box(KEY)).unwrap()))
    });
    c.bench_function("cache hit, get().await, 1 thread", |b| {
        b.iter(|| black_box(client.get(black_box(KEY)).now_or_never().unwrap().unwrap()))
    });
    // One iteration = one read on each of N threads at once. Perfect scaling keeps the
    // time per iteration equal to the single-thread figure (up to the core count).
    for threads in [2usize, 4] {
        for (same, label) in [(true, "same key"), (false, "a key per thread")] {
            c.bench_function(
                &format!("cache hit, get_cached, {threads} threads at once, {label}"),
                |b| b.iter_custom(|iters| on_threads(&client, threads, iters, same)),
            );
        }
    }
}

fn cold_stampede(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("1000 concurrent cold reads of one key");
    group.sample_size(20);
    group.bench_function("time to serve all (backend takes 1 ms)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let probe = Probe::new(Arc::new(Instant::default()), Duration::from_millis(1), 0);
                let mut registry = Registry::new();
                registry.register(Arc::clone(&probe) as Arc<dyn SecretSource>);
                let client = Client::new(Config::default(), registry).unwrap();
                let start = Clock::now();
                rt.block_on(async {
                    let tasks: Vec<_> = (0..1000)
                        .map(|_| {
                            let client = client.clone();
                            tokio::spawn(async move { client.get(KEY).await.map(|s| s.len()) })
                        })
                        .collect();
                    for t in tasks {
                        assert_eq!(t.await.unwrap().unwrap(), 32);
                    }
                });
                total += start.elapsed();
                assert_eq!(
                    probe.calls(),
                    1,
                    "1000 concurrent cold reads must make one backend request"
                );
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, hits, cold_stampede);
criterion_main!(benches);
