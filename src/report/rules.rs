//! The rule catalogue: every rule id a check emits, with the texts that SARIF, the docs and the
//! summaries show. A test keeps it and the code in step: every id the code emits is here, and
//! every entry here is emitted somewhere.

use super::{Check, Severity};

/// What a rule checks, and how to fix what it finds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Stable: renaming one reopens every alert code scanning had closed.
    pub id: &'static str,
    pub check: Check,
    /// One line.
    pub short: &'static str,
    /// What the rule checks and why it matters.
    pub full: &'static str,
    /// How to fix what it finds.
    pub help: &'static str,
    pub severity: Severity,
    /// 0.0 to 10.0, as GitHub code scanning ranks security alerts (9.0 and above is critical,
    /// 7.0 high, 4.0 medium, below that low). Rules at 4.0 or above are tagged `security`.
    pub security_severity: f32,
}

impl Rule {
    /// Whether code scanning should list the rule's results as security alerts.
    pub fn is_security(&self) -> bool {
        self.security_severity >= 4.0
    }
}

/// The catalogue entry for `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// One constructor per check, so each entry below reads as the check it belongs to.
macro_rules! constructor {
    ($name:ident, $check:expr) => {
        const fn $name(
            id: &'static str,
            severity: Severity,
            security_severity: f32,
            short: &'static str,
            full: &'static str,
            help: &'static str,
        ) -> Rule {
            Rule { id, check: $check, short, full, help, severity, security_severity }
        }
    };
}

constructor!(validate, Check::Validate);
constructor!(policy, Check::Policy);
constructor!(drift, Check::Drift);
constructor!(rotation, Check::Rotation);

use Severity::{Error, Warning};

/// Sorted by id.
pub const RULES: &[Rule] = &[
    policy(
        "custom/access",
        Error,
        5.0,
        "A secret is written to a target type a custom policy does not allow",
        "An access policy under `policies:` lists the target types its secrets may or may not be \
         written to, optionally only in environments whose `var.environment` matches its \
         patterns.",
        "Remove the target, or write the secret to a target type the policy allows.",
    ),
    policy(
        "custom/generator",
        Error,
        5.0,
        "A generator does not meet a custom policy",
        "A generator policy under `policies:` sets a minimum length and the character classes \
         every value of a random generator must contain; only random-password guarantees its \
         classes.",
        "Raise `length`, or use random-password with the required classes on.",
    ),
    policy(
        "custom/rotation",
        Error,
        5.0,
        "A secret does not rotate as a custom policy requires",
        "A rotation policy under `policies:` requires a rotation period, no longer than its \
         `max_age`, for the secrets it selects.",
        "Add or shorten the secret's `rotation_period`.",
    ),
    drift(
        "drift/definition-changed",
        Warning,
        3.0,
        "A generator changed since the last sync",
        "The lockfile records a hash of each field's generator; the Secretfile now defines \
         another, so the value in the targets may not fit it.",
        "Run `secretzero sync` for the secret to make a value that fits the new generator.",
    ),
    drift(
        "drift/not-synced",
        Warning,
        3.0,
        "A secret has never been synced",
        "The Secretfile declares the secret but the lockfile has no entry for it, so no target \
         holds a value that SecretZero made.",
        "Run `secretzero sync` and commit the lockfile.",
    ),
    drift(
        "drift/removed",
        Warning,
        4.0,
        "The lockfile records a secret the Secretfile no longer declares",
        "A secret was removed from the Secretfile, but its targets may still hold the value.",
        "Remove the value from its targets, then run `secretzero sync` to drop the entry.",
    ),
    drift(
        "drift/stale-target",
        Error,
        6.0,
        "A target still holds an older value",
        "The target holds what the lockfile recorded as last written there, but the secret's \
         current value is another: the last write to the target failed.",
        "Run `secretzero sync` for the secret to write the current value.",
    ),
    drift(
        "drift/target-broken",
        Error,
        5.0,
        "A target cannot be checked",
        "The target exists but cannot be read as its format says (a file that does not parse, a \
         key of another shape), so SecretZero will not write it either.",
        "Repair or remove the file, then run `secretzero sync`.",
    ),
    drift(
        "drift/target-missing",
        Error,
        6.0,
        "A target or key is gone",
        "The lockfile records the value as written to the target, but the file, the key or some \
         fields are no longer there.",
        "Run `secretzero sync` for the secret to write it again.",
    ),
    drift(
        "drift/target-not-synced",
        Warning,
        3.0,
        "A target has never been written",
        "The Secretfile lists the target, but the lockfile does not record a write to it.",
        "Run `secretzero sync` for the secret.",
    ),
    drift(
        "drift/target-removed",
        Warning,
        4.0,
        "The lockfile records a target the Secretfile no longer lists",
        "The secret was written to a target that is no longer in its definition; the value may \
         still be there.",
        "Remove the value from that target if nothing reads it there any more.",
    ),
    drift(
        "drift/unreadable",
        Warning,
        1.0,
        "A target cannot be read back",
        "The store never gives the value back (a warning), or the target could not be read \
         this run: unreachable, refused, or an answer that made no sense (an error, and \
         `drift` exits 1). Whether it drifted is unknown; it is reported so that silence is \
         never taken for a clean result.",
        "Check a write-only target by other means; for a failed read, fix what the message \
         names and check again.",
    ),
    drift(
        "drift/value-changed",
        Error,
        7.0,
        "A target holds a value the lockfile does not record",
        "The value at the target was changed outside SecretZero (a hand edit, another tool), so \
         it differs from every value the lockfile records.",
        "`secretzero sync` writes the recorded value back when another target still holds it, \
         and otherwise records the new value; `secretzero sync --force` replaces it with a new \
         one.",
    ),
    policy(
        "iso27001/password-length",
        Error,
        5.0,
        "Generated passwords have at least 16 characters",
        "Under the iso27001 pack every random-password and random-string generator draws at \
         least 16 characters.",
        "Set `length: 16` or more.",
    ),
    policy(
        "iso27001/rotation-max-365d",
        Error,
        4.0,
        "Rotation periods are at most 365 days",
        "Under the iso27001 pack a secret rotates at least once a year (periods count a month as \
         30 days and a year as 365).",
        "Shorten `rotation_period` to 1y or 365d at most.",
    ),
    policy(
        "iso27001/rotation-required",
        Error,
        4.0,
        "Every secret has a rotation period",
        "ISO/IEC 27001 (A.5.17) expects authentication information to be changed periodically, \
         so every secret needs a `rotation_period`.",
        "Add `rotation_period: 1y` or shorter to the secret.",
    ),
    rotation(
        "rotation/due",
        Warning,
        5.0,
        "A secret is due for rotation",
        "The secret's rotation period has passed since it was last rotated (or created), so \
         `secretzero rotate` gives it a new value.",
        "Run `secretzero rotate`, or let the scheduled rotation do it.",
    ),
    rotation(
        "rotation/fixed-value",
        Warning,
        5.0,
        "A due secret cannot get a new value",
        "Every field of the secret comes from a static value or an environment variable, so a \
         rotation would write the same value again; the secret stays overdue until that value \
         changes.",
        "Change the value where it comes from, or make it generated.",
    ),
    validate(
        "secretfile/ambient-variable",
        Warning,
        5.0,
        "A secret is named after an environment variable that shells set",
        "A secret's value can come from the environment variable named after it. A secret or \
         field named like PATH, HOME or CI would silently take the value the shell or the CI \
         runner already sets.",
        "Rename the secret or the field.",
    ),
    validate(
        "secretfile/duplicate-key",
        Error,
        4.0,
        "A key or field is defined twice",
        "A mapping defines the same key twice, or a template defines the same field twice. \
         Readers disagree about which definition wins, so one of them would be silently \
         ignored.",
        "Remove or rename one of the two definitions.",
    ),
    validate(
        "secretfile/duplicate-target",
        Error,
        2.0,
        "A secret lists the same target twice",
        "Two entries of a secret's `targets` name the same place, so the second adds nothing \
         and usually hides a typo in a path or key.",
        "Remove one of the two entries, or correct its path or key.",
    ),
    validate(
        "secretfile/empty",
        Error,
        1.0,
        "A template has no fields",
        "A template's `fields` list is empty, so the secret would have no value at all.",
        "Add at least one field with a `name` and a `generator`.",
    ),
    validate(
        "secretfile/field-name",
        Error,
        2.0,
        "A field name holds characters that keys cannot carry",
        "Field names become keys and environment variable names, so they may only hold \
         letters, digits, `_`, `-` and `.`.",
        "Rename the field using letters, digits, `_`, `-` and `.`.",
    ),
    validate(
        "secretfile/format",
        Error,
        2.0,
        "A local file's format is unknown or cannot be guessed",
        "A `local-file` target needs a format: one of dotenv, json, yaml, toml or tfvars, \
         written as `format:` or guessed from the file name.",
        "Set `format:` to dotenv, json, yaml, toml or tfvars.",
    ),
    validate(
        "secretfile/generator",
        Error,
        4.0,
        "A generator's settings cannot make a value",
        "A generator's options contradict each other or cannot produce a value as strong as \
         asked, such as a password with every character class switched off, or an unknown \
         charset name.",
        "Change the generator's options as the message says.",
    ),
    validate(
        "secretfile/generator-or-template",
        Error,
        1.0,
        "A secret needs exactly one of `generator` and `template`",
        "A secret is made either by one `generator` (one value) or by a `template` (several \
         fields). It has both, or neither.",
        "Use `generator` for one value, `template` for several fields.",
    ),
    validate(
        "secretfile/key",
        Error,
        2.0,
        "A key cannot be written in the target's format",
        "The key a target writes (the `key` option, the secret's name, or a field's name) \
         cannot be written in the target file's format.",
        "Set `key:` to a name the format can hold, or rename the field.",
    ),
    validate(
        "secretfile/key-collision",
        Error,
        5.0,
        "Two values would be written to the same key of a file",
        "Two secrets, or two fields of one secret, write the same key of the same file, so \
         each sync would overwrite one value with the other.",
        "Give one of the targets another `key:` or write it to another file.",
    ),
    validate(
        "secretfile/limit",
        Error,
        2.0,
        "A number is outside the range allowed",
        "A length, count or timeout is outside the range SecretZero accepts.",
        "Choose a value inside the range the message names.",
    ),
    validate(
        "secretfile/missing-key",
        Error,
        1.0,
        "A required key is missing",
        "A key the definition needs is not there, such as `version`, `secrets`, a generator's \
         `type` or a target's `path`.",
        "Add the key the message names.",
    ),
    validate(
        "secretfile/path",
        Error,
        6.5,
        "A target path leaves the Secretfile's folder or names SecretZero's own files",
        "A `local-file` path must be relative and stay inside the Secretfile's folder, so a \
         Secretfile from another repository cannot write elsewhere on the machine. It must not \
         name the Secretfile or the lockfile either.",
        "Write the path relative to the Secretfile's folder, inside it.",
    ),
    validate(
        "secretfile/pattern",
        Error,
        1.0,
        "A glob pattern is not valid",
        "Policies select secrets and environments with glob patterns; one that cannot be read \
         would select nothing.",
        "Correct the pattern: `*` matches any run of characters, `?` one character, `[ab]` one \
         of a set.",
    ),
    validate(
        "secretfile/provider",
        Error,
        2.0,
        "A target uses a provider that is not declared or of the wrong kind",
        "A remote target's `provider` must name an entry of `providers:` whose `kind` matches \
         the target's type.",
        "Declare the provider under `providers:`, or correct the name or the kind.",
    ),
    validate(
        "secretfile/rotation-period",
        Error,
        3.0,
        "A rotation period cannot be read",
        "`rotation_period` is a whole number and a unit: d (days), w (weeks), m (months) or y \
         (years). A period that cannot be read is an error rather than \"never due\".",
        "Write the period like 90d, 2w, 3m or 1y.",
    ),
    validate(
        "secretfile/script",
        Error,
        1.0,
        "A script generator has no command to run",
        "A `script` generator runs `command` and takes its standard output as the value; an \
         empty command cannot run.",
        "Set `command:` to the program to run.",
    ),
    validate(
        "secretfile/secret-name",
        Error,
        2.0,
        "A secret name holds characters that keys cannot carry",
        "Secret names become keys and environment variable names, so they may only hold \
         letters, digits, `_`, `-` and `.`, and start with a letter or `_`.",
        "Rename the secret using letters, digits, `_`, `-` and `.`.",
    ),
    validate(
        "secretfile/static-value",
        Error,
        2.0,
        "A static generator has no value",
        "A `static` generator without `value` takes its value from the environment; with the \
         variable unset and no value recorded in the lockfile, a sync cannot make one.",
        "Add `value:`, or set the environment variable named after the secret when you sync.",
    ),
    validate(
        "secretfile/syntax",
        Error,
        1.0,
        "The Secretfile is not valid YAML",
        "The file cannot be parsed as YAML, so nothing in it can be checked.",
        "Correct the YAML at the place shown.",
    ),
    validate(
        "secretfile/target",
        Error,
        2.0,
        "A target breaks its store's rules",
        "A remote target's name, scope or option is one its store refuses: a character or a \
         length the store does not allow, a missing or contradictory option. Checked before \
         any request, so nothing is written.",
        "Change the target as the message says; docs/targets.md lists each store's limits.",
    ),
    validate(
        "secretfile/template",
        Error,
        2.0,
        "A template expression cannot be parsed",
        "A string holds `{{ ... }}` that is not a valid template expression.",
        "Correct the expression, such as {{ env.NAME or 'default' }}.",
    ),
    validate(
        "secretfile/type",
        Error,
        1.0,
        "A value has the wrong type",
        "A value is of another type than its key needs, such as a list where a mapping is \
         expected.",
        "Write the value in the type the message names.",
    ),
    validate(
        "secretfile/undefined-name",
        Error,
        3.0,
        "A template uses a name that is not defined",
        "A template prints an environment variable or a variable that is not defined. It is an \
         error rather than an empty string, so a missing setting cannot slip into a target.",
        "Define it under `variables:`, set the environment variable, or give a default with \
         `or`.",
    ),
    validate(
        "secretfile/unknown-class",
        Error,
        1.0,
        "A character class is unknown",
        "A generator policy's `required_classes` names character classes; an unknown one cannot \
         be checked.",
        "Use upper, lower, numbers or symbols.",
    ),
    validate(
        "secretfile/unknown-compliance",
        Error,
        2.0,
        "A compliance pack is unknown",
        "`metadata.compliance` switches on built-in policy packs; a misspelt pack would silently \
         check nothing.",
        "Use soc2 or iso27001, or correct the typo.",
    ),
    validate(
        "secretfile/unknown-generator",
        Error,
        1.0,
        "A generator type is unknown",
        "A generator's `type` is none of random-password, random-string, static and script.",
        "Use one of the generator types listed, or correct the typo.",
    ),
    validate(
        "secretfile/unknown-key",
        Error,
        1.0,
        "A key is unknown",
        "A mapping holds a key that its place does not allow; usually a typo that would \
         otherwise be silently ignored.",
        "Remove the key or correct its spelling.",
    ),
    validate(
        "secretfile/unknown-policy-kind",
        Error,
        1.0,
        "A policy kind is unknown",
        "Every custom policy has a `kind` that says what it checks.",
        "Use rotation, access or generator.",
    ),
    validate(
        "secretfile/unknown-provider-kind",
        Error,
        1.0,
        "A provider kind is unknown",
        "A provider's `kind` is none of aws, azure, vault, github, gitlab, jenkins and \
         kubernetes.",
        "Use one of the kinds listed, or correct the typo.",
    ),
    validate(
        "secretfile/unknown-severity",
        Error,
        1.0,
        "A policy severity is unknown",
        "A custom policy's `severity` decides how its findings are reported and whether they \
         fail the check.",
        "Use error, warning or info.",
    ),
    validate(
        "secretfile/unknown-target",
        Error,
        1.0,
        "A target type is unknown",
        "A target's `type` is none of the target types SecretZero knows.",
        "Use one of the target types listed, or correct the typo.",
    ),
    validate(
        "secretfile/version",
        Error,
        1.0,
        "The Secretfile version is not supported",
        "This build reads Secretfile version \"1.0\" only.",
        "Write `version: \"1.0\"`, or use the SecretZero release that reads this version.",
    ),
    policy(
        "soc2/no-literal-values",
        Error,
        7.0,
        "No secret value is written in the Secretfile",
        "A `static` value in the Secretfile is committed with it. Values that are not secret, \
         such as a user name or a URL, are marked `sensitive: false`.",
        "Generate the value, supply it through its environment variable, or mark the secret or \
         field `sensitive: false` if it is not secret.",
    ),
    policy(
        "soc2/rotation-max-90d",
        Error,
        4.0,
        "Rotation periods are at most 90 days",
        "Under the soc2 pack a secret rotates at least every 90 days (periods count a month as \
         30 days and a year as 365).",
        "Shorten `rotation_period` to 90d, 12w or 3m at most.",
    ),
    policy(
        "soc2/rotation-required",
        Error,
        4.0,
        "Every secret has a rotation period",
        "SOC 2 expects credentials to be changed on a schedule, so every secret needs a \
         `rotation_period`.",
        "Add `rotation_period: 90d` or shorter to the secret.",
    ),
    policy(
        "soc2/tracked",
        Error,
        3.0,
        "Every secret is tracked in the lockfile",
        "A secret that the lockfile does not record has no audit trail of when it was created, \
         written and rotated.",
        "Run `secretzero sync` and commit the lockfile.",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// The first part of every rule id.
    const PREFIXES: [&str; 6] =
        ["custom/", "drift/", "iso27001/", "rotation/", "secretfile/", "soc2/"];

    /// Every rule-id string literal in the source, outside tests and this file.
    fn emitted(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                emitted(&path, out);
                continue;
            }
            let skip = path.ends_with("report/rules.rs") || path.ends_with("tests.rs");
            if skip || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for prefix in PREFIXES {
                for (at, _) in code.match_indices(&format!("\"{prefix}")) {
                    let rest = &code[at + 1..];
                    let id = &rest[..rest.find('"').unwrap()];
                    out.insert(id.to_string());
                }
            }
        }
    }

    #[test]
    fn the_catalogue_is_sorted_and_matches_the_code() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted, "RULES must be sorted by id, without repeats");

        let mut found = BTreeSet::new();
        emitted(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
        let catalogued: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, catalogued, "emitted rule ids and the catalogue differ");
    }

    #[test]
    fn the_docs_list_every_rule_with_its_severities() {
        let docs = include_str!("../../docs/reports.md");
        for rule in RULES {
            let row = format!(
                "| `{}` | {} | {:.1} | {} |",
                rule.id,
                rule.severity.name(),
                rule.security_severity,
                rule.short
            );
            assert!(docs.contains(&row), "docs/reports.md lacks the row starting {row}");
        }
    }

    #[test]
    fn every_rule_is_complete() {
        for rule in RULES {
            assert!((0.0..=10.0).contains(&rule.security_severity), "{}", rule.id);
            for text in [rule.short, rule.full, rule.help] {
                assert!(!text.is_empty() && !text.contains("  "), "{}: {text:?}", rule.id);
            }
            assert!(!rule.short.ends_with('.'), "{}: a short description is no sentence", rule.id);
            assert!(rule.full.ends_with('.') && rule.help.ends_with('.'), "{}", rule.id);
        }
    }
}
