//! Secret value generation.
//!
//! This module owns the four generator types a Secretfile can name (`random-password`,
//! `random-string`, `static` and `script`), the checks that decide whether a generator spec can
//! produce a value at all, and the production of the value. It parses nothing: the caller builds
//! the spec structs from the Secretfile and reports their problems with its own source spans.
//!
//! Every value leaves as a [`SecretString`], whose `Debug` is redacted. No error, problem or
//! `Debug` output of this module holds a generated value or a script's stdout.

mod password;
mod script;
mod string;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use rand::SeedableRng;
use rand::distr::{Distribution, Uniform};
use rand::rngs::{StdRng, SysError, SysRng};
use secrecy::SecretString;

pub use password::{DEFAULT_SYMBOLS, PasswordSpec};
pub use script::{DEFAULT_SCRIPT_TIMEOUT, MAX_SCRIPT_OUTPUT, STDERR_TAIL_BYTES, ScriptSpec};
pub use string::{Charset, StringSpec};

/// Default length, in characters, of generated passwords and strings.
pub const DEFAULT_LENGTH: usize = 32;

/// Longest value, in characters, that the random generators produce.
///
/// Far above any password a system accepts; the limit exists so that a typo such as
/// `length: 3200000` is reported instead of filling a file with megabytes of noise.
pub const MAX_LENGTH: usize = 4096;

/// How one secret's value is made.
#[derive(Debug, Clone)]
pub enum Spec {
    RandomPassword(PasswordSpec),
    RandomString(StringSpec),
    Static(StaticSpec),
    Script(ScriptSpec),
}

impl Spec {
    /// The generator's name as written in a Secretfile.
    pub fn type_name(&self) -> &'static str {
        match self {
            Spec::RandomPassword(_) => "random-password",
            Spec::RandomString(_) => "random-string",
            Spec::Static(_) => "static",
            Spec::Script(_) => "script",
        }
    }

    /// What any value this random generator makes looks like, before it is made: its length in
    /// characters and every character it may hold. `None` for `static` and `script`, whose
    /// values are not known in advance.
    pub fn shape(&self) -> Option<(usize, Vec<char>)> {
        match self {
            Spec::RandomPassword(spec) => Some((spec.length, spec.alphabet())),
            Spec::RandomString(spec) => Some((spec.length, spec.charset.chars())),
            Spec::Static(_) | Spec::Script(_) => None,
        }
    }

    /// Every reason this spec cannot produce a value; empty when it can.
    ///
    /// A `static` spec without a value is not listed here: the caller reports that with the
    /// location of the secret, and [`generate`] refuses it with
    /// [`GenerateError::MissingStaticValue`].
    pub fn problems(&self) -> Vec<SpecProblem> {
        match self {
            Spec::RandomPassword(spec) => spec.problems(),
            Spec::RandomString(spec) => spec.problems(),
            Spec::Static(_) => Vec::new(),
            Spec::Script(spec) => spec.problems(),
        }
    }
}

/// One reason a spec cannot produce a value.
///
/// `message` is a whole sentence that names the option and the limit it breaks, so it reads on
/// its own; `option` is the spec field it is about, for pointing at the right key. A problem
/// about a group of options names the group with a wildcard (`include_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub option: &'static str,
    pub message: String,
}

impl SpecProblem {
    fn new(option: &'static str, message: impl Into<String>) -> Self {
        SpecProblem { option, message: message.into() }
    }
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A value written into the Secretfile (or supplied by the caller) and used as it is.
#[derive(Debug, Clone, Default)]
pub struct StaticSpec {
    pub value: Option<SecretString>,
}

/// Why no value could be produced.
///
/// Script errors name the program but never its arguments, which may carry credentials, and
/// never its stdout, which is the secret; they do show the end of its stderr.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the {type_name} spec cannot produce a value: {}", ProblemList(problems))]
    InvalidSpec { type_name: &'static str, problems: Vec<SpecProblem> },

    #[error("the static secret has no value")]
    MissingStaticValue,

    #[error("the operating system's random number generator is not available")]
    Entropy(#[source] SysError),

    #[error("cannot start script `{command}`")]
    ScriptSpawn {
        command: String,
        #[source]
        source: io::Error,
    },

    #[error("cannot run script `{command}` in `{}`", dir.display())]
    ScriptWorkingDir {
        command: String,
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("lost contact with script `{command}` while it ran")]
    ScriptIo {
        command: String,
        #[source]
        source: io::Error,
    },

    #[error("script `{command}` failed ({status}){}", StderrTail(stderr))]
    ScriptFailed { command: String, status: ExitStatus, stderr: String },

    #[error(
        "script `{command}` did not finish within {timeout:?} and was killed{}",
        StderrTail(stderr)
    )]
    ScriptTimeout { command: String, timeout: Duration, stderr: String },

    #[error("script `{command}` printed a value that is not UTF-8 text")]
    ScriptOutputNotUtf8 { command: String },

    #[error("script `{command}` printed more than {limit} bytes, which is not a secret value")]
    ScriptOutputTooLarge { command: String, limit: usize },

    #[error("script `{command}` succeeded but printed an empty value{}", StderrTail(stderr))]
    ScriptEmptyOutput { command: String, stderr: String },
}

/// Produces the value that `spec` describes.
///
/// The spec is checked first, so a caller that skipped [`Spec::problems`] still gets every
/// problem back as [`GenerateError::InvalidSpec`] rather than a wrong value.
pub fn generate(spec: &Spec) -> Result<SecretString, GenerateError> {
    let problems = spec.problems();
    if !problems.is_empty() {
        return Err(GenerateError::InvalidSpec { type_name: spec.type_name(), problems });
    }

    match spec {
        Spec::RandomPassword(spec) => password::generate(spec),
        Spec::RandomString(spec) => string::generate(spec),
        Spec::Static(spec) => spec.value.clone().ok_or(GenerateError::MissingStaticValue),
        Spec::Script(spec) => script::run(spec),
    }
}

/// The length problem shared by both random generators, if any.
fn length_problem(length: usize) -> Option<SpecProblem> {
    (length == 0 || length > MAX_LENGTH).then(|| {
        SpecProblem::new(
            "length",
            format!("length is {length}, but it must be between 1 and {MAX_LENGTH}"),
        )
    })
}

/// Characters that `chars` holds more than once, each listed once, in order of first repeat.
fn duplicates(chars: &str) -> Vec<char> {
    let mut seen = Vec::new();
    let mut repeated = Vec::new();
    for c in chars.chars() {
        if seen.contains(&c) {
            if !repeated.contains(&c) {
                repeated.push(c);
            }
        } else {
            seen.push(c);
        }
    }
    repeated
}

/// Whitespace and control characters in `chars`, each listed once: readers trim or split on
/// whitespace, and control characters are invisible or mangled on the way through a file.
fn unsafe_chars(chars: &str) -> Vec<char> {
    distinct(chars.chars().filter(|c| c.is_whitespace() || c.is_control()))
}

/// The characters of `chars` in order of first appearance, each once.
fn distinct(chars: impl Iterator<Item = char>) -> Vec<char> {
    let mut found = Vec::new();
    for c in chars {
        if !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

/// `'a', 'b'`, with control characters escaped so a problem message stays one readable line.
fn quoted(chars: &[char]) -> String {
    chars.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
}

/// A generator for one value: ChaCha keyed with 256 bits read from the operating system's
/// CSPRNG.
///
/// Reading the kernel for every draw cost about fifty system calls per password, which was most
/// of the time of a sync over many secrets (measured, see docs/performance.md). One read per
/// value keeps the operating system the only source of entropy; the stream cipher stretches it,
/// as the kernel's own generator does. A missing source is an error, not a panic.
fn os_rng() -> Result<StdRng, GenerateError> {
    StdRng::try_from_rng(&mut SysRng).map_err(GenerateError::Entropy)
}

/// A uniformly chosen element of a non-empty slice.
///
/// `Uniform::sample` rejects the biased tail of each draw (Lemire's method), so every element is
/// exactly equally likely. `random_range`, `choose` and `shuffle` use a method that leaves a
/// bias of up to 2^-64 unless rand's `unbiased` feature is on; a secret generator should not
/// depend on a feature flag for that.
fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    let index = Uniform::new(0, items.len()).expect("callers pass a non-empty set").sample(rng);
    items[index]
}

/// Fisher-Yates (Durstenfeld) shuffle over exact uniform indices; see [`pick`] for why rand's own
/// `shuffle` is not used.
fn shuffle<T>(rng: &mut StdRng, items: &mut [T]) {
    for last in (1..items.len()).rev() {
        let other = Uniform::new_inclusive(0, last).expect("0..=last is never empty").sample(rng);
        items.swap(last, other);
    }
}

/// A secret holding exactly `chars`.
///
/// The string is sized exactly before it is filled: `SecretString::from` shrinks a string whose
/// capacity is larger, and that reallocation would leave an unzeroed copy of the value behind.
fn secret_from_chars(chars: &[char]) -> SecretString {
    let mut value = String::with_capacity(chars.iter().map(|c| c.len_utf8()).sum());
    value.extend(chars);
    SecretString::from(value)
}

/// A secret holding a copy of `text`, sized exactly for the reason given at [`secret_from_chars`].
fn secret_from_str(text: &str) -> SecretString {
    let mut value = String::with_capacity(text.len());
    value.push_str(text);
    SecretString::from(value)
}

/// Renders problems as one line: `first; second`.
struct ProblemList<'a>(&'a [SpecProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Renders a script's stderr after an error message: inline when it is one line, indented below
/// the message when it is several, and said to be empty rather than left out when it is.
struct StderrTail<'a>(&'a str);

impl fmt::Display for StderrTail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("; it wrote nothing to stderr");
        }
        if !self.0.contains('\n') {
            return write!(f, "; stderr: {}", self.0);
        }
        f.write_str("; stderr:")?;
        for line in self.0.lines() {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const CANARY: &str = "canary-7f3a9c-value";

    #[test]
    fn type_names_match_the_secretfile_spelling() {
        let specs = [
            Spec::RandomPassword(PasswordSpec::default()),
            Spec::RandomString(StringSpec::default()),
            Spec::Static(StaticSpec::default()),
            Spec::Script(ScriptSpec::default()),
        ];
        let names: Vec<_> = specs.iter().map(Spec::type_name).collect();
        assert_eq!(names, ["random-password", "random-string", "static", "script"]);
    }

    #[test]
    fn static_returns_its_value() {
        let spec = Spec::Static(StaticSpec { value: Some(SecretString::from(CANARY)) });
        assert_eq!(generate(&spec).unwrap().expose_secret(), CANARY);
    }

    #[test]
    fn static_without_value_is_an_error() {
        let error = generate(&Spec::Static(StaticSpec { value: None })).unwrap_err();
        assert!(matches!(error, GenerateError::MissingStaticValue));
        assert_eq!(error.to_string(), "the static secret has no value");
        assert!(Spec::Static(StaticSpec::default()).problems().is_empty());
    }

    #[test]
    fn generate_refuses_a_spec_with_problems() {
        let spec = Spec::RandomString(StringSpec { length: 0, ..StringSpec::default() });
        let error = generate(&spec).unwrap_err();
        let GenerateError::InvalidSpec { type_name, problems } = &error else {
            panic!("expected InvalidSpec, got {error:?}");
        };
        assert_eq!(*type_name, "random-string");
        assert_eq!(problems.len(), 1);
        assert_eq!(
            error.to_string(),
            "the random-string spec cannot produce a value: \
             length is 0, but it must be between 1 and 4096"
        );
    }

    #[test]
    fn debug_of_specs_and_values_never_shows_the_value() {
        let value = SecretString::from(CANARY);
        let spec = Spec::Static(StaticSpec { value: Some(value.clone()) });
        let generated = generate(&spec).unwrap();

        for shown in [format!("{value:?}"), format!("{spec:?}"), format!("{generated:?}")] {
            assert!(!shown.contains(CANARY), "value leaked: {shown}");
            assert!(shown.contains("REDACTED"), "expected a redaction: {shown}");
        }
    }

    #[test]
    fn stderr_tail_renders_inline_indented_or_empty() {
        assert_eq!(StderrTail("").to_string(), "; it wrote nothing to stderr");
        assert_eq!(StderrTail("boom").to_string(), "; stderr: boom");
        assert_eq!(StderrTail("a\nb").to_string(), "; stderr:\n  a\n  b");
    }

    #[test]
    fn shuffle_places_every_item_in_every_position_evenly() {
        // 3 items have 6 orders; 60,000 shuffles put 10,000 in each. Chi-square with 5 degrees
        // of freedom exceeds 150 with probability below 1e-29, so this cannot fail by chance.
        let mut rng = os_rng().unwrap();
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            let mut items = [0u8, 1, 2];
            shuffle(&mut rng, &mut items);
            let order = match items {
                [0, 1, 2] => 0,
                [0, 2, 1] => 1,
                [1, 0, 2] => 2,
                [1, 2, 0] => 3,
                [2, 0, 1] => 4,
                _ => 5,
            };
            counts[order] += 1;
        }
        assert!(chi_square(&counts) < 150.0, "orders are not uniform: {counts:?}");
    }

    /// Pearson's statistic against equal expected counts.
    pub(super) fn chi_square(counts: &[u32]) -> f64 {
        let total: u32 = counts.iter().sum();
        let expected = f64::from(total) / counts.len() as f64;
        counts.iter().map(|&n| (f64::from(n) - expected).powi(2) / expected).sum()
    }
}
