//! TOML files, edited with toml_edit so comments, order and formatting survive. Strings are
//! always written as one-line basic strings with escapes (`"a\"b\\c\nd\u0005"`), a form every
//! TOML 1.0 reader decodes the same way; toml_edit would otherwise pick literal or multi-line
//! strings by content.

use secrecy::{ExposeSecret, SecretString};
use toml_edit::{DocumentMut, InlineTable, Item, Table};

use super::{Format, FormatError, Source, Stored, Value, check_replaceable, line_col};

const FORMAT: Format = Format::Toml;

pub(super) struct Toml {
    doc: DocumentMut,
    /// Whether every line ending of the file is CRLF; toml_edit writes LF for new lines.
    crlf: bool,
}

impl Toml {
    pub(super) fn parse(source: Source) -> Result<Toml, FormatError> {
        let text = source.text;
        let crlf = source.eol == "\r\n" && !text.replace("\r\n", "").contains('\n');
        let doc = text.parse::<DocumentMut>().map_err(|error| {
            // toml_edit's message names the kind of error; its Display would quote the line.
            let (line, column) = match error.span() {
                Some(span) => {
                    let (line, column) = line_col(&text, span.start);
                    (Some(line), Some(column))
                }
                None => (None, None),
            };
            FormatError::Parse { format: FORMAT, line, column, message: error.message().to_owned() }
        })?;
        Ok(Toml { doc, crlf })
    }

    pub(super) fn get(&self, key: &str) -> Option<Stored> {
        Some(read(self.doc.get(key)?))
    }

    pub(super) fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
        check_key(key, key)?;
        check_replaceable(FORMAT, key, self.get(key).as_ref())?;
        match value {
            Value::Str(secret) => {
                let mut new = basic_string(secret.expose_secret());
                match self.doc.get_mut(key) {
                    // Comments and spacing around the old value stay.
                    Some(Item::Value(old)) => {
                        *new.decor_mut() = old.decor().clone();
                        *old = new;
                    }
                    _ => {
                        self.doc.insert(key, Item::Value(new));
                    }
                }
            }
            Value::Map(fields) => {
                for (name, _) in fields {
                    check_key(key, name)?;
                }
                let strings = fields
                    .iter()
                    .map(|(name, secret)| (*name, basic_string(secret.expose_secret())));
                match self.doc.get_mut(key) {
                    Some(Item::Value(toml_edit::Value::InlineTable(old))) => {
                        let mut table = InlineTable::new();
                        for (name, string) in strings {
                            table.insert(name, string);
                        }
                        *table.decor_mut() = old.decor().clone();
                        *old = table;
                    }
                    // Clearing keeps the header, its comments and its place in the file.
                    Some(Item::Table(old)) => {
                        old.clear();
                        for (name, string) in strings {
                            old.insert(name, Item::Value(string));
                        }
                    }
                    _ => {
                        let mut table = Table::new();
                        for (name, string) in strings {
                            table.insert(name, Item::Value(string));
                        }
                        self.doc.insert(key, Item::Table(table));
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn render(&self) -> String {
        let text = self.doc.to_string();
        if self.crlf { text.replace("\r\n", "\n").replace('\n', "\r\n") } else { text }
    }
}

/// Control characters in a key would need escapes that differ between TOML 1.0 and 1.1.
fn check_key(key: &str, name: &str) -> Result<(), FormatError> {
    if name.chars().any(char::is_control) {
        return Err(FormatError::InvalidKey {
            format: FORMAT,
            key: key.to_owned(),
            reason: "TOML keys here must not hold control characters".to_owned(),
        });
    }
    Ok(())
}

/// A one-line basic string using only TOML 1.0 escapes.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn basic_string(value: &str) -> toml_edit::Value {
    // Parsing the encoded text makes toml_edit keep exactly this representation.
    encode(value).parse().expect("an encoded basic string parses")
}

fn read(item: &Item) -> Stored {
    use toml_edit::Value as V;
    let flat = |pairs: &mut dyn Iterator<Item = (&str, Option<&V>)>| {
        let mut fields = Vec::new();
        for (name, value) in pairs {
            match value {
                Some(V::String(text)) => {
                    fields.push((name.to_owned(), SecretString::from(text.value().as_str())));
                }
                _ => return Stored::Other("mapping"),
            }
        }
        Stored::Map(fields)
    };
    match item {
        Item::Value(V::String(text)) => Stored::Str(SecretString::from(text.value().as_str())),
        Item::Value(V::InlineTable(table)) => flat(&mut table.iter().map(|(k, v)| (k, Some(v)))),
        Item::Table(table) => flat(&mut table.iter().map(|(k, v)| (k, v.as_value()))),
        Item::Value(V::Integer(_) | V::Float(_)) => Stored::Other("number"),
        Item::Value(V::Boolean(_)) => Stored::Other("boolean"),
        Item::Value(V::Datetime(_)) => Stored::Other("datetime"),
        Item::Value(V::Array(_)) | Item::ArrayOfTables(_) => Stored::Other("list"),
        Item::None => Stored::Other("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Document, Format, FormatError, Stored, Value};
    use secrecy::{ExposeSecret, SecretString};

    fn rendered(existing: &str, sets: &[(&str, &str)]) -> String {
        let mut doc = Document::parse(Format::Toml, existing.as_bytes()).unwrap();
        for (key, value) in sets {
            let secret = SecretString::from(*value);
            doc.set(key, &Value::Str(&secret)).unwrap();
        }
        String::from_utf8(doc.render()).unwrap()
    }

    #[test]
    fn case_7_basic_string_escapes() {
        let value = "a\"b\\c\nd\u{5}";
        let out = rendered("", &[("KEY", value)]);
        assert_eq!(out, "KEY = \"a\\\"b\\\\c\\nd\\u0005\"\n");
        let table: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(table["KEY"].as_str(), Some(value));
    }

    #[test]
    fn comments_tables_and_crlf_are_kept() {
        let existing = "# head\r\nKEY = 'old' # why\r\nn = 1\r\n\r\n[tbl] # c\r\nf = \"v\"\r\n";
        let out = rendered(existing, &[("KEY", "new"), ("ADDED", "x")]);
        assert_eq!(
            out,
            "# head\r\nKEY = \"new\" # why\r\nn = 1\r\nADDED = \"x\"\r\n\r\n\
             [tbl] # c\r\nf = \"v\"\r\n"
        );
    }

    #[test]
    fn maps_become_tables_and_inline_tables_stay_inline() {
        let mut doc =
            Document::parse(Format::Toml, b"inl = { a = \"1\" }\n\n[t]\nx = \"y\"\n").unwrap();
        let (u, p) = (SecretString::from("u"), SecretString::from("p"));
        doc.set("inl", &Value::Map(vec![("user", &u)])).unwrap();
        doc.set("t", &Value::Map(vec![("user", &u), ("pass", &p)])).unwrap();
        doc.set("new", &Value::Map(vec![("pass", &p)])).unwrap();
        let out = String::from_utf8(doc.render()).unwrap();
        assert_eq!(
            out,
            "inl = { user = \"u\" }\n\n[t]\nuser = \"u\"\npass = \"p\"\n\n[new]\npass = \"p\"\n"
        );
        let doc = Document::parse(Format::Toml, out.as_bytes()).unwrap();
        let Some(Stored::Map(fields)) = doc.get("t") else { panic!("t is a map") };
        assert_eq!(fields[1].1.expose_secret(), "p");
    }

    #[test]
    fn arrays_and_deep_tables_are_not_overwritten() {
        let mut doc = Document::parse(Format::Toml, b"a = [1]\n[t.sub]\nx = 1\n").unwrap();
        let secret = SecretString::from("v");
        assert!(matches!(doc.set("a", &Value::Str(&secret)), Err(FormatError::InvalidKey { .. })));
        assert!(matches!(doc.set("t", &Value::Str(&secret)), Err(FormatError::InvalidKey { .. })));
    }

    #[test]
    fn parse_errors_carry_position_not_text() {
        let err = Document::parse(Format::Toml, b"a = 1\nb = \"s3cret\n").unwrap_err();
        assert!(matches!(err, FormatError::Parse { line: Some(2), .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cret"));
    }
}
