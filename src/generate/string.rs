//! The `random-string` generator: characters drawn uniformly from one named or custom charset,
//! with no class guarantees (tokens, API keys, identifiers).

use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;

use super::{
    DEFAULT_LENGTH, GenerateError, SpecProblem, distinct, duplicates, length_problem, os_rng, pick,
    quoted, secret_from_chars, unsafe_chars,
};

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";

/// The characters a random string is drawn from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Charset {
    /// `A-Z a-z 0-9`
    #[default]
    Alphanumeric,
    /// `A-Z a-z`
    Alpha,
    /// `0-9`
    Numeric,
    /// `0-9 a-f`, lowercase
    Hex,
    /// `A-Z a-z 0-9 - _`, the URL-safe base64 alphabet without padding
    Base64Url,
    /// The given characters (Unicode scalar values), each of which must appear once.
    Custom(String),
}

/// The names a Secretfile may use, in the order the docs list them.
const NAMES: [(&str, Charset); 5] = [
    ("alphanumeric", Charset::Alphanumeric),
    ("alpha", Charset::Alpha),
    ("numeric", Charset::Numeric),
    ("hex", Charset::Hex),
    ("base64url", Charset::Base64Url),
];

impl Charset {
    /// The named charset, or a custom set made of the characters of `s` for any other text.
    pub fn from_name(s: &str) -> Charset {
        NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map_or_else(|| Charset::Custom(s.to_owned()), |(_, charset)| charset.clone())
    }

    /// Every character a string from this charset may hold.
    pub fn chars(&self) -> Vec<char> {
        let text = match self {
            Charset::Alphanumeric => [UPPER, LOWER, DIGITS].concat(),
            Charset::Alpha => [UPPER, LOWER].concat(),
            Charset::Numeric => DIGITS.to_owned(),
            Charset::Hex => [DIGITS, "abcdef"].concat(),
            Charset::Base64Url => [UPPER, LOWER, DIGITS, "-_"].concat(),
            Charset::Custom(chars) => chars.clone(),
        };
        text.chars().collect()
    }
}

/// How to generate a random string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringSpec {
    /// Length in characters (Unicode scalar values), not bytes.
    pub length: usize,
    pub charset: Charset,
}

impl Default for StringSpec {
    fn default() -> Self {
        StringSpec { length: DEFAULT_LENGTH, charset: Charset::default() }
    }
}

impl StringSpec {
    /// Every reason this spec cannot produce a string; empty when it can.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems: Vec<SpecProblem> = length_problem(self.length).into_iter().collect();
        if let Charset::Custom(chars) = &self.charset {
            problems.extend(custom_problems(chars));
        }
        problems
    }
}

fn custom_problems(chars: &str) -> Vec<SpecProblem> {
    // A known name in the wrong case would otherwise silently become a tiny custom set: `Hex`
    // is the three characters H, e and x.
    let folded: String = chars.chars().filter(|c| !matches!(c, '-' | '_')).collect();
    if let Some((name, _)) = NAMES.iter().find(|(name, _)| folded.eq_ignore_ascii_case(name)) {
        let message = format!(
            "charset {chars:?} is not a charset name (names are lowercase, as in {name:?}), and \
             as a custom set of characters it would be far too small"
        );
        return vec![SpecProblem::new("charset", message)];
    }

    if chars.is_empty() {
        return vec![SpecProblem::new("charset", "the custom charset is empty")];
    }

    let mut problems = Vec::new();
    let repeated = duplicates(chars);
    if !repeated.is_empty() {
        // A repeated character would be drawn more often than the others.
        let message = format!("the custom charset lists {} more than once", quoted(&repeated));
        problems.push(SpecProblem::new("charset", message));
    }

    let unsafe_found = unsafe_chars(chars);
    if !unsafe_found.is_empty() {
        let message = format!(
            "the custom charset contains whitespace or control characters: {}",
            quoted(&unsafe_found)
        );
        problems.push(SpecProblem::new("charset", message));
    }

    if distinct(chars.chars()).len() == 1 {
        problems.push(SpecProblem::new(
            "charset",
            "the custom charset has a single distinct character, so every value would be the same",
        ));
    }
    problems
}

/// Draws a string for a spec without problems.
pub(super) fn generate(spec: &StringSpec) -> Result<SecretString, GenerateError> {
    let charset = spec.charset.chars();
    let mut rng = os_rng()?;

    let mut chars = Zeroizing::new(Vec::with_capacity(spec.length));
    for _ in 0..spec.length {
        chars.push(pick(&mut rng, &charset));
    }

    Ok(secret_from_chars(&chars))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::tests::chi_square;
    use super::*;

    fn draw(length: usize, charset: Charset) -> String {
        let spec = StringSpec { length, charset };
        assert_eq!(spec.problems(), []);
        generate(&spec).unwrap().expose_secret().to_owned()
    }

    fn custom(chars: &str) -> Charset {
        Charset::Custom(chars.to_owned())
    }

    fn problem(message: &str) -> SpecProblem {
        SpecProblem::new("charset", message)
    }

    #[test]
    fn from_name_knows_the_documented_names_only() {
        assert_eq!(Charset::from_name("alphanumeric"), Charset::Alphanumeric);
        assert_eq!(Charset::from_name("alpha"), Charset::Alpha);
        assert_eq!(Charset::from_name("numeric"), Charset::Numeric);
        assert_eq!(Charset::from_name("hex"), Charset::Hex);
        assert_eq!(Charset::from_name("base64url"), Charset::Base64Url);
        assert_eq!(Charset::from_name("abc!"), custom("abc!"));
        assert_eq!(Charset::from_name("HEX"), custom("HEX"));
    }

    #[test]
    fn default_spec_gives_32_alphanumeric_characters() {
        let spec = StringSpec::default();
        assert_eq!(spec.problems(), []);
        let value = generate(&spec).unwrap();
        assert_eq!(value.expose_secret().len(), 32);
        assert!(value.expose_secret().chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn every_charset_draws_all_of_its_characters_and_nothing_else() {
        // 4096 draws from at most 64 characters: a given one is missed with probability
        // below e^-64.
        let cases = [
            (Charset::Alphanumeric, [UPPER, LOWER, DIGITS].concat()),
            (Charset::Alpha, [UPPER, LOWER].concat()),
            (Charset::Numeric, DIGITS.to_owned()),
            (Charset::Hex, "0123456789abcdef".to_owned()),
            (Charset::Base64Url, [UPPER, LOWER, DIGITS, "-_"].concat()),
            (custom("xy€🦀"), "xy€🦀".to_owned()),
        ];
        for (charset, expected) in cases {
            let value = draw(4096, charset.clone());
            assert_eq!(value.chars().count(), 4096, "{charset:?}");
            assert!(value.chars().all(|c| expected.contains(c)), "{charset:?} drew a stranger");
            assert!(expected.chars().all(|c| value.contains(c)), "{charset:?} missed one");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        for length in [1, 7, 32, 4096] {
            assert_eq!(draw(length, custom("€🦀")).chars().count(), length);
        }
    }

    #[test]
    fn custom_charset_is_uniform() {
        // 102,400 draws over 3 characters. Chi-square with 2 degrees of freedom exceeds 100
        // with probability e^-50 (about 2e-22): a failure means bias, never bad luck.
        let mut counts = [0u32; 3];
        for _ in 0..25 {
            for c in draw(4096, custom("ab€")).chars() {
                counts["ab€".chars().position(|x| x == c).unwrap()] += 1;
            }
        }
        assert!(chi_square(&counts) < 100.0, "draws are not uniform: {counts:?}");
    }

    #[test]
    fn length_out_of_range_is_a_problem() {
        for length in [0, 4097] {
            let spec = StringSpec { length, ..StringSpec::default() };
            let message = format!("length is {length}, but it must be between 1 and 4096");
            assert_eq!(spec.problems(), [SpecProblem::new("length", message)]);
        }
    }

    #[test]
    fn bad_custom_charsets_are_problems() {
        let problems = |chars: &str| StringSpec { length: 8, charset: custom(chars) }.problems();

        assert_eq!(problems(""), [problem("the custom charset is empty")]);
        assert_eq!(
            problems("abca b"),
            [
                problem("the custom charset lists 'a', 'b' more than once"),
                problem("the custom charset contains whitespace or control characters: ' '"),
            ]
        );
        assert_eq!(
            problems("zz"),
            [
                problem("the custom charset lists 'z' more than once"),
                problem(
                    "the custom charset has a single distinct character, so every value would \
                     be the same"
                ),
            ]
        );
        assert_eq!(
            problems("Base64-URL"),
            [problem(
                "charset \"Base64-URL\" is not a charset name (names are lowercase, as in \
                 \"base64url\"), and as a custom set of characters it would be far too small"
            )]
        );
    }
}
