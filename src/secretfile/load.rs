//! From YAML text to a validated [`Secretfile`], collecting every finding on the way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use secrecy::SecretString;

use super::node::{self, Key, Kind, Loc, Node};
use super::template::{TemplateError, Templater};
use super::{
    Field, LocalFile, Metadata, Provider, ProviderKind, RemoteKind, RemoteTarget, SINGLE_FIELD,
    Secret, Secretfile, TargetDef, TargetKind, env_var_name, folder_of,
};
use crate::generate::{self, Charset, PasswordSpec, ScriptSpec, StaticSpec, StringSpec};
use crate::report::Finding;
use crate::rotation::Period;
use crate::target::format::Format;

/// Why a Secretfile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid YAML", path.display())]
    Syntax { path: PathBuf, finding: Box<Finding>, source_text: String },
    #[error("{} has {} problem(s)", path.display(), findings.len())]
    Invalid { path: PathBuf, findings: Vec<Finding>, masked_source: String },
}

/// Reads and validates the Secretfile at `path`.
pub fn load(path: &Path) -> Result<Secretfile, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    load_str(&text, path, Templater::from_process_env())
}

pub(crate) fn load_str(
    text: &str,
    path: &Path,
    templater: Templater,
) -> Result<Secretfile, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = node::parse(text).map_err(|error| LoadError::Syntax {
        path: path.to_path_buf(),
        finding: Box::new(Finding::error(
            "secretfile/syntax",
            path.to_path_buf(),
            error.loc,
            format!("invalid YAML: {}", error.message),
        )),
        source_text: text.to_string(),
    })?;

    let mut walker = Walker {
        file: path.to_path_buf(),
        dir: folder_of(path),
        findings: Vec::new(),
        templater,
        sensitive: Vec::new(),
    };
    let file = walker.secretfile(&root);
    let masked_source = mask(text, &walker.sensitive);
    match file {
        Some(mut file) if walker.findings.is_empty() => {
            file.masked_source = masked_source;
            Ok(file)
        }
        _ => {
            walker.findings.sort_by_key(|f| f.loc.map(|l| (l.line, l.column)));
            Err(LoadError::Invalid {
                path: path.to_path_buf(),
                findings: walker.findings,
                masked_source,
            })
        }
    }
}

/// Replaces literal values with `*` byte for byte, so offsets stay valid for excerpts.
fn mask(text: &str, spans: &[Loc]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for loc in spans {
        let end = (loc.offset + loc.len).min(bytes.len());
        for byte in &mut bytes[loc.offset.min(end)..end] {
            *byte = b'*';
        }
    }
    // Masking whole scalars keeps every multi-byte character either intact or fully replaced,
    // so the result stays UTF-8; the fallback only guards against a span bug.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

const TOP_KEYS: &[&str] = &["version", "metadata", "variables", "providers", "policies", "secrets"];
const METADATA_KEYS: &[&str] = &["name", "description", "owner", "compliance"];
const PROVIDER_KEYS: &[&str] = &["kind", "auth", "config"];
const SECRET_KEYS: &[&str] =
    &["description", "generator", "template", "targets", "rotation_period", "one_time"];
const TEMPLATE_KEYS: &[&str] = &["type", "description", "fields"];
const FIELD_KEYS: &[&str] = &["name", "description", "generator"];
const GENERATOR_TYPES: &[&str] = &["random-password", "random-string", "static", "script"];
const LOCAL_FILE_KEYS: &[&str] = &["type", "path", "format", "key"];
const SUPPORTED_VERSIONS: &[&str] = &["1", "1.0"];

struct Walker {
    file: PathBuf,
    dir: PathBuf,
    findings: Vec<Finding>,
    templater: Templater,
    /// Literal values (static generators) to hide in source excerpts.
    sensitive: Vec<Loc>,
}

/// A mapping whose keys were checked: no duplicates, none unknown.
struct Object<'n> {
    entries: &'n [(Key, Node)],
}

impl<'n> Object<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    fn key_loc(&self, key: &str) -> Option<Loc> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(k, _)| k.loc)
    }
}

impl Walker {
    fn error(&mut self, rule: &'static str, loc: Loc, message: String) -> &mut Finding {
        self.findings.push(Finding::error(rule, self.file.clone(), Some(loc), message));
        self.findings.last_mut().expect("just pushed")
    }

    fn secretfile(&mut self, root: &Node) -> Option<Secretfile> {
        let Kind::Map(_) = root.kind else {
            self.error(
                "secretfile/type",
                root.loc,
                format!("a Secretfile must be a mapping, found {}", root.kind_name()),
            );
            return None;
        };
        let top = self.object(root, "the top level", TOP_KEYS)?;

        let version = self.version(&top, root.loc);
        let metadata = top.get("metadata").map(|n| self.metadata(n)).unwrap_or_default();
        let variables = top.get("variables").map(|n| self.variables(n)).unwrap_or_default();
        let providers = top.get("providers").map(|n| self.providers(n)).unwrap_or_default();
        if let Some(policies) = top.get("policies") {
            self.policies(policies);
        }
        let secrets = match top.get("secrets") {
            Some(node) => self.secrets(node, &providers),
            None => {
                self.error("secretfile/missing-key", root.loc, "missing `secrets`".into())
                    .with_help_mut("declare at least one secret under `secrets:`");
                IndexMap::new()
            }
        };

        Some(Secretfile {
            path: self.file.clone(),
            dir: self.dir.clone(),
            version,
            metadata,
            variables,
            providers,
            secrets,
            masked_source: String::new(),
        })
    }

    /// Checks a mapping's keys; unknown and repeated keys become findings.
    fn object<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Object<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("{what} must be a mapping, found {}", node.kind_name()),
            );
            return None;
        };
        self.duplicates(entries, what);
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let finding = self.error(
                    "secretfile/unknown-key",
                    key.loc,
                    format!("unknown key `{}` in {what}", key.name),
                );
                finding.label = Some(format!("expected one of: {}", allowed.join(", ")));
                if let Some(close) = did_you_mean(&key.name, allowed) {
                    finding.help = Some(format!("did you mean `{close}`?"));
                }
            }
        }
        Some(Object { entries })
    }

    fn duplicates(&mut self, entries: &[(Key, Node)], what: &str) {
        let mut first: HashMap<&str, Loc> = HashMap::new();
        for (key, _) in entries {
            match first.get(key.name.as_str()) {
                Some(&earlier) => {
                    self.error(
                        "secretfile/duplicate-key",
                        key.loc,
                        format!(
                            "`{}` is defined twice in {what} (lines {} and {})",
                            key.name, earlier.line, key.loc.line
                        ),
                    )
                    .related
                    .push((earlier, "first defined here".into()));
                }
                None => {
                    first.insert(&key.name, key.loc);
                }
            }
        }
    }

    /// A scalar rendered as a template; `None` (with a finding) when it is not a string or
    /// does not render.
    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        let Some(text) = node.scalar_text() else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("{what} must be a string, found {}", node.kind_name()),
            );
            return None;
        };
        match self.templater.render(&text) {
            Ok(rendered) => Some(rendered),
            Err(TemplateError::Undefined { names, known_variables }) => {
                let listed = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>();
                let finding = self.error(
                    "secretfile/undefined-name",
                    node.loc,
                    format!("{what} uses undefined {}", plural_list("name", &listed)),
                );
                let misspelt_var = names.iter().find_map(|n| n.strip_prefix("var."));
                let close = misspelt_var.and_then(|n| {
                    let known: Vec<&str> = known_variables.iter().map(String::as_str).collect();
                    did_you_mean(n, &known)
                });
                finding.help = Some(match close {
                    Some(close) => format!("did you mean `var.{close}`?"),
                    None => "define it under `variables:`, set the environment variable, or \
                             give a default with `or`, as in {{ env.X or 'default' }}"
                        .into(),
                });
                None
            }
            Err(TemplateError::Syntax(message)) => {
                self.error(
                    "secretfile/template",
                    node.loc,
                    format!("{what} is not a valid template: {message}"),
                );
                None
            }
        }
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            Kind::Bool(value) => Some(value),
            _ => {
                self.error(
                    "secretfile/type",
                    node.loc,
                    format!("{what} must be true or false, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    fn count(&mut self, node: &Node, what: &str, max: usize) -> Option<usize> {
        match node.kind {
            Kind::Int(value) if (1..=max as i128).contains(&value) => Some(value as usize),
            Kind::Int(value) => {
                self.error(
                    "secretfile/limit",
                    node.loc,
                    format!("{what} is {value}, but must be between 1 and {max}"),
                );
                None
            }
            _ => {
                self.error(
                    "secretfile/type",
                    node.loc,
                    format!("{what} must be a whole number, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    fn version(&mut self, top: &Object<'_>, root: Loc) -> String {
        let Some(node) = top.get("version") else {
            self.error("secretfile/missing-key", root, "missing `version`".into())
                .with_help_mut("add `version: \"1.0\"` at the top of the file");
            return String::new();
        };
        let version = node.scalar_text().unwrap_or_default();
        if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
            self.error(
                "secretfile/version",
                node.loc,
                format!("unsupported Secretfile version `{version}`; this build reads \"1.0\""),
            );
        }
        version
    }

    fn metadata(&mut self, node: &Node) -> Metadata {
        let Some(object) = self.object(node, "`metadata`", METADATA_KEYS) else {
            return Metadata::default();
        };
        let mut metadata = Metadata::default();
        for (field, slot) in [
            ("name", &mut metadata.name),
            ("description", &mut metadata.description),
            ("owner", &mut metadata.owner),
        ] {
            if let Some(value) = object.get(field) {
                *slot = self.string(value, &format!("`metadata.{field}`"));
            }
        }
        if let Some(compliance) = object.get("compliance") {
            match &compliance.kind {
                Kind::Seq(items) => {
                    for item in items {
                        if let Some(name) = self.string(item, "a compliance framework") {
                            metadata.compliance.push((name, item.loc));
                        }
                    }
                }
                _ => {
                    self.error(
                        "secretfile/type",
                        compliance.loc,
                        format!(
                            "`metadata.compliance` must be a list such as [soc2], found {}",
                            compliance.kind_name()
                        ),
                    );
                }
            }
        }
        metadata
    }

    /// Variables render in order, so each may use the ones before it.
    fn variables(&mut self, node: &Node) -> IndexMap<String, String> {
        let mut variables = IndexMap::new();
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("`variables` must be a mapping, found {}", node.kind_name()),
            );
            return variables;
        };
        self.duplicates(entries, "`variables`");
        for (key, value) in entries {
            if let Some(rendered) = self.string(value, &format!("variable `{}`", key.name)) {
                self.templater.define(&key.name, rendered.clone());
                variables.insert(key.name.clone(), rendered);
            }
        }
        variables
    }

    fn providers(&mut self, node: &Node) -> IndexMap<String, Provider> {
        let mut providers = IndexMap::new();
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("`providers` must be a mapping, found {}", node.kind_name()),
            );
            return providers;
        };
        self.duplicates(entries, "`providers`");
        for (key, value) in entries {
            if let Some(provider) = self.provider(&key.name, value) {
                providers.insert(key.name.clone(), provider);
            }
        }
        providers
    }

    fn provider(&mut self, name: &str, node: &Node) -> Option<Provider> {
        let what = format!("provider `{name}`");
        let object = self.object(node, &what, PROVIDER_KEYS)?;
        let kind_names: Vec<&str> = ProviderKind::ALL.iter().map(|(n, _)| *n).collect();
        let kind = match object.get("kind") {
            None => {
                self.error("secretfile/missing-key", node.loc, format!("{what} has no `kind`"))
                    .with_help_mut(format!("set `kind:` to one of: {}", kind_names.join(", ")));
                None
            }
            Some(kind_node) => {
                let text = self.string(kind_node, &format!("the kind of {what}"))?;
                let found = ProviderKind::ALL.iter().find(|(n, _)| *n == text).map(|(_, k)| *k);
                if found.is_none() {
                    let finding = self.error(
                        "secretfile/unknown-provider-kind",
                        kind_node.loc,
                        format!("{what} has unknown kind `{text}`"),
                    );
                    finding.label = Some(format!("expected one of: {}", kind_names.join(", ")));
                    if let Some(close) = did_you_mean(&text, &kind_names) {
                        finding.help = Some(format!("did you mean `{close}`?"));
                    }
                }
                found
            }
        };

        let mut auth = IndexMap::new();
        let mut auth_kind = "ambient".to_string();
        if let Some(auth_node) = object.get("auth") {
            auth = self.string_map(auth_node, &format!("the `auth` of {what}"));
            if let Some(kind) = auth.shift_remove("kind") {
                auth_kind = kind;
            }
        }
        let config = match object.get("config") {
            Some(config) => self.string_map(config, &format!("the `config` of {what}")),
            None => IndexMap::new(),
        };
        Some(Provider {
            name: name.to_string(),
            kind: kind?,
            auth_kind,
            auth,
            config,
            loc: node.loc,
        })
    }

    /// A flat mapping of strings, rendered; nested values are findings.
    fn string_map(&mut self, node: &Node, what: &str) -> IndexMap<String, String> {
        let mut map = IndexMap::new();
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("{what} must be a mapping, found {}", node.kind_name()),
            );
            return map;
        };
        self.duplicates(entries, what);
        for (key, value) in entries {
            if let Some(text) = self.string(value, &format!("`{}` in {what}", key.name)) {
                map.insert(key.name.clone(), text);
            }
        }
        map
    }

    /// Policies are evaluated by `secretzero policy`; here only their shape is checked.
    fn policies(&mut self, node: &Node) {
        if !matches!(node.kind, Kind::Map(_) | Kind::Seq(_) | Kind::Null) {
            self.error(
                "secretfile/type",
                node.loc,
                format!("`policies` must be a mapping or a list, found {}", node.kind_name()),
            );
        }
    }

    fn secrets(
        &mut self,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> IndexMap<String, Secret> {
        let mut secrets = IndexMap::new();
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!(
                    "`secrets` must be a mapping from secret name to definition, found {}",
                    node.kind_name()
                ),
            );
            return secrets;
        };
        self.duplicates(entries, "`secrets`");
        let mut keys_in_files: HashMap<(PathBuf, String), (String, Loc)> = HashMap::new();
        for (key, value) in entries {
            if secrets.contains_key(&key.name) {
                continue;
            }
            if !valid_secret_name(&key.name) {
                self.error(
                    "secretfile/secret-name",
                    key.loc,
                    format!(
                        "secret name `{}` may only hold letters, digits, `_`, `-` and `.`, \
                         and must start with a letter or `_`",
                        key.name
                    ),
                );
                continue;
            }
            if let Some(secret) = self.secret(&key.name, key.loc, value, providers) {
                self.check_key_collisions(&secret, &mut keys_in_files);
                secrets.insert(key.name.clone(), secret);
            }
        }
        secrets
    }

    /// Two secrets writing the same key of the same file would overwrite each other.
    fn check_key_collisions(
        &mut self,
        secret: &Secret,
        seen: &mut HashMap<(PathBuf, String), (String, Loc)>,
    ) {
        for target in &secret.targets {
            let TargetKind::LocalFile(file) = &target.kind else { continue };
            for key in file_keys(secret, file) {
                let slot = (file.resolved.clone(), key.clone());
                match seen.get(&slot) {
                    Some((other, other_loc)) if other != &secret.name => {
                        let (other, other_loc) = (other.clone(), *other_loc);
                        self.error(
                            "secretfile/key-collision",
                            target.loc,
                            format!(
                                "secrets `{other}` and `{}` both write key `{key}` in `{}`",
                                secret.name, file.path
                            ),
                        )
                        .related
                        .push((other_loc, format!("`{other}` writes it here")));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(slot, (secret.name.clone(), target.loc));
                    }
                }
            }
        }
    }

    fn secret(
        &mut self,
        name: &str,
        name_loc: Loc,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> Option<Secret> {
        let what = format!("secret `{name}`");
        let object = self.object(node, &what, SECRET_KEYS)?;

        let description = object.get("description").and_then(|n| self.string(n, "`description`"));
        let (template, fields) = match (object.get("generator"), object.get("template")) {
            (Some(generator), None) => {
                let env_var = env_var_name(name, None);
                let spec = self.generator(generator, &what, &env_var);
                let field = spec.map(|generator| Field {
                    name: SINGLE_FIELD.to_string(),
                    generator,
                    loc: generator_loc(&object),
                    env_var,
                });
                (None, field.map(|f| vec![f]))
            }
            (None, Some(template)) => match self.template(name, template) {
                Some((kind, fields)) => (Some(kind), Some(fields)),
                None => (None, None),
            },
            (Some(_), Some(_)) => {
                self.error(
                    "secretfile/generator-or-template",
                    object.key_loc("template").unwrap_or(name_loc),
                    format!("{what} has both `generator` and `template`"),
                )
                .with_help_mut("use `generator` for one value, `template` for several fields");
                (None, None)
            }
            (None, None) => {
                self.error(
                    "secretfile/generator-or-template",
                    name_loc,
                    format!("{what} has neither `generator` nor `template`"),
                )
                .with_help_mut("add `generator: {type: random-password}`, for example");
                (None, None)
            }
        };

        let rotation_period = object.get("rotation_period").and_then(|n| {
            let text = self.string(n, "`rotation_period`")?;
            match Period::parse(&text) {
                Ok(period) => Some((period, n.loc)),
                Err(message) => {
                    self.error("secretfile/rotation-period", n.loc, format!("{what}: {message}"));
                    None
                }
            }
        });
        let one_time = object.get("one_time").and_then(|n| self.bool(n, "`one_time`"));
        let one_time = one_time.unwrap_or(false);

        let targets = match object.get("targets") {
            Some(node) => self.targets(name, node, providers),
            None => Vec::new(),
        };

        Some(Secret {
            name: name.to_string(),
            description,
            loc: name_loc,
            template,
            fields: fields?,
            targets,
            rotation_period,
            one_time,
        })
    }

    fn template(&mut self, secret: &str, node: &Node) -> Option<(String, Vec<Field>)> {
        let what = format!("the template of secret `{secret}`");
        let object = self.object(node, &what, TEMPLATE_KEYS)?;
        let kind = match object.get("type") {
            Some(kind) => self.string(kind, "the template `type`")?,
            None => "custom".to_string(),
        };
        let Some(fields_node) = object.get("fields") else {
            self.error("secretfile/missing-key", node.loc, format!("{what} has no `fields`"));
            return None;
        };
        let Kind::Seq(items) = &fields_node.kind else {
            self.error(
                "secretfile/type",
                fields_node.loc,
                format!("`fields` must be a list, found {}", fields_node.kind_name()),
            );
            return None;
        };
        if items.is_empty() {
            self.error("secretfile/empty", fields_node.loc, format!("{what} has no fields"));
            return None;
        }

        let mut fields: Vec<Field> = Vec::new();
        let mut complete = true;
        for item in items {
            let Some(field_object) = self.object(item, "a template field", FIELD_KEYS) else {
                complete = false;
                continue;
            };
            let Some(name_node) = field_object.get("name") else {
                self.error("secretfile/missing-key", item.loc, "a field has no `name`".into());
                complete = false;
                continue;
            };
            let Some(name) = self.string(name_node, "a field name") else {
                complete = false;
                continue;
            };
            if !valid_secret_name(&name) {
                self.error(
                    "secretfile/field-name",
                    name_node.loc,
                    format!("field name `{name}` may only hold letters, digits, `_`, `-`, `.`"),
                );
                complete = false;
                continue;
            }
            if let Some(earlier) = fields.iter().find(|f| f.name == name) {
                let earlier = earlier.loc;
                self.error(
                    "secretfile/duplicate-key",
                    name_node.loc,
                    format!("field `{name}` of secret `{secret}` is defined twice"),
                )
                .related
                .push((earlier, "first defined here".into()));
                complete = false;
                continue;
            }
            let Some(generator) = field_object.get("generator") else {
                self.error(
                    "secretfile/missing-key",
                    item.loc,
                    format!("field `{name}` of secret `{secret}` has no `generator`"),
                );
                complete = false;
                continue;
            };
            // A template whose only field is `value` is a one-value secret, as the FAQ's
            // examples write it: same key, same environment variable.
            let single = items.len() == 1 && name == SINGLE_FIELD;
            let env_var = env_var_name(secret, (!single).then_some(name.as_str()));
            let field_what = format!("field `{name}` of secret `{secret}`");
            match self.generator(generator, &field_what, &env_var) {
                Some(spec) => {
                    fields.push(Field { name, generator: spec, loc: name_node.loc, env_var });
                }
                None => complete = false,
            }
        }
        complete.then_some((kind, fields))
    }

    fn generator(&mut self, node: &Node, owner: &str, env_var: &str) -> Option<generate::Spec> {
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("the generator of {owner} must be a mapping, found {}", node.kind_name()),
            );
            return None;
        };
        // A literal value is hidden in excerpts whatever else is wrong with the generator.
        for (key, value) in entries {
            if key.name == "value" {
                self.sensitive.push(value.loc);
            }
        }
        let type_node = entries.iter().find(|(k, _)| k.name == "type").map(|(_, v)| v);
        let Some(type_node) = type_node else {
            self.error(
                "secretfile/missing-key",
                node.loc,
                format!("the generator of {owner} has no `type`"),
            )
            .with_help_mut(format!("set `type:` to one of: {}", GENERATOR_TYPES.join(", ")));
            return None;
        };
        let kind = self.string(type_node, "the generator `type`")?;
        let allowed: &[&str] = match kind.as_str() {
            "random-password" => &[
                "type",
                "length",
                "include_upper",
                "include_lower",
                "include_numbers",
                "include_symbols",
                "exclude_characters",
                "symbols",
            ],
            "random-string" => &["type", "length", "charset"],
            "static" => &["type", "value"],
            "script" => &["type", "command", "args", "timeout"],
            _ => {
                let finding = self.error(
                    "secretfile/unknown-generator",
                    type_node.loc,
                    format!("{owner} has unknown generator type `{kind}`"),
                );
                finding.label = Some(format!("expected one of: {}", GENERATOR_TYPES.join(", ")));
                if let Some(close) = did_you_mean(&kind, GENERATOR_TYPES) {
                    finding.help = Some(format!("did you mean `{close}`?"));
                }
                return None;
            }
        };
        let what = format!("the {kind} generator of {owner}");
        let object = self.object(node, &what, allowed)?;
        let before = self.findings.len();

        let spec = match kind.as_str() {
            "random-password" => self.password(&object, node, owner),
            "random-string" => self.random_string(&object, node, owner),
            "static" => self.static_value(&object, node, owner, env_var),
            _ => self.script(&object, node, owner),
        };
        spec.filter(|_| self.findings.len() == before)
    }

    fn password(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        owner: &str,
    ) -> Option<generate::Spec> {
        let mut spec = PasswordSpec::default();
        if let Some(n) = object.get("length") {
            spec.length = self.count(n, "`length`", generate::MAX_LENGTH)?;
        }
        for (option, slot) in [
            ("include_upper", &mut spec.include_upper),
            ("include_lower", &mut spec.include_lower),
            ("include_numbers", &mut spec.include_numbers),
            ("include_symbols", &mut spec.include_symbols),
        ] {
            if let Some(n) = object.get(option) {
                *slot = self.bool(n, &format!("`{option}`"))?;
            }
        }
        if let Some(n) = object.get("exclude_characters") {
            spec.exclude_characters = self.string(n, "`exclude_characters`")?;
        }
        if let Some(n) = object.get("symbols") {
            spec.symbols = Some(self.string(n, "`symbols`")?);
        }
        for problem in spec.problems() {
            let loc = object.get(problem.option).map_or(node.loc, |n| n.loc);
            self.error(
                "secretfile/generator",
                loc,
                format!("the random-password generator of {owner}: {}", problem.message),
            );
        }
        Some(generate::Spec::RandomPassword(spec))
    }

    fn random_string(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        owner: &str,
    ) -> Option<generate::Spec> {
        let mut spec = StringSpec::default();
        if let Some(n) = object.get("length") {
            spec.length = self.count(n, "`length`", generate::MAX_LENGTH)?;
        }
        if let Some(n) = object.get("charset") {
            spec.charset = Charset::from_name(&self.string(n, "`charset`")?);
        }
        for problem in spec.problems() {
            let loc = object.get(problem.option).map_or(node.loc, |n| n.loc);
            self.error(
                "secretfile/generator",
                loc,
                format!("the random-string generator of {owner}: {}", problem.message),
            );
        }
        Some(generate::Spec::RandomString(spec))
    }

    fn static_value(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        owner: &str,
        env_var: &str,
    ) -> Option<generate::Spec> {
        let value = match object.get("value") {
            Some(value_node) => {
                Some(SecretString::from(self.string(value_node, "a static `value`")?))
            }
            None => None,
        };
        let from_env = std::env::var(env_var).is_ok_and(|v| !v.is_empty());
        if value.is_none() && !from_env {
            self.error(
                "secretfile/static-value",
                node.loc,
                format!("the static generator of {owner} has no `value`"),
            )
            .with_help_mut(format!(
                "add `value:`, or set the environment variable {env_var} when you sync"
            ));
        }
        Some(generate::Spec::Static(StaticSpec { value }))
    }

    fn script(&mut self, object: &Object<'_>, node: &Node, owner: &str) -> Option<generate::Spec> {
        let Some(command_node) = object.get("command") else {
            self.error(
                "secretfile/missing-key",
                node.loc,
                format!("the script generator of {owner} has no `command`"),
            );
            return None;
        };
        let command = self.string(command_node, "`command`")?;
        if command.trim().is_empty() {
            self.error("secretfile/script", command_node.loc, "`command` is empty".into());
            return None;
        }
        let mut args = Vec::new();
        if let Some(args_node) = object.get("args") {
            let Kind::Seq(items) = &args_node.kind else {
                self.error(
                    "secretfile/type",
                    args_node.loc,
                    format!("`args` must be a list, found {}", args_node.kind_name()),
                );
                return None;
            };
            for item in items {
                args.push(self.string(item, "an argument")?);
            }
        }
        let mut timeout = Duration::from_secs(30);
        if let Some(n) = object.get("timeout") {
            timeout = match &n.kind {
                Kind::Int(seconds) if (1..=3600).contains(seconds) => {
                    Duration::from_secs(*seconds as u64)
                }
                Kind::Str(text) => match humantime::parse_duration(text) {
                    Ok(d) if d > Duration::ZERO && d <= Duration::from_secs(3600) => d,
                    _ => {
                        self.error(
                            "secretfile/limit",
                            n.loc,
                            format!(
                                "`timeout` `{text}` must be a duration between 1s and 1h, \
                                 such as 30s"
                            ),
                        );
                        return None;
                    }
                },
                _ => {
                    self.error(
                        "secretfile/limit",
                        n.loc,
                        "`timeout` must be seconds between 1 and 3600, or a duration such as 30s"
                            .into(),
                    );
                    return None;
                }
            };
        }
        Some(generate::Spec::Script(ScriptSpec {
            command,
            args,
            timeout,
            working_dir: Some(self.dir.clone()),
        }))
    }

    fn targets(
        &mut self,
        secret: &str,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> Vec<TargetDef> {
        let Kind::Seq(items) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("`targets` must be a list, found {}", node.kind_name()),
            );
            return Vec::new();
        };
        let mut targets: Vec<TargetDef> = Vec::new();
        for item in items {
            let Some(target) = self.target(secret, item, providers) else { continue };
            if let Some(earlier) = targets.iter().find(|t| t.id == target.id) {
                let earlier = earlier.loc;
                self.error(
                    "secretfile/duplicate-target",
                    target.loc,
                    format!("secret `{secret}` lists the same target twice: {}", target.id),
                )
                .related
                .push((earlier, "first listed here".into()));
                continue;
            }
            targets.push(target);
        }
        targets
    }

    fn target(
        &mut self,
        secret: &str,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> Option<TargetDef> {
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!("a target must be a mapping, found {}", node.kind_name()),
            );
            return None;
        };
        let type_names: Vec<&str> =
            std::iter::once("local-file").chain(RemoteKind::ALL.iter().map(|k| k.name())).collect();
        let Some(type_node) = entries.iter().find(|(k, _)| k.name == "type").map(|(_, v)| v) else {
            self.error(
                "secretfile/missing-key",
                node.loc,
                format!("a target of secret `{secret}` has no `type`"),
            )
            .with_help_mut(format!("set `type:` to one of: {}", type_names.join(", ")));
            return None;
        };
        let kind = self.string(type_node, "the target `type`")?;
        if kind == "local-file" {
            return self.local_file(secret, node);
        }
        let Some(remote) = RemoteKind::ALL.into_iter().find(|k| k.name() == kind) else {
            let finding = self.error(
                "secretfile/unknown-target",
                type_node.loc,
                format!("secret `{secret}` has a target of unknown type `{kind}`"),
            );
            finding.label = Some(format!("expected one of: {}", type_names.join(", ")));
            if let Some(close) = did_you_mean(&kind, &type_names) {
                finding.help = Some(format!("did you mean `{close}`?"));
            }
            return None;
        };
        self.remote(secret, node, remote, providers)
    }

    fn local_file(&mut self, secret: &str, node: &Node) -> Option<TargetDef> {
        let what = format!("a local-file target of secret `{secret}`");
        let object = self.object(node, &what, LOCAL_FILE_KEYS)?;
        let Some(path_node) = object.get("path") else {
            self.error("secretfile/missing-key", node.loc, format!("{what} has no `path`"));
            return None;
        };
        let path = self.string(path_node, "`path`")?;
        if path.trim().is_empty() {
            self.error("secretfile/path", path_node.loc, format!("{what} has an empty `path`"));
            return None;
        }
        let resolved = super::join(&self.dir, &path);
        let format = match object.get("format") {
            Some(format_node) => {
                let name = self.string(format_node, "`format`")?;
                let Some(format) = Format::from_name(&name) else {
                    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                    let finding = self.error(
                        "secretfile/format",
                        format_node.loc,
                        format!("unknown file format `{name}`"),
                    );
                    finding.label = Some(format!("expected one of: {}", names.join(", ")));
                    if let Some(close) = did_you_mean(&name, &names) {
                        finding.help = Some(format!("did you mean `{close}`?"));
                    }
                    return None;
                };
                format
            }
            None => match Format::from_path(Path::new(&path)) {
                Some(format) => format,
                None => {
                    self.error(
                        "secretfile/format",
                        path_node.loc,
                        format!("cannot tell the format of `{path}` from its name"),
                    )
                    .with_help_mut("add `format:` with dotenv, json, yaml, toml or tfvars");
                    return None;
                }
            },
        };
        let key = match object.get("key") {
            Some(key_node) => {
                let key = self.string(key_node, "`key`")?;
                if let Err(reason) = check_key(format, &key) {
                    self.error("secretfile/key", key_node.loc, format!("key `{key}`: {reason}"));
                    return None;
                }
                key
            }
            None if format == Format::Dotenv => env_var_name(secret, None),
            None => secret.to_string(),
        };
        Some(TargetDef {
            id: format!("local-file:{path}#{key}"),
            kind: TargetKind::LocalFile(LocalFile { path, resolved, format, key }),
            loc: node.loc,
        })
    }

    fn remote(
        &mut self,
        secret: &str,
        node: &Node,
        kind: RemoteKind,
        providers: &IndexMap<String, Provider>,
    ) -> Option<TargetDef> {
        let what = format!("the {} target of secret `{secret}`", kind.name());
        let (required, optional) = kind.options();
        let allowed: Vec<&str> =
            ["type", "provider"].iter().chain(required).chain(optional).copied().collect();
        let object = self.object(node, &what, &allowed)?;
        let before = self.findings.len();

        for option in required {
            if object.get(option).is_none() {
                self.error("secretfile/missing-key", node.loc, format!("{what} has no `{option}`"));
            }
        }
        let provider = object.get("provider").and_then(|n| {
            let name = self.string(n, "`provider`")?;
            match providers.get(&name) {
                Some(p) if p.kind != kind.provider_kind() => {
                    self.error(
                        "secretfile/provider",
                        n.loc,
                        format!(
                            "{what} uses provider `{name}`, which is of kind `{}`; it needs \
                             one of kind `{}`",
                            p.kind.name(),
                            kind.provider_kind().name()
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    let names: Vec<&str> = providers.keys().map(String::as_str).collect();
                    let finding = self.error(
                        "secretfile/provider",
                        n.loc,
                        format!("{what} uses provider `{name}`, which is not declared"),
                    );
                    finding.help = Some(match did_you_mean(&name, &names) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => "declare it under `providers:`".into(),
                    });
                }
            }
            Some(name)
        });
        let mut options = IndexMap::new();
        for (key, value) in object.entries {
            if key.name == "type" || key.name == "provider" {
                continue;
            }
            if let Some(text) = self.string(value, &format!("`{}`", key.name)) {
                options.insert(key.name.clone(), text);
            }
        }
        if self.findings.len() != before {
            return None;
        }

        let location = options.values().cloned().collect::<Vec<_>>().join("/");
        Some(TargetDef {
            id: format!("{}:{}:{location}", kind.name(), provider.as_deref().unwrap_or("")),
            kind: TargetKind::Remote(RemoteTarget { kind, provider, options }),
            loc: node.loc,
        })
    }
}

trait FindingExt {
    fn with_help_mut(&mut self, help: impl Into<String>);
}

impl FindingExt for Finding {
    fn with_help_mut(&mut self, help: impl Into<String>) {
        self.help = Some(help.into());
    }
}

/// The keys a secret writes into a local file: one, or one per field (prefixed in dotenv).
pub(crate) fn file_keys(secret: &Secret, file: &LocalFile) -> Vec<String> {
    if secret.is_single() || file.format != Format::Dotenv {
        return vec![file.key.clone()];
    }
    secret.fields.iter().map(|f| format!("{}_{}", file.key, env_var_name(&f.name, None))).collect()
}

fn check_key(format: Format, key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("a key cannot be empty".into());
    }
    if format == Format::Dotenv {
        let mut chars = key.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err("a dotenv key must start with a letter or `_` and hold only letters, \
                        digits, `_` and `.`"
                .into());
        }
    }
    Ok(())
}

fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn generator_loc(object: &Object<'_>) -> Loc {
    object.key_loc("generator").unwrap_or_default()
}

fn plural_list(noun: &str, items: &[String]) -> String {
    match items {
        [one] => format!("{noun} {one}"),
        _ => format!("{noun}s {}", items.join(", ")),
    }
}

/// The closest allowed word, when it is close enough to be a likely typo.
fn did_you_mean<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), *candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests;
