//! Custom policies under `policies:`: their shape, checked here so that `validate` reports a
//! broken policy at its line; `secretzero policy` evaluates them.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::*;
use crate::report::Severity;

const POLICY_KINDS: &[&str] = &["rotation", "access", "generator"];
const COMMON_KEYS: &[&str] = &["kind", "description", "severity", "secrets"];
const SEVERITIES: &[&str] = &["error", "warning", "info"];

impl Walker {
    /// A mapping of policy name to policy, or a list of policies that each have a `name`.
    pub(super) fn policies(&mut self, node: &Node) -> Vec<Policy> {
        let mut policies: Vec<Policy> = Vec::new();
        match &node.kind {
            Kind::Null => {}
            Kind::Map(entries) => {
                self.duplicates(entries, "`policies`");
                for (key, value) in entries {
                    policies.extend(self.policy(&key.name, key.loc, value, None));
                }
            }
            Kind::Seq(items) => {
                for item in items {
                    let name = match &item.kind {
                        Kind::Map(entries) => entries.iter().find(|(k, _)| k.name == "name"),
                        _ => None,
                    };
                    let Some((_, name_node)) = name else {
                        self.error("secretfile/missing-key", item.loc, "a policy has no `name`".into())
                            .set_help("give each policy in the list a `name`, or write `policies` as a mapping of name to policy");
                        continue;
                    };
                    let Some(name) = self.string(name_node, "a policy name") else { continue };
                    if let Some(earlier) = policies.iter().find(|p| p.name == name) {
                        let earlier = earlier.loc;
                        self.error(
                            "secretfile/duplicate-key",
                            name_node.loc,
                            format!("policy `{name}` is defined twice"),
                        )
                        .related
                        .push((earlier, "first defined here".into()));
                        continue;
                    }
                    policies.extend(self.policy(&name, name_node.loc, item, Some("name")));
                }
            }
            _ => {
                self.type_error::<()>(node, "`policies`", "a mapping of name to policy");
            }
        }
        policies
    }

    fn policy(&mut self, name: &str, loc: Loc, node: &Node, extra: Option<&str>) -> Option<Policy> {
        let what = format!("policy `{name}`");
        let entries = self.entries(node, &what)?;
        let kind_node = entries.iter().find(|(k, _)| k.name == "kind").map(|(_, v)| v);
        let Some(kind_node) = kind_node else {
            self.error("secretfile/missing-key", loc, format!("{what} has no `kind`"))
                .set_help(format!("set `kind:` to one of: {}", POLICY_KINDS.join(", ")));
            return None;
        };
        let kind = self.string(kind_node, "the policy `kind`")?;
        let own: &[&str] = match kind.as_str() {
            "rotation" => &["require", "max_age"],
            "access" => &["environments", "allowed_targets", "denied_targets"],
            "generator" => &["min_length", "required_classes"],
            _ => {
                self.unknown(
                    "secretfile/unknown-policy-kind",
                    kind_node.loc,
                    format!("{what} has unknown kind `{kind}`"),
                    &kind,
                    POLICY_KINDS,
                );
                return None;
            }
        };
        let allowed: Vec<&str> = COMMON_KEYS.iter().chain(own).chain(&extra).copied().collect();
        let object = self.object(node, &format!("the {kind} {what}"), &allowed)?;
        let before = self.findings.len();

        let description = object.get("description").and_then(|n| self.string(n, "`description`"));
        // A bad severity is reported, and the rest of the policy still checked.
        let severity = object.get("severity").and_then(|n| self.severity(n));
        let severity = severity.unwrap_or(Severity::Error);
        let secrets = object.get("secrets").and_then(|n| self.globs(n, "`secrets`"));
        let rule = match kind.as_str() {
            "rotation" => {
                let require = object.get("require").and_then(|n| self.bool(n, "`require`"));
                let max_age = object.get("max_age").and_then(|n| {
                    let text = self.string(n, "`max_age`")?;
                    match crate::rotation::Period::parse(&text) {
                        Ok(period) => Some((period, n.loc)),
                        Err(message) => {
                            self.error("secretfile/rotation-period", n.loc, message);
                            None
                        }
                    }
                });
                let require = require.unwrap_or(true);
                if !require && max_age.is_none() && object.get("max_age").is_none() {
                    self.error("secretfile/empty", loc, format!("{what} checks nothing"))
                        .set_help("set `require: true` or a `max_age` such as 90d");
                }
                PolicyRule::Rotation { require, max_age }
            }
            "access" => {
                let environments =
                    object.get("environments").and_then(|n| self.globs(n, "`environments`"));
                let allowed = object
                    .get("allowed_targets")
                    .map(|n| self.target_types(n, "`allowed_targets`"));
                let denied = object
                    .get("denied_targets")
                    .map(|n| self.target_types(n, "`denied_targets`"))
                    .unwrap_or_default();
                if object.get("allowed_targets").is_none() && object.get("denied_targets").is_none()
                {
                    self.error("secretfile/empty", loc, format!("{what} checks nothing"))
                        .set_help("list `allowed_targets` or `denied_targets` by target type");
                }
                PolicyRule::Access { environments, allowed, denied }
            }
            _ => {
                let min_length = object
                    .get("min_length")
                    .and_then(|n| self.count(n, "`min_length`", generate::MAX_LENGTH));
                let classes =
                    object.get("required_classes").map(|n| self.classes(n)).unwrap_or_default();
                if object.get("min_length").is_none() && object.get("required_classes").is_none() {
                    self.error("secretfile/empty", loc, format!("{what} checks nothing"))
                        .set_help("set `min_length` or `required_classes`");
                }
                PolicyRule::Generator { min_length, classes }
            }
        };
        (self.findings.len() == before).then(|| Policy {
            name: name.to_string(),
            description,
            severity,
            secrets,
            rule,
            loc,
        })
    }

    fn severity(&mut self, node: &Node) -> Option<Severity> {
        let text = self.string(node, "`severity`")?;
        match text.as_str() {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => {
                self.unknown(
                    "secretfile/unknown-severity",
                    node.loc,
                    format!("unknown severity `{text}`"),
                    &text,
                    SEVERITIES,
                );
                None
            }
        }
    }

    /// A list of strings, or one string.
    fn string_list(&mut self, node: &Node, what: &str) -> Vec<(String, Loc)> {
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|item| {
                    Some((self.string(item, &format!("an item of {what}"))?, item.loc))
                })
                .collect(),
            _ => self.string(node, what).map(|text| vec![(text, node.loc)]).unwrap_or_default(),
        }
    }

    /// Glob patterns such as `db_*`, matched against whole names.
    fn globs(&mut self, node: &Node, what: &str) -> Option<GlobSet> {
        let mut builder = GlobSetBuilder::new();
        let mut complete = true;
        for (pattern, loc) in self.string_list(node, what) {
            match Glob::new(&pattern) {
                Ok(glob) => {
                    builder.add(glob);
                }
                Err(error) => {
                    self.error(
                        "secretfile/pattern",
                        loc,
                        format!("`{pattern}` in {what} is not a valid pattern: {}", error.kind()),
                    );
                    complete = false;
                }
            }
        }
        if !complete {
            return None;
        }
        match builder.build() {
            Ok(set) => Some(set),
            Err(error) => {
                self.error("secretfile/pattern", node.loc, format!("{what}: {error}"));
                None
            }
        }
    }

    fn target_types(&mut self, node: &Node, what: &str) -> Vec<String> {
        let known: Vec<&str> =
            std::iter::once("local-file").chain(RemoteKind::ALL.iter().map(|k| k.name())).collect();
        let mut types = Vec::new();
        for (name, loc) in self.string_list(node, what) {
            if known.contains(&name.as_str()) {
                types.push(name);
            } else {
                self.unknown(
                    "secretfile/unknown-target",
                    loc,
                    format!("unknown target type `{name}` in {what}"),
                    &name,
                    &known,
                );
            }
        }
        types
    }

    fn classes(&mut self, node: &Node) -> Vec<CharClass> {
        let names: Vec<&str> = CharClass::ALL.iter().map(|(name, _)| *name).collect();
        let mut classes = Vec::new();
        for (name, loc) in self.string_list(node, "`required_classes`") {
            match CharClass::ALL.iter().find(|(n, _)| *n == name) {
                Some((_, class)) => classes.push(*class),
                None => self.unknown(
                    "secretfile/unknown-class",
                    loc,
                    format!("unknown character class `{name}`"),
                    &name,
                    &names,
                ),
            }
        }
        classes
    }
}
