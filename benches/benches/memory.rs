//! Memory per cached entry, beyond the value itself, measured with a counting
//! allocator: fill a cache with 10,000 entries and divide what it holds.
//!
//! `cargo bench -p cleo-benches --bench memory`
#![allow(unsafe_code, clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use cleo_benches::Instant;
use cleo_core::{Client, Config, Registry};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged and only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ENTRIES: usize = 10_000;
const VALUE: usize = 32;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut registry = Registry::new();
    registry.register(Arc::new(Instant::default()));
    let client = Client::new(Config::default(), registry).unwrap();
    // Warm up the runtime, the map's internals and one entry, then measure the rest.
    rt.block_on(client.get("bench://warm/up")).unwrap();
    let keys: Vec<String> = (0..ENTRIES)
        .map(|i| format!("bench://secret/app-{i:05}#token"))
        .collect();
    let key_bytes: usize = keys.iter().map(String::len).sum();
    let before = LIVE.load(Ordering::SeqCst);
    for k in &keys {
        rt.block_on(client.get(k)).unwrap();
    }
    client.cache().unwrap().entry_count();
    let after = LIVE.load(Ordering::SeqCst);
    let per_entry = (after - before) as f64 / ENTRIES as f64;
    let reference_text = key_bytes as f64 / ENTRIES as f64;
    println!(
        "entries: {ENTRIES}, value: {VALUE} bytes, key and reference text: {reference_text:.0} bytes each"
    );
    println!("bytes held per entry:               {per_entry:.0}");
    println!(
        "bytes per entry beyond the value:   {:.0} (target: under 1024)",
        per_entry - VALUE as f64
    );
    assert!(per_entry - (VALUE as f64) < 1024.0, "over the 1 KiB target");
}
