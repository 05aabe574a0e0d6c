//! `secretzero test`: whether every configured provider can be used, before a sync finds out.
//!
//! For each provider (and each remote target type that uses it): credentials found, the
//! endpoint reachable, and the permissions a sync needs, each shown by a harmless call (a
//! list, a describe, a capabilities check). Nothing is written.

use clap::Args;

use super::{CliError, Exit, GlobalArgs, Ui, open};

#[derive(Debug, Args)]
pub struct TestArgs {}

pub fn run(global: &GlobalArgs, _: &TestArgs, ui: &Ui) -> Result<Exit, CliError> {
    let opened = open(global)?;
    let file = &opened.file;
    let mut failed = false;

    // Target types this build cannot reach are named first: nothing can be checked for them.
    let mut unsupported = Vec::new();
    for secret in file.secrets.values() {
        for target in &secret.targets {
            let crate::secretfile::TargetKind::Remote(remote) = &target.kind else { continue };
            if !supported(remote.kind) && !unsupported.contains(&remote.kind) {
                unsupported.push(remote.kind);
            }
        }
    }
    for kind in unsupported {
        failed = true;
        let how = match kind.feature() {
            Some(feature) => format!("; build it with `--features {feature}`"),
            None => String::new(),
        };
        ui.failure(&format!("{}: this build has no support for it{how}", kind.name()), None);
    }

    let auth = probe(file, ui, &mut failed);
    if auth {
        return Ok(Exit::Auth);
    }
    Ok(if failed { Exit::Failure } else { Exit::Success })
}

#[cfg(feature = "remote")]
fn supported(kind: crate::secretfile::RemoteKind) -> bool {
    crate::target::RemoteTargets::supports(kind)
}

#[cfg(not(feature = "remote"))]
fn supported(_: crate::secretfile::RemoteKind) -> bool {
    false
}

/// Refusals printed per provider and target type; more are counted.
#[cfg(feature = "remote")]
const MAX_REFUSALS: usize = 20;

/// Prints one line per provider and target type, and one per refusal; returns whether any
/// failed to authenticate.
#[cfg(feature = "remote")]
fn probe(file: &crate::secretfile::Secretfile, ui: &Ui, failed: &mut bool) -> bool {
    let mut remote = crate::target::RemoteTargets::new(&file.providers);
    let secrets: Vec<&crate::secretfile::Secret> = file.secrets.values().collect();
    let probes = remote.probe(&secrets);
    if probes.is_empty() && file.providers.is_empty() {
        ui.info("No providers to check: the Secretfile declares none and no remote target.");
    }
    for probe in &probes {
        let what = format!(
            "provider `{}` ({}, {} target{})",
            probe.provider,
            probe.kind.name(),
            probe.targets,
            if probe.targets == 1 { "" } else { "s" }
        );
        let checks = match &probe.outcome {
            Ok(checks) => checks,
            Err(error) => {
                *failed = true;
                ui.failure(&format!("{what}: {error}"), None);
                continue;
            }
        };
        let seen: Vec<&str> =
            checks.iter().filter_map(|c| c.as_ref().ok()).map(String::as_str).collect();
        let mut refused: Vec<String> = Vec::new();
        for error in checks.iter().filter_map(|c| c.as_ref().err()) {
            let text = error.to_string();
            if !refused.contains(&text) {
                refused.push(text);
            }
        }
        if refused.is_empty() {
            ui.done(&format!("{what}: {}", seen.join("; ")));
            continue;
        }
        // Every refusal is named (each object or scope may need its own fix), up to a screenful.
        *failed = true;
        for text in refused.iter().take(MAX_REFUSALS) {
            ui.failure(&format!("{what}: {text}"), None);
        }
        if refused.len() > MAX_REFUSALS {
            ui.failure(&format!("{what}: and {} more refused", refused.len() - MAX_REFUSALS), None);
        }
        if !seen.is_empty() {
            ui.info(&format!("  passed: {}", seen.join("; ")));
        }
    }
    remote.auth_failure().is_some()
}

#[cfg(not(feature = "remote"))]
fn probe(file: &crate::secretfile::Secretfile, ui: &Ui, failed: &mut bool) -> bool {
    for provider in file.providers.values() {
        *failed = true;
        ui.failure(
            &format!(
                "provider `{}` ({}): this build has no remote providers; build with `--features \
                 all`",
                provider.name,
                provider.kind.name()
            ),
            None,
        );
    }
    false
}
