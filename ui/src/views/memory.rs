//! Memory: what agents and people recorded, searched by meaning and keywords. Search (or
//! browse, newest first, when the box is empty), filter by kind and archived, add a memory,
//! edit one (text, kind, importance, scope), archive one or bring it back. Each hit says
//! which signals found it.

use flightdeck_types::{
    KeywordOnly, Memory, MemoryFilter, MemoryHit, MemoryPatch, MemoryScopeKind, MemorySearch,
    NewMemory, SearchMode,
};
use leptos::prelude::*;

use super::format::local_time;
use super::forms::{for_field, for_form, FieldError};
use super::memory_edit::{parse_scope_value, MemoryEditor, ScopePicker, UpdateAction};
use crate::api::{self, ApiError};
use crate::live::use_live;

const FIELDS: [&str; 4] = ["content", "kind", "importance", "scope"];

/// What the list shows: search hits (with how they ranked) or memories, newest first.
#[derive(Clone)]
struct Listing {
    mode: Option<SearchMode>,
    /// Why a search could not rank by meaning, when it could not.
    keyword_only: Option<KeywordOnly>,
    rows: Vec<(Memory, Option<MemoryHit>)>,
    /// Set when the relevance floor dropped every candidate: what the best came to.
    nothing_relevant: Option<String>,
}

/// "Nothing relevant" in words: how many candidates the floor dropped and how close the best
/// came, when it dropped them all.
fn nothing_relevant(found: &MemorySearch) -> Option<String> {
    let best = found.best_below_floor.filter(|_| found.hits.is_empty())?;
    Some(format!(
        "The closest of {} candidates scored {best:.2}, under the relevance \
         floor {:.2} (Settings).",
        found.below_floor, found.floor
    ))
}

async fn load(query: String, filter: MemoryFilter) -> Result<Listing, ApiError> {
    if query.trim().is_empty() {
        let rows = api::list_memories(filter).await?;
        return Ok(Listing {
            mode: None,
            keyword_only: None,
            rows: rows.into_iter().map(|m| (m, None)).collect(),
            nothing_relevant: None,
        });
    }
    let found = api::search_memories(query, filter).await?;
    Ok(Listing {
        mode: Some(found.mode),
        keyword_only: found.keyword_only.clone(),
        nothing_relevant: nothing_relevant(&found),
        rows: found
            .hits
            .into_iter()
            .map(|hit| (hit.memory.clone(), Some(hit)))
            .collect(),
    })
}

#[component]
pub fn MemoryView() -> impl IntoView {
    let live = use_live();
    let query = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let archived = RwSignal::new(false);
    let toggle = Action::new_local(|(id, archive): &(String, bool)| {
        api::set_memory_archived(id.clone(), *archive)
    });
    let listing = LocalResource::new(move || {
        live.memories.get();
        let kind = kind.get();
        let filter = MemoryFilter {
            kind: (!kind.trim().is_empty()).then(|| kind.trim().to_string()),
            include_archived: archived.get(),
            ..Default::default()
        };
        load(query.get(), filter)
    });
    // The memory whose editor is open, and its edit: both live here, as the rows are drawn
    // anew whenever a memory changes (the edit's own change included).
    let editing = RwSignal::new(None::<String>);
    let update: UpdateAction = Action::new_local(|(id, patch): &(String, MemoryPatch)| {
        api::update_memory(id.clone(), patch.clone())
    });
    Effect::new(move |_| {
        if let Some(Ok(saved)) = update.value().get() {
            if editing.get_untracked().as_deref() == Some(saved.id.as_str()) {
                editing.set(None);
            }
        }
    });
    let failed = move || toggle.value().get().and_then(Result::err);
    view! {
        <section class="view" data-testid="memory">
            <div class="view-head">
                <h1>"Memory"</h1>
                <div class="filters tight">
                    <input class="input" type="search" data-testid="memory-search" data-shortcut="search"
                        placeholder="Search by meaning or keywords" aria-label="Search memories"
                        prop:value=query on:input=move |ev| query.set(event_target_value(&ev)) />
                    <input class="input" data-testid="memory-filter-kind" placeholder="Any kind"
                        aria-label="Kind" prop:value=kind
                        on:input=move |ev| kind.set(event_target_value(&ev)) />
                    <label class="check">
                        <input type="checkbox" data-testid="memory-include-archived"
                            prop:checked=archived
                            on:change=move |ev| archived.set(event_target_checked(&ev)) />
                        "Archived too"
                    </label>
                </div>
            </div>
            <NewMemoryForm />
            {move || failed().map(|e| view! { <p class="form-error" data-testid="memory-action-error">{e.message}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading memories…"</p> }>
                {move || Suspend::new(async move {
                    listing.await.map(|Listing { mode, keyword_only, rows, nothing_relevant }| {
                        // What is true: no model, nothing yet, memories not indexed yet, or
                        // another model's vectors.
                        let keyword_only = keyword_only.map(|why| view! {
                            <p class="muted" data-testid="memory-keyword-only"
                                data-reason=why.reason.to_string()>
                                {super::format::sentence(&why.explain())}
                            </p>
                        });
                        if rows.is_empty() {
                            return view! {
                                {keyword_only}
                                <Empty searched=mode.is_some() nothing_relevant=nothing_relevant />
                            }.into_any();
                        }
                        view! {
                            {keyword_only}
                            <ul class="memory-list" data-testid="memory-list">
                                {rows.into_iter().map(|(memory, hit)| view! {
                                    <MemoryRow memory=memory hit=hit toggle=toggle editing=editing update=update />
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    })
                })}
            </Transition>
        </section>
    }
}

type Toggle = Action<(String, bool), Result<Memory, ApiError>>;

/// Where a memory belongs, in words.
pub fn scope_label(memory: &Memory) -> String {
    match memory.scope.kind {
        MemoryScopeKind::Global => "global".into(),
        kind => format!(
            "{} {}",
            kind.as_str(),
            memory.scope.id.as_deref().unwrap_or("?")
        ),
    }
}

/// How relevant a hit is (0..1) and which signals found it: its rank by meaning and by
/// keywords.
pub fn signals(hit: &MemoryHit) -> String {
    let mut parts = Vec::new();
    if let Some(rank) = hit.vector_rank {
        parts.push(format!("meaning #{rank}"));
    }
    if let Some(rank) = hit.keyword_rank {
        parts.push(format!("keywords #{rank}"));
    }
    format!("relevance {:.2} · {}", hit.relevance, parts.join(" · "))
}

#[component]
fn MemoryRow(
    memory: Memory,
    hit: Option<MemoryHit>,
    toggle: Toggle,
    editing: RwSignal<Option<String>>,
    update: UpdateAction,
) -> impl IntoView {
    let id = memory.id.clone();
    let archive = !memory.archived;
    let open = {
        let id = memory.id.clone();
        move || editing.get().as_deref() == Some(id.as_str())
    };
    let edit_id = memory.id.clone();
    let edited = memory.clone();
    let editor = move || {
        open().then(|| {
            view! {
                <MemoryEditor memory=edited.clone() update=update
                    on_cancel=Callback::new(move |()| editing.set(None)) />
            }
        })
    };
    view! {
        <li class="memory-row" data-testid="memory-row" data-id=memory.id.clone()
            data-archived=memory.archived.to_string()>
            <p class="memory-content" data-testid="memory-content">{memory.content.clone()}</p>
            <div class="muted">
                <span class="badge">{memory.kind.clone()}</span>
                {memory.archived.then(|| view! { <span class="badge warn">"archived"</span> })}
                {format!(" {} · importance {:.2} · {}", scope_label(&memory), memory.importance,
                    local_time(memory.created_at))}
                {hit.map(|hit| view! { <span data-testid="memory-signals">{format!(" · {}", signals(&hit))}</span> })}
            </div>
            {editor}
            <div class="row">
                <button class="button" data-testid="memory-edit"
                    on:click=move |_| {
                        update.value().set(None);
                        editing.set(Some(edit_id.clone()));
                    }>"Edit"</button>
                <button class="button" data-testid=if archive { "memory-archive" } else { "memory-restore" }
                    disabled=move || toggle.pending().get()
                    on:click=move |_| { toggle.dispatch((id.clone(), archive)); }>
                    {if archive { "Archive" } else { "Restore" }}
                </button>
            </div>
        </li>
    }
}

/// The box's text once `saved` is saved: what was typed after it (the saved text itself, when
/// the box still starts with it, is gone), or the box as it is when it was rewritten.
fn left_after(now: &str, saved: &str) -> String {
    match now.strip_prefix(saved) {
        Some(rest) => rest.trim_start().to_string(),
        None => now.to_string(),
    }
}

#[component]
fn NewMemoryForm() -> impl IntoView {
    let add = Action::new_local(|input: &NewMemory| api::add_memory(input.clone()));
    let content = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let importance = RwSignal::new(String::new());
    // Kept after a save, as the kind is: the next memory likely belongs to the same place.
    let scope = RwSignal::new("global".to_string());
    // A number that does not parse never reaches the engine: said here, beside the field.
    let importance_error = RwSignal::new(None::<String>);
    let error = move || add.value().get().and_then(Result::err);
    // What the pending save holds: once it is saved, only that is cleared from the box, so
    // what was typed meanwhile stays.
    let saving = RwSignal::new(None::<(String, String)>);
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            if let Some((saved, saved_importance)) = saving.get_untracked() {
                content.update(|now| *now = left_after(now, &saved));
                if importance.get_untracked() == saved_importance {
                    importance.set(String::new());
                }
            }
            saving.set(None);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = importance.get_untracked();
        let parsed = match text.trim() {
            "" => None,
            t => match t.parse::<f64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    importance_error.set(Some(format!(
                        "importance: `{t}` is not a number; give one from 0 to 1, e.g. 0.8"
                    )));
                    return;
                }
            },
        };
        importance_error.set(None);
        let kind = kind.get_untracked();
        saving.set(Some((content.get_untracked(), text.clone())));
        add.dispatch(NewMemory {
            content: content.get_untracked(),
            kind: (!kind.trim().is_empty()).then(|| kind.trim().to_string()),
            importance: parsed,
            scope: parse_scope_value(&scope.get_untracked()),
            ..Default::default()
        });
    };
    let beside = |field: &'static str| Signal::derive(move || for_field(error(), field));
    let importance_message = Signal::derive(move || {
        importance_error
            .get()
            .or_else(|| for_field(error(), "importance"))
    });
    view! {
        <form class="new-task" data-testid="new-memory-form" on:submit=submit>
            <div class="field grow">
                <textarea class="input" data-testid="memory-content-input" data-shortcut="new" rows="2"
                    placeholder="What to remember, e.g. the staging database resets at 02:00 UTC"
                    aria-label="Memory content"
                    prop:value=content on:input=move |ev| content.set(event_target_value(&ev))></textarea>
                <FieldError testid="content" message=beside("content") />
            </div>
            <div class="field">
                <input class="input" data-testid="memory-kind-input" placeholder="Kind (note)"
                    aria-label="Kind" prop:value=kind
                    on:input=move |ev| kind.set(event_target_value(&ev)) />
                <FieldError testid="kind" message=beside("kind") />
            </div>
            <div class="field">
                <input class="input" data-testid="memory-importance-input" placeholder="Importance (0.5)"
                    aria-label="Importance from 0 to 1" prop:value=importance
                    on:input=move |ev| importance.set(event_target_value(&ev)) />
                <FieldError testid="importance" message=importance_message />
            </div>
            <div class="field">
                <ScopePicker value=scope testid="memory-scope-input" />
                <FieldError testid="scope" message=beside("scope") />
            </div>
            <button class="button primary" type="submit" data-testid="memory-add"
                disabled=move || add.pending().get()>"Remember"</button>
            {move || for_form(error(), &FIELDS).map(|m| view! { <p class="form-error">{m}</p> })}
        </form>
    }
}

#[component]
fn Empty(searched: bool, nothing_relevant: Option<String>) -> impl IntoView {
    let (title, hint) = if let Some(why) = nothing_relevant {
        ("Nothing relevant", why)
    } else if searched {
        (
            "Nothing found",
            "No memory matches by meaning or keywords. Try other words, or tick \"Archived too\"."
                .to_string(),
        )
    } else {
        (
            "No memories yet",
            "Runs add memories from their `memory:` output lines or the file named by \
             FLIGHTDECK_MEMORY_FILE; you can also write one above."
                .to_string(),
        )
    };
    view! {
        <div class="empty-state" data-testid="memory-empty">
            <p class="empty-title">{title}</p>
            <p class="empty-hint">{hint}</p>
        </div>
    }
}
