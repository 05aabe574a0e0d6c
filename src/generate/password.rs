//! The `random-password` generator: characters drawn from the enabled classes (upper, lower,
//! numbers, symbols), with at least one from each, minus the excluded characters.

use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;

use super::{
    DEFAULT_LENGTH, GenerateError, SpecProblem, distinct, duplicates, length_problem, os_rng, pick,
    quoted, secret_from_chars, shuffle, unsafe_chars,
};

/// Symbols used when a spec does not list its own.
///
/// A generated password is written into dotenv files (read by dotenvy, python-dotenv and
/// docker compose `env_file`), JSON, YAML 1.1 and 1.2, TOML and Terraform `.tfvars`. This set
/// holds only symbols that need no escape inside the ordinary quoted form of every one of them,
/// so a correct writer never has to transform the value and a reader can never misread it:
///
/// - `$` is left out: dotenv readers and compose interpolate `$VAR` and `${VAR}`, and HCL
///   interpolates `${`.
/// - `'`, `"`, `\` and the backtick are left out: they end or escape quoted strings, and the
///   dotenv readers disagree on which escapes they honour inside which quotes.
/// - `%` is left out: HCL reads `%{` as a template directive inside a quoted string, and `%`
///   is an expansion marker in systemd units, Windows batch files and Python's configparser,
///   where such values also end up.
/// - Whitespace is left out: unquoted readers trim or split on it.
///
/// `{` stays: without `$` and `%` in the set it cannot start an interpolation anywhere. `#`,
/// `!`, `&`, `*`, `:` and the brackets mean something in plain (unquoted) YAML or dotenv
/// values, and need only quoting there, which every writer does for a secret anyway.
pub const DEFAULT_SYMBOLS: &str = "!#&()*+,-./:;<=>?@[]^_{|}~";

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const NUMBERS: &str = "0123456789";

/// How to generate a random password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSpec {
    /// Length in characters (Unicode scalar values), not bytes.
    pub length: usize,
    pub include_upper: bool,
    pub include_lower: bool,
    pub include_numbers: bool,
    pub include_symbols: bool,
    /// Characters removed from every class.
    pub exclude_characters: String,
    /// Replaces [`DEFAULT_SYMBOLS`] as the symbol class; `None` keeps the default.
    pub symbols: Option<String>,
}

impl Default for PasswordSpec {
    fn default() -> Self {
        PasswordSpec {
            length: DEFAULT_LENGTH,
            include_upper: true,
            include_lower: true,
            include_numbers: true,
            include_symbols: true,
            exclude_characters: String::new(),
            symbols: None,
        }
    }
}

/// One enabled character class, with the excluded characters already removed.
struct Class {
    name: &'static str,
    /// The class before exclusions, to tell an emptied class from an empty `symbols`.
    declared: bool,
    chars: Vec<char>,
}

impl PasswordSpec {
    /// Every reason this spec cannot produce a password; empty when it can.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems: Vec<SpecProblem> = length_problem(self.length).into_iter().collect();
        if let Some(symbols) = &self.symbols {
            problems.extend(self.symbol_problems(symbols));
        }

        let classes = self.classes();
        if classes.is_empty() {
            problems.push(SpecProblem::new(
                "include_*",
                "every character class is disabled; enable at least one of include_upper, \
                 include_lower, include_numbers and include_symbols",
            ));
        }
        for class in classes.iter().filter(|class| class.declared && class.chars.is_empty()) {
            problems.push(SpecProblem::new(
                "exclude_characters",
                format!(
                    "exclude_characters removes every character of the enabled {} class",
                    class.name
                ),
            ));
        }

        // Checked only for a length that is otherwise valid, so one mistake gives one problem.
        let usable: Vec<&str> =
            classes.iter().filter(|class| !class.chars.is_empty()).map(|c| c.name).collect();
        if length_problem(self.length).is_none() && self.length < usable.len() {
            problems.push(SpecProblem::new(
                "length",
                format!(
                    "length is {}, but the {} enabled character classes ({}) need at least one \
                     character each",
                    self.length,
                    usable.len(),
                    usable.join(", ")
                ),
            ));
        }
        problems
    }

    /// Problems of a custom symbol set, checked whether or not symbols are enabled, since a
    /// bad set is a mistake either way.
    fn symbol_problems(&self, symbols: &str) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if symbols.is_empty() && self.include_symbols {
            problems.push(SpecProblem::new(
                "symbols",
                "symbols is empty, but include_symbols is enabled",
            ));
        }

        let repeated = duplicates(symbols);
        if !repeated.is_empty() {
            // A repeated symbol would be drawn more often than the others.
            problems.push(SpecProblem::new(
                "symbols",
                format!("symbols lists {} more than once", quoted(&repeated)),
            ));
        }

        let unsafe_found = unsafe_chars(symbols);
        if !unsafe_found.is_empty() {
            problems.push(SpecProblem::new(
                "symbols",
                format!(
                    "symbols contains whitespace or control characters: {}",
                    quoted(&unsafe_found)
                ),
            ));
        }

        // A letter among the symbols could stand in for the one required symbol, and would be
        // drawn twice as often as its neighbours from the letter class.
        let alphanumeric = distinct(symbols.chars().filter(char::is_ascii_alphanumeric));
        if !alphanumeric.is_empty() {
            problems.push(SpecProblem::new(
                "symbols",
                format!(
                    "symbols contains letters or digits ({}), which belong to the upper, lower \
                     and numbers classes",
                    quoted(&alphanumeric)
                ),
            ));
        }
        problems
    }

    /// Every character a password from this spec may hold.
    pub fn alphabet(&self) -> Vec<char> {
        self.classes().into_iter().flat_map(|class| class.chars).collect()
    }

    /// The enabled classes in a fixed order, each without the excluded characters.
    fn classes(&self) -> Vec<Class> {
        let symbols = self.symbols.as_deref().unwrap_or(DEFAULT_SYMBOLS);
        [
            (self.include_upper, "upper", UPPER),
            (self.include_lower, "lower", LOWER),
            (self.include_numbers, "numbers", NUMBERS),
            (self.include_symbols, "symbols", symbols),
        ]
        .into_iter()
        .filter(|(enabled, _, _)| *enabled)
        .map(|(_, name, chars)| Class {
            name,
            declared: !chars.is_empty(),
            chars: chars.chars().filter(|c| !self.exclude_characters.contains(*c)).collect(),
        })
        .collect()
    }
}

/// Draws a password for a spec without problems.
pub(super) fn generate(spec: &PasswordSpec) -> Result<SecretString, GenerateError> {
    let classes = spec.classes();
    // The classes are disjoint once `problems` passed, so the union has no repeats to skew it.
    let union: Vec<char> = classes.iter().flat_map(|class| class.chars.iter().copied()).collect();
    let mut rng = os_rng()?;

    // One draw per class guarantees each class appears; the shuffle then hides which positions
    // those guaranteed draws took.
    let mut chars = Zeroizing::new(Vec::with_capacity(spec.length));
    for class in &classes {
        chars.push(pick(&mut rng, &class.chars));
    }
    while chars.len() < spec.length {
        chars.push(pick(&mut rng, &union));
    }
    shuffle(&mut rng, &mut chars);

    Ok(secret_from_chars(&chars))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::tests::chi_square;
    use super::*;

    fn draw(spec: &PasswordSpec) -> String {
        assert_eq!(spec.problems(), []);
        generate(spec).unwrap().expose_secret().to_owned()
    }

    fn problem(option: &'static str, message: &str) -> SpecProblem {
        SpecProblem::new(option, message)
    }

    #[test]
    fn default_symbols_hold_no_character_any_format_treats_specially() {
        for c in ['$', '\'', '"', '\\', '`', '%', ' ', '\t', '\n'] {
            assert!(!DEFAULT_SYMBOLS.contains(c), "{c:?} is in DEFAULT_SYMBOLS");
        }
        assert!(DEFAULT_SYMBOLS.chars().all(|c| c.is_ascii_punctuation()));
        assert_eq!(duplicates(DEFAULT_SYMBOLS), Vec::<char>::new());
        assert_eq!(DEFAULT_SYMBOLS.len(), 26);
    }

    #[test]
    fn default_spec_has_no_problems_and_gives_32_characters() {
        let spec = PasswordSpec::default();
        assert_eq!(draw(&spec).chars().count(), 32);
    }

    #[test]
    fn length_is_exact() {
        for length in [4, 5, 17, 64, 4096] {
            let spec = PasswordSpec { length, ..PasswordSpec::default() };
            assert_eq!(draw(&spec).chars().count(), length);
        }
        assert_eq!(draw(&PasswordSpec { length: 1, ..only_numbers() }).chars().count(), 1);
    }

    fn only_numbers() -> PasswordSpec {
        PasswordSpec {
            include_upper: false,
            include_lower: false,
            include_symbols: false,
            ..PasswordSpec::default()
        }
    }

    #[test]
    fn every_enabled_class_appears_in_every_password() {
        // At length 4 each class gets exactly its guaranteed character, the tightest case.
        let spec = PasswordSpec { length: 4, ..PasswordSpec::default() };
        for _ in 0..2_000 {
            let password = draw(&spec);
            for class in [UPPER, LOWER, NUMBERS, DEFAULT_SYMBOLS] {
                let count = password.chars().filter(|c| class.contains(*c)).count();
                assert_eq!(count, 1, "one character of {class} expected");
            }
        }
    }

    #[test]
    fn every_character_of_every_class_is_drawn() {
        // 88 characters, 12,800 draws: a given one is missed with probability below e^-145.
        let spec = PasswordSpec { length: 64, ..PasswordSpec::default() };
        let seen: String = (0..200).map(|_| draw(&spec)).collect();
        for c in [UPPER, LOWER, NUMBERS, DEFAULT_SYMBOLS].concat().chars() {
            assert!(seen.contains(c), "{c:?} never drawn");
        }
    }

    #[test]
    fn disabled_classes_never_appear() {
        let spec =
            PasswordSpec { include_upper: false, include_symbols: false, ..Default::default() };
        for _ in 0..200 {
            let password = draw(&spec);
            assert!(password.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        }
    }

    #[test]
    fn excluded_characters_never_appear() {
        let excluded = "0O1lI|/.:aeiou";
        let spec = PasswordSpec {
            length: 128,
            exclude_characters: excluded.to_owned(),
            ..PasswordSpec::default()
        };
        for _ in 0..300 {
            let password = draw(&spec);
            assert!(!password.chars().any(|c| excluded.contains(c)), "excluded char drawn");
        }
    }

    #[test]
    fn custom_symbols_replace_the_default_set() {
        let spec =
            PasswordSpec { length: 64, symbols: Some("@€".to_owned()), ..Default::default() };
        let drawn: String = (0..200).map(|_| draw(&spec)).collect();
        assert!(drawn.contains('@') && drawn.contains('€'));
        let others = DEFAULT_SYMBOLS.chars().filter(|c| *c != '@');
        for c in others {
            assert!(!drawn.contains(c), "default symbol {c:?} drawn");
        }

        let symbols_only = PasswordSpec { symbols: Some("@€".to_owned()), ..only_symbols() };
        assert!(draw(&symbols_only).chars().all(|c| c == '@' || c == '€'));
    }

    fn only_symbols() -> PasswordSpec {
        PasswordSpec {
            include_upper: false,
            include_lower: false,
            include_numbers: false,
            ..PasswordSpec::default()
        }
    }

    #[test]
    fn guaranteed_characters_land_in_every_position_evenly() {
        // With one number and one symbol in a 2-character password, the number is first half
        // the time. Chi-square with 1 degree of freedom exceeds 100 with probability ~1e-23.
        let spec = PasswordSpec { length: 2, include_numbers: true, ..only_symbols() };
        let mut first = [0u32; 2];
        for _ in 0..20_000 {
            let password = draw(&spec);
            let starts_with_number = password.starts_with(|c: char| c.is_ascii_digit());
            first[usize::from(starts_with_number)] += 1;
        }
        assert!(chi_square(&first) < 100.0, "positions are not uniform: {first:?}");
    }

    #[test]
    fn length_shorter_than_the_enabled_classes_is_a_problem() {
        let spec = PasswordSpec { length: 2, include_symbols: false, ..Default::default() };
        assert_eq!(
            spec.problems(),
            [problem(
                "length",
                "length is 2, but the 3 enabled character classes (upper, lower, numbers) need \
                 at least one character each"
            )]
        );
    }

    #[test]
    fn length_out_of_range_is_a_problem() {
        for length in [0, 4097] {
            let spec = PasswordSpec { length, ..PasswordSpec::default() };
            let message = format!("length is {length}, but it must be between 1 and 4096");
            assert_eq!(spec.problems(), [problem("length", &message)]);
        }
    }

    #[test]
    fn no_enabled_class_is_a_problem() {
        let spec = PasswordSpec { include_symbols: false, ..only_symbols() };
        assert_eq!(
            spec.problems(),
            [problem(
                "include_*",
                "every character class is disabled; enable at least one of include_upper, \
                 include_lower, include_numbers and include_symbols"
            )]
        );
    }

    #[test]
    fn a_class_emptied_by_exclusions_is_a_problem() {
        let spec = PasswordSpec {
            exclude_characters: format!("{NUMBERS}{DEFAULT_SYMBOLS}"),
            ..PasswordSpec::default()
        };
        assert_eq!(
            spec.problems(),
            [
                problem(
                    "exclude_characters",
                    "exclude_characters removes every character of the enabled numbers class"
                ),
                problem(
                    "exclude_characters",
                    "exclude_characters removes every character of the enabled symbols class"
                ),
            ]
        );
    }

    #[test]
    fn bad_custom_symbols_are_problems() {
        let spec = PasswordSpec { symbols: Some("!a !\t1!".to_owned()), ..Default::default() };
        assert_eq!(
            spec.problems(),
            [
                problem("symbols", "symbols lists '!' more than once"),
                problem("symbols", "symbols contains whitespace or control characters: ' ', '\\t'"),
                problem(
                    "symbols",
                    "symbols contains letters or digits ('a', '1'), which belong to the upper, \
                     lower and numbers classes"
                ),
            ]
        );

        let empty = PasswordSpec { symbols: Some(String::new()), ..Default::default() };
        assert_eq!(
            empty.problems(),
            [problem("symbols", "symbols is empty, but include_symbols is enabled")]
        );
        let unused = PasswordSpec { symbols: Some(String::new()), include_symbols: false, ..empty };
        assert_eq!(unused.problems(), []);
    }
}
