//! The `jenkins-credential` target: one Jenkins credential per target, written through the
//! credentials plugin's REST API (plugins.jenkins.io/credentials, `docs/user.adoc`, "REST
//! API").
//!
//! A one-value secret becomes a "secret text" credential (`StringCredentialsImpl`), a secret
//! with the fields `username` and `password` a "username with password" one
//! (`UsernamePasswordCredentialsImpl`). The credential lives in a domain (`_`, the global
//! domain, by default) of the system store, or of a folder's store with `folder: a/b`.
//!
//! Jenkins never gives a secret back: a credential's `config.xml` holds `<secret-redacted/>`
//! where the value was, and nothing it shows changes when the value does. So `read` says only
//! whether the credential is there; drift cannot see a value changed in Jenkins.

use std::sync::Arc;

use indexmap::IndexMap;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesRef, BytesStart, BytesText, Event};
use secrecy::ExposeSecret;
use tracing::debug;

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead};
use crate::provider::http::segment;
use crate::provider::jenkins::{Jenkins, Reply};
use crate::provider::{Limiter, RemoteError, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret};

/// Jenkins publishes no request rate limit; every request is served by the controller that
/// also runs the builds, and each credential write saves the whole store to disk. Four in
/// flight keeps a sync from competing with the builds. Raise it with `max_in_flight`.
const DEFAULT_IN_FLIGHT: usize = 4;

const SECRET_TEXT: &str = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl";
const USERNAME_PASSWORD: &str =
    "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl";
const SEALED: &str = "Jenkins never returns credential values";

#[derive(Debug, Clone)]
struct CredentialStore {
    jenkins: Arc<Jenkins>,
}

pub(crate) fn connect(provider: &Provider) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let jenkins = Arc::new(Jenkins::new(provider)?);
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    Ok((Arc::new(CredentialStore { jenkins }), Limiter::new(limit)))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    SecretText,
    UsernamePassword,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::SecretText => "secret-text",
            Kind::UsernamePassword => "username-password",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Kind::SecretText => SECRET_TEXT,
            Kind::UsernamePassword => USERNAME_PASSWORD,
        }
    }

    /// The kind a target asks for, else the one the secret's shape fits.
    fn of(options: &IndexMap<String, String>, single: bool) -> Result<Kind, String> {
        match options.get("kind").map(String::as_str) {
            Some("secret-text") => Ok(Kind::SecretText),
            Some("username-password") => Ok(Kind::UsernamePassword),
            Some(other) => {
                Err(format!("`kind` is `{other}`; it must be `secret-text` or `username-password`"))
            }
            None if single => Ok(Kind::SecretText),
            None => Ok(Kind::UsernamePassword),
        }
    }
}

/// Where a credential lives, and its id.
#[derive(Debug)]
struct Location {
    folder: Option<String>,
    domain: String,
    id: String,
}

impl Location {
    fn of(secret: &str, options: &IndexMap<String, String>) -> Location {
        let folder = options.get("folder").map(|f| f.trim_matches('/').to_string());
        Location {
            folder: folder.filter(|f| !f.is_empty()),
            domain: options.get("domain").cloned().unwrap_or_else(|| "_".into()),
            id: options.get("id").cloned().unwrap_or_else(|| secret.to_string()),
        }
    }

    /// The domain's URL path, ending in `/`: the folder `a/b` is `/job/a/job/b`.
    fn domain_path(&self) -> String {
        let domain = segment(&self.domain);
        match &self.folder {
            None => format!("/credentials/store/system/domain/{domain}/"),
            Some(folder) => {
                let jobs: String =
                    folder.split('/').map(|f| format!("/job/{}", segment(f))).collect();
                format!("{jobs}/credentials/store/folder/domain/{domain}/")
            }
        }
    }

    fn config_path(&self) -> String {
        format!("{}credential/{}/config.xml", self.domain_path(), segment(&self.id))
    }

    fn store(&self) -> String {
        match &self.folder {
            None => format!("domain `{}` of the system store", self.domain),
            Some(folder) => format!("domain `{}` of folder `{folder}`", self.domain),
        }
    }
}

/// Whether XML 1.0 can carry `c` at all (its `Char` production). Jenkins takes credentials as
/// XML, and a character reference cannot stand in for these either.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

const XML_RULE: &str = "a character XML 1.0 cannot carry (a control character other than tab, \
                        line feed and carriage return, or U+FFFE/U+FFFF); Jenkins takes \
                        credentials as XML";

/// The credential id rule of the credentials plugin's form check
/// (`BaseStandardCredentialsDescriptor.doCheckId`): letters, digits, `_`, `.` and `-`.
fn check_id(id: &str) -> Result<(), String> {
    let good = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if id.is_empty() || !id.chars().all(good) {
        return Err(format!(
            "the credential id `{}` must be letters, digits, `_`, `.` and `-` only (the \
             credentials plugin's id check)",
            id.escape_debug()
        ));
    }
    if id == "." || id == ".." {
        return Err(format!(
            "the credential id `{id}` cannot be reached: a URL path drops `.` and `..` segments"
        ));
    }
    Ok(())
}

/// A folder name as Jenkins accepts an item name (`Jenkins.checkGoodName`).
fn check_folder(folder: &str) -> Result<(), String> {
    for name in folder.trim_matches('/').split('/') {
        let bad = |c: char| c.is_control() || "?*/\\%!@#$^&|<>[]:;".contains(c);
        if name.trim().is_empty() || name == "." || name == ".." || name.chars().any(bad) {
            return Err(format!(
                "the folder `{}` has a name Jenkins does not allow for an item: empty, `.`, \
                 `..`, or holding a control character or one of ?*/\\%!@#$^&|<>[]:;",
                folder.escape_debug()
            ));
        }
    }
    Ok(())
}

/// The credential as the XML document Jenkins reads, every text escaped by the writer. A
/// carriage return is written as a character reference: a parser turns a literal one into a
/// line feed. Nothing is indented: whitespace an indenting writer puts before a closing tag
/// would become part of the value.
fn credential_xml(
    kind: Kind,
    id: &str,
    description: Option<&str>,
    value: &SecretData,
) -> std::io::Result<Vec<u8>> {
    let mut writer = Writer::new(Vec::new());
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer.write_event(Event::Start(BytesStart::new(kind.class())))?;
    let mut element = |name: &str, text: &str| -> std::io::Result<()> {
        writer.write_event(Event::Start(BytesStart::new(name)))?;
        for (index, part) in text.split('\r').enumerate() {
            if index > 0 {
                writer.write_event(Event::GeneralRef(BytesRef::new("#13")))?;
            }
            if !part.is_empty() {
                writer.write_event(Event::Text(BytesText::new(part)))?;
            }
        }
        writer.write_event(Event::End(BytesEnd::new(name)))
    };
    element("scope", "GLOBAL")?;
    element("id", id)?;
    element("description", description.unwrap_or_default())?;
    let field =
        |name: &str| value.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.expose_secret());
    match kind {
        Kind::SecretText => element("secret", value.fields[0].1.expose_secret())?,
        Kind::UsernamePassword => {
            element("username", field("username").unwrap_or_default())?;
            element("password", field("password").unwrap_or_default())?;
        }
    }
    writer.write_event(Event::End(BytesEnd::new(kind.class())))?;
    Ok(writer.into_inner())
}

/// The name of the root element of an XML document: a credential's class.
fn root_element(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) | Event::Empty(start) => {
                return Some(start.name().as_ref().to_string());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

impl CredentialStore {
    /// Creates the credential, or updates it when it is there already (`exists` says which to
    /// try first; Jenkins answers 409 to a create of an id it holds, 404 to an update of one
    /// it does not).
    async fn put(&self, location: &Location, exists: bool, xml: &[u8]) -> Result<(), RemoteError> {
        let create = format!("{}createCredentials", location.domain_path());
        let update = location.config_path();
        let mut existing = exists;
        for _ in 0..2 {
            let (path, permission) = match existing {
                true => (&update, "Credentials/Update"),
                false => (&create, "Credentials/Create"),
            };
            let reply = self.jenkins.post_xml(path, xml).await?;
            match reply.status {
                200..=299 => return Ok(()),
                409 if !existing => {
                    debug!(id = location.id, "the id is taken in Jenkins; updating instead");
                    existing = true;
                }
                404 if existing => {
                    debug!(id = location.id, "the credential is gone from Jenkins; creating it");
                    existing = false;
                }
                404 => return Err(missing_store(&reply, location).during(format!("POST {path}"))),
                403 => {
                    let error = reply.failure().during(format!("POST {path}"));
                    return Err(error
                        .hint(format!("the user lacks {permission} on the {}", location.store())));
                }
                _ => return Err(reply.failure().during(format!("POST {path}"))),
            }
        }
        Err(RemoteError::new("conflict", "the credential kept appearing and disappearing")
            .during(format!("write {}", location.config_path())))
    }
}

fn missing_store(reply: &Reply, location: &Location) -> RemoteError {
    let what = match &location.folder {
        Some(folder) => format!("the folder `{folder}` or its domain `{}`", location.domain),
        None => format!("the domain `{}` of the system store", location.domain),
    };
    reply.failure().hint(format!(
        "{what} does not exist (or the user cannot see it); create it in Jenkins first"
    ))
}

/// Whether the secret's shape fits the credential's kind: one value for secret text, exactly
/// `username` and `password` for a username and password. Checked by `validate` too.
pub(crate) fn check_shape(secret: &Secret, target: &RemoteTarget) -> Result<(), String> {
    let location = Location::of(&secret.name, &target.options);
    let refuse = |why: String| format!("jenkins-credential `{}`: {why}", location.id);
    check_id(&location.id).map_err(refuse)?;
    let kind = Kind::of(&target.options, secret.is_single()).map_err(refuse)?;
    let names: Vec<&str> = secret.fields.iter().map(|f| f.name.as_str()).collect();
    match kind {
        Kind::SecretText if !secret.is_single() => {
            return Err(refuse(format!(
                "a secret-text credential holds one value, and `{}` has the fields {}",
                secret.name,
                names.join(", ")
            )));
        }
        Kind::UsernamePassword => {
            let mut sorted = names.clone();
            sorted.sort_unstable();
            if sorted != ["password", "username"] {
                let shape = match secret.is_single() {
                    true => "one value".to_string(),
                    false => format!("the fields {}", names.join(", ")),
                };
                return Err(refuse(format!(
                    "a username-password credential needs exactly the fields `username` and \
                     `password`, and `{}` has {shape}; use `kind: secret-text` for one value",
                    secret.name
                )));
            }
        }
        Kind::SecretText => {}
    }
    Ok(())
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(target: &RemoteTarget) -> Result<(), String> {
    let option = |key: &str| target.options.get(key).map(String::as_str);
    // The loader writes the default id (the secret's name) into the options.
    let id = option("id").unwrap_or_default();
    let refuse = |why: String| format!("jenkins-credential `{id}`: {why}");
    Kind::of(&target.options, true).map_err(refuse)?;
    check_id(id).map_err(refuse)?;
    if let Some(folder) = option("folder") {
        check_folder(folder).map_err(refuse)?;
    }
    if let Some(domain) = option("domain")
        && (domain.trim().is_empty() || domain.chars().any(char::is_control))
    {
        return Err(refuse("the domain is empty or holds a control character".into()));
    }
    if option("description").is_some_and(|d| !d.chars().all(xml_char)) {
        return Err(refuse(format!("the description holds {XML_RULE}")));
    }
    Ok(())
}

impl Store for CredentialStore {
    fn check_value(
        &self,
        secret: &Secret,
        target: &RemoteTarget,
        value: &SecretData,
    ) -> Result<(), String> {
        check_shape(secret, target)?;
        let location = Location::of(&secret.name, &target.options);
        let refuse = |why: String| format!("jenkins-credential `{}`: {why}", location.id);
        for (field, v) in &value.fields {
            if !v.expose_secret().chars().all(xml_char) {
                let which = match secret.is_single() {
                    true => format!("the value of `{}`", secret.name),
                    false => format!("field `{field}` of `{}`", secret.name),
                };
                return Err(refuse(format!("{which} holds {XML_RULE}")));
            }
        }
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let location = Location::of(&request.secret, &request.options);
            let path = location.config_path();
            let reply = store.jenkins.get(&path).await?;
            if reply.status == 404 {
                return Ok(StoreRead::Missing);
            }
            if !reply.ok() {
                return Err(reply.failure().during(format!("GET {path}")));
            }

            // A credential of another type under the id is not overwritten.
            let kind = Kind::of(&request.options, request.single).map_err(RemoteError::config)?;
            let class = root_element(&reply.body).unwrap_or_default();
            if class != kind.class() {
                let class = class.rsplit('.').next().unwrap_or_default().to_string();
                return Ok(StoreRead::Broken(format!(
                    "Jenkins holds a `{class}` credential under the id `{}` in the {}, not a {} \
                     one; remove it in Jenkins or choose another `id`",
                    location.id,
                    location.store(),
                    kind.name()
                )));
            }
            Ok(StoreRead::Sealed { stamp: None, why: SEALED.into() })
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        value: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let location = Location::of(&request.secret, &request.options);
            let kind = Kind::of(&request.options, request.single).map_err(RemoteError::config)?;
            let description = request.option("description");
            let xml = credential_xml(kind, &location.id, description, &value)
                .map_err(|e| RemoteError::new("xml", e.to_string()))?;
            store.put(&location, request.exists == Some(true), &xml).await?;
            Ok(None)
        })
    }

    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let reply = store.jenkins.get("/whoAmI/api/json").await?;
            if !reply.ok() {
                return Err(reply.failure().during("GET /whoAmI/api/json"));
            }
            let me: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
            let name = me["name"].as_str().unwrap_or("?");
            if me["anonymous"].as_bool() != Some(false) {
                return Err(RemoteError::new(
                    "anonymous",
                    format!("Jenkins took the requests as anonymous (`{name}`)"),
                )
                .auth()
                .hint("check JENKINS_USER and JENKINS_API_TOKEN"));
            }
            let mut seen = vec![Ok(format!("authenticated as `{name}`"))];

            // Each store and domain a sync writes to must exist and be visible to the user.
            let mut domains = Vec::new();
            for request in &targets {
                let location = Location::of(&request.secret, &request.options);
                let path = location.domain_path();
                if domains.contains(&path) {
                    continue;
                }
                let api = format!("{path}api/json");
                let reply = store.jenkins.get(&api).await?;
                seen.push(match reply.status {
                    200..=299 => Ok(format!("{} can be seen", location.store())),
                    404 => Err(missing_store(&reply, &location).during(format!("GET {api}"))),
                    403 => Err(reply.failure().during(format!("GET {api}")).hint(format!(
                        "the user lacks Credentials/View on the {}",
                        location.store()
                    ))),
                    _ => Err(reply.failure().during(format!("GET {api}"))),
                });
                domains.push(path);
            }
            if !domains.is_empty() {
                seen.push(Ok("Credentials/Create and Credentials/Update are not checked: \
                              Jenkins shows them to no harmless call"
                    .into()));
            }
            Ok(seen)
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn data(fields: &[(&str, &str)]) -> SecretData {
        SecretData {
            fields: fields
                .iter()
                .map(|(n, v)| (n.to_string(), SecretString::from(v.to_string())))
                .collect(),
        }
    }

    #[test]
    fn values_are_escaped_by_the_writer() {
        let value = data(&[("value", "a<b&c>\"d'e\r\nf é")]);
        let xml = credential_xml(Kind::SecretText, "x", Some("<desc>"), &value).unwrap();
        let xml = String::from_utf8(xml).unwrap();
        let escaped = "<secret>a&lt;b&amp;c&gt;&quot;d&apos;e&#13;\nf é</secret>";
        assert!(xml.contains(escaped), "{xml}");
        assert!(xml.contains("<description>&lt;desc&gt;</description>"), "{xml}");
        assert_eq!(root_element(&xml).as_deref(), Some(SECRET_TEXT));
    }

    #[test]
    fn a_value_reaches_jenkins_exactly_as_it_is() {
        let value = data(&[("value", "ends-in-cr\r")]);
        let xml = credential_xml(Kind::SecretText, "x", None, &value).unwrap();
        assert_eq!(
            String::from_utf8(xml).unwrap(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><{SECRET_TEXT}><scope>GLOBAL</scope>\
                 <id>x</id><description></description><secret>ends-in-cr&#13;</secret>\
                 </{SECRET_TEXT}>"
            )
        );
    }

    #[test]
    fn xml_characters() {
        assert!(xml_char('\t') && xml_char('é') && xml_char('\u{1F600}'));
        assert!(!xml_char('\u{0}') && !xml_char('\u{1B}') && !xml_char('\u{FFFE}'));
    }

    #[test]
    fn folder_paths() {
        let options: IndexMap<String, String> =
            [("folder".to_string(), "team a/b".to_string())].into_iter().collect();
        let location = Location::of("db", &options);
        assert_eq!(
            location.config_path(),
            "/job/team%20a/job/b/credentials/store/folder/domain/_/credential/db/config.xml"
        );
        assert!(check_folder("a/../b").is_err() && check_folder("a/b").is_ok());
        assert!(check_id("deploy-key_1.0").is_ok() && check_id("a/b").is_err());
        assert!(check_id(".").is_err() && check_id("..").is_err() && check_id("...").is_ok());
    }
}
