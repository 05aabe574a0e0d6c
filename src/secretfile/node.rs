//! A YAML document as a tree of nodes that each remember where they came from.
//!
//! The Secretfile is read into this tree first, instead of straight into typed structs, so
//! that validation can walk the whole document and report every problem at once, each at its
//! line and column. serde-saphyr does the YAML work: duplicate keys are passed through to us
//! (so both lines can be named), merge keys are expanded, alias expansion is bounded, and
//! `NO` stays a string.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// A place in the source: 1-based line and column, and the byte range for excerpts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub len: usize,
}

impl Loc {
    fn from_saphyr(location: &Location) -> Loc {
        let span = location.span();
        Loc {
            line: location.line() as usize,
            column: location.column() as usize,
            offset: span.byte_offset().unwrap_or(0) as usize,
            len: span.byte_len().unwrap_or(0) as usize,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

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

/// Parse errors from the YAML layer, with the location serde-saphyr reports.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub loc: Option<Loc>,
}

/// The most YAML nodes a Secretfile may hold: room for about a million simple secrets.
const MAX_NODES: usize = 25_000_000;

/// Parses a whole YAML document into a node tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        with_snippet: false,
    };
    // The default budget stops near 60,000 secrets. Raise the size limits for large
    // Secretfiles; the alias limits, which stop expansion bombs, stay as they are.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_NODES;
    budget.max_events = 2 * MAX_NODES;
    options.budget = Some(budget);
    match serde_saphyr::from_str_with_options::<Option<Node>>(text, options) {
        Ok(Some(node)) => Ok(node),
        Ok(None) => {
            Ok(Node { kind: Kind::Null, loc: Loc { line: 1, column: 1, ..Loc::default() } })
        }
        Err(error) => Err(SyntaxError {
            message: first_line(&error.without_snippet().to_string()),
            loc: error.location().map(|l| Loc::from_saphyr(&l)).filter(|l| l.line > 0),
        }),
    }
}

/// serde-saphyr appends the location to its message; we print our own.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    match line.rfind(" at line ") {
        Some(at) => line[..at].to_string(),
        None => line.to_string(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<KindValue>::deserialize(deserializer)?;
        Ok(Node { kind: spanned.value.0, loc: Loc::from_saphyr(&spanned.referenced) })
    }
}

/// The node's content, deserialized by its own visitor so that children get spans too.
struct KindValue(Kind);

impl<'de> Deserialize<'de> for KindValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<KindValue, D::Error> {
        deserializer.deserialize_any(KindVisitor).map(KindValue)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        i128::try_from(v).map(Kind::Int).map_err(|_| E::custom("integer too large"))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let Some(name) = key.scalar_text() else {
                return Err(de::Error::custom(format!(
                    "mapping keys must be strings, found {} at line {}",
                    key.kind_name(),
                    key.loc.line
                )));
            };
            let value = map.next_value::<Node>()?;
            entries.push((Key { name, loc: key.loc }, value));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[(Key, Node)] {
        match &node.kind {
            Kind::Map(entries) => entries,
            other => panic!("expected a map, got {other:?}"),
        }
    }

    #[test]
    fn children_carry_their_own_lines_and_columns() {
        let doc = parse("a: 1\nb:\n  c: hello\n").unwrap();
        let top = map(&doc);
        assert_eq!(top[0].0.name, "a");
        assert_eq!((top[0].0.loc.line, top[0].0.loc.column), (1, 1));
        let inner = map(&top[1].1);
        assert_eq!(inner[0].0.name, "c");
        assert_eq!((inner[0].0.loc.line, inner[0].0.loc.column), (3, 3));
        assert_eq!(inner[0].1.kind, Kind::Str("hello".into()));
        assert_eq!((inner[0].1.loc.line, inner[0].1.loc.column), (3, 6));
        assert_eq!(inner[0].1.loc.offset, 13);
        assert_eq!(inner[0].1.loc.len, 5);
    }

    #[test]
    fn duplicate_keys_reach_validation_with_both_lines() {
        let doc = parse("x: 1\ny: 2\nx: 3\n").unwrap();
        let lines: Vec<(String, usize)> =
            map(&doc).iter().map(|(k, _)| (k.name.clone(), k.loc.line)).collect();
        assert_eq!(lines, [("x".into(), 1), ("y".into(), 2), ("x".into(), 3)]);
    }

    #[test]
    fn yaml_1_1_booleans_and_octals_stay_strings() {
        let doc = parse("a: NO\nb: 0755\nc: true\nd: 12\n").unwrap();
        let kinds: Vec<Kind> = map(&doc).iter().map(|(_, v)| v.kind.clone()).collect();
        assert_eq!(
            kinds,
            [Kind::Str("NO".into()), Kind::Str("0755".into()), Kind::Bool(true), Kind::Int(12)]
        );
    }

    #[test]
    fn merge_keys_are_expanded() {
        let doc = parse("d: &d {r: 90d}\ns: {<<: *d, g: 1}\n").unwrap();
        let s = map(&map(&doc)[1].1);
        let names: Vec<&str> = s.iter().map(|(k, _)| k.name.as_str()).collect();
        assert!(names.contains(&"r"), "{names:?}");
        assert!(!names.contains(&"<<"), "{names:?}");
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let error = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.loc.is_some(), "{error:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = (b'a' + i - 1) as char;
            let cur = (b'a' + i) as char;
            text.push_str(&format!(
                "{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, \
                 *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&text).is_err());
    }
}
