//! Sync: the live status, joining a server, leaving it (after asking), and the conflict log
//! with restore.

use flightdeck_types::SyncInfo;
use leptos::prelude::*;

use super::forms::{for_field, for_form, FieldError};
use crate::api;
use crate::live::use_live;

#[component]
pub fn SyncView() -> impl IntoView {
    let live = use_live();
    // Here, not in the status panel: the panel is redrawn at every status event (the round's
    // own among them), and the round's result must outlive that.
    let round: SyncRoundAction = Action::new_local(|_: &()| api::sync_now());
    // Here too: the leave's answer is shown over the join form that replaces the status.
    let leave: LeaveAction = Action::new_local(|_: &()| api::leave_sync());
    view! {
        <section class="view" data-testid="sync">
            <h1>"Sync"</h1>
            {move || leave.value().get().and_then(Result::ok).map(|left| view! { <Left left=left /> })}
            {move || match live.sync.get() {
                None => view! { <p class="loading">"Reading the sync status…"</p> }.into_any(),
                Some(info) if info.joined => view! { <Status info=info round=round leave=leave /> <Devices /> <Conflicts /> }.into_any(),
                Some(_) => view! { <JoinForm /> }.into_any(),
            }}
        </section>
    }
}

type LeaveAction = Action<(), Result<flightdeck_types::SyncLeft, api::ApiError>>;

/// What the leave did: the server told or not, and what stayed only here.
#[component]
fn Left(left: flightdeck_types::SyncLeft) -> impl IntoView {
    let mut text = format!(
        "Left {}: this device no longer syncs; its data stays here.",
        left.server_url
    );
    if left.unpushed_cells > 0 {
        text.push_str(&format!(
            " {} changes never reached the server and stay only on this device.",
            left.unpushed_cells
        ));
    }
    let warning = left.server_error.map(|e| {
        format!(
            "The server could not be told ({e}); its token for this device works there until \
             its admin revokes device {}.",
            left.device_id.unwrap_or_else(|| "(unknown)".into())
        )
    });
    view! {
        <p class="notice" data-testid="sync-left">{text}</p>
        {warning.map(|w| view! { <p class="form-error" data-testid="sync-left-warning">{w}</p> })}
    }
}

/// Leave…, then the question: what stays and what stops.
#[component]
fn Leave(server: String, pending: usize, leave: LeaveAction) -> impl IntoView {
    let mut question = format!(
        "Leave {server}? This device stops syncing and forgets the server; its data stays here."
    );
    if pending > 0 {
        question.push_str(&format!(
            " {pending} changes not pushed yet will stay only on this device."
        ));
    }
    view! {
        <super::confirm::ConfirmDelete label="Leave…" testid="sync-leave" scope="sync-" confirm="Leave"
            question=question pending=leave.pending().into()
            on_confirm=Callback::new(move |()| { leave.dispatch(()); }) />
        {move || leave.value().get().and_then(Result::err).map(|e| view! {
            <span class="form-error" data-testid="sync-leave-error">{e.message}</span>
        })}
    }
}

#[component]
fn Status(info: SyncInfo, round: SyncRoundAction, leave: LeaveAction) -> impl IntoView {
    let server = info.server_url.clone().unwrap_or_default();
    let online = match info.online {
        Some(true) => "Online",
        Some(false) => "Offline",
        None => "Connecting…",
    };
    view! {
        <section class="panel" data-testid="sync-status">
            <dl class="facts">
                <dt>"Server"</dt><dd>{info.server_url.unwrap_or_default()}</dd>
                <dt>"Workspace"</dt><dd>{info.workspace_name.unwrap_or_default()}</dd>
                <dt>"State"</dt><dd data-testid="sync-state">{online}</dd>
                <dt>"Pending changes"</dt><dd>{info.pending_cells}</dd>
                <dt>"Last sync"</dt><dd data-testid="sync-last">{info.last_sync_at.map(super::format::local_time).unwrap_or_else(|| "never".into())}</dd>
                <dt>"This device"</dt><dd>{info.device_id}</dd>
            </dl>
            <div class="form-row">
                <SyncNow round=round />
                <Leave server=server pending=info.pending_cells leave=leave />
            </div>
            {info.last_error.map(|e| view! { <p class="form-error">{e}</p> })}
            {info.newer_version_notice.map(|n| view! { <p class="form-error" data-testid="sync-newer-version">{n}</p> })}
            {info.server_loss_notice.map(|n| view! { <p class="form-error" data-testid="sync-server-loss">{n}</p> })}
            {info.clock_notice.map(|n| view! { <p class="form-error" data-testid="sync-clock">{n}</p> })}
        </section>
    }
}

type SyncRoundAction = Action<(), Result<flightdeck_types::SyncRound, api::ApiError>>;

/// A round now, and what it did.
#[component]
fn SyncNow(round: SyncRoundAction) -> impl IntoView {
    view! {
        <div class="form-row">
            <button class="button" data-testid="sync-now" disabled=move || round.pending().get()
                on:click=move |_| { round.dispatch(()); }>
                {move || if round.pending().get() { "Syncing…" } else { "Sync now" }}
            </button>
            {move || round.value().get().map(|result| match result {
                Ok(r) => view! {
                    <span class="muted" data-testid="sync-now-result">
                        {format!("Pushed {} cells, pulled {}, {} conflicts.", r.pushed_cells, r.pulled_cells, r.conflicts)}
                    </span>
                }.into_any(),
                Err(e) => view! { <span class="form-error" data-testid="sync-now-error">{e.message}</span> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn JoinForm() -> impl IntoView {
    let join = Action::new_local(|(url, token): &(String, String)| {
        api::join_sync(url.clone(), token.clone())
    });
    let url = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let error = move || join.value().get().and_then(Result::err);
    view! {
        <section class="panel">
            <div class="empty-state">
                <p class="empty-title">"This workspace syncs with no server"</p>
                <p class="empty-hint">
                    "Everything works offline. To share it with your other devices, join a "
                    "Flightdeck sync server with the join token its admin gave you."
                </p>
            </div>
            <form class="editor" data-testid="join-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                join.dispatch((url.get_untracked(), token.get_untracked()));
            }>
                <label class="field">
                    <span class="label">"Server URL"</span>
                    <input class="input" data-testid="join-url" placeholder="https://sync.example.com"
                        prop:value=url on:input=move |ev| url.set(event_target_value(&ev)) />
                    <FieldError testid="url" message=Signal::derive(move || for_field(error(), "url")) />
                </label>
                <label class="field">
                    <span class="label">"Join token"</span>
                    <input class="input" data-testid="join-token" type="password"
                        prop:value=token on:input=move |ev| token.set(event_target_value(&ev)) />
                    <FieldError testid="token" message=Signal::derive(move || for_field(error(), "token")) />
                </label>
                <button class="button primary" type="submit" data-testid="join-submit"
                    disabled=move || join.pending().get()>"Join"</button>
                {move || for_form(error(), &["url", "token"]).map(|m| view! { <p class="form-error">{m}</p> })}
            </form>
        </section>
    }
}

/// The workspace's devices, and a Trust button for each other one: this device runs only what
/// it, or a device it trusts, wrote.
#[component]
fn Devices() -> impl IntoView {
    let set_trust = Action::new_local(|(site, trusted): &(String, bool)| {
        api::set_device_trust(site.clone(), *trusted)
    });
    let devices = LocalResource::new(move || {
        set_trust.version().get();
        api::list_devices()
    });
    view! {
        <section class="panel" data-testid="devices">
            <h2>"Devices"</h2>
            <p class="empty-hint">
                "This device runs only what it, or a device you trust here, wrote. Trust your "
                "own devices; the others' runs are refused, with an error naming them."
            </p>
            {move || set_trust.value().get().and_then(Result::err).map(|e| view! { <p class="form-error">{e.message}</p> })}
            <Transition fallback=|| "Loading…">
                {move || Suspend::new(async move {
                    devices.await.map(|list| view! {
                        <table class="table">
                            <thead><tr><th>"Name"</th><th>"Site id"</th><th>"Last seen"</th><th>"Trust"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|d| {
                                    let site = d.site_id.clone();
                                    let trusted = d.trusted;
                                    let action = if d.this_device {
                                        view! { <span class="muted">"this device"</span> }.into_any()
                                    } else {
                                        view! {
                                            <button class="button" data-testid="device-trust"
                                                on:click=move |_| { set_trust.dispatch((site.clone(), !trusted)); }>
                                                {if trusted { "Untrust" } else { "Trust" }}
                                            </button>
                                        }.into_any()
                                    };
                                    let (site_attr, site_text) = (d.site_id.clone(), d.site_id);
                                    let trusted_attr = if trusted { "true" } else { "false" };
                                    let name = d.name.unwrap_or_else(|| "-".into());
                                    let seen = d.last_seen_at.unwrap_or_else(|| "-".into());
                                    view! {
                                        <tr data-testid="device-row" data-site=site_attr data-trusted=trusted_attr>
                                            <td>{name}</td>
                                            <td class="mono">{site_text}</td>
                                            <td>{seen}</td>
                                            <td>{action}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Conflicts() -> impl IntoView {
    let live = use_live();
    let restore = Action::new_local(|id: &i64| api::restore_conflict(*id));
    let conflicts = LocalResource::new(move || {
        live.sync.get();
        restore.version().get();
        api::list_conflicts()
    });
    view! {
        <section class="panel" data-testid="conflicts">
            <h2>"Conflicts"</h2>
            <p class="muted" data-testid="conflict-rule">"When two devices change the same field, the later change wins on every device (an edit made after seeing another always wins, whatever the clocks say). A device whose clock is more than 5 minutes off the server's stamps its changes with the server's time instead, so a clock that runs ahead cannot win every later edit. A change of yours that a later one replaced before the server had it is kept here, to restore."</p>
            {move || restore.value().get().and_then(Result::err).map(|e| view! { <p class="form-error">{e.message}</p> })}
            <Transition fallback=|| "Loading…">
                {move || Suspend::new(async move {
                    conflicts.await.map(|list| {
                        if list.is_empty() {
                            return view! {
                                <p class="empty-hint">"No conflicts: no other device has overwritten a change of yours."</p>
                            }.into_any();
                        }
                        view! {
                            <table class="table">
                                <thead><tr><th>"Where"</th><th>"Yours"</th><th>"Kept"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|c| {
                                        let id = c.id;
                                        view! {
                                            <tr data-testid="conflict-row">
                                                <td>{format!("{}.{}", c.table, c.column)}</td>
                                                <td>{c.local_value}</td>
                                                <td>{c.remote_value}</td>
                                                <td>{if c.restored {
                                                    view! { <span class="muted">"restored"</span> }.into_any()
                                                } else {
                                                    view! { <button class="button" data-testid="conflict-restore"
                                                        on:click=move |_| { restore.dispatch(id); }>"Restore mine"</button> }.into_any()
                                                }}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    })
                })}
            </Transition>
        </section>
    }
}
