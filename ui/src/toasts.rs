//! Toasts: a line at the bottom right for a finished action or a background event (the shell's
//! notices: a run ended, an error escalated, a sync conflict), gone after
//! a few seconds, with Undo where the action allows it (archive, a status change). Ctrl+Z
//! undoes the newest toast that offers it.

use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;

/// How long a toast stays.
const SHOWN_FOR: Duration = Duration::from_secs(8);

/// What Undo runs. Not a `Callback`: those belong to the view that made them and go with it,
/// and a toast outlives the page its action was taken on.
type Undo = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
struct Toast {
    id: u64,
    text: String,
    undo: Option<Undo>,
}

/// The app's toasts (a context: [`provide_toasts`], [`use_toasts`]).
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    /// A toast that only says something.
    pub fn say(&self, text: impl Into<String>) {
        self.push(text.into(), None);
    }

    /// A toast whose Undo runs `undo` (once; the toast goes with it).
    pub fn with_undo(&self, text: impl Into<String>, undo: impl Fn() + Send + Sync + 'static) {
        self.push(text.into(), Some(Arc::new(undo)));
    }

    fn push(&self, text: String, undo: Option<Undo>) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| l.push(Toast { id, text, undo }));
        let list = self.list;
        set_timeout(move || list.update(|l| l.retain(|t| t.id != id)), SHOWN_FOR);
    }

    fn dismiss(&self, id: u64) {
        self.list.update(|l| l.retain(|t| t.id != id));
    }

    /// Undoes the newest toast that offers Undo; false when none does.
    pub fn undo_newest(&self) -> bool {
        let newest = self
            .list
            .get_untracked()
            .into_iter()
            .rev()
            .find(|t| t.undo.is_some());
        match newest {
            Some(Toast {
                id,
                undo: Some(undo),
                ..
            }) => {
                self.dismiss(id);
                undo();
                true
            }
            _ => false,
        }
    }
}

pub fn provide_toasts() -> Toasts {
    let toasts = Toasts {
        list: RwSignal::new(Vec::new()),
        next: StoredValue::new(0),
    };
    provide_context(toasts);
    toasts
}

pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

#[component]
pub fn ToastStack() -> impl IntoView {
    let toasts = use_toasts();
    // Background events (the shell's notices: a run ended, an error escalated) as toasts too.
    let live = crate::live::use_live();
    Effect::new(move |_| {
        if let Some(notice) = live.notice.get() {
            toasts.say(format!("{}: {}", notice.title, notice.body));
        }
    });
    view! {
        <div class="toasts" aria-live="polite">
            <For each=move || toasts.list.get() key=|t| t.id let:toast>
                <div class="toast" data-testid="toast">
                    <span data-testid="toast-text">{toast.text.clone()}</span>
                    {toast.undo.map(|undo| {
                        let id = toast.id;
                        view! {
                            <button class="button small" data-testid="toast-undo"
                                on:click=move |_| { toasts.dismiss(id); undo(); }>"Undo"</button>
                        }
                    })}
                    <button class="toast-close" aria-label="Dismiss" title="Dismiss"
                        on:click=move |_| toasts.dismiss(toast.id)>"×"</button>
                </div>
            </For>
        </div>
    }
}
