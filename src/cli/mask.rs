//! Masking values in a GitHub Actions log. When SecretZero runs in a workflow
//! (`GITHUB_ACTIONS=true`), `sync` and `rotate` register every sensitive value they handle with
//! `::add-mask::` before any target is written or anything else is printed, so that a later
//! step which prints the value by mistake shows `***` instead.

use secrecy::ExposeSecret;

use super::Ui;
use crate::secretfile::Secret;
use crate::target::SecretData;

/// Whether this process runs as a GitHub Actions step.
pub fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// The observer that [`crate::engine::apply`] calls with each value: masks it in a GitHub
/// Actions log, and does nothing elsewhere.
pub fn observer(ui: &Ui) -> impl FnMut(&Secret, &SecretData) + '_ {
    let github = in_github_actions();
    move |secret, value| {
        if github {
            mask(ui, secret, value);
        }
    }
}

fn mask(ui: &Ui, secret: &Secret, value: &SecretData) {
    for (name, field_value) in &value.fields {
        let text = field_value.expose_secret();
        let sensitive = secret.fields.iter().find(|f| &f.name == name).is_none_or(|f| f.sensitive);
        if !sensitive || text.is_empty() {
            continue;
        }
        // The runner masks what one command names, and a command ends at the line break: the
        // lines of a longer value would be masked one by one, each also wherever it appears
        // alone, and GitHub documents that as unreliable.
        if text.contains(['\n', '\r']) {
            ui.warn(&format!(
                "{}: the value has several lines, which GitHub Actions cannot mask; SecretZero \
                 never prints it, but no later step may print it either",
                field_label(secret, name)
            ));
            continue;
        }
        ui.data(&format!("::add-mask::{}\n", text.replace('%', "%25")));
    }
}

fn field_label(secret: &Secret, field: &str) -> String {
    match secret.fields.len() {
        1 => format!("secret `{}`", secret.name),
        _ => format!("field `{field}` of secret `{}`", secret.name),
    }
}
