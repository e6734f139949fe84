//! Hybrid search and task context.
//!
//! Score of a memory (documented in DESIGN.md terms, "weighted by importance and recency"):
//!
//! ```text
//! rrf      = 1 / (60 + vector_rank)
//!          + 0.5 * coverage^2 / (60 + keyword_rank)    (ranks 1-based; absent signal adds 0)
//! coverage = share of the query's words (3+ letters, no stop words) found in the memory
//! recency  = 0.5 ^ (age_days / 30), age from the last access, else creation
//! score    = rrf * (0.5 + importance) * (0.8 + 0.2 * recency)
//! ```
//!
//! Reciprocal rank fusion (k = 60, as in Cormack et al.) needs no calibration between cosine
//! distances and BM25 scores. Importance scales the score by 0.5x..1.5x; recency by 0.8x..1x,
//! so a relevant old memory still beats an irrelevant new one.
//!
//! Filters apply to the candidates of each signal (the nearest `max(4 * limit, 50)` vectors and
//! as many BM25 matches), so a very narrow filter can return fewer than `limit` hits.

use std::collections::{HashMap, HashSet};

use flightdeck_types::{
    MemoryFilter, MemoryHit, MemorySearch, SearchMode, SimilarRun, TaskContext,
};

use super::embed::{cosine, Embedder};
use crate::error::Result;
use crate::store::memories as rows;
use crate::store::Store;

const RRF_K: f64 = 60.0;

/// (vector rank and distance, keyword rank) of one candidate.
type Signals = (Option<(u32, f64)>, Option<u32>);
const HALF_LIFE_DAYS: f64 = 30.0;
/// A keyword hit counts at most half a vector hit: BM25 over a few shared common words is weak
/// evidence next to a near meaning.
const KEYWORD_WEIGHT: f64 = 0.5;

/// Words of `query` as the FTS5 expression search runs: each quoted (no operator injection),
/// stop words left out, any may match.
pub fn fts_query(query: &str) -> Option<String> {
    let words: Vec<String> = words(query).iter().map(|w| format!("\"{w}\"")).collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

/// Whether the vector index can answer for `embedder` (built with that model).
fn vectors_usable(store: &Store, embedder: Option<&dyn Embedder>) -> Result<bool> {
    let Some(e) = embedder else { return Ok(false) };
    Ok(super::indexed_model(store)?
        .is_some_and(|(name, dim)| name == e.name() && dim == e.dimension()))
}

pub fn search(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    query: &str,
    filter: &MemoryFilter,
    limit: usize,
) -> Result<MemorySearch> {
    let mode = if vectors_usable(store, embedder)? {
        SearchMode::Hybrid
    } else {
        SearchMode::KeywordOnly
    };
    let k = (limit * 4).max(50);
    // BM25 needs no vector: it runs on another core while the query is embedded.
    let (query_vec, keyword) = std::thread::scope(|s| {
        let keyword = s.spawn(|| match fts_query(query) {
            Some(q) => store.read(|c| rows::keyword(c, &q, k)),
            None => Ok(Vec::new()),
        });
        let query_vec = match (mode, embedder) {
            (SearchMode::Hybrid, Some(e)) => Some(e.embed(&[query]).map(|mut v| v.remove(0))),
            _ => None,
        };
        let keyword = keyword
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (query_vec.transpose(), keyword)
    });
    let vector = match query_vec? {
        Some(v) => super::vectors::nearest(store, &v, k)?,
        None => Vec::new(),
    };
    let hits = fuse(store, vector, keyword?, query, filter, limit)?;
    Ok(MemorySearch { mode, hits })
}

/// Reciprocal rank fusion of the two signals' candidates, filtered and weighted (module doc).
fn fuse(
    store: &Store,
    vector: Vec<(String, f64)>,
    keyword: Vec<String>,
    query: &str,
    filter: &MemoryFilter,
    limit: usize,
) -> Result<Vec<MemoryHit>> {
    let mut signals: HashMap<String, Signals> = HashMap::new();
    for (rank, (id, dist)) in vector.into_iter().enumerate() {
        signals.entry(id).or_default().0 = Some((rank as u32 + 1, dist));
    }
    for (rank, id) in keyword.into_iter().enumerate() {
        signals.entry(id).or_default().1 = Some(rank as u32 + 1);
    }
    let ids: Vec<String> = signals.keys().cloned().collect();
    let memories = store.read(|c| rows::matching(c, &ids, filter))?;
    let now = crate::clock::now().as_millis();
    let query_words = words(query);
    let mut hits: Vec<MemoryHit> = memories
        .into_iter()
        .map(|m| {
            let (vec_sig, kw_rank) = signals[&m.id];
            let coverage = if query_words.is_empty() {
                0.0
            } else {
                let have = words(&m.content);
                query_words.intersection(&have).count() as f64 / query_words.len() as f64
            };
            let rrf = vec_sig.map_or(0.0, |(r, _)| 1.0 / (RRF_K + f64::from(r)))
                + kw_rank.map_or(0.0, |r| {
                    // Squared: one shared word of five ("test") must not lift a distant meaning
                    // over the nearest one; a memory holding every query word keeps full weight.
                    KEYWORD_WEIGHT * coverage * coverage / (RRF_K + f64::from(r))
                });
            let seen = m.last_accessed_at.unwrap_or(m.created_at).as_millis();
            let age_days = ((now - seen).max(0) as f64) / 86_400_000.0;
            let recency = 0.5f64.powf(age_days / HALF_LIFE_DAYS);
            let score = rrf * (0.5 + m.importance) * (0.8 + 0.2 * recency);
            MemoryHit {
                memory: m,
                score,
                vector_rank: vec_sig.map(|s| s.0),
                vector_distance: vec_sig.map(|s| s.1),
                keyword_rank: kw_rank,
            }
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.memory.id.cmp(&b.memory.id))
    });
    hits.truncate(limit);
    Ok(hits)
}

/// Words that say nothing about a memory's subject; matching them is noise.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "was", "with", "what", "when", "how", "does", "this", "that",
    "from", "you", "our", "can", "who", "why", "which", "there", "have", "has", "not", "but",
];

/// Lower-case words of 3+ characters, stop words left out (numbers are kept).
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2 || w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect()
}

/// The most relevant memories for a task (searched by its title and description) and the most
/// similar runs of other tasks (by task text; each with its result or error as summary).
pub fn context_for_task(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    task_id: &str,
    n: usize,
) -> Result<TaskContext> {
    let task = store.read(|c| crate::store::tasks::find(c, task_id))?;
    let text = format!("{}\n{}", task.title, task.description);
    let found = search(store, embedder, &text, &MemoryFilter::default(), n)?;

    // The newest run of each other task, among the recent runs.
    let runs = store.read(|c| rows::runs_of_other_tasks(c, task_id, 500))?;
    let mut seen = HashSet::new();
    let runs: Vec<_> = runs
        .into_iter()
        .filter(|r| seen.insert(r.1.clone()))
        .take(100)
        .collect();
    let texts: Vec<String> = runs.iter().map(|r| format!("{}\n{}", r.2, r.3)).collect();
    let similarities: Vec<f64> = match (found.mode, embedder) {
        (SearchMode::Hybrid, Some(e)) if !runs.is_empty() => {
            let mut all: Vec<&str> = vec![text.as_str()];
            all.extend(texts.iter().map(String::as_str));
            let vs = e.embed(&all)?;
            vs[1..].iter().map(|v| cosine(&vs[0], v)).collect()
        }
        _ => {
            let mine = words(&text);
            texts
                .iter()
                .map(|t| {
                    let theirs = words(t);
                    let union = mine.union(&theirs).count().max(1);
                    mine.intersection(&theirs).count() as f64 / union as f64
                })
                .collect()
        }
    };
    let mut similar: Vec<SimilarRun> = runs
        .into_iter()
        .zip(similarities)
        .map(|(r, similarity)| SimilarRun {
            execution_id: r.0,
            task_id: r.1,
            task_title: r.2,
            status: r.4,
            summary: r.5.or(r.6),
            similarity,
        })
        .collect();
    similar.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    similar.truncate(n);
    Ok(TaskContext {
        mode: found.mode,
        memories: found.hits,
        similar_runs: similar,
    })
}
