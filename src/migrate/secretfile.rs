//! Reading the older Secretfile (the Python SecretZero's list form) and translating it, item by
//! item, into the model of the current one. What has no equivalent is noted at its line.

use std::collections::HashMap;

use super::emit::{Body, Generator, NewFile, NewProvider, NewSecret, NewTarget, Scalar, Section};
use super::{Folders, OldTarget, Origin, Untranslated};
use crate::secretfile::node::{Key, Kind, Node};
use crate::secretfile::{ProviderKind, RemoteKind, env_var_name};
use crate::target::format::Format;

/// The translation, with where each new secret's lockfile history comes from.
pub(super) struct Translated {
    pub file: NewFile,
    /// By new secret name.
    pub origins: HashMap<String, Origin>,
    pub untranslated: Vec<Untranslated>,
    /// What translates, but differently than a reader would expect.
    pub notes: Vec<Untranslated>,
}

/// Whether the document is in the older format: its `secrets` is a list.
pub(super) fn is_older_format(root: &Node) -> bool {
    let Kind::Map(entries) = &root.kind else { return false };
    entries.iter().any(|(key, value)| key.name == "secrets" && matches!(value.kind, Kind::Seq(_)))
}

pub(super) fn translate(text: &str, root: &Node, folders: &Folders) -> Translated {
    let mut reader = Reader {
        text,
        folders,
        comments: comment_lines(text),
        untranslated: Vec::new(),
        notes: Vec::new(),
        providers: HashMap::new(),
    };
    let (file, origins) = reader.file(root);
    reader.notes.sort_by(|a, b| (a.line, &a.message).cmp(&(b.line, &b.message)));
    reader.notes.dedup();
    Translated { file, origins, untranslated: reader.untranslated, notes: reader.notes }
}

/// Orders what has no equivalent by line and writes it at the top of the new file, so that
/// what was left out stays in sight after the terminal scrolls away.
pub(super) fn annotate(translated: &mut Translated) {
    // A template used by several secrets is read once for each: list what it lacks once.
    let untranslated = &mut translated.untranslated;
    untranslated.sort_by(|a, b| (a.line, &a.message).cmp(&(b.line, &b.message)));
    untranslated.dedup();
    if !untranslated.is_empty() {
        let lines = untranslated.iter().map(|u| format!("#   line {}: {}", u.line, u.message));
        translated.file.header.push(
            "# `secretzero migrate` found no equivalent for these parts of the older Secretfile:"
                .into(),
        );
        translated.file.header.extend(lines);
    }
}

/// A part of the translated file a validation finding points at: an entry of a top-level
/// section, or one target of a secret.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Part {
    section: String,
    name: String,
    target: Option<usize>,
}

impl Part {
    /// The part the 1-based `line` of the emitted text belongs to (the emitter indents by two
    /// spaces and lists targets as `- ` items).
    pub(super) fn at(text: &str, line: usize) -> Option<Part> {
        let lines: Vec<&str> = text.lines().collect();
        let above = lines.get(..line)?;
        let indent = |l: &str| l.len() - l.trim_start().len();
        let key = |l: &str| {
            let l = l.trim();
            let key = l.strip_suffix(':').or_else(|| l.split_once(": ").map(|(k, _)| k));
            key.unwrap_or(l).trim_matches('"').to_string()
        };
        let is_key = |l: &str| l.ends_with(':') || l.contains(": ");
        let section_at = above.iter().rposition(|l| indent(l) == 0 && l.ends_with(':'))?;
        let name_at =
            section_at + above[section_at..].iter().rposition(|l| indent(l) == 2 && is_key(l))?;
        let target = above[name_at..]
            .iter()
            .rposition(|l| l.trim() == "targets:" && indent(l) == 4)
            .and_then(|at| {
                let items = above[name_at + at..].iter().filter(|l| l.starts_with("      - "));
                items.count().checked_sub(1)
            });
        Some(Part { section: key(above[section_at]), name: key(above[name_at]), target })
    }
}

impl Translated {
    /// Leaves `part` out of the translation; its line in the older file and what it is.
    /// `None` when there is no such part.
    pub(super) fn leave_out(&mut self, part: &Part, root: &Node) -> Option<(usize, String)> {
        let older = entries(root)?;
        let line_of = |section: &str| {
            let entries = get(older, section).and_then(entries)?;
            entries.iter().find(|(k, _)| k.name == part.name).map(|(k, _)| k.loc.line)
        };
        match part.section.as_str() {
            "secrets" => {
                let index = self.file.secrets.entries.iter().position(|s| s.name == part.name)?;
                let origin = self.origins.get_mut(&part.name)?;
                if let Some(target) = part.target
                    && target < origin.targets.len()
                {
                    let line = origin.targets.remove(target).line;
                    self.file.secrets.entries[index].targets.remove(target);
                    return Some((line, format!("this target of `{}`", part.name)));
                }
                self.file.secrets.entries.remove(index);
                self.origins.remove(&part.name);
                let line = older_secret_line(root, &part.name).unwrap_or(1);
                Some((line, format!("secret `{}`", part.name)))
            }
            "variables" => {
                let entries = &mut self.file.variables.entries;
                entries.remove(entries.iter().position(|(k, _)| *k == part.name)?);
                Some((line_of("variables").unwrap_or(1), format!("variable `{}`", part.name)))
            }
            "providers" => {
                let entries = &mut self.file.providers.entries;
                entries.remove(entries.iter().position(|p| p.name == part.name)?);
                Some((line_of("providers").unwrap_or(1), format!("provider `{}`", part.name)))
            }
            _ => None,
        }
    }
}

/// The line of the older secret a new secret comes from: the one of that name, or, for a
/// template field's secret `name.field`, the template secret `name`.
fn older_secret_line(root: &Node, name: &str) -> Option<usize> {
    let Kind::Seq(items) = &get(entries(root)?, "secrets")?.kind else { return None };
    let line = |wanted: &str| {
        items.iter().find_map(|item| {
            let found = get(entries(item)?, "name")?;
            (found.kind == Kind::Str(wanted.to_string())).then_some(item.loc.line)
        })
    };
    line(name).or_else(|| line(name.split_once('.')?.0))
}

struct Reader<'t> {
    text: &'t str,
    folders: &'t Folders,
    /// Full-line comments by 1-based line number.
    comments: HashMap<usize, String>,
    untranslated: Vec<Untranslated>,
    notes: Vec<Untranslated>,
    /// Provider aliases translated, with their kind.
    providers: HashMap<String, ProviderKind>,
}

/// An older mapping's entries by key; `None` for anything else.
fn entries(node: &Node) -> Option<&[(Key, Node)]> {
    match &node.kind {
        Kind::Map(entries) => Some(entries),
        _ => None,
    }
}

fn get<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
}

const TOP_KEYS: &[&str] =
    &["version", "metadata", "variables", "providers", "templates", "secrets"];
const SECRET_KEYS: &[&str] =
    &["name", "kind", "config", "targets", "one_time", "rotation_period", "description"];
const TARGET_KEYS: &[&str] = &["provider", "kind", "config"];
/// The older `random_password` options and their current names.
const PASSWORD_OPTIONS: &[(&str, &str)] = &[
    ("length", "length"),
    ("upper", "include_upper"),
    ("lower", "include_lower"),
    ("number", "include_numbers"),
    ("special", "include_symbols"),
    ("exclude_characters", "exclude_characters"),
];
/// The charsets the older `random_string` knew, spelled as the current one spells them.
const OLDER_CHARSETS: &[&str] = &["alphanumeric", "alpha", "numeric", "hex"];

impl Reader<'_> {
    fn note(&mut self, line: usize, message: String) {
        self.untranslated.push(Untranslated { line, message });
    }

    /// Notes every key of `entries` that is not in `known`.
    fn unknown_keys(&mut self, entries: &[(Key, Node)], known: &[&str], what: &str) {
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                self.note(key.loc.line, format!("`{}` in {what} has no equivalent", key.name));
            }
        }
    }

    /// The contiguous comment lines directly above `line`.
    fn comments_above(&self, line: usize) -> Vec<String> {
        let mut first = line;
        while first > 1 && self.comments.contains_key(&(first - 1)) {
            first -= 1;
        }
        (first..line).map(|l| self.comments[&l].clone()).collect()
    }

    /// A scalar as text, keeping the spelling of numbers and booleans, with its older
    /// interpolation turned into a template; `None` (noted) for anything else.
    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        let raw = match &node.kind {
            Kind::Str(text) => text.clone(),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => {
                self.text.get(node.loc.offset..node.loc.offset + node.loc.len)?.to_string()
            }
            _ => {
                self.note(
                    node.loc.line,
                    format!("{what} is {}, which has no equivalent", node.kind_name()),
                );
                return None;
            }
        };
        Some(interpolation(&raw))
    }

    fn file(&mut self, root: &Node) -> (NewFile, HashMap<String, Origin>) {
        let mut file = NewFile::default();
        let mut origins = HashMap::new();
        let Some(top) = entries(root) else { return (file, origins) };
        self.unknown_keys(top, TOP_KEYS, "the top level");
        // The header is every comment above the first key, blank lines between them or not.
        if let Some((first, _)) = top.first() {
            file.header =
                (1..first.loc.line).filter_map(|l| self.comments.get(&l).cloned()).collect();
        }
        let section_comments = |reader: &Self, key: &str| {
            let (k, _) = top.iter().find(|(k, _)| k.name == key)?;
            Some(reader.comments_above(k.loc.line)).filter(|_| k.loc.line != top[0].0.loc.line)
        };

        if let Some(node) = get(top, "metadata") {
            file.metadata.comments = section_comments(self, "metadata").unwrap_or_default();
            file.metadata.entries = self.metadata(node);
        }
        if let Some(node) = get(top, "variables") {
            file.variables.comments = section_comments(self, "variables").unwrap_or_default();
            file.variables.entries = self.string_map(node, "`variables`");
        }
        if let Some(node) = get(top, "providers") {
            file.providers.comments = section_comments(self, "providers").unwrap_or_default();
            file.providers.entries = self.providers(node);
        }
        let templates: Vec<(Key, Node)> =
            get(top, "templates").and_then(entries).map(<[_]>::to_vec).unwrap_or_default();
        if let Some(node) = get(top, "templates")
            && entries(node).is_none()
            && !matches!(node.kind, Kind::Null)
        {
            self.note(node.loc.line, "`templates` is not a mapping of name to template".into());
        }

        let mut secrets = Section {
            comments: section_comments(self, "secrets").unwrap_or_default(),
            entries: Vec::new(),
        };
        if let Some(Kind::Seq(items)) = get(top, "secrets").map(|n| &n.kind) {
            let mut first_lines: HashMap<String, usize> = HashMap::new();
            for item in items {
                for (secret, origin) in self.secret(item, &templates) {
                    if let Some(first) = first_lines.get(&secret.name) {
                        let message = format!(
                            "secret `{}` is declared twice (first at line {first}); the later \
                             one is left out",
                            secret.name
                        );
                        self.note(item.loc.line, message);
                        continue;
                    }
                    first_lines.insert(secret.name.clone(), item.loc.line);
                    origins.insert(secret.name.clone(), origin);
                    secrets.entries.push(secret);
                }
            }
        }
        file.secrets = secrets;
        (file, origins)
    }

    fn metadata(&mut self, node: &Node) -> Vec<(String, String)> {
        let Some(metadata) = entries(node) else {
            self.note(node.loc.line, "`metadata` is not a mapping".into());
            return Vec::new();
        };
        self.unknown_keys(metadata, &["name", "description", "owner"], "`metadata`");
        let mut out = Vec::new();
        for key in ["name", "description", "owner"] {
            if let Some(value) = get(metadata, key)
                && let Some(text) = self.string(value, &format!("`metadata.{key}`"))
            {
                out.push((key.to_string(), text));
            }
        }
        out
    }

    /// A flat mapping of scalars; anything nested is noted.
    fn string_map(&mut self, node: &Node, what: &str) -> Vec<(String, String)> {
        let Some(map) = entries(node) else {
            if !matches!(node.kind, Kind::Null) {
                self.note(node.loc.line, format!("{what} is not a mapping"));
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in map {
            if let Some(text) = self.string(value, &format!("`{}` in {what}", key.name)) {
                out.push((key.name.clone(), text));
            }
        }
        out
    }

    fn providers(&mut self, node: &Node) -> Vec<NewProvider> {
        let Some(map) = entries(node) else {
            if !matches!(node.kind, Kind::Null) {
                self.note(node.loc.line, "`providers` is not a mapping".into());
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for (alias, definition) in map {
            let what = format!("provider `{}`", alias.name);
            let Some(fields) = entries(definition) else {
                self.note(alias.loc.line, format!("{what} is not a mapping; left out"));
                continue;
            };
            self.unknown_keys(fields, &["kind", "auth", "config"], &what);
            let kind_text = get(fields, "kind").and_then(|n| self.string(n, "`kind`"));
            if alias.name == "local" && kind_text.as_deref().is_none_or(|k| k == "local") {
                continue;
            }
            let Some(kind) = kind_text
                .as_deref()
                .and_then(|k| ProviderKind::ALL.iter().find(|(name, _)| *name == k))
                .map(|(_, kind)| *kind)
            else {
                let shown = kind_text.unwrap_or_default();
                self.note(
                    alias.loc.line,
                    format!("{what} has kind `{shown}`, which has no equivalent; left out"),
                );
                continue;
            };

            let mut auth = Vec::new();
            if let Some(auth_node) = get(fields, "auth") {
                let auth_what = format!("the `auth` of {what}");
                match entries(auth_node) {
                    Some(auth_fields) => {
                        self.unknown_keys(auth_fields, &["kind", "config"], &auth_what);
                        if let Some(n) = get(auth_fields, "kind")
                            && let Some(text) = self.string(n, "`kind`")
                        {
                            auth.push(("kind".to_string(), auth_kind(kind, text)));
                        }
                        if let Some(config) = get(auth_fields, "config") {
                            let flat =
                                self.string_map(config, &format!("the config of {auth_what}"));
                            auth.extend(flat.into_iter().filter(|(k, _)| k != "kind"));
                        }
                    }
                    None => self.note(auth_node.loc.line, format!("{auth_what} is not a mapping")),
                }
            }
            let config = match get(fields, "config") {
                Some(config) => self.string_map(config, &format!("the `config` of {what}")),
                None => Vec::new(),
            };
            self.providers.insert(alias.name.clone(), kind);
            out.push(NewProvider {
                name: alias.name.clone(),
                kind: kind.name().into(),
                auth,
                config,
            });
        }
        out
    }

    /// One older secret: one new secret, or one per field of a template whose fields the older
    /// tool wrote as separate keys.
    fn secret(&mut self, item: &Node, templates: &[(Key, Node)]) -> Vec<(NewSecret, Origin)> {
        let Some(fields) = entries(item) else {
            self.note(item.loc.line, "a secret that is not a mapping is left out".into());
            return Vec::new();
        };
        let Some(name) = get(fields, "name").and_then(|n| self.string(n, "`name`")) else {
            self.note(item.loc.line, "a secret without a `name` is left out".into());
            return Vec::new();
        };
        let what = format!("secret `{name}`");
        if !crate::secretfile::valid_secret_name(&name) {
            let line = get(fields, "name").map_or(item.loc.line, |n| n.loc.line);
            self.note(
                line,
                format!(
                    "{what} is left out: a name holds letters, digits, `_`, `-` and `.`, and \
                     starts with a letter or `_`"
                ),
            );
            return Vec::new();
        }
        self.unknown_keys(fields, SECRET_KEYS, &what);
        let comments = self.comments_above(item.loc.line);
        let description = get(fields, "description").and_then(|n| self.string(n, "`description`"));
        let rotation_period = get(fields, "rotation_period").and_then(|n| {
            let text = self.string(n, "`rotation_period`")?;
            match crate::rotation::Period::parse(&text) {
                Ok(_) => Some(text),
                Err(reason) => {
                    self.note(n.loc.line, format!("`rotation_period` of {what}: {reason}"));
                    None
                }
            }
        });
        let one_time = get(fields, "one_time").and_then(|n| match n.kind {
            Kind::Bool(flag) => Some(flag),
            _ => {
                self.note(n.loc.line, format!("`one_time` of {what} is not true or false"));
                None
            }
        });
        let kind_node = get(fields, "kind");
        let kind = kind_node.and_then(|n| self.string(n, "`kind`")).unwrap_or_default();
        let shared = Shared { description, rotation_period, one_time, comments };

        if let Some(template) = kind.strip_prefix("templates.") {
            if let Some(config) = get(fields, "config")
                && entries(config).is_some_and(|c| !c.is_empty())
            {
                self.note(config.loc.line, format!("`config` of template secret {what} is unused"));
            }
            let line = kind_node.map_or(item.loc.line, |n| n.loc.line);
            let Some((_, definition)) = templates.iter().find(|(k, _)| k.name == template) else {
                self.note(line, format!("{what} uses template `{template}`, which is not defined"));
                return Vec::new();
            };
            let targets = get(fields, "targets");
            return self.template_secret(&name, template, definition, targets, shared);
        }

        let line = kind_node.map_or(item.loc.line, |n| n.loc.line);
        let env_var = env_var_name(&name, None);
        let generator = self.generator(&kind, get(fields, "config"), line, &what, &env_var);
        let mut origin = Origin::single(&name);
        let targets = match get(fields, "targets") {
            Some(node) => self.targets(node, &name, &name, &mut origin),
            None => Vec::new(),
        };
        let secret = NewSecret {
            comments: shared.comments,
            name,
            description: shared.description,
            body: Body::Generator(generator),
            rotation_period: shared.rotation_period,
            one_time: shared.one_time,
            targets,
        };
        vec![(secret, origin)]
    }

    fn template_secret(
        &mut self,
        name: &str,
        template: &str,
        definition: &Node,
        secret_targets: Option<&Node>,
        shared: Shared,
    ) -> Vec<(NewSecret, Origin)> {
        let what = format!("template `{template}`");
        let Some(parts) = entries(definition) else {
            self.note(definition.loc.line, format!("{what} is not a mapping"));
            return Vec::new();
        };
        self.unknown_keys(parts, &["description", "fields", "targets"], &what);
        if let Some(targets) = secret_targets.filter(|t| non_empty_seq(t)) {
            self.note(
                targets.loc.line,
                format!("`targets` of secret `{name}` are unused: the template's targets apply"),
            );
        }
        let description = get(parts, "description").and_then(|n| self.string(n, "`description`"));
        let field_nodes: Vec<(Key, Node)> =
            get(parts, "fields").and_then(entries).map(<[_]>::to_vec).unwrap_or_default();
        if field_nodes.is_empty() {
            self.note(definition.loc.line, format!("{what} has no fields; `{name}` is left out"));
            return Vec::new();
        }
        let template_targets = get(parts, "targets");

        // The older tool wrote each field under its own name, in files as in remote stores. A
        // multi-field secret writes prefixed keys (dotenv) or a nested object (other files), so
        // a template with a local file, or with targets of its own per field, becomes one
        // secret per field to keep every key where it is.
        let has_field_targets = field_nodes
            .iter()
            .any(|(_, f)| entries(f).and_then(|f| get(f, "targets")).is_some_and(non_empty_seq));
        let writes_files = template_targets.is_some_and(has_file_target)
            || field_nodes.iter().any(|(_, f)| {
                entries(f).and_then(|f| get(f, "targets")).is_some_and(has_file_target)
            });

        let fields = self.template_fields(&field_nodes, &what, name);

        if !(has_field_targets || writes_files) {
            let mut origin = Origin {
                fields: fields.iter().map(|(f, _, _)| (f.clone(), format!("{name}.{f}"))).collect(),
                whole: Some(name.to_string()),
                targets: Vec::new(),
                split_from: None,
            };
            let targets = match template_targets {
                Some(node) => self.targets(node, name, name, &mut origin),
                None => Vec::new(),
            };
            let secret = NewSecret {
                comments: shared.comments,
                name: name.to_string(),
                description: shared.description,
                body: Body::Template {
                    kind: template.to_string(),
                    description,
                    fields: fields.into_iter().map(|(f, g, _)| (f, g)).collect(),
                },
                rotation_period: shared.rotation_period,
                one_time: shared.one_time,
                targets,
            };
            return vec![(secret, origin)];
        }

        let mut out = Vec::new();
        for (i, (field, generator, own_targets)) in fields.into_iter().enumerate() {
            let secret_name = format!("{name}.{field}");
            let mut origin = Origin::single(&secret_name);
            origin.split_from = Some((name.to_string(), field.clone()));
            let mut targets = Vec::new();
            if let Some(node) = own_targets {
                targets.extend(self.targets(node, &secret_name, &field, &mut origin));
            }
            if let Some(node) = template_targets {
                // Every field's secret gets the template's targets; what they lack is
                // listed once.
                let noted = self.untranslated.len();
                targets.extend(self.targets(node, &secret_name, &field, &mut origin));
                if i > 0 {
                    self.untranslated.truncate(noted);
                }
            }
            let mut comments = match i {
                0 => shared.comments.clone(),
                _ => Vec::new(),
            };
            comments.push(format!("# Field `{field}` of `{name}` (template `{template}`)."));
            out.push((
                NewSecret {
                    comments,
                    name: secret_name,
                    description: shared.description.clone().or_else(|| description.clone()),
                    body: Body::Generator(generator),
                    rotation_period: shared.rotation_period.clone(),
                    one_time: shared.one_time,
                    targets,
                },
                origin,
            ));
        }
        out
    }

    /// Each field of a template: its name, generator and own targets.
    fn template_fields<'n>(
        &mut self,
        field_nodes: &'n [(Key, Node)],
        what: &str,
        secret: &str,
    ) -> Vec<(String, Generator, Option<&'n Node>)> {
        let mut fields = Vec::new();
        for (field, node) in field_nodes {
            let field_what = format!("field `{}` of {what}", field.name);
            let env_var = env_var_name(secret, Some(&field.name));
            let Some(parts) = entries(node) else {
                self.note(field.loc.line, format!("{field_what} is not a mapping"));
                continue;
            };
            self.unknown_keys(parts, &["generator", "targets", "description"], &field_what);
            let generator = match get(parts, "generator").and_then(entries) {
                Some(generator) => {
                    let kind_node = get(generator, "kind");
                    let kind = kind_node.and_then(|n| self.string(n, "`kind`")).unwrap_or_default();
                    let line = kind_node.map_or(field.loc.line, |n| n.loc.line);
                    self.unknown_keys(generator, &["kind", "config"], &field_what);
                    self.generator(&kind, get(generator, "config"), line, &field_what, &env_var)
                }
                None => {
                    self.note(field.loc.line, format!("{field_what} has no `generator`"));
                    self.generator("", None, field.loc.line, &field_what, &env_var)
                }
            };
            fields.push((field.name.clone(), generator, get(parts, "targets")));
        }
        fields
    }

    /// A generator kind and its `config`. A kind with no equivalent becomes a `static`
    /// generator without a value, so the value the targets hold is kept (and noted).
    fn generator(
        &mut self,
        kind: &str,
        config: Option<&Node>,
        line: usize,
        what: &str,
        env_var: &str,
    ) -> Generator {
        let config: Vec<(Key, Node)> = match config {
            Some(node) => match entries(node) {
                Some(entries) => entries.to_vec(),
                None if matches!(node.kind, Kind::Null) => Vec::new(),
                None => {
                    self.note(node.loc.line, format!("`config` of {what} is not a mapping"));
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let config_what = format!("the `config` of {what}");
        let (kind, options) = match kind {
            "random_password" => {
                let known: Vec<&str> = PASSWORD_OPTIONS.iter().map(|(old, _)| *old).collect();
                self.unknown_keys(&config, &known, &config_what);
                ("random-password", self.renamed_options(&config, PASSWORD_OPTIONS, &config_what))
            }
            "random_string" => ("random-string", self.string_options(&config, &config_what)),
            "static" => ("static", self.static_options(&config, &config_what, what, env_var)),
            "script" => ("script", self.script_options(&config, &config_what)),
            other => {
                let what_kind = match other {
                    "" => "no generator `kind`".to_string(),
                    _ => format!("generator kind `{other}`, which has no equivalent"),
                };
                self.note(
                    line,
                    format!(
                        "{what} has {what_kind}; it becomes `static` without a value: the value \
                         its targets hold is kept, but never generated again"
                    ),
                );
                ("static", Vec::new())
            }
        };
        Generator { kind, options }
    }

    /// Options that at most changed their names, as (older, current) names.
    fn renamed_options(
        &mut self,
        config: &[(Key, Node)],
        names: &[(&str, &str)],
        what: &str,
    ) -> Vec<(String, Scalar)> {
        let mut options = Vec::new();
        for (old, new) in names {
            if let Some(node) = get(config, old)
                && let Some(value) = self.option(node, old, what)
            {
                options.push((new.to_string(), value));
            }
        }
        options
    }

    fn string_options(&mut self, config: &[(Key, Node)], what: &str) -> Vec<(String, Scalar)> {
        self.unknown_keys(config, &["length", "charset"], what);
        let mut options = self.renamed_options(config, &[("length", "length")], what);
        // The older tool drew from alphanumerics for any charset name it did not know, which is
        // what leaving it out means now; `charset` was never a set of characters there.
        let charset = get(config, "charset").and_then(|n| self.string(n, "`charset`"));
        if let Some(charset) = charset.filter(|c| OLDER_CHARSETS.contains(&c.as_str())) {
            options.push(("charset".to_string(), Scalar::Str(charset)));
        }
        options
    }

    /// A static value; one that was only `${VAR}` becomes a static without a value, which the
    /// lockfile's record or the variable named after the secret provides, rather than a
    /// template that every later command would fail on without `VAR`.
    fn static_options(
        &mut self,
        config: &[(Key, Node)],
        config_what: &str,
        what: &str,
        env_var: &str,
    ) -> Vec<(String, Scalar)> {
        self.unknown_keys(config, &["value", "default"], config_what);
        let node = get(config, "value").or_else(|| get(config, "default"));
        if let Some(node) = node
            && let Kind::Str(text) = &node.kind
            && let Some(var) = whole_reference(text)
        {
            if var != env_var {
                let message = format!(
                    "{what} took its static value from `${{{var}}}`; it becomes `static` without \
                     a value, which the lockfile's record keeps, and a new value is read from \
                     `{env_var}` (named after the secret), not `{var}`"
                );
                self.notes.push(Untranslated { line: node.loc.line, message });
            }
            return Vec::new();
        }
        match node.and_then(|n| self.string(n, "a static value")) {
            Some(value) => vec![("value".to_string(), Scalar::Value(value))],
            None => Vec::new(),
        }
    }

    fn script_options(&mut self, config: &[(Key, Node)], what: &str) -> Vec<(String, Scalar)> {
        self.unknown_keys(config, &["command", "args", "timeout"], what);
        let mut options = self.renamed_options(config, &[("command", "command")], what);
        if let Some(node) = get(config, "args") {
            match &node.kind {
                Kind::Seq(items) => {
                    let args = items.iter().filter_map(|i| self.string(i, "an argument"));
                    let args: Vec<String> = args.collect();
                    options.push(("args".to_string(), Scalar::List(args)));
                }
                _ => self.note(node.loc.line, format!("`args` in {what} is not a list")),
            }
        }
        if let Some(node) = get(config, "timeout")
            && let Some(value) = self.option(node, "timeout", what)
        {
            options.push(("timeout".to_string(), value));
        }
        options
    }

    /// An option value: numbers and booleans as they are, other scalars as strings.
    fn option(&mut self, node: &Node, key: &str, what: &str) -> Option<Scalar> {
        match node.kind {
            Kind::Int(number) => Some(Scalar::Int(number)),
            Kind::Bool(flag) => Some(Scalar::Bool(flag)),
            _ => self.string(node, &format!("`{key}` in {what}")).map(Scalar::Str),
        }
    }

    fn targets(
        &mut self,
        node: &Node,
        secret: &str,
        old_key: &str,
        origin: &mut Origin,
    ) -> Vec<NewTarget> {
        let Kind::Seq(items) = &node.kind else {
            if !matches!(node.kind, Kind::Null) {
                self.note(node.loc.line, format!("`targets` of `{secret}` is not a list"));
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            if let Some((target, old)) = self.target(item, secret, old_key) {
                out.push(target);
                origin.targets.push(old);
            }
        }
        out
    }

    /// One target, and what the older lockfile's id for it was made of.
    fn target(
        &mut self,
        node: &Node,
        secret: &str,
        old_key: &str,
    ) -> Option<(NewTarget, OldTarget)> {
        let what = format!("a target of `{secret}`");
        let Some(fields) = entries(node) else {
            self.note(node.loc.line, format!("{what} is not a mapping; left out"));
            return None;
        };
        self.unknown_keys(fields, TARGET_KEYS, &what);
        let provider = get(fields, "provider").and_then(|n| self.string(n, "`provider`"));
        let kind = get(fields, "kind").and_then(|n| self.string(n, "`kind`")).unwrap_or_default();
        let config: Vec<(Key, Node)> =
            get(fields, "config").and_then(entries).map(<[_]>::to_vec).unwrap_or_default();
        let provider = provider.unwrap_or_else(|| "local".into());
        let identifier_key = if kind == "file" { "path" } else { "name" };
        let identifier = get(&config, identifier_key).and_then(|n| match &n.kind {
            Kind::Str(text) => Some(text.clone()),
            _ => n.scalar_text(),
        });
        let old = OldTarget {
            line: node.loc.line,
            provider: provider.clone(),
            kind: kind.clone(),
            written: identifier,
        };

        if kind == "file" {
            if provider != "local" {
                self.note(
                    node.loc.line,
                    format!("{what}: a file target of provider `{provider}` has no equivalent"),
                );
                return None;
            }
            let target = self.file_target(&config, node, secret, old_key)?;
            return Some((target, old));
        }

        let Some(remote) = remote_kind(&kind) else {
            self.note(
                node.loc.line,
                format!("{what} has kind `{kind}`, which has no equivalent; left out"),
            );
            return None;
        };
        let target_what = format!("the {kind} target of `{secret}`");
        let (required, optional) = remote.options();
        let mut options = Vec::new();
        if kind == "gitlab_group_variable" && get(&config, "group").is_none() {
            self.note(node.loc.line, format!("{target_what} has no `group`"));
        }
        for (key, value) in &config {
            let name = rename_option(remote, &key.name);
            if !required.contains(&name) && !optional.contains(&name) {
                self.note(
                    key.loc.line,
                    format!("`{}` in {target_what} has no equivalent", key.name),
                );
                continue;
            }
            let Some(text) = self.string(value, &format!("`{}`", key.name)) else { continue };
            // The older tool took `owner/name` in one option; GitHub targets name them apart.
            if remote == RemoteKind::GithubSecret
                && name == "repo"
                && let Some((owner, repo)) = text.split_once('/')
            {
                options.push(("owner".to_string(), Scalar::Str(owner.to_string())));
                options.push(("repo".to_string(), Scalar::Str(repo.to_string())));
                continue;
            }
            options.push((name.to_string(), Scalar::Str(text)));
        }
        for option in required {
            if !options.iter().any(|(k, _)| k == option) {
                self.note(node.loc.line, format!("{target_what} has no `{option}`; left out"));
                return None;
            }
        }
        // Only a target that is kept can be kept without its provider: one note per target.
        match self.providers.get(&provider) {
            Some(kind) if *kind == remote.provider_kind() => {
                options.insert(0, ("provider".to_string(), Scalar::Str(provider.clone())));
            }
            _ => self.note(
                node.loc.line,
                format!(
                    "{target_what} uses provider `{provider}`, which is not declared with kind \
                     `{}`; the target is kept without one",
                    remote.provider_kind().name()
                ),
            ),
        }
        Some((NewTarget { kind: remote.name(), options }, old))
    }

    fn file_target(
        &mut self,
        config: &[(Key, Node)],
        node: &Node,
        secret: &str,
        old_key: &str,
    ) -> Option<NewTarget> {
        let what = format!("the file target of `{secret}`");
        self.unknown_keys(config, &["path", "format", "key", "merge"], &what);
        let path = match get(config, "path") {
            Some(n) => self.string(n, "`path`")?,
            None => ".env".to_string(),
        };
        // The older tool wrote anywhere on the machine; the current one writes only inside the
        // Secretfile's folder.
        if !path.contains("{{")
            && let Err(reason) = crate::secretfile::plain_path(&path)
        {
            let line = get(config, "path").map_or(node.loc.line, |n| n.loc.line);
            self.note(line, format!("{what}: {reason}, which the current format refuses"));
            return None;
        }
        let path = match self.folders.rebase(&path) {
            Ok(path) => path,
            Err(reason) => {
                let line = get(config, "path").map_or(node.loc.line, |n| n.loc.line);
                self.note(line, format!("{what}: {reason}, which the current format refuses"));
                return None;
            }
        };
        // The older tool wrote dotenv unless told otherwise or the name ended in `.tfvars`.
        let format = match get(config, "format").and_then(|n| self.string(n, "`format`")) {
            Some(name) if !name.trim().is_empty() => name.trim().to_ascii_lowercase(),
            _ if path.to_ascii_lowercase().ends_with(".tfvars") => "tfvars".to_string(),
            _ => "dotenv".to_string(),
        };
        let Some(format) = Format::from_name(&format) else {
            self.note(
                node.loc.line,
                format!("{what} has format `{format}`, which has no equivalent"),
            );
            return None;
        };
        let key = match get(config, "key").and_then(|n| self.string(n, "`key`")) {
            Some(key) if !key.trim().is_empty() => key.trim().to_string(),
            _ => old_key.to_string(),
        };
        if let Some(merge) = get(config, "merge")
            && !matches!(merge.kind, Kind::Bool(true))
        {
            self.note(
                merge.loc.line,
                format!("`merge: false` in {what} has no equivalent: files are always merged"),
            );
        }

        let mut options = vec![("path".to_string(), Scalar::Str(path.clone()))];
        let templated = path.contains("{{");
        if templated || Format::from_path(std::path::Path::new(&path)) != Some(format) {
            options.push(("format".to_string(), Scalar::Str(format.name().to_string())));
        }
        if let Err(reason) = format.check_key(&key) {
            let line = get(config, "key").map_or(node.loc.line, |n| n.loc.line);
            self.note(line, format!("{what}: key `{key}`: {reason}; left out"));
            return None;
        }
        let default_key = match format {
            Format::Dotenv => env_var_name(secret, None),
            _ => secret.to_string(),
        };
        if key != default_key {
            options.push(("key".to_string(), Scalar::Str(key)));
        }
        Some(NewTarget { kind: "local-file", options })
    }
}

/// What a secret's translations share, whether it becomes one secret or one per field.
struct Shared {
    description: Option<String>,
    rotation_period: Option<String>,
    one_time: Option<bool>,
    comments: Vec<String>,
}

fn non_empty_seq(node: &Node) -> bool {
    matches!(&node.kind, Kind::Seq(items) if !items.is_empty())
}

fn has_file_target(node: &Node) -> bool {
    let Kind::Seq(items) = &node.kind else { return false };
    items.iter().any(|item| {
        entries(item)
            .and_then(|t| get(t, "kind"))
            .is_some_and(|k| k.kind == Kind::Str("file".into()))
    })
}

fn remote_kind(kind: &str) -> Option<RemoteKind> {
    Some(match kind {
        "secrets_manager" => RemoteKind::AwsSecretsManager,
        "ssm_parameter" => RemoteKind::AwsSsm,
        "key_vault" => RemoteKind::AzureKeyVault,
        "vault_kv" | "kv" => RemoteKind::VaultKv,
        "github_secret" => RemoteKind::GithubSecret,
        "gitlab_variable" | "gitlab_group_variable" => RemoteKind::GitlabVariable,
        "jenkins_credential" => RemoteKind::JenkinsCredential,
        "kubernetes_secret" => RemoteKind::KubernetesSecret,
        "external_secret" => RemoteKind::ExternalSecret,
        _ => return None,
    })
}

/// Older option names that the current target types spell differently.
fn rename_option(kind: RemoteKind, option: &str) -> &str {
    match (kind, option) {
        (RemoteKind::AwsSsm, "type") => "parameter_type",
        (RemoteKind::VaultKv, "mount_point") => "mount",
        (RemoteKind::VaultKv, "kv_version") => "version",
        (RemoteKind::GithubSecret, "secret_name") => "name",
        (RemoteKind::GithubSecret, "repository") => "repo",
        (RemoteKind::GithubSecret, "organization") => "org",
        (RemoteKind::GitlabVariable, "project_id") => "project",
        (RemoteKind::GitlabVariable, "group_id") => "group",
        (RemoteKind::JenkinsCredential, "credential_id") => "id",
        (RemoteKind::KubernetesSecret, "type") => "secret_type",
        (_, other) => other,
    }
}

/// Full-line comments, by 1-based line number, as written (without indentation).
fn comment_lines(text: &str) -> HashMap<usize, String> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let trimmed = line.trim();
            trimmed.starts_with('#').then(|| (i + 1, trimmed.to_string()))
        })
        .collect()
}

/// The variable of a value that is one `${VAR}` and nothing else, without a default.
fn whole_reference(text: &str) -> Option<&str> {
    let name = text.strip_prefix("${")?.strip_suffix('}')?;
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

/// The older interpolation as a template: `${VAR}` reads the environment, `${VAR:-default}`
/// with a fallback. `{{ ... }}` is a template already and stays as it is.
pub(super) fn interpolation(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else { break };
        let inner = &rest[start + 2..start + end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        out.push_str(&rest[..start]);
        match (valid, default) {
            (false, _) => out.push_str(&rest[start..start + end + 1]),
            (true, None) => out.push_str(&format!("{{{{ env.{name} }}}}")),
            (true, Some(default)) => {
                let quoted = default.replace('\\', "\\\\").replace('\'', "\\'");
                out.push_str(&format!("{{{{ env.{name} or '{quoted}' }}}}"));
            }
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The auth kind this tool calls what the older one called `older`: the older tool named an
/// Azure service principal with a client secret `client_secret`.
fn auth_kind(provider: ProviderKind, older: String) -> String {
    match (provider, older.as_str()) {
        (ProviderKind::Azure, "client_secret") => "service_principal".to_string(),
        _ => older,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(text: &str) -> (String, Translated) {
        let root = crate::secretfile::node::parse(text).unwrap();
        let translated = translate(text, &root, &Folders { old: Vec::new(), new: Vec::new() });
        (super::super::emit::render(&translated.file, false), translated)
    }

    #[test]
    fn file_targets_spell_out_what_the_older_defaults_meant() {
        let (text, translated) = translated(
            "secrets:\n  - name: api_key\n    kind: static\n    targets:\n      - {provider: \
             local, kind: file, config: {path: out.json}}\n      - {kind: file, config: {path: \
             vars.tfvars}}\n      - {provider: local, kind: file, config: {key: API_KEY}}\n",
        );
        assert!(translated.untranslated.is_empty(), "{:?}", translated.untranslated);
        assert!(
            text.ends_with(
                "    targets:\n      - type: local-file\n        path: out.json\n        format: \
                 dotenv\n        key: api_key\n      - type: local-file\n        path: \
                 vars.tfvars\n      - type: local-file\n        path: .env\n"
            ),
            "{text}"
        );
        let ids: Vec<Vec<String>> =
            translated.origins["api_key"].targets.iter().map(|t| t.ids(None)).collect();
        assert_eq!(
            ids,
            [
                vec!["local/file/out.json", "local/file/"],
                vec!["local/file/vars.tfvars", "local/file/"],
                vec!["local/file/"],
            ]
        );
    }

    #[test]
    fn remote_target_ids_use_the_name_as_written_and_rendered() {
        let old = OldTarget {
            line: 1,
            provider: "aws".into(),
            kind: "secrets_manager".into(),
            written: Some("${ENV}/db".into()),
        };
        assert_eq!(
            old.ids(Some("prod/db")),
            ["aws/secrets_manager/${ENV}/db", "aws/secrets_manager/prod/db"]
        );
        let unnamed = OldTarget {
            line: 1,
            provider: "gitlab".into(),
            kind: "gitlab_variable".into(),
            written: None,
        };
        assert_eq!(unnamed.ids(None), ["gitlab/gitlab_variable/"]);
    }

    #[test]
    fn interpolation_becomes_templates() {
        assert_eq!(interpolation("${REGION}"), "{{ env.REGION }}");
        assert_eq!(interpolation("/${ENV:-dev}/db"), "/{{ env.ENV or 'dev' }}/db");
        assert_eq!(interpolation("${A:-it's}"), "{{ env.A or 'it\\'s' }}");
        assert_eq!(interpolation("{{ var.region }}"), "{{ var.region }}");
        assert_eq!(interpolation("cost: $5 ${1X} ${"), "cost: $5 ${1X} ${");
    }
}
