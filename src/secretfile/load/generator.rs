//! Generator definitions, checked against what each generator can do.

use super::*;

impl Walker {
    pub(super) fn generator(&mut self, node: &Node, owner: &str) -> Option<generate::Spec> {
        let entries = self.entries(node, &format!("the generator of {owner}"))?;
        let type_node = entries.iter().find(|(k, _)| k.name == "type").map(|(_, v)| v);
        let Some(type_node) = type_node else {
            self.error(
                "secretfile/missing-key",
                node.loc,
                format!("the generator of {owner} has no `type`"),
            )
            .set_help(format!("set `type:` to one of: {}", GENERATOR_TYPES.join(", ")));
            return None;
        };
        let kind = self.string(type_node, "the generator `type`")?;
        let allowed: &[&str] = match kind.as_str() {
            "random-password" => &[
                "type",
                "length",
                "include_upper",
                "include_lower",
                "include_numbers",
                "include_symbols",
                "exclude_characters",
                "symbols",
            ],
            "random-string" => &["type", "length", "charset"],
            "static" => &["type", "value"],
            "script" => &["type", "command", "args", "timeout"],
            _ => {
                self.unknown(
                    "secretfile/unknown-generator",
                    type_node.loc,
                    format!("{owner} has unknown generator type `{kind}`"),
                    &kind,
                    GENERATOR_TYPES,
                );
                return None;
            }
        };
        let what = format!("the {kind} generator of {owner}");
        let object = self.object(node, &what, allowed)?;
        let before = self.findings.len();

        let spec = match kind.as_str() {
            "random-password" => self.password(&object, node, owner),
            "random-string" => self.random_string(&object, node, owner),
            "static" => self.static_value(&object),
            _ => self.script(&object, node, owner),
        };
        spec.filter(|_| self.findings.len() == before)
    }

    pub(super) fn password(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        owner: &str,
    ) -> Option<generate::Spec> {
        let mut spec = PasswordSpec::default();
        if let Some(n) = object.get("length") {
            spec.length = self.count(n, "`length`", generate::MAX_LENGTH)?;
        }
        for (option, slot) in [
            ("include_upper", &mut spec.include_upper),
            ("include_lower", &mut spec.include_lower),
            ("include_numbers", &mut spec.include_numbers),
            ("include_symbols", &mut spec.include_symbols),
        ] {
            if let Some(n) = object.get(option) {
                *slot = self.bool(n, &format!("`{option}`"))?;
            }
        }
        if let Some(n) = object.get("exclude_characters") {
            spec.exclude_characters = self.string(n, "`exclude_characters`")?;
        }
        if let Some(n) = object.get("symbols") {
            spec.symbols = Some(self.string(n, "`symbols`")?);
        }
        // Most secrets share a few generator settings; checking each setting once is enough.
        if self.last_valid_password.as_ref() != Some(&spec) {
            let problems = spec.problems();
            if problems.is_empty() {
                self.last_valid_password = Some(spec.clone());
            }
            self.problems(
                problems,
                object,
                node,
                &format!("the random-password generator of {owner}"),
            );
        }
        Some(generate::Spec::RandomPassword(spec))
    }

    pub(super) fn random_string(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        owner: &str,
    ) -> Option<generate::Spec> {
        let mut spec = StringSpec::default();
        if let Some(n) = object.get("length") {
            spec.length = self.count(n, "`length`", generate::MAX_LENGTH)?;
        }
        if let Some(n) = object.get("charset") {
            let text = self.string(n, "`charset`")?;
            spec.charset = Charset::from_name(&text);
            // A word close to a charset name is a typo, not a set of eleven letters.
            const NAMES: &[&str] = &["alphanumeric", "alpha", "numeric", "hex", "base64url"];
            let word = text.chars().all(|c| c.is_ascii_alphanumeric()) && text.len() >= 3;
            if matches!(spec.charset, Charset::Custom(_))
                && word
                && did_you_mean(&text.to_ascii_lowercase(), NAMES).is_some()
            {
                self.unknown(
                    "secretfile/generator",
                    n.loc,
                    format!("unknown charset `{text}` in the random-string generator of {owner}"),
                    &text.to_ascii_lowercase(),
                    NAMES,
                );
                return None;
            }
        }
        let problems = spec.problems();
        self.problems(problems, object, node, &format!("the random-string generator of {owner}"));
        Some(generate::Spec::RandomString(spec))
    }

    /// A generator's problems, each at the option it is about (else at the generator).
    fn problems(
        &mut self,
        problems: Vec<generate::SpecProblem>,
        object: &Object<'_>,
        node: &Node,
        what: &str,
    ) {
        for problem in problems {
            let loc = object.get(problem.option).map_or(node.loc, |n| n.loc);
            self.error("secretfile/generator", loc, format!("{what}: {}", problem.message));
        }
    }

    pub(super) fn static_value(&mut self, object: &Object<'_>) -> Option<generate::Spec> {
        let value = match object.get("value") {
            Some(value_node) => {
                Some(SecretString::from(self.string(value_node, "a static `value`")?))
            }
            None => None,
        };
        // Not a load error: the value may come from the environment at sync time, or already
        // be recorded and in place. `validate` reports it when neither holds; a sync that
        // needs it and cannot find it fails for that secret.
        Some(generate::Spec::Static(StaticSpec { value }))
    }

    pub(super) fn script(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        owner: &str,
    ) -> Option<generate::Spec> {
        let Some(command_node) = object.get("command") else {
            self.error(
                "secretfile/missing-key",
                node.loc,
                format!("the script generator of {owner} has no `command`"),
            );
            return None;
        };
        let command = self.string(command_node, "`command`")?;
        if command.trim().is_empty() {
            self.error("secretfile/script", command_node.loc, "`command` is empty".into());
            return None;
        }
        let mut args = Vec::new();
        if let Some(args_node) = object.get("args") {
            let items = self.items(args_node, "`args`")?;
            for item in items {
                args.push(self.string(item, "an argument")?);
            }
        }
        let mut timeout = Duration::from_secs(30);
        if let Some(n) = object.get("timeout") {
            timeout = match &n.kind {
                Kind::Int(seconds) if (1..=3600).contains(seconds) => {
                    Duration::from_secs(*seconds as u64)
                }
                Kind::Str(text) => match humantime::parse_duration(text) {
                    Ok(d) if d > Duration::ZERO && d <= Duration::from_secs(3600) => d,
                    _ => {
                        self.error(
                            "secretfile/limit",
                            n.loc,
                            format!(
                                "`timeout` `{text}` must be a duration between 1s and 1h, \
                                 such as 30s"
                            ),
                        );
                        return None;
                    }
                },
                _ => {
                    self.error(
                        "secretfile/limit",
                        n.loc,
                        "`timeout` must be seconds between 1 and 3600, or a duration such as 30s"
                            .into(),
                    );
                    return None;
                }
            };
        }
        Some(generate::Spec::Script(ScriptSpec {
            command,
            args,
            timeout,
            working_dir: Some(self.dir.clone()),
        }))
    }
}
