//! Dotenv files: a line editor that keeps comments, blank lines, order, `export` prefixes,
//! line endings and a BOM, and quotes each value so that the `dotenvy` crate (0.15),
//! python-dotenv (1.1 and 1.2, interpolation on) and docker compose's `env_file` (compose-go's
//! parser) all read back the same bytes.
//!
//! What each quoting carries for all of them:
//! - unquoted: only `[A-Za-z0-9_./:@+=-]` (or nothing). Outside quotes dotenvy decodes `\`
//!   escapes, joins quoted parts and ends the value at a blank, and dotenvy and compose expand
//!   `$`; python-dotenv keeps all of these as they are;
//! - single quotes: no `'`, no line break, no two adjacent `\`. python-dotenv decodes `\\` and
//!   `\'` there while the others keep them, and dotenvy's line joiner skips the character after
//!   any `\`, so that `\'` does not close the value for it;
//! - double quotes, with the escapes `\\`, `\"` and `\n` (the only ones all three decode the
//!   same way): no `$`, which dotenvy and compose expand there (python-dotenv keeps the
//!   backslash of `\$`).
//!
//! And what none carries:
//! - a trailing `\`. python-dotenv's quoted-value patterns (`"((?:\\"|[^"])*)"` and the same
//!   for `'`) take a backslash before the closing quote for an escaped quote and read on to
//!   the next quote anywhere later in the file, losing this and the following statements;
//!   unquoted, dotenvy drops the backslash;
//! - `${NAME}` or `${NAME:-default}`: python-dotenv expands them inside any quotes;
//! - control characters other than tab and newline: dotenvy has no escape for them, and raw
//!   control characters are not written (python-dotenv reads a raw `\r` as a line break).

use std::ops::Range;

use secrecy::{ExposeSecret, SecretString};

use super::{
    Format, FormatError, Source, Splice, Stored, Value, append_lines, line_col, merge_duplicates,
    stored,
};

const FORMAT: Format = Format::Dotenv;

pub(super) struct Dotenv {
    source: Source,
    /// Per definition in file order: the raw value text, quotes included, or `None` for a bare
    /// `KEY` line.
    values: Vec<Option<Range<usize>>>,
    /// Every definition of the file starts with `export`, so new ones do too.
    export: bool,
    splice: Splice,
}

/// One definition of a key found in the text: `KEY=value`, or a bare `KEY`, which
/// python-dotenv reads as a key without a value (`None`), compose as a variable to take from
/// the environment, and dotenvy as an error.
struct Definition {
    key: String,
    export: bool,
    /// What a new value replaces: everything after `=` on the value's last line, or, for a bare
    /// key, everything after the key on its line (`=` and the value are then inserted).
    replace: Range<usize>,
    value: Option<Range<usize>>,
    /// Start of the next line.
    next: usize,
}

impl Dotenv {
    pub(super) fn parse(source: Source) -> Result<Dotenv, FormatError> {
        let mut values = Vec::new();
        let mut splice = Splice::default();
        let text = source.text.as_str();
        let mut start = 0;
        let mut exported = 0;
        while start < text.len() {
            let Some(found) = definition(text, start)? else {
                start = next_line(text, start);
                continue;
            };
            splice.push(Some(found.key), found.replace, start..found.next);
            values.push(found.value);
            exported += usize::from(found.export);
            start = found.next;
        }
        let export = !values.is_empty() && exported == values.len();
        Ok(Dotenv { source, values, export, splice })
    }

    /// A bare key reads as missing; next to a `KEY=value` it makes the readers disagree.
    pub(super) fn get(&self, key: &str) -> Option<Stored> {
        if let Some(value) = self.splice.written(key) {
            return Some(value.clone());
        }
        let text = self.source.text.as_str();
        let occurrences = self.splice.occurrences(key);
        let values: Vec<&Range<usize>> =
            occurrences.iter().filter_map(|&index| self.values[index].as_ref()).collect();
        if values.is_empty() {
            return None;
        }
        if values.len() < occurrences.len() {
            return Some(Stored::Other("conflicting duplicates"));
        }
        if values.iter().any(|value| expands(&text[(*value).clone()])) {
            return Some(Stored::Other("variable reference"));
        }
        let values = values
            .into_iter()
            .map(|value| Stored::Str(SecretString::from(decode(&text[value.clone()]))));
        merge_duplicates(values)
    }

    pub(super) fn set(&mut self, key: &str, value: &Value<'_>) -> Result<(), FormatError> {
        let Value::Str(secret) = value else {
            return Err(FormatError::CannotCarry {
                format: FORMAT,
                key: key.to_owned(),
                reason: "dotenv has no nested values; flatten the fields into KEY_FIELD keys"
                    .to_owned(),
            });
        };
        let encoded = encode(secret.expose_secret()).map_err(|reason| {
            FormatError::CannotCarry { format: FORMAT, key: key.to_owned(), reason }
        })?;

        let text = match self.splice.occurrences(key).first() {
            Some(&index) => self.replacement(index, encoded),
            None if self.export => format!("export {key}={encoded}"),
            None => format!("{key}={encoded}"),
        };
        self.splice.set(key, text, stored(value));
        Ok(())
    }

    /// The new text of a definition's replaced range, keeping an inline comment in a form
    /// every reader skips.
    fn replacement(&self, index: usize, encoded: String) -> String {
        let text = self.source.text.as_str();
        let replaced = &self.splice.entries[index].0;
        // A bare key's line gets the `=` it lacks.
        let (equals, value) = match &self.values[index] {
            Some(value) => ("", value.clone()),
            None => ("=", replaced.start..replaced.start),
        };
        // compose reads `KEY= # note` as the value `# note`, so an empty value drops it.
        if encoded.is_empty() {
            return equals.to_owned();
        }
        let blanks = &text[replaced.start..value.start];
        let Some(comment) = comment_after(text, &value, replaced.end) else {
            return format!("{equals}{blanks}{encoded}");
        };
        let comment = &text[comment];
        // compose only strips a comment introduced by a space, not by a tab.
        let hash = comment.find('#').unwrap_or(0);
        if comment[..hash].ends_with(' ') {
            format!("{equals}{blanks}{encoded}{comment}")
        } else {
            format!("{equals}{blanks}{encoded} {}", &comment[hash..])
        }
    }

    pub(super) fn render(&self) -> String {
        let mut out = self.splice.render(&self.source.text, None);
        let lines: Vec<&str> = self.splice.appended().map(|(_, line)| line).collect();
        append_lines(&mut out, &lines, self.source.eol, self.source.lacks_final_newline());
        out
    }
}

/// The key syntax dotenvy accepts, which python-dotenv and compose accept too.
pub(super) fn check_value(value: &str) -> Result<(), String> {
    encode(value).map(drop)
}

pub(super) fn check_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if valid { Ok(()) } else { Err("a dotenv key must match [A-Za-z_][A-Za-z0-9_.]*".to_owned()) }
}

fn next_line(text: &str, start: usize) -> usize {
    text[start..].find('\n').map_or(text.len(), |index| start + index + 1)
}

/// End of a line's content: before `\n`, `\r\n`, or a lone `\r` at the end of the file.
fn content_end(text: &str, start: usize) -> usize {
    let end = text[start..].find('\n').map_or(text.len(), |index| start + index);
    if text[start..end].ends_with('\r') { end - 1 } else { end }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn skip_blanks(text: &str, at: usize) -> usize {
    at + text[at..].len() - text[at..].trim_start_matches(is_blank).len()
}

fn key_end(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at..];
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    Some(at + len)
}

/// Reads `[export ]KEY=value` or a bare `[export ]KEY [# comment]` starting at a line start;
/// `None` for any other line, which is kept as it is.
fn definition(text: &str, start: usize) -> Result<Option<Definition>, FormatError> {
    let line_end = content_end(text, start);
    let mut at = skip_blanks(text, start);

    // `export` is a prefix only when blanks and a key follow it; otherwise it is the key.
    let mut key_range = None;
    if text[at..line_end].starts_with("export") {
        let after = skip_blanks(text, at + "export".len());
        if after > at + "export".len() {
            key_range = key_end(text, after).map(|end| after..end);
        }
    }
    let exported = key_range.is_some();
    let Some(key) = key_range.or_else(|| key_end(text, at).map(|end| at..end)) else {
        return Ok(None);
    };
    at = skip_blanks(text, key.end);
    let rest = &text[at..line_end];
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(Some(Definition {
            key: text[key.clone()].to_owned(),
            export: exported,
            replace: key.end..line_end,
            value: None,
            next: next_line(text, start),
        }));
    }
    if !rest.starts_with('=') {
        return Ok(None);
    }
    let after_equals = at + 1;
    let value_start = skip_blanks(text, after_equals);

    let (value, last_line_start) = match text[value_start..].chars().next() {
        Some(quote @ ('\'' | '"')) => {
            let close = closing_quote(text, value_start, quote).ok_or_else(|| {
                let (line, column) = line_col(text, value_start);
                FormatError::Parse {
                    format: FORMAT,
                    line: Some(line),
                    column: Some(column),
                    message: "quoted value is never closed".to_owned(),
                }
            })?;
            let last_line_start = text[..close].rfind('\n').map_or(start, |index| index + 1);
            (value_start..close + 1, last_line_start.max(start))
        }
        _ => (unquoted(text, after_equals, value_start, line_end), start),
    };
    Ok(Some(Definition {
        key: text[key].to_owned(),
        export: exported,
        // A new value replaces everything after `=` on the line; the comment is put back.
        replace: after_equals..content_end(text, last_line_start),
        value: Some(value),
        next: next_line(text, last_line_start),
    }))
}

/// An unquoted value ends at a blank followed by `#`, with trailing blanks trimmed; `KEY= #x`
/// is an empty value with a comment, `KEY=#x` the value `#x` (python-dotenv's reading).
fn unquoted(text: &str, after_equals: usize, value_start: usize, end: usize) -> Range<usize> {
    if value_start > after_equals && text[value_start..end].starts_with('#') {
        return value_start..value_start;
    }
    let raw = &text[value_start..end];
    let bytes = raw.as_bytes();
    let cut = (1..bytes.len())
        .find(|&i| bytes[i] == b'#' && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t'))
        .unwrap_or(bytes.len());
    let kept = raw[..cut].trim_end_matches(char::is_whitespace);
    value_start..value_start + kept.len()
}

/// Offset of the quote closing a value that opens at `open`; a backslash escapes the next
/// character only inside double quotes.
fn closing_quote(text: &str, open: usize, quote: char) -> Option<usize> {
    let mut chars = text[open + 1..].char_indices();
    while let Some((index, c)) = chars.next() {
        if c == quote {
            return Some(open + 1 + index);
        }
        if c == '\\' && quote == '"' {
            chars.next();
        }
    }
    None
}

/// The blanks and `# comment` after a value on its last line, if that is what follows it.
fn comment_after(text: &str, value: &Range<usize>, content_end: usize) -> Option<Range<usize>> {
    let rest = &text[value.end..content_end];
    let trimmed = rest.trim_start_matches(is_blank);
    let blanks = rest.len() - trimmed.len();
    (trimmed.starts_with('#') && (blanks > 0 || value.is_empty())).then_some(value.end..content_end)
}

/// Whether readers expand a variable in this raw value text, so that what an application
/// reads is not the text: `${NAME}` in any quotes (python-dotenv), any `$` unquoted or in
/// double quotes (dotenvy and compose). SecretZero does not expand variables, so such a value
/// is never read as the secret's.
fn expands(raw: &str) -> bool {
    if python_expands(&decode(raw)) {
        return true;
    }
    // Outside single quotes dotenvy substitutes at every `$` (`$1word` reads as empty plus
    // `word`, a lone `$` too), and this module never writes a `$` there.
    !raw.starts_with('\'') && raw.contains('$')
}

/// The value a raw value text stands for, read as dotenvy and compose read it, without
/// expanding variables. (python-dotenv also decodes `\\` and `\'` inside single quotes; values
/// this module writes never hold those there.)
fn decode(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')) {
        return inner.to_owned();
    }
    let Some(inner) = raw.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(escaped @ ('\\' | '"' | '\'' | '$')) => out.push(escaped),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn is_unquoted_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:@+=-".contains(c)
}

/// The value as written after `KEY=`, or the reason (naming characters) no quoting works.
pub(super) fn encode(value: &str) -> Result<String, String> {
    if value.chars().all(is_unquoted_safe) {
        return Ok(value.to_owned());
    }
    let controls = control_characters(value);
    if !controls.is_empty() {
        let (noun, pronoun) = if controls.len() == 1 { ("", "it") } else { ("s", "them") };
        return Err(format!(
            "control character{noun} {}: dotenvy has no escape for {pronoun}, and raw control \
             characters are not written",
            controls.join(", ")
        ));
    }
    if python_expands(value) {
        return Err("`${...}` is expanded by python-dotenv inside any quotes".to_owned());
    }
    if value.ends_with('\\') {
        return Err("a trailing \\: python-dotenv takes a backslash before the closing quote \
                    for an escaped quote and reads on past the value, and dotenvy drops it \
                    from an unquoted value"
            .to_owned());
    }

    // Each reason single quotes cannot be used, to name them if double quotes fail too.
    let mut blockers = Vec::new();
    if value.contains('\'') {
        blockers.push("'");
    }
    if value.contains('\n') {
        blockers.push("newline");
    }
    if value.contains("\\\\") {
        blockers.push("\\\\");
    }
    if blockers.is_empty() {
        return Ok(format!("'{value}'"));
    }
    if !value.contains('$') {
        return Ok(double_quoted(value));
    }
    Err(format!(
        "{} and $ (single quotes cannot carry {}; readers expand $ inside double quotes)",
        blockers.join(", "),
        blockers.join(" or ")
    ))
}

/// The control characters of a value other than tab and newline, as `U+0007`, each once.
fn control_characters(value: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for c in value.chars().filter(|&c| c.is_control() && c != '\n' && c != '\t') {
        let name = format!("U+{:04X}", u32::from(c));
        if !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

/// Whether python-dotenv's interpolation (on by default, and blind to quoting) rewrites part
/// of the value: it replaces each match of `\$\{[^}:]*(:-[^}]*)?\}`.
fn python_expands(value: &str) -> bool {
    let mut from = 0;
    while let Some(found) = value[from..].find("${") {
        let after = &value[from + found + 2..];
        let rest = &after[after.find(['}', ':']).unwrap_or(after.len())..];
        if rest.starts_with('}') || rest.strip_prefix(":-").is_some_and(|d| d.contains('}')) {
            return true;
        }
        from += found + 1;
    }
    false
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{Document, Format, Stored, Value};
    use secrecy::{ExposeSecret, SecretString};

    fn render_with(existing: &[u8], sets: &[(&str, &str)]) -> Vec<u8> {
        let mut doc = Document::parse(Format::Dotenv, existing).unwrap();
        for (key, value) in sets {
            let secret = SecretString::from(*value);
            doc.set(key, &Value::Str(&secret)).unwrap();
        }
        doc.render()
    }

    fn rendered(existing: &str, sets: &[(&str, &str)]) -> String {
        String::from_utf8(render_with(existing.as_bytes(), sets)).unwrap()
    }

    fn get(doc: &Document, key: &str) -> Option<String> {
        match doc.get(key) {
            Some(Stored::Str(secret)) => Some(secret.expose_secret().to_owned()),
            Some(other) => panic!("unexpected {other:?}"),
            None => None,
        }
    }

    fn cannot_carry(value: &str) -> String {
        let mut doc = Document::parse(Format::Dotenv, b"").unwrap();
        let secret = SecretString::from(value);
        match doc.set("KEY", &Value::Str(&secret)) {
            Err(super::FormatError::CannotCarry { reason, .. }) => reason,
            other => panic!("expected CannotCarry, got {other:?}"),
        }
    }

    #[test]
    fn case_1_hash_space_and_empty_values() {
        let out = rendered("", &[("DB_PASSWORD", "s3cr#t pa55"), ("EMPTY_ONE", "")]);
        assert_eq!(out, "DB_PASSWORD='s3cr#t pa55'\nEMPTY_ONE=\n");
        let out = rendered("", &[("URL", "https://u@h.example/p_a-t.h+x=1:2")]);
        assert_eq!(out, "URL=https://u@h.example/p_a-t.h+x=1:2\n");
    }

    #[test]
    fn case_2_dollar_is_single_quoted() {
        assert_eq!(rendered("", &[("DB_PASSWORD", "pa$word1")]), "DB_PASSWORD='pa$word1'\n");
    }

    #[test]
    fn case_3_quotes_inside_values() {
        assert_eq!(rendered("", &[("GREETING", "it's-s3cret")]), "GREETING=\"it's-s3cret\"\n");
        assert_eq!(rendered("", &[("QUOTED", "a\"b")]), "QUOTED='a\"b'\n");
    }

    #[test]
    fn case_4_multi_line_value_is_one_physical_line() {
        let pem = "-----BEGIN KEY-----\nMIIB+/x==\n-----END KEY-----\n";
        let out = rendered("", &[("PEM", pem)]);
        assert_eq!(out, "PEM=\"-----BEGIN KEY-----\\nMIIB+/x==\\n-----END KEY-----\\n\"\n");
        let doc = Document::parse(Format::Dotenv, out.as_bytes()).unwrap();
        assert_eq!(get(&doc, "PEM").as_deref(), Some(pem));
        assert_eq!(dotenvy_read(&out, "PEM").as_deref(), Some(pem));
    }

    #[test]
    fn case_5_merge_keeps_bom_crlf_export_and_comments() {
        let existing = b"\xEF\xBB\xBF# hand edited\r\nexport DB_PASSWORD=old\r\nOTHER=1\r\n";
        let doc = Document::parse(Format::Dotenv, existing).unwrap();
        assert_eq!(get(&doc, "DB_PASSWORD").as_deref(), Some("old"));
        let out = render_with(existing, &[("DB_PASSWORD", "n3w-value")]);
        assert_eq!(
            out,
            b"\xEF\xBB\xBF# hand edited\r\nexport DB_PASSWORD=n3w-value\r\nOTHER=1\r\n"
        );
    }

    #[test]
    fn crlf_file_gets_crlf_for_appended_keys() {
        let out = rendered("A=1\r\n", &[("B", "x y")]);
        assert_eq!(out, "A=1\r\nB='x y'\r\n");
    }

    #[test]
    fn new_keys_follow_an_all_export_file() {
        assert_eq!(rendered("export A=1\n", &[("B", "2")]), "export A=1\nexport B=2\n");
        assert_eq!(rendered("export A=1\nC=3\n", &[("B", "2")]), "export A=1\nC=3\nB=2\n");
    }

    #[test]
    fn duplicates_replace_the_first_and_drop_the_rest() {
        let existing = "A=1\nDUP=old\n# keep\nDUP=older\nB=2\nDUP='oldest'";
        let doc = Document::parse(Format::Dotenv, existing.as_bytes()).unwrap();
        assert!(matches!(doc.get("DUP"), Some(Stored::Other("conflicting duplicates"))));
        let out = rendered(existing, &[("DUP", "new")]);
        assert_eq!(out, "A=1\nDUP=new\n# keep\nB=2\n");
    }

    #[test]
    fn missing_final_newline_stays_missing() {
        assert_eq!(rendered("A=1", &[("A", "2")]), "A=2");
        assert_eq!(rendered("A=1", &[("B", "2")]), "A=1\nB=2");
        assert_eq!(rendered("A=1\n", &[("B", "2")]), "A=1\nB=2\n");
    }

    #[test]
    fn inline_comments_survive_a_new_value() {
        let out = rendered(
            "A=old # rotated\nB='x'\t# tab\nC= # none\n",
            &[("A", "new"), ("B", "y z"), ("C", "")],
        );
        assert_eq!(out, "A=new # rotated\nB='y z' # tab\nC=\n");
    }

    #[test]
    fn reads_every_quoting_style() {
        let text = "A=plain value # c\nB='single \\n $x'\nC=\"dq \\\"q\\\" \\\\ \\n\"\n\
                    export D = spaced\nE=\nF= # only comment\nG=#hash\nH=\"multi\nline\"\n\
                    not an assignment\n";
        let doc = Document::parse(Format::Dotenv, text.as_bytes()).unwrap();
        assert_eq!(get(&doc, "A").as_deref(), Some("plain value"));
        assert_eq!(get(&doc, "B").as_deref(), Some("single \\n $x"));
        assert_eq!(get(&doc, "C").as_deref(), Some("dq \"q\" \\ \n"));
        assert_eq!(get(&doc, "D").as_deref(), Some("spaced"));
        assert_eq!(get(&doc, "E").as_deref(), Some(""));
        assert_eq!(get(&doc, "F").as_deref(), Some(""));
        assert_eq!(get(&doc, "G").as_deref(), Some("#hash"));
        assert_eq!(get(&doc, "H").as_deref(), Some("multi\nline"));
        assert_eq!(get(&doc, "not"), None);
        let out = rendered(text, &[("H", "one")]);
        assert!(out.ends_with("H=one\nnot an assignment\n"), "{out}");
    }

    #[test]
    fn compose_rules_catch_quoting_mistakes() {
        assert_eq!(compose_read("K=\"a$b\"\n", "K"), None);
        assert_eq!(compose_read("K='tail\\'\n", "K"), None);
        assert_eq!(compose_read("K=\"a\\\\b\\n\"\n", "K").as_deref(), Some("a\\b\n"));
        assert_eq!(compose_read("export K='x y' # c\r\n", "K").as_deref(), Some("x y"));
    }

    #[test]
    fn export_alone_is_a_key() {
        let doc = Document::parse(Format::Dotenv, b"export=1\n").unwrap();
        assert_eq!(get(&doc, "export").as_deref(), Some("1"));
    }

    #[test]
    fn unterminated_quote_is_a_parse_error_without_the_value() {
        let err = Document::parse(Format::Dotenv, b"A=1\nB='s3cret\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, super::FormatError::Parse { line: Some(2), .. }), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn refusals_name_characters_not_values() {
        assert_eq!(
            cannot_carry("it's $ecret"),
            "' and $ (single quotes cannot carry '; readers expand $ inside double quotes)"
        );
        assert!(cannot_carry("a\nb$c").starts_with("newline and $"));
        assert!(cannot_carry("a\\\\b$").starts_with("\\\\ and $"));
        assert!(cannot_carry("${HOME}").contains("${...}"));
        assert_eq!(
            cannot_carry("bell\u{7}"),
            "control character U+0007: dotenvy has no escape for it, and raw control characters \
             are not written"
        );
        assert!(
            cannot_carry("\r\u{1b}[0m\r\u{85}")
                .starts_with("control characters U+000D, U+001B, U+0085: ")
        );
        let err = {
            let mut doc = Document::parse(Format::Dotenv, b"").unwrap();
            let secret = SecretString::from("it's $ecret");
            doc.set("KEY", &Value::Str(&secret)).unwrap_err()
        };
        assert!(!format!("{err} {err:?}").contains("ecret"));
    }

    #[test]
    fn backslashes_choose_the_quoting_every_reader_agrees_on() {
        assert_eq!(rendered("", &[("K", "a\\b c")]), "K='a\\b c'\n");
        assert_eq!(rendered("", &[("K", "a\\\\b")]), "K=\"a\\\\\\\\b\"\n");
        // A backslash before a quote that is not the closing one is fine in either quoting.
        assert_eq!(rendered("", &[("K", "CANARY\\'")]), "K=\"CANARY\\\\'\"\n");
        assert_eq!(rendered("", &[("K", "\\'x")]), "K=\"\\\\'x\"\n");
        assert_eq!(rendered("", &[("K", "a\\\"")]), "K='a\\\"'\n");
    }

    /// python-dotenv 1.1 and 1.2 read `A="CANARY\\"` alone fine, but with a later `"` in the
    /// file their pattern runs on to it and the file loses its statements.
    #[test]
    fn trailing_backslash_is_refused_for_python_dotenv() {
        let overrun = "A=\"CANARY\\\\\"\nB=\"x\"\n";
        assert_eq!(python_dotenv_read("A=\"CANARY\\\\\"\n", "A").as_deref(), Some("CANARY\\"));
        assert_eq!(python_dotenv_read(overrun, "A"), None);
        assert_eq!(python_dotenv_read("A='x\\\\'\nB='y'\n", "A"), None);
        assert_eq!(dotenvy_read(overrun, "A").as_deref(), Some("CANARY\\"));

        for value in ["\\", "CANARY\\", "a\\\\", "it's \\", "\\'\\", "x\ny\\"] {
            assert_eq!(
                cannot_carry(value),
                "a trailing \\: python-dotenv takes a backslash before the closing quote for an \
                 escaped quote and reads on past the value, and dotenvy drops it from an \
                 unquoted value",
                "{value:?}"
            );
        }
    }

    #[test]
    fn only_what_python_dotenv_expands_is_refused() {
        assert_eq!(
            rendered("", &[("A", "${a:b}"), ("B", "${"), ("C", "${x:-y"), ("D", "$x}")]),
            "A='${a:b}'\nB='${'\nC='${x:-y'\nD='$x}'\n"
        );
        for value in ["${x}", "${x:-y}", "$${x}", "${a${b}", "${:-}", "a${}b"] {
            assert!(cannot_carry(value).contains("${...}"), "{value:?}");
        }
    }

    #[test]
    fn a_bare_key_is_defined_in_place() {
        let existing = "# keys\nAPI_KEY\nOTHER=1\n";
        let doc = Document::parse(Format::Dotenv, existing.as_bytes()).unwrap();
        assert_eq!(doc.get("API_KEY").map(|_| ()), None);
        assert_eq!(python_dotenv_bindings(existing).unwrap()[0], ("API_KEY".to_owned(), None));
        assert_eq!(
            rendered(existing, &[("API_KEY", "s3cr#t")]),
            "# keys\nAPI_KEY='s3cr#t'\nOTHER=1\n"
        );

        let out = rendered(
            "export API_KEY # note\r\nTAB\t# note\r\nHASH#note\r\nEMPTY # gone\r\nexport\r\n",
            &[("API_KEY", "v"), ("TAB", "v"), ("HASH", "v"), ("EMPTY", ""), ("export", "v")],
        );
        assert_eq!(
            out,
            "export API_KEY=v # note\r\nTAB=v # note\r\nHASH=v #note\r\nEMPTY=\r\nexport=v\r\n"
        );
        assert_eq!(dotenvy_read(&out, "HASH").as_deref(), Some("v"));
        assert_eq!(python_dotenv_read(&out, "TAB").as_deref(), Some("v"));
        assert_eq!(compose_read(&out, "API_KEY").as_deref(), Some("v"));
    }

    #[test]
    fn a_bare_key_next_to_a_value_is_a_conflict_until_set() {
        let existing = "API_KEY=old\nAPI_KEY\nB=2\n";
        let doc = Document::parse(Format::Dotenv, existing.as_bytes()).unwrap();
        assert!(matches!(doc.get("API_KEY"), Some(Stored::Other("conflicting duplicates"))));
        let bare_first = Document::parse(Format::Dotenv, b"API_KEY\nAPI_KEY=old\n").unwrap();
        assert!(matches!(bare_first.get("API_KEY"), Some(Stored::Other(_))));

        assert_eq!(rendered(existing, &[("API_KEY", "new")]), "API_KEY=new\nB=2\n");
        assert_eq!(rendered("API_KEY\nAPI_KEY=old\n", &[("API_KEY", "new")]), "API_KEY=new\n");
        // Other lines that are not definitions stay as they were.
        assert_eq!(rendered("API_KEY value\n", &[("API_KEY", "v")]), "API_KEY value\nAPI_KEY=v\n");
    }

    #[test]
    fn invalid_keys_and_maps_are_refused() {
        let mut doc = Document::parse(Format::Dotenv, b"").unwrap();
        let secret = SecretString::from("x");
        let err = doc.set("1BAD", &Value::Str(&secret)).unwrap_err();
        assert!(matches!(err, super::FormatError::InvalidKey { .. }));
        let err = doc.set("GOOD", &Value::Map(vec![("f", &secret)])).unwrap_err();
        assert!(matches!(err, super::FormatError::CannotCarry { .. }));
    }

    /// docker compose's `env_file` reading (compose-go's dotenv parser), for the one-line
    /// `KEY=value` files this module writes. A `$` left where compose expands variables counts
    /// as a misread.
    pub(in super::super) fn compose_read(text: &str, key: &str) -> Option<String> {
        let mut found = None;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").map_or(line, str::trim_start);
            let (name, rest) = line.split_once('=')?;
            let rest = rest.trim_start();
            let value = match rest.chars().next() {
                Some(quote @ ('\'' | '"')) => {
                    let (raw, _) = compose_quoted(&rest[1..], quote)?;
                    if quote == '"' {
                        let value = compose_escapes(&raw);
                        if value.contains('$') {
                            return None;
                        }
                        value
                    } else {
                        raw
                    }
                }
                _ => {
                    let value = rest.split(" #").next().unwrap_or("").trim_end();
                    if value.contains('$') {
                        return None;
                    }
                    value.to_owned()
                }
            };
            if name.trim_end() == key {
                found = Some(value);
            }
        }
        found
    }

    /// compose-go's quoted-value scan: a backslash before the quote keeps the quote, before
    /// anything else it stays.
    fn compose_quoted(src: &str, quote: char) -> Option<(String, &str)> {
        let mut chars = Vec::new();
        let mut escaped = false;
        for (index, c) in src.char_indices() {
            if c != quote {
                if !escaped && c == '\\' {
                    escaped = true;
                    continue;
                }
                if escaped {
                    escaped = false;
                    chars.push('\\');
                }
                chars.push(c);
                continue;
            }
            if escaped {
                escaped = false;
                chars.push(c);
                continue;
            }
            return Some((chars.into_iter().collect(), &src[index + 1..]));
        }
        None
    }

    /// compose-go's `expandEscapes` for double quotes (octal escapes aside).
    fn compose_escapes(raw: &str) -> String {
        let mut out = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            let decoded = match (c, chars.peek()) {
                ('\\', Some('a')) => Some('\u{7}'),
                ('\\', Some('b')) => Some('\u{8}'),
                ('\\', Some('f')) => Some('\u{c}'),
                ('\\', Some('n')) => Some('\n'),
                ('\\', Some('r')) => Some('\r'),
                ('\\', Some('t')) => Some('\t'),
                ('\\', Some('v')) => Some('\u{b}'),
                ('\\', Some(&kept @ ('"' | '\\'))) => Some(kept),
                _ => None,
            };
            match decoded {
                Some(decoded) => {
                    chars.next();
                    out.push(decoded);
                }
                None => out.push(c),
            }
        }
        out
    }

    /// python-dotenv's reading (`dotenv_values`, parser.py of 1.2.2, unchanged since 1.1.1):
    /// each statement's key and value (`None` for a bare key), or the 1-based line of the
    /// first statement it cannot parse. Its regular expressions are followed step by step,
    /// including the backtracking of the quoted-value patterns. A value that interpolation
    /// would change reads as `Err(0)`.
    pub(in super::super) fn python_dotenv_bindings(
        text: &str,
    ) -> Result<Vec<(String, Option<String>)>, usize> {
        // Python opens the file with universal newlines.
        let text: Vec<char> = text.replace("\r\n", "\n").replace('\r', "\n").chars().collect();
        let space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
        let blank = |c: char| space(c) && c != '\n';
        let mut bindings = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let start = at;
            while at < text.len() && space(text[at]) {
                at += 1;
            }
            if at == text.len() {
                break;
            }
            let line = 1 + text[..start].iter().filter(|&&c| c == '\n').count();
            let line = line + text[start..at].iter().filter(|&&c| c == '\n').count();
            let statement = python_statement(&text, &mut at, blank);
            match statement {
                Some(Some(binding)) => bindings.push(binding),
                Some(None) => {}
                None => return Err(line),
            }
        }
        for (_, value) in &bindings {
            if value.as_deref().is_some_and(super::python_expands) {
                return Err(0);
            }
        }
        Ok(bindings)
    }

    /// One statement from `at`, past its line end: `None` when it does not parse,
    /// `Some(None)` for a comment.
    fn python_statement(
        text: &[char],
        at: &mut usize,
        blank: impl Fn(char) -> bool,
    ) -> Option<Option<(String, Option<String>)>> {
        let rest: String = text[*at..].iter().collect();
        if rest.starts_with("export") && rest[6..].starts_with(|c: char| blank(c)) {
            *at += 6;
            while blank(text[*at]) {
                *at += 1;
            }
        }
        let key = match text.get(*at) {
            Some('#') => None,
            Some('\'') => {
                let close = text[*at + 1..].iter().position(|&c| c == '\'')?;
                if close == 0 {
                    return None;
                }
                let key = text[*at + 1..*at + 1 + close].iter().collect::<String>();
                *at += close + 2;
                Some(key)
            }
            _ => {
                let len = text[*at..]
                    .iter()
                    .position(|&c| c == '=' || c == '#' || c.is_whitespace())
                    .unwrap_or(text.len() - *at);
                if len == 0 {
                    return None;
                }
                let key = text[*at..*at + len].iter().collect::<String>();
                *at += len;
                Some(key)
            }
        };
        while *at < text.len() && blank(text[*at]) {
            *at += 1;
        }
        let mut value = None;
        if text.get(*at) == Some(&'=') {
            *at += 1;
            while *at < text.len() && blank(text[*at]) {
                *at += 1;
            }
            value = Some(match text.get(*at) {
                Some(&quote @ ('\'' | '"')) => {
                    let end = python_quoted_end(text, *at + 1, quote)?;
                    let raw: String = text[*at + 1..end].iter().collect();
                    *at = end + 1;
                    python_unescape(&raw, quote)
                }
                None | Some('\n') => String::new(),
                Some(_) => {
                    let end =
                        text[*at..].iter().position(|&c| c == '\n').map_or(text.len(), |i| *at + i);
                    let raw: String = text[*at..end].iter().collect();
                    *at = end;
                    let chars: Vec<char> = raw.chars().collect();
                    let cut = (1..chars.len())
                        .find(|&i| chars[i] == '#' && chars[i - 1].is_whitespace())
                        .map_or(chars.len(), |i| {
                            let mut j = i - 1;
                            while j > 0 && chars[j - 1].is_whitespace() {
                                j -= 1;
                            }
                            j
                        });
                    chars[..cut].iter().collect::<String>().trim_end().to_owned()
                }
            });
        }
        // `_comment` then `_end_of_line`.
        let mut probe = *at;
        while probe < text.len() && blank(text[probe]) {
            probe += 1;
        }
        if text.get(probe) == Some(&'#') {
            *at = text[probe..].iter().position(|&c| c == '\n').map_or(text.len(), |i| probe + i);
        }
        while *at < text.len() && blank(text[*at]) {
            *at += 1;
        }
        match text.get(*at) {
            None => {}
            Some('\n') => *at += 1,
            Some(_) => return None,
        }
        Some(key.map(|key| (key, value)))
    }

    /// Where `"((?:\\"|[^"])*)"` (or the same with `'`) closes when its content starts at
    /// `from`: the greedy path pairs a backslash with the quote after it; without an unpaired
    /// quote before the end, backtracking closes at the last paired one.
    fn python_quoted_end(text: &[char], from: usize, quote: char) -> Option<usize> {
        let mut at = from;
        let mut last_paired = None;
        while at < text.len() {
            if text[at] == '\\' && text.get(at + 1) == Some(&quote) {
                last_paired = Some(at + 1);
                at += 2;
            } else if text[at] == quote {
                return Some(at);
            } else {
                at += 1;
            }
        }
        last_paired
    }

    /// `decode_escapes`: `\\[\\']` inside single quotes, `\\[\\'"abfnrtv]` inside double quotes.
    fn python_unescape(raw: &str, quote: char) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            let decoded = match (c, chars.peek(), quote) {
                ('\\', Some(&next @ ('\\' | '\'')), _) => Some(next),
                ('\\', Some('"'), '"') => Some('"'),
                ('\\', Some(&next @ ('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v')), '"') => {
                    Some(match next {
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        _ => '\u{b}',
                    })
                }
                _ => None,
            };
            match decoded {
                Some(decoded) => {
                    chars.next();
                    out.push(decoded);
                }
                None => out.push(c),
            }
        }
        out
    }

    /// What python-dotenv gives for `key` (the last definition wins), `None` when it misreads
    /// any statement of the file or has no value for the key.
    pub(in super::super) fn python_dotenv_read(text: &str, key: &str) -> Option<String> {
        let bindings = python_dotenv_bindings(text).ok()?;
        bindings.into_iter().rev().find(|(found, _)| found == key)?.1
    }

    pub(in super::super) fn dotenvy_read(text: &str, key: &str) -> Option<String> {
        dotenvy::from_read_iter(text.as_bytes())
            .map(|item| item.expect("dotenvy parses the rendered file"))
            .find(|(found, _)| found == key)
            .map(|(_, value)| value)
    }
}
