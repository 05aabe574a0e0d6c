//! Behaviour of the lockfile as a whole: the exact bytes written, reading them back, the older
//! format, keys, and errors that point at a line without quoting the file.

use sha2::Digest;

use super::*;

const SALT: [u8; hash::SALT_LEN] = [0xab; hash::SALT_LEN];
const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const CANARY: &str = "CANARY-d41d8cd98f00b204";

fn path() -> &'static Path {
    Path::new("fixtures/.gitsecrets.lock")
}

fn stamp(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn hash_of(digit: char) -> String {
    format!("hmac-sha256:{}", digit.to_string().repeat(64))
}

/// A lockfile built field by field, with a fixed salt so that it renders the same everywhere.
fn fixture() -> Lockfile {
    let database = SecretEntry {
        definition: hash_of('d'),
        definitions: BTreeMap::new(),
        created_at: stamp("2026-12-03T18:00:00Z"),
        updated_at: stamp("2026-12-04T09:30:00Z"),
        last_rotated: Some(stamp("2026-12-04T09:30:00Z")),
        rotation_count: 1,
        one_time: false,
        fields: BTreeMap::from([
            ("username".to_owned(), hash_of('2')),
            ("password".to_owned(), hash_of('1')),
        ]),
        targets: BTreeMap::from([(
            "local-file:.env#DATABASE".to_owned(),
            TargetEntry {
                hash: hash_of('3'),
                updated_at: stamp("2026-12-04T09:30:00Z"),
                stamp: None,
                settings: None,
            },
        )]),
    };
    let api_key = SecretEntry {
        definition: hash_of('e'),
        definitions: BTreeMap::new(),
        created_at: stamp("2026-12-03T18:00:00Z"),
        updated_at: stamp("2026-12-03T18:00:00Z"),
        last_rotated: None,
        rotation_count: 0,
        one_time: true,
        fields: BTreeMap::from([("value".to_owned(), hash_of('4'))]),
        targets: BTreeMap::new(),
    };
    Lockfile {
        version: FORMAT_VERSION,
        secrets: BTreeMap::from([
            ("database".to_owned(), database),
            ("api_key".to_owned(), api_key),
        ]),
        params: HashParams { salt: SALT, key_check: None },
        origin: Origin::default(),
    }
}

const GOLDEN: &str = r#"{
  "version": 2,
  "hash": {
    "algorithm": "hmac-sha256",
    "salt": "abababababababababababababababababababababababababababababababab",
    "keyed": false
  },
  "secrets": {
    "api_key": {
      "definition": "hmac-sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
      "created_at": "2026-12-03T18:00:00Z",
      "updated_at": "2026-12-03T18:00:00Z",
      "last_rotated": null,
      "rotation_count": 0,
      "one_time": true,
      "fields": {
        "value": "hmac-sha256:4444444444444444444444444444444444444444444444444444444444444444"
      },
      "targets": {}
    },
    "database": {
      "definition": "hmac-sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "created_at": "2026-12-03T18:00:00Z",
      "updated_at": "2026-12-04T09:30:00Z",
      "last_rotated": "2026-12-04T09:30:00Z",
      "rotation_count": 1,
      "one_time": false,
      "fields": {
        "password": "hmac-sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "username": "hmac-sha256:2222222222222222222222222222222222222222222222222222222222222222"
      },
      "targets": {
        "local-file:.env#DATABASE": {
          "hash": "hmac-sha256:3333333333333333333333333333333333333333333333333333333333333333",
          "updated_at": "2026-12-04T09:30:00Z"
        }
      }
    }
  }
}
"#;

/// A lockfile as the older, Python-era tool wrote it, with the metadata it kept about users
/// and hosts.
const LEGACY: &str = r#"{
  "version": "1.0",
  "secrets": {
    "api_key": {
      "hash": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
      "created_at": "2025-03-01T10:00:00.123456+00:00",
      "updated_at": "2025-03-02T11:00:00.5+00:00",
      "last_rotated": null,
      "rotation_count": 0,
      "targets": {
        "local-file:.env": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "vault-kv:app/api": {"updated_at": "2025-03-03T12:00:00"},
        "aws-ssm:/api": {"actor": {"os_user": "alice"}, "hash": null}
      },
      "target_provenance": {
        "local-file:.env": [
          {"updated_at": "2025-03-02T11:00:00+00:00", "actor": {"os_user": "alice"}}
        ]
      }
    }
  },
  "secretfile": {
    "filename": "Secretfile.yml",
    "hash": "00",
    "synced_at": "2025-03-02T11:00:00+00:00",
    "sync_identity": {"client": "cli", "os_user": "alice", "hostname": "build-host-7"}
  },
  "metadata": {}
}
"#;

#[test]
fn golden_rendering_is_exact() {
    assert_eq!(fixture().render(), GOLDEN);
}

#[test]
fn rendering_is_repeatable_and_round_trips() {
    let lockfile = fixture();
    assert_eq!(lockfile.render(), lockfile.render());

    let parsed = Lockfile::parse_with_key(GOLDEN, path(), None).unwrap();
    assert_eq!(parsed, lockfile);
    assert_eq!(parsed.render(), GOLDEN);
    assert!(!parsed.read_older_format());
}

#[test]
fn keyed_lockfile_records_a_key_check_and_round_trips() {
    let mut lockfile = fixture();
    lockfile.params.key_check = Some(hash::key_check(&SALT, KEY));
    let text = lockfile.render();
    assert!(text.contains("    \"keyed\": true,\n    \"key_check\": \""), "{text}");
    assert!(!text.contains("0123456789abcdef0123456789abcdef"));

    let parsed = Lockfile::parse_with_key(&text, path(), None).unwrap();
    assert_eq!(parsed, lockfile);
    assert!(parsed.is_keyed());
}

#[test]
fn sub_second_times_are_dropped_when_rendered() {
    let mut lockfile = fixture();
    let entry = lockfile.secrets.get_mut("api_key").unwrap();
    entry.updated_at = stamp("2026-12-03T18:00:00.999Z");
    assert_eq!(lockfile.render(), GOLDEN);
    assert_eq!(now().subsec_nanosecond(), 0);
}

#[test]
fn value_never_appears_in_the_rendered_lockfile() {
    let mut lockfile = Lockfile::new_with_key(None);
    let hasher = lockfile.hasher_with_key(None).unwrap();
    let mut entry = fixture().secrets.remove("database").unwrap();
    entry
        .fields
        .insert("password".to_owned(), hasher.hash("database", "password", CANARY.as_bytes()));
    entry.definition = hasher.hash_definition("database", format!("static:{CANARY}").as_bytes());
    lockfile.secrets.insert("database".to_owned(), entry);

    let text = lockfile.render();
    assert!(!text.contains(CANARY));
    assert!(!text.contains(&hex::encode(CANARY)));
    assert!(!text.contains(&hex::encode(sha2::Sha256::digest(CANARY))));
    assert!(hasher.matches(
        &lockfile.secrets["database"].fields["password"],
        "database",
        "password",
        CANARY.as_bytes()
    ));
}

#[test]
fn new_lockfiles_get_distinct_salts_and_the_key_state_given() {
    assert_ne!(Lockfile::new_with_key(None).params.salt, Lockfile::new_with_key(None).params.salt);
    let keyed = Lockfile::new_with_key(Some(KEY));
    assert!(keyed.is_keyed());
    assert!(keyed.hasher_with_key(Some(KEY)).unwrap().is_keyed());
    assert!(!Lockfile::new_with_key(None).is_keyed());
}

#[test]
fn key_changes_hashes_and_a_wrong_or_missing_key_is_refused() {
    let keyed = Lockfile::new_with_key(Some(KEY));
    let text = keyed.render();
    let loaded = Lockfile::parse_with_key(&text, path(), None).unwrap();

    let with_key = loaded.hasher_with_key(Some(KEY)).unwrap();
    let unkeyed = Lockfile {
        params: HashParams { key_check: None, ..loaded.params.clone() },
        ..loaded.clone()
    };
    let without_key = unkeyed.hasher_with_key(None).unwrap();
    assert_ne!(with_key.hash("db", "password", b"v"), without_key.hash("db", "password", b"v"));

    let wrong = b"fedcba9876543210fedcba9876543210";
    let error = loaded.hasher_with_key(Some(wrong)).unwrap_err();
    assert!(matches!(&error, LockfileError::WrongKey { path: p } if p == path()), "{error:?}");
    let error = loaded.hasher_with_key(None).unwrap_err();
    assert!(matches!(error, LockfileError::MissingKey { .. }), "{error:?}");
    let error = unkeyed.hasher_with_key(Some(KEY)).unwrap_err();
    assert!(matches!(error, LockfileError::UnexpectedKey { .. }), "{error:?}");
    assert!(error.hint().is_some());
}

#[test]
fn older_format_is_upgraded() {
    let lockfile = Lockfile::parse_with_key(LEGACY, path(), None).unwrap();
    assert!(lockfile.read_older_format());
    assert_eq!(lockfile.version, FORMAT_VERSION);

    let entry = &lockfile.secrets["api_key"];
    let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    assert_eq!(entry.definition, "");
    assert_eq!(entry.created_at, stamp("2025-03-01T10:00:00Z"));
    assert_eq!(entry.updated_at, stamp("2025-03-02T11:00:00Z"));
    assert_eq!(entry.fields, BTreeMap::from([(LEGACY_VALUE_FIELD.to_owned(), hello.to_owned())]));

    // A bare hash, an object without a hash (the secret's hash stands in), an object whose
    // hash is null (likewise).
    let targets: Vec<(&str, &str, Timestamp)> = entry
        .targets
        .iter()
        .map(|(id, target)| (id.as_str(), target.hash.as_str(), target.updated_at))
        .collect();
    assert_eq!(
        targets,
        [
            ("aws-ssm:/api", hello, stamp("2025-03-02T11:00:00Z")),
            ("local-file:.env", hello, stamp("2025-03-02T11:00:00Z")),
            ("vault-kv:app/api", hello, stamp("2025-03-03T12:00:00Z")),
        ]
    );

    let hasher = lockfile.hasher_with_key(None).unwrap();
    assert!(hasher.matches(&entry.fields[LEGACY_VALUE_FIELD], "api_key", "value", b"hello"));
    assert!(Hasher::is_legacy(&entry.fields[LEGACY_VALUE_FIELD]));
}

#[test]
fn saving_an_older_file_upgrades_it_and_drops_user_and_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    std::fs::write(&file, LEGACY).unwrap();

    let lockfile = Lockfile::load(&file).unwrap().unwrap();
    assert!(lockfile.save(&file).unwrap());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("{\n  \"version\": 2,\n  \"hash\": {\n"), "{text}");
    for name in ["alice", "build-host-7", "os_user", "Secretfile.yml"] {
        assert!(!text.contains(name), "{name} survived the upgrade");
    }

    // Once upgraded, the salt is fixed: loading and saving again changes nothing.
    let again = Lockfile::load(&file).unwrap().unwrap();
    assert_eq!(again, lockfile);
    assert!(!again.save(&file).unwrap());
}

#[test]
fn older_file_takes_the_key_in_use_when_it_is_upgraded() {
    let lockfile = Lockfile::parse_with_key(LEGACY, path(), Some(KEY)).unwrap();
    assert!(lockfile.is_keyed());
    assert!(lockfile.hasher_with_key(Some(KEY)).is_ok());
}

#[test]
fn older_file_without_version_or_hash_section_is_read_as_older() {
    let text = r#"{"secrets": {"a": {"hash": null, "created_at": "2025-03-01T10:00:00",
        "updated_at": "2025-03-01T10:00:00"}}}"#;
    let lockfile = Lockfile::parse_with_key(text, path(), None).unwrap();
    assert!(lockfile.read_older_format());
    assert!(lockfile.secrets["a"].fields.is_empty());
    assert_eq!(lockfile.secrets["a"].rotation_count, 0);
}

#[test]
fn current_file_without_version_is_an_error_not_an_older_file() {
    let text = GOLDEN.replace("  \"version\": 2,\n", "");
    let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
    assert!(
        matches!(&error, LockfileError::Parse { message, .. }
            if message == "missing field `version`"),
        "{error:?}"
    );
}

#[test]
fn newer_versions_are_refused() {
    let text = GOLDEN.replace("\"version\": 2", "\"version\": 3");
    let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
    assert!(
        matches!(&error, LockfileError::UnsupportedVersion { version, .. } if version == "3"),
        "{error:?}"
    );
    let error = Lockfile::parse_with_key(r#"{"version": "2.0"}"#, path(), None).unwrap_err();
    assert!(matches!(error, LockfileError::UnsupportedVersion { .. }), "{error:?}");
    let text = format!(r#"{{"version": "{CANARY}"}}"#);
    let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "lockfile fixtures/.gitsecrets.lock has format version unrecognised, which this \
         secretzero cannot read"
    );
}

#[test]
fn conflict_markers_are_reported_with_their_line() {
    let text = "{\n  \"version\": 2,\n<<<<<<< HEAD\n  \"hash\": {}\n=======\n>>>>>>> main\n}\n";
    let error = Lockfile::parse_with_key(text, path(), None).unwrap_err();
    assert!(matches!(error, LockfileError::ConflictMarkers { line: 3, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "lockfile fixtures/.gitsecrets.lock has unresolved merge conflict markers, the first at \
         line 3"
    );
}

#[test]
fn invalid_json_is_reported_at_its_line_and_column() {
    let text = GOLDEN.replace("\"rotation_count\": 0,", "\"rotation_count\": 0,,");
    let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
    assert!(
        matches!(&error, LockfileError::Parse { line: 14, column: 27, message, .. }
            if message == "key must be a string"),
        "{error:?}"
    );
}

#[test]
fn errors_never_quote_the_file() {
    let cases = [
        GOLDEN.replace("\"rotation_count\": 0", &format!("\"rotation_count\": \"{CANARY}\"")),
        GOLDEN.replace("\"one_time\": true", &format!("\"{CANARY}\": true")),
        GOLDEN.replacen("\"2026-12-03T18:00:00Z\"", &format!("\"{CANARY}\""), 1),
        GOLDEN.replace(&hash_of('4'), CANARY),
        GOLDEN.replace("\"keyed\": false", &format!("\"keyed\": \"{CANARY}\"")),
        format!("[\"{CANARY}\"]"),
        LEGACY.replace("\"rotation_count\": 0", &format!("\"rotation_count\": [\"{CANARY}\"]")),
        LEGACY.replace("\"local-file:.env\": \"2cf2", &format!("\"local-file:.env\": \"{CANARY}")),
    ];
    for text in cases {
        let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(matches!(error, LockfileError::Parse { line: 1.., .. }), "{error:?}");
    }
}

#[test]
fn malformed_older_target_is_reported_plainly() {
    let text = LEGACY.replace("\"local-file:.env\": \"2cf2", "\"local-file:.env\": \"xx");
    let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
    assert!(
        matches!(&error, LockfileError::Parse { line: 11, message, .. }
            if message == format::BAD_LEGACY_TARGET),
        "{error:?}"
    );
}

#[test]
fn oversized_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    // A sparse file: the size is real, the disk space is not.
    let sparse = std::fs::File::create(&file).unwrap();
    sparse.set_len(MAX_FILE_BYTES + 1).unwrap();
    let error = Lockfile::load(&file).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("lockfile {} is larger than 536870912 bytes", file.display())
    );
}

#[test]
fn duplicate_secret_names_are_an_error() {
    let text = GOLDEN.replace("\"database\": {", "\"api_key\": {");
    let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
    assert!(
        matches!(&error, LockfileError::Parse { message, .. }
            if message == "a key appears twice in the same object"),
        "{error:?}"
    );
}

#[test]
fn malformed_hash_section_is_an_error() {
    let cases = [
        GOLDEN.replace("\"keyed\": false", "\"keyed\": true"),
        GOLDEN.replace("\"salt\": \"abab", "\"salt\": \"ab"),
        GOLDEN.replace("\"hmac-sha256\",", "\"sha1\","),
    ];
    for text in cases {
        let error = Lockfile::parse_with_key(&text, path(), None).unwrap_err();
        assert!(matches!(error, LockfileError::Parse { .. }), "{error:?}");
    }
}

#[test]
fn load_of_a_missing_file_is_none_and_save_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    assert!(Lockfile::load(&file).unwrap().is_none());

    let lockfile = fixture();
    assert!(lockfile.save(&file).unwrap());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), GOLDEN);
    assert_eq!(Lockfile::load(&file).unwrap().unwrap(), lockfile);
    assert!(!lockfile.save(&file).unwrap());
}

#[test]
fn broken_file_is_an_error_not_an_empty_lockfile() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    std::fs::write(&file, "").unwrap();
    let error = Lockfile::load(&file).unwrap_err();
    assert!(matches!(error, LockfileError::Parse { line: 1, .. }), "{error:?}");
}

#[test]
fn key_errors_name_the_loaded_file() {
    let keyed = Lockfile::new_with_key(Some(KEY)).render();
    let error =
        Lockfile::parse_with_key(&keyed, path(), None).unwrap().hasher_with_key(None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "lockfile fixtures/.gitsecrets.lock was written with SECRETZERO_LOCK_KEY set, but it is \
         not set now"
    );
}

/// The examples in the user documentation are real: each parses, and the current one renders
/// back byte for byte.
#[test]
fn documented_examples_are_accurate() {
    let docs = include_str!("../../docs/lockfile.md");
    let blocks: Vec<&str> =
        docs.split("```json\n").skip(1).map(|rest| &rest[..rest.find("```").unwrap()]).collect();
    assert_eq!(blocks.len(), 2);

    let current = Lockfile::parse_with_key(blocks[0], path(), None).unwrap();
    assert_eq!(current.render(), blocks[0]);
    assert!(current.is_keyed());

    let older = Lockfile::parse_with_key(blocks[1], path(), None).unwrap();
    assert!(older.read_older_format());
    let hasher = older.hasher_with_key(None).unwrap();
    let entry = &older.secrets["api_key"];
    assert!(hasher.matches(&entry.fields[LEGACY_VALUE_FIELD], "api_key", "value", b"hello"));
    assert!(hasher.matches(&entry.targets["local-file:.env"].hash, "api_key", "x", b"hello"));
}
