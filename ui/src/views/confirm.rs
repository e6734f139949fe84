//! A destructive action in two steps: a button that asks, then the question with Delete and
//! Cancel beside it (and whatever else the caller offers there).

use leptos::prelude::*;

/// `label` and `testid`: the button that asks. The question's parts are found in tests as
/// `confirm-{scope}delete-prompt`, `confirm-{scope}delete` and `cancel-{scope}delete`.
#[component]
pub fn ConfirmDelete(
    label: &'static str,
    testid: &'static str,
    scope: &'static str,
    question: String,
    /// Disables Delete while true (the action, or another one on the same thing, is running).
    pending: Signal<bool>,
    on_confirm: Callback<()>,
    /// Shown after Delete and Cancel while the question stands.
    #[prop(optional, into)]
    extra: Option<ViewFn>,
    /// The confirming button's label when not "Delete" (say, "Leave").
    #[prop(optional)]
    confirm: Option<&'static str>,
) -> impl IntoView {
    let confirm = confirm.unwrap_or("Delete");
    let confirming = RwSignal::new(false);
    move || {
        if confirming.get() {
            let extra = extra.clone();
            view! {
                <span class="confirm" data-testid=format!("confirm-{scope}delete-prompt")>{question.clone()}</span>
                <button class="button danger" data-testid=format!("confirm-{scope}delete")
                    disabled=move || pending.get() on:click=move |_| on_confirm.run(())>{confirm}</button>
                <button class="button" data-testid=format!("cancel-{scope}delete")
                    on:click=move |_| confirming.set(false)>"Cancel"</button>
                {extra.map(|extra| extra.run())}
            }
            .into_any()
        } else {
            view! {
                <button class="button danger" data-testid=testid
                    on:click=move |_| confirming.set(true)>{label}</button>
            }
            .into_any()
        }
    }
}
