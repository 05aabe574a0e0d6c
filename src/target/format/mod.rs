//! Local secrets files: dotenv, JSON, YAML, TOML and tfvars.
//!
//! This module owns the text of such a file between reading and writing it: it parses the
//! existing bytes without losing anything the user wrote, sets and reads top-level keys (merging
//! the fields of a nested mapping into the mapping a key already holds), and renders the bytes
//! to write. It refuses, rather than writes, a value that some reader of the
//! format would get back differently. File I/O (and atomic replacement) belongs to the caller.
//!
//! Secret values never reach an error or a `Debug` output: errors name keys, characters and
//! positions only.

mod dotenv;
mod json;
mod tfvars;
mod toml;
mod yaml;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use indexmap::IndexMap;
use secrecy::{ExposeSecret, SecretString};

/// A kind of local secrets file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dotenv,
    Json,
    Yaml,
    Toml,
    Tfvars,
}

impl Format {
    pub const ALL: [Format; 5] =
        [Format::Dotenv, Format::Json, Format::Yaml, Format::Toml, Format::Tfvars];

    /// Looks a format up by the name a user writes in a Secretfile.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "dotenv" | "env" => Some(Format::Dotenv),
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "toml" => Some(Format::Toml),
            "tfvars" => Some(Format::Tfvars),
            _ => None,
        }
    }

    /// Guesses the format from a file name. A known extension wins over the dotenv naming
    /// conventions, so `.env.json` is JSON while `.env.local` is dotenv.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let extension = name.rsplit_once('.').map(|(_, extension)| extension);
        let by_extension = extension.and_then(|extension| {
            let extension = extension.to_ascii_lowercase();
            match extension.as_str() {
                "json" => Some(Format::Json),
                "yaml" | "yml" => Some(Format::Yaml),
                "toml" => Some(Format::Toml),
                "tfvars" => Some(Format::Tfvars),
                "env" => Some(Format::Dotenv),
                _ => None,
            }
        });
        if by_extension.is_some() {
            return by_extension;
        }
        if name == ".env" || name.starts_with(".env.") {
            return Some(Format::Dotenv);
        }
        None
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Dotenv => "dotenv",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Toml => "toml",
            Format::Tfvars => "tfvars",
        }
    }

    /// Checks a top-level key against the rules [`Document::set`] enforces for this format, so
    /// a Secretfile can be rejected before any sync. The message names the rule broken.
    pub fn check_key(self, key: &str) -> Result<(), String> {
        match self {
            Format::Dotenv => dotenv::check_key(key),
            Format::Json => Ok(()),
            Format::Yaml => yaml::check_name(key),
            Format::Toml => toml::check_name(key),
            Format::Tfvars => tfvars::check_key(key),
        }
    }

    /// Whether a string can be written so that every reader gets it back exactly; the error
    /// names the characters at fault, never the value. Only dotenv refuses values: the other
    /// formats escape everything.
    pub fn check_value(self, value: &str) -> Result<(), String> {
        match self {
            Format::Dotenv => dotenv::check_value(value),
            Format::Json | Format::Yaml | Format::Toml | Format::Tfvars => Ok(()),
        }
    }

    /// The text after `KEY=` that every dotenv reader reads back as `value`, or the reason
    /// (naming characters, never the value) no quoting carries it.
    pub fn dotenv_value(value: &str) -> Result<String, String> {
        dotenv::encode(value)
    }

    /// Checks the name of a field of a multi-field secret, written as a key of a nested
    /// mapping. Dotenv has no nesting: the caller flattens fields into `KEY_FIELD` keys, mapping
    /// every character that is not a letter or digit to `_`, so any name works there; tfvars
    /// field names that are not identifiers are written quoted.
    pub fn check_field_name(self, field: &str) -> Result<(), String> {
        match self {
            Format::Dotenv | Format::Json | Format::Tfvars => Ok(()),
            Format::Yaml => yaml::check_name(field),
            Format::Toml => toml::check_name(field),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to write at a key.
#[derive(Debug)]
pub enum Value<'a> {
    Str(&'a SecretString),
    /// A nested object whose fields keep the order given. Dotenv files have no nesting: the
    /// caller flattens such a value into `KEY_FIELD` keys.
    Map(Vec<(&'a str, &'a SecretString)>),
}

/// What a key holds when read back.
#[derive(Debug, Clone)]
pub enum Stored {
    Str(SecretString),
    /// A nested object of strings only, fields in file order.
    Map(Vec<(String, SecretString)>),
    /// Anything else, named by its kind: "number", "boolean", "null", "list", "mapping",
    /// "datetime", "binary", "expression" (tfvars), "conflicting duplicates" (a key written
    /// more than once with different values), "variable reference" (a dotenv value that
    /// readers expand, such as `${NAME}`), or "ambiguous plain scalar" (unquoted YAML text
    /// that a YAML 1.1 reader would not read as a string).
    Other(&'static str),
}

/// An existing or new secrets file, kept in a form that renders back everything it held.
pub struct Document {
    format: Format,
    bom: bool,
    inner: Inner,
}

enum Inner {
    Dotenv(dotenv::Dotenv),
    Json(json::Json),
    Yaml(yaml::Yaml),
    Toml(toml::Toml),
    Tfvars(tfvars::Tfvars),
}

impl Document {
    /// Parses existing bytes (an empty slice is a new, empty file). Handles a UTF-8 BOM and
    /// CRLF line endings, and keeps both when rendering.
    pub fn parse(format: Format, bytes: &[u8]) -> Result<Document, FormatError> {
        let (bom, source) = Source::decode(format, bytes)?;
        let inner = match format {
            Format::Dotenv => Inner::Dotenv(dotenv::Dotenv::parse(source)?),
            Format::Json => Inner::Json(json::Json::parse(source)?),
            Format::Yaml => Inner::Yaml(yaml::Yaml::parse(source)?),
            Format::Toml => Inner::Toml(toml::Toml::parse(source)?),
            Format::Tfvars => Inner::Tfvars(tfvars::Tfvars::parse(source)?),
        };
        Ok(Document { format, bom, inner })
    }

    pub fn get(&self, key: &str) -> Option<Stored> {
        match &self.inner {
            Inner::Dotenv(doc) => doc.get(key),
            Inner::Json(doc) => doc.get(key),
            Inner::Yaml(doc) => doc.get(key),
            Inner::Toml(doc) => doc.get(key),
            Inner::Tfvars(doc) => doc.get(key),
        }
    }

    /// Why `key` must not be replaced, whatever the value: a YAML key that carries an anchor,
    /// which aliases elsewhere may refer to. `None` when it may be.
    pub fn refuses(&self, key: &str) -> Option<String> {
        match &self.inner {
            Inner::Yaml(doc) => doc.refuses(key).map(|reason| format!("key `{key}`: {reason}")),
            _ => None,
        }
    }

    /// Sets or replaces a top-level key. A `Value::Map` set on a key that holds a mapping is
    /// merged into it: the given fields are set or replaced, the other entries stay as they
    /// were. Refuses values the format cannot carry exactly, and values of another shape than
    /// the key holds ([`FormatError::WrongShape`]): a string never replaces a mapping or a list,
    /// and a mapping replaces nothing but a string.
    pub fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
        self.format.check_key(key).map_err(|reason| FormatError::InvalidKey {
            format: self.format,
            key: key.to_owned(),
            reason,
        })?;
        if let Value::Map(fields) = value {
            self.check_fields(key, fields)?;
        }
        match &mut self.inner {
            Inner::Dotenv(doc) => doc.set(key, value),
            Inner::Json(doc) => doc.set(key, value),
            Inner::Yaml(doc) => doc.set(key, value),
            Inner::Toml(doc) => doc.set(key, value),
            Inner::Tfvars(doc) => doc.set(key, value),
        }
    }

    pub fn render(&self) -> Vec<u8> {
        let text = match &self.inner {
            Inner::Dotenv(doc) => doc.render(),
            Inner::Json(doc) => doc.render(),
            Inner::Yaml(doc) => doc.render(),
            Inner::Toml(doc) => doc.render(),
            Inner::Tfvars(doc) => doc.render(),
        };
        let mut bytes = Vec::with_capacity(text.len() + BOM.len());
        if self.bom {
            bytes.extend_from_slice(BOM);
        }
        bytes.extend_from_slice(text.as_bytes());
        bytes
    }

    pub fn format(&self) -> Format {
        self.format
    }

    fn check_fields(&self, key: &str, fields: &[(&str, &SecretString)]) -> Result<(), FormatError> {
        let invalid =
            |reason| FormatError::InvalidKey { format: self.format, key: key.to_owned(), reason };
        let mut seen = HashSet::with_capacity(fields.len());
        for (name, _) in fields {
            if !seen.insert(*name) {
                return Err(invalid(format!("field `{name}` is given twice")));
            }
            self.format
                .check_field_name(name)
                .map_err(|reason| invalid(format!("field `{name}`: {reason}")))?;
        }
        Ok(())
    }
}

/// The file text holds secrets, so only its shape is shown.
impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("format", &self.format)
            .field("bom", &self.bom)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The existing file does not parse. The message is the parser's kind of error, never text
    /// quoted from the file.
    #[error("the existing {format} file does not parse{}: {message}", at(*.line, *.column))]
    Parse { format: Format, line: Option<usize>, column: Option<usize>, message: String },
    /// The file parses but has a shape this module does not edit (for example a YAML stream
    /// of several documents, or a JSON file whose top level is not an object).
    #[error("the existing {format} file cannot be edited{}: {reason}", at(*.line, None))]
    Unsupported { format: Format, line: Option<usize>, reason: String },
    /// The value cannot be written so that every reader gets it back exactly. The reason names
    /// the offending characters, never the value.
    #[error("the value for `{key}` cannot be written to a {format} file: {reason}")]
    CannotCarry { format: Format, key: String, reason: String },
    /// The key is not valid for the format, or already holds something that must not be
    /// overwritten blindly.
    #[error("cannot set `{key}` in a {format} file: {reason}")]
    InvalidKey { format: Format, key: String, reason: String },
    /// The key (or, as `key.field`, a field of a mapping being merged into) holds a value of
    /// another shape, which `set` does not overwrite: `found` is what it holds ("mapping",
    /// "list", "number", ...), `expected` what was to be written ("string" or "mapping").
    #[error("key `{key}` holds {}; refusing to replace it with {}", a(.found), a(.expected))]
    WrongShape { format: Format, key: String, found: &'static str, expected: &'static str },
}

/// A kind of value with its indefinite article.
fn a(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {kind}")
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The text of an existing file with the BOM removed, and the line ending new lines get.
struct Source {
    text: String,
    eol: &'static str,
}

impl Source {
    fn decode(format: Format, bytes: &[u8]) -> Result<(bool, Source), FormatError> {
        let (bom, bytes) = match bytes.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, bytes),
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(error) => {
                let (line, column) = line_col(
                    // The valid prefix is enough to place the first bad byte.
                    std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default(),
                    error.valid_up_to(),
                );
                return Err(FormatError::Parse {
                    format,
                    line: Some(line),
                    column: Some(column),
                    message: "the file is not valid UTF-8".to_owned(),
                });
            }
        };
        // The first line ending decides; a file without one gets LF like a new file.
        let eol = match text.find('\n') {
            Some(index) if text[..index].ends_with('\r') => "\r\n",
            _ => "\n",
        };
        Ok((bom, Source { text, eol }))
    }

    /// Whether the file has content and its last line lacks a line ending; appended lines then
    /// keep that style.
    fn lacks_final_newline(&self) -> bool {
        !self.text.is_empty() && !self.text.ends_with('\n')
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.bytes().filter(|&byte| byte == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |index| index + 1)
}

/// Appends lines after the spliced text of a line-based file, keeping a missing final newline
/// missing.
fn append_lines(out: &mut String, lines: &[&str], eol: &str, lacks_final_newline: bool) {
    if lines.is_empty() {
        return;
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    for (index, line) in lines.iter().enumerate() {
        out.push_str(line);
        if index + 1 < lines.len() || !lacks_final_newline {
            out.push_str(eol);
        }
    }
}

/// Edits to the text of an existing file, kept aside and applied once at render time, so each
/// `set` costs the same however large the file is and the bytes around an entry stay as the
/// user wrote them.
#[derive(Default)]
struct Splice {
    /// Per top-level entry in file order: the range a new value replaces, and the range whose
    /// removal drops the entry (used for later duplicates of a key).
    entries: Vec<(Range<usize>, Range<usize>)>,
    by_key: HashMap<String, Vec<usize>>,
    /// Entry index to its new text, or `None` when the entry is dropped.
    edits: HashMap<usize, Option<String>>,
    /// New keys in the order they were set, with their rendered text.
    appended: IndexMap<String, String>,
    /// Values set in this session, so `get` does not have to re-parse rendered text.
    written: HashMap<String, Stored>,
}

impl Splice {
    fn push(&mut self, key: Option<String>, replace: Range<usize>, remove: Range<usize>) {
        let index = self.entries.len();
        self.entries.push((replace, remove));
        if let Some(key) = key {
            self.by_key.entry(key).or_default().push(index);
        }
    }

    fn occurrences(&self, key: &str) -> &[usize] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    fn written(&self, key: &str) -> Option<&Stored> {
        self.written.get(key)
    }

    /// Makes the first occurrence of a key replace text up to `end`, for an edit that reaches
    /// past the end of its value (new lines after a trailing comment).
    fn extend_first(&mut self, key: &str, end: usize) {
        if let Some(&index) = self.occurrences(key).first() {
            let replace = &mut self.entries[index].0;
            replace.end = replace.end.max(end);
        }
    }

    /// Replaces the first occurrence of a key and drops later ones, or appends the key.
    fn set(&mut self, key: &str, text: String, stored: Stored) {
        if let Some(slot) = self.appended.get_mut(key) {
            *slot = text;
        } else if let Some(indexes) = self.by_key.get(key) {
            let (first, rest) = indexes.split_first().expect("a key is indexed with an entry");
            self.edits.insert(*first, Some(text));
            for index in rest {
                self.edits.insert(*index, None);
            }
        } else {
            self.appended.insert(key.to_owned(), text);
        }
        self.written.insert(key.to_owned(), stored);
    }

    fn appended(&self) -> impl Iterator<Item = (&str, &str)> {
        self.appended.iter().map(|(key, text)| (key.as_str(), text.as_str()))
    }

    /// The original text with every edit applied and `insert` (a range and its new text)
    /// placed after the edits that start at or before it.
    fn render(&self, text: &str, insert: Option<(Range<usize>, &str)>) -> String {
        let mut edits: Vec<(Range<usize>, &str)> = self
            .edits
            .iter()
            .map(|(&index, new)| {
                let (replace, remove) = &self.entries[index];
                match new {
                    Some(new) => (replace.clone(), new.as_str()),
                    None => (remove.clone(), ""),
                }
            })
            .collect();
        edits.sort_unstable_by_key(|(range, _)| (range.start, range.end));
        if let Some((range, new)) = insert {
            let position = edits.partition_point(|(edit, _)| edit.start <= range.start);
            edits.insert(position, (range, new));
        }

        let mut out = String::with_capacity(text.len() + edits.len() * 16);
        let mut cursor = 0;
        for (range, new) in edits {
            out.push_str(&text[cursor..range.start.max(cursor)]);
            out.push_str(new);
            cursor = cursor.max(range.end);
        }
        out.push_str(&text[cursor..]);
        out
    }
}

/// What `get` reports for a key written more than once: the value when every occurrence
/// agrees, since readers disagree on which one wins.
fn merge_duplicates(values: impl Iterator<Item = Stored>) -> Option<Stored> {
    let mut merged: Option<Stored> = None;
    for value in values {
        match &merged {
            None => merged = Some(value),
            Some(first) if same(first, &value) => {}
            Some(_) => return Some(Stored::Other("conflicting duplicates")),
        }
    }
    merged
}

fn same(a: &Stored, b: &Stored) -> bool {
    match (a, b) {
        (Stored::Str(a), Stored::Str(b)) => a.expose_secret() == b.expose_secret(),
        (Stored::Map(a), Stored::Map(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
                    ka == kb && va.expose_secret() == vb.expose_secret()
                })
        }
        (Stored::Other(a), Stored::Other(b)) => a == b,
        _ => false,
    }
}

fn stored(value: &Value<'_>) -> Stored {
    match value {
        Value::Str(secret) => Stored::Str((*secret).clone()),
        Value::Map(fields) => Stored::Map(
            fields.iter().map(|(name, secret)| ((*name).to_owned(), (*secret).clone())).collect(),
        ),
    }
}

/// What `WrongShape` calls the kind of a stored value.
fn kind(stored: &Stored) -> &'static str {
    match stored {
        Stored::Str(_) => "string",
        Stored::Map(_) => "mapping",
        Stored::Other(kind) => kind,
    }
}

/// Refuses to replace what a key (or a field, named `key.field`) holds with a value of another
/// shape: replacing a mapping or a list with a string, or anything but a string with a
/// mapping, would silently drop what the user wrote there.
fn check_shape(
    format: Format,
    key: &str,
    existing: Option<&Stored>,
    value: &Value<'_>,
) -> Result<(), FormatError> {
    let Some(existing) = existing else { return Ok(()) };
    let found = kind(existing);
    let (refused, expected) = match value {
        Value::Str(_) => (matches!(found, "mapping" | "list"), "string"),
        Value::Map(_) => (!matches!(found, "string" | "mapping"), "mapping"),
    };
    if refused {
        Err(FormatError::WrongShape { format, key: key.to_owned(), found, expected })
    } else {
        Ok(())
    }
}

/// Refuses to replace a field of a mapping being merged into when it holds a mapping or a list.
fn check_field(
    format: Format,
    key: &str,
    field: &str,
    existing: Option<&Stored>,
) -> Result<(), FormatError> {
    match existing.map(kind) {
        Some(found @ ("mapping" | "list")) => Err(FormatError::WrongShape {
            format,
            key: format!("{key}.{field}"),
            found,
            expected: "string",
        }),
        _ => Ok(()),
    }
}

/// Fields set on a key during this session, so that a later `set` of the same key merges into
/// the file's original mapping again, with every field given so far.
#[derive(Default)]
struct Merges(HashMap<String, Merge>);

#[derive(Clone)]
struct Merge {
    /// Whether the fields go into the mapping the file held at the key, or make up a new
    /// mapping that replaces what the key held.
    onto_original: bool,
    /// Each name once, with its latest value, in the order first given.
    fields: Vec<(String, SecretString)>,
}

impl Merges {
    /// The merge a `set` of these fields makes: the key's earlier one with the fields added,
    /// or a new one going `onto_original`. Kept only once the `set` succeeds.
    fn with(&self, key: &str, onto_original: bool, fields: &[(&str, &SecretString)]) -> Merge {
        let mut merge = match self.0.get(key) {
            Some(earlier) => earlier.clone(),
            None => Merge { onto_original, fields: Vec::with_capacity(fields.len()) },
        };
        for (name, secret) in fields {
            match merge.fields.iter_mut().find(|(known, _)| known == name) {
                Some(slot) => slot.1 = (*secret).clone(),
                None => merge.fields.push(((*name).to_owned(), (*secret).clone())),
            }
        }
        merge
    }

    fn keep(&mut self, key: &str, merge: Merge) {
        self.0.insert(key.to_owned(), merge);
    }

    /// A string set on the key replaces any earlier merge.
    fn forget(&mut self, key: &str) {
        self.0.remove(key);
    }
}

/// What a mapping holds after a merge: its entries in file order, with new values for the
/// fields given, then the fields it did not have. Entries whose name is not a string (`None`)
/// or whose value is not a string leave it a mapping of more than strings.
fn merged(existing: &[(Option<String>, Stored)], fields: &[(String, SecretString)]) -> Stored {
    let mut out = Vec::with_capacity(existing.len() + fields.len());
    let mut flat = true;
    for (name, value) in existing {
        let new = name.as_deref().and_then(|name| fields.iter().find(|(field, _)| field == name));
        match (name, new, value) {
            (Some(name), Some((_, secret)), _) => out.push((name.clone(), secret.clone())),
            (Some(name), None, Stored::Str(secret)) => out.push((name.clone(), secret.clone())),
            _ => flat = false,
        }
    }
    for (name, secret) in fields {
        if !existing.iter().any(|(known, _)| known.as_deref() == Some(name.as_str())) {
            out.push((name.clone(), secret.clone()));
        }
    }
    if flat { Stored::Map(out) } else { Stored::Other("mapping") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_found_by_name_and_path() {
        assert_eq!(Format::from_name("env"), Some(Format::Dotenv));
        assert_eq!(Format::from_name("yml"), Some(Format::Yaml));
        assert_eq!(Format::from_name("ini"), None);
        for format in Format::ALL {
            assert_eq!(Format::from_name(format.name()), Some(format));
        }
        let cases = [
            (".env", Some(Format::Dotenv)),
            ("config/.env.local", Some(Format::Dotenv)),
            ("prod.env", Some(Format::Dotenv)),
            ("secrets.json", Some(Format::Json)),
            ("a.yml", Some(Format::Yaml)),
            ("a.YAML", Some(Format::Yaml)),
            ("Cargo.toml", Some(Format::Toml)),
            ("prod.auto.tfvars", Some(Format::Tfvars)),
            ("terraform.tfvars", Some(Format::Tfvars)),
            ("README", None),
            ("env", None),
        ];
        for (path, expected) in cases {
            assert_eq!(Format::from_path(Path::new(path)), expected, "{path}");
        }
    }

    /// Values that trip quoting: every ASCII symbol alone, doubled, inside text and after a
    /// backslash, quotes, backslashes, template and shell sequences, YAML specials, line breaks,
    /// controls and non-ASCII text.
    fn tricky_values() -> Vec<String> {
        let mut values: Vec<String> = Vec::new();
        let symbols: Vec<char> =
            (0x20u8..0x7f).map(char::from).filter(|c| !c.is_ascii_alphanumeric()).collect();
        for &c in &symbols {
            values.extend([
                c.to_string(),
                format!("{c}{c}"),
                format!("a{c}b"),
                format!("{c}x"),
                format!("x{c}"),
                format!("CANARY\\{c}"),
            ]);
        }
        values.push((0x20u8..0x7f).map(char::from).collect());
        values.push(symbols.iter().rev().collect());
        for text in [
            "",
            "${x}",
            "$x",
            "${x:-y}",
            "%{y}",
            "$${x}",
            "%%{y}",
            "p${x}%{y}\"\\",
            "it's $ecret",
            "it's \"quoted\"",
            "\\'",
            "\\\"",
            "CANARY\\",
            "\\'\\",
            "a\\\"b'",
            "${a:b}",
            "${x:-y",
            "a\\",
            "\\\\",
            "a\\nb",
            " # not a comment",
            "a #b",
            "NO",
            "no",
            "0755",
            "1e3",
            "0x1F",
            "1:20",
            "2001-12-14",
            "~",
            "null",
            "yes",
            "- a",
            ": a",
            "? a",
            "{a: b}",
            "[a]",
            "*a",
            "&a",
            "!a",
            "|",
            ">",
            "---",
            "...",
            "<<",
            "=",
            " leading",
            "trailing ",
            "\t",
            "a\tb",
            "a\nb",
            "\n",
            "a\r\nb",
            "\r",
            "line\n",
            "-----BEGIN KEY-----\nMIIB+/x==\n-----END KEY-----\n",
            "pässwörd",
            "日本語",
            "emoji 🎉",
            "\u{a0}nbsp",
            "\u{85}",
            "\u{2028}",
            "\u{feff}",
            "\u{0}",
            "\u{1}",
            "\u{1b}[0m",
            "\u{7f}",
            "\u{9f}",
            "a\"b",
            "a'b",
            "'",
            "\"",
            "`cmd`",
            "$(cmd)",
        ] {
            values.push(text.to_owned());
        }
        values
    }

    fn exact(doc: &Document, key: &str, value: &str) -> bool {
        matches!(doc.get(key), Some(Stored::Str(found)) if found.expose_secret() == value)
    }

    /// What a reader other than this module gets back for `KEY`.
    fn independent_read(format: Format, text: &str) -> Option<String> {
        match format {
            Format::Dotenv => dotenv::tests::dotenvy_read(text, "KEY"),
            Format::Json => {
                let map: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(text).ok()?;
                map.get("KEY")?.as_str().map(str::to_owned)
            }
            Format::Yaml => {
                let map: IndexMap<String, String> = serde_saphyr::from_str(text).ok()?;
                map.get("KEY").cloned()
            }
            Format::Toml => {
                let table: ::toml::Table = ::toml::from_str(text).ok()?;
                table.get("KEY")?.as_str().map(str::to_owned)
            }
            // hcl-edit is also this module's parser, but its string decoding is independent of
            // the encoder under test.
            Format::Tfvars => {
                let body = hcl_edit::parser::parse_body(text).ok()?;
                let attribute = body.get_attribute("KEY")?;
                match &attribute.value {
                    hcl_edit::expr::Expression::String(found) => Some(found.value().clone()),
                    _ => None,
                }
            }
        }
    }

    #[test]
    fn tricky_values_read_back_exactly_or_are_refused() {
        let existing: [(Format, &str); 5] = [
            (Format::Dotenv, "# c\nOTHER=1\nKEY=old\n"),
            (Format::Json, "{\n  \"OTHER\": 1,\n  \"KEY\": \"old\"\n}\n"),
            (Format::Yaml, "# c\nOTHER: 1\nKEY: old\n"),
            (Format::Toml, "# c\nOTHER = 1\nKEY = \"old\"\n"),
            (Format::Tfvars, "# c\nOTHER = 1\nKEY = \"old\"\n"),
        ];
        for (format, start) in existing {
            let mut refused = 0;
            for value in tricky_values() {
                for source in ["", start] {
                    let mut doc = Document::parse(format, source.as_bytes()).unwrap();
                    let secret = SecretString::from(value.as_str());
                    match doc.set("KEY", &Value::Str(&secret)) {
                        Ok(()) => {}
                        Err(FormatError::CannotCarry { reason, .. }) => {
                            assert_eq!(format, Format::Dotenv, "{format} refused: {reason}");
                            let expected = value.contains('$')
                                || value.ends_with('\\')
                                || value.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
                            assert!(expected, "dotenv refused {value:?}: {reason}");
                            assert!(!reason.contains(value.as_str()) || value.len() < 2);
                            refused += 1;
                            continue;
                        }
                        Err(other) => panic!("{format}: {other}"),
                    }
                    assert!(exact(&doc, "KEY", &value), "{format} get {value:?}");

                    let rendered = String::from_utf8(doc.render()).unwrap();
                    let reread = Document::parse(format, rendered.as_bytes())
                        .unwrap_or_else(|err| panic!("{format} {value:?}: {err}\n{rendered}"));
                    assert!(exact(&reread, "KEY", &value), "{format} reread {value:?}\n{rendered}");
                    assert_eq!(
                        independent_read(format, &rendered).as_deref(),
                        Some(value.as_str()),
                        "{format} independent reader\n{rendered}"
                    );
                    if format == Format::Dotenv {
                        assert_eq!(
                            dotenv::tests::compose_read(&rendered, "KEY").as_deref(),
                            Some(value.as_str()),
                            "compose rules\n{rendered}"
                        );
                        // Later quoted values give python-dotenv's patterns a quote to run on
                        // to, should the value's closing quote not stop them.
                        let mut doc = reread;
                        for (key, later) in [("LATER1", "x y'"), ("LATER2", "a\"b")] {
                            doc.set(key, &Value::Str(&SecretString::from(later))).unwrap();
                        }
                        let rendered = String::from_utf8(doc.render()).unwrap();
                        assert_eq!(
                            dotenv::tests::python_dotenv_read(&rendered, "KEY").as_deref(),
                            Some(value.as_str()),
                            "python-dotenv\n{rendered}"
                        );
                        assert_eq!(
                            dotenv::tests::python_dotenv_read(&rendered, "LATER2").as_deref(),
                            Some("a\"b"),
                            "python-dotenv\n{rendered}"
                        );
                    }
                    if !source.is_empty() {
                        assert!(rendered.starts_with(if format == Format::Json {
                            "{"
                        } else {
                            "# c"
                        }));
                    }
                }
            }
            if format == Format::Dotenv {
                // `$` with a quote, line break or `\\`; `${...}`; a trailing `\`; controls.
                assert_eq!(refused, 2 * 23, "dotenv refused {refused} values");
            }
        }
    }

    #[test]
    fn maps_read_back_exactly() {
        let values = tricky_values();
        for format in [Format::Json, Format::Yaml, Format::Toml, Format::Tfvars] {
            let secrets: Vec<SecretString> =
                values.iter().map(|value| SecretString::from(value.as_str())).collect();
            let names: Vec<String> = (0..values.len()).map(|i| format!("f{i}")).collect();
            let fields: Vec<(&str, &SecretString)> =
                names.iter().map(String::as_str).zip(&secrets).collect();
            let mut doc = Document::parse(format, b"").unwrap();
            doc.set("MAP", &Value::Map(fields)).unwrap();
            let rendered = doc.render();
            let reread = Document::parse(format, &rendered).unwrap();
            let Some(Stored::Map(found)) = reread.get("MAP") else { panic!("{format}: no map") };
            assert_eq!(found.len(), values.len());
            for ((name, secret), (expected_name, expected)) in
                found.iter().zip(names.iter().zip(&values))
            {
                assert_eq!(name, expected_name);
                assert_eq!(secret.expose_secret(), expected, "{format} field {name}");
            }
        }
    }

    /// What a reader other than this module gets for the fields of the mapping at `key`: each
    /// name with its string, or `None` for a value that is not a string.
    fn independent_fields(format: Format, text: &str, key: &str) -> Vec<(String, Option<String>)> {
        let json = |value: &serde_json::Value| -> Vec<(String, Option<String>)> {
            let object = value.as_object().expect("a mapping");
            object.iter().map(|(name, v)| (name.clone(), v.as_str().map(str::to_owned))).collect()
        };
        match format {
            Format::Json => {
                let map: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(text).unwrap();
                json(&map[key])
            }
            Format::Yaml => {
                let map: IndexMap<String, serde_json::Value> =
                    serde_saphyr::from_str(text).unwrap();
                json(&map[key])
            }
            Format::Toml => {
                let table: ::toml::Table = ::toml::from_str(text).unwrap();
                let fields = table[key].as_table().expect("a table");
                fields
                    .iter()
                    .map(|(name, v)| (name.clone(), v.as_str().map(str::to_owned)))
                    .collect()
            }
            Format::Tfvars => {
                use hcl_edit::expr::{Expression, ObjectKey};
                let literal = |expression: &Expression| match expression {
                    Expression::String(text) => Some(text.value().clone()),
                    Expression::StringTemplate(template) => template
                        .iter()
                        .map(|element| match element {
                            hcl_edit::template::Element::Literal(text) => {
                                Some(text.value().clone())
                            }
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                };
                let body = hcl_edit::parser::parse_body(text).unwrap();
                let Expression::Object(object) = &body.get_attribute(key).unwrap().value else {
                    panic!("an object")
                };
                object
                    .iter()
                    .map(|(name, value)| {
                        let name = match name {
                            ObjectKey::Ident(name) => name.as_str().to_owned(),
                            ObjectKey::Expression(name) => literal(name).expect("a literal key"),
                        };
                        (name, literal(value.expr()))
                    })
                    .collect()
            }
            Format::Dotenv => unreachable!("dotenv has no mappings"),
        }
    }

    /// The same fields in the same order; the `toml` crate's tables are sorted by name, so
    /// for TOML only the same fields.
    fn assert_same_fields(
        format: Format,
        mut found: Vec<(String, Option<String>)>,
        mut expected: Vec<(String, Option<String>)>,
    ) {
        if format == Format::Toml {
            found.sort();
            expected.sort();
        }
        assert_eq!(found.len(), expected.len(), "{format}");
        for (found, expected) in found.iter().zip(&expected) {
            assert_eq!(found, expected, "{format}");
        }
    }

    #[test]
    fn tricky_values_merge_into_existing_mappings_exactly() {
        let existing: [(Format, &str); 4] = [
            (Format::Json, "{\n  \"MAP\": {\n    \"kept\": \"k\",\n    \"num\": 7\n  }\n}\n"),
            (Format::Yaml, "MAP:\n  kept: k # c\n  num: 7\n"),
            (Format::Toml, "[MAP]\nkept = \"k\" # c\nnum = 7\n"),
            (Format::Tfvars, "MAP = {\n  kept = \"k\" # c\n  num = 7\n}\n"),
        ];
        let values = tricky_values();
        let names: Vec<String> = (0..values.len()).map(|i| format!("f{i}")).collect();
        let secrets: Vec<SecretString> =
            values.iter().map(|value| SecretString::from(value.as_str())).collect();
        for (format, start) in existing {
            let mut doc = Document::parse(format, start.as_bytes()).unwrap();
            let fields = names.iter().map(String::as_str).zip(&secrets).collect();
            doc.set("MAP", &Value::Map(fields)).unwrap();
            let rendered = String::from_utf8(doc.render()).unwrap();

            let mut expected =
                vec![("kept".to_owned(), Some("k".to_owned())), ("num".to_owned(), None)];
            expected.extend(names.iter().cloned().zip(values.iter().cloned().map(Some)));
            assert_same_fields(format, independent_fields(format, &rendered, "MAP"), expected);
            assert!(matches!(doc.get("MAP"), Some(Stored::Other("mapping"))), "{format}");
            let reread = Document::parse(format, rendered.as_bytes()).unwrap();
            assert!(matches!(reread.get("MAP"), Some(Stored::Other("mapping"))), "{format}");
        }
    }

    /// Field names that need quoting are written so readers get them back, and a second merge
    /// finds them again instead of adding copies.
    #[test]
    fn tricky_field_names_round_trip_and_merge_in_place() {
        for format in [Format::Json, Format::Yaml, Format::Toml, Format::Tfvars] {
            let mut names: Vec<String> = Vec::new();
            for name in tricky_values() {
                if format.check_field_name(&name).is_ok() && !names.contains(&name) {
                    names.push(name);
                }
            }
            let write = |source: &[u8], prefix: &str| {
                let secrets: Vec<SecretString> =
                    (0..names.len()).map(|i| SecretString::from(format!("{prefix}{i}"))).collect();
                let fields = names.iter().map(String::as_str).zip(&secrets).collect();
                let mut doc = Document::parse(format, source).unwrap();
                doc.set("MAP", &Value::Map(fields)).unwrap();
                doc.render()
            };
            let first = write(b"", "a");
            let second = String::from_utf8(write(&first, "b")).unwrap();
            let expected =
                names.iter().enumerate().map(|(i, name)| (name.clone(), Some(format!("b{i}"))));
            assert_same_fields(
                format,
                independent_fields(format, &second, "MAP"),
                expected.collect(),
            );
        }
    }

    #[test]
    fn key_rules_are_the_ones_set_applies() {
        let keys = ["", "A", "_a.b", "a-b", "1a", "a b", "<<", "a\u{1}", "ключ", "${x}", "export"];
        let long = "k".repeat(1025);
        for format in Format::ALL {
            for key in keys.iter().copied().chain([long.as_str()]) {
                let mut doc = Document::parse(format, b"").unwrap();
                let secret = SecretString::from("v");
                let set = doc.set(key, &Value::Str(&secret));
                match format.check_key(key) {
                    Ok(()) => assert!(set.is_ok(), "{format} {key:?}: {set:?}"),
                    Err(reason) => assert!(
                        matches!(&set, Err(FormatError::InvalidKey { reason: r, .. }) if *r == reason),
                        "{format} {key:?}: {set:?}"
                    ),
                }
            }
        }
        assert_eq!(
            Format::Dotenv.check_key("a-b"),
            Err("a dotenv key must match [A-Za-z_][A-Za-z0-9_.]*".to_owned())
        );
        assert_eq!(Format::Yaml.check_key("<<"), Err("`<<` is YAML's merge key".to_owned()));
        assert!(Format::Yaml.check_key(&long).unwrap_err().contains("1024 characters"));
        assert!(Format::Yaml.check_key(&"k".repeat(1024)).is_ok());
        assert!(Format::Yaml.check_key(&"k ".repeat(511)).is_ok());
        let mut doc = Document::parse(Format::Yaml, b"").unwrap();
        doc.set(&"k ".repeat(511), &Value::Str(&SecretString::from("v"))).unwrap();
        let reread = Document::parse(Format::Yaml, &doc.render()).unwrap();
        assert!(matches!(reread.get(&"k ".repeat(511)), Some(Stored::Str(_))));
        assert!(Format::Yaml.check_key(&"k ".repeat(512)).unwrap_err().contains("1024"));
        assert!(Format::Tfvars.check_key("1x").unwrap_err().contains("[A-Za-z_][A-Za-z0-9_-]*"));
        assert!(Format::Toml.check_key("a\tb").unwrap_err().contains("control characters"));
        assert_eq!(Format::Json.check_key(""), Ok(()));

        assert_eq!(Format::Dotenv.check_field_name("any name-at.all"), Ok(()));
        assert_eq!(Format::Tfvars.check_field_name("pass-word ${x}"), Ok(()));
        assert!(Format::Yaml.check_field_name("<<").is_err());
        assert!(Format::Toml.check_field_name("a\u{7f}").is_err());
        let mut doc = Document::parse(Format::Toml, b"").unwrap();
        let secret = SecretString::from("v");
        let err = doc.set("t", &Value::Map(vec![("a\nb", &secret)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot set `t` in a toml file: field `a\nb`: a TOML key here must not hold control \
             characters (their escapes differ between TOML 1.0 and 1.1)"
        );
    }

    #[test]
    fn wrong_shape_names_both_shapes() {
        let err = FormatError::WrongShape {
            format: Format::Yaml,
            key: "api_key".to_owned(),
            found: "mapping",
            expected: "string",
        };
        assert_eq!(
            err.to_string(),
            "key `api_key` holds a mapping; refusing to replace it with a string"
        );
        let mut doc = Document::parse(Format::Json, b"{\"e\": \"x\", \"m\": {}}").unwrap();
        let secret = SecretString::from("v");
        let err = doc.set("m", &Value::Str(&secret)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `m` holds a mapping; refusing to replace it with a string"
        );
    }

    #[test]
    fn debug_and_errors_never_show_values() {
        let mut doc = Document::parse(Format::Dotenv, b"KEY=hunter2\n").unwrap();
        let secret = SecretString::from("it's $hunter3");
        let err = doc.set("KEY", &Value::Str(&secret)).unwrap_err();
        let shown = format!("{doc:?} {err} {err:?} {:?} {:?}", doc.get("KEY"), Value::Str(&secret));
        assert!(!shown.contains("hunter"), "{shown}");
    }
}
