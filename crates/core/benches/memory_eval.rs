//! Memory search on a labelled set (`benches/fixtures/memory_eval.json`: memories an agent
//! team would record, and queries of three kinds: paraphrases sharing few words with their
//! answer, exact identifiers, and questions with no answer in the store), beside BM25 alone
//! and the same vectors alone, in one run. Prints recall@1, recall@5, MRR and nDCG@10 per
//! kind, the separation (AUC) of answerable from unanswerable queries by the top score, and
//! for a sweep of relevance floors the share of unanswerable queries that return nothing and
//! of answerable ones that keep their answer.
//!
//! Run: `FLIGHTDECK_MODEL_DIR=.deps/models/all-MiniLM-L6-v2 cargo bench -p flightdeck-core
//! --bench memory_eval`. `FLIGHTDECK_EVAL_DUMP=FILE` also appends each query's candidates
//! (cosine, keyword evidence, importance, whether it answers) to FILE as JSON lines, to try
//! other calibrations offline.

use std::collections::BTreeMap;

use flightdeck_core::memory::{self, Embedder, MiniLm};
use flightdeck_core::store::memories as rows;
use flightdeck_core::Store;
use flightdeck_types::{MemoryFilter, MemoryScope, NewMemory};
use serde::Deserialize;

#[derive(Deserialize)]
struct Set {
    memories: Vec<Mem>,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Mem {
    id: String,
    content: String,
    kind: String,
    importance: f64,
}

#[derive(Deserialize)]
struct Query {
    query: String,
    kind: String,
    relevant: Vec<String>,
}

/// One system's answer to one query: the fixture ids in rank order, and its top score.
struct Answer {
    ranked: Vec<String>,
    top: f64,
}

#[derive(Default)]
struct Metrics {
    n: usize,
    r1: f64,
    r5: f64,
    mrr: f64,
    ndcg: f64,
}

impl Metrics {
    fn add(&mut self, ranked: &[String], relevant: &[String]) {
        self.n += 1;
        let pos = ranked.iter().position(|id| relevant.contains(id));
        if pos == Some(0) {
            self.r1 += 1.0;
        }
        if pos.is_some_and(|p| p < 5) {
            self.r5 += 1.0;
        }
        if let Some(p) = pos {
            self.mrr += 1.0 / (p as f64 + 1.0);
        }
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, id)| relevant.contains(id))
            .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..relevant.len().min(10))
            .map(|i| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        if ideal > 0.0 {
            self.ndcg += dcg / ideal;
        }
    }

    fn line(&self) -> String {
        let n = self.n.max(1) as f64;
        format!(
            "recall@1 {:.2}  recall@5 {:.2}  MRR {:.2}  nDCG@10 {:.2}  (n={})",
            self.r1 / n,
            self.r5 / n,
            self.mrr / n,
            self.ndcg / n,
            self.n
        )
    }
}

/// The probability that an answerable query's top score beats an unanswerable one's.
fn auc(answerable: &[f64], unanswerable: &[f64]) -> f64 {
    let mut wins = 0.0;
    for a in answerable {
        for u in unanswerable {
            wins += if a > u {
                1.0
            } else if a == u {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (answerable.len() * unanswerable.len()).max(1) as f64
}

fn main() {
    let model = MiniLm::load_default().expect("set FLIGHTDECK_MODEL_DIR to all-MiniLM-L6-v2");
    // The development set tuned the constants in `memory::rank`; the held-out one was written
    // separately and never tuned on.
    for (name, text) in [
        ("development set", include_str!("fixtures/memory_eval.json")),
        (
            "held-out set",
            include_str!("fixtures/memory_eval_heldout.json"),
        ),
    ] {
        println!("== {name}");
        let set: Set = serde_json::from_str(text).expect("the labelled set");
        evaluate(&model, &set);
    }
}

fn evaluate(model: &MiniLm, set: &Set) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("eval.db")).unwrap();
    let mut fixture_of: BTreeMap<String, String> = BTreeMap::new();
    for m in &set.memories {
        let added = memory::add(
            &store,
            Some(model),
            NewMemory {
                content: m.content.clone(),
                kind: Some(m.kind.clone()),
                scope: MemoryScope::global(),
                importance: Some(m.importance),
                source_execution_id: None,
            },
        )
        .unwrap();
        fixture_of.insert(added.id, m.id.clone());
    }
    let ids = |found: Vec<String>| -> Vec<String> {
        found
            .into_iter()
            .filter_map(|id| fixture_of.get(&id).cloned())
            .collect()
    };
    let systems = ["flightdeck", "bm25", "vectors"];
    let mut metrics: BTreeMap<(&str, String), Metrics> = BTreeMap::new();
    let mut tops: BTreeMap<(&str, bool), Vec<f64>> = BTreeMap::new();
    // Per answerable query: the relevance of its answer (None if not found); per unanswerable:
    // its best relevance.
    let mut answer_relevance: Vec<Option<f64>> = Vec::new();
    let mut unanswerable_best: Vec<f64> = Vec::new();
    for q in &set.queries {
        let ours = memory::search_with_floor(
            &store,
            Some(model),
            &q.query,
            &MemoryFilter::default(),
            10,
            0.0,
        )
        .unwrap();
        if let Ok(path) = std::env::var("FLIGHTDECK_EVAL_DUMP") {
            // Each candidate's cosine, keyword evidence and whether it answers, for exploring
            // other calibrations offline.
            let pool: Vec<serde_json::Value> = memory::search_with_floor(
                &store,
                Some(model),
                &q.query,
                &MemoryFilter::default(),
                50,
                0.0,
            )
            .unwrap()
            .hits
            .iter()
            .map(|h| {
                serde_json::json!({
                    "cos": h.vector_distance.map(|d| 1.0 - d),
                    "kw": h.keyword_score,
                    "imp": h.memory.importance,
                    "answer": fixture_of.get(&h.memory.id).is_some_and(|f| q.relevant.contains(f)),
                })
            })
            .collect();
            let line = serde_json::json!({ "kind": q.kind, "query": q.query, "pool": pool });
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            writeln!(f, "{line}").unwrap();
        }
        if q.relevant.is_empty() {
            unanswerable_best.push(ours.hits.first().map_or(0.0, |h| h.relevance));
        } else {
            answer_relevance.push(
                ours.hits
                    .iter()
                    .find(|h| {
                        fixture_of
                            .get(&h.memory.id)
                            .is_some_and(|f| q.relevant.contains(f))
                    })
                    .map(|h| h.relevance),
            );
        }
        let flightdeck = Answer {
            top: ours.hits.first().map_or(0.0, |h| h.relevance),
            ranked: ids(ours.hits.into_iter().map(|h| h.memory.id).collect()),
        };
        let bm25 = {
            let found = match memory::fts_query(&q.query) {
                Some(fts) => store.read(|c| rows::keyword_scored(c, &fts, 10)).unwrap(),
                None => Vec::new(),
            };
            Answer {
                top: found.first().map_or(0.0, |f| f.1),
                ranked: ids(found.into_iter().map(|f| f.0).collect()),
            }
        };
        let vectors = {
            let v = model.embed(&[q.query.as_str()]).unwrap().remove(0);
            let found = memory::nearest_vectors(&store, &v, 10).unwrap();
            Answer {
                top: found.first().map_or(0.0, |f| 1.0 - f.1),
                ranked: ids(found.into_iter().map(|f| f.0).collect()),
            }
        };
        for (name, answer) in systems.iter().zip([flightdeck, bm25, vectors]) {
            let answerable = !q.relevant.is_empty();
            tops.entry((name, answerable)).or_default().push(answer.top);
            if answerable {
                metrics
                    .entry((name, q.kind.clone()))
                    .or_default()
                    .add(&answer.ranked, &q.relevant);
                metrics
                    .entry((name, "all answerable".into()))
                    .or_default()
                    .add(&answer.ranked, &q.relevant);
            }
        }
    }
    println!(
        "{} memories, {} queries ({} paraphrase, {} identifier, {} unanswerable)",
        set.memories.len(),
        set.queries.len(),
        set.queries
            .iter()
            .filter(|q| q.kind == "paraphrase")
            .count(),
        set.queries
            .iter()
            .filter(|q| q.kind == "identifier")
            .count(),
        set.queries
            .iter()
            .filter(|q| q.kind == "unanswerable")
            .count(),
    );
    for name in systems {
        println!("{name}:");
        for kind in ["paraphrase", "identifier", "all answerable"] {
            if let Some(m) = metrics.get(&(name, kind.to_string())) {
                println!("  {kind:<15} {}", m.line());
            }
        }
        let (a, u) = (&tops[&(name, true)], &tops[&(name, false)]);
        println!(
            "  answerable vs unanswerable by top score: AUC {:.2}",
            auc(a, u)
        );
    }
    println!("relevance floor sweep (flightdeck):");
    for floor in [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6] {
        let empty = unanswerable_best.iter().filter(|b| **b < floor).count();
        let kept = answer_relevance
            .iter()
            .filter(|r| r.is_some_and(|r| r >= floor))
            .count();
        println!(
            "  floor {floor:.2}: unanswerable returning nothing {:.0}%, answerable keeping \
             their answer {:.0}%",
            100.0 * empty as f64 / unanswerable_best.len().max(1) as f64,
            100.0 * kept as f64 / answer_relevance.len().max(1) as f64
        );
    }
}
