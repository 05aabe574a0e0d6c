//! The `gitlab-variable` target: a GitLab CI/CD variable of a project or a group.
//!
//! A one-value secret is one variable, `key` (default: the secret's name upper-cased, other
//! characters made `_`). A secret with fields is one variable per field, `<key>_<FIELD>`
//! (`DB_USERNAME`, `DB_PASSWORD`), which is how CI jobs consume variables; a JSON value would
//! need parsing in every job and could never be masked.
//!
//! A key can exist once per environment scope; every read and update names the target's scope
//! with `filter[environment_scope]`, so the same key in another scope is never touched. Each
//! write sends all the variable's attributes (`protected`, `masked`, `raw`, `variable_type`,
//! and `description` when set), so the Secretfile decides them; the engine writes a target
//! whose attributes alone changed in the Secretfile. Attributes changed in the UI are not
//! read back.
//!
//! GitLab's masking rules are checked before any request, and a value that cannot be masked
//! is refused, never written unmasked. A masked and hidden variable never shows its value
//! again, so it reads as sealed.

use std::sync::Arc;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead, partly_written};
use crate::provider::gitlab::{Gitlab, Reply, failure};
use crate::provider::http::segment;
use crate::provider::{Limiter, RemoteError, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret, field_variable};

/// GitLab.com allows 2,000 authenticated API requests a minute per user (about 33 a second;
/// "GitLab.com rate limits"). Four in flight at about 100 ms a request stay under it, and
/// leave room for the token's other users. Raise it with `max_in_flight` on a self-managed
/// instance.
const DEFAULT_IN_FLIGHT: usize = 4;
/// The API's limit on `key` (project- and group-level variables API: "no more than 255
/// characters; only A-Z, a-z, 0-9, and _").
const MAX_KEY: usize = 255;
/// `Ci::Variable` validates `description` to at most 255 characters.
const MAX_DESCRIPTION: usize = 255;
/// GitLab masks only values of at least 8 characters ("Mask a CI/CD variable").
const MIN_MASKED: usize = 8;

#[derive(Debug, Clone)]
struct VariableStore {
    gitlab: Arc<Gitlab>,
}

pub(crate) fn connect(provider: &Provider) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let gitlab = Arc::new(Gitlab::new(provider)?);
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    Ok((Arc::new(VariableStore { gitlab }), Limiter::new(limit)))
}

type Options = indexmap::IndexMap<String, String>;

fn option<'a>(options: &'a Options, name: &str) -> Option<&'a str> {
    options.get(name).map(String::as_str)
}

fn flag(options: &Options, name: &str) -> bool {
    option(options, name) == Some("true")
}

/// `projects/<id>` or `groups/<id>`, the id encoded, and the target's name for messages.
fn owner(options: &Options) -> Result<(String, String), String> {
    match (option(options, "project"), option(options, "group")) {
        (Some(project), None) if !project.trim().is_empty() => {
            Ok((format!("projects/{}", segment(project)), format!("project `{project}`")))
        }
        (None, Some(group)) if !group.trim().is_empty() => {
            Ok((format!("groups/{}", segment(group)), format!("group `{group}`")))
        }
        (Some(_), Some(_)) => Err("set `project` or `group`, not both".into()),
        _ => Err("set `project` (an id or a full path) or `group`".into()),
    }
}

fn scope(options: &Options) -> &str {
    option(options, "environment_scope").unwrap_or("*")
}

/// The variable as messages name it: "gitlab-variable `API_KEY` of project `group/app`
/// (scope `*`)".
fn describe(options: &Options, name: &str) -> String {
    let owner = match (option(options, "project"), option(options, "group")) {
        (Some(project), _) => format!("project `{project}`"),
        (None, Some(group)) => format!("group `{group}`"),
        (None, None) => "no project or group".into(),
    };
    format!("gitlab-variable `{name}` of {owner} (scope `{}`)", scope(options))
}

/// The variable that holds each field: `key` for a one-value secret, `<key>_<FIELD>`
/// otherwise.
fn variables<'a>(
    key: &str,
    single: bool,
    fields: impl Iterator<Item = &'a str>,
) -> Vec<(String, String)> {
    fields
        .map(|field| {
            let name = match single {
                true => key.to_string(),
                false => field_variable(key, field),
            };
            (field.to_string(), name)
        })
        .collect()
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    if key.chars().count() > MAX_KEY {
        return Err(format!(
            "the key `{key}` is {} characters; GitLab allows at most {MAX_KEY}",
            key.chars().count()
        ));
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "the key `{key}` may hold only letters, digits and `_` (GitLab's rule)"
        ));
    }
    Ok(())
}

/// Why GitLab would refuse to mask `value`, if it would (`Ci::Maskable`, as the docs' "Mask a
/// CI/CD variable" describes): at least 8 characters, one line without whitespace, and, unless
/// the variable is `raw`, only the Base64 alphabet (RFC 4648) with `@`, `:`, `.` and `~`.
fn unmaskable(value: &str, raw: bool) -> Option<String> {
    let length = value.chars().count();
    if length < MIN_MASKED {
        return Some(format!(
            "GitLab masks only values of at least {MIN_MASKED} characters; it has {length}"
        ));
    }
    if value.chars().any(char::is_whitespace) {
        return Some("GitLab masks only one line without spaces or other whitespace".into());
    }
    let expandable = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '+' | '/' | '=' | '-' | '_' | '@' | ':' | '.' | '~')
    };
    if !raw && !value.chars().all(expandable) {
        return Some(
            "GitLab masks a variable that is not `raw` only when its value holds letters, digits \
             and `+ / = - _ @ : . ~`; set `raw: \"true\"` to mask any value without whitespace"
                .into(),
        );
    }
    None
}

/// The attributes every write sends, so the Secretfile decides them all.
fn attributes(options: &Options, value: &SecretString) -> Map<String, Value> {
    let hidden = flag(options, "masked_and_hidden");
    let mut body = Map::new();
    body.insert("value".into(), Value::String(value.expose_secret().to_string()));
    body.insert("protected".into(), Value::Bool(flag(options, "protected")));
    body.insert("masked".into(), Value::Bool(flag(options, "masked") || hidden));
    body.insert("raw".into(), Value::Bool(flag(options, "raw")));
    let kind = option(options, "variable_type").unwrap_or("env_var");
    body.insert("variable_type".into(), Value::String(kind.into()));
    body.insert("environment_scope".into(), Value::String(scope(options).into()));
    if let Some(description) = option(options, "description") {
        body.insert("description".into(), Value::String(description.into()));
    }
    body
}

/// What a read found in one variable's place.
enum Held {
    Absent,
    /// Masked and hidden: GitLab never shows the value again.
    Hidden,
    Value(SecretString),
    /// The project or group is not there for this token.
    NoOwner(String),
}

/// A 404 that says the variable is not there, rather than the project or group.
fn variable_missing(reply: &Reply) -> bool {
    reply.status == 404
        && reply.body["message"].as_str().is_some_and(|m| m.contains("Variable Not Found"))
}

impl VariableStore {
    fn path(options: &Options, key: Option<&str>) -> Result<String, RemoteError> {
        let (owner, _) = owner(options).map_err(|e| RemoteError::new("limit", e))?;
        Ok(match key {
            Some(key) => format!(
                "{owner}/variables/{}?filter%5Benvironment_scope%5D={}",
                segment(key),
                segment(scope(options))
            ),
            None => format!("{owner}/variables"),
        })
    }

    /// What one variable holds.
    async fn read_one(&self, options: &Options, key: &str) -> Result<Held, RemoteError> {
        let path = VariableStore::path(options, Some(key))?;
        let reply = self.gitlab.call(Method::GET, &path, None).await?;
        if variable_missing(&reply) {
            return Ok(Held::Absent);
        }
        if reply.status == 404 {
            // GitLab answers 404 for a project or group the token may not see, as for one that
            // does not exist.
            let (_, owner) = owner(options).map_err(|e| RemoteError::new("limit", e))?;
            return Ok(Held::NoOwner(format!(
                "GitLab has no {owner}, or the token cannot see it (HTTP 404: {})",
                reply.body["message"].as_str().unwrap_or("Not Found")
            )));
        }
        let body = Gitlab::check(reply).map_err(|e| e.during(format!("reading `{key}`")))?;
        if body["hidden"] == Value::Bool(true) {
            return Ok(Held::Hidden);
        }
        match body["value"].as_str() {
            Some(value) => Ok(Held::Value(SecretString::from(value.to_string()))),
            None => Err(RemoteError::new(
                "answer",
                format!("GitLab's answer for `{key}` is not a variable with a value"),
            )
            .hint("check that the provider's `url` is the GitLab instance, not a proxy page")),
        }
    }

    /// Updates the variable in its own scope, or creates it there.
    async fn write_one(
        &self,
        options: &Options,
        key: &str,
        value: &SecretString,
        exists: Option<bool>,
    ) -> Result<(), RemoteError> {
        let body = attributes(options, value);
        if exists != Some(false) {
            let path = VariableStore::path(options, Some(key))?;
            let reply =
                self.gitlab.call(Method::PUT, &path, Some(Value::Object(body.clone()))).await?;
            if !variable_missing(&reply) {
                return Gitlab::check(reply)
                    .map(drop)
                    .map_err(|e| e.during(format!("updating `{key}`")));
            }
        }
        let mut body = body;
        body.insert("key".into(), Value::String(key.into()));
        if flag(options, "masked_and_hidden") {
            body.insert("masked_and_hidden".into(), Value::Bool(true));
        }
        let path = VariableStore::path(options, None)?;
        let reply = self.gitlab.call(Method::POST, &path, Some(Value::Object(body))).await?;
        Gitlab::check(reply).map(drop).map_err(|e| e.during(format!("creating `{key}`")))
    }
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(secret: &Secret, target: &RemoteTarget) -> Result<(), String> {
    let options = &target.options;
    let key = option(options, "key").unwrap_or_default();
    let refuse = |why: String| format!("{}: {why}", describe(options, key));
    owner(options).map_err(refuse)?;
    check_key(key).map_err(refuse)?;
    // A multi-field secret is one variable per field, each named after its field.
    if !secret.is_single() {
        let fields = secret.fields.iter().map(|f| f.name.as_str());
        for (field, name) in variables(key, false, fields) {
            check_key(&name).map_err(|why| {
                let target = describe(options, &name);
                format!("{target}: field `{field}` of `{}`: {why}", secret.name)
            })?;
        }
    }
    for name in ["protected", "masked", "masked_and_hidden", "raw"] {
        if !matches!(option(options, name), None | Some("true") | Some("false")) {
            return Err(refuse(format!("`{name}` must be \"true\" or \"false\"")));
        }
    }
    if flag(options, "masked_and_hidden") && option(options, "masked") == Some("false") {
        return Err(refuse("`masked_and_hidden` needs `masked`; drop `masked: false`".into()));
    }
    if !matches!(option(options, "variable_type"), None | Some("env_var") | Some("file")) {
        return Err(refuse("`variable_type` must be `env_var` or `file`".into()));
    }
    // `HasEnvironmentScope`: present, and only these characters (GitLab strips the ends,
    // which would store another scope than the one read back).
    let scope = scope(options);
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_/${}.* ".contains(c);
    if scope.trim().is_empty() || scope.trim() != scope || !scope.chars().all(allowed) {
        return Err(refuse(
            "`environment_scope` may hold only letters, digits, spaces (not at either end) \
             and `- _ / $ { } . *` (GitLab's rule); `*` is every environment"
                .into(),
        ));
    }
    if option(options, "description").is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return Err(refuse(format!(
            "`description` has more than the {MAX_DESCRIPTION} characters GitLab allows"
        )));
    }
    Ok(())
}

impl Store for VariableStore {
    fn check_value(
        &self,
        secret: &Secret,
        target: &RemoteTarget,
        value: &SecretData,
    ) -> Result<(), String> {
        let options = &target.options;
        let key = option(options, "key").unwrap_or_default();
        let fields = value.fields.iter().map(|(name, _)| name.as_str());
        let single = secret.is_single();
        for ((field, name), (_, text)) in
            variables(key, single, fields).into_iter().zip(&value.fields)
        {
            let what = if single {
                format!("the value of `{}`", secret.name)
            } else {
                format!("field `{field}` of `{}`", secret.name)
            };
            // Names were checked with the Secretfile (`check_options`).
            let target = describe(options, &name);
            let masked = flag(options, "masked") || flag(options, "masked_and_hidden");
            if !masked {
                continue;
            }
            if let Some(rule) = unmaskable(text.expose_secret(), flag(options, "raw")) {
                return Err(format!(
                    "{what} cannot be masked in {target}: {rule}; SecretZero never writes a \
                     masked variable unmasked"
                ));
            }
        }
        Ok(())
    }

    /// A masked variable whose value is still to be generated: every value the generator could
    /// make must be maskable, or the write would fail on some runs and not others.
    fn check_generated(&self, secret: &Secret, target: &RemoteTarget) -> Result<(), String> {
        let options = &target.options;
        if !(flag(options, "masked") || flag(options, "masked_and_hidden")) {
            return Ok(());
        }
        let key = option(options, "key").unwrap_or_default();
        let fields = secret.fields.iter().map(|f| f.name.as_str());
        for (field, (_, name)) in
            secret.fields.iter().zip(variables(key, secret.is_single(), fields))
        {
            let Some((length, chars)) = field.generator.shape() else { continue };
            let what = match secret.is_single() {
                true => format!("the values `{}` generates", secret.name),
                false => {
                    format!("the values field `{}` of `{}` generates", field.name, secret.name)
                }
            };
            // One sample of the length, then every character the generator may draw.
            let samples = std::iter::once("x".repeat(length))
                .chain(chars.iter().map(|c| c.to_string().repeat(length.max(MIN_MASKED))));
            for sample in samples {
                if let Some(rule) = unmaskable(&sample, flag(options, "raw")) {
                    return Err(format!(
                        "{what} ({}) cannot always be masked in {}: {rule}",
                        field.generator.type_name(),
                        describe(options, &name)
                    ));
                }
            }
        }
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let key = request.option("key").unwrap_or_default();
            let fields = request.fields.iter().map(String::as_str);
            let mut found = Vec::new();
            let mut hidden = false;
            for (field, name) in variables(key, request.single, fields) {
                match store.read_one(&request.options, &name).await? {
                    Held::Absent => {}
                    Held::NoOwner(why) => return Ok(StoreRead::Broken(why)),
                    Held::Hidden => hidden = true,
                    Held::Value(_) if flag(&request.options, "masked_and_hidden") => {
                        // Sending `masked_and_hidden` in an update is ignored: the variable
                        // would stay visible while the Secretfile says hidden.
                        return Ok(StoreRead::Broken(format!(
                            "variable `{name}` exists and is not hidden, and GitLab hides only a \
                             new variable; delete it in GitLab so that `sync` creates it \
                             hidden, or drop `masked_and_hidden`"
                        )));
                    }
                    Held::Value(value) => found.push((field, value)),
                }
            }
            if hidden {
                let why = "GitLab never shows the value of a masked and hidden variable".into();
                return Ok(StoreRead::Sealed { stamp: None, why });
            }
            if found.is_empty() {
                return Ok(StoreRead::Missing);
            }
            Ok(StoreRead::Fields(found))
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        value: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let key = request.option("key").unwrap_or_default();
            let fields = value.fields.iter().map(|(name, _)| name.as_str());
            let names: Vec<String> =
                variables(key, request.single, fields).into_iter().map(|(_, n)| n).collect();
            for (done, (name, (_, text))) in names.iter().zip(&value.fields).enumerate() {
                let written = store.write_one(&request.options, name, text, request.exists).await;
                written.map_err(|e| partly_written(e, &names[..done]))?;
            }
            Ok(None)
        })
    }

    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let reply = store.gitlab.call(Method::GET, "user", None).await?;
            let user = Gitlab::check(reply)?;
            let name = user["username"].as_str().unwrap_or("?");
            let mut seen = vec![Ok(format!("token accepted (user `{name}`)"))];

            // Listing variables needs the role that managing them needs.
            let mut owners: Vec<(String, String)> = Vec::new();
            for request in &targets {
                let owner = owner(&request.options).map_err(|e| RemoteError::new("limit", e))?;
                if !owners.contains(&owner) {
                    owners.push(owner);
                }
            }
            for (path, name) in owners {
                let reply = store
                    .gitlab
                    .call(Method::GET, &format!("{path}/variables?per_page=1"), None)
                    .await?;
                seen.push(match reply.status {
                    200 => Ok(format!("may manage the variables of {name}")),
                    _ => Err(failure(&reply).during(format!("listing the variables of {name}"))),
                });
            }
            Ok(seen)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secretfile::SINGLE_FIELD;

    #[test]
    fn masking_follows_gitlabs_rules() {
        assert!(unmaskable("short", false).unwrap().contains("at least 8"));
        assert!(unmaskable("two words here", true).unwrap().contains("whitespace"));
        assert!(unmaskable("line\nbreak!", true).unwrap().contains("whitespace"));
        assert!(unmaskable("pa$$w0rd!!", false).unwrap().contains("raw"));
        assert_eq!(unmaskable("pa$$w0rd!!", true), None);
        assert_eq!(unmaskable("abc+/=-_@:.~XYZ09", false), None);
    }

    #[test]
    fn fields_become_suffixed_keys() {
        let names = variables("DB", false, ["username", "api-key"].into_iter());
        let keys: Vec<&str> = names.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys, ["DB_USERNAME", "DB_API_KEY"]);
        assert_eq!(variables("API_KEY", true, [SINGLE_FIELD].into_iter())[0].1, "API_KEY");
    }
}
