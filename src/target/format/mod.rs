//! Local secrets files: dotenv, JSON, YAML, TOML and tfvars.
//!
//! This module owns the text of such a file between reading and writing it: it parses the
//! existing bytes without losing anything the user wrote, sets and reads top-level keys, and
//! renders the bytes to write. It refuses, rather than writes, a value that some reader of the
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
    /// more than once with different values), or "ambiguous plain scalar" (unquoted YAML text
    /// that a YAML 1.1 reader would not read as a string).
    Other(&'static str),
}

/// Kinds of `Stored::Other` that `set` refuses to replace: replacing them would silently drop
/// structure the user wrote (a list, a mapping of more than strings).
const COMPOSITE: [&str; 2] = ["list", "mapping"];

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

    /// Sets or replaces a top-level key. Refuses values the format cannot carry exactly, and
    /// refuses to replace a list or a nested structure that holds more than strings.
    pub fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
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
        let mut seen = HashSet::with_capacity(fields.len());
        for (name, _) in fields {
            if !seen.insert(*name) {
                return Err(FormatError::InvalidKey {
                    format: self.format,
                    key: key.to_owned(),
                    reason: format!("field `{name}` is given twice"),
                });
            }
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

/// Refuses to replace what an existing key holds when that would drop structure.
fn check_replaceable(
    format: Format,
    key: &str,
    existing: Option<&Stored>,
) -> Result<(), FormatError> {
    match existing {
        Some(Stored::Other(kind)) if COMPOSITE.contains(kind) => Err(FormatError::InvalidKey {
            format,
            key: key.to_owned(),
            reason: format!("it holds a {kind}, which a secret must not overwrite"),
        }),
        _ => Ok(()),
    }
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

    /// Values that trip quoting: every ASCII symbol alone, doubled and inside text, quotes,
    /// backslashes, template and shell sequences, YAML specials, line breaks, controls and
    /// non-ASCII text.
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
                            let dollar_or_control = value.contains('$')
                                || value.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
                            assert!(dollar_or_control, "dotenv refused {value:?}: {reason}");
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
                assert!(refused > 0 && refused < 60, "dotenv refused {refused} values");
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

    #[test]
    fn debug_and_errors_never_show_values() {
        let mut doc = Document::parse(Format::Dotenv, b"KEY=hunter2\n").unwrap();
        let secret = SecretString::from("it's $hunter3");
        let err = doc.set("KEY", &Value::Str(&secret)).unwrap_err();
        let shown = format!("{doc:?} {err} {err:?} {:?} {:?}", doc.get("KEY"), Value::Str(&secret));
        assert!(!shown.contains("hunter"), "{shown}");
    }
}
