//! An environment's Delete, as `flightdeck env rm` (issue 21, item 9): it asks first; an
//! environment that tasks still use is refused with the engine's reason, and "Delete anyway"
//! deletes it and clears theirs (`env rm --force`).

use leptos::prelude::*;

use crate::api;

#[component]
pub fn EnvironmentDelete(id: String, name: String) -> impl IntoView {
    let delete = Action::new_local(move |force: &bool| api::delete_environment(id.clone(), *force));
    let failed = move || delete.value().get().and_then(Result::err);
    // Refused because tasks use it: the engine says how many; the app offers the forced delete.
    let refused = move || failed().is_some_and(|e| e.code == "refused");
    view! {
        <div class="row task-actions" data-testid="env-actions">
            <super::confirm::ConfirmDelete label="Delete environment…" testid="delete-env" scope="env-"
                question=format!("Delete the environment “{name}” and its secrets on this device, on every synced device? This cannot be undone.")
                pending=delete.pending().into() on_confirm=Callback::new(move |()| { delete.dispatch(false); })
                extra=move || refused().then(|| view! {
                    <button class="button danger" data-testid="force-env-delete"
                        title="Delete it and leave the tasks that use it without an environment"
                        disabled=move || delete.pending().get()
                        on:click=move |_| { delete.dispatch(true); }>"Delete anyway"</button>
                }) />
            {move || failed().map(|e| view! { <p class="form-error" data-testid="env-delete-error">{e.message}</p> })}
        </div>
    }
}
