//! Memory benchmarks (BENCHMARKS.md "Agent memory"):
//! 1. embedding throughput of the built-in all-MiniLM-L6-v2 (sentences/s);
//! 2. hybrid search p50/p99 over 100,000 memories. The corpus is synthetic: texts of 12 words
//!    from a 20,000-word vocabulary with Zipf frequencies, and random unit vectors imported
//!    directly (embedding 100k texts would take the bench many minutes); the queries (4 words)
//!    are embedded for real and the embedding time is included in each search;
//! 3. the index size on disk.
//!
//!   FLIGHTDECK_MODEL_DIR=... cargo bench -p flightdeck-core --bench memory
//!   (FLIGHTDECK_BENCH_MEMORIES=N changes the corpus size)

use std::time::Instant;

use flightdeck_core::memory::{self, Embedder, MiniLm};
use flightdeck_core::Store;
use flightdeck_types::{MemoryFilter, NewMemory};
use rand::{Rng, SeedableRng};

/// Distinct words in the synthetic corpus, drawn by rank with Zipf's law (exponent 1), as
/// words are in real text: a few very common, most rare. (A tiny vocabulary would make every
/// query match nearly every memory, which no real corpus does.)
const VOCABULARY: usize = 20_000;

/// Word `rank` of the vocabulary: letters only, at least 3 of them, never a stop word.
fn word(rank: usize) -> String {
    let mut n = rank;
    let mut w = String::from("q");
    loop {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 && w.len() >= 3 {
            return w;
        }
    }
}

/// Samples word ranks with P(rank r) proportional to 1 / (r + 1).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (0..n)
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }

    fn text(&self, rng: &mut impl Rng, words: usize) -> String {
        (0..words)
            .map(|_| word(self.sample(rng)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let model =
        MiniLm::load_default().expect("set FLIGHTDECK_MODEL_DIR to the all-MiniLM-L6-v2 dir");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let zipf = Zipf::new(VOCABULARY);
    let sentence = |rng: &mut rand::rngs::StdRng| zipf.text(rng, 12);

    // 1. Throughput.
    let texts: Vec<String> = (0..512).map(|_| sentence(&mut rng)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    model.embed(&refs[..32]).unwrap(); // warm-up
    let t = Instant::now();
    model.embed(&refs).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "embedding: {} sentences (12 words) in {secs:.2} s = {:.0} sentences/s",
        refs.len(),
        refs.len() as f64 / secs
    );

    // 2. Search over N memories.
    let n: usize = std::env::var("FLIGHTDECK_BENCH_MEMORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let store = Store::open(&path).unwrap();
    memory::ensure_model(&store, &model).unwrap();
    let t = Instant::now();
    for chunk in 0..n.div_ceil(5_000) {
        let items: Vec<(NewMemory, Vec<f32>)> = (0..5_000.min(n - chunk * 5_000))
            .map(|_| {
                let mut v: Vec<f32> = (0..384).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                (
                    NewMemory {
                        content: sentence(&mut rng),
                        ..Default::default()
                    },
                    v,
                )
            })
            .collect();
        memory::import_with_vectors(&store, &items).unwrap();
    }
    println!(
        "imported {n} memories with vectors in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let queries: Vec<String> = (0..100).map(|_| zipf.text(&mut rng, 4)).collect();
    let mut times = Vec::new();
    let mut embed_times = Vec::new();
    for q in &queries {
        let t = Instant::now();
        model.embed(&[q]).unwrap();
        embed_times.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let found = memory::search(&store, Some(&model), q, &MemoryFilter::default(), 10).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(!found.hits.is_empty());
    }
    times.sort_by(f64::total_cmp);
    embed_times.sort_by(f64::total_cmp);
    println!(
        "search over {n}: p50 {:.1} ms, p99 {:.1} ms (query embedding alone: p50 {:.1} ms)",
        pct(&times, 0.5),
        pct(&times, 0.99),
        pct(&embed_times, 0.5)
    );

    // 3. Size on disk.
    drop(store);
    let db = std::fs::metadata(&path).unwrap().len();
    let wal = std::fs::metadata(dir.path().join("bench.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "database with {n} memories and their indexes: {:.1} MB (+ WAL {:.1} MB)",
        db as f64 / 1e6,
        wal as f64 / 1e6
    );
}
