//! Size control. When a scope holds more unarchived memories than its budget, the oldest
//! low-importance ones are summarised into one `summary` memory and archived with `summary_id`
//! pointing at it. Nothing is deleted: archived memories stay listable and searchable with
//! `include_archived`.
//!
//! The default summariser is extractive: the first sentence of each memory, the most central
//! ones first (centrality = mean cosine similarity to the others, when an embedder is given;
//! otherwise oldest first), at most 8 sentences.

use flightdeck_types::{Memory, MemoryScope};

use super::embed::{cosine, Embedder};
use crate::error::Result;
use crate::store::memories as rows;
use crate::store::Store;

pub const DEFAULT_SCOPE_BUDGET: usize = 500;

#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most unarchived, non-summary memories a scope keeps.
    pub max_per_scope: usize,
    /// Memories at or above this importance are never summarised.
    pub keep_importance: f64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_per_scope: DEFAULT_SCOPE_BUDGET,
            keep_importance: 0.7,
        }
    }
}

/// Turns the texts of the memories being archived into one summary text.
pub trait Summariser {
    fn summarise(&self, texts: &[&str], embedder: Option<&dyn Embedder>) -> Result<String>;
}

pub struct ExtractiveSummariser {
    pub max_sentences: usize,
}

impl Default for ExtractiveSummariser {
    fn default() -> Self {
        Self { max_sentences: 8 }
    }
}

fn first_sentence(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '.' | '!' | '?' | '\n')
                && text[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
        })
        .map_or(text.len(), |(i, c)| i + c.len_utf8());
    text[..end].trim()
}

impl Summariser for ExtractiveSummariser {
    fn summarise(&self, texts: &[&str], embedder: Option<&dyn Embedder>) -> Result<String> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        if let Some(e) = embedder.filter(|_| texts.len() > 2) {
            let vs = e.embed(texts)?;
            let centrality: Vec<f64> = vs
                .iter()
                .map(|v| vs.iter().map(|o| cosine(v, o)).sum::<f64>())
                .collect();
            order.sort_by(|&a, &b| centrality[b].total_cmp(&centrality[a]));
        }
        let mut out = format!("Summary of {} archived memories:", texts.len());
        for &i in order.iter().take(self.max_sentences) {
            out.push_str("\n- ");
            out.push_str(first_sentence(texts[i]));
        }
        Ok(out)
    }
}

/// Enforces `budget` on `scope` with the extractive summariser. Returns the summary memory
/// when one was made.
pub fn enforce_budget(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    scope: &MemoryScope,
    budget: &Budget,
) -> Result<Option<Memory>> {
    enforce_budget_with(
        store,
        embedder,
        scope,
        budget,
        &ExtractiveSummariser::default(),
    )
}

pub fn enforce_budget_with(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    scope: &MemoryScope,
    budget: &Budget,
    summariser: &dyn Summariser,
) -> Result<Option<Memory>> {
    let members = store.read(|c| rows::scope_members(c, scope))?;
    if members.len() <= budget.max_per_scope {
        return Ok(None);
    }
    // Go down to three quarters of the budget, so that the next adds do not summarise again.
    let excess = members.len() - budget.max_per_scope * 3 / 4;
    let victims: Vec<Memory> = members
        .into_iter()
        .filter(|m| m.importance < budget.keep_importance)
        .take(excess)
        .collect();
    if victims.len() < 2 {
        return Ok(None);
    }
    let texts: Vec<&str> = victims.iter().map(|m| m.content.as_str()).collect();
    let content = summariser.summarise(&texts, embedder)?;
    let vector = match embedder {
        Some(e) => Some(e.embed(&[&content])?.remove(0)),
        None => None,
    };
    let importance = victims.iter().map(|m| m.importance).fold(0.0, f64::max);
    let summary = store.write(|w| {
        let summary = Memory {
            id: crate::ids::new_id(),
            content,
            kind: "summary".into(),
            scope: scope.clone(),
            importance,
            source_execution_id: None,
            access_count: 0,
            last_accessed_at: None,
            archived: false,
            summary_id: None,
            created_at: w.now(),
            updated_at: w.now(),
        };
        super::insert_indexed(w, &summary, vector.as_deref())?;
        for v in &victims {
            rows::set_archived(w, &v.id, true, Some(&summary.id), w.now())?;
            let m = rows::find(w, &v.id)?;
            let hash = super::content_hash(&m.content);
            rows::index_one(w, &m.id, &m.content, &hash, m.updated_at.as_millis(), None)?;
            w.touched("memories", &v.id, flightdeck_types::AuditAction::Update);
        }
        Ok(summary)
    })?;
    tracing::info!(archived = victims.len(), summary = %summary.id, "memory budget enforced");
    Ok(Some(summary))
}
