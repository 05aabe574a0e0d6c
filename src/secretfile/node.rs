//! A YAML document as a tree of nodes that each remember where they came from.
//!
//! The Secretfile is read into this tree first, instead of straight into typed structs, so
//! that validation can walk the whole document and report every problem at once, each at its
//! line and column. The event parser underneath (granit, re-exported by serde-saphyr) only
//! tokenizes; this module owns what the events mean for a Secretfile:
//!
//! - plain scalars resolve by the YAML 1.2 core schema, except that a number with a leading
//!   zero (`0755`) stays a string, and YAML 1.1 words such as `NO` were never booleans;
//! - only the core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`) are accepted;
//! - mapping keys are scalars, kept as written; duplicates are passed through in source order
//!   so validation can name both lines;
//! - aliases are copied in place and merge keys (`<<`) expanded;
//! - limits on nodes, alias copies and nesting keep a hostile file from exhausting memory or
//!   the stack;
//! - error messages never quote the document, which may hold secret values.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_saphyr::granit_parser::{
    ErrorKind, Event, Marker, Options, Parser, ScalarStyle, ScanError, Span, Tag,
};

/// A place in the source: 1-based line and column, and the byte range for excerpts.
///
/// The range covers the node's own text: a scalar's whole token, quotes and block content
/// included; a collection's opening bracket (empty for a block collection); a key's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub len: usize,
}

impl Loc {
    fn of(span: &Span) -> Loc {
        let offset = byte_offset(&span.start);
        Loc { len: byte_offset(&span.end).saturating_sub(offset), ..Loc::at(&span.start) }
    }

    fn at(marker: &Marker) -> Loc {
        Loc { line: marker.line(), column: marker.col() + 1, offset: byte_offset(marker), len: 0 }
    }
}

/// Parsing a `&str` always yields byte offsets; the character index is only a fallback.
fn byte_offset(marker: &Marker) -> usize {
    marker.byte_offset().unwrap_or_else(|| marker.index())
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value in the document.
///
/// A node copied by an alias carries the alias's location; the nodes inside it keep the
/// locations of their definitions, so that a finding about them points at text that exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order, duplicates included, so validation can name both lines.
    /// Entries brought in by a merge key follow, with the locations of their definitions.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub loc: Loc,
}

impl Node {
    /// What the node is, for messages such as "expected a mapping, found a list".
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// A scalar's text as a string; numbers and booleans count, since YAML users rarely quote
    /// `version: 1.0` or `value: 8080`.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }
}

/// Why the text is not a usable YAML document, and where.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub loc: Option<Loc>,
}

impl SyntaxError {
    fn new(message: impl Into<String>, loc: Loc) -> SyntaxError {
        SyntaxError { message: message.into(), loc: Some(loc) }
    }
}

/// The most YAML nodes a Secretfile may hold: room for about a million simple secrets.
const MAX_NODES: usize = 25_000_000;

/// What aliases may copy in all. Real Secretfiles share a few small templates; a
/// billion-laughs document reaches this after a handful of lines.
const MAX_ALIAS_COPIES: Limit = Limit { nodes: 1_000_000, bytes: 64 << 20 };

/// What anchors may hold in all: each anchored node is copied aside for its aliases, and
/// anchors nested in one another would otherwise multiply that copying.
const MAX_ANCHORED: Limit = Limit { nodes: 1_000_000, bytes: 64 << 20 };

/// The deepest nesting of collections, aliases' content included. Validation, `Clone` and
/// `Drop` walk the tree recursively, so this bounds their stack use.
const MAX_DEPTH: usize = 128;

/// Parses a whole YAML document into a node tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut options = Options::default();
    options.set_emit_comments(false);
    let mut builder = Builder::default();
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|error| scan_error(&error))?;
        builder.event(event, &span)?;
    }
    // A document without content, `---` alone included, is null at the start of the text.
    match builder.root {
        Some(root) if !(root.kind == Kind::Null && root.loc.len == 0) => Ok(root),
        _ => Ok(Node { kind: Kind::Null, loc: Loc { line: 1, column: 1, ..Loc::default() } }),
    }
}

/// Describes a parser error by its kind alone: granit's kinds name structure, not content,
/// except an unexpected character, which could be a character of a secret.
fn scan_error(error: &ScanError) -> SyntaxError {
    let message = match error.kind() {
        ErrorKind::UnexpectedCharacter { character } if "@`%|>".contains(*character) => {
            format!("found `{character}`, which cannot start a plain value")
        }
        ErrorKind::UnexpectedCharacter { .. } => "found a non-printable character".to_string(),
        ErrorKind::UnknownAnchor => UNKNOWN_ANCHOR.to_string(),
        ErrorKind::Custom(_) | ErrorKind::InputIo { .. } | ErrorKind::InputDecoding { .. } => {
            "the text could not be read".to_string()
        }
        kind => kind.to_string(),
    };
    let loc = Loc::at(error.marker());
    SyntaxError { message, loc: (loc.line > 0).then_some(loc) }
}

const UNKNOWN_ANCHOR: &str = "an alias refers to an anchor not defined before it";
const NULL_KEY: &str = "null key: mapping keys must be text";

/// How much a subtree holds, to charge copies of it against the limits.
#[derive(Debug, Clone, Copy, Default)]
struct Extent {
    nodes: usize,
    /// Bytes of scalar and key text.
    bytes: usize,
    /// Levels of collections, the subtree's own included: 0 for a scalar.
    height: usize,
}

impl Extent {
    fn scalar(text: &str) -> Extent {
        Extent { nodes: 1, bytes: text.len(), height: 0 }
    }

    fn add_child(&mut self, child: Extent) {
        self.nodes += child.nodes;
        self.bytes += child.bytes;
        self.height = self.height.max(child.height + 1);
    }

    /// Adds `more` to this running total, unless that would pass `limit`.
    fn charge(&mut self, more: Extent, limit: Limit) -> Result<(), Exceeded> {
        let (nodes, bytes) = (self.nodes + more.nodes, self.bytes + more.bytes);
        if nodes > limit.nodes {
            return Err(Exceeded { limit: limit.nodes, unit: "nodes" });
        }
        if bytes > limit.bytes {
            return Err(Exceeded { limit: limit.bytes, unit: "bytes of text" });
        }
        (self.nodes, self.bytes) = (nodes, bytes);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Limit {
    nodes: usize,
    bytes: usize,
}

/// The limit a document passed, worded for "... more than {limit} {unit}".
#[derive(Debug)]
struct Exceeded {
    limit: usize,
    unit: &'static str,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} {}", self.limit, self.unit)
    }
}

/// Builds the tree from the event stream with an explicit stack, so that nesting costs heap
/// rather than call stack.
#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Items of the open sequences, innermost last; each is moved out into an exactly sized
    /// `Vec` when its sequence ends, instead of each sequence growing its own.
    items: Vec<Node>,
    /// Entries of the open mappings, likewise.
    entries: Vec<(Key, Node)>,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    alias_copies: Extent,
    anchored: Extent,
    documents: usize,
    root: Option<Node>,
}

/// An open collection.
#[derive(Debug)]
struct Frame {
    loc: Loc,
    anchor: usize,
    /// Where this collection's children start in `items` or `entries`.
    start: usize,
    /// This collection with what it holds so far, keys included.
    extent: Extent,
    shape: Shape,
}

#[derive(Debug)]
enum Shape {
    Seq,
    Map {
        /// The key waiting for its value; `None` when the next node is a key.
        key: Option<Key>,
        /// Whether that key is the merge key `<<`.
        merging: bool,
        /// Values of `<<` keys, with the location of each key, applied when the mapping ends.
        merges: Vec<(Loc, Node)>,
    },
}

/// A finished anchored node, kept for the aliases that follow.
#[derive(Debug)]
struct Anchored {
    node: Node,
    extent: Extent,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), SyntaxError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.scalar(text, style, anchor, tag.as_deref(), span)
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.open(Shape::Seq, anchor, tag.as_deref(), span)
            }
            Event::MappingStart(_, anchor, tag) => {
                let shape = Shape::Map { key: None, merging: false, merges: Vec::new() };
                self.open(shape, anchor, tag.as_deref(), span)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(id) => self.alias(id, span),
            Event::UnresolvedAlias(_) => Err(SyntaxError::new(UNKNOWN_ANCHOR, Loc::of(span))),
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    let message = "a Secretfile holds one YAML document";
                    return Err(SyntaxError::new(message, Loc::of(span)));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame { shape: Shape::Map { key: None, .. }, .. }))
    }

    fn count_node(&mut self, loc: Loc) -> Result<(), SyntaxError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            let message = format!("the document has more than {MAX_NODES} nodes");
            return Err(SyntaxError::new(message, loc));
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        span: &Span,
    ) -> Result<(), SyntaxError> {
        let loc = Loc::of(span);
        self.count_node(loc)?;
        let scalar = resolve(&text, style, tag, span)?;
        let extent = Extent::scalar(&text);
        if !self.expects_key() {
            let node = Node { kind: scalar.into_kind(text), loc };
            return self.attach(node, anchor, extent);
        }

        if matches!(scalar, Scalar::Null) {
            return Err(SyntaxError::new(NULL_KEY, loc));
        }
        // Only a plain `<<` merges; quoting it makes it an ordinary key.
        let merging = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
        let name = text.into_owned();
        if anchor != 0 {
            let node = Node { kind: scalar.into_kind(Cow::Borrowed(&name)), loc };
            self.keep_anchor(anchor, &node, extent)?;
        }
        self.set_key(Key { name, loc }, merging, extent);
        Ok(())
    }

    fn open(
        &mut self,
        shape: Shape,
        anchor: usize,
        tag: Option<&Tag>,
        span: &Span,
    ) -> Result<(), SyntaxError> {
        let loc = Loc::of(span);
        let (what, core) = match shape {
            Shape::Seq => ("a list", "seq"),
            Shape::Map { .. } => ("a mapping", "map"),
        };
        if let Some(tag) = tag {
            check_collection_tag(tag, core, what, span)?;
        }
        if self.expects_key() {
            return Err(non_scalar_key(what, loc));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(depth_error(loc));
        }
        self.count_node(loc)?;

        let start = match shape {
            Shape::Seq => self.items.len(),
            Shape::Map { .. } => self.entries.len(),
        };
        let extent = Extent { nodes: 1, bytes: 0, height: 1 };
        self.stack.push(Frame { loc, anchor, start, extent, shape });
        Ok(())
    }

    fn close(&mut self) -> Result<(), SyntaxError> {
        // The parser balances starts and ends; a stray end only means there is nothing to do.
        let Some(frame) = self.stack.pop() else { return Ok(()) };
        let kind = match frame.shape {
            Shape::Seq => Kind::Seq(self.items.split_off(frame.start)),
            Shape::Map { merges, .. } => {
                let mut entries = self.entries.split_off(frame.start);
                if !merges.is_empty() {
                    merge(&mut entries, merges)?;
                }
                Kind::Map(entries)
            }
        };
        self.attach(Node { kind, loc: frame.loc }, frame.anchor, frame.extent)
    }

    fn alias(&mut self, id: usize, span: &Span) -> Result<(), SyntaxError> {
        let loc = Loc::of(span);
        // The parser knows an anchor from the start of its node, so an alias inside the
        // anchored collection itself resolves there, but nothing finished can be copied yet.
        let Some(anchored) = self.anchors.get(&id) else {
            let message = "an alias refers to the collection that contains it";
            return Err(SyntaxError::new(message, loc));
        };
        let extent = anchored.extent;

        // Charge the copy before making it, so that a bomb is refused without being built.
        self.alias_copies
            .charge(extent, MAX_ALIAS_COPIES)
            .map_err(|exceeded| expansion_error(&exceeded, loc))?;
        if self.nodes + extent.nodes > MAX_NODES {
            return Err(expansion_error(&Exceeded { limit: MAX_NODES, unit: "nodes" }, loc));
        }
        self.nodes += extent.nodes;
        if self.stack.len() + extent.height > MAX_DEPTH {
            return Err(depth_error(loc));
        }

        if self.expects_key() {
            // A number or boolean gives its resolved text: `&n 1.50` used as a key is `1.5`.
            let name = match &anchored.node.kind {
                Kind::Str(name) => name.clone(),
                Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => {
                    anchored.node.scalar_text().unwrap_or_default()
                }
                Kind::Null => return Err(SyntaxError::new(NULL_KEY, loc)),
                Kind::Seq(_) | Kind::Map(_) => {
                    return Err(non_scalar_key(anchored.node.kind_name(), loc));
                }
            };
            self.set_key(Key { name, loc }, false, extent);
            return Ok(());
        }
        let node = Node { loc, ..anchored.node.clone() };
        self.attach(node, 0, extent)
    }

    fn set_key(&mut self, new: Key, is_merge: bool, extent: Extent) {
        if let Some(frame) = self.stack.last_mut()
            && let Shape::Map { key, merging, .. } = &mut frame.shape
        {
            frame.extent.add_child(extent);
            *key = Some(new);
            *merging = is_merge;
        }
    }

    /// Puts a finished node where it belongs: under the open collection, or at the root.
    fn attach(&mut self, node: Node, anchor: usize, extent: Extent) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.keep_anchor(anchor, &node, extent)?;
        }
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        frame.extent.add_child(extent);
        match &mut frame.shape {
            Shape::Seq => self.items.push(node),
            // Key events never come here, so a mapping has a key waiting for this value.
            Shape::Map { key, merging, merges } => {
                if let Some(key) = key.take() {
                    if *merging {
                        merges.push((key.loc, node));
                    } else {
                        self.entries.push((key, node));
                    }
                }
            }
        }
        Ok(())
    }

    fn keep_anchor(&mut self, id: usize, node: &Node, extent: Extent) -> Result<(), SyntaxError> {
        if let Err(exceeded) = self.anchored.charge(extent, MAX_ANCHORED) {
            let message = format!("the document's anchors hold {exceeded}");
            return Err(SyntaxError::new(message, node.loc));
        }
        self.anchors.insert(id, Anchored { node: node.clone(), extent });
        Ok(())
    }
}

fn non_scalar_key(what: &str, loc: Loc) -> SyntaxError {
    SyntaxError::new(format!("a mapping key must be text, found {what}"), loc)
}

fn depth_error(loc: Loc) -> SyntaxError {
    SyntaxError::new(format!("collections nest deeper than {MAX_DEPTH} levels"), loc)
}

fn expansion_error(exceeded: &Exceeded, loc: Loc) -> SyntaxError {
    SyntaxError::new(format!("the document expands to {exceeded} through aliases"), loc)
}

/// Adds the entries of the merged mappings that the mapping does not set itself. Explicit keys
/// win wherever they stand; among merged mappings, the earlier wins.
fn merge(entries: &mut Vec<(Key, Node)>, merges: Vec<(Loc, Node)>) -> Result<(), SyntaxError> {
    let mut added = Vec::new();
    let mut seen = HashSet::new();
    let explicit: HashSet<&str> = entries.iter().map(|(key, _)| key.name.as_str()).collect();
    for (loc, value) in merges {
        let sources = match value.kind {
            Kind::Map(source) => vec![source],
            Kind::Seq(items) => items
                .into_iter()
                .map(|item| match item.kind {
                    Kind::Map(source) => Ok(source),
                    _ => Err(merge_error(loc)),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(merge_error(loc)),
        };
        for (key, node) in sources.into_iter().flatten() {
            if !explicit.contains(key.name.as_str()) && seen.insert(key.name.clone()) {
                added.push((key, node));
            }
        }
    }
    entries.extend(added);
    Ok(())
}

fn merge_error(loc: Loc) -> SyntaxError {
    SyntaxError::new("a merge key `<<` takes a mapping or a list of mappings", loc)
}

/// What a scalar's text means, before its text is copied (a string takes the text as it is).
#[derive(Debug, Clone, Copy)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str,
}

impl Scalar {
    fn into_kind(self, text: Cow<'_, str>) -> Kind {
        match self {
            Scalar::Null => Kind::Null,
            Scalar::Bool(b) => Kind::Bool(b),
            Scalar::Int(i) => Kind::Int(i),
            Scalar::Float(f) => Kind::Float(f),
            Scalar::Str => Kind::Str(text.into_owned()),
        }
    }
}

fn resolve(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Scalar, SyntaxError> {
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain { resolve_plain(text) } else { Scalar::Str });
    };
    if is_non_specific(tag) {
        return Ok(Scalar::Str);
    }
    let Some(core) = tag.core_suffix() else { return Err(unsupported_tag(span)) };
    let fits = match core {
        "str" => return Ok(Scalar::Str),
        "null" => matches!(text, "" | "~" | "null" | "Null" | "NULL").then_some(Scalar::Null),
        "bool" => bool_value(text).map(Scalar::Bool),
        "int" => int_value(text).map(Scalar::Int),
        "float" => float_value(text).map(Scalar::Float),
        _ => {
            let message = format!("the `!!{core}` tag does not fit text");
            return Err(SyntaxError::new(message, tag_loc(span)));
        }
    };
    fits.ok_or_else(|| {
        SyntaxError::new(format!("the value does not fit its `!!{core}` tag"), tag_loc(span))
    })
}

fn check_collection_tag(
    tag: &Tag,
    fitting: &str,
    what: &str,
    span: &Span,
) -> Result<(), SyntaxError> {
    if is_non_specific(tag) {
        return Ok(());
    }
    match tag.core_suffix() {
        Some(core) if core == fitting => Ok(()),
        Some(core) => {
            Err(SyntaxError::new(format!("the `!!{core}` tag does not fit {what}"), tag_loc(span)))
        }
        None => Err(unsupported_tag(span)),
    }
}

fn unsupported_tag(span: &Span) -> SyntaxError {
    SyntaxError::new(
        "unsupported tag: a Secretfile accepts only `!!str`, `!!int`, `!!float`, `!!bool` and \
         `!!null`",
        tag_loc(span),
    )
}

/// The bare `!`, which only says "do not resolve this plain scalar".
fn is_non_specific(tag: &Tag) -> bool {
    tag.parts() == ("", "!")
}

fn tag_loc(span: &Span) -> Loc {
    span.tag_span().map_or_else(|| Loc::of(span), |tag| Loc::of(&tag))
}

/// Resolves an untagged plain scalar by the core schema, keeping leading-zero integers and
/// integers beyond `i128` as strings, since reading them as numbers would change them.
fn resolve_plain(text: &str) -> Scalar {
    let Some(&first) = text.as_bytes().first() else { return Scalar::Null };
    match first {
        b'~' | b'n' | b'N' if matches!(text, "~" | "null" | "Null" | "NULL") => Scalar::Null,
        b't' | b'T' | b'f' | b'F' => bool_value(text).map_or(Scalar::Str, Scalar::Bool),
        b'0'..=b'9' | b'+' | b'-' | b'.' => {
            if is_decimal_int(text) {
                // YAML 1.1 reads a leading zero as octal and YAML 1.2 as decimal: rather than
                // guess, keep the text.
                let digits = text.trim_start_matches(['+', '-']);
                if digits.len() > 1 && digits.starts_with('0') {
                    return Scalar::Str;
                }
                return text.parse().map_or(Scalar::Str, Scalar::Int);
            }
            if let Some(value) = int_value(text) {
                return Scalar::Int(value);
            }
            float_value(text).map_or(Scalar::Str, Scalar::Float)
        }
        _ => Scalar::Str,
    }
}

fn bool_value(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `[-+]?[0-9]+`
fn is_decimal_int(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A core-schema integer: decimal, `0o` octal or `0x` hexadecimal.
fn int_value(text: &str) -> Option<i128> {
    let radix_digits = |prefix: &str, radix: u32| {
        let digits = text.strip_prefix(prefix)?;
        // `from_str_radix` would also take a sign after the prefix.
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        i128::from_str_radix(digits, radix).ok()
    };
    if is_decimal_int(text) {
        return text.parse().ok();
    }
    radix_digits("0o", 8).or_else(|| radix_digits("0x", 16))
}

/// A core-schema float: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, or one of the
/// spellings of infinity and not-a-number.
fn float_value(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Some(if text.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }

    let bytes = unsigned.as_bytes();
    let digits_from = |mut at: usize| {
        let from = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        (at, at - from)
    };
    let (mut at, whole) = digits_from(0);
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        (at, fraction) = digits_from(at + 1);
    }
    if whole == 0 && fraction == 0 {
        return None;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
        let (end, exponent) = digits_from(at + 1 + sign);
        if exponent == 0 {
            return None;
        }
        at = end;
    }
    if at != bytes.len() {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests;
