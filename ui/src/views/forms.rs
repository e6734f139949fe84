//! Form pieces shared by the views: an error shown beside the field it is about.

use leptos::prelude::*;

use crate::api::ApiError;

/// The message of `error` when it is about `field`, without the engine's `invalid FIELD: `
/// prefix: shown beside the field, it would name the field by its internal name
/// (`cron_expr`) rather than by the label the person typed into.
pub fn for_field(error: Option<ApiError>, field: &str) -> Option<String> {
    error
        .filter(|e| e.field.as_deref() == Some(field))
        .map(|e| {
            let prefix = format!("invalid {field}: ");
            e.message
                .strip_prefix(&prefix)
                .map(str::to_string)
                .unwrap_or(e.message)
        })
}

/// The message of `error` when it is about none of `fields` (shown under the form).
pub fn for_form(error: Option<ApiError>, fields: &[&str]) -> Option<String> {
    error
        .filter(|e| e.field.as_deref().is_none_or(|f| !fields.contains(&f)))
        .map(|e| e.message)
}

/// `<p class="field-error" data-testid="field-error-{testid}">` when `message` is some.
#[component]
pub fn FieldError(
    testid: &'static str,
    #[prop(into)] message: Signal<Option<String>>,
) -> impl IntoView {
    move || {
        message.get().map(|m| {
            view! {
                <p class="field-error" data-testid=format!("field-error-{testid}")>{m}</p>
            }
        })
    }
}

/// A fork's edit (a workflow step's or a plain run's): the field to run with instead
/// (`shell`, `env.NAME`, `http.url`, `agent`, ...) and its text; `on_fork` gets the edits
/// (none when the field is left empty: it runs as it was). Test ids `{testid}-field`,
/// `{testid}-text` and `{testid}-submit`.
#[component]
pub fn ForkEdit(
    testid: &'static str,
    pending: Signal<bool>,
    on_fork: impl Fn(Vec<(String, String)>) + 'static,
) -> impl IntoView {
    let field = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let submit = move |_| {
        let name = field.get_untracked().trim().to_string();
        on_fork(match name.is_empty() {
            true => Vec::new(),
            false => vec![(name, text.get_untracked())],
        });
    };
    view! {
        <div class="form" data-testid=format!("{testid}-form")>
            <label>"Field to edit"
                <input data-testid=format!("{testid}-field") placeholder="shell, env.NAME, http.url, agent…"
                    prop:value=move || field.get()
                    on:input=move |ev| field.set(event_target_value(&ev)) />
            </label>
            <label>"Run it with"
                <textarea data-testid=format!("{testid}-text") rows="3"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            </label>
            <button class="button primary" data-testid=format!("{testid}-submit")
                disabled=move || pending.get()
                on:click=submit>"Fork"</button>
        </div>
    }
}

/// A run row's box to tick for Compare: `picked` keeps the two newest ticks.
#[component]
pub fn CompareTick(id: String, picked: RwSignal<Vec<String>>) -> impl IntoView {
    let checked_id = id.clone();
    let tick = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        picked.update(|p| {
            p.retain(|x| x != &id);
            if on {
                p.push(id.clone());
                while p.len() > 2 {
                    p.remove(0);
                }
            }
        });
    };
    view! {
        <td on:click=|ev| ev.stop_propagation()>
            <input type="checkbox" data-testid="compare-pick" aria-label="Compare this run"
                prop:checked=move || picked.get().contains(&checked_id)
                on:change=tick />
        </td>
    }
}

/// "Compare the two ticked": `open` gets the two ids once two are ticked.
#[component]
pub fn CompareButton(
    picked: RwSignal<Vec<String>>,
    open: impl Fn(String, String) + 'static,
) -> impl IntoView {
    view! {
        <div class="row">
            <button class="button small" data-testid="compare-open"
                disabled=move || picked.get().len() != 2
                title="Tick two runs to compare them"
                on:click=move |_| {
                    if let [a, b] = picked.get_untracked().as_slice() {
                        open(a.clone(), b.clone());
                    }
                }>"Compare the two ticked"</button>
        </div>
    }
}
