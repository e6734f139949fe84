//! Settings' Import and Export. Import: a file (typed, or picked in the native dialog), a
//! dry run's preview (per entity what would be created, updated, unchanged and skipped, or the
//! archive's first problems with their line numbers), then the import itself once confirmed,
//! with a progress bar and its result. Export: where to (a default in the home directory, or
//! the save dialog), a progress bar, what was written.

use flightdeck_types::{ImportReport, TransferProgress};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::live::use_live;

#[component]
pub fn ImportExport() -> impl IntoView {
    view! {
        <ImportPanel />
        <ExportPanel />
    }
}

#[component]
fn ImportPanel() -> impl IntoView {
    let live = use_live();
    let path = RwSignal::new(String::new());
    let policy = RwSignal::new("skip".to_string());
    // The (file, policy) the shown preview is of: confirming imports exactly that.
    let previewed = RwSignal::new(None::<(String, String)>);
    let preview =
        Action::new_local(|(p, c): &(String, String)| api::preview_import(p.clone(), c.clone()));
    let import =
        Action::new_local(|(p, c): &(String, String)| api::run_import(p.clone(), c.clone()));
    let changed = move || {
        previewed.set(None);
        preview.value().set(None);
        import.value().set(None);
    };
    let choose = move |_| {
        spawn_local(async move {
            if let Ok(Some(picked)) = api::choose_file(false, None).await {
                path.set(picked);
                changed();
            }
        })
    };
    let run_preview = move || {
        let asked = (path.get_untracked(), policy.get_untracked());
        live.transfer.set(None);
        import.value().set(None);
        previewed.set(Some(asked.clone()));
        preview.dispatch(asked);
    };
    let ready = move || {
        matches!(preview.value().get(), Some(Ok(_)))
            && previewed.get() == Some((path.get(), policy.get()))
            && !import.pending().get()
            && import.value().get().is_none()
    };
    let confirm = move |_| {
        if let Some(asked) = previewed.get_untracked() {
            live.transfer.set(None);
            import.dispatch(asked);
        }
    };
    let busy = move || preview.pending().get() || import.pending().get();
    view! {
        <section class="panel" data-testid="import-panel">
            <h2>"Import"</h2>
            <p class="muted">
                "An export of Flightdeck's (.ndjson.zst), a CSV of tasks (a header row; columns \
                 such as Title or Summary, Status, Priority, Description, Created), or GitHub \
                 issues as `gh issue list --json` writes them. Nothing is written until you \
                 confirm, and then all or nothing."
            </p>
            <form class="form-row" on:submit=move |ev| {
                ev.prevent_default();
                run_preview();
            }>
                <label for="import-path">"File"</label>
                <input id="import-path" class="input grow" data-testid="import-path"
                    placeholder="/path/to/file.csv"
                    prop:value=move || path.get()
                    on:input=move |ev| { path.set(event_target_value(&ev)); changed(); } />
                <button class="button" type="button" data-testid="import-choose"
                    on:click=choose>"Choose…"</button>
                <label for="import-conflict">"When a row exists"</label>
                <select id="import-conflict" class="input" data-testid="import-conflict"
                    on:change=move |ev| { policy.set(event_target_value(&ev)); changed(); }>
                    <option value="skip" selected>"keep ours"</option>
                    <option value="overwrite">"take the file's"</option>
                    <option value="newer">"take the newer"</option>
                </select>
                <button class="button" type="submit" data-testid="import-preview"
                    disabled=busy>"Preview"</button>
            </form>
            {move || preview.value().get().map(|result| match result {
                Ok(report) => view! {
                    <div data-testid="import-preview-result">
                        <p>"If imported:"</p>
                        {counts_table(&report, "import-preview-table")}
                        {secrets_line(&report)}
                    </div>
                }.into_any(),
                Err(e) => problems(&e.message).into_any(),
            })}
            <div class="form-row">
                <button class="button primary" data-testid="import-confirm"
                    disabled=move || !ready() on:click=confirm>"Import"</button>
            </div>
            {move || busy().then(|| progress_bar(live.transfer.get()))}
            {move || import.value().get().map(|result| match result {
                Ok(report) => view! {
                    <div data-testid="import-result">
                        <p>{summary(&report)}</p>
                        {counts_table(&report, "import-result-table")}
                        {secrets_line(&report)}
                    </div>
                }.into_any(),
                Err(e) => problems(&e.message).into_any(),
            })}
        </section>
    }
}

#[component]
fn ExportPanel() -> impl IntoView {
    let live = use_live();
    let path = RwSignal::new(String::new());
    spawn_local(async move {
        if let Ok(default) = api::default_export_path().await {
            if path.get_untracked().is_empty() {
                path.set(default);
            }
        }
    });
    let export = Action::new_local(|p: &String| api::run_export(p.clone()));
    let choose = move |_| {
        spawn_local(async move {
            let suggested = Some(path.get_untracked()).filter(|p| !p.is_empty());
            if let Ok(Some(picked)) = api::choose_file(true, suggested).await {
                path.set(picked);
                export.value().set(None);
            }
        })
    };
    view! {
        <section class="panel" data-testid="export-panel">
            <h2>"Export"</h2>
            <p class="muted">
                "The whole workspace as one file (newline-delimited JSON compressed with zstd), \
                 to keep or to import on another machine. Secret values stay in this machine's \
                 keyring: their names are listed to set again."
            </p>
            <form class="form-row" on:submit=move |ev| {
                ev.prevent_default();
                live.transfer.set(None);
                export.dispatch(path.get_untracked());
            }>
                <label for="export-path">"Save to"</label>
                <input id="export-path" class="input grow" data-testid="export-path"
                    prop:value=move || path.get()
                    on:input=move |ev| { path.set(event_target_value(&ev)); export.value().set(None); } />
                <button class="button" type="button" data-testid="export-choose"
                    on:click=choose>"Choose…"</button>
                <button class="button primary" type="submit" data-testid="export-run"
                    disabled=move || export.pending().get()>"Export"</button>
            </form>
            {move || export.pending().get().then(|| progress_bar(live.transfer.get()))}
            {move || export.value().get().map(|result| match result {
                Ok(done) => {
                    let secrets: Vec<String> = done.secrets.iter().map(|s| format!("{}/{}", s.environment, s.name)).collect();
                    view! {
                        <div data-testid="export-result">
                            <p>{format!("Exported {} records ({}) to {}", done.records, super::format::bytes(done.bytes), done.path)}</p>
                            {(!secrets.is_empty()).then(|| view! {
                                <p class="muted">{format!("Secret values stay here; set them again after an import: {}", secrets.join(", "))}</p>
                            })}
                        </div>
                    }.into_any()
                }
                Err(e) => view! { <p class="form-error" data-testid="export-error">{e.message}</p> }.into_any(),
            })}
        </section>
    }
}

fn progress_bar(progress: Option<TransferProgress>) -> impl IntoView {
    let (phase, records, total) = match &progress {
        Some(p) => (p.phase.as_str(), p.records, p.total),
        None => ("starting", 0, None),
    };
    let label = match total {
        Some(total) => format!("{phase}: {records} of {total} records"),
        None => format!("{phase}: {records} records"),
    };
    view! {
        <div class="form-row" data-testid="transfer-progress">
            <progress class="transfer-bar" max=total.unwrap_or(1).max(1) value=total.map(|_| records)></progress>
            <span class="muted">{label}</span>
        </div>
    }
}

fn summary(report: &ImportReport) -> String {
    let sum = |f: fn(&flightdeck_types::EntityCounts) -> u64| {
        report.entities.values().map(f).sum::<u64>()
    };
    format!(
        "Imported: {} created, {} updated, {} unchanged, {} skipped.",
        sum(|c| c.created),
        sum(|c| c.updated),
        sum(|c| c.unchanged),
        sum(|c| c.skipped)
    )
}

fn counts_table(report: &ImportReport, testid: &'static str) -> impl IntoView {
    let rows: Vec<_> = report
        .entities
        .iter()
        .filter(|(_, c)| c.created + c.updated + c.unchanged + c.skipped > 0)
        .map(|(entity, c)| {
            view! {
                <tr data-testid="transfer-row">
                    <td>{entity.replace('_', " ")}</td>
                    <td>{c.created}</td>
                    <td>{c.updated}</td>
                    <td>{c.unchanged}</td>
                    <td>{c.skipped}</td>
                </tr>
            }
        })
        .collect();
    view! {
        <table class="table" data-testid=testid>
            <thead><tr><th>"Entity"</th><th>"Created"</th><th>"Updated"</th><th>"Unchanged"</th><th>"Skipped"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

fn secrets_line(report: &ImportReport) -> Option<impl IntoView> {
    let names: Vec<String> = report
        .secrets_to_set
        .iter()
        .map(|s| format!("{}/{}", s.environment, s.name))
        .collect();
    (!names.is_empty()).then(|| {
        view! {
            <p class="muted" data-testid="import-secrets">
                {format!("Secrets to set again here (Environments): {}", names.join(", "))}
            </p>
        }
    })
}

/// A refusal: the archive's problems one per line (`nothing imported: N problem(s) in the
/// CSV: line 3 (column Status): ...; line 5 ...`), else the message as it is.
fn problems(message: &str) -> impl IntoView {
    // The engine's message reads `invalid file: nothing imported: ...`.
    let listed = message
        .split_once("nothing imported: ")
        .and_then(|(_, rest)| rest.split_once(": "));
    match listed {
        Some((head, list)) => {
            let items: Vec<_> = list
                .split("; ")
                .map(|p| view! { <li data-testid="import-problem">{p.to_string()}</li> })
                .collect();
            view! {
                <div class="form-error" data-testid="import-problems">
                    <p>{format!("Nothing imported: {head}.")}</p>
                    <ul>{items}</ul>
                </div>
            }
            .into_any()
        }
        None => {
            view! { <p class="form-error" data-testid="import-problems">{message.to_string()}</p> }
                .into_any()
        }
    }
}
