//! TOML files, edited with toml_edit so comments, order and formatting survive. Strings are
//! always written as one-line basic strings with escapes (`"a\"b\\c\nd\u0005"`), a form every
//! TOML 1.0 reader decodes the same way; toml_edit would otherwise pick literal or multi-line
//! strings by content. A mapping set on a key that holds a table (a `[section]`, an inline
//! table or dotted keys) is merged into it: toml_edit keeps the other entries where they are.

use secrecy::{ExposeSecret, SecretString};
use toml_edit::{DocumentMut, InlineTable, Item, Table};

use super::{Format, FormatError, Source, Stored, Value, check_field, check_shape, line_col};

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
        check_shape(FORMAT, key, self.get(key).as_ref(), value)?;
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
                let strings = fields
                    .iter()
                    .map(|(name, secret)| (*name, basic_string(secret.expose_secret())));
                match self.doc.get_mut(key) {
                    Some(Item::Value(toml_edit::Value::InlineTable(table))) => {
                        for (name, _) in fields {
                            check_field(
                                FORMAT,
                                key,
                                name,
                                table.get(name).map(read_value).as_ref(),
                            )?;
                        }
                        for (name, string) in strings {
                            set_inline(table, name, string);
                        }
                    }
                    Some(Item::Table(table)) => {
                        for (name, _) in fields {
                            check_field(FORMAT, key, name, table.get(name).map(read).as_ref())?;
                        }
                        for (name, mut string) in strings {
                            match table.get_mut(name) {
                                Some(Item::Value(old)) => {
                                    *string.decor_mut() = old.decor().clone();
                                    *old = string;
                                }
                                _ => {
                                    table.insert(name, Item::Value(string));
                                }
                            }
                        }
                    }
                    // A string (or nothing) becomes a new table.
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
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name.chars().any(char::is_control) {
        return Err("a TOML key here must not hold control characters (their escapes differ \
                    between TOML 1.0 and 1.1)"
            .to_owned());
    }
    Ok(())
}

/// Sets a field of an inline table, replacing its value in place or appending it; an appended
/// field takes over the spacing before the closing brace from the last one.
fn set_inline(table: &mut InlineTable, name: &str, mut string: toml_edit::Value) {
    if let Some(old) = table.get_mut(name) {
        *string.decor_mut() = old.decor().clone();
        *old = string;
        return;
    }
    let last = table.iter_mut().last().map(|(_, value)| value);
    if let Some(last) = last {
        let suffix = last.decor().suffix().cloned();
        if let Some(suffix) = suffix {
            last.decor_mut().set_suffix("");
            string.decor_mut().set_suffix(suffix);
        }
    }
    table.insert(name, string);
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
    match item {
        Item::Value(value) => read_value(value),
        Item::Table(table) => flat(&mut table.iter().map(|(k, v)| (k, v.as_value()))),
        Item::ArrayOfTables(_) => Stored::Other("list"),
        Item::None => Stored::Other("null"),
    }
}

fn read_value(value: &toml_edit::Value) -> Stored {
    use toml_edit::Value as V;
    match value {
        V::String(text) => Stored::Str(SecretString::from(text.value().as_str())),
        V::InlineTable(table) => flat(&mut table.iter().map(|(k, v)| (k, Some(v)))),
        V::Integer(_) | V::Float(_) => Stored::Other("number"),
        V::Boolean(_) => Stored::Other("boolean"),
        V::Datetime(_) => Stored::Other("datetime"),
        V::Array(_) => Stored::Other("list"),
    }
}

/// A table of strings only is a `Stored::Map`; any other entry makes it a mapping of more.
fn flat<'a>(pairs: &mut dyn Iterator<Item = (&'a str, Option<&'a toml_edit::Value>)>) -> Stored {
    let mut fields = Vec::new();
    for (name, value) in pairs {
        match value {
            Some(toml_edit::Value::String(text)) => {
                fields.push((name.to_owned(), SecretString::from(text.value().as_str())));
            }
            _ => return Stored::Other("mapping"),
        }
    }
    Stored::Map(fields)
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
            "inl = { a = \"1\", user = \"u\" }\n\n[t]\nx = \"y\"\nuser = \"u\"\npass = \"p\"\n\n\
             [new]\npass = \"p\"\n"
        );
        let doc = Document::parse(Format::Toml, out.as_bytes()).unwrap();
        let Some(Stored::Map(fields)) = doc.get("t") else { panic!("t is a map") };
        assert_eq!(fields[2].1.expose_secret(), "p");
    }

    #[test]
    fn arrays_and_deep_tables_are_not_overwritten() {
        let mut doc = Document::parse(Format::Toml, b"a = [1]\n[t.sub]\nx = 1\n").unwrap();
        let secret = SecretString::from("v");
        let err = doc.set("a", &Value::Str(&secret)).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", expected: "string", .. }));
        let err = doc.set("t", &Value::Str(&secret)).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "mapping", .. }));
    }

    fn merged(existing: &str, key: &str, fields: &[(&str, &str)]) -> Result<String, FormatError> {
        let mut doc = Document::parse(Format::Toml, existing.as_bytes()).unwrap();
        let secrets: Vec<SecretString> =
            fields.iter().map(|(_, value)| SecretString::from(*value)).collect();
        let fields = fields.iter().zip(&secrets).map(|((name, _), secret)| (*name, secret));
        doc.set(key, &Value::Map(fields.collect()))?;
        Ok(String::from_utf8(doc.render()).unwrap())
    }

    #[test]
    fn maps_merge_into_tables_inline_tables_and_dotted_keys() {
        let existing = "[db] # hdr\nuser = 'old' # why\nport = 5432\n\n[db.opts]\nssl = true\n\n\
                        [other]\nx = 1\n";
        let out = merged(existing, "db", &[("user", "u"), ("pass", "p")]).unwrap();
        assert_eq!(
            out,
            "[db] # hdr\nuser = \"u\" # why\nport = 5432\npass = \"p\"\n\n[db.opts]\nssl = true\n\n\
             [other]\nx = 1\n"
        );
        let table: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(table["db"]["user"].as_str(), Some("u"));
        assert_eq!(table["db"]["port"].as_integer(), Some(5432));
        assert_eq!(table["db"]["opts"]["ssl"].as_bool(), Some(true));
        assert_eq!(table["db"]["pass"].as_str(), Some("p"));

        let out = merged(
            "db = { user = \"old\", port = 1 } # c\n",
            "db",
            &[("user", "u"), ("pass", "p")],
        );
        assert_eq!(out.unwrap(), "db = { user = \"u\", port = 1, pass = \"p\" } # c\n");
        let out = merged(
            "db.user = \"old\" # c\ndb.port = 1\nz = 2\n",
            "db",
            &[("user", "u"), ("pass", "p")],
        );
        assert_eq!(out.unwrap(), "db.user = \"u\" # c\ndb.port = 1\ndb.pass = \"p\"\nz = 2\n");
        let out = merged("[db.sub]\nq = 1\n", "db", &[("pass", "p")]).unwrap();
        assert_eq!(out, "[db]\npass = \"p\"\n[db.sub]\nq = 1\n");
        let table: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(table["db"]["sub"]["q"].as_integer(), Some(1));
        let out = merged("db = \"old\"\nz = 1\n", "db", &[("pass", "p")]).unwrap();
        assert_eq!(out, "z = 1\n\n[db]\npass = \"p\"\n");
    }

    #[test]
    fn merges_refuse_other_shapes() {
        let existing = "n = 1\nl = [1]\n[db]\nopts = { ssl = true }\nhosts = [\"a\"]\n[db.sub]\nq = 1\n\
                        [[aot]]\nx = 1\n";
        let err = merged(existing, "db", &[("user", "u"), ("opts", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `db.opts` holds a mapping; refusing to replace it with a string"
        );
        for (field, found) in [("hosts", "list"), ("sub", "mapping")] {
            let err = merged(existing, "db", &[(field, "x")]).unwrap_err();
            assert!(matches!(err, FormatError::WrongShape { found: f, .. } if f == found), "{err}");
        }
        for (key, found) in [("n", "number"), ("l", "list"), ("aot", "list")] {
            let err = merged(existing, key, &[("a", "x")]).unwrap_err();
            assert!(matches!(err, FormatError::WrongShape { found: f, .. } if f == found), "{err}");
        }
        let mut doc = Document::parse(Format::Toml, b"inl = { a = \"1\", b = [] }\n").unwrap();
        let err = doc.set("inl", &Value::Map(vec![("b", &SecretString::from("x"))])).unwrap_err();
        assert!(matches!(err, FormatError::WrongShape { found: "list", .. }));
        assert_eq!(doc.render(), b"inl = { a = \"1\", b = [] }\n");
    }

    #[test]
    fn key_rules() {
        assert!(Format::Toml.check_key("a\u{1}").unwrap_err().contains("control characters"));
        assert_eq!(Format::Toml.check_field_name("clé d'été"), Ok(()));
        let out = merged("", "t", &[("clé", "v"), ("", "e")]).unwrap();
        assert_eq!(out, "[t]\n\"clé\" = \"v\"\n\"\" = \"e\"\n");
    }

    #[test]
    fn parse_errors_carry_position_not_text() {
        let err = Document::parse(Format::Toml, b"a = 1\nb = \"s3cret\n").unwrap_err();
        assert!(matches!(err, FormatError::Parse { line: Some(2), .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cret"));
    }
}
