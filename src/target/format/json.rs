//! JSON files whose top level is an object. serde_json validates the file and reads values;
//! edits are spliced into the original text, so numbers, spacing, key order and the trailing
//! newline stay byte for byte as the user wrote them. New members follow the layout of the
//! first member (its indentation, or the compact style of a one-line file). A mapping set on a
//! key that holds an object is merged into that object the same way, one level down.

use std::ops::Range;

use secrecy::{ExposeSecret, SecretString};

use super::{
    Format, FormatError, Merge, Merges, Source, Splice, Stored, Value, check_field, check_shape,
    kind, merge_duplicates, stored,
};

const FORMAT: Format = Format::Json;

pub(super) struct Json {
    source: Source,
    /// Where the object's braces are; `None` for a new (empty or blank) file.
    braces: Option<(usize, usize)>,
    /// Per member in file order: the raw value text.
    values: Vec<Range<usize>>,
    layout: Layout,
    splice: Splice,
    merges: Merges,
}

/// How members are laid out, taken from the first member of the file.
struct Layout {
    /// Text before a member's key: a line ending plus indentation, or the compact spacing.
    lead: String,
    /// One level of indentation; empty in compact files.
    indent: String,
    /// Text between a key and its value, such as `": "`.
    colon: String,
    eol: &'static str,
}

/// The members of one object in validated text.
struct Members {
    list: Vec<Member>,
    /// Offset of the closing brace.
    close: usize,
    /// The layout of the first members; `None` for an empty object.
    layout: Option<Layout>,
}

struct Member {
    key: String,
    value: Range<usize>,
    /// What removing the member removes: its value, key and the separator before it.
    remove: Range<usize>,
}

impl Json {
    pub(super) fn parse(source: Source) -> Result<Json, FormatError> {
        let pretty = |source: &Source| Layout {
            lead: format!("{}  ", source.eol),
            indent: "  ".to_owned(),
            colon: ": ".to_owned(),
            eol: source.eol,
        };
        if source.text.trim().is_empty() {
            let layout = pretty(&source);
            return Ok(Json {
                source,
                braces: None,
                values: Vec::new(),
                layout,
                splice: Splice::default(),
                merges: Merges::default(),
            });
        }
        validate(&source.text)?;

        let text = source.text.as_str();
        let open = skip_ws(text, 0);
        let found = members(text, open, source.eol);
        let mut splice = Splice::default();
        let mut values = Vec::with_capacity(found.list.len());
        for member in found.list {
            // A later duplicate is dropped together with the comma before it.
            splice.push(Some(member.key), member.value.clone(), member.remove);
            values.push(member.value);
        }
        let layout = found.layout.unwrap_or_else(|| pretty(&source));
        Ok(Json {
            braces: Some((open, found.close)),
            source,
            values,
            layout,
            splice,
            merges: Merges::default(),
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<Stored> {
        if let Some(value) = self.splice.written(key) {
            return Some(value.clone());
        }
        let values = self.splice.occurrences(key).iter().map(|&index| self.read_at(index));
        merge_duplicates(values)
    }

    fn read_at(&self, index: usize) -> Stored {
        let value = serde_json::from_str(&self.source.text[self.values[index].clone()])
            .expect("serde_json validated this value");
        read(value)
    }

    pub(super) fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
        let occurrences = self.splice.occurrences(key);
        let fresh = self.splice.written(key).is_none();
        if fresh && occurrences.len() > 1 {
            // Readers differ on which copy wins, and all but the first are dropped: none may
            // hold structure.
            for &index in occurrences {
                let existing = self.read_at(index);
                if let found @ ("mapping" | "list") = kind(&existing) {
                    return Err(FormatError::InvalidKey {
                        format: FORMAT,
                        key: key.to_owned(),
                        reason: format!(
                            "it is written {} times and one of them holds a {found}; remove \
                             the copies first",
                            occurrences.len()
                        ),
                    });
                }
                check_shape(FORMAT, key, Some(&existing), value)?;
            }
        } else {
            check_shape(FORMAT, key, self.get(key).as_ref(), value)?;
        }

        let (text, stored) = match value {
            Value::Str(secret) => {
                self.merges.forget(key);
                (quote(secret.expose_secret()), stored(value))
            }
            Value::Map(fields) => {
                let onto_original = fresh
                    && matches!(occurrences, [index]
                        if self.source.text[self.values[*index].clone()].starts_with('{'));
                let merge = self.merges.with(key, onto_original, fields);
                let (text, stored) = if merge.onto_original {
                    let range = self.values[self.splice.occurrences(key)[0]].clone();
                    self.merged_object(key, range, &merge)?
                } else {
                    (self.object_text(&merge.fields), Stored::Map(merge.fields.clone()))
                };
                self.merges.keep(key, merge);
                (text, stored)
            }
        };
        // New members carry their key; a replaced one only needs its value.
        let text = if self.splice.occurrences(key).is_empty() {
            format!("{}{}{text}", quote(key), self.layout.colon)
        } else {
            text
        };
        self.splice.set(key, text, stored);
        Ok(())
    }

    /// A new object holding the fields, one level below the top.
    fn object_text(&self, fields: &[(String, SecretString)]) -> String {
        if fields.is_empty() {
            return "{}".to_owned();
        }
        let layout = &self.layout;
        let members = fields.iter().map(|(name, secret)| {
            format!("{}{}{}", quote(name), layout.colon, quote(secret.expose_secret()))
        });
        if layout.lead.contains('\n') {
            let lead = format!("{}{}{}", layout.eol, layout.indent, layout.indent);
            let body: Vec<String> = members.map(|member| format!("{lead}{member}")).collect();
            format!("{{{}{}{}}}", body.join(","), layout.eol, layout.indent)
        } else {
            let body: Vec<String> = members.collect();
            format!("{{{}}}", body.join(&format!(",{}", layout.lead)))
        }
    }

    /// The object at `range` with the merge's fields set: existing members keep their place
    /// and spacing, new ones follow the object's own layout.
    fn merged_object(
        &self,
        key: &str,
        range: Range<usize>,
        merge: &Merge,
    ) -> Result<(String, Stored), FormatError> {
        let text = &self.source.text[range];
        let found = members(text, 0, self.layout.eol);
        let (Some(layout), Some(last)) = (&found.layout, found.list.last()) else {
            return Ok((self.object_text(&merge.fields), Stored::Map(merge.fields.clone())));
        };

        let mut splice = Splice::default();
        for member in &found.list {
            splice.push(Some(member.key.clone()), member.value.clone(), member.remove.clone());
        }
        for (name, secret) in &merge.fields {
            for member in found.list.iter().filter(|member| &member.key == name) {
                let existing = serde_json::from_str(&text[member.value.clone()])
                    .expect("serde_json validated this value");
                check_field(FORMAT, key, name, Some(&read(existing)))?;
            }
            let value = quote(secret.expose_secret());
            let new = if splice.occurrences(name).is_empty() {
                format!("{}{}{value}", quote(name), layout.colon)
            } else {
                value
            };
            splice.set(name, new, Stored::Str(secret.clone()));
        }

        let merged =
            splice.render(text, Some((last.value.end..last.value.end, &after(&splice, layout))));
        let value = serde_json::from_str(&merged).expect("a merged object is valid JSON");
        Ok((merged, read(value)))
    }

    pub(super) fn render(&self) -> String {
        let text = self.source.text.as_str();
        let layout = &self.layout;
        let appended: Vec<&str> = self.splice.appended().map(|(_, member)| member).collect();

        let Some((open, close)) = self.braces else {
            // A new file: an object in the default layout, ending with a line ending.
            let mut out = String::from("{");
            out.push_str(&appended_block(&appended, layout));
            out.push('}');
            out.push_str(layout.eol);
            return out;
        };
        if appended.is_empty() {
            return self.splice.render(text, None);
        }
        match self.values.last() {
            // New members go after the last value, each after a comma.
            Some(last) => {
                self.splice.render(text, Some((last.end..last.end, &after(&self.splice, layout))))
            }
            // An empty object: its inner blanks are replaced by the members.
            None => {
                let block = appended_block(&appended, layout);
                self.splice.render(text, Some((open + 1..close, &block)))
            }
        }
    }
}

/// The members of the object whose `{` is at `open`, with the layout of its first members.
fn members(text: &str, open: usize, eol: &'static str) -> Members {
    let mut list: Vec<Member> = Vec::new();
    let mut layout: Option<Layout> = None;
    let mut at = skip_ws(text, open + 1);
    let mut previous_end = open + 1;
    let mut previous_lead_start = open + 1;
    while text.as_bytes()[at] != b'}' {
        let key_start = at;
        let key_end = skip_value(text, key_start);
        let colon_at = skip_ws(text, key_end);
        let value_start = skip_ws(text, colon_at + 1);
        let value_end = skip_value(text, value_start);
        let key: String =
            serde_json::from_str(&text[key_start..key_end]).expect("serde_json validated this key");

        // The text before the second key is the separator style; a one-line object often has
        // none after `{` but a space after each comma.
        let lead = &text[previous_lead_start..key_start];
        match &mut layout {
            None => {
                let indent = lead.rsplit_once('\n').map_or("", |(_, indent)| indent);
                let colon = &text[key_end..value_start];
                let compact_lead = if colon.ends_with(' ') { " " } else { "" };
                layout = Some(Layout {
                    lead: if lead.contains('\n') { lead } else { compact_lead }.to_owned(),
                    indent: indent.to_owned(),
                    colon: colon.to_owned(),
                    eol,
                });
            }
            Some(layout) if list.len() == 1 => layout.lead = lead.to_owned(),
            Some(_) => {}
        }
        list.push(Member { key, value: value_start..value_end, remove: previous_end..value_end });
        previous_end = value_end;

        at = skip_ws(text, value_end);
        if text.as_bytes()[at] == b',' {
            previous_lead_start = at + 1;
            at = skip_ws(text, at + 1);
        }
    }
    Members { list, close: at, layout }
}

/// The members a splice appends, each after a comma, to go after an object's last value.
fn after(splice: &Splice, layout: &Layout) -> String {
    let mut block = String::new();
    for (_, member) in splice.appended() {
        block.push(',');
        block.push_str(&layout.lead);
        block.push_str(member);
    }
    block
}

/// Members of an object that had none, with the closing brace on its own line.
fn appended_block(members: &[&str], layout: &Layout) -> String {
    if members.is_empty() {
        return String::new();
    }
    let mut block = members
        .iter()
        .map(|member| format!("{}{member}", layout.lead))
        .collect::<Vec<_>>()
        .join(",");
    if layout.lead.contains('\n') {
        block.push_str(layout.eol);
    }
    block
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

fn validate(text: &str) -> Result<(), FormatError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        // serde_json's messages name the kind of error and the position, never the input;
        // the position is carried separately.
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(cut) => message[..cut].to_owned(),
            None => message,
        };
        FormatError::Parse {
            format: FORMAT,
            line: Some(error.line()),
            column: Some(error.column()),
            message,
        }
    })?;
    if value.is_object() {
        Ok(())
    } else {
        Err(FormatError::Unsupported {
            format: FORMAT,
            line: None,
            reason: "the top level must be an object".to_owned(),
        })
    }
}

fn read(value: serde_json::Value) -> Stored {
    use serde_json::Value as J;
    match value {
        J::String(text) => Stored::Str(SecretString::from(text)),
        J::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            for (name, value) in map {
                match value {
                    J::String(text) => fields.push((name, SecretString::from(text))),
                    _ => return Stored::Other("mapping"),
                }
            }
            Stored::Map(fields)
        }
        J::Null => Stored::Other("null"),
        J::Bool(_) => Stored::Other("boolean"),
        J::Number(_) => Stored::Other("number"),
        J::Array(_) => Stored::Other("list"),
    }
}

fn skip_ws(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = at;
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
        at += 1;
    }
    at
}

/// End of the JSON value starting at `at`, in text that serde_json has validated. Nesting is
/// tracked with a counter, not recursion, so deep files cannot overflow the stack.
fn skip_value(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = at;
    let mut depth = 0usize;
    loop {
        match bytes[at] {
            b'"' => {
                at += 1;
                while bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                at += 1;
            }
            b'}' | b']' => {
                depth -= 1;
                at += 1;
            }
            b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' if depth > 0 => at += 1,
            _ if depth > 0 => at += 1,
            // A number or a literal at the top of this value.
            _ => {
                while at < bytes.len()
                    && !matches!(bytes[at], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    at += 1;
                }
                return at;
            }
        }
        if depth == 0 {
            return at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Document, Format, FormatError, Stored, Value};
    use secrecy::{ExposeSecret, SecretString};

    fn rendered(existing: &str, sets: &[(&str, &str)]) -> String {
        let mut doc = Document::parse(Format::Json, existing.as_bytes()).unwrap();
        for (key, value) in sets {
            let secret = SecretString::from(*value);
            doc.set(key, &Value::Str(&secret)).unwrap();
        }
        String::from_utf8(doc.render()).unwrap()
    }

    #[test]
    fn new_file_uses_two_spaces_and_a_final_newline() {
        assert_eq!(
            rendered("", &[("A", "x\"y"), ("B", "\u{1}")]),
            "{\n  \"A\": \"x\\\"y\",\n  \"B\": \"\\u0001\"\n}\n"
        );
        assert_eq!(rendered("", &[]), "{}\n");
    }

    #[test]
    fn existing_layout_numbers_and_order_are_kept() {
        let existing =
            "{\n\t\"n\": 1.50e3,\n\t\"big\": 123456789012345678901234567890,\n\t\"A\": \"old\"\n}";
        let out = rendered(existing, &[("A", "new"), ("C", "c")]);
        assert_eq!(
            out,
            "{\n\t\"n\": 1.50e3,\n\t\"big\": 123456789012345678901234567890,\n\
             \t\"A\": \"new\",\n\t\"C\": \"c\"\n}"
        );
    }

    #[test]
    fn compact_files_stay_compact() {
        assert_eq!(rendered("{\"a\":\"1\"}\n", &[("b", "2")]), "{\"a\":\"1\",\"b\":\"2\"}\n");
        assert_eq!(rendered("{}\n", &[("b", "2")]), "{\n  \"b\": \"2\"\n}\n");
    }

    #[test]
    fn crlf_and_four_spaces_are_detected() {
        let out = rendered("{\r\n    \"a\": \"1\"\r\n}\r\n", &[("b", "2")]);
        assert_eq!(out, "{\r\n    \"a\": \"1\",\r\n    \"b\": \"2\"\r\n}\r\n");
    }

    #[test]
    fn maps_become_nested_objects() {
        let mut doc = Document::parse(Format::Json, b"{\n  \"a\": \"1\"\n}\n").unwrap();
        let (user, pass) = (SecretString::from("u"), SecretString::from("p"));
        doc.set("db", &Value::Map(vec![("user", &user), ("pass", &pass)])).unwrap();
        let out = String::from_utf8(doc.render()).unwrap();
        assert_eq!(
            out,
            "{\n  \"a\": \"1\",\n  \"db\": {\n    \"user\": \"u\",\n    \"pass\": \"p\"\n  }\n}\n"
        );
        let doc = Document::parse(Format::Json, out.as_bytes()).unwrap();
        let Some(Stored::Map(fields)) = doc.get("db") else { panic!("db is a map") };
        let fields: Vec<(&str, &str)> =
            fields.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect();
        assert_eq!(fields, [("user", "u"), ("pass", "p")]);
    }

    #[test]
    fn duplicates_are_collapsed_with_their_commas() {
        let out = rendered("{\"a\": \"1\", \"b\": 2, \"a\": \"3\"}", &[("a", "x")]);
        assert_eq!(out, "{\"a\": \"x\", \"b\": 2}");
        let out = rendered("{\"a\": \"1\", \"a\": \"3\"}", &[("a", "x"), ("c", "y")]);
        assert_eq!(out, "{\"a\": \"x\", \"c\": \"y\"}");
    }

    #[test]
    fn lists_and_deep_objects_are_not_overwritten() {
        let mut doc =
            Document::parse(Format::Json, b"{\"l\": [1], \"o\": {\"x\": {}}, \"n\": 5}").unwrap();
        let secret = SecretString::from("v");
        assert!(doc.set("l", &Value::Str(&secret)).is_err());
        assert!(doc.set("o", &Value::Str(&secret)).is_err());
        assert!(matches!(doc.get("n"), Some(Stored::Other("number"))));
        doc.set("n", &Value::Str(&secret)).unwrap();
    }

    #[test]
    fn errors_carry_position_not_text() {
        let err = Document::parse(Format::Json, b"{\n  \"a\": \"s3cret\" \"b\"\n}").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, FormatError::Parse { line: Some(2), .. }), "{text}");
        assert!(!text.contains("s3cret"));
        let err = Document::parse(Format::Json, b"[\"s3cret\"]").unwrap_err();
        assert!(matches!(err, FormatError::Unsupported { .. }));
    }

    fn merge(doc: &mut Document, key: &str, fields: &[(&str, &str)]) -> Result<(), FormatError> {
        let secrets: Vec<SecretString> =
            fields.iter().map(|(_, value)| SecretString::from(*value)).collect();
        let fields = fields.iter().zip(&secrets).map(|((name, _), secret)| (*name, secret));
        doc.set(key, &Value::Map(fields.collect()))
    }

    #[test]
    fn maps_merge_into_existing_objects() {
        let existing = "{\n  \"db\": {\n    \"user\": \"old\",\n    \"port\": 5432,\n    \
                        \"opts\": {\"ssl\": true}\n  },\n  \"other\": 1\n}\n";
        let mut doc = Document::parse(Format::Json, existing.as_bytes()).unwrap();
        merge(&mut doc, "db", &[("user", "u"), ("pass", "p")]).unwrap();
        let out = String::from_utf8(doc.render()).unwrap();
        assert_eq!(
            out,
            "{\n  \"db\": {\n    \"user\": \"u\",\n    \"port\": 5432,\n    \
             \"opts\": {\"ssl\": true},\n    \"pass\": \"p\"\n  },\n  \"other\": 1\n}\n"
        );
        let read: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(read["db"]["user"], "u");
        assert_eq!(read["db"]["port"], 5432);
        assert_eq!(read["db"]["pass"], "p");
        assert!(matches!(doc.get("db"), Some(Stored::Other("mapping"))));

        // A later set of the same key merges again, into the file's object.
        merge(&mut doc, "db", &[("user", "u2")]).unwrap();
        let out = String::from_utf8(doc.render()).unwrap();
        assert!(out.contains("\"user\": \"u2\",\n    \"port\": 5432"), "{out}");
        assert!(out.contains("\"pass\": \"p\"\n  }"), "{out}");
    }

    #[test]
    fn compact_objects_and_duplicate_fields_merge_in_their_style() {
        let mut doc = Document::parse(Format::Json, b"{\"db\":{\"a\":\"1\",\"a\":\"2\"}}").unwrap();
        merge(&mut doc, "db", &[("a", "x"), ("b", "y")]).unwrap();
        assert_eq!(doc.render(), b"{\"db\":{\"a\":\"x\",\"b\":\"y\"}}");
        let Some(Stored::Map(fields)) = doc.get("db") else { panic!("db is a flat map") };
        let fields: Vec<(&str, &str)> =
            fields.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect();
        assert_eq!(fields, [("a", "x"), ("b", "y")]);

        let mut doc = Document::parse(Format::Json, b"{\"db\": {}, \"s\": \"old\"}").unwrap();
        merge(&mut doc, "db", &[("a", "x")]).unwrap();
        merge(&mut doc, "s", &[("b", "y")]).unwrap();
        assert_eq!(doc.render(), b"{\"db\": {\"a\": \"x\"}, \"s\": {\"b\": \"y\"}}");
    }

    #[test]
    fn shapes_are_not_replaced() {
        let existing = b"{\"db\": {\"opts\": {\"ssl\": true}, \"l\": []}, \"n\": 1, \"z\": null}";
        let mut doc = Document::parse(Format::Json, existing).unwrap();
        let err = merge(&mut doc, "db", &[("user", "u"), ("opts", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `db.opts` holds a mapping; refusing to replace it with a string"
        );
        let err = merge(&mut doc, "db", &[("l", "x")]).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", .. }));
        let err = merge(&mut doc, "n", &[("a", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `n` holds a number; refusing to replace it with a mapping"
        );
        let err = merge(&mut doc, "z", &[("a", "x")]).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "null", .. }));
        let err = doc.set("db", &Value::Str(&SecretString::from("v"))).unwrap_err();
        assert!(matches!(
            err,
            FormatError::WrongShape { found: "mapping", expected: "string", .. }
        ));
        // Nothing was written by the refused calls.
        assert_eq!(doc.render(), existing);

        let mut doc =
            Document::parse(Format::Json, b"{\"a\": {\"x\": \"1\"}, \"a\": \"2\"}").unwrap();
        let err = merge(&mut doc, "a", &[("x", "v")]).unwrap_err();
        assert!(matches!(err, FormatError::InvalidKey { .. }), "{err}");
    }

    #[test]
    fn bom_is_kept() {
        let mut doc = Document::parse(Format::Json, b"\xEF\xBB\xBF{\"a\": \"1\"}").unwrap();
        let secret = SecretString::from("2");
        doc.set("a", &Value::Str(&secret)).unwrap();
        assert_eq!(doc.render(), b"\xEF\xBB\xBF{\"a\": \"2\"}");
    }
}
