//! The `github-secret` target: a GitHub Actions secret of a repository, of one of its
//! environments, or of an organization.
//!
//! The scope is `owner` + `repo` (with `environment` for an environment secret), or `org` with
//! `visibility` (`all`, `private` or `selected`, with `selected_repositories`, a comma-separated
//! list of repository names in the organization, resolved to ids through the API). A one-value
//! secret is one GitHub secret, `name` (default: the secret's name upper-cased); a secret with
//! fields is one GitHub secret per field, `<NAME>_<FIELD>`.
//!
//! Values are sealed (libsodium `crypto_box_seal`) with the scope's public key, fetched once per
//! scope per run. GitHub never gives a value back: a read shows the secrets' `updated_at`,
//! which the lockfile records as the target's stamp, so a write made behind SecretZero's back
//! shows as drift.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crypto_box::aead::OsRng;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead, partly_written};
use crate::provider::github::{Github, Reply, failure};
use crate::provider::http::segment;
use crate::provider::{Limiter, RemoteError, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret, field_variable};

/// GitHub's secondary rate limits ask integrations to make content-creating requests one after
/// another, and allow at most 100 concurrent requests ("Rate limits for the REST API"). Four in
/// flight keep well inside both while reads still overlap.
const DEFAULT_IN_FLIGHT: usize = 4;
/// "Secrets are limited to 48 KB in size" ("Secrets reference", Limits for secrets).
const MAX_VALUE: usize = 48 * 1024;
/// "An environment name may not exceed 255 characters" ("Managing environments for
/// deployment").
const MAX_ENVIRONMENT: usize = 255;
/// Repository names: at most 100 characters of letters, digits, `.`, `-` and `_` ("Repository
/// limits").
const MAX_REPO: usize = 100;
/// Account and organization names: at most 39 characters of letters, digits and `-`.
const MAX_OWNER: usize = 39;
const SEALED: &str = "GitHub never returns secret values";

type Options = indexmap::IndexMap<String, String>;

/// A scope's public key: its id and the 32 key bytes.
type PublicKey = (String, [u8; 32]);

#[derive(Debug, Clone)]
struct SecretStore {
    github: Arc<Github>,
    /// Each scope's public key, fetched once per run.
    keys: Arc<Mutex<HashMap<String, Arc<OnceCell<PublicKey>>>>>,
    /// Repository ids of `selected_repositories`, by organization and name.
    repo_ids: Arc<Mutex<HashMap<String, u64>>>,
}

pub(crate) fn connect(provider: &Provider) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let github = Arc::new(Github::new(provider)?);
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    let store = SecretStore { github, keys: Arc::default(), repo_ids: Arc::default() };
    Ok((Arc::new(store), Limiter::new(limit)))
}

fn option<'a>(options: &'a Options, name: &str) -> Option<&'a str> {
    options.get(name).map(String::as_str)
}

/// Where the secrets live.
#[derive(Debug, Clone, PartialEq)]
enum Scope {
    Repo { owner: String, repo: String },
    Environment { owner: String, repo: String, environment: String },
    Org { org: String, visibility: String, selected: Vec<String> },
}

impl Scope {
    fn of(options: &Options) -> Result<Scope, String> {
        let get = |name| option(options, name);
        match (get("org"), get("owner"), get("repo")) {
            (Some(org), None, None) => {
                if get("environment").is_some() {
                    return Err("`environment` belongs to a repository, not to `org`".into());
                }
                check_owner(org, "org")?;
                let visibility = get("visibility").unwrap_or("private").to_string();
                if !matches!(visibility.as_str(), "all" | "private" | "selected") {
                    return Err(format!(
                        "`visibility` is `{visibility}`; it must be `all`, `private` or `selected`"
                    ));
                }
                let selected: Vec<String> = get("selected_repositories")
                    .map(|list| list.split(',').map(|r| r.trim().to_string()).collect())
                    .unwrap_or_default();
                match (visibility.as_str(), selected.is_empty()) {
                    ("selected", true) => {
                        return Err("`visibility: selected` needs `selected_repositories`, a \
                                    comma-separated list of repository names"
                            .into());
                    }
                    ("selected", false) => {}
                    (_, false) => {
                        return Err("`selected_repositories` needs `visibility: selected`".into());
                    }
                    _ => {}
                }
                for repo in &selected {
                    check_repo(repo).map_err(|e| format!("`selected_repositories`: {e}"))?;
                }
                Ok(Scope::Org { org: org.into(), visibility, selected })
            }
            (None, Some(owner), Some(repo)) => {
                if get("visibility").is_some() || get("selected_repositories").is_some() {
                    return Err("`visibility` and `selected_repositories` belong to `org` \
                                secrets"
                        .into());
                }
                check_owner(owner, "owner")?;
                check_repo(repo)?;
                let (owner, repo) = (owner.to_string(), repo.to_string());
                match get("environment") {
                    None => Ok(Scope::Repo { owner, repo }),
                    Some(environment) => {
                        check_environment(environment)?;
                        Ok(Scope::Environment { owner, repo, environment: environment.into() })
                    }
                }
            }
            (Some(_), _, _) => Err("set `org`, or `owner` and `repo`, not both".into()),
            _ => Err("set `owner` and `repo` (a repository's secrets), or `org`".into()),
        }
    }

    /// The API path of the scope's secrets.
    fn path(&self) -> String {
        match self {
            Scope::Repo { owner, repo } => format!("repos/{owner}/{repo}/actions/secrets"),
            Scope::Environment { owner, repo, environment } => {
                format!("repos/{owner}/{repo}/environments/{}/secrets", segment(environment))
            }
            Scope::Org { org, .. } => format!("orgs/{org}/actions/secrets"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Scope::Repo { owner, repo } => format!("repository `{owner}/{repo}`"),
            Scope::Environment { owner, repo, environment } => {
                format!("environment `{environment}` of repository `{owner}/{repo}`")
            }
            Scope::Org { org, .. } => format!("organization `{org}`"),
        }
    }
}

fn check_owner(owner: &str, option: &str) -> Result<(), String> {
    let shape = owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if owner.is_empty() || owner.len() > MAX_OWNER || !shape || owner.starts_with('-') {
        return Err(format!(
            "`{option}` is `{owner}`; a GitHub account or organization name has 1 to {MAX_OWNER} \
             letters, digits and `-`, not starting with `-`"
        ));
    }
    Ok(())
}

fn check_repo(repo: &str) -> Result<(), String> {
    let shape = repo.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if repo.is_empty() || repo.len() > MAX_REPO || !shape || repo == "." || repo == ".." {
        return Err(format!(
            "`{repo}` is not a repository name: GitHub allows 1 to {MAX_REPO} letters, digits, \
             `.`, `-` and `_` (name the owner in `owner`)"
        ));
    }
    Ok(())
}

fn check_environment(environment: &str) -> Result<(), String> {
    let length = environment.chars().count();
    if length > 0 && environment.trim().is_empty() {
        return Err("`environment` is only spaces; name an environment".into());
    }
    if length == 0 || length > MAX_ENVIRONMENT {
        return Err(format!(
            "`environment` has {length} characters; GitHub allows 1 to {MAX_ENVIRONMENT}"
        ));
    }
    if environment.chars().any(char::is_control) {
        return Err("`environment` holds a control character".into());
    }
    Ok(())
}

/// GitHub's rules for secret names ("Naming your secrets"): letters, digits and `_` only, not
/// starting with a digit or with `GITHUB_`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the secret name is empty".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "the secret name `{name}` may hold only letters, digits and `_` (GitHub's rule)"
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("the secret name `{name}` starts with a digit, which GitHub refuses"));
    }
    if name.to_ascii_uppercase().starts_with("GITHUB_") {
        return Err(format!(
            "the secret name `{name}` starts with `GITHUB_`, which GitHub keeps for itself"
        ));
    }
    Ok(())
}

/// The GitHub secret that holds each field: `name` for a one-value secret, `<NAME>_<FIELD>`
/// otherwise.
fn names<'a>(name: &str, single: bool, fields: impl Iterator<Item = &'a str>) -> Vec<String> {
    fields
        .map(|field| match single {
            true => name.to_string(),
            false => field_variable(name, field),
        })
        .collect()
}

fn describe(options: &Options, name: &str) -> String {
    match Scope::of(options) {
        Ok(scope) => format!("github-secret `{name}` of {}", scope.describe()),
        Err(_) => format!("github-secret `{name}`"),
    }
}

/// One stamp for what a read found: a secret's `updated_at`, or for several fields a short hash
/// of all of theirs, which changes when any field is written.
fn stamp(found: &[(String, String)]) -> String {
    if let [(_, at)] = found {
        return at.clone();
    }
    let mut hash = Sha256::new();
    for (name, at) in found {
        hash.update(format!("{name}={at};"));
    }
    format!("sha256-{}", &hex::encode(hash.finalize())[..16])
}

/// The `updated_at` a secret shows, which must be a plain timestamp to serve as a stamp.
fn updated_at(body: &Value, name: &str) -> Result<String, RemoteError> {
    let at = body["updated_at"].as_str().unwrap_or_default();
    let plain = at.len() <= 64
        && at
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '+' | '-' | '_'));
    if plain && !at.is_empty() {
        return Ok(at.to_string());
    }
    Err(RemoteError::new(
        "answer",
        format!("GitHub's answer for secret `{name}` has no `updated_at` timestamp"),
    )
    .hint("check that the provider's `api_url` is GitHub's REST API, not a proxy page"))
}

impl SecretStore {
    /// The scope's public key, fetched on first use.
    async fn key(&self, scope: &Scope) -> Result<PublicKey, RemoteError> {
        let path = format!("{}/public-key", scope.path());
        let cell = Arc::clone(self.keys.lock().unwrap().entry(path.clone()).or_default());
        let key = cell
            .get_or_try_init(|| async {
                let reply = self.github.call(Method::GET, &path, None).await?;
                if reply.status == 404 {
                    let extra = match scope {
                        Scope::Environment { .. } => {
                            "; the environment must exist already (SecretZero does not create it)"
                        }
                        _ => "",
                    };
                    return Err(failure(&reply)
                        .during(format!("the public key of {}", scope.describe()))
                        .hint(format!(
                            "{} does not exist, or the token cannot see it (GitHub answers 404 \
                             then){extra}",
                            scope.describe()
                        )));
                }
                let body = Github::check(reply)
                    .map_err(|e| e.during(format!("the public key of {}", scope.describe())))?;
                let id = body["key_id"].as_str().unwrap_or_default().to_string();
                let bytes = body["key"].as_str().and_then(|k| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(k).ok()
                });
                match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                    Some(bytes) if !id.is_empty() => Ok((id, bytes)),
                    _ => Err(RemoteError::new(
                        "public key",
                        format!("GitHub sent no usable public key for {}", scope.describe()),
                    )),
                }
            })
            .await?;
        Ok(key.clone())
    }

    /// The ids of the organization's selected repositories.
    async fn repository_ids(&self, org: &str, names: &[String]) -> Result<Vec<u64>, RemoteError> {
        let mut ids = Vec::new();
        for name in names {
            let key = format!("{org}/{name}");
            let known = self.repo_ids.lock().unwrap().get(&key).copied();
            let id = match known {
                Some(id) => id,
                None => {
                    let reply =
                        self.github.call(Method::GET, &format!("repos/{key}"), None).await?;
                    let body = Github::check(reply)
                        .map_err(|e| e.during(format!("looking up repository `{key}`")))?;
                    let id = body["id"].as_u64().ok_or_else(|| {
                        RemoteError::new("lookup", format!("repository `{key}` has no id"))
                    })?;
                    self.repo_ids.lock().unwrap().insert(key, id);
                    id
                }
            };
            ids.push(id);
        }
        Ok(ids)
    }

    /// A secret's `updated_at`, or `None` when it is not there.
    async fn read_one(&self, scope: &Scope, name: &str) -> Result<Option<String>, RemoteError> {
        let path = format!("{}/{name}", scope.path());
        let reply = self.github.call(Method::GET, &path, None).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        let during = || format!("reading secret `{name}` of {}", scope.describe());
        let body = Github::check(reply).map_err(|e| e.during(during()))?;
        updated_at(&body, name).map(Some).map_err(|e| e.during(during()))
    }

    /// Each secret's `updated_at`; `None` when any of them is not there.
    async fn read_all(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> Result<Option<Vec<(String, String)>>, RemoteError> {
        let mut found = Vec::new();
        for name in names {
            match self.read_one(scope, name).await? {
                Some(at) => found.push((name.clone(), at)),
                None => return Ok(None),
            }
        }
        Ok(Some(found))
    }
}

/// `value` sealed with the scope's key, base64-encoded as the API wants it.
fn seal(key: &[u8; 32], value: &SecretString) -> Result<String, RemoteError> {
    use base64::Engine;
    let public = crypto_box::PublicKey::from(*key);
    let sealed = public
        .seal(&mut OsRng, value.expose_secret().as_bytes())
        .map_err(|_| RemoteError::new("seal", "the value could not be sealed"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(secret: &Secret, target: &RemoteTarget) -> Result<(), String> {
    let options = &target.options;
    let name = option(options, "name").unwrap_or_default();
    let refuse = |why: String| format!("{}: {why}", describe(options, name));
    Scope::of(options).map_err(refuse)?;
    check_name(name).map_err(refuse)?;
    // A multi-field secret is one GitHub secret per field, each named after its field.
    if !secret.is_single() {
        let fields = secret.fields.iter().map(|f| f.name.as_str());
        for (stored, field) in names(name, false, fields).iter().zip(&secret.fields) {
            check_name(stored).map_err(|why| {
                let target = describe(options, stored);
                format!("{target}: field `{}` of `{}`: {why}", field.name, secret.name)
            })?;
        }
    }
    Ok(())
}

impl Store for SecretStore {
    fn check_value(
        &self,
        secret: &Secret,
        target: &RemoteTarget,
        value: &SecretData,
    ) -> Result<(), String> {
        // Names were checked with the Secretfile (`check_options`); sizes need the value.
        let options = &target.options;
        let name = option(options, "name").unwrap_or_default();
        let single = secret.is_single();
        let fields = value.fields.iter().map(|(field, _)| field.as_str());
        for (stored, (field, text)) in names(name, single, fields).into_iter().zip(&value.fields) {
            let what = match single {
                true => format!("the value of `{}`", secret.name),
                false => format!("field `{field}` of `{}`", secret.name),
            };
            let target = describe(options, &stored);
            let bytes = text.expose_secret().len();
            if bytes > MAX_VALUE {
                return Err(format!(
                    "{target}: {what} is {bytes} bytes; GitHub secrets hold at most 48 KB \
                     ({MAX_VALUE} bytes)"
                ));
            }
        }
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let scope = Scope::of(&request.options).map_err(|e| RemoteError::new("limit", e))?;
            let name = request.option("name").unwrap_or_default();
            let names = names(name, request.single, request.fields.iter().map(String::as_str));
            // A secret with a field missing is missing as a whole: every field is written
            // again.
            let Some(found) = store.read_all(&scope, &names).await? else {
                // GitHub answers 404 for a secret in a repository that is not there too. The
                // scope's key is needed to write, and fetched once per run: a scope that is
                // not there (a repository, an environment, an organization) shows now, in a
                // dry run too, rather than at the write.
                // So is a selected repository of an organization secret.
                let usable = async {
                    store.key(&scope).await?;
                    if let Scope::Org { org, visibility, selected } = &scope
                        && visibility == "selected"
                    {
                        store.repository_ids(org, selected).await?;
                    }
                    Ok::<(), RemoteError>(())
                };
                return match usable.await {
                    Ok(()) => Ok(StoreRead::Missing),
                    Err(error) if error.code == "HTTP 404" && !error.auth => {
                        Ok(StoreRead::Broken(error.to_string()))
                    }
                    Err(error) => Err(error),
                };
            };
            Ok(StoreRead::Sealed { stamp: Some(stamp(&found)), why: SEALED.into() })
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        value: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let scope = Scope::of(&request.options).map_err(|e| RemoteError::new("limit", e))?;
            let (key_id, key) = store.key(&scope).await?;
            let mut extra = serde_json::Map::new();
            if let Scope::Org { org, visibility, selected } = &scope {
                extra.insert("visibility".into(), json!(visibility));
                if visibility == "selected" {
                    let ids = store.repository_ids(org, selected).await?;
                    extra.insert("selected_repository_ids".into(), json!(ids));
                }
            }
            let name = request.option("name").unwrap_or_default();
            let fields = value.fields.iter().map(|(field, _)| field.as_str());
            let names = names(name, request.single, fields);
            for (done, (stored, (_, text))) in names.iter().zip(&value.fields).enumerate() {
                let mut body = extra.clone();
                body.insert("encrypted_value".into(), Value::String(seal(&key, text)?));
                body.insert("key_id".into(), Value::String(key_id.clone()));
                let path = format!("{}/{stored}", scope.path());
                let reply = store.github.call(Method::PUT, &path, Some(Value::Object(body))).await;
                // GitHub answers 201 (created) or 204 (updated); any other success is not its
                // API, and nothing says the secret was written.
                let landed = |reply: Reply| match reply.status {
                    201 | 204 => Ok(reply.body),
                    200..=299 => Err(RemoteError::new(
                        "answer",
                        format!("HTTP {} is not how GitHub answers a secret's write", reply.status),
                    )
                    .hint("check that the provider's `api_url` is GitHub's REST API")),
                    _ => Github::check(reply),
                };
                reply.and_then(landed).map_err(|e| {
                    let e = e.during(format!("writing secret `{stored}` of {}", scope.describe()));
                    partly_written(e, &names[..done])
                })?;
            }
            // The stamp is what a read shows after this write.
            let unread = |e: RemoteError| {
                e.hint(
                    "the value was written, but its stamp could not be read back; the next \
                        `sync` writes it again",
                )
            };
            match store.read_all(&scope, &names).await.map_err(unread)? {
                Some(found) => Ok(Some(stamp(&found))),
                None => Err(RemoteError::new(
                    "answer",
                    "a secret just written is not there when read back",
                )),
            }
        })
    }

    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let mut scopes: Vec<Scope> = Vec::new();
            for request in &targets {
                let scope =
                    Scope::of(&request.options).map_err(|e| RemoteError::new("limit", e))?;
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
            // Reading a scope's public key needs the permission that managing its secrets
            // needs.
            let mut seen = Vec::new();
            for scope in scopes {
                // A token GitHub refuses (401) is refused for every scope.
                let key = match store.key(&scope).await {
                    Err(error) if error.code == "HTTP 401" => return Err(error),
                    key => key,
                };
                let read = format!("may read the secrets' public key of {}", scope.describe());
                seen.push(key.map(|_| read));
                if let Scope::Org { org, selected, .. } = &scope
                    && !selected.is_empty()
                {
                    let ids = store.repository_ids(org, selected).await;
                    seen.push(ids.map(|_| format!("found the selected repositories of `{org}`")));
                }
            }
            Ok(seen)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secretfile::SINGLE_FIELD;

    fn options(pairs: &[(&str, &str)]) -> Options {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn names_follow_githubs_rules() {
        assert_eq!(check_name("API_KEY"), Ok(()));
        assert!(check_name("API-KEY").unwrap_err().contains("letters, digits and `_`"));
        assert!(check_name("1KEY").unwrap_err().contains("digit"));
        assert!(check_name("github_token").unwrap_err().contains("GITHUB_"));
        assert!(check_name("").is_err());
    }

    #[test]
    fn scopes_are_one_of_three() {
        let repo = Scope::of(&options(&[("owner", "acme"), ("repo", "app")])).unwrap();
        assert_eq!(repo.path(), "repos/acme/app/actions/secrets");
        let env = options(&[("owner", "acme"), ("repo", "app"), ("environment", "prod eu")]);
        assert_eq!(
            Scope::of(&env).unwrap().path(),
            "repos/acme/app/environments/prod%20eu/secrets"
        );
        let org = options(&[("org", "acme"), ("visibility", "selected")]);
        assert!(Scope::of(&org).unwrap_err().contains("selected_repositories"));
        let both = options(&[("org", "acme"), ("owner", "acme"), ("repo", "app")]);
        assert!(Scope::of(&both).unwrap_err().contains("not both"));
        let long = "e".repeat(256);
        let env = options(&[("owner", "acme"), ("repo", "app"), ("environment", &long)]);
        assert!(Scope::of(&env).unwrap_err().contains("255"));
        assert_eq!(
            check_environment("   "),
            Err("`environment` is only spaces; name an environment".into())
        );
        assert_eq!(
            check_environment(""),
            Err("`environment` has 0 characters; GitHub allows 1 to 255".into())
        );
    }

    #[test]
    fn fields_become_suffixed_names() {
        let got = names("DB", false, ["username", "api-key"].into_iter());
        assert_eq!(got, ["DB_USERNAME", "DB_API_KEY"]);
        assert_eq!(names("API_KEY", true, [SINGLE_FIELD].into_iter()), ["API_KEY"]);
    }

    #[test]
    fn stamps_change_with_any_field_and_fit_the_lockfile() {
        let one = vec![("A".to_string(), "2026-01-01T00:00:00Z".to_string())];
        assert_eq!(stamp(&one), "2026-01-01T00:00:00Z");
        let two = |b: &str| {
            vec![
                ("A_X".to_string(), "2026-01-01T00:00:00Z".to_string()),
                ("A_Y".to_string(), b.to_string()),
            ]
        };
        let first = stamp(&two("2026-01-01T00:00:00Z"));
        assert_ne!(first, stamp(&two("2026-01-01T00:00:01Z")));
        assert!(first.len() <= 64);
    }

    #[test]
    fn an_answer_without_a_plain_updated_at_is_an_error() {
        let at = |body: Value| updated_at(&body, "API_KEY").map_err(|e| e.to_string());
        assert_eq!(
            at(json!({"updated_at": "2026-01-01T00:00:00Z"})).unwrap(),
            "2026-01-01T00:00:00Z"
        );
        let refused = "answer: GitHub's answer for secret `API_KEY` has no `updated_at` timestamp; \
                       check that the provider's `api_url` is GitHub's REST API, not a proxy page";
        assert_eq!(at(json!({"name": "API_KEY"})).unwrap_err(), refused);
        assert_eq!(at(Value::Null).unwrap_err(), refused);
        assert_eq!(at(json!({"updated_at": "a b"})).unwrap_err(), refused);
    }

    #[test]
    fn a_sealed_value_opens_with_the_matching_private_key() {
        use base64::Engine;
        let secret = crypto_box::SecretKey::generate(&mut OsRng);
        let public = *secret.public_key().as_bytes();
        let sealed = seal(&public, &SecretString::from("CANARY-sealed")).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap();
        assert_eq!(secret.unseal(&bytes).unwrap(), b"CANARY-sealed");
    }
}
