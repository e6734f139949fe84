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
