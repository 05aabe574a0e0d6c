//! Three-way merge of lockfiles, entry by entry: what `secretzero lockfile merge` (the git merge
//! driver) and the commit-back's rebase rely on.
//!
//! Two branches that changed different secrets touch different entries, which a line-based
//! merge may still see as one conflict (neighbouring lines, a shared closing brace). Here each
//! secret's entry is one unit: a side that left an entry as the base had it takes the other
//! side's, and only an entry that both sides changed differently is a conflict.

use std::collections::BTreeSet;

use super::Lockfile;

/// The result of merging two lockfiles with their common ancestor.
#[derive(Debug)]
pub struct Merged {
    /// The merged lockfile; for a conflicting secret it holds our side's entry.
    pub ours: Lockfile,
    /// The same, but with their side's entry for each conflicting secret.
    pub theirs: Lockfile,
    /// Secrets that both sides changed, each differently, in name order.
    pub conflicts: Vec<String>,
}

impl Merged {
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// Why two lockfiles cannot be merged entry by entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    /// Each side made its own lockfile (different salts or keys): their hashes cannot be mixed.
    #[error("the two lockfiles were created separately (their `hash` settings differ)")]
    Unrelated,
}

impl MergeError {
    pub fn hint(&self) -> &'static str {
        match self {
            MergeError::Unrelated => {
                "keep one side's whole file, then run `secretzero sync`: it adopts the other \
                 side's secrets from the values their targets hold, without regenerating them"
            }
        }
    }
}

/// Merges `ours` and `theirs`, which both descend from `base` (`None` when the file did not
/// exist there).
pub fn merge(
    base: Option<&Lockfile>,
    ours: &Lockfile,
    theirs: &Lockfile,
) -> Result<Merged, MergeError> {
    if ours.params != theirs.params {
        return Err(MergeError::Unrelated);
    }
    // A base with other hash settings shares no entry with either side, which makes every
    // secret both sides hold a conflict unless they agree: the safe reading.
    let base_secrets = base.map(|base| &base.secrets);

    let names: BTreeSet<&String> = ours.secrets.keys().chain(theirs.secrets.keys()).collect();
    let mut merged_ours = ours.clone();
    let mut merged_theirs = ours.clone();
    let mut conflicts = Vec::new();
    for name in names {
        let base_entry = base_secrets.and_then(|secrets| secrets.get(name));
        let our_entry = ours.secrets.get(name);
        let their_entry = theirs.secrets.get(name);
        let take = if our_entry == their_entry || their_entry == base_entry {
            our_entry
        } else if our_entry == base_entry {
            their_entry
        } else {
            conflicts.push(name.clone());
            set(&mut merged_theirs, name, their_entry);
            continue;
        };
        set(&mut merged_ours, name, take);
        set(&mut merged_theirs, name, take);
    }
    Ok(Merged { ours: merged_ours, theirs: merged_theirs, conflicts })
}

fn set(lockfile: &mut Lockfile, name: &str, entry: Option<&super::SecretEntry>) {
    match entry {
        Some(entry) => lockfile.secrets.insert(name.to_string(), entry.clone()),
        None => lockfile.secrets.remove(name),
    };
}

/// `ours` and `theirs` as one text with git's conflict markers around every run of lines
/// where they differ, so that the file cannot be used, or loaded by SecretZero, until someone
/// resolves it.
pub fn with_conflict_markers(ours: &str, theirs: &str, marker_size: usize) -> String {
    let diff = similar::TextDiff::from_lines(ours, theirs);
    let (open, middle, close) =
        ("<".repeat(marker_size), "=".repeat(marker_size), ">".repeat(marker_size));
    let mut out = String::with_capacity(ours.len() + theirs.len());
    let mut ours_part = String::new();
    let mut theirs_part = String::new();
    let flush = |out: &mut String, ours_part: &mut String, theirs_part: &mut String| {
        if ours_part.is_empty() && theirs_part.is_empty() {
            return;
        }
        out.push_str(&format!("{open} ours\n{ours_part}{middle}\n{theirs_part}{close} theirs\n"));
        ours_part.clear();
        theirs_part.clear();
    };
    for change in diff.iter_all_changes() {
        let line = change.value();
        let line = match line.ends_with('\n') {
            true => line.to_string(),
            false => format!("{line}\n"),
        };
        match change.tag() {
            similar::ChangeTag::Equal => {
                flush(&mut out, &mut ours_part, &mut theirs_part);
                out.push_str(&line);
            }
            similar::ChangeTag::Delete => ours_part.push_str(&line),
            similar::ChangeTag::Insert => theirs_part.push_str(&line),
        }
    }
    flush(&mut out, &mut ours_part, &mut theirs_part);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lockfile::{SecretEntry, TargetEntry};

    const KEY: Option<&[u8]> = None;

    fn entry(value_hash: &str, at: &str) -> SecretEntry {
        let at: jiff::Timestamp = at.parse().unwrap();
        let hash = format!("hmac-sha256:{}", value_hash.repeat(64));
        SecretEntry {
            definition: String::new(),
            definitions: Default::default(),
            created_at: at,
            updated_at: at,
            last_rotated: None,
            rotation_count: 0,
            one_time: false,
            fields: [("value".to_string(), hash.clone())].into(),
            targets: [(
                "local-file:.env#A".to_string(),
                TargetEntry { hash, updated_at: at, stamp: None, settings: None },
            )]
            .into(),
        }
    }

    fn with(base: &Lockfile, changes: &[(&str, Option<SecretEntry>)]) -> Lockfile {
        let mut lock = base.clone();
        for (name, entry) in changes {
            set(&mut lock, name, entry.as_ref());
        }
        lock
    }

    fn base() -> Lockfile {
        let empty = Lockfile::new_with_key(KEY);
        with(
            &empty,
            &[
                ("a", Some(entry("a", "2026-01-01T00:00:00Z"))),
                ("b", Some(entry("b", "2026-01-01T00:00:00Z"))),
                ("c", Some(entry("c", "2026-01-01T00:00:00Z"))),
            ],
        )
    }

    #[test]
    fn changes_to_different_secrets_all_survive() {
        let base = base();
        let ours = with(&base, &[("a", Some(entry("1", "2026-02-01T00:00:00Z"))), ("c", None)]);
        let theirs = with(
            &base,
            &[
                ("b", Some(entry("2", "2026-02-02T00:00:00Z"))),
                ("d", Some(entry("d", "2026-02-02T00:00:00Z"))),
            ],
        );
        let merged = merge(Some(&base), &ours, &theirs).unwrap();
        assert!(merged.is_clean());
        let expected = with(
            &base,
            &[
                ("a", Some(entry("1", "2026-02-01T00:00:00Z"))),
                ("b", Some(entry("2", "2026-02-02T00:00:00Z"))),
                ("c", None),
                ("d", Some(entry("d", "2026-02-02T00:00:00Z"))),
            ],
        );
        assert_eq!(merged.ours, expected);
        assert_eq!(merged.theirs, expected);
    }

    #[test]
    fn the_same_change_on_both_sides_is_no_conflict() {
        let base = base();
        let ours = with(&base, &[("a", Some(entry("1", "2026-02-01T00:00:00Z")))]);
        let merged = merge(Some(&base), &ours, &ours.clone()).unwrap();
        assert!(merged.is_clean());
        assert_eq!(merged.ours, ours);
    }

    #[test]
    fn different_changes_to_one_secret_are_a_conflict_naming_it() {
        let base = base();
        let ours = with(&base, &[("a", Some(entry("1", "2026-02-01T00:00:00Z"))), ("b", None)]);
        let theirs = with(
            &base,
            &[
                ("a", Some(entry("2", "2026-02-01T00:00:00Z"))),
                ("c", Some(entry("3", "2026-03-01T00:00:00Z"))),
            ],
        );
        let merged = merge(Some(&base), &ours, &theirs).unwrap();
        assert_eq!(merged.conflicts, ["a"]);
        assert_eq!(merged.ours.secrets["a"], ours.secrets["a"]);
        assert_eq!(merged.theirs.secrets["a"], theirs.secrets["a"]);
        for side in [&merged.ours, &merged.theirs] {
            assert!(!side.secrets.contains_key("b"), "b was removed on our side only");
            assert_eq!(side.secrets["c"], theirs.secrets["c"]);
        }
        // One side removing a secret the other changed is a conflict too.
        let removed = with(&base, &[("a", None)]);
        assert_eq!(merge(Some(&base), &removed, &theirs).unwrap().conflicts, ["a"]);
    }

    #[test]
    fn without_a_base_only_equal_entries_merge() {
        let ours = base();
        let theirs = with(&ours, &[("b", Some(entry("2", "2026-02-01T00:00:00Z")))]);
        let merged = merge(None, &ours, &theirs).unwrap();
        assert_eq!(merged.conflicts, ["b"]);
    }

    #[test]
    fn lockfiles_made_separately_do_not_merge() {
        let ours = base();
        let theirs =
            with(&Lockfile::new_with_key(KEY), &[("z", Some(entry("z", "2026-01-01T00:00:00Z")))]);
        assert_eq!(merge(None, &ours, &theirs).unwrap_err(), MergeError::Unrelated);
    }

    #[test]
    fn conflict_markers_wrap_each_difference_and_stop_the_loader() {
        let base = base();
        let ours = with(&base, &[("a", Some(entry("1", "2026-02-01T00:00:00Z")))]);
        let theirs = with(&base, &[("a", Some(entry("2", "2026-02-01T00:00:00Z")))]);
        let merged = merge(Some(&base), &ours, &theirs).unwrap();
        let text = with_conflict_markers(&merged.ours.render(), &merged.theirs.render(), 7);
        let hashes = |digit: &str| format!("hmac-sha256:{}", digit.repeat(64));
        let marked: Vec<&str> = text.lines().filter(|l| l.starts_with(['<', '=', '>'])).collect();
        assert_eq!(
            marked,
            [
                "<<<<<<< ours",
                "=======",
                ">>>>>>> theirs",
                "<<<<<<< ours",
                "=======",
                ">>>>>>> theirs"
            ]
        );
        assert!(text.contains(&hashes("1")) && text.contains(&hashes("2")));
        let error = Lockfile::parse(&text, Path::new(".gitsecrets.lock")).unwrap_err();
        assert!(matches!(error, crate::lockfile::LockfileError::ConflictMarkers { .. }), "{error}");
        assert_eq!(with_conflict_markers("same\n", "same\n", 7), "same\n");
    }
}
