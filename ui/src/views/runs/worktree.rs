//! A worktree run's changes on its run page: branch, base and state, the files it changed,
//! the diff (unified, numbered, coloured by language), and what a person does next: Merge into
//! the base branch, Open in editor, Re-run in this worktree, or Discard (after a confirmation).

use flightdeck_types::{Execution, MergeOutcome, WorktreeRecord, WorktreeState};
use leptos::prelude::*;

use super::diff_lines::{highlight, parse, DiffFile, DiffLine, LineKind};
use crate::api::{self, ApiError};
use crate::live::use_live;
use crate::views::forms::for_form;
use crate::views::{use_route, Route};

/// Files whose diff is shown open at first; the rest start folded.
const OPEN_FILES: usize = 20;

#[component]
pub fn WorktreePanel(run: Execution) -> impl IntoView {
    let record = WorktreeRecord::from_result(run.result.as_ref())?;
    let live = use_live();
    let route = use_route();
    let id = StoredValue::new(run.id.clone());
    let finished = run.status.is_final() && record.head_commit.is_some();
    let diff = LocalResource::new(move || {
        live.runs.get();
        api::run_diff(id.get_value())
    });
    let merge = Action::new_local(|id: &String| api::merge_run(id.clone()));
    let discard = Action::new_local(|id: &String| api::discard_run(id.clone()));
    let rerun = Action::new_local(|id: &String| api::rerun_in_worktree(id.clone()));
    let open = Action::new_local(|id: &String| api::open_worktree(id.clone()));
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(new)) = rerun.value().get() {
            route.set(Route::Run(new.id));
        }
    });
    let error = move || {
        let failed = |e: Option<ApiError>| e;
        failed(merge.value().get().and_then(Result::err))
            .or_else(|| failed(discard.value().get().and_then(Result::err)))
            .or_else(|| failed(rerun.value().get().and_then(Result::err)))
            .or_else(|| failed(open.value().get().and_then(Result::err)))
    };
    // A merge rewrites the run's record, so this panel is drawn again from it: the merge shows
    // from the record, a conflict (which changes nothing stored) from the action.
    let merged_note = (record.state == WorktreeState::Merged).then(|| {
        view! {
            <p class="notice" data-testid="worktree-merged">
                {format!(
                    "Merged into {}, now at {}.",
                    record.base_branch,
                    record.merged_commit.as_deref().map(short).unwrap_or_default()
                )}
            </p>
        }
    });
    let conflict_note = move || match merge.value().get() {
        Some(Ok(MergeOutcome::Conflict { files })) => Some(view! {
            <p class="form-error" data-testid="worktree-conflict">
                {format!(
                    "Not merged: the branch conflicts with its base in {}. Nothing was changed; \
                     resolve it in the worktree (Open in editor), then merge again.",
                    files.join(", ")
                )}
            </p>
        }),
        _ => None,
    };
    let open_state = record.state == WorktreeState::Open;
    let actions = view! {
        <div class="actions" data-testid="worktree-actions">
            <button class="button primary" data-testid="worktree-merge"
                disabled=move || !finished || !open_state || merge.pending().get()
                on:click=move |_| { merge.dispatch(id.get_value()); }>
                {move || if merge.pending().get() { "Merging…" } else { "Merge" }}
            </button>
            <button class="button" data-testid="worktree-open" disabled=!open_state
                on:click=move |_| { open.dispatch(id.get_value()); }>"Open in editor"</button>
            <button class="button" data-testid="worktree-rerun"
                disabled=move || !finished || !open_state || rerun.pending().get()
                on:click=move |_| { rerun.dispatch(id.get_value()); }>"Re-run in this worktree"</button>
            <button class="button danger" data-testid="worktree-discard"
                disabled=move || !finished || record.state == WorktreeState::Discarded
                on:click=move |_| confirming.set(true)>"Discard"</button>
        </div>
    };
    let confirm = move || {
        confirming.get().then(|| view! {
            <div class="confirm" data-testid="worktree-discard-confirm">
                <span>"Delete the worktree and its branch? Unmerged work on it is lost."</span>
                <button class="button danger" data-testid="worktree-discard-yes"
                    on:click=move |_| { confirming.set(false); discard.dispatch(id.get_value()); }>
                    "Discard"
                </button>
                <button class="button" on:click=move |_| confirming.set(false)>"Keep"</button>
            </div>
        })
    };
    Some(view! {
        <section class="panel worktree" data-testid="worktree">
            <div class="view-head">
                <h2>"Changes"</h2>
                {actions}
            </div>
            <WorktreeFacts record=record.clone() />
            {confirm}
            {merged_note}
            {conflict_note}
            {move || for_form(error(), &[]).map(|m| view! { <p class="form-error" data-testid="worktree-error">{m}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading the diff…"</p> }>
                {move || Suspend::new(async move {
                    diff.await.map(|found| {
                        let files = found.diff.as_deref().map(parse).unwrap_or_default();
                        view! {
                            <FileList record=found.worktree.clone() />
                            {found.missing.map(|m| view! { <p class="muted" data-testid="diff-missing">{m}</p> })}
                            {found.worktree.diff_truncated.then(|| view! {
                                <p class="muted" data-testid="diff-truncated">
                                    {format!("The diff is cut at 1 MiB of {} KiB; `git diff` in the worktree shows it all.",
                                        found.worktree.diff_bytes / 1024)}
                                </p>
                            })}
                            <div class="diff" data-testid="diff">
                                {files.into_iter().enumerate().map(|(i, f)| view! { <FileDiff file=f open=i < OPEN_FILES /> }).collect_view()}
                            </div>
                        }
                    })
                })}
            </Transition>
        </section>
    })
}

fn short(commit: &str) -> String {
    commit.chars().take(10).collect()
}

#[component]
fn WorktreeFacts(record: WorktreeRecord) -> impl IntoView {
    view! {
        <dl class="facts">
            <dt>"Branch"</dt><dd class="mono" data-testid="worktree-branch">{record.branch.clone()}</dd>
            <dt>"Base"</dt><dd class="mono">{format!("{} at {}", record.base_branch, short(&record.base_commit))}</dd>
            <dt>"State"</dt><dd data-testid="worktree-state" data-state=record.state.as_str()>{record.state.as_str()}</dd>
            <dt>"Worktree"</dt><dd class="mono">{record.path.clone()}</dd>
            <dt>"Changed"</dt>
            <dd data-testid="worktree-stat">
                {format!("{} files, ", record.files_changed)}
                <span class="diff-added-count">{format!("+{}", record.lines_added)}</span>" "
                <span class="diff-removed-count">{format!("−{}", record.lines_removed)}</span>
                {record.committed_leftovers.then_some(" (what the run left uncommitted was committed on its branch)")}
            </dd>
        </dl>
    }
}

#[component]
fn FileList(record: WorktreeRecord) -> impl IntoView {
    let more = record
        .files_changed
        .saturating_sub(record.files.len() as u64);
    view! {
        <ul class="changed-files" data-testid="changed-files">
            {record.files.into_iter().map(|f| {
                let n = |v: Option<u64>| v.map_or("bin".to_string(), |v| v.to_string());
                view! {
                    <li data-testid="changed-file" data-path=f.path.clone()>
                        <span class="diff-added-count">{format!("+{}", n(f.added))}</span>" "
                        <span class="diff-removed-count">{format!("−{}", n(f.removed))}</span>" "
                        <span class="mono">{f.path.clone()}</span>
                    </li>
                }
            }).collect_view()}
            {(more > 0).then(|| view! { <li class="muted">{format!("… and {more} more files")}</li> })}
        </ul>
    }
}

#[component]
fn FileDiff(file: DiffFile, open: bool) -> impl IntoView {
    let path = file.path.clone();
    view! {
        <details class="diff-file" data-testid="diff-file" data-path=file.path.clone() open=open>
            <summary class="mono">
                {file.path.clone()}
                {file.note.map(|n| view! { <span class="badge">{n}</span> })}
            </summary>
            <table class="diff-table">
                <tbody>
                    {file.lines.into_iter().map(|line| view! { <Line line=line path=path.clone() /> }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}

#[component]
fn Line(line: DiffLine, path: String) -> impl IntoView {
    let (class, sign) = match line.kind {
        LineKind::Hunk => ("diff-hunk", ""),
        LineKind::Added => ("diff-add", "+"),
        LineKind::Removed => ("diff-del", "-"),
        LineKind::Context => ("diff-ctx", " "),
        LineKind::Note => ("diff-note", ""),
    };
    let no = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let code = if line.kind == LineKind::Hunk || line.kind == LineKind::Note {
        vec![(None, line.text.clone())]
    } else {
        highlight(&path, &line.text)
    };
    view! {
        <tr class=class data-testid="diff-line">
            <td class="diff-no">{no(line.old_no)}</td>
            <td class="diff-no">{no(line.new_no)}</td>
            <td class="diff-code mono">
                <span class="diff-sign">{sign}</span>
                {code.into_iter().map(|(class, text)| match class {
                    Some(class) => view! { <span class=class>{text}</span> }.into_any(),
                    None => text.into_any(),
                }).collect_view()}
            </td>
        </tr>
    }
}
