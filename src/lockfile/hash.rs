//! Keyed hashing of values and definitions, the salt and key that feed it, and recognition of
//! the bare SHA-256 hashes that the older format wrote.
//!
//! A hash is HMAC-SHA256 keyed with the lockfile's salt followed by the optional key from
//! `SECRETZERO_LOCK_KEY`. The salt stops a committed lockfile from showing which secrets share a
//! value; the key, which never enters the repository, stops anyone holding only the lockfile from
//! confirming a guessed value offline.

use std::fmt;
use std::path::Path;

use hmac::digest::CtOutput;
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use rand::rngs::SysRng;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};

use super::LockfileError;

/// Environment variable holding the optional lockfile key.
pub const KEY_ENV: &str = "SECRETZERO_LOCK_KEY";

/// Shortest key accepted, in bytes. The key check recorded in the lockfile lets anyone test a
/// guessed key offline, so only a key too long to guess keeps guessed values unconfirmable.
pub const MIN_KEY_LEN: usize = 32;

/// Name of the algorithm as the lockfile records it.
pub(crate) const ALGORITHM: &str = "hmac-sha256";

/// Bytes of random salt per lockfile.
pub(crate) const SALT_LEN: usize = 32;

/// Bytes of the key check value: enough to tell a wrong key from the right one, short enough
/// that it pins down nothing about the key beyond that.
pub(crate) const KEY_CHECK_LEN: usize = 8;

const PREFIX: &str = "hmac-sha256:";
const DOMAIN: &[u8] = b"secretzero-lockfile-v2";

/// What a hash is of. Each purpose is its own domain, so no definition hash can ever equal a
/// value hash and the key check is independent of both.
#[derive(Clone, Copy)]
enum Purpose {
    Value,
    Definition,
    KeyCheck,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Value => b"value",
            Purpose::Definition => b"definition",
            Purpose::KeyCheck => b"key-check",
        }
    }
}

/// The salt and key state of one lockfile: everything needed to rebuild its [`Hasher`] except
/// the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HashParams {
    pub(crate) salt: [u8; SALT_LEN],
    /// Present when the lockfile was written with a key.
    pub(crate) key_check: Option<[u8; KEY_CHECK_LEN]>,
}

impl HashParams {
    /// A fresh salt, bound to `key` when one is given. This is the only moment a lockfile's key
    /// state is chosen: no hash exists yet that a different choice could invalidate.
    pub(crate) fn fresh(key: Option<&[u8]>) -> HashParams {
        let mut salt = [0; SALT_LEN];
        // The OS generator failing means the machine cannot make secrets at all; there is no
        // sensible way to continue, and a predictable salt would silently weaken every hash.
        SysRng
            .try_fill_bytes(&mut salt)
            .expect("the operating system's random number generator failed");
        let key_check = normalize(key).map(|key| key_check(&salt, key));
        HashParams { salt, key_check }
    }

    /// The hasher for this lockfile, after checking that `key` is the one it was written with.
    pub(crate) fn hasher(&self, key: Option<&[u8]>, path: &Path) -> Result<Hasher, LockfileError> {
        let key = normalize(key);
        if key.is_some_and(|key| key.len() < MIN_KEY_LEN) {
            return Err(LockfileError::KeyTooShort { min: MIN_KEY_LEN });
        }

        match (self.key_check, key) {
            (None, None) => Ok(Hasher::new(&self.salt, None)),
            (Some(_), None) => Err(LockfileError::MissingKey { path: path.to_path_buf() }),
            (None, Some(_)) => Err(LockfileError::UnexpectedKey { path: path.to_path_buf() }),
            (Some(recorded), Some(key)) => {
                let actual = key_check(&self.salt, key);
                let same: bool = CtOutput::<KeyCheck>::new(actual.into())
                    == CtOutput::<KeyCheck>::new(recorded.into());
                if same {
                    Ok(Hasher::new(&self.salt, Some(key)))
                } else {
                    Err(LockfileError::WrongKey { path: path.to_path_buf() })
                }
            }
        }
    }
}

/// Size marker so the key check can be compared with [`CtOutput`]'s constant-time equality.
struct KeyCheck;

impl hmac::digest::OutputSizeUser for KeyCheck {
    type OutputSize = hmac::digest::consts::U8;
}

/// Reads the key from [`KEY_ENV`]. Surrounding whitespace is dropped because keys pasted into
/// CI settings or read from files often carry a trailing newline that the user cannot see.
pub(crate) fn key_from_env() -> Option<SecretSlice<u8>> {
    let raw = SecretSlice::from(std::env::var_os(KEY_ENV)?.into_encoded_bytes());
    let trimmed = raw.expose_secret().trim_ascii();
    if trimmed.is_empty() {
        return None;
    }
    Some(SecretSlice::from(trimmed.to_vec()))
}

/// An empty key means no key, wherever it came from.
fn normalize(key: Option<&[u8]>) -> Option<&[u8]> {
    key.filter(|key| !key.is_empty())
}

pub(crate) fn key_check(salt: &[u8; SALT_LEN], key: &[u8]) -> [u8; KEY_CHECK_LEN] {
    let tag = Hasher::new(salt, Some(key)).mac(Purpose::KeyCheck, "", "", b"").finalize();
    let mut check = [0; KEY_CHECK_LEN];
    check.copy_from_slice(&tag.into_bytes()[..KEY_CHECK_LEN]);
    check
}

/// Hashes values and definitions for one lockfile, and checks recorded hashes against values.
///
/// Made by [`Lockfile::hasher`](super::Lockfile::hasher). It holds keyed HMAC state, never the
/// key, and its `Debug` output shows neither.
#[derive(Clone)]
pub struct Hasher {
    mac: Hmac<Sha256>,
    keyed: bool,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").field("keyed", &self.keyed).finish_non_exhaustive()
    }
}

impl Hasher {
    fn new(salt: &[u8; SALT_LEN], key: Option<&[u8]>) -> Hasher {
        // The salt has a fixed length, so salt followed by key is unambiguous.
        let mut material = Vec::with_capacity(SALT_LEN + key.map_or(0, <[u8]>::len));
        material.extend_from_slice(salt);
        material.extend_from_slice(key.unwrap_or_default());
        let material = SecretSlice::from(material);

        let mac = Hmac::<Sha256>::new_from_slice(material.expose_secret())
            .expect("HMAC accepts keys of any length");
        Hasher { mac, keyed: key.is_some() }
    }

    /// Whether a key from the environment went into this hasher.
    pub fn is_keyed(&self) -> bool {
        self.keyed
    }

    /// The hash to record for `value`, held by `secret` under `slot`: a field name for a
    /// field's value, a target id for what a target holds. Output: `hmac-sha256:<64 hex>`.
    pub fn hash(&self, secret: &str, slot: &str, value: &[u8]) -> String {
        render(self.mac(Purpose::Value, secret, slot, value))
    }

    /// The hash to record for the canonical bytes of `secret`'s definition. It is keyed because
    /// a definition can hold a value, as a `static` generator does.
    pub fn hash_definition(&self, secret: &str, canonical: &[u8]) -> String {
        render(self.mac(Purpose::Definition, secret, "", canonical))
    }

    /// Whether `recorded` is the hash of `value` held by `secret` under `slot`. Accepts this
    /// format's hashes and the older format's bare SHA-256 hex, which ignores `secret` and `slot`.
    /// Runs in constant time in the value's hash, so timing reveals nothing about it.
    pub fn matches(&self, recorded: &str, secret: &str, slot: &str, value: &[u8]) -> bool {
        match recorded.strip_prefix(PREFIX) {
            Some(tag) => self.verify(tag, self.mac(Purpose::Value, secret, slot, value)),
            None => legacy_matches(recorded, value),
        }
    }

    /// Whether `recorded` is the hash of `secret`'s definition given as `canonical` bytes. An
    /// empty `recorded` (a definition not recorded yet) never matches.
    pub fn matches_definition(&self, recorded: &str, secret: &str, canonical: &[u8]) -> bool {
        match recorded.strip_prefix(PREFIX) {
            Some(tag) => self.verify(tag, self.mac(Purpose::Definition, secret, "", canonical)),
            None => false,
        }
    }

    /// Whether `recorded` is a bare SHA-256 hash from the older format. Such a hash can be
    /// checked against a guessed value by anyone, so it should be replaced with
    /// [`Hasher::hash`] as soon as the value is at hand.
    pub fn is_legacy(recorded: &str) -> bool {
        !recorded.starts_with(PREFIX) && is_sha256_hex(recorded)
    }

    fn verify(&self, tag_hex: &str, mac: Hmac<Sha256>) -> bool {
        let mut tag = [0; 32];
        hex::decode_to_slice(tag_hex, &mut tag).is_ok() && mac.verify_slice(&tag).is_ok()
    }

    /// Every part is length-prefixed, so ("a", "bc") and ("ab", "c") feed different bytes.
    fn mac(&self, purpose: Purpose, secret: &str, slot: &str, value: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        for part in [DOMAIN, purpose.tag(), secret.as_bytes(), slot.as_bytes(), value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }
}

fn render(mac: Hmac<Sha256>) -> String {
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

fn legacy_matches(recorded: &str, value: &[u8]) -> bool {
    let mut expected = [0; 32];
    if hex::decode_to_slice(recorded, &mut expected).is_err() {
        return false;
    }
    CtOutput::<Sha256>::new(Sha256::digest(value)) == CtOutput::<Sha256>::new(expected.into())
}

/// Whether `text` has the shape of a hash this module can check: `hmac-sha256:` and 64 hex
/// digits, or 64 hex digits from the older format.
pub(crate) fn is_recorded_hash(text: &str) -> bool {
    is_sha256_hex(text.strip_prefix(PREFIX).unwrap_or(text))
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; SALT_LEN] = [7; SALT_LEN];
    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn unkeyed() -> Hasher {
        Hasher::new(&SALT, None)
    }

    #[test]
    fn hash_has_the_recorded_shape() {
        let hash = unkeyed().hash("database", "password", b"hunter2");
        let hex = hash.strip_prefix("hmac-sha256:").unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(is_recorded_hash(&hash));
    }

    #[test]
    fn known_answers_pin_the_construction() {
        // Computed independently with Python's hmac module from the construction described in
        // docs/lockfile.md; a change here changes every hash in every committed lockfile.
        let keyed = Hasher::new(&SALT, Some(KEY));
        assert_eq!(
            unkeyed().hash("database", "password", b"hunter2"),
            "hmac-sha256:207d62ad68bb95aba750286258e68ffaedcb505a2cf6a55183da4ee4270c6e2e"
        );
        assert_eq!(
            keyed.hash("database", "password", b"hunter2"),
            "hmac-sha256:a35ffd7ce290718fc703bf9228768aa121bba6772f65fbde1b800910f7e3ac6e"
        );
        assert_eq!(
            unkeyed().hash_definition("database", br#"{"generator":"static"}"#),
            "hmac-sha256:b8520dfc38a6d3b23e449fd00fd91b1a8343ee6574cd0efdd3c95ae6f12e1c68"
        );
        assert_eq!(hex::encode(key_check(&SALT, KEY)), "1a0f06fb0d936047");
    }

    #[test]
    fn same_value_under_two_secret_names_differs() {
        let hasher = unkeyed();
        assert_ne!(
            hasher.hash("api_key", "value", b"same"),
            hasher.hash("token", "value", b"same")
        );
    }

    #[test]
    fn same_value_in_two_slots_differs() {
        let hasher = unkeyed();
        assert_ne!(hasher.hash("db", "password", b"same"), hasher.hash("db", "username", b"same"));
    }

    #[test]
    fn boundaries_between_parts_matter() {
        let hasher = unkeyed();
        assert_ne!(hasher.hash("a", "bc", b"v"), hasher.hash("ab", "c", b"v"));
        assert_ne!(hasher.hash("s", "ab", b"c"), hasher.hash("s", "a", b"bc"));
    }

    #[test]
    fn same_value_under_two_salts_differs() {
        let other = Hasher::new(&[8; SALT_LEN], None);
        assert_ne!(unkeyed().hash("db", "password", b"v"), other.hash("db", "password", b"v"));
    }

    #[test]
    fn key_changes_the_hash() {
        let keyed = Hasher::new(&SALT, Some(KEY));
        assert!(keyed.is_keyed());
        assert_ne!(unkeyed().hash("db", "password", b"v"), keyed.hash("db", "password", b"v"));
    }

    #[test]
    fn definition_and_value_hashes_never_coincide() {
        let hasher = unkeyed();
        assert_ne!(hasher.hash("db", "", b"def"), hasher.hash_definition("db", b"def"));
        let definition = hasher.hash_definition("db", b"def");
        assert!(hasher.matches_definition(&definition, "db", b"def"));
        assert!(!hasher.matches_definition(&definition, "db", b"other"));
        assert!(!hasher.matches("", "db", "", b"def"));
        assert!(!hasher.matches_definition("", "db", b"def"));
    }

    #[test]
    fn matches_own_hash_only_in_its_context() {
        let hasher = unkeyed();
        let recorded = hasher.hash("db", "password", b"hunter2");
        assert!(hasher.matches(&recorded, "db", "password", b"hunter2"));
        assert!(!hasher.matches(&recorded, "db", "password", b"hunter3"));
        assert!(!hasher.matches(&recorded, "db", "username", b"hunter2"));
        assert!(!hasher.matches(&recorded, "other", "password", b"hunter2"));
        assert!(!Hasher::new(&SALT, Some(KEY)).matches(&recorded, "db", "password", b"hunter2"));
    }

    #[test]
    fn legacy_bare_sha256_matches_any_context() {
        let hasher = unkeyed();
        let computed = hex::encode(Sha256::digest(b"hello"));
        assert_eq!(computed, HELLO_SHA256);
        assert!(hasher.matches(HELLO_SHA256, "db", "password", b"hello"));
        assert!(hasher.matches(&HELLO_SHA256.to_uppercase(), "x", "y", b"hello"));
        assert!(!hasher.matches(HELLO_SHA256, "db", "password", b"hello!"));
        assert!(Hasher::is_legacy(HELLO_SHA256));
        assert!(!Hasher::is_legacy(&hasher.hash("db", "password", b"hello")));
    }

    #[test]
    fn malformed_recorded_hashes_never_match() {
        let hasher = unkeyed();
        for recorded in ["", "hmac-sha256:", "hmac-sha256:zz", &HELLO_SHA256[..63], "sha256:00"] {
            assert!(!hasher.matches(recorded, "db", "password", b"hello"), "{recorded}");
        }
        assert!(!is_recorded_hash("hmac-sha256:abc"));
    }

    #[test]
    fn key_check_accepts_the_right_key_only() {
        let path = Path::new("x.lock");
        let params = HashParams { salt: SALT, key_check: Some(key_check(&SALT, KEY)) };
        assert!(params.hasher(Some(KEY), path).unwrap().is_keyed());

        let wrong = b"fedcba9876543210fedcba9876543210";
        let err = params.hasher(Some(wrong), path).unwrap_err();
        assert!(matches!(err, LockfileError::WrongKey { .. }), "{err:?}");
        let err = params.hasher(None, path).unwrap_err();
        assert!(matches!(err, LockfileError::MissingKey { .. }), "{err:?}");
        let err = params.hasher(Some(b""), path).unwrap_err();
        assert!(matches!(err, LockfileError::MissingKey { .. }), "{err:?}");
    }

    #[test]
    fn unkeyed_params_refuse_a_key() {
        let params = HashParams { salt: SALT, key_check: None };
        let err = params.hasher(Some(KEY), Path::new("x.lock")).unwrap_err();
        assert!(matches!(err, LockfileError::UnexpectedKey { .. }), "{err:?}");
        assert!(!params.hasher(None, Path::new("x.lock")).unwrap().is_keyed());
    }

    #[test]
    fn short_key_is_refused() {
        let params = HashParams::fresh(Some(b"short"));
        let err = params.hasher(Some(b"short"), Path::new("x.lock")).unwrap_err();
        assert!(matches!(err, LockfileError::KeyTooShort { min: MIN_KEY_LEN }), "{err:?}");
    }

    #[test]
    fn fresh_salts_differ() {
        assert_ne!(HashParams::fresh(None).salt, HashParams::fresh(None).salt);
        assert!(HashParams::fresh(Some(KEY)).key_check.is_some());
        assert!(HashParams::fresh(Some(b"")).key_check.is_none());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let shown = format!("{:?}", Hasher::new(&SALT, Some(KEY)));
        assert_eq!(shown, "Hasher { keyed: true, .. }");
    }
}
