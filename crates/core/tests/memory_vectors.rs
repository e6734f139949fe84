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

#[test]
fn the_nearest_found_are_the_exact_nearest() {
    let (_dir, store) = temp_store();
    memory::ensure_model(&store, &Seeded).unwrap();
    let items: Vec<(NewMemory, Vec<f32>)> = (0..CORPUS as u64)
        .map(|n| {
            let input = NewMemory {
                content: format!("v{n}"),
                ..Default::default()
            };
            (input, vector(n))
        })
        .collect();
    memory::import_with_vectors(&store, &items).unwrap();

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
        let hits = memory::search(&store, Some(&Seeded), &text, &MemoryFilter::default(), 10)
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
