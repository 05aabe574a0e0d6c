//! The translated Secretfile as a model, and its YAML text in the canonical shape the README
//! shows: two-space indents, block style, strings quoted only when YAML would misread them.

/// A Secretfile in the current format, before it is text.
#[derive(Debug, Default)]
pub(super) struct NewFile {
    /// Comment lines above the first key of the older file.
    pub header: Vec<String>,
    pub metadata: Section<(String, String)>,
    pub variables: Section<(String, String)>,
    pub providers: Section<NewProvider>,
    pub secrets: Section<NewSecret>,
}

/// A top-level mapping and the comment lines that stood above it.
#[derive(Debug)]
pub(super) struct Section<T> {
    pub comments: Vec<String>,
    pub entries: Vec<T>,
}

impl<T> Default for Section<T> {
    fn default() -> Section<T> {
        Section { comments: Vec::new(), entries: Vec::new() }
    }
}

#[derive(Debug)]
pub(super) struct NewProvider {
    pub name: String,
    pub kind: String,
    pub auth: Vec<(String, String)>,
    pub config: Vec<(String, String)>,
}

#[derive(Debug)]
pub(super) struct NewSecret {
    pub comments: Vec<String>,
    pub name: String,
    pub description: Option<String>,
    pub body: Body,
    pub rotation_period: Option<String>,
    pub one_time: Option<bool>,
    pub targets: Vec<NewTarget>,
}

#[derive(Debug)]
pub(super) enum Body {
    Generator(Generator),
    Template { kind: String, description: Option<String>, fields: Vec<(String, Generator)> },
}

#[derive(Debug)]
pub(super) struct Generator {
    pub kind: &'static str,
    pub options: Vec<(String, Scalar)>,
}

#[derive(Debug)]
pub(super) struct NewTarget {
    pub kind: &'static str,
    pub options: Vec<(String, Scalar)>,
}

#[derive(Debug, Clone)]
pub(super) enum Scalar {
    Str(String),
    Int(i128),
    Bool(bool),
    List(Vec<String>),
    /// A static generator's value: written as it is, or masked for display.
    Value(String),
}

/// The file's text. `mask` replaces static values with asterisks, for showing the file in a
/// log.
pub(super) fn render(file: &NewFile, mask: bool) -> String {
    let mut out = Out { text: String::new(), mask };
    out.comments(0, &file.header);
    out.line(0, "version: \"1.0\"");

    if !file.metadata.entries.is_empty() {
        out.section("metadata", &file.metadata.comments);
        for (key, value) in &file.metadata.entries {
            out.pair(1, key, &Scalar::Str(value.clone()));
        }
    }
    if !file.variables.entries.is_empty() {
        out.section("variables", &file.variables.comments);
        for (key, value) in &file.variables.entries {
            out.pair(1, key, &Scalar::Str(value.clone()));
        }
    }
    if !file.providers.entries.is_empty() {
        out.section("providers", &file.providers.comments);
        for provider in &file.providers.entries {
            out.provider(provider);
        }
    }

    match file.secrets.entries.is_empty() {
        true => {
            out.blank();
            out.comments(0, &file.secrets.comments);
            out.line(0, "secrets: {}");
        }
        false => {
            out.section("secrets", &file.secrets.comments);
            for (i, secret) in file.secrets.entries.iter().enumerate() {
                if i > 0 {
                    out.blank();
                }
                out.secret(secret);
            }
        }
    }
    out.text
}

struct Out {
    text: String,
    mask: bool,
}

impl Out {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.text.push_str("  ");
        }
        self.text.push_str(text);
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn comments(&mut self, depth: usize, comments: &[String]) {
        for comment in comments {
            self.line(depth, comment);
        }
    }

    fn section(&mut self, key: &str, comments: &[String]) {
        self.blank();
        self.comments(0, comments);
        self.line(0, &format!("{key}:"));
    }

    fn pair(&mut self, depth: usize, key: &str, value: &Scalar) {
        let key = quote(key);
        match value {
            Scalar::List(items) => {
                self.line(depth, &format!("{key}:"));
                for item in items {
                    self.line(depth + 1, &format!("- {}", quote(item)));
                }
            }
            _ => {
                let text = self.scalar(value);
                self.line(depth, &format!("{key}: {text}"));
            }
        }
    }

    fn scalar(&self, value: &Scalar) -> String {
        match value {
            Scalar::Str(text) => quote(text),
            Scalar::Value(_) if self.mask => "\"********\"".to_string(),
            Scalar::Value(text) => quote(text),
            Scalar::Int(number) => number.to_string(),
            Scalar::Bool(flag) => flag.to_string(),
            Scalar::List(items) => {
                format!("[{}]", items.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", "))
            }
        }
    }

    fn provider(&mut self, provider: &NewProvider) {
        self.line(1, &format!("{}:", quote(&provider.name)));
        self.pair(2, "kind", &Scalar::Str(provider.kind.clone()));
        for (key, entries) in [("auth", &provider.auth), ("config", &provider.config)] {
            if entries.is_empty() {
                continue;
            }
            self.line(2, &format!("{key}:"));
            for (name, value) in entries {
                self.pair(3, name, &Scalar::Str(value.clone()));
            }
        }
    }

    fn secret(&mut self, secret: &NewSecret) {
        self.comments(1, &secret.comments);
        self.line(1, &format!("{}:", quote(&secret.name)));
        if let Some(description) = &secret.description {
            self.pair(2, "description", &Scalar::Str(description.clone()));
        }
        match &secret.body {
            Body::Generator(generator) => {
                self.line(2, "generator:");
                self.generator(3, generator);
            }
            Body::Template { kind, description, fields } => {
                self.line(2, "template:");
                self.pair(3, "type", &Scalar::Str(kind.clone()));
                if let Some(description) = description {
                    self.pair(3, "description", &Scalar::Str(description.clone()));
                }
                self.line(3, "fields:");
                for (name, generator) in fields {
                    self.line(4, &format!("- name: {}", quote(name)));
                    self.line(5, "generator:");
                    self.generator(6, generator);
                }
            }
        }
        if let Some(period) = &secret.rotation_period {
            self.pair(2, "rotation_period", &Scalar::Str(period.clone()));
        }
        if let Some(one_time) = secret.one_time {
            self.pair(2, "one_time", &Scalar::Bool(one_time));
        }
        if !secret.targets.is_empty() {
            self.line(2, "targets:");
            for target in &secret.targets {
                self.line(3, &format!("- type: {}", target.kind));
                for (key, value) in &target.options {
                    self.pair(4, key, value);
                }
            }
        }
    }

    fn generator(&mut self, depth: usize, generator: &Generator) {
        self.line(depth, &format!("type: {}", generator.kind));
        for (key, value) in &generator.options {
            self.pair(depth, key, value);
        }
    }
}

/// A string as a YAML scalar: plain when the YAML 1.2 core schema reads it back as the same
/// string, else double-quoted (a JSON string is a valid YAML double-quoted scalar).
pub(super) fn quote(text: &str) -> String {
    if is_plain(text) {
        return text.to_string();
    }
    serde_json::to_string(text).expect("a string serializes")
}

fn is_plain(text: &str) -> bool {
    const WORDS: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n"];
    // A rotation period (`90d`) is no number in any YAML schema.
    if let Some(digits) = text.strip_suffix(['d', 'w', 'm', 'y'])
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return true;
    }
    let Some(first) = text.chars().next() else { return false };
    let starts_well = first.is_ascii_alphabetic()
        || first == '_'
        || first == '/'
        || (first == '.' && text[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
    // Without `:` and `#`, a space cannot start a mapping value or a comment.
    starts_well
        && !text.ends_with(' ')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./ ".contains(c))
        && !WORDS.contains(&text.to_ascii_lowercase().as_str())
        && !matches!(text.to_ascii_lowercase().as_str(), ".inf" | ".nan")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_yaml_would_misread() {
        assert_eq!(quote(".env"), ".env");
        assert_eq!(quote("config/app.json"), "config/app.json");
        assert_eq!(quote("api_key"), "api_key");
        assert_eq!(quote("true"), "\"true\"");
        assert_eq!(quote(".inf"), "\".inf\"");
        assert_eq!(quote("90d"), "90d");
        assert_eq!(quote("Database login"), "Database login");
        assert_eq!(quote("1e3"), "\"1e3\"");
        assert_eq!(quote("0755"), "\"0755\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a: b"), "\"a: b\"");
        assert_eq!(quote("{{ env.X }}"), "\"{{ env.X }}\"");
        assert_eq!(quote("tab\there"), "\"tab\\there\"");
    }
}
