//! Terraform variable files (`.tfvars`). hcl-edit parses and validates the file and gives each
//! top-level attribute's value span; edits are spliced into the original text, so everything
//! else stays byte for byte. Strings are quoted templates: besides the usual escapes, the
//! template sequences `${` and `%{` are written `$${` and `%%{` so Terraform reads them
//! literally. A mapping set on a key that holds an object is merged into it: the object's other
//! entries, comments and layout stay, new fields follow its last entry.

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, Object, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::template::Element;
use secrecy::{ExposeSecret, SecretString};

use super::{
    Format, FormatError, Merge, Merges, Source, Splice, Stored, Value, append_lines, check_field,
    check_shape, merged, stored,
};

const FORMAT: Format = Format::Tfvars;

pub(super) struct Tfvars {
    source: Source,
    body: Body,
    /// Per attribute in file order: its index among the body's structures.
    structures: Vec<usize>,
    splice: Splice,
    merges: Merges,
}

impl Tfvars {
    pub(super) fn parse(source: Source) -> Result<Tfvars, FormatError> {
        let body = hcl_edit::parser::parse_body(&source.text).map_err(|error| {
            let location = error.location();
            // The message names what the parser expected; the error's Display quotes the line.
            FormatError::Parse {
                format: FORMAT,
                line: Some(location.line()),
                column: Some(location.column()),
                message: error.message().to_owned(),
            }
        })?;

        let mut splice = Splice::default();
        let mut structures = Vec::new();
        for (index, structure) in body.iter().enumerate() {
            let Structure::Attribute(attribute) = structure else { continue };
            let value = attribute.value.span().expect("a parsed expression has a span");
            // hcl-edit rejects repeated attributes, so no entry is ever removed.
            splice.push(Some(attribute.key.as_str().to_owned()), value.clone(), value);
            structures.push(index);
        }
        Ok(Tfvars { source, body, structures, splice, merges: Merges::default() })
    }

    pub(super) fn get(&self, key: &str) -> Option<Stored> {
        if let Some(value) = self.splice.written(key) {
            return Some(value.clone());
        }
        let &index = self.splice.occurrences(key).first()?;
        match self.body.get(self.structures[index]) {
            Some(Structure::Attribute(attribute)) => Some(read(&attribute.value)),
            _ => None,
        }
    }

    pub(super) fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
        check_shape(FORMAT, key, self.get(key).as_ref(), value)?;
        let first = self.splice.occurrences(key).first().copied();
        let (text, stored) = match value {
            Value::Str(secret) => {
                self.merges.forget(key);
                (quote(secret.expose_secret()), stored(value))
            }
            Value::Map(fields) => {
                let object = match first {
                    Some(index) if self.splice.written(key).is_none() => self.object(index),
                    _ => None,
                };
                let merge = self.merges.with(key, object.is_some(), fields);
                let new = match first.and_then(|index| self.object(index)) {
                    Some(object) if merge.onto_original => {
                        self.merged_object(key, object, &merge)?
                    }
                    _ => (
                        object_text(&merge.fields, self.source.eol),
                        Stored::Map(merge.fields.clone()),
                    ),
                };
                self.merges.keep(key, merge);
                new
            }
        };
        let text = if first.is_none() { format!("{key} = {text}") } else { text };
        self.splice.set(key, text, stored);
        Ok(())
    }

    /// The object an attribute of the file holds, if it holds one.
    fn object(&self, index: usize) -> Option<&Object> {
        match self.body.get(self.structures[index]) {
            Some(Structure::Attribute(attribute)) => attribute.value.as_object(),
            _ => None,
        }
    }

    /// The text of an object with the merge's fields set: existing entries keep their place,
    /// comments and layout; new ones follow the last entry, on lines of their own in a
    /// multi-line object and after a comma in a one-line one.
    fn merged_object(
        &self,
        key: &str,
        object: &Object,
        merge: &Merge,
    ) -> Result<(String, Stored), FormatError> {
        let eol = self.source.eol;
        let span = object.span().expect("a parsed object has a span");
        let text = &self.source.text[span.clone()];
        let relative = |range: Range<usize>| range.start - span.start..range.end - span.start;

        let mut splice = Splice::default();
        let mut existing = Vec::with_capacity(object.len());
        let mut last: Option<(Range<usize>, Range<usize>)> = None;
        for (object_key, value) in object.iter() {
            let name = key_name(object_key);
            let stored = read_field(value.expr());
            if let Some(name) = &name
                && merge.fields.iter().any(|(field, _)| field == name)
            {
                check_field(FORMAT, key, name, Some(&stored))?;
            }
            let value = relative(value.expr().span().expect("a parsed value has a span"));
            let key_span = relative(object_key.span().expect("a parsed key has a span"));
            splice.push(name.clone(), value.clone(), value.clone());
            existing.push((name, stored));
            last = Some((key_span, value));
        }
        let Some((last_key, last_value)) = last else {
            return Ok((object_text(&merge.fields, eol), Stored::Map(merge.fields.clone())));
        };

        for (name, secret) in &merge.fields {
            let value = quote(secret.expose_secret());
            let new = if splice.occurrences(name).is_empty() {
                format!("{} = {value}", field_name(name))
            } else {
                value
            };
            splice.set(name, new, Stored::Str(secret.clone()));
        }
        let appended: Vec<&str> = splice.appended().map(|(_, entry)| entry).collect();
        let tail = &text[last_value.end..text.len() - 1];
        let (at, block) = match tail.find('\n') {
            Some(line_end) => {
                let line_end = last_value.end + line_end;
                let line_end =
                    if text[..line_end].ends_with('\r') { line_end - 1 } else { line_end };
                let line = &text[..last_key.start];
                let indent = &line[line.rfind('\n').map_or(0, |index| index + 1)..];
                let indent: String =
                    indent.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
                let block: String =
                    appended.iter().map(|entry| format!("{eol}{indent}{entry}")).collect();
                (line_end, block)
            }
            None => {
                let block: String = appended.iter().map(|entry| format!(", {entry}")).collect();
                (last_value.end, block)
            }
        };
        let text = splice.render(text, Some((at..at, &block)));
        Ok((text, merged(&existing, &merge.fields)))
    }

    pub(super) fn render(&self) -> String {
        let mut out = self.splice.render(&self.source.text, None);
        let lines: Vec<&str> = self.splice.appended().map(|(_, line)| line).collect();
        append_lines(&mut out, &lines, self.source.eol, self.source.lacks_final_newline());
        out
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The rule Terraform applies to variable names.
pub(super) fn check_key(key: &str) -> Result<(), String> {
    if is_identifier(key) {
        Ok(())
    } else {
        Err("a Terraform variable name must match [A-Za-z_][A-Za-z0-9_-]*".to_owned())
    }
}

/// An object's field name as written: bare when it is an identifier without `-` (which
/// Terraform would read as subtraction in some places) and not a literal (`null`, `true`,
/// `false`), quoted like any string otherwise.
fn field_name(name: &str) -> String {
    let bare = is_identifier(name) && !name.contains('-') && !is_literal_word(name);
    if bare { name.to_owned() } else { quote(name) }
}

fn is_literal_word(name: &str) -> bool {
    matches!(name, "null" | "true" | "false")
}

/// A new object in the layout `terraform fmt` gives one: a field per line, two spaces in.
fn object_text(fields: &[(String, SecretString)], eol: &str) -> String {
    if fields.is_empty() {
        return "{}".to_owned();
    }
    let mut text = format!("{{{eol}");
    for (name, secret) in fields {
        text.push_str(&format!("  {} = {}{eol}", field_name(name), quote(secret.expose_secret())));
    }
    text.push('}');
    text
}

/// The name of an object key that is an identifier or a literal string.
fn key_name(key: &ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Ident(name) => Some(name.as_str().to_owned()),
        ObjectKey::Expression(Expression::String(name)) => Some(name.value().clone()),
        // A bare `true` or `null` key parses as a literal; it still names that field.
        ObjectKey::Expression(Expression::Bool(value)) => Some(value.to_string()),
        ObjectKey::Expression(Expression::Null(_)) => Some("null".to_owned()),
        ObjectKey::Expression(Expression::StringTemplate(template)) => {
            match literal(template.iter()) {
                Stored::Str(name) => Some(name.expose_secret().to_owned()),
                _ => None,
            }
        }
        ObjectKey::Expression(_) => None,
    }
}

/// A quoted HCL string that Terraform reads back as exactly `value`.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Doubling the introducer makes `${` and `%{` literal.
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn read(expression: &Expression) -> Stored {
    let Expression::Object(object) = expression else { return read_field(expression) };
    let mut fields = Vec::with_capacity(object.len());
    for (key, value) in object.iter() {
        match (key_name(key), read_field(value.expr())) {
            (Some(name), Stored::Str(text)) => fields.push((name, text)),
            _ => return Stored::Other("mapping"),
        }
    }
    Stored::Map(fields)
}

/// What a value holds, with an object named only by its kind (no recursion into it).
fn read_field(expression: &Expression) -> Stored {
    match expression {
        Expression::String(text) => Stored::Str(SecretString::from(text.value().as_str())),
        Expression::StringTemplate(template) => literal(template.iter()),
        Expression::HeredocTemplate(heredoc) if heredoc.indent().is_none() => {
            literal(heredoc.template.iter())
        }
        Expression::Object(_) => Stored::Other("mapping"),
        Expression::Array(_) => Stored::Other("list"),
        Expression::Null(_) => Stored::Other("null"),
        Expression::Bool(_) => Stored::Other("boolean"),
        Expression::Number(_) => Stored::Other("number"),
        _ => Stored::Other("expression"),
    }
}

/// A template made only of literal text is a plain string; one with interpolations or
/// directives depends on evaluation.
fn literal<'a>(elements: impl Iterator<Item = &'a Element>) -> Stored {
    let mut text = String::new();
    for element in elements {
        match element {
            Element::Literal(literal) => text.push_str(literal.value()),
            _ => return Stored::Other("expression"),
        }
    }
    Stored::Str(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::super::{Document, Format, FormatError, Stored, Value};
    use secrecy::{ExposeSecret, SecretString};

    fn rendered(existing: &str, sets: &[(&str, &str)]) -> String {
        let mut doc = Document::parse(Format::Tfvars, existing.as_bytes()).unwrap();
        for (key, value) in sets {
            let secret = SecretString::from(*value);
            doc.set(key, &Value::Str(&secret)).unwrap();
        }
        String::from_utf8(doc.render()).unwrap()
    }

    fn read_back(text: &str, key: &str) -> String {
        let doc = Document::parse(Format::Tfvars, text.as_bytes()).unwrap();
        match doc.get(key) {
            Some(Stored::Str(secret)) => secret.expose_secret().to_owned(),
            other => panic!("{key} holds {other:?}"),
        }
    }

    #[test]
    fn case_8_template_sequences_are_escaped() {
        let value = "p${x}%{y}\"\\";
        assert_eq!(value.chars().count(), 11);
        let out = rendered("", &[("db_password", value)]);
        assert_eq!(out, "db_password = \"p$${x}%%{y}\\\"\\\\\"\n");
        assert_eq!(read_back(&out, "db_password"), value);
    }

    #[test]
    fn repeated_markers_are_each_escaped() {
        for value in ["${}$${", "$${x}", "%%{", "$$$", "${", "%{%{", "a$", "\u{1}\t\r\n"] {
            let out = rendered("", &[("v", value)]);
            assert_eq!(read_back(&out, "v"), value, "{out}");
        }
    }

    #[test]
    fn edits_keep_everything_else() {
        let existing =
            "# head\r\ndb_password = \"old\" # trailing\r\n\r\nobj = {\r\n  a = 1\r\n}\r\n";
        let out = rendered(existing, &[("db_password", "new"), ("added", "x")]);
        assert_eq!(
            out,
            "# head\r\ndb_password = \"new\" # trailing\r\n\r\nobj = {\r\n  a = 1\r\n}\r\n\
             added = \"x\"\r\n"
        );
    }

    #[test]
    fn maps_become_objects() {
        let mut doc = Document::parse(Format::Tfvars, b"db = \"old\"\n").unwrap();
        let (u, p) = (SecretString::from("u"), SecretString::from("p${x}"));
        doc.set("db", &Value::Map(vec![("user", &u), ("pass-word", &p)])).unwrap();
        let out = String::from_utf8(doc.render()).unwrap();
        assert_eq!(out, "db = {\n  user = \"u\"\n  \"pass-word\" = \"p$${x}\"\n}\n");
        let doc = Document::parse(Format::Tfvars, out.as_bytes()).unwrap();
        let Some(Stored::Map(fields)) = doc.get("db") else { panic!("db is a map") };
        assert_eq!(fields[1].0, "pass-word");
        assert_eq!(fields[1].1.expose_secret(), "p${x}");
    }

    fn merged(existing: &str, key: &str, fields: &[(&str, &str)]) -> Result<String, FormatError> {
        let mut doc = Document::parse(Format::Tfvars, existing.as_bytes()).unwrap();
        let secrets: Vec<SecretString> =
            fields.iter().map(|(_, value)| SecretString::from(*value)).collect();
        let fields = fields.iter().zip(&secrets).map(|((name, _), secret)| (*name, secret));
        doc.set(key, &Value::Map(fields.collect()))?;
        Ok(String::from_utf8(doc.render()).unwrap())
    }

    #[test]
    fn maps_merge_into_objects() {
        let existing = "db = {\r\n  user = \"old\" # why\r\n  port = 5432\r\n  \
                        opts = { ssl = true }\r\n}\r\nother = 1\r\n";
        let out = merged(existing, "db", &[("user", "u"), ("pass-word", "p${x}")]).unwrap();
        assert_eq!(
            out,
            "db = {\r\n  user = \"u\" # why\r\n  port = 5432\r\n  opts = { ssl = true }\r\n  \
             \"pass-word\" = \"p$${x}\"\r\n}\r\nother = 1\r\n"
        );
        let doc = Document::parse(Format::Tfvars, out.as_bytes()).unwrap();
        assert!(matches!(doc.get("db"), Some(Stored::Other("mapping"))));

        let out =
            merged("db = { user = \"old\", port = 1 }\n", "db", &[("user", "u"), ("pass", "p")]);
        assert_eq!(out.unwrap(), "db = { user = \"u\", port = 1, pass = \"p\" }\n");
        let out = merged(
            "db = {\n  \"$${x}\" = \"a\",\n  b = \"b\", }\n",
            "db",
            &[("${x}", "v"), ("c", "w")],
        );
        let out = out.unwrap();
        assert_eq!(out, "db = {\n  \"$${x}\" = \"v\",\n  b = \"b\", c = \"w\", }\n");
        let doc = Document::parse(Format::Tfvars, out.as_bytes()).unwrap();
        let Some(Stored::Map(fields)) = doc.get("db") else { panic!("db is a flat map") };
        let fields: Vec<(&str, &str)> =
            fields.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect();
        assert_eq!(fields, [("${x}", "v"), ("b", "b"), ("c", "w")]);
        let out = merged("db = {}\n", "db", &[("a", "x")]).unwrap();
        assert_eq!(out, "db = {\n  a = \"x\"\n}\n");
    }

    #[test]
    fn literal_words_as_field_names_are_quoted_and_found() {
        let out = merged("", "db", &[("null", "a"), ("true", "b"), ("nullable", "c")]).unwrap();
        assert_eq!(out, "db = {\n  \"null\" = \"a\"\n  \"true\" = \"b\"\n  nullable = \"c\"\n}\n");
        let out = merged(
            "db = {\n  null = \"a\"\n  true = \"b\"\n}\n",
            "db",
            &[("null", "x"), ("true", "y")],
        );
        assert_eq!(out.unwrap(), "db = {\n  null = \"x\"\n  true = \"y\"\n}\n");
    }

    #[test]
    fn merges_refuse_other_shapes() {
        let existing = "n = 1\ndb = {\n  opts = { ssl = true }\n  hosts = [\"a\"]\n}\n";
        let err = merged(existing, "db", &[("user", "u"), ("opts", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `db.opts` holds a mapping; refusing to replace it with a string"
        );
        let err = merged(existing, "db", &[("hosts", "x")]).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", .. }));
        let err = merged(existing, "n", &[("a", "x")]).unwrap_err();
        assert!(matches!(
            err,
            FormatError::WrongShape { found: "number", expected: "mapping", .. }
        ));
        let mut doc = Document::parse(Format::Tfvars, existing.as_bytes()).unwrap();
        let err = doc.set("db", &Value::Str(&SecretString::from("v"))).unwrap_err();
        assert!(matches!(
            err,
            FormatError::WrongShape { found: "mapping", expected: "string", .. }
        ));
    }

    #[test]
    fn invalid_names_lists_and_parse_errors() {
        let mut doc = Document::parse(Format::Tfvars, b"l = [1]\nt = \"a${var.x}\"\n").unwrap();
        let secret = SecretString::from("v");
        let err = doc.set("l", &Value::Str(&secret)).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", expected: "string", .. }));
        assert!(matches!(doc.set("1x", &Value::Str(&secret)), Err(FormatError::InvalidKey { .. })));
        assert!(matches!(doc.get("t"), Some(Stored::Other("expression"))));
        let err = Document::parse(Format::Tfvars, b"a = 1\nb = \"s3cret\n").unwrap_err();
        assert!(matches!(err, FormatError::Parse { line: Some(_), .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cret"));
    }
}
