//! Hybrid search and task context.
//!
//! Candidates come from both signals: the nearest `max(4 * limit, 50)` vectors and as many
//! BM25 matches of the query's tokens. Each is then scored by [`super::rank`]: a calibrated
//! 0..1 relevance from its cosine and its rarity-weighted keyword evidence, nudged by a
//! bounded importance and recency prior; hits under the relevance floor are dropped, so a
//! query with nothing relevant returns nothing (and says how close the best one came).
//!
//! Filters apply to the candidates of each signal, so a very narrow filter can return fewer
//! than `limit` hits.

use std::collections::{HashMap, HashSet};

use flightdeck_types::{
    KeywordOnly, KeywordOnlyReason, MemoryFilter, MemoryHit, MemorySearch, SearchMode, SimilarRun,
    TaskContext,
};

use super::embed::{cosine, Embedder};
use super::rank;
use crate::error::Result;
use crate::store::memories as rows;
use crate::store::Store;

const HALF_LIFE_DAYS: f64 = 30.0;

/// The query's tokens as the FTS5 expression search runs: each quoted (no operator
/// injection), stop words left out, any may match.
pub fn fts_query(query: &str) -> Option<String> {
    fts_of(&rank::tokens(query))
}

fn fts_of(tokens: &[String]) -> Option<String> {
    let quoted: Vec<String> = tokens.iter().map(|w| format!("\"{w}\"")).collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

/// Whether the vector index can answer for `embedder` (built with that model).
fn vectors_usable(store: &Store, embedder: Option<&dyn Embedder>) -> Result<bool> {
    let Some(e) = embedder else { return Ok(false) };
    Ok(super::indexed_model(store)?
        .is_some_and(|(name, dim)| name == e.name() && dim == e.dimension()))
}

/// Why a search with `embedder` cannot rank by meaning (`None` when it can): no model here,
/// no memory at all yet, memories still without a vector, or vectors of another model.
pub fn keyword_only(store: &Store, embedder: Option<&dyn Embedder>) -> Result<Option<KeywordOnly>> {
    if vectors_usable(store, embedder)? {
        return Ok(None);
    }
    let (total, not_indexed) =
        store.read(|c| Ok((rows::count_memories(c)?, rows::stale_count(c, true)?)))?;
    let reason = match (embedder, super::indexed_model(store)?) {
        (None, _) => KeywordOnlyReason::NoModel,
        (Some(_), _) if total == 0 => KeywordOnlyReason::NothingYet,
        (Some(_), Some(_)) => KeywordOnlyReason::OtherModel,
        (Some(_), None) => KeywordOnlyReason::NotIndexed,
    };
    Ok(Some(KeywordOnly {
        reason,
        not_indexed: not_indexed as u64,
    }))
}

/// Searches with this device's relevance floor ([`super::relevance_floor`]).
pub fn search(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    query: &str,
    filter: &MemoryFilter,
    limit: usize,
) -> Result<MemorySearch> {
    let floor = super::relevance_floor(store)?;
    search_with_floor(store, embedder, query, filter, limit, floor)
}

/// Searches, dropping hits whose relevance is under `floor` (0 keeps every candidate).
pub fn search_with_floor(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    query: &str,
    filter: &MemoryFilter,
    limit: usize,
    floor: f64,
) -> Result<MemorySearch> {
    let keyword_only = keyword_only(store, embedder)?;
    let mode = match keyword_only {
        None => SearchMode::Hybrid,
        Some(_) => SearchMode::KeywordOnly,
    };
    let k = (limit * 4).max(50);
    let tokens = rank::tokens(query);
    // BM25 and the tokens' document frequencies need no vector: they run on another core
    // while the query is embedded.
    let (query_vec, keyword) = std::thread::scope(|s| {
        let keyword = s.spawn(|| {
            store.read(|c| {
                let n = rows::count_indexed(c)?;
                let weighted = tokens
                    .iter()
                    .map(|t| Ok((t.clone(), rank::idf(n, rows::document_frequency(c, t)?))))
                    .collect::<Result<Vec<_>>>()?;
                let found = match fts_of(&tokens) {
                    Some(q) => rows::keyword(c, &q, k)?,
                    None => Vec::new(),
                };
                Ok((weighted, found))
            })
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
    let query_vec = query_vec?;
    let (weighted, keyword) = keyword?;
    let vector = match &query_vec {
        Some(v) => super::vectors::nearest(store, v, k)?,
        None => Vec::new(),
    };
    let candidates = Candidates {
        vector,
        keyword,
        query_vec,
        weighted,
    };
    let mut found = rank_candidates(store, candidates, filter, limit, floor, mode)?;
    found.keyword_only = keyword_only;
    Ok(found)
}

struct Candidates {
    /// (memory id, cosine distance), nearest first.
    vector: Vec<(String, f64)>,
    /// Memory ids, best BM25 first.
    keyword: Vec<String>,
    query_vec: Option<Vec<f32>>,
    /// The query's tokens with their idf.
    weighted: Vec<(String, f64)>,
}

/// Scores every candidate (see [`super::rank`]), drops those under the floor, best first.
fn rank_candidates(
    store: &Store,
    c: Candidates,
    filter: &MemoryFilter,
    limit: usize,
    floor: f64,
    mode: SearchMode,
) -> Result<MemorySearch> {
    let mut vector_of: HashMap<String, (u32, f64)> = HashMap::new();
    for (rank, (id, dist)) in c.vector.into_iter().enumerate() {
        vector_of.insert(id, (rank as u32 + 1, dist));
    }
    let mut keyword_rank: HashMap<String, u32> = HashMap::new();
    for (rank, id) in c.keyword.into_iter().enumerate() {
        keyword_rank.insert(id, rank as u32 + 1);
    }
    let mut ids: Vec<String> = vector_of.keys().cloned().collect();
    ids.extend(
        keyword_rank
            .keys()
            .filter(|id| !vector_of.contains_key(*id))
            .cloned(),
    );
    // A keyword candidate beyond the nearest vectors still has a meaning: its own cosine.
    let mut distance_of: HashMap<String, f64> = vector_of
        .iter()
        .map(|(id, (_, d))| (id.clone(), *d))
        .collect();
    if let Some(qv) = &c.query_vec {
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !distance_of.contains_key(*id))
            .cloned()
            .collect();
        for (id, v) in store.read(|conn| rows::vectors_of_ids(conn, &missing, qv.len()))? {
            distance_of.insert(id, 1.0 - cosine(qv, &v));
        }
    }
    let memories = store.read(|conn| rows::matching(conn, &ids, filter))?;
    let now = crate::clock::now().as_millis();
    let mut below = 0u32;
    let mut best_below: Option<f64> = None;
    let mut hits: Vec<(MemoryHit, f64)> = Vec::with_capacity(memories.len());
    for m in memories {
        let cosine = match mode {
            SearchMode::Hybrid => Some(distance_of.get(&m.id).map_or(0.0, |d| 1.0 - d)),
            SearchMode::KeywordOnly => None,
        };
        let have: HashSet<String> = rank::tokens(&m.content).into_iter().collect();
        let keywords = rank::keyword_evidence(&c.weighted, &have);
        let relevance = rank::relevance(cosine, keywords);
        if relevance < floor {
            below += 1;
            best_below = Some(best_below.map_or(relevance, |b: f64| b.max(relevance)));
            continue;
        }
        let seen = m.last_accessed_at.unwrap_or(m.created_at).as_millis();
        let age_days = ((now - seen).max(0) as f64) / 86_400_000.0;
        let recency = 0.5f64.powf(age_days / HALF_LIFE_DAYS);
        let score = rank::score(relevance, rank::prior(m.importance, recency));
        let vector = vector_of.get(&m.id).copied();
        hits.push((
            MemoryHit {
                vector_rank: vector.map(|v| v.0),
                vector_distance: distance_of.get(&m.id).copied(),
                keyword_rank: keyword_rank.get(&m.id).copied(),
                keyword_score: keywords,
                relevance,
                score,
                memory: m,
            },
            recency,
        ));
    }
    // Best score first; equal scores to the more important, then the more recent.
    hits.sort_by(|(a, ra), (b, rb)| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.memory.importance.total_cmp(&a.memory.importance))
            .then_with(|| rb.total_cmp(ra))
            .then_with(|| a.memory.id.cmp(&b.memory.id))
    });
    let mut hits: Vec<MemoryHit> = hits.into_iter().map(|(h, _)| h).collect();
    hits.truncate(limit);
    Ok(MemorySearch {
        mode,
        keyword_only: None,
        hits,
        floor,
        below_floor: below,
        best_below_floor: best_below,
    })
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
    context_for_text(store, embedder, &text, Some(task_id), n)
}

/// [`context_for_task`] for any text (an agent step's prompt, say): the memories most relevant
/// to it and the runs of tasks most like it, other than `own_task`'s.
pub fn context_for_text(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    text: &str,
    own_task: Option<&str>,
    n: usize,
) -> Result<TaskContext> {
    let found = search(store, embedder, text, &MemoryFilter::default(), n)?;
    let task_id = own_task.unwrap_or("");

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
            let mut all: Vec<&str> = vec![text];
            all.extend(texts.iter().map(String::as_str));
            let vs = e.embed(&all)?;
            vs[1..].iter().map(|v| cosine(&vs[0], v)).collect()
        }
        _ => {
            let mine = words(text);
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
        keyword_only: found.keyword_only,
        memories: found.hits,
        similar_runs: similar,
    })
}
