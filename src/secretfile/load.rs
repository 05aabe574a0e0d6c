//! From YAML text to a validated [`Secretfile`], collecting every finding on the way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use secrecy::SecretString;

use super::node::{self, Key, Kind, Loc, Node};
use super::template::{TemplateError, Templater};
use super::{
    COMMON_CONFIG, CharClass, DEFAULT_VAULT_MOUNT, Field, LocalFile, Metadata, Policy, PolicyRule,
    Provider, ProviderKind, ProviderSchema, RemoteKind, RemoteTarget, SINGLE_FIELD, Secret,
    Secretfile, TargetDef, TargetKind, env_var_name, field_variable, folder_of,
};
use crate::generate::{self, Charset, PasswordSpec, ScriptSpec, StaticSpec, StringSpec};
use crate::report::Finding;
use crate::rotation::Period;
use crate::target::format::Format;

mod document;
mod generator;
mod policy;
mod secret;
mod target;

pub(crate) use secret::valid_secret_name;
pub(crate) use target::plain_path;

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
    #[error(
        "{} has {} {}",
        path.display(),
        findings.len(),
        if findings.len() == 1 { "problem" } else { "problems" }
    )]
    Invalid { path: PathBuf, findings: Vec<Finding>, masked_source: String },
}

/// Reads and validates the Secretfile at `path`.
pub fn load(path: &Path) -> Result<Secretfile, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    load_str(&text, path, Templater::from_process_env())
}

/// Validates Secretfile text that is not (yet) on disk, as if it were read from `path`: targets
/// resolve against `path`'s folder and findings name it.
pub fn load_text(text: &str, path: &Path) -> Result<Secretfile, LoadError> {
    load_str(text, path, Templater::from_process_env())
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
        source_text: mask_value_lines(text),
    })?;

    let mut sensitive = Vec::new();
    literal_values(&root, false, &mut sensitive);
    let mut walker = Walker {
        source: text.to_string(),
        warnings: Vec::new(),
        last_valid_password: None,
        file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        file: path.to_path_buf(),
        dir: folder_of(path),
        findings: Vec::new(),
        templater,
        current_secret: None,
    };
    let file = walker.secretfile(&root);
    if let Some(file) = &file {
        walker.store_rules(file);
        walker.manifest_files(file);
        walker.shared_kubernetes_secrets(file);
    }
    let masked_source = mask(text, &sensitive);
    match file {
        Some(mut file) if walker.findings.is_empty() => {
            file.masked_source = masked_source;
            file.warnings = walker.warnings;
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

/// For a file that does not parse, where no tree says which scalars are values: hides whatever
/// follows `value:`, and the lines under it that are indented deeper (a multi-line value), so
/// the excerpt under a syntax error cannot show one.
fn mask_value_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut under: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(key_indent) = under {
            if line.trim().is_empty() || indent > key_indent {
                out.push_str(&line[..indent]);
                mask_into(&mut out, &line[indent..]);
                continue;
            }
            under = None;
        }
        match line.find("value:") {
            Some(at) => {
                let start = at + "value:".len();
                out.push_str(&line[..start]);
                mask_into(&mut out, &line[start..]);
                under = Some(indent);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Appends `text` with one `*` per byte of everything but whitespace, so the error's byte
/// offsets still point at the right place.
fn mask_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c.is_whitespace() {
            true => out.push(c),
            false => out.extend(std::iter::repeat_n('*', c.len_utf8())),
        }
    }
}

/// Every scalar under a `value` key, wherever it is: even a misspelt generator's value must not
/// be shown in an excerpt.
fn literal_values(node: &Node, inside: bool, spans: &mut Vec<Loc>) {
    match &node.kind {
        Kind::Map(entries) => {
            for (key, value) in entries {
                literal_values(value, inside || key.name == "value", spans);
            }
        }
        Kind::Seq(items) => {
            for item in items {
                literal_values(item, inside, spans);
            }
        }
        _ if inside && node.loc.len > 0 => spans.push(node.loc),
        _ => {}
    }
}

/// Replaces literal values with `*` byte for byte, so offsets stay valid for excerpts. Line
/// breaks and other whitespace are kept, so a block scalar keeps its lines and every line
/// and column after it stays where the findings say.
fn mask(text: &str, spans: &[Loc]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for loc in spans {
        let end = (loc.offset + loc.len).min(bytes.len());
        for byte in &mut bytes[loc.offset.min(end)..end] {
            if !byte.is_ascii_whitespace() {
                *byte = b'*';
            }
        }
    }
    // Masking whole scalars keeps every multi-byte character either intact or fully replaced,
    // so the result stays UTF-8; the fallback only guards against a span bug.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

const TOP_KEYS: &[&str] = &["version", "metadata", "variables", "providers", "policies", "secrets"];
/// The built-in policy packs that `metadata.compliance` may switch on.
pub(crate) const COMPLIANCE_PACKS: &[&str] = &["soc2", "iso27001"];
const METADATA_KEYS: &[&str] = &["name", "description", "owner", "compliance"];
const PROVIDER_KEYS: &[&str] = &["kind", "auth", "config"];
const SECRET_KEYS: &[&str] = &[
    "description",
    "generator",
    "template",
    "targets",
    "rotation_period",
    "one_time",
    "sensitive",
];
const TEMPLATE_KEYS: &[&str] = &["type", "description", "fields"];
const FIELD_KEYS: &[&str] = &["name", "description", "generator", "sensitive"];
const GENERATOR_TYPES: &[&str] = &["random-password", "random-string", "static", "script"];
const LOCAL_FILE_KEYS: &[&str] = &["type", "path", "format", "key"];
const SUPPORTED_VERSIONS: &[&str] = &["1", "1.0"];

struct Walker {
    /// The Secretfile's own file name, which no target may overwrite.
    file_name: String,
    file: PathBuf,
    dir: PathBuf,
    findings: Vec<Finding>,
    templater: Templater,
    /// The text, for scalars whose spelling matters (`value: 0x1F` is the string `0x1F`).
    source: String,
    /// Problems that do not stop the file from being used.
    warnings: Vec<Finding>,
    /// The last password settings found valid, so identical settings are checked once.
    last_valid_password: Option<PasswordSpec>,
    /// The secret being walked, which every finding made meanwhile is about.
    current_secret: Option<String>,
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
        let mut finding = Finding::error(rule, self.file.clone(), Some(loc), message);
        finding.secret = self.current_secret.clone();
        self.findings.push(finding);
        self.findings.last_mut().expect("just pushed")
    }

    /// Checks a mapping's keys; unknown and repeated keys become findings.
    fn object<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Object<'n>> {
        let entries = self.entries(node, what)?;
        self.duplicates(entries, what);
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                self.unknown(
                    "secretfile/unknown-key",
                    key.loc,
                    format!("unknown key `{}` in {what}", key.name),
                    &key.name,
                    allowed,
                );
            }
        }
        Some(Object { entries })
    }

    /// A mapping's entries, or a finding saying that `what` must be one.
    fn entries<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.kind {
            Kind::Map(entries) => Some(entries),
            _ => self.type_error(node, what, "a mapping"),
        }
    }

    /// A list's items, or a finding saying that `what` must be one.
    fn items<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ => self.type_error(node, what, "a list"),
        }
    }

    fn type_error<T>(&mut self, node: &Node, what: &str, expected: &str) -> Option<T> {
        let found = node.kind_name();
        self.error(
            "secretfile/type",
            node.loc,
            format!("{what} must be {expected}, found {found}"),
        );
        None
    }

    /// A name that is none of `allowed`: the finding lists them and suggests the closest.
    fn unknown(
        &mut self,
        rule: &'static str,
        loc: Loc,
        message: String,
        word: &str,
        allowed: &[&str],
    ) {
        let finding = self.error(rule, loc, message);
        finding.label = Some(format!("expected one of: {}", allowed.join(", ")));
        if let Some(close) = did_you_mean(word, allowed) {
            finding.help = Some(format!("did you mean `{close}`?"));
        }
    }

    fn duplicates(&mut self, entries: &[(Key, Node)], what: &str) {
        // Most mappings hold a handful of keys, where a scan beats hashing; `secrets` may hold
        // a hundred thousand.
        if entries.len() <= 16 {
            for (i, (key, _)) in entries.iter().enumerate() {
                if let Some((earlier, _)) = entries[..i].iter().find(|(k, _)| k.name == key.name) {
                    self.duplicate(key, earlier.loc, what);
                }
            }
            return;
        }
        let mut first: HashMap<&str, Loc> = HashMap::new();
        for (key, _) in entries {
            match first.get(key.name.as_str()) {
                Some(&earlier) => self.duplicate(key, earlier, what),
                None => {
                    first.insert(&key.name, key.loc);
                }
            }
        }
    }

    fn duplicate(&mut self, key: &Key, earlier: Loc, what: &str) {
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

    /// A scalar rendered as a template; `None` (with a finding) when it is not a string or
    /// does not render.
    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        // A number or boolean used as a string keeps its spelling: `0x1F` must not become `31`.
        let raw = match node.kind {
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => {
                self.source.get(node.loc.offset..node.loc.offset + node.loc.len)
            }
            _ => None,
        };
        let Some(text) = raw.map(str::to_string).or_else(|| node.scalar_text()) else {
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
                    match listed.is_empty() {
                        // Such as an index past the end: minijinja names no variable.
                        true => format!("{what} uses an undefined value"),
                        false => format!("{what} uses undefined {}", plural_list("name", &listed)),
                    },
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
