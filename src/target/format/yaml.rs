//! YAML files whose top level is a block mapping. Top-level entries, and the entries of a
//! mapping a top-level key holds (when a mapping is merged into it), are edited as text: the
//! parser's event spans say where each entry starts and where its value's last content ends,
//! and everything outside those ranges (comments, blank lines, other entries, document markers)
//! is kept byte for byte. Values are read with serde-saphyr.
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
    Format, FormatError, Merge, Merges, Source, Splice, Stored, Value, append_lines, check_field,
    check_shape, kind, line_col, line_start, merged, stored,
};

const FORMAT: Format = Format::Yaml;

/// YAML readers take an implicit (`key: value`) key of at most 1024 characters.
const MAX_KEY_CHARS: usize = 1024;

pub(super) struct Yaml {
    source: Source,
    /// Per top-level entry in file order.
    entries: Vec<Entry>,
    /// Each string key's value as serde-saphyr reads it.
    read: HashMap<String, Read>,
    /// Indentation of the top-level keys.
    indent: String,
    insertion: Insertion,
    splice: Splice,
    merges: Merges,
}

/// An entry found by the event scan: at the top level, or in a mapping a top-level key holds.
struct Entry {
    /// `None` for a key that is not a scalar (a complex key), which is kept but never matched.
    key: Option<String>,
    /// From the start of the key (its line, in a block mapping) to the last content byte of
    /// the value.
    range: Range<usize>,
    info: EntryInfo,
}

#[derive(Default)]
struct EntryInfo {
    /// An anchor on the key or inside the value: aliases elsewhere may refer to it.
    anchored: bool,
    /// The value is a plain (unquoted) scalar.
    plain: bool,
    /// What the value is, from its first event: "string", "ambiguous plain scalar" (see
    /// `Stored::Other`), "mapping", "list" or "alias"; for keys serde-saphyr does not read as
    /// strings (`n`, `1`), this is all that is known.
    shape: &'static str,
    /// The entries of the mapping the value is, for a top-level entry.
    mapping: Option<Mapping>,
}

/// A mapping held by a top-level key, as far as merging into it needs.
struct Mapping {
    /// A flow mapping (`{a: 1}`) rather than a block one.
    flow: bool,
    entries: Vec<Entry>,
    /// Indentation of the keys of a block mapping.
    indent: String,
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
        for entry in &outline.top.entries {
            splice.push(entry.key.clone(), entry.range.clone(), entry.range.clone());
        }
        Ok(Yaml {
            source,
            entries: outline.top.entries,
            read,
            indent: outline.top.indent,
            insertion: outline.insertion,
            splice,
            merges: Merges::default(),
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<Stored> {
        if let Some(value) = self.splice.written(key) {
            return Some(value.clone());
        }
        let value = &self.read.get(key)?.stored;
        let plain =
            self.splice.occurrences(key).first().is_some_and(|&i| self.entries[i].info.plain);
        match value {
            Stored::Str(text) if plain && yaml11_reads_otherwise(text.expose_secret()) => {
                Some(Stored::Other("ambiguous plain scalar"))
            }
            other => Some(other.clone()),
        }
    }

    /// Why `key` must not be replaced whatever the value, if it must not.
    pub(super) fn refuses(&self, key: &str) -> Option<&'static str> {
        let first = self.splice.occurrences(key).first().copied();
        first
            .is_some_and(|index| self.entries[index].info.anchored)
            .then_some("it holds a YAML anchor (&) that aliases may refer to")
    }

    pub(super) fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
        let first = self.splice.occurrences(key).first().copied();
        if let Some(reason) = self.refuses(key) {
            return Err(invalid(key, reason));
        }
        // A key serde-saphyr reads as something else than a string is known by its shape.
        let existing = self.get(key).or_else(|| {
            let shape = first.map(|index| self.entries[index].info.shape);
            shape.map(Stored::Other)
        });
        check_shape(FORMAT, key, existing.as_ref(), value)?;

        let (text, stored) = match value {
            Value::Str(secret) => {
                self.merges.forget(key);
                (self.scalar_entry(key, secret.expose_secret()), stored(value))
            }
            Value::Map(fields) => {
                let onto_original = self.splice.written(key).is_none()
                    && existing.as_ref().is_some_and(|existing| kind(existing) == "mapping");
                let merge = self.merges.with(key, onto_original, fields);
                let new = match first {
                    Some(index) if merge.onto_original => {
                        let (text, end, stored) = self.merged_entry(key, index, &merge)?;
                        self.splice.extend_first(key, end);
                        (text, stored)
                    }
                    _ => {
                        (self.mapping_entry(key, &merge.fields), Stored::Map(merge.fields.clone()))
                    }
                };
                self.merges.keep(key, merge);
                new
            }
        };
        self.splice.set(key, text, stored);
        Ok(())
    }

    /// A whole `key: value` entry, without a final line ending.
    fn scalar_entry(&self, key: &str, value: &str) -> String {
        format!("{}{}: {}", self.indent, key_text(key), scalar(value))
    }

    /// A whole entry holding a new block mapping, without a final line ending.
    fn mapping_entry(&self, key: &str, fields: &[(String, SecretString)]) -> String {
        let mut text = format!("{}{}:", self.indent, key_text(key));
        if fields.is_empty() {
            text.push_str(" {}");
        }
        for (name, secret) in fields {
            text.push_str(self.source.eol);
            text.push_str(&format!("{}  {}", self.indent, field_entry(name, secret)));
        }
        text
    }

    /// The text of a top-level entry with the merge's fields set in the mapping it holds, and
    /// where that text ends: past the entry's last line when new fields follow a comment there.
    fn merged_entry(
        &self,
        key: &str,
        index: usize,
        merge: &Merge,
    ) -> Result<(String, usize, Stored), FormatError> {
        let text = self.source.text.as_str();
        let entry = &self.entries[index];
        let Some(mapping) = &entry.info.mapping else {
            return Err(invalid(
                key,
                "it is an alias (*) of a mapping; set the fields where that is",
            ));
        };
        let Some(last) = mapping.entries.last() else {
            let stored = Stored::Map(merge.fields.clone());
            return Ok((self.mapping_entry(key, &merge.fields), entry.range.end, stored));
        };
        let read = self.read.get(key).map_or(&[][..], |read| read.fields.as_slice());
        for (name, _) in &merge.fields {
            let known = read.iter().find(|(known, _)| known.as_deref() == Some(name.as_str()));
            let field = mapping.entries.iter().find(|field| field.key.as_deref() == Some(name));
            let existing = match (known, field) {
                (Some((_, stored)), _) => Some(stored.clone()),
                (None, Some(field)) => Some(Stored::Other(field.info.shape)),
                (None, None) => None,
            };
            check_field(FORMAT, key, name, existing.as_ref())?;
        }

        // Offsets below are relative to the entry's start.
        let base = entry.range.start;
        let mut splice = Splice::default();
        for field in &mapping.entries {
            let range = field.range.start - base..field.range.end - base;
            splice.push(field.key.clone(), range.clone(), range);
        }
        for (name, secret) in &merge.fields {
            let indent = if mapping.flow { "" } else { mapping.indent.as_str() };
            splice.set(
                name,
                format!("{indent}{}", field_entry(name, secret)),
                Stored::Str(secret.clone()),
            );
        }
        let appended: Vec<&str> = splice.appended().map(|(_, field)| field).collect();
        let (end, at, block) = if appended.is_empty() {
            (entry.range.end, last.range.end, String::new())
        } else if mapping.flow {
            let block: String = appended.iter().map(|field| format!(", {field}")).collect();
            (entry.range.end, last.range.end, block)
        } else {
            // After the last field's line, so that a comment ending it stays on it.
            let line_end = line_content_end(text, last.range.end);
            let eol = self.source.eol;
            let block: String = appended.iter().map(|field| format!("{eol}{field}")).collect();
            (line_end.max(entry.range.end), line_end, block)
        };
        let new = splice.render(&text[base..end], Some((at - base..at - base, &block)));
        Ok((new, end, merged(read, &merge.fields)))
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

/// The rules for a key or a field name: `<<` is the merge key of YAML 1.1 readers, and an
/// implicit key is limited to 1024 characters as written.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name == "<<" {
        return Err("`<<` is YAML's merge key".to_owned());
    }
    if key_text(name).chars().count() > MAX_KEY_CHARS {
        return Err(format!(
            "a YAML key must fit in {MAX_KEY_CHARS} characters as written (with quotes and \
             escapes)"
        ));
    }
    Ok(())
}

/// A `name: value` line of a nested mapping, without indentation.
fn field_entry(name: &str, secret: &SecretString) -> String {
    format!("{}: {}", key_text(name), scalar(secret.expose_secret()))
}

/// The end of the content of the line holding `at`, before its line ending.
fn line_content_end(text: &str, at: usize) -> usize {
    let end = text[at..].find('\n').map_or(text.len(), |index| at + index);
    if text[..end].ends_with('\r') { end - 1 } else { end }
}

/// The layout of a document, from the parser's events.
struct Outline {
    top: Level,
    insertion: Insertion,
}

/// The entries of one mapping as the scan meets them: the top-level mapping, or a mapping a
/// top-level key holds.
struct Level {
    /// Collection depth of this mapping's keys and values: 1 for the top level.
    depth: usize,
    flow: bool,
    entries: Vec<Entry>,
    indent: String,
    open: Option<Open>,
}

/// Where the scan is inside a mapping's entry.
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

/// What a node event says about the node, for `Level::node`.
struct Node {
    start: usize,
    /// End of its content, if it has any so far (a flow collection's opening bracket, a tag).
    content: Option<usize>,
    anchored: bool,
    plain: bool,
    shape: &'static str,
}

impl Outline {
    fn scan(text: &str) -> Result<Outline, FormatError> {
        let mut top = Level::new(1, false);
        let mut insertion = Insertion::End;
        let mut documents = 0;
        // Styles of the open collections; the first is the top-level mapping.
        let mut stack: Vec<StructureStyle> = Vec::new();
        let mut top_flow_start = None;
        // The mapping the current top-level entry holds, while the scan is inside it.
        let mut nested: Option<Level> = None;

        for next in Parser::new_from_str(text) {
            let (event, span) = next.map_err(|error| scan_error(text, &error))?;
            let start = offset(&span.start);
            let end = offset(&span.end);
            let tag_end = span.tag_span().map(|tag| offset(&tag.end));
            let depth = stack.len();
            match event {
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        return Err(unsupported(text, start, "the file holds several documents"));
                    }
                }
                Event::DocumentEnd if end > start => {
                    insertion = Insertion::Before(line_start(text, start));
                }
                Event::MappingStart(style, ..) | Event::SequenceStart(style, ..) if depth == 0 => {
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
                    if depth == 0
                        && !(value == "~" && style == ScalarStyle::Plain && start == end) =>
                {
                    return Err(unsupported(text, start, "the top level must be a mapping"));
                }
                Event::Scalar(..) if depth == 0 => {}
                Event::Alias(..) if depth == 0 => {
                    return Err(unsupported(text, start, "the top level must be a mapping"));
                }
                Event::MappingEnd if depth == 1 => {
                    stack.pop();
                    top.finish(text);
                    if let Some(flow_start) = top_flow_start {
                        if !top.entries.is_empty() {
                            return Err(unsupported(
                                text,
                                flow_start,
                                "a top-level flow mapping ({...}) is only edited when empty",
                            ));
                        }
                        insertion = Insertion::Replace(flow_start..end);
                    }
                }
                Event::MappingStart(style, anchor, _) | Event::SequenceStart(style, anchor, _) => {
                    let flow = style == StructureStyle::Flow;
                    let content = if flow { Some(end) } else { tag_end };
                    let shape =
                        if matches!(event, Event::MappingStart(..)) { "mapping" } else { "list" };
                    let node = Node { start, content, anchored: anchor != 0, plain: false, shape };
                    // A mapping that is a top-level value is scanned for its own entries.
                    let holds_mapping = depth == 1
                        && matches!(event, Event::MappingStart(..))
                        && top.expects_value();
                    top.node(text, depth, &node);
                    if let Some(level) = nested.as_mut() {
                        level.node(text, depth, &node);
                    }
                    if holds_mapping {
                        nested = Some(Level::new(2, flow));
                    }
                    stack.push(style);
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let style = stack.pop().unwrap_or(StructureStyle::Block);
                    let depth = stack.len();
                    // A block collection ends where the next token starts; only a flow
                    // collection's closing bracket is content.
                    let content = (style == StructureStyle::Flow).then_some(end);
                    if depth == 1 {
                        if let Some(mut level) = nested.take() {
                            level.finish(text);
                            top.hold(level);
                        }
                    } else if let Some(level) = nested.as_mut() {
                        level.end_collection(text, depth, content);
                    }
                    top.end_collection(text, depth, content);
                }
                Event::Scalar(ref value, style, anchor, _) => {
                    let content = if end > start { Some(end) } else { tag_end };
                    let plain = style == ScalarStyle::Plain;
                    let shape = if plain && yaml11_reads_otherwise(value) {
                        "ambiguous plain scalar"
                    } else {
                        "string"
                    };
                    let node = Node { start, content, anchored: anchor != 0, plain, shape };
                    top.scalar(text, depth, &node, value);
                    if let Some(level) = nested.as_mut() {
                        level.scalar(text, depth, &node, value);
                    }
                }
                Event::Alias(..) => {
                    let node = Node {
                        start,
                        content: Some(end),
                        anchored: false,
                        plain: false,
                        shape: "alias",
                    };
                    top.node(text, depth, &node);
                    top.after_node(text, depth);
                    if let Some(level) = nested.as_mut() {
                        level.node(text, depth, &node);
                        level.after_node(text, depth);
                    }
                }
                _ => {}
            }
        }
        Ok(Outline { top, insertion })
    }
}

impl Level {
    fn new(depth: usize, flow: bool) -> Level {
        Level { depth, flow, entries: Vec::new(), indent: String::new(), open: None }
    }

    /// Whether the next node at this level's depth is the value of an entry.
    fn expects_value(&self) -> bool {
        self.open.as_ref().is_some_and(|entry| entry.key_end > 0 && !entry.value_started)
    }

    /// Records the start of a node at `depth`: at this level's depth it opens an entry (a key)
    /// or starts its value; deeper, it is part of the open entry's value.
    fn node(&mut self, text: &str, depth: usize, node: &Node) {
        if depth < self.depth {
            return;
        }
        if depth == self.depth {
            match &mut self.open {
                Some(entry) if !entry.value_started && entry.key_end > 0 => {
                    entry.value_started = true;
                    entry.info.plain = node.plain;
                    entry.info.shape = node.shape;
                }
                Some(_) => {}
                None => {
                    let line = line_start(text, node.start);
                    if self.entries.is_empty() && !self.flow {
                        let lead = &text[line..node.start];
                        let blanks = lead.len() - lead.trim_start_matches(' ').len();
                        self.indent = lead[..blanks].to_owned();
                    }
                    self.open = Some(Open {
                        key_start: if self.flow { node.start } else { line },
                        key_end: 0,
                        key: None,
                        // A key without a value (`? key`) holds null.
                        info: EntryInfo { shape: "null", ..EntryInfo::default() },
                        content_end: 0,
                        value_started: false,
                        value_events: 0,
                    });
                }
            }
        }
        if let Some(entry) = self.open.as_mut() {
            entry.info.anchored |= node.anchored;
            if entry.value_started {
                entry.value_events += 1;
                if entry.value_events > 1 {
                    entry.info.plain = false;
                }
                if let Some(content) = node.content {
                    entry.content_end = entry.content_end.max(content);
                }
            } else if let Some(content) = node.content {
                entry.key_end = entry.key_end.max(content);
            }
        }
    }

    /// A scalar node; at this level's depth, a key's text is kept (values are secrets).
    fn scalar(&mut self, text: &str, depth: usize, node: &Node, value: &str) {
        let key = (depth == self.depth && self.open.is_none()).then(|| value.to_owned());
        self.node(text, depth, node);
        if let (Some(key), Some(entry)) = (key, self.open.as_mut()) {
            entry.key = Some(key);
        }
        self.after_node(text, depth);
    }

    /// The end of a collection that was opened at `depth`.
    fn end_collection(&mut self, text: &str, depth: usize, content: Option<usize>) {
        if depth < self.depth {
            return;
        }
        if let (Some(entry), Some(content)) = (self.open.as_mut(), content) {
            entry.content_end = entry.content_end.max(content);
        }
        self.after_node(text, depth);
    }

    /// After a complete node at this level's depth: a finished key waits for its value, a
    /// finished value closes the entry.
    fn after_node(&mut self, text: &str, depth: usize) {
        if depth != self.depth {
            return;
        }
        let Some(entry) = self.open.as_mut() else { return };
        if !entry.value_started {
            // The key is complete; an empty key still needs a non-zero end to mark it.
            entry.key_end = entry.key_end.max(entry.key_start + 1);
            return;
        }
        self.finish(text);
    }

    /// Gives the open entry the mapping its value turned out to be.
    fn hold(&mut self, mapping: Level) {
        if let Some(entry) = self.open.as_mut() {
            let Level { flow, entries, indent, .. } = mapping;
            entry.info.mapping = Some(Mapping { flow, entries, indent });
        }
    }

    /// Closes the open entry, if any.
    fn finish(&mut self, text: &str) {
        let Some(entry) = self.open.take() else { return };
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

/// A top-level value as serde-saphyr reads it.
struct Read {
    stored: Stored,
    /// For a mapping, each entry: its name (`None` for a key that is not a string) and what it
    /// holds, a nested mapping named only by its kind.
    fields: Vec<(Option<String>, Stored)>,
}

impl From<Stored> for Read {
    fn from(stored: Stored) -> Read {
        Read { stored, fields: Vec::new() }
    }
}

/// Reads every top-level value with serde-saphyr.
fn read_values(text: &str) -> Result<HashMap<String, Read>, FormatError> {
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

struct TopLevel(HashMap<String, Read>);

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
    type Value = Read;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Read, D::Error> {
        deserializer.deserialize_any(StoredVisitor { nested: false })
    }
}

struct StoredVisitor {
    /// Inside a mapping, where only strings keep the mapping flat.
    nested: bool,
}

impl<'de> Visitor<'de> for StoredVisitor {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Read, E> {
        Ok(Stored::Str(SecretString::from(text)).into())
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Read, E> {
        Ok(Stored::Str(SecretString::from(text)).into())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Read, E> {
        Ok(Stored::Other("boolean").into())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Read, E> {
        Ok(Stored::Other("number").into())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Read, E> {
        Ok(Stored::Other("number").into())
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Read, E> {
        Ok(Stored::Other("number").into())
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Read, E> {
        Ok(Stored::Other("number").into())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Read, E> {
        Ok(Stored::Other("number").into())
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Read, E> {
        Ok(Stored::Other("binary").into())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Read, E> {
        Ok(Stored::Other("null").into())
    }

    fn visit_none<E: de::Error>(self) -> Result<Read, E> {
        Ok(Stored::Other("null").into())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Read, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Read, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Stored::Other("list").into())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        if self.nested {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Stored::Other("mapping").into());
        }
        let mut fields = Vec::new();
        while let Some(name) = map.next_key::<KeyName>()? {
            fields.push((name.0, map.next_value_seed(FieldSeed)?));
        }
        let mut strings = Vec::with_capacity(fields.len());
        for (name, value) in &fields {
            match (name, value) {
                (Some(name), Stored::Str(text)) => strings.push((name.clone(), text.clone())),
                _ => return Ok(Read { stored: Stored::Other("mapping"), fields }),
            }
        }
        Ok(Read { stored: Stored::Map(strings), fields })
    }
}

struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Stored;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Stored, D::Error> {
        Ok(deserializer.deserialize_any(StoredVisitor { nested: true })?.stored)
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
        let out = rendered(existing, &[("A", "a"), ("B", "b"), ("E", "e"), ("F", "f"), ("G", "g")]);
        assert_eq!(
            out,
            "# head\nA: 'a' # why\n\nB: 'b'\n\nC:\n  a: xx\n  b: yy\n# tail comment\n\
             D: {p: 'one',\n  q: two}\nE: 'e'\nF: 'f'\nG: 'g'\n"
        );
    }

    #[test]
    fn lists_and_maps_are_not_overwritten_by_strings_but_merged_into() {
        let mut doc = Document::parse(Format::Yaml, b"L:\n- 1\nM:\n  a: x\n").unwrap();
        let secret = SecretString::from("v");
        let err = doc.set("L", &Value::Str(&secret)).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", expected: "string", .. }));
        let err = doc.set("M", &Value::Str(&secret)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `M` holds a mapping; refusing to replace it with a string"
        );
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
    fn anchored_values_aliases_and_merge_keys_are_protected() {
        let text = b"base: &b {x: '1'}\nuse: *b\ns: &s 'x'\nt: *s\n";
        let mut doc = Document::parse(Format::Yaml, text).unwrap();
        let secret = SecretString::from("v");
        let map = Value::Map(vec![("x", &secret)]);
        assert!(matches!(doc.set("base", &map), Err(FormatError::InvalidKey { .. })));
        assert!(matches!(doc.set("<<", &Value::Str(&secret)), Err(FormatError::InvalidKey { .. })));
        assert!(matches!(
            doc.set("use", &Value::Str(&secret)),
            Err(FormatError::WrongShape { .. })
        ));
        let err = doc.set("use", &map).unwrap_err();
        assert!(matches!(&err, FormatError::InvalidKey { reason, .. } if reason.contains("alias")));
        doc.set("t", &Value::Str(&secret)).unwrap();
        assert_eq!(
            String::from_utf8(doc.render()).unwrap(),
            "base: &b {x: '1'}\nuse: *b\ns: &s 'x'\nt: 'v'\n"
        );
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

    fn merged(existing: &str, key: &str, fields: &[(&str, &str)]) -> Result<String, FormatError> {
        let mut doc = Document::parse(Format::Yaml, existing.as_bytes()).unwrap();
        let secrets: Vec<SecretString> =
            fields.iter().map(|(_, value)| SecretString::from(*value)).collect();
        let fields = fields.iter().zip(&secrets).map(|((name, _), secret)| (*name, secret));
        doc.set(key, &Value::Map(fields.collect()))?;
        Ok(String::from_utf8(doc.render()).unwrap())
    }

    fn saphyr_any(text: &str) -> IndexMap<String, serde_json::Value> {
        serde_saphyr::from_str(text).unwrap()
    }

    #[test]
    fn maps_merge_into_block_mappings() {
        let existing = "# head\ndb:\n  # user first\n  user: old # why\n  port: 5432\n  \
                        opts: {ssl: true}   # c2\n# tail\nother: 1\n";
        let out = merged(existing, "db", &[("user", "u"), ("pass", "p")]).unwrap();
        assert_eq!(
            out,
            "# head\ndb:\n  # user first\n  user: 'u' # why\n  port: 5432\n  \
             opts: {ssl: true}   # c2\n  pass: 'p'\n# tail\nother: 1\n"
        );
        let read = saphyr_any(&out);
        assert_eq!(read["db"]["user"], "u");
        assert_eq!(read["db"]["port"], 5432);
        assert_eq!(read["db"]["opts"]["ssl"], true);
        assert_eq!(read["db"]["pass"], "p");
        assert_eq!(read["other"], 1);

        let existing = "db:\r\n    key: |\r\n      l1\r\n      l2\r\n    b: x\r\nnext: 1\r\n";
        let out = merged(existing, "db", &[("key", "k"), ("c", "y")]).unwrap();
        assert_eq!(out, "db:\r\n    key: 'k'\r\n    b: x\r\n    c: 'y'\r\nnext: 1\r\n");
        let existing = "db:\n  key: |\n    l1\n    l2\n\nnext: 1\n";
        let out = merged(existing, "db", &[("new", "v")]).unwrap();
        assert_eq!(out, "db:\n  key: |\n    l1\n    l2\n  new: 'v'\n\nnext: 1\n");
        assert_eq!(saphyr_any(&out)["db"]["key"], "l1\nl2\n");
    }

    #[test]
    fn maps_merge_into_flow_mappings() {
        let out = merged("db: {user: old, port: 1}  # c\n", "db", &[("user", "u"), ("pass", "p")]);
        assert_eq!(out.unwrap(), "db: {user: 'u', port: 1, pass: 'p'}  # c\n");
        let out = merged("db: {user: old,\n  port: 1}\nz: 2\n", "db", &[("pass", "p")]);
        assert_eq!(out.unwrap(), "db: {user: old,\n  port: 1, pass: 'p'}\nz: 2\n");
        let out = merged("db: {}\nz: 2\n", "db", &[("a", "x"), ("b", "y")]);
        assert_eq!(out.unwrap(), "db:\n  a: 'x'\n  b: 'y'\nz: 2\n");
        let out = merged("d: &d {rotation: 90d}\napi: {<<: *d, gen: x}\n", "api", &[("gen", "y")]);
        let out = out.unwrap();
        assert_eq!(out, "d: &d {rotation: 90d}\napi: {<<: *d, gen: 'y'}\n");
        assert_eq!(saphyr_any(&out)["api"]["rotation"], "90d");
    }

    #[test]
    fn merges_refuse_other_shapes_and_keep_the_file() {
        let existing =
            "db:\n  opts: {ssl: true}\n  hosts:\n  - a\nnum: 1\nempty:\nword: NO\nmaybe: 1:20\n";
        let err = merged(existing, "db", &[("user", "u"), ("opts", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `db.opts` holds a mapping; refusing to replace it with a string"
        );
        let err = merged(existing, "db", &[("hosts", "x")]).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", .. }));
        let err = merged(existing, "num", &[("a", "x")]).unwrap_err();
        assert!(matches!(
            err,
            FormatError::WrongShape { found: "number", expected: "mapping", .. }
        ));
        // serde-saphyr reads the key `n` as a boolean; the event scan still knows the shapes.
        let err = merged("n:\n- 1\n", "n", &[("a", "x")]).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", .. }), "{err}");
        assert_eq!(merged("n: 'x'\n", "n", &[("a", "x")]).unwrap(), "'n':\n  a: 'x'\n");
        let err = merged(existing, "empty", &[("a", "x")]).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "null", .. }));
        let err = merged(existing, "word", &[("a", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `word` holds a boolean; refusing to replace it with a mapping"
        );
        let err = merged(existing, "maybe", &[("a", "x")]).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "ambiguous plain scalar", .. }));
        let err = merged(existing, "db", &[("<<", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot set `db` in a yaml file: field `<<`: `<<` is YAML's merge key"
        );

        let mut doc = Document::parse(Format::Yaml, existing.as_bytes()).unwrap();
        let (u, p) = (SecretString::from("u"), SecretString::from("p"));
        doc.set("db", &Value::Map(vec![("user", &u)])).unwrap();
        doc.set("db", &Value::Map(vec![("pass", &p), ("user", &p)])).unwrap();
        assert!(doc.set("db", &Value::Map(vec![("opts", &p)])).is_err());
        assert!(doc.set("db", &Value::Str(&p)).is_err());
        assert_eq!(
            String::from_utf8(doc.render()).unwrap(),
            "db:\n  opts: {ssl: true}\n  hosts:\n  - a\n  user: 'p'\n  pass: 'p'\nnum: 1\n\
             empty:\nword: NO\nmaybe: 1:20\n"
        );
        let Some(Stored::Other("mapping")) = doc.get("db") else { panic!("db holds more") };
    }

    #[test]
    fn keys_that_need_quotes_get_them() {
        let out = rendered("", &[("yes", "1"), ("with space", "2"), ("plain_key-1.x", "3")]);
        assert_eq!(out, "'yes': '1'\n'with space': '2'\nplain_key-1.x: '3'\n");
        let doc = Document::parse(Format::Yaml, out.as_bytes()).unwrap();
        assert!(matches!(doc.get("yes"), Some(Stored::Str(_))));
    }
}
