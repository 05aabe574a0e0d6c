//! Terraform variable files (`.tfvars`). hcl-edit parses and validates the file and gives each
//! top-level attribute's value span; edits are spliced into the original text, so everything
//! else stays byte for byte. Strings are quoted templates: besides the usual escapes, the
//! template sequences `${` and `%{` are written `$${` and `%%{` so Terraform reads them
//! literally.

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::template::Element;
use secrecy::{ExposeSecret, SecretString};

use super::{
    Format, FormatError, Source, Splice, Stored, Value, append_lines, check_replaceable, stored,
};

const FORMAT: Format = Format::Tfvars;

pub(super) struct Tfvars {
    source: Source,
    body: Body,
    /// Per attribute in file order: its index among the body's structures.
    structures: Vec<usize>,
    splice: Splice,
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
        Ok(Tfvars { source, body, structures, splice })
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
        check_key(key)?;
        check_replaceable(FORMAT, key, self.get(key).as_ref())?;
        let text = value_text(value, self.source.eol);
        let text =
            if self.splice.occurrences(key).is_empty() { format!("{key} = {text}") } else { text };
        self.splice.set(key, text, stored(value));
        Ok(())
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

fn check_key(key: &str) -> Result<(), FormatError> {
    if is_identifier(key) {
        Ok(())
    } else {
        Err(FormatError::InvalidKey {
            format: FORMAT,
            key: key.to_owned(),
            reason: "a Terraform variable name must match [A-Za-z_][A-Za-z0-9_-]*".to_owned(),
        })
    }
}

fn value_text(value: &Value<'_>, eol: &str) -> String {
    let fields = match value {
        Value::Str(secret) => return quote(secret.expose_secret()),
        Value::Map(fields) => fields,
    };
    if fields.is_empty() {
        return "{}".to_owned();
    }
    // The layout `terraform fmt` gives an object: one field per line, two spaces in. Field
    // names that are not plain identifiers are quoted like any string.
    let mut text = format!("{{{eol}");
    for (name, secret) in fields {
        let name = if is_identifier(name) && !name.contains('-') {
            (*name).to_owned()
        } else {
            quote(name)
        };
        text.push_str(&format!("  {name} = {}{eol}", quote(secret.expose_secret())));
    }
    text.push('}');
    text
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
    match expression {
        Expression::String(text) => Stored::Str(SecretString::from(text.value().as_str())),
        Expression::StringTemplate(template) => literal(template.iter()),
        Expression::HeredocTemplate(heredoc) if heredoc.indent().is_none() => {
            literal(heredoc.template.iter())
        }
        Expression::Object(object) => {
            let mut fields = Vec::with_capacity(object.len());
            for (key, value) in object.iter() {
                let name = match key {
                    ObjectKey::Ident(name) => name.as_str().to_owned(),
                    ObjectKey::Expression(Expression::String(name)) => name.value().clone(),
                    ObjectKey::Expression(_) => return Stored::Other("mapping"),
                };
                match value.expr() {
                    Expression::String(text) => {
                        fields.push((name, SecretString::from(text.value().as_str())));
                    }
                    _ => return Stored::Other("mapping"),
                }
            }
            Stored::Map(fields)
        }
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

    #[test]
    fn invalid_names_lists_and_parse_errors() {
        let mut doc = Document::parse(Format::Tfvars, b"l = [1]\nt = \"a${var.x}\"\n").unwrap();
        let secret = SecretString::from("v");
        assert!(matches!(doc.set("l", &Value::Str(&secret)), Err(FormatError::InvalidKey { .. })));
        assert!(matches!(doc.set("1x", &Value::Str(&secret)), Err(FormatError::InvalidKey { .. })));
        assert!(matches!(doc.get("t"), Some(Stored::Other("expression"))));
        let err = Document::parse(Format::Tfvars, b"a = 1\nb = \"s3cret\n").unwrap_err();
        assert!(matches!(err, FormatError::Parse { line: Some(_), .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cret"));
    }
}
