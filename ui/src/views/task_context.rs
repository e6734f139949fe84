//! The task detail's context panel: the memories most relevant to the task (searched by its
//! title and description) and the most similar runs of other tasks, each linking to its run.

use flightdeck_types::SimilarRun;
use leptos::prelude::*;

use super::format::clip;
use super::memory::{scope_label, signals};
use super::{use_route, Route};
use crate::api;
use crate::live::use_live;

#[component]
pub fn TaskContextPanel(task_id: String) -> impl IntoView {
    let live = use_live();
    let context = LocalResource::new(move || {
        live.memories.get();
        live.tasks.get();
        live.runs.get();
        api::task_context(task_id.clone())
    });
    view! {
        <section class="panel" data-testid="task-context">
            <h2>"Context"</h2>
            <Transition fallback=|| view! { <p class="loading">"Finding related memories…"</p> }>
                {move || Suspend::new(async move {
                    context.await.map(|ctx| {
                        let keyword_only = ctx.keyword_only.as_ref().map(|why| view! {
                            <p class="muted" data-testid="task-context-keyword-only"
                                data-reason=why.reason.to_string()>
                                {super::format::sentence(&why.explain())}
                            </p>
                        });
                        let memories = if ctx.memories.is_empty() {
                            view! {
                                <p class="empty-hint" data-testid="task-context-empty">
                                    "No memory relates to this task yet. Runs record them from \
                                     `memory:` lines; you can add one in Memory."
                                </p>
                            }.into_any()
                        } else {
                            view! {
                                <ul class="memory-list" data-testid="task-context-memories">
                                    {ctx.memories.into_iter().map(|hit| view! {
                                        <li class="memory-row" data-testid="task-context-memory">
                                            <p class="memory-content">{hit.memory.content.clone()}</p>
                                            <div class="muted">
                                                <span class="badge">{hit.memory.kind.clone()}</span>
                                                {format!(" {} · {}", scope_label(&hit.memory), signals(&hit))}
                                            </div>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        };
                        let runs = (!ctx.similar_runs.is_empty()).then(|| view! {
                            <h2>"Similar runs"</h2>
                            <ul class="memory-list" data-testid="task-context-runs">
                                {ctx.similar_runs.into_iter().map(|run| view! { <SimilarRunRow run=run /> }).collect_view()}
                            </ul>
                        });
                        view! { {keyword_only} {memories} {runs} }
                    })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SimilarRunRow(run: SimilarRun) -> impl IntoView {
    let route = use_route();
    let id = run.execution_id.clone();
    view! {
        <li class="memory-row" data-testid="task-context-run">
            <button class="button link inline" on:click=move |_| route.set(Route::Run(id.clone()))>
                {run.task_title.clone()}
            </button>
            <span class="muted">
                {format!(" · {} · {:.0}% similar", run.status, run.similarity * 100.0)}
            </span>
            {run.summary.map(|s| view! { <p class="muted mono">{clip(&s, 200)}</p> })}
        </li>
    }
}
