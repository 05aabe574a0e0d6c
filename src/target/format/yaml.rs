//! YAML files whose top level is a block mapping. Only top-level entries are edited, as text:
//! the parser's event spans say where each entry starts and where its value's last content
//! ends, and everything outside those ranges (comments, blank lines, other entries, document
//! markers) is kept byte for byte. Values are read with serde-saphyr.
//!
//! Scalars are always quoted, so that YAML 1.1 readers (PyYAML) and YAML 1.2 readers agree they
//! are strings: single quotes, or double quotes with escapes when the value holds a line break,
//! a control character, or a character YAML 1.1 treats as a line break (U+0085, U+2028, U+2029).

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

use super::{
    Format, FormatError, Source, Splice, Stored, Value, append_lines, check_replaceable, line_col,
    line_start, stored,
};

const FORMAT: Format = Format::Yaml;

pub(super) struct Yaml {
    source: Source,
    /// Per top-level entry in file order.
    entries: Vec<EntryInfo>,
    /// Each string key's value as serde-saphyr reads it.
    read: HashMap<String, Stored>,
    /// Indentation of the top-level keys.
    indent: String,
    insertion: Insertion,
    splice: Splice,
}

#[derive(Default)]
struct EntryInfo {
    /// An anchor on the key or inside the value: aliases elsewhere may refer to it.
    anchored: bool,
    /// The value is a plain (unquoted) scalar.
    plain: bool,
}

/// Where new entries go.
enum Insertion {
    /// At the end of the file.
    End,
    /// Before the document end marker (`...`) that starts at this offset.
    Before(usize),
    /// In place of an empty flow mapping (`{}`) that is the whole document.
    Replace(Range<usize>),
}

impl Yaml {
    pub(super) fn parse(source: Source) -> Result<Yaml, FormatError> {
        let outline = Outline::scan(&source.text)?;
        let read = read_values(&source.text)?;

        let mut splice = Splice::default();
        for entry in &outline.entries {
            splice.push(entry.key.clone(), entry.range.clone(), entry.range.clone());
        }
        let entries = outline.entries.into_iter().map(|entry| entry.info).collect();
        Ok(Yaml {
            source,
            entries,
            read,
            indent: outline.indent,
            insertion: outline.insertion,
            splice,
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<Stored> {
        if let Some(value) = self.splice.written(key) {
            return Some(value.clone());
        }
        let value = self.read.get(key)?;
        let plain = self.splice.occurrences(key).first().is_some_and(|&i| self.entries[i].plain);
        match value {
            Stored::Str(text) if plain && yaml11_reads_otherwise(text.expose_secret()) => {
                Some(Stored::Other("ambiguous plain scalar"))
            }
            other => Some(other.clone()),
        }
    }

    pub(super) fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
        if key == "<<" {
            return Err(invalid(key, "`<<` is YAML's merge key"));
        }
        if let Some(&index) = self.splice.occurrences(key).first() {
            if self.entries[index].anchored {
                return Err(invalid(key, "it holds a YAML anchor (&) that aliases may refer to"));
            }
            check_replaceable(FORMAT, key, self.read.get(key))?;
        }
        let text = self.entry_text(key, value);
        self.splice.set(key, text, stored(value));
        Ok(())
    }

    /// A whole `key: value` entry, without a final line ending.
    fn entry_text(&self, key: &str, value: &Value<'_>) -> String {
        let eol = self.source.eol;
        let mut text = format!("{}{}:", self.indent, key_text(key));
        match value {
            Value::Str(secret) => {
                text.push(' ');
                text.push_str(&scalar(secret.expose_secret()));
            }
            Value::Map(fields) if fields.is_empty() => text.push_str(" {}"),
            Value::Map(fields) => {
                for (name, secret) in fields {
                    text.push_str(eol);
                    text.push_str(&self.indent);
                    text.push_str("  ");
                    text.push_str(&key_text(name));
                    text.push_str(": ");
                    text.push_str(&scalar(secret.expose_secret()));
                }
            }
        }
        text
    }

    pub(super) fn render(&self) -> String {
        let text = self.source.text.as_str();
        let eol = self.source.eol;
        let appended: Vec<&str> = self.splice.appended().map(|(_, entry)| entry).collect();
        if appended.is_empty() {
            return self.splice.render(text, None);
        }
        match &self.insertion {
            Insertion::End => {
                let mut out = self.splice.render(text, None);
                append_lines(&mut out, &appended, eol, self.source.lacks_final_newline());
                out
            }
            Insertion::Before(at) => {
                let block: String = appended.iter().map(|entry| format!("{entry}{eol}")).collect();
                self.splice.render(text, Some((*at..*at, &block)))
            }
            Insertion::Replace(range) => {
                // A block mapping cannot start on the line of `---`.
                let mut block = String::new();
                if !text[line_start(text, range.start)..range.start].trim().is_empty() {
                    block.push_str(eol);
                }
                block.push_str(&appended.join(eol));
                self.splice.render(text, Some((range.clone(), &block)))
            }
        }
    }
}

fn invalid(key: &str, reason: &str) -> FormatError {
    FormatError::InvalidKey { format: FORMAT, key: key.to_owned(), reason: reason.to_owned() }
}

/// A top-level entry found by the event scan.
struct Entry {
    /// `None` for a key that is not a scalar (a complex key), which is kept but never matched.
    key: Option<String>,
    /// From the start of the key's line to the last content byte of the value.
    range: Range<usize>,
    info: EntryInfo,
}

/// The layout of a document, from the parser's events.
struct Outline {
    entries: Vec<Entry>,
    indent: String,
    insertion: Insertion,
}

/// Where the scan is inside the top-level mapping.
struct Open {
    key_start: usize,
    key_end: usize,
    key: Option<String>,
    info: EntryInfo,
    /// End of the value's last content seen so far.
    content_end: usize,
    value_started: bool,
    value_events: usize,
}

impl Outline {
    fn scan(text: &str) -> Result<Outline, FormatError> {
        let mut outline =
            Outline { entries: Vec::new(), indent: String::new(), insertion: Insertion::End };
        let mut documents = 0;
        // Styles of the open collections; the first is the top-level mapping.
        let mut stack: Vec<StructureStyle> = Vec::new();
        let mut top_flow_start = None;
        let mut open: Option<Open> = None;

        for next in Parser::new_from_str(text) {
            let (event, span) = next.map_err(|error| scan_error(text, &error))?;
            let start = offset(&span.start);
            let end = offset(&span.end);
            let tag_end = span.tag_span().map(|tag| offset(&tag.end));
            match event {
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        return Err(unsupported(text, start, "the file holds several documents"));
                    }
                }
                Event::DocumentEnd if end > start => {
                    outline.insertion = Insertion::Before(line_start(text, start));
                }
                Event::MappingStart(style, ..) | Event::SequenceStart(style, ..)
                    if stack.is_empty() =>
                {
                    if !matches!(event, Event::MappingStart(..)) {
                        return Err(unsupported(text, start, "the top level must be a mapping"));
                    }
                    if style == StructureStyle::Flow {
                        top_flow_start = Some(start);
                    }
                    stack.push(style);
                }
                // An empty document reads as null; any other scalar is not a mapping.
                Event::Scalar(ref value, style, ..)
                    if stack.is_empty()
                        && !(value == "~" && style == ScalarStyle::Plain && start == end) =>
                {
                    return Err(unsupported(text, start, "the top level must be a mapping"));
                }
                Event::Scalar(..) if stack.is_empty() => {}
                Event::Alias(..) if stack.is_empty() => {
                    return Err(unsupported(text, start, "the top level must be a mapping"));
                }
                Event::MappingEnd if stack.len() == 1 => {
                    stack.pop();
                    if let Some(entry) = open.take() {
                        outline.close(text, entry);
                    }
                    if let Some(flow_start) = top_flow_start {
                        if !outline.entries.is_empty() {
                            return Err(unsupported(
                                text,
                                flow_start,
                                "a top-level flow mapping ({...}) is only edited when empty",
                            ));
                        }
                        outline.insertion = Insertion::Replace(flow_start..end);
                    }
                }
                Event::MappingStart(style, anchor, _) | Event::SequenceStart(style, anchor, _) => {
                    let content = if style == StructureStyle::Flow { Some(end) } else { tag_end };
                    outline.node(text, &mut open, &stack, start, content, anchor != 0, false);
                    stack.push(style);
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let style = stack.pop().unwrap_or(StructureStyle::Block);
                    if let Some(entry) = open.as_mut() {
                        // A block collection ends where the next token starts; only a flow
                        // collection's closing bracket is content.
                        if style == StructureStyle::Flow {
                            entry.content_end = entry.content_end.max(end);
                        }
                    }
                    outline.after_node(text, &mut open, &stack);
                }
                Event::Scalar(ref value, style, anchor, _) => {
                    let content = if end > start { Some(end) } else { tag_end };
                    let plain = style == ScalarStyle::Plain;
                    // Copied only for keys: values are secrets.
                    let key = (stack.len() == 1 && open.is_none()).then(|| value.to_string());
                    outline.node(text, &mut open, &stack, start, content, anchor != 0, plain);
                    if let (Some(key), Some(entry)) = (key, open.as_mut()) {
                        entry.key = Some(key);
                    }
                    outline.after_node(text, &mut open, &stack);
                }
                Event::Alias(..) => {
                    outline.node(text, &mut open, &stack, start, Some(end), false, false);
                    outline.after_node(text, &mut open, &stack);
                }
                _ => {}
            }
        }
        Ok(outline)
    }

    /// Records the start of a node: at depth one it opens an entry (a key) or starts its value.
    #[expect(clippy::too_many_arguments, reason = "one call site per event kind, all local")]
    fn node(
        &mut self,
        text: &str,
        open: &mut Option<Open>,
        stack: &[StructureStyle],
        start: usize,
        content: Option<usize>,
        anchored: bool,
        plain: bool,
    ) {
        if stack.len() == 1 {
            match open {
                Some(entry) if !entry.value_started && entry.key_end > 0 => {
                    entry.value_started = true;
                    entry.info.plain = plain;
                }
                Some(_) => {}
                None => {
                    let line = line_start(text, start);
                    if self.entries.is_empty() {
                        let lead = &text[line..start];
                        let blanks = lead.len() - lead.trim_start_matches(' ').len();
                        self.indent = lead[..blanks].to_owned();
                    }
                    *open = Some(Open {
                        key_start: line,
                        key_end: 0,
                        key: None,
                        info: EntryInfo::default(),
                        content_end: 0,
                        value_started: false,
                        value_events: 0,
                    });
                }
            }
        }
        if let Some(entry) = open.as_mut() {
            entry.info.anchored |= anchored;
            if entry.value_started {
                entry.value_events += 1;
                if entry.value_events > 1 {
                    entry.info.plain = false;
                }
                if let Some(content) = content {
                    entry.content_end = entry.content_end.max(content);
                }
            } else if let Some(content) = content {
                entry.key_end = entry.key_end.max(content);
            }
        }
    }

    /// After a complete node at depth one: a finished key waits for its value, a finished value
    /// closes the entry.
    fn after_node(&mut self, text: &str, open: &mut Option<Open>, stack: &[StructureStyle]) {
        if stack.len() != 1 {
            return;
        }
        let Some(entry) = open.as_mut() else { return };
        if !entry.value_started {
            // The key is complete; an empty key still needs a non-zero end to mark it.
            entry.key_end = entry.key_end.max(entry.key_start + 1);
            return;
        }
        if let Some(entry) = open.take() {
            self.close(text, entry);
        }
    }

    fn close(&mut self, text: &str, entry: Open) {
        // An empty value ends at the colon after its key.
        let end = if entry.content_end > entry.key_end {
            let content = &text[entry.key_start..entry.content_end];
            entry.key_start + content.trim_end().len()
        } else {
            // `? key` without a value has no colon; the entry then ends with its key.
            let rest = &text[entry.key_end..];
            let blanks = rest.len() - rest.trim_start().len();
            if rest[blanks..].starts_with(':') { entry.key_end + blanks + 1 } else { entry.key_end }
        };
        self.entries.push(Entry { key: entry.key, range: entry.key_start..end, info: entry.info });
    }
}

fn offset(marker: &serde_saphyr::granit_parser::Marker) -> usize {
    marker.byte_offset().unwrap_or_else(|| marker.index())
}

fn unsupported(text: &str, at: usize, reason: &str) -> FormatError {
    let (line, _) = line_col(text, at);
    FormatError::Unsupported { format: FORMAT, line: Some(line), reason: reason.to_owned() }
}

fn scan_error(text: &str, error: &serde_saphyr::granit_parser::ScanError) -> FormatError {
    use serde_saphyr::granit_parser::ErrorKind;
    let marker = error.marker();
    let (line, column) = match marker.byte_offset() {
        Some(at) => line_col(text, at),
        None => (marker.line(), marker.col() + 1),
    };
    // The only message that quotes the input names a single character; drop it.
    let message = match error.kind() {
        ErrorKind::UnexpectedCharacter { .. } => "unexpected character".to_owned(),
        kind => kind.to_string(),
    };
    FormatError::Parse { format: FORMAT, line: Some(line), column: Some(column), message }
}

/// Reads every top-level value with serde-saphyr.
fn read_values(text: &str) -> Result<HashMap<String, Stored>, FormatError> {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    // The default budget guards against alias bombs; a large flat file of plain entries must
    // still load, so node and event limits grow with the input.
    if let Some(budget) = options.budget.as_mut() {
        budget.max_nodes = budget.max_nodes.max(text.len() * 2 + 16);
        budget.max_events = budget.max_events.max(text.len() * 4 + 16);
    }
    let top: Option<TopLevel> =
        serde_saphyr::from_str_with_options(text, options).map_err(|error| {
            let location = error.location();
            FormatError::Parse {
                format: FORMAT,
                line: location.map(|at| usize::try_from(at.line()).unwrap_or(usize::MAX)),
                column: location.map(|at| usize::try_from(at.column()).unwrap_or(usize::MAX)),
                message: read_error_message(&error).to_owned(),
            }
        })?;
    Ok(top.map(|top| top.0).unwrap_or_default())
}

/// serde-saphyr's own messages may quote keys or values, so only the kind of error is kept.
fn read_error_message(error: &serde_saphyr::Error) -> &'static str {
    use serde_saphyr::Error as E;
    match error {
        E::DuplicateMappingKey { .. } => "duplicate key in a mapping",
        E::UnknownAnchor { .. } => "alias to an unknown anchor",
        E::Budget { .. } => "the document exceeds the reader's safety limits",
        E::MergeValueNotMapOrSeqOfMaps { .. } | E::MergeKeyNotAllowed { .. } => {
            "invalid merge key (<<)"
        }
        E::MultipleDocuments { .. } => "the file holds several documents",
        _ => "the document cannot be read",
    }
}

struct TopLevel(HashMap<String, Stored>);

impl<'de> de::Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut values = HashMap::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<KeyName>()? {
            let value = map.next_value_seed(StoredSeed)?;
            if let Some(key) = key.0 {
                values.insert(key, value);
            }
        }
        Ok(TopLevel(values))
    }
}

/// A mapping key that is a string; other keys (numbers, booleans) are read and skipped.
struct KeyName(Option<String>);

impl<'de> de::Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = KeyName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyName, E> {
        Ok(KeyName(Some(key.to_owned())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeyName, E> {
        Ok(KeyName(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyName, E> {
        Ok(KeyName(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyName, E> {
        Ok(KeyName(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyName, E> {
        Ok(KeyName(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<KeyName, E> {
        Ok(KeyName(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyName, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(KeyName(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyName, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(KeyName(None))
    }
}

/// Reads a value as `Stored`: a string, a flat mapping of strings, or the kind of anything
/// else. The secret goes straight into a `SecretString`.
struct StoredSeed;

impl<'de> DeserializeSeed<'de> for StoredSeed {
    type Value = Stored;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Stored, D::Error> {
        deserializer.deserialize_any(StoredVisitor { nested: false })
    }
}

struct StoredVisitor {
    /// Inside a mapping, where only strings keep the mapping flat.
    nested: bool,
}

impl<'de> Visitor<'de> for StoredVisitor {
    type Value = Stored;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Stored, E> {
        Ok(Stored::Str(SecretString::from(text)))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Stored, E> {
        Ok(Stored::Str(SecretString::from(text)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Stored, E> {
        Ok(Stored::Other("boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Stored, E> {
        Ok(Stored::Other("number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Stored, E> {
        Ok(Stored::Other("number"))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Stored, E> {
        Ok(Stored::Other("number"))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Stored, E> {
        Ok(Stored::Other("number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Stored, E> {
        Ok(Stored::Other("number"))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Stored, E> {
        Ok(Stored::Other("binary"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Stored, E> {
        Ok(Stored::Other("null"))
    }

    fn visit_none<E: de::Error>(self) -> Result<Stored, E> {
        Ok(Stored::Other("null"))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Stored, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Stored, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Stored::Other("list"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stored, A::Error> {
        if self.nested {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Stored::Other("mapping"));
        }
        let mut fields = Vec::new();
        let mut flat = true;
        while let Some(name) = map.next_key::<KeyName>()? {
            let value = map.next_value_seed(FieldSeed)?;
            match (name.0, value) {
                (Some(name), Stored::Str(text)) if flat => fields.push((name, text)),
                _ => flat = false,
            }
        }
        Ok(if flat { Stored::Map(fields) } else { Stored::Other("mapping") })
    }
}

struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Stored;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Stored, D::Error> {
        deserializer.deserialize_any(StoredVisitor { nested: true })
    }
}

/// Keys written without quotes: identifiers that no YAML version reads as anything but a
/// string.
fn key_text(key: &str) -> String {
    let mut chars = key.chars();
    let identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if identifier && !is_special_word(key) { key.to_owned() } else { scalar(key) }
}

/// Words YAML 1.1 or 1.2 resolve to booleans or null, in any letter case.
fn is_special_word(word: &str) -> bool {
    const WORDS: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    WORDS.iter().any(|special| special.eq_ignore_ascii_case(word))
}

/// Characters a single-quoted scalar cannot carry: C0 and C1 controls other than tab (they
/// must be escaped), and characters YAML 1.1 treats as line breaks or that are not printable.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}')
}

/// A scalar every YAML reader reads back as this exact string.
fn scalar(value: &str) -> String {
    if !value.chars().any(needs_escape) {
        return format!("'{}'", value.replace('\'', "''"));
    }
    let mut out = String::with_capacity(value.len() + 8);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && u32::from(c) <= 0xFF => {
                out.push_str(&format!("\\x{:02X}", u32::from(c)));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a YAML 1.1 reader (PyYAML) may resolve this plain scalar to something other than a
/// string: booleans and null of YAML 1.1, numbers (octal, sexagesimal, with underscores),
/// infinity and NaN, timestamps, and the merge and value keys. Errs towards "yes".
fn yaml11_reads_otherwise(text: &str) -> bool {
    if text.is_empty() || text == "~" || text == "<<" || text == "=" || is_special_word(text) {
        return true;
    }
    let unsigned = text.trim_start_matches(['+', '-']);
    let lower = unsigned.to_ascii_lowercase();
    if lower == ".inf" || lower == ".nan" {
        return true;
    }
    let numeric_chars = |c: char| c.is_ascii_hexdigit() || "xXoO_:.+-eE".contains(c);
    let starts_numeric = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    let timestamp = text.len() >= 10
        && text.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && text.as_bytes()[4] == b'-';
    (starts_numeric && unsigned.chars().all(numeric_chars)) || timestamp
}

#[cfg(test)]
mod tests {
    use super::super::{Document, Format, FormatError, Stored, Value};
    use indexmap::IndexMap;
    use secrecy::{ExposeSecret, SecretString};

    fn rendered(existing: &str, sets: &[(&str, &str)]) -> String {
        let mut doc = Document::parse(Format::Yaml, existing.as_bytes()).unwrap();
        for (key, value) in sets {
            let secret = SecretString::from(*value);
            doc.set(key, &Value::Str(&secret)).unwrap();
        }
        String::from_utf8(doc.render()).unwrap()
    }

    fn saphyr(text: &str) -> IndexMap<String, String> {
        serde_saphyr::from_str(text).unwrap()
    }

    #[test]
    fn case_6_strings_stay_strings() {
        let out =
            rendered("", &[("COUNTRY", "NO"), ("MODE", "0755"), ("TOKEN", "@ocIdZ7Jq7jSiL6\"")]);
        assert_eq!(out, "COUNTRY: 'NO'\nMODE: '0755'\nTOKEN: '@ocIdZ7Jq7jSiL6\"'\n");
        let read = saphyr(&out);
        assert_eq!(read["COUNTRY"], "NO");
        assert_eq!(read["MODE"], "0755");
        assert_eq!(read["TOKEN"], "@ocIdZ7Jq7jSiL6\"");
    }

    #[test]
    fn edits_keep_comments_blank_lines_and_other_entries() {
        let existing = "# head\nA: old # why\n\nB: |\n  line1\n  # content\n\n\
                        C:\n  a: xx\n  b: yy\n# tail comment\nD: {p: 'one',\n  q: two}\n\
                        E:\nF: plain\n  folded\n";
        let out = rendered(
            existing,
            &[("A", "a"), ("B", "b"), ("C", "c"), ("D", "d"), ("E", "e"), ("F", "f"), ("G", "g")],
        );
        assert_eq!(
            out,
            "# head\nA: 'a' # why\n\nB: 'b'\n\nC: 'c'\n# tail comment\n\
             D: 'd'\nE: 'e'\nF: 'f'\nG: 'g'\n"
        );
    }

    #[test]
    fn lists_are_not_overwritten_but_flat_maps_are() {
        let mut doc = Document::parse(Format::Yaml, b"L:\n- 1\nM:\n  a: x\n").unwrap();
        let secret = SecretString::from("v");
        assert!(matches!(doc.set("L", &Value::Str(&secret)), Err(FormatError::InvalidKey { .. })));
        doc.set("M", &Value::Map(vec![("a", &secret), ("b c", &secret)])).unwrap();
        let out = String::from_utf8(doc.render()).unwrap();
        assert_eq!(out, "L:\n- 1\nM:\n  a: 'v'\n  'b c': 'v'\n");
        let doc = Document::parse(Format::Yaml, out.as_bytes()).unwrap();
        let Some(Stored::Map(fields)) = doc.get("M") else { panic!("M is a map") };
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[1].0, "b c");
    }

    #[test]
    fn control_characters_and_line_breaks_use_double_quotes() {
        let out = rendered("", &[("K", "a\nb\t'c'\u{7}\u{85}\u{2028}\\")]);
        assert_eq!(out, "K: \"a\\nb\\t'c'\\x07\\x85\\u2028\\\\\"\n");
        assert_eq!(saphyr(&out)["K"], "a\nb\t'c'\u{7}\u{85}\u{2028}\\");
    }

    #[test]
    fn crlf_bom_indentation_and_document_markers_are_kept() {
        let existing = b"\xEF\xBB\xBF---\r\n  A: 1\r\n  B: 2\r\n...\r\n# after\r\n";
        let mut doc = Document::parse(Format::Yaml, existing).unwrap();
        let secret = SecretString::from("x");
        doc.set("B", &Value::Str(&secret)).unwrap();
        doc.set("C", &Value::Str(&secret)).unwrap();
        assert_eq!(
            doc.render(),
            b"\xEF\xBB\xBF---\r\n  A: 1\r\n  B: 'x'\r\n  C: 'x'\r\n...\r\n# after\r\n"
        );
    }

    #[test]
    fn empty_documents_and_empty_flow_mappings_accept_new_keys() {
        assert_eq!(rendered("# only a comment\n", &[("A", "x")]), "# only a comment\nA: 'x'\n");
        assert_eq!(rendered("---\n", &[("A", "x")]), "---\nA: 'x'\n");
        assert_eq!(rendered("{}\n", &[("A", "x"), ("B", "y")]), "A: 'x'\nB: 'y'\n");
        assert_eq!(rendered("--- {}\n", &[("A", "x")]), "--- \nA: 'x'\n");
    }

    #[test]
    fn unsupported_shapes_and_errors_do_not_quote_values() {
        for (text, line) in [("- s3cret\n", 1), ("a: 1\n---\nb: s3cret\n", 2), ("{a: s3cret}\n", 1)]
        {
            let err = Document::parse(Format::Yaml, text.as_bytes()).unwrap_err();
            assert!(
                matches!(err, FormatError::Unsupported { line: Some(l), .. } if l == line),
                "{err}"
            );
            assert!(!err.to_string().contains("s3cret"));
        }
        let err = Document::parse(Format::Yaml, b"a: 'x\nb: \"s3cret: [\n").unwrap_err();
        assert!(matches!(err, FormatError::Parse { .. }));
        assert!(!format!("{err} {err:?}").contains("s3cret"));
        let err = Document::parse(Format::Yaml, b"s3cret: 1\ns3cret: 2\n").unwrap_err();
        assert!(matches!(err, FormatError::Parse { line: Some(2), .. }), "{err}");
    }

    #[test]
    fn anchored_values_and_merge_keys_are_protected() {
        let mut doc = Document::parse(Format::Yaml, b"base: &b {x: '1'}\nuse: *b\n").unwrap();
        let secret = SecretString::from("v");
        assert!(doc.set("base", &Value::Str(&secret)).is_err());
        assert!(doc.set("<<", &Value::Str(&secret)).is_err());
        doc.set("use", &Value::Str(&secret)).unwrap();
        assert_eq!(String::from_utf8(doc.render()).unwrap(), "base: &b {x: '1'}\nuse: 'v'\n");
    }

    #[test]
    fn plain_scalars_yaml_1_1_reads_differently_are_reported() {
        let doc =
            Document::parse(Format::Yaml, b"a: NO\nb: 0755\nc: plain\nd: 'NO'\ne: 1:20\n").unwrap();
        assert!(matches!(doc.get("a"), Some(Stored::Other(_))));
        assert!(matches!(doc.get("b"), Some(Stored::Other(_))));
        assert!(matches!(doc.get("c"), Some(Stored::Str(s)) if s.expose_secret() == "plain"));
        assert!(matches!(doc.get("d"), Some(Stored::Str(s)) if s.expose_secret() == "NO"));
        assert!(matches!(doc.get("e"), Some(Stored::Other(_))));
    }

    #[test]
    fn keys_that_need_quotes_get_them() {
        let out = rendered("", &[("yes", "1"), ("with space", "2"), ("plain_key-1.x", "3")]);
        assert_eq!(out, "'yes': '1'\n'with space': '2'\nplain_key-1.x: '3'\n");
        let doc = Document::parse(Format::Yaml, out.as_bytes()).unwrap();
        assert!(matches!(doc.get("yes"), Some(Stored::Str(_))));
    }
}
