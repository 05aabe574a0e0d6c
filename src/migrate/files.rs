//! Values as the older tool spelt them in local files. It wrapped dotenv values in double
//! quotes without escaping anything (its own reader, python-dotenv, read them back its own
//! way), and wrote YAML through PyYAML, which leaves strings such as `12345e67` or `0o17`
//! unquoted where YAML 1.2 readers see numbers. Where the current reader reads such a key as
//! something other than the value the older lockfile records, the recorded hash decides which
//! reading is the true value, and the key is requoted the way the current writer quotes, so
//! that the file, the new lockfile and every reader agree. A value is never changed: only how
//! it is quoted.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tracing::debug;

use super::{LocalProblem, Origin, Rewrite};
use crate::engine::Targets;
use crate::lockfile::{Hasher, LEGACY_VALUE_FIELD, Lockfile};
use crate::secretfile::{LocalFile, Secretfile, TargetKind};
use crate::target::format::{Document, Format, Stored};

/// A key the older lockfile records a bare SHA-256 for.
struct Recorded<'a> {
    secret: &'a str,
    key: &'a str,
    hash: String,
}

/// Where a key's value is spelt in the file, and the values its spelling may stand for.
struct Spelling {
    range: Range<usize>,
    readings: Vec<String>,
}

/// The requoted files (read from now on in place of the disk, for the lockfile's conversion),
/// and the keys whose true value is known but cannot be written exactly.
pub(super) fn requote(
    lock: &Lockfile,
    file: &Secretfile,
    origins: &HashMap<String, Origin>,
    targets: &mut Targets,
) -> (Vec<Rewrite>, Vec<LocalProblem>) {
    let mut by_file: BTreeMap<PathBuf, (&LocalFile, Vec<Recorded>)> = BTreeMap::new();
    for secret in file.secrets.values().filter(|s| s.is_single()) {
        let Some(hash) = origins
            .get(&secret.name)
            .and_then(|origin| origin.fields.first())
            .and_then(|(_, entry)| lock.secrets.get(entry))
            .and_then(|entry| {
                let recorded = entry.fields.get(LEGACY_VALUE_FIELD);
                recorded.or_else(|| entry.targets.values().next().map(|t| &t.hash)).cloned()
            })
            .filter(|hash| Hasher::is_legacy(hash))
        else {
            continue;
        };
        for target in &secret.targets {
            if let TargetKind::LocalFile(local) = &target.kind
                && matches!(local.format, Format::Dotenv | Format::Yaml)
            {
                let recorded =
                    Recorded { secret: &secret.name, key: &local.key, hash: hash.clone() };
                by_file
                    .entry(local.resolved.clone())
                    .or_insert((local, Vec::new()))
                    .1
                    .push(recorded);
            }
        }
    }

    let mut rewrites = Vec::new();
    let mut problems = Vec::new();
    for (local, keys) in by_file.into_values() {
        if let Some(rewrite) = requote_file(local, &keys, &mut problems)
            && targets.preload(local, rewrite.bytes.clone())
        {
            rewrites.push(rewrite);
        }
    }
    (rewrites, problems)
}

fn requote_file(
    local: &LocalFile,
    keys: &[Recorded],
    problems: &mut Vec<LocalProblem>,
) -> Option<Rewrite> {
    let bytes = std::fs::read(&local.resolved).ok()?;
    let text = String::from_utf8(bytes.clone()).ok()?;
    let current = Document::parse(local.format, &bytes).ok();

    // Per key whose current reading is not the recorded value: the reading that is.
    let mut edits: Vec<(Range<usize>, String, &Recorded, String)> = Vec::new();
    for recorded in keys {
        let reading = match current.as_ref().and_then(|doc| doc.get(recorded.key)) {
            Some(Stored::Str(value)) => Some(value.expose_secret().to_owned()),
            _ => None,
        };
        if reading.is_some_and(|value| sha256(&value) == recorded.hash) {
            continue;
        }
        let spelling = match local.format {
            Format::Dotenv => dotenv_spelling(&text, recorded.key),
            _ => yaml_spelling(&text, recorded.key),
        };
        // No reading the hash confirms: the lockfile's conversion reports the key.
        let Some((spelling, value)) = spelling.and_then(|spelling| {
            let value = spelling.readings.iter().find(|r| sha256(r) == recorded.hash)?.clone();
            Some((spelling, value))
        }) else {
            continue;
        };
        let quoted = match local.format {
            Format::Dotenv => Format::dotenv_value(&value),
            _ => Ok(format!("'{}'", value.replace('\'', "''"))),
        };
        match quoted {
            Ok(quoted) => edits.push((spelling.range, quoted, recorded, value)),
            Err(reason) => problems.push(LocalProblem {
                secret: recorded.secret.to_string(),
                path: local.path.clone(),
                reason: format!(
                    "key `{}` holds the recorded value, but it cannot be written so that every \
                     dotenv reader reads it back ({reason}); give the secret another target \
                     format, or rotate it",
                    recorded.key
                ),
            }),
        }
    }
    if edits.is_empty() {
        return None;
    }

    // Each key's spelling replaced, from the end so that earlier ranges stay valid.
    edits.sort_by_key(|(range, ..)| std::cmp::Reverse(range.start));
    let mut new_text = text.clone();
    for (range, quoted, ..) in &edits {
        new_text.replace_range(range.clone(), quoted);
    }

    // Kept only if the current reader now reads every requoted key as its true value.
    let document = Document::parse(local.format, new_text.as_bytes());
    let agrees =
        |recorded: &Recorded, value: &str| match document.as_ref().map(|d| d.get(recorded.key)) {
            Ok(Some(Stored::Str(read))) => read.expose_secret() == value,
            _ => false,
        };
    if !edits.iter().all(|(_, _, recorded, value)| agrees(recorded, value)) {
        debug!(path = %local.path, "requoting did not make the current reader agree; left alone");
        return None;
    }
    let mut keys: Vec<String> = edits.iter().map(|(_, _, r, _)| r.key.to_string()).collect();
    keys.reverse();
    debug!(path = %local.path, ?keys, "requoted in the current quoting");
    Some(Rewrite {
        path: local.path.clone(),
        resolved: local.resolved.clone(),
        bytes: new_text.into_bytes(),
        keys,
    })
}

fn sha256(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Lines as (start, end of content without the line break), `\r` before `\n` left out.
fn lines(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = (start, if text[start..end].ends_with('\r') { end - 1 } else { end });
        start = end + 1;
        Some(line)
    })
}

/// Where `key`'s value starts on a line `[export ]KEY=value`, if the line defines it.
fn dotenv_value_start(text: &str, (start, end): (usize, usize), key: &str) -> Option<usize> {
    let line = &text[start..end];
    let trimmed = line.trim_start_matches([' ', '\t']);
    let rest = match trimmed.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t']) => after.trim_start_matches([' ', '\t']),
        _ => trimmed,
    };
    let after_key = rest.strip_prefix(key)?.trim_start_matches([' ', '\t']);
    let value = after_key.strip_prefix('=')?.trim_start_matches([' ', '\t']);
    Some(end - value.len())
}

/// The one definition of `key` as the older tool wrote it, with its readings: for a value in
/// double quotes, the raw text between the outer quotes (the older tool wrote the value there
/// unescaped) and python-dotenv's reading; unquoted, python-dotenv's reading.
fn dotenv_spelling(text: &str, key: &str) -> Option<Spelling> {
    let all: Vec<(usize, usize)> = lines(text).collect();
    let mut found = all
        .iter()
        .enumerate()
        .filter_map(|(index, &line)| Some((index, dotenv_value_start(text, line, key)?)));
    let (index, value_start) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let line_end = all[index].1;

    if !text[value_start..].starts_with('"') {
        let raw = &text[value_start..line_end];
        let cut = raw.find([' ', '\t']).filter(|&i| raw[i..].trim_start().starts_with('#'));
        let value = raw[..cut.unwrap_or(raw.len())].trim_end();
        return Some(Spelling {
            range: value_start..value_start + value.len(),
            readings: vec![value.to_string()],
        });
    }

    // The closing quote is the last character of the first line, from this one on, that ends
    // in a quote after the opening one.
    let close = all[index..].iter().find_map(|&(start, end)| {
        let content = text[start.max(value_start + 1)..end].trim_end_matches([' ', '\t']);
        content.ends_with('"').then(|| start.max(value_start + 1) + content.len() - 1)
    })?;
    let mut readings = vec![text[value_start + 1..close].to_string()];
    if let Some(python) = python_double_quoted(&text[value_start + 1..]) {
        readings.push(python);
    }
    Some(Spelling { range: value_start..close + 1, readings })
}

/// python-dotenv's reading of a double-quoted value, from after its opening quote: the
/// pattern `"((?:\\"|[^"])*)"`, then the escapes `\\ \' \" \a \b \f \n \r \t \v` decoded.
/// `None` when no quote closes it, or when python-dotenv would expand a `${...}` in it.
fn python_double_quoted(rest: &str) -> Option<String> {
    let mut inner = String::new();
    let mut chars = rest.chars().peekable();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' if chars.peek() == Some(&'"') => {
                inner.push('\\');
                inner.push(chars.next()?);
            }
            c => inner.push(c),
        }
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        let decoded = match (c, chars.peek()) {
            ('\\', Some(&next)) => match next {
                '\\' | '\'' | '"' => Some(next),
                'a' => Some('\u{7}'),
                'b' => Some('\u{8}'),
                'f' => Some('\u{c}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'v' => Some('\u{b}'),
                _ => None,
            },
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
    (!out.contains("${")).then_some(out)
}

/// A top-level `key: value` whose value is a plain scalar on one line, as PyYAML writes a
/// string it leaves unquoted; its one reading is the text itself.
fn yaml_spelling(text: &str, key: &str) -> Option<Spelling> {
    let mut found = lines(text).filter_map(|(start, end)| {
        let rest = text[start..end].strip_prefix(key)?.strip_prefix(':')?;
        let value = rest.trim_start_matches([' ', '\t']);
        if value.len() == rest.len() && !value.is_empty() {
            return None;
        }
        let cut = value.find(" #").unwrap_or(value.len());
        let value = value[..cut].trim_end();
        let plain = !value.is_empty() && !value.starts_with(['\'', '"', '|', '>', '&', '*', '!']);
        let value_start =
            end - rest.len() + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
        plain.then_some((value_start, value.len()))
    });
    let (start, len) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let range = start..start + len;
    Some(Spelling { readings: vec![text[range.clone()].to_string()], range })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_dotenv_reads_an_unescaped_quote_as_the_end() {
        assert_eq!(python_double_quoted("a\"b\"\n").as_deref(), Some("a"));
        assert_eq!(python_double_quoted(r#"a\nb""#).as_deref(), Some("a\nb"));
        assert_eq!(python_double_quoted(r#"abc\""#), None);
        assert_eq!(python_double_quoted(r#"x${Y}""#), None);
    }

    #[test]
    fn the_older_spelling_gives_the_raw_text_and_python_dotenvs_reading() {
        let text = "a=1\ndq=\"a\"b\"\nbs=\"abc\\\"\nok=plain # note\n";
        let dq = dotenv_spelling(text, "dq").unwrap();
        assert_eq!((dq.range.clone(), dq.readings), (7..12, vec!["a\"b".into(), "a".into()]));
        let bs = dotenv_spelling(text, "bs").unwrap();
        assert_eq!(bs.readings, vec!["abc\\".to_string()]);
        assert_eq!(dotenv_spelling(text, "ok").unwrap().readings, vec!["plain".to_string()]);
        let yaml = "hx: 12345e67\noc: '0o17'\nn: 0o17 # c\n";
        assert_eq!(yaml_spelling(yaml, "hx").unwrap().range, 4..12);
        assert!(yaml_spelling(yaml, "oc").is_none());
        assert_eq!(yaml_spelling(yaml, "n").unwrap().readings, vec!["0o17".to_string()]);
    }
}
