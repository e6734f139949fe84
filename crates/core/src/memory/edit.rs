//! A memory's edit (`memory edit`, the app's Edit): its content, kind, scope and importance,
//! checked as a new memory's are, written with its index entry in one transaction (a new
//! text gets its vector first, outside the lock, when a model is there; without one its old
//! vector is dropped and [`super::index_pending`] embeds it later).

use flightdeck_types::{Memory, MemoryPatch, MemoryScope, MemoryScopeKind, NewMemory};

use super::{content_hash, enforce_budget, ensure_model, validate, Budget, Embedder};
use crate::error::{CoreError, Result};
use crate::store::memories as rows;
use crate::store::Store;
use crate::{environments, tasks};

/// The scope `scope` names, with its task or environment looked up: a task by id, an
/// environment by name or id (stored by id). An unknown one is refused rather than stored.
pub fn resolve_scope(store: &Store, scope: &MemoryScope) -> Result<MemoryScope> {
    let missing = |what: &str| {
        CoreError::invalid(
            "scope",
            format!("an {what} scope needs the id of that {what}"),
        )
    };
    match (scope.kind, scope.id.as_deref().map(str::trim)) {
        (MemoryScopeKind::Global, None) => Ok(MemoryScope::global()),
        (MemoryScopeKind::Global, Some(_)) => Err(CoreError::invalid(
            "scope",
            "a global memory takes no scope id",
        )),
        (MemoryScopeKind::Task, Some(id)) if !id.is_empty() => {
            let task = tasks::get(store, id).map_err(|e| not_found("task", id, e))?;
            Ok(MemoryScope::task(task.id))
        }
        (MemoryScopeKind::Task, _) => Err(missing("task")),
        (MemoryScopeKind::Environment, Some(key)) if !key.is_empty() => {
            let env =
                environments::get(store, key).map_err(|e| not_found("environment", key, e))?;
            Ok(MemoryScope::environment(env.id))
        }
        (MemoryScopeKind::Environment, _) => Err(missing("environment")),
    }
}

fn not_found(what: &str, key: &str, error: CoreError) -> CoreError {
    match error {
        CoreError::NotFound { .. } => CoreError::invalid(
            "scope",
            format!("there is no {what} `{key}` in this workspace"),
        ),
        other => other,
    }
}

/// Edits the memory `id`: each field `patch` gives replaces the memory's. A new text is
/// re-indexed (full text at once; its vector with `embedder`, or later without one); a new
/// scope has its size budget enforced as an added memory's is.
pub fn update(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    id: &str,
    patch: MemoryPatch,
) -> Result<Memory> {
    if patch.is_empty() {
        return Err(CoreError::invalid(
            "update",
            "nothing to change: give the content, kind, scope or importance to change",
        ));
    }
    let before = super::get(store, id)?;
    let scope = match &patch.scope {
        Some(scope) => resolve_scope(store, scope)?,
        None => before.scope.clone(),
    };
    let (content, kind, importance) = validate(&NewMemory {
        content: patch.content.unwrap_or_else(|| before.content.clone()),
        kind: Some(patch.kind.unwrap_or_else(|| before.kind.clone())),
        scope: scope.clone(),
        importance: Some(patch.importance.unwrap_or(before.importance)),
        source_execution_id: None,
    })?;
    let vector = match embedder {
        Some(e) if content != before.content => {
            ensure_model(store, e)?;
            Some(e.embed(&[&content])?.remove(0))
        }
        _ => None,
    };
    let updated = store.write(|w| {
        let mut m = rows::find(w, id)?;
        m.content = content;
        m.kind = kind;
        m.scope = scope;
        m.importance = importance;
        m.updated_at = w.now();
        rows::update_fields(w, &m)?;
        rows::index_one(
            w,
            &m.id,
            &m.content,
            &content_hash(&m.content),
            m.updated_at.as_millis(),
            vector.as_deref(),
        )?;
        w.touched("memories", &m.id, flightdeck_types::AuditAction::Update);
        Ok(m)
    })?;
    if updated.scope != before.scope {
        enforce_budget(store, embedder, &updated.scope, &Budget::default())?;
    }
    Ok(updated)
}
