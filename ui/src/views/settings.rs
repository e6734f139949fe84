//! Settings: the theme (saved by the shell beside the workspace), memory search's relevance
//! floor, import and export, and what this window works on.

use flightdeck_types::{Settings, Theme};
use leptos::prelude::*;

use super::search_settings::SearchSettings;
use super::transfer::ImportExport;
use crate::api;

#[component]
pub fn SettingsView() -> impl IntoView {
    let theme = expect_context::<RwSignal<Theme>>();
    let save = Action::new_local(|settings: &Settings| api::save_settings(settings.clone()));
    let info = LocalResource::new(api::app_info);
    let choose = move |choice: Theme| {
        theme.set(choice);
        save.dispatch(Settings { theme: choice });
    };
    view! {
        <section class="view" data-testid="settings">
            <h1>"Settings"</h1>
            <section class="panel">
                <h2>"Theme"</h2>
                <div class="toggle" role="radiogroup">
                    {Theme::ALL.into_iter().map(|choice| view! {
                        <button
                            class="button"
                            data-testid=format!("theme-{}", choice.as_str())
                            class:active=move || theme.get() == choice
                            on:click=move |_| choose(choice)
                        >
                            {match choice { Theme::Light => "Light", Theme::Dark => "Dark", Theme::System => "System" }}
                        </button>
                    }).collect_view()}
                </div>
                {move || save.value().get().and_then(Result::err).map(|e| view! { <p class="form-error">{e.message}</p> })}
            </section>
            <SearchSettings />
            <ImportExport />
            <section class="panel">
                <h2>"Workspace"</h2>
                <Transition fallback=|| "Loading…">
                    {move || Suspend::new(async move {
                        info.await.map(|info| view! {
                            <dl class="facts" data-testid="workspace-info">
                                <dt>"Workspace"</dt><dd>{info.workspace}</dd>
                                <dt>"Database"</dt><dd>{info.database}</dd>
                                <dt>"Device"</dt><dd>{info.device_id.unwrap_or_else(|| "(store not open)".into())}</dd>
                                <dt>"Version"</dt><dd>{info.version}</dd>
                            </dl>
                        })
                    })}
                </Transition>
            </section>
        </section>
    }
}
