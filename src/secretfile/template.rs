//! Rendering `{{ env.X }}` and `{{ var.x }}` inside strings the YAML parser already produced.
//!
//! Rendering happens after parsing, one scalar at a time, so a value (an environment variable
//! holding a newline and `targets: []`, say) can never change the document's structure.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value};

pub struct Templater {
    env: Environment<'static>,
    environment: BTreeMap<String, String>,
    variables: BTreeMap<String, String>,
    /// The context, built once per new variable rather than once per rendered string.
    context: Value,
}

/// Why a string could not be rendered.
#[derive(Debug)]
pub enum TemplateError {
    /// Names used but not defined, such as `var.enviroment`.
    Undefined {
        names: Vec<String>,
        known_variables: Vec<String>,
    },
    Syntax(String),
}

impl Templater {
    pub fn new(environment: BTreeMap<String, String>) -> Templater {
        let mut env = Environment::new();
        // Semi-strict: printing an undefined name fails, but `env.X or 'default'` works.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // Values go into files, not HTML: never escape.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let mut templater =
            Templater { env, environment, variables: BTreeMap::new(), context: Value::UNDEFINED };
        templater.rebuild_context();
        templater
    }

    fn rebuild_context(&mut self) {
        self.context = minijinja::context! {
            env => Value::from(self.environment.clone()),
            var => Value::from(self.variables.clone()),
        };
    }

    pub fn from_process_env() -> Templater {
        Templater::new(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    pub fn define(&mut self, name: &str, value: String) {
        self.variables.insert(name.to_string(), value);
        self.rebuild_context();
    }

    /// Whether a string needs rendering at all: most do not, and skipping them keeps large
    /// Secretfiles fast.
    pub fn is_template(text: &str) -> bool {
        text.contains("{{") || text.contains("{%") || text.contains("{#")
    }

    pub fn render(&self, text: &str) -> Result<String, TemplateError> {
        if !Templater::is_template(text) {
            return Ok(text.to_string());
        }
        let template =
            self.env.template_from_str(text).map_err(|e| TemplateError::Syntax(describe(&e)))?;
        template.render(&self.context).map_err(|error| {
            if error.kind() != minijinja::ErrorKind::UndefinedError {
                return TemplateError::Syntax(describe(&error));
            }
            let names = template
                .undeclared_variables(true)
                .into_iter()
                .filter(|name| !self.is_defined(name))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            TemplateError::Undefined {
                names,
                known_variables: self.variables.keys().cloned().collect(),
            }
        })
    }

    fn is_defined(&self, dotted: &str) -> bool {
        match dotted.split_once('.') {
            Some(("env", name)) => self.environment.contains_key(name),
            Some(("var", name)) => self.variables.contains_key(name),
            _ => matches!(dotted, "env" | "var"),
        }
    }
}

/// minijinja's own description, without the template source it may quote.
fn describe(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templater() -> Templater {
        let mut t = Templater::new(BTreeMap::from([("REGION".into(), "eu-west-1".into())]));
        t.define("environment", "prod".into());
        t
    }

    #[test]
    fn renders_env_and_var() {
        let out = templater().render("/{{ var.environment }}/{{ env.REGION }}").unwrap();
        assert_eq!(out, "/prod/eu-west-1");
    }

    #[test]
    fn or_gives_a_default_for_an_unset_variable() {
        let t = templater();
        assert_eq!(t.render("{{ env.MISSING or 'dev' }}").unwrap(), "dev");
        assert_eq!(t.render("{{env.REGION or 'x'}}").unwrap(), "eu-west-1");
    }

    #[test]
    fn undefined_names_are_named() {
        match templater().render("/{{ var.enviroment }}/db") {
            Err(TemplateError::Undefined { names, known_variables }) => {
                assert_eq!(names, ["var.enviroment"]);
                assert_eq!(known_variables, ["environment"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn plain_strings_are_not_touched() {
        assert_eq!(templater().render("a {b} $c").unwrap(), "a {b} $c");
    }

    #[test]
    fn values_are_not_html_escaped() {
        let t = Templater::new(BTreeMap::from([("X".into(), "<a&'\">".into())]));
        assert_eq!(t.render("{{ env.X }}").unwrap(), "<a&'\">");
    }
}
