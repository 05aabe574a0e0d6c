//! An in-process test double of a Jenkins controller's credentials REST API, for the
//! `jenkins-credential` target.
//!
//! It follows these documents:
//! - the credentials plugin's user guide, "REST API" section
//!   (github.com/jenkinsci/credentials-plugin/blob/master/docs/user.adoc, shown at
//!   plugins.jenkins.io/credentials): stores at `/credentials/store/system/` and
//!   `/job/<folder>/.../credentials/store/folder/`, domains under `domain/<name>/` (`_` is the
//!   global domain); `GET .../domain/<d>/api/json` lists the domain's credentials;
//!   `POST .../createCredentials` with an XML body (`Content-Type: application/xml`) answers
//!   200, or 409 when the id is taken; `GET .../credential/<id>/config.xml` answers the XML with
//!   `<secret-redacted/>` in place of every secret, `POST` to it replaces the credential (200);
//! - Jenkins' remote access API (jenkins.io/doc/book/using/remote-access-api/) and CSRF
//!   protection (jenkins.io/doc/book/security/csrf-protection/): HTTP Basic auth with a user's
//!   API token (a wrong one is 401 "Invalid password/token for user: ..."); crumbs from
//!   `GET /crumbIssuer/api/json` (`{"crumb", "crumbRequestField"}`), bound to the web session
//!   (`JSESSIONID` cookie) they were issued in; a POST without a valid crumb, when the
//!   controller demands one, is 403 "No valid crumb was included in the request";
//!   `GET /whoAmI/api/json` shows who the request runs as;
//! - error pages are Jetty's HTML (`<title>Error 404 Not Found</title>`), every answer carries
//!   `X-Jenkins`; an overloaded controller or a proxy in front of it answers 503 or 429.
//!
//! The double parses the XML it is sent with quick-xml and keeps the secrets in clear, so
//! tests can compare what Jenkins would have stored.

#![allow(dead_code, reason = "each test binary uses part of the double")]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use serde_json::json;

pub const USER: &str = "deployer";
pub const TOKEN: &str = "11b2c3d4e5f60718293a4b5c6d7e8f90";
pub const SECRET_TEXT: &str = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl";
pub const USERNAME_PASSWORD: &str =
    "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl";

/// One credential as Jenkins holds it, secrets in clear.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub class: String,
    /// Every child element's text: `scope`, `id`, `description`, `secret` or `username` and
    /// `password`.
    pub fields: BTreeMap<String, String>,
}

/// (folder path, `""` for the system store; domain; id).
pub type Key = (String, String, String);

#[derive(Debug, Default)]
pub struct State {
    pub folders: BTreeSet<String>,
    /// (folder path or `""`, domain name).
    pub domains: BTreeSet<(String, String)>,
    pub credentials: BTreeMap<Key, Credential>,
    /// Whether POSTs need a crumb of their session (a controller with the legacy behaviour).
    pub require_crumb: bool,
    /// Session id -> crumb issued in it.
    pub crumbs: HashMap<String, String>,
    /// Requests to refuse for load (503, then 429, alternately) before serving again.
    pub throttle: usize,
    /// Whether the next create finds that someone else created the id first.
    pub race: bool,
    /// Stores (folder path or `""`) where the user lacks the Credentials permissions.
    pub forbidden: BTreeSet<String>,
    /// Every request: method, path, and whether it carried a crumb.
    pub log: Vec<(String, String, bool)>,
}

pub struct JenkinsDouble {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl Drop for JenkinsDouble {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// What the double answers: status, body, content type and a cookie to set.
struct Answer {
    status: u16,
    body: String,
    json: bool,
    cookie: Option<String>,
}

impl Answer {
    fn json(value: serde_json::Value) -> Answer {
        Answer { status: 200, body: value.to_string(), json: true, cookie: None }
    }

    fn empty() -> Answer {
        Answer { status: 200, body: String::new(), json: false, cookie: None }
    }

    fn xml(body: String) -> Answer {
        Answer { status: 200, body, json: false, cookie: None }
    }

    /// Jetty's error page, as Jenkins sends for `sendError`.
    fn page(status: u16, message: &str) -> Answer {
        let body = format!(
            "<html>\n<head>\n<meta http-equiv=\"Content-Type\" \
             content=\"text/html;charset=utf-8\"/>\n<title>Error {status} {message}</title>\n\
             </head>\n<body><h2>HTTP ERROR {status} {message}</h2>\n<table>\n<tr><th>URI:</th>\
             <td>/</td></tr>\n</table>\n</body>\n</html>\n"
        );
        Answer { status, body, json: false, cookie: None }
    }
}

impl JenkinsDouble {
    pub fn start() -> JenkinsDouble {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let mut state = State::default();
        state.domains.insert((String::new(), "_".into()));
        let double = JenkinsDouble {
            url,
            state: Arc::new(Mutex::new(state)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: Arc::new(AtomicUsize::new(0)),
            server,
        };
        let sessions = Arc::new(AtomicUsize::new(0));
        for _ in 0..8 {
            let server = Arc::clone(&double.server);
            let state = Arc::clone(&double.state);
            let in_flight = Arc::clone(&double.in_flight);
            let max = Arc::clone(&double.max_in_flight);
            let sessions = Arc::clone(&sessions);
            std::thread::spawn(move || {
                while let Ok(mut request) = server.recv() {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(15));
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let header = |name: &str| {
                        request
                            .headers()
                            .iter()
                            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                            .map(|h| h.value.as_str().to_string())
                    };
                    let call = Call {
                        method: request.method().as_str().to_string(),
                        url: request.url().to_string(),
                        authorization: header("Authorization"),
                        crumb: header("Jenkins-Crumb"),
                        session: header("Cookie").and_then(|c| {
                            c.split(';').find_map(|p| {
                                p.trim().strip_prefix("JSESSIONID=").map(String::from)
                            })
                        }),
                        content_type: header("Content-Type"),
                        body,
                    };
                    let answer = {
                        let mut state = state.lock().unwrap();
                        let path = call.url.split('?').next().unwrap_or_default().to_string();
                        state.log.push((call.method.clone(), path, call.crumb.is_some()));
                        answer(&mut state, &call, &sessions)
                    };
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let kind = if answer.json { "application/json" } else { "text/html" };
                    let mut response = tiny_http::Response::from_string(answer.body)
                        .with_status_code(answer.status)
                        .with_header(header_line("X-Jenkins", "2.479.3"))
                        .with_header(header_line("Content-Type", &format!("{kind};charset=utf-8")));
                    if let Some(cookie) = answer.cookie {
                        let value = format!("JSESSIONID={cookie}; Path=/; HttpOnly");
                        response = response.with_header(header_line("Set-Cookie", &value));
                    }
                    let _ = request.respond(response);
                }
            });
        }
        double
    }

    pub fn add_folder(&self, path: &str, domains: &[&str]) {
        let mut state = self.state.lock().unwrap();
        let mut parent = String::new();
        for name in path.split('/') {
            parent = if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") };
            state.folders.insert(parent.clone());
            state.domains.insert((parent.clone(), "_".into()));
        }
        for domain in domains {
            state.domains.insert((path.to_string(), domain.to_string()));
        }
    }

    pub fn credential(&self, folder: &str, domain: &str, id: &str) -> Option<Credential> {
        let key = (folder.to_string(), domain.to_string(), id.to_string());
        self.state.lock().unwrap().credentials.get(&key).cloned()
    }

    /// Credential writes (creates and updates) Jenkins accepted or refused.
    pub fn writes(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.log.iter().filter(|(m, _, _)| m == "POST").count()
    }

    pub fn requests(&self) -> Vec<(String, String, bool)> {
        self.state.lock().unwrap().log.clone()
    }
}

fn header_line(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
}

struct Call {
    method: String,
    url: String,
    authorization: Option<String>,
    crumb: Option<String>,
    session: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// Decodes a percent-encoded path or query part.
fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8().expect("UTF-8").into_owned()
}

fn answer(state: &mut State, call: &Call, sessions: &AtomicUsize) -> Answer {
    if state.throttle > 0 {
        state.throttle -= 1;
        return match state.throttle % 2 {
            0 => Answer::page(503, "Service Unavailable"),
            _ => Answer::page(429, "Too Many Requests"),
        };
    }

    // HTTP Basic auth with the API token; without it the request runs as anonymous, who may
    // do nothing here.
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"));
    match call.authorization.as_deref().and_then(|a| a.strip_prefix("Basic ")) {
        Some(given) if given == expected => {}
        Some(given) => {
            let decoded =
                base64::engine::general_purpose::STANDARD.decode(given).unwrap_or_default();
            let user =
                String::from_utf8_lossy(&decoded).split(':').next().unwrap_or("").to_string();
            return Answer::page(401, &format!("Invalid password/token for user: {user}"));
        }
        None => return Answer::page(403, "anonymous is missing the Overall/Read permission"),
    }

    let path = call.url.split('?').next().unwrap_or_default();
    match (call.method.as_str(), path) {
        ("GET", "/whoAmI/api/json") => {
            return Answer::json(json!({
                "_class": "hudson.security.WhoAmI",
                "anonymous": false,
                "authenticated": true,
                "authorities": ["authenticated"],
                "name": USER,
            }));
        }
        ("GET", "/crumbIssuer/api/json") => {
            let (session, fresh) = match &call.session {
                Some(session) => (session.clone(), false),
                None => (format!("node0s{}", sessions.fetch_add(1, Ordering::SeqCst)), true),
            };
            let crumb = format!("crumb-for-{session}");
            state.crumbs.insert(session.clone(), crumb.clone());
            let mut answer = Answer::json(json!({
                "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                "crumb": crumb,
                "crumbRequestField": "Jenkins-Crumb",
            }));
            answer.cookie = fresh.then_some(session);
            return answer;
        }
        _ => {}
    }
    if call.method == "POST" && state.require_crumb {
        let valid = call.session.as_ref().and_then(|s| state.crumbs.get(s));
        if valid.is_none() || valid != call.crumb.as_ref() {
            return Answer::page(403, "No valid crumb was included in the request");
        }
    }

    // /job/a/job/b/credentials/store/folder/domain/d/... or /credentials/store/system/domain/d/...
    let segments: Vec<String> = path.trim_start_matches('/').split('/').map(decode).collect();
    let mut rest = segments.as_slice();
    let mut folder = Vec::new();
    while let [job, name, tail @ ..] = rest
        && job == "job"
    {
        folder.push(name.clone());
        rest = tail;
    }
    let folder = folder.join("/");
    if !folder.is_empty() && !state.folders.contains(&folder) {
        return Answer::page(404, "Not Found");
    }
    let [credentials, store, kind, domain_word, domain, tail @ ..] = rest else {
        return Answer::page(404, "Not Found");
    };
    let kind_fits =
        (kind == "system" && folder.is_empty()) || (kind == "folder" && !folder.is_empty());
    if credentials != "credentials" || store != "store" || domain_word != "domain" || !kind_fits {
        return Answer::page(404, "Not Found");
    }
    if !state.domains.contains(&(folder.clone(), domain.clone())) {
        return Answer::page(404, "Not Found");
    }
    if state.forbidden.contains(&folder) {
        return Answer::page(403, &format!("{USER} is missing the Credentials/View permission"));
    }

    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    match (call.method.as_str(), tail.as_slice()) {
        ("GET", ["api", "json"]) => {
            let ids: Vec<_> = state
                .credentials
                .keys()
                .filter(|(f, d, _)| *f == folder && d == domain)
                .map(|(_, _, id)| json!({"id": id}))
                .collect();
            Answer::json(json!({
                "_class": "com.cloudbees.plugins.credentials.CredentialsStoreAction$DomainWrapper",
                "credentials": ids,
                "urlName": domain,
            }))
        }
        ("POST", ["createCredentials"]) => {
            let Some(credential) = parse_post(call) else {
                return Answer::page(500, "Server Error");
            };
            let id = credential.fields.get("id").cloned().unwrap_or_default();
            let key = (folder, domain.clone(), id);
            if std::mem::take(&mut state.race) {
                let mut other = credential.clone();
                other.fields.insert("secret".into(), "made-by-someone-else".into());
                state.credentials.insert(key.clone(), other);
            }
            if state.credentials.contains_key(&key) {
                return Answer::page(409, "Conflict");
            }
            state.credentials.insert(key, credential);
            Answer::empty()
        }
        (method, ["credential", id, "config.xml"]) => {
            let key = (folder, domain.clone(), id.to_string());
            let Some(held) = state.credentials.get(&key) else {
                return Answer::page(404, "Not Found");
            };
            if method == "GET" {
                return Answer::xml(redacted(held));
            }
            let Some(credential) = parse_post(call) else {
                return Answer::page(500, "Server Error");
            };
            state.credentials.insert(key, credential);
            Answer::empty()
        }
        _ => Answer::page(404, "Not Found"),
    }
}

/// The credential in a POST body, or `None` when Jenkins would fail to read it.
fn parse_post(call: &Call) -> Option<Credential> {
    if !call.content_type.as_deref().is_some_and(|t| t.starts_with("application/xml")) {
        return None;
    }
    parse(&call.body)
}

/// Reads a credential's XML as an XML 1.0 parser does: entities and character references
/// resolved, line ends normalized.
pub fn parse(xml: &str) -> Option<Credential> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut class = None;
    let mut fields = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                let name = start.name().as_ref().to_string();
                match class {
                    None => class = Some(name),
                    Some(_) => current = Some((name, String::new())),
                }
            }
            Event::Empty(start) if class.is_some() => {
                fields.insert(start.name().as_ref().to_string(), String::new());
            }
            Event::Text(text) => {
                if let Some((_, value)) = &mut current {
                    value.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&reference)?.to_string(),
                };
                if let Some((_, value)) = &mut current {
                    value.push_str(&resolved);
                }
            }
            Event::End(_) => {
                if let Some((name, value)) = current.take() {
                    fields.insert(name, value);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if fields.values().any(|v| v.chars().any(|c| c.is_control() && !"\t\n\r".contains(c))) {
        return None;
    }
    Some(Credential { class: class?, fields })
}

/// The credential's `config.xml` as Jenkins answers a GET: every secret redacted.
fn redacted(credential: &Credential) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    let start = BytesStart::new(credential.class.as_str())
        .with_attributes([("plugin", "credentials@1405.vb_cda_74a_f8974")]);
    writer.write_event(Event::Start(start)).unwrap();
    for (name, value) in &credential.fields {
        writer.write_event(Event::Start(BytesStart::new(name.as_str()))).unwrap();
        if matches!(name.as_str(), "secret" | "password") {
            writer.write_event(Event::Empty(BytesStart::new("secret-redacted"))).unwrap();
        } else {
            writer.write_event(Event::Text(BytesText::new(value))).unwrap();
        }
        writer.write_event(Event::End(BytesEnd::new(name.as_str()))).unwrap();
    }
    writer.write_event(Event::End(BytesEnd::new(credential.class.as_str()))).unwrap();
    String::from_utf8(writer.into_inner()).unwrap()
}
