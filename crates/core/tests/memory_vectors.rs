//! Vector search over a few thousand memories returns the exact nearest neighbours by cosine,
//! in order, with their exact distances (a guard for any faster, approximate index).

mod common;

use common::temp_store;
use flightdeck_core::memory::{self, Embedder};
use flightdeck_core::Result;
use flightdeck_types::{MemoryFilter, NewMemory};
use rand::{Rng, SeedableRng};

const DIM: usize = 384;
const CORPUS: usize = 3_000;

/// Texts stand for vectors: "v<n>" is the n-th pseudo-random vector of a fixed seed.
struct Seeded;

fn vector(n: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(n);
    (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

impl Embedder for Seeded {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| vector(t.trim_start_matches('v').parse().unwrap()))
            .collect())
    }
    fn name(&self) -> &str {
        "seeded-random"
    }
    fn dimension(&self) -> usize {
        DIM
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Imports memories "v<n>" for `range` with their seeded vectors; returns what it imported.
fn import(
    store: &flightdeck_core::Store,
    range: std::ops::Range<u64>,
) -> Vec<(NewMemory, Vec<f32>)> {
    let items: Vec<(NewMemory, Vec<f32>)> = range
        .map(|n| {
            let input = NewMemory {
                content: format!("v{n}"),
                ..Default::default()
            };
            (input, vector(n))
        })
        .collect();
    memory::import_with_vectors(store, &items).unwrap();
    items
}

#[test]
fn the_nearest_found_are_the_exact_nearest() {
    let (_dir, store) = temp_store();
    memory::ensure_model(&store, &Seeded).unwrap();
    let items = import(&store, 0..CORPUS as u64);

    let (mut found_total, mut first_right) = (0u64, 0u64);
    let queries: u64 = 20;
    for q in 0..queries {
        let query = vector(1_000_000 + q);
        let mut exact: Vec<(f64, String)> = items
            .iter()
            .map(|(m, v)| (cosine(&query, v), m.content.clone()))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let want: Vec<&str> = exact[..10].iter().map(|(_, c)| c.as_str()).collect();

        let text = format!("v{}", 1_000_000 + q);
        // Floor 0: random vectors are all far apart; this is about finding the nearest.
        let hits = memory::search_with_floor(
            &store,
            Some(&Seeded),
            &text,
            &MemoryFilter::default(),
            10,
            0.0,
        )
        .unwrap()
        .hits;
        let got: Vec<&str> = hits.iter().map(|h| h.memory.content.as_str()).collect();
        assert_eq!(got.len(), 10);
        // The distance reported is the exact cosine distance, in order.
        for h in &hits {
            let v = &items[h.memory.content[1..].parse::<usize>().unwrap()].1;
            let d = h.vector_distance.expect("found by vector");
            assert!((d - (1.0 - cosine(&query, v))).abs() < 1e-4, "{d}");
        }
        assert!(hits
            .windows(2)
            .all(|w| w[0].vector_distance <= w[1].vector_distance));
        found_total += got.iter().filter(|c| want.contains(c)).count() as u64;
        first_right += u64::from(got[0] == want[0]);
    }
    // Random 384-d vectors are the hardest case for an approximate index; this one is exact.
    assert_eq!(found_total, 10 * queries, "recall@10 below 1");
    assert_eq!(first_right, queries, "nearest first");
}

fn top(store: &flightdeck_core::Store, query: u64) -> String {
    let text = format!("v{query}");
    memory::search(store, Some(&Seeded), &text, &MemoryFilter::default(), 1)
        .unwrap()
        .hits
        .first()
        .map(|h| h.memory.content.clone())
        .unwrap_or_default()
}

#[test]
fn vectors_written_after_a_search_are_found_by_the_next() {
    // Search keeps an in-memory copy of the vectors; every write must show through it.
    let (_dir, store) = temp_store();
    memory::ensure_model(&store, &Seeded).unwrap();
    import(&store, 0..500);
    assert_eq!(top(&store, 7), "v7");
    // A memory whose vector is the query's own: nearest from the next search on.
    assert_ne!(top(&store, 9_000), "v9000");
    import(&store, 9_000..9_001);
    assert_eq!(top(&store, 9_000), "v9000");

    // A second store on the same file (another process, as the daemon is) writes: the first
    // store's copy must not hide it.
    let other = flightdeck_core::Store::open(store.path()).unwrap();
    import(&other, 9_100..9_101);
    assert_eq!(top(&store, 9_100), "v9100");

    // A reindex drops every vector and writes them again: the copy follows.
    memory::reindex(&store, &Seeded, |_, _| {}).unwrap();
    assert_eq!(top(&store, 9_100), "v9100");
}

#[test]
fn a_vector_table_of_the_old_layout_is_moved_with_every_vector_kept() {
    let (_dir, store) = temp_store();
    memory::ensure_model(&store, &Seeded).unwrap();
    import(&store, 0..300);
    // The layout before vector search read sqlite-vec's chunks: its default chunk size.
    store
        .write(|w| {
            w.execute_batch(&format!(
                "CREATE TEMP TABLE keep AS SELECT rowid AS key, embedding FROM memory_vec;
                 DROP TABLE memory_vec;
                 CREATE VIRTUAL TABLE memory_vec USING vec0(
                     embedding float[{DIM}] distance_metric=cosine);
                 INSERT INTO memory_vec (rowid, embedding) SELECT key, embedding FROM keep;
                 DROP TABLE keep;"
            ))?;
            Ok(())
        })
        .unwrap();
    assert!(store
        .read(flightdeck_core::store::memories::vec_table_needs_relayout)
        .unwrap());
    memory::ensure_model(&store, &Seeded).unwrap();
    assert!(!store
        .read(flightdeck_core::store::memories::vec_table_needs_relayout)
        .unwrap());
    let kept: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM memory_vec", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(kept, 300);
    for q in [3, 150, 299] {
        assert_eq!(top(&store, q), format!("v{q}"));
    }
}
