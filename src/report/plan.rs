//! A sync plan for people (text) and scripts (JSON). Sources and actions only, never values.

use serde_json::{Value, json};

use crate::engine::{Action, FieldPlan, Plan, Source};

fn describe(source: &Source) -> String {
    match source {
        Source::Keep { .. } => "keep the recorded value".into(),
        Source::Recorded => "keep the recorded value (no target here can read it back)".into(),
        Source::Undecided => "undecided (the targets disagree)".into(),
        Source::Lost => "lost (a one_time value no target holds any more)".into(),
        Source::Static => "static value".into(),
        Source::Environment { variable } => format!("from environment variable {variable}"),
        Source::Generate { reason } => format!("generate ({reason})"),
        Source::Adopt { from } => format!("adopt the value already in {}", from.join(", ")),
        Source::Unread { at } => {
            format!("unknown (held in {}, which never give it back)", at.join(", "))
        }
        Source::Unreachable { at } => format!("unknown ({} could not be read)", at.join(", ")),
    }
}

pub(super) fn describe_fields(fields: &[FieldPlan]) -> String {
    match fields {
        [only] if only.name == crate::secretfile::SINGLE_FIELD => describe(&only.source),
        _ => fields
            .iter()
            .map(|f| format!("{}: {}", f.name, describe(&f.source)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn marker(action: Action) -> char {
    match action {
        Action::Create => '+',
        Action::Update => '~',
        Action::Unchanged => '=',
        Action::Skip => '!',
    }
}

pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    for secret in &plan.secrets {
        out.push_str(&format!("{}: {}\n", secret.name, describe_fields(&secret.fields)));
        if let Some(conflict) = &secret.conflict {
            out.push_str(&format!("  conflict: {conflict}\n"));
        }
        if secret.targets.is_empty() {
            out.push_str("  (no targets)\n");
        }
        for target in &secret.targets {
            out.push_str(&format!(
                "  {} {:<9} {} ({})\n",
                marker(target.action),
                target.action.name(),
                target.id,
                target.reason
            ));
        }
    }
    for (name, targets) in &plan.undeclared {
        let held = match targets.is_empty() {
            true => String::new(),
            false => format!("; its value may still be in {}", targets.join(", ")),
        };
        out.push_str(&format!(
            "{name}: drop from the lockfile (the Secretfile no longer declares it{held})\n"
        ));
    }
    out.push_str(&format!(
        "\nPlan: {} to create, {} to update, {} unchanged, {} skipped.\n",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Unchanged),
        plan.count(Action::Skip),
    ));
    out
}

fn source_json(source: &Source) -> Value {
    match source {
        Source::Keep { from } => json!({"kind": "keep", "from": from}),
        Source::Recorded => json!({"kind": "recorded"}),
        Source::Undecided => json!({"kind": "undecided"}),
        Source::Lost => json!({"kind": "lost"}),
        Source::Static => json!({"kind": "static"}),
        Source::Environment { variable } => json!({"kind": "environment", "variable": variable}),
        Source::Generate { reason } => json!({"kind": "generate", "reason": reason}),
        Source::Adopt { from } => json!({"kind": "adopt", "from": from}),
        Source::Unread { at } => json!({"kind": "unread", "at": at}),
        Source::Unreachable { at } => json!({"kind": "unreachable", "at": at}),
    }
}

pub fn plan_json(plan: &Plan) -> String {
    let mut text =
        serde_json::to_string_pretty(&plan_value(plan)).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// The document `sync --dry-run --format json` prints, for embedding in another.
pub fn plan_value(plan: &Plan) -> Value {
    let secrets: Vec<Value> = plan
        .secrets
        .iter()
        .map(|secret| {
            json!({
                "name": secret.name,
                "fields": secret.fields.iter().map(|f| json!({
                    "name": f.name,
                    "source": source_json(&f.source),
                })).collect::<Vec<_>>(),
                "targets": secret.targets.iter().map(|t| json!({
                    "id": t.id,
                    "action": t.action.name(),
                    "reason": t.reason,
                })).collect::<Vec<_>>(),
                "conflict": secret.conflict,
            })
        })
        .collect();
    let summary = json!({
        "create": plan.count(Action::Create),
        "update": plan.count(Action::Update),
        "unchanged": plan.count(Action::Unchanged),
        "skip": plan.count(Action::Skip),
    });
    let dropped: Vec<&String> = plan.undeclared.iter().map(|(name, _)| name).collect();
    json!({"secrets": secrets, "dropped": dropped, "summary": summary})
}
