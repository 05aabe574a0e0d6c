//! An in-process test double of Azure Key Vault's secrets API and of the Microsoft identity
//! platform's token endpoint, served over HTTPS (the Azure SDK sends bearer tokens over TLS
//! only) with the certificates in `fixtures/tls/`.
//!
//! It follows Microsoft's documented contracts:
//! - Key Vault authentication (learn.microsoft.com, "Azure Key Vault authentication" and the
//!   REST API's "Authentication, requests and responses"): a request without a bearer token is
//!   answered 401 with `WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
//!   resource="<resource>"`, and the client asks for a token for that resource and tries again;
//! - Key Vault secrets REST API (api-version 2025-07-01): `GET /secrets/{name}/` answers 200
//!   `{"value", "id", "attributes"}` or 404 `{"error": {"code": "SecretNotFound", ...}}`;
//!   `PUT /secrets/{name}` with `{"value", "contentType", "tags"}` makes a new version, or answers
//!   409 `Conflict` (inner error `ObjectIsDeletedButRecoverable`) for a soft-deleted name;
//!   `GET /deletedsecrets/{name}` answers 200 for a soft-deleted name, else 404;
//! - OAuth 2.0 client credentials (Microsoft identity platform): `POST
//!   /{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, `client_id`,
//!   `client_secret` and `scope` answers `{"token_type": "Bearer", "expires_in", "access_token"}`,
//!   or 401 `{"error": "invalid_client", ...}`.

#![allow(dead_code, reason = "each test binary uses part of the double")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub const TENANT: &str = "tenant-1";
pub const CLIENT_ID: &str = "app-1";
pub const CLIENT_SECRET: &str = "sp-secret-1";
const TOKEN: &str = "kv-access-token";

#[derive(Debug, Default)]
pub struct State {
    /// Secret name -> versions (value, content type, tags), oldest first.
    pub secrets: HashMap<String, Vec<Value>>,
    /// Soft-deleted names.
    pub deleted: Vec<String>,
    /// Requests as `METHOD path`, and whether each carried the bearer token.
    pub log: Vec<(String, bool)>,
    /// Scopes tokens were asked for.
    pub scopes: Vec<String>,
}

pub struct KeyVaultDouble {
    /// `https://localhost:PORT`: the vault URL and the authority host.
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

fn tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls");
    let certs = CertificateDer::pem_file_iter(format!("{dir}/localhost.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/localhost.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

/// The CA the client must trust, for `SSL_CERT_FILE`.
pub fn ca_file() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls/ca.pem").to_string()
}

impl KeyVaultDouble {
    pub fn start() -> KeyVaultDouble {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State::default()));
        let config = tls_config();
        let (shared, base) = (Arc::clone(&state), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (state, config, base) =
                    (Arc::clone(&shared), Arc::clone(&config), base.clone());
                std::thread::spawn(move || {
                    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    // One request per connection: the reply says `Connection: close`.
                    let Some((method, path, headers, body)) = read_request(&mut tls) else {
                        return;
                    };
                    let (status, extra, reply) =
                        answer(&mut state.lock().unwrap(), &base, &method, &path, &headers, &body);
                    let text = reply.to_string();
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n",
                        text.len()
                    );
                    for (name, value) in extra {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = tls.write_all(head.as_bytes());
                    let _ = tls.write_all(text.as_bytes());
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        KeyVaultDouble { url, state }
    }

    /// The current value of a secret.
    pub fn value(&self, name: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        state.secrets.get(name)?.last()?["value"].as_str().map(str::to_string)
    }

    pub fn latest(&self, name: &str) -> Option<Value> {
        self.state.lock().unwrap().secrets.get(name)?.last().cloned()
    }

    pub fn set(&self, name: &str, value: &str) {
        let mut state = self.state.lock().unwrap();
        state.secrets.entry(name.into()).or_default().push(json!({"value": value}));
    }
}

type Request = (String, String, HashMap<String, String>, String);

fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, headers, String::from_utf8_lossy(&body).into_owned()))
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn answer(
    state: &mut State,
    base: &str,
    method: &str,
    path: &str,
    headers: &HashMap<String, String>,
    body: &str,
) -> (u16, Vec<(&'static str, String)>, Value) {
    let (route, _query) = path.split_once('?').unwrap_or((path, ""));
    let authorized =
        headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {TOKEN}"));
    state.log.push((format!("{method} {route}"), authorized));

    // The token endpoint of the identity platform.
    if route == format!("/{TENANT}/oauth2/v2.0/token") && method == "POST" {
        let form: HashMap<String, String> = body
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        state.scopes.push(form.get("scope").cloned().unwrap_or_default());
        let good = form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
            && form.get("grant_type").map(String::as_str) == Some("client_credentials");
        return if good {
            let token = json!({"token_type": "Bearer", "expires_in": 3599,
                               "ext_expires_in": 3599, "access_token": TOKEN});
            (200, vec![], token)
        } else {
            let description = "AADSTS7000215: Invalid client secret provided.";
            let reply = json!({"error": "invalid_client", "error_description": description,
                               "error_codes": [7000215]});
            (401, vec![], reply)
        };
    }

    // Key Vault: the challenge first.
    if !authorized {
        let challenge =
            format!("Bearer authorization=\"{base}/{TENANT}\", resource=\"https://localhost\"");
        let reply = error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.");
        return (401, vec![("WWW-Authenticate", challenge)], reply);
    }
    let segments: Vec<&str> = route.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["secrets", name, ..]) => match state.secrets.get(*name) {
            Some(versions) => {
                let mut latest = versions.last().unwrap().clone();
                latest["id"] = json!(format!("{base}/secrets/{name}/v{}", versions.len()));
                latest["attributes"] = json!({"enabled": true});
                (200, vec![], latest)
            }
            None => (
                404,
                vec![],
                error(
                    "SecretNotFound",
                    &format!("A secret with (name/id) {name} was not found in this key vault."),
                ),
            ),
        },
        ("PUT", ["secrets", name]) => {
            if state.deleted.iter().any(|d| d == name) {
                let mut reply = error(
                    "Conflict",
                    &format!(
                        "Secret {name} is currently in a deleted but recoverable state, and its \
                         name cannot be reused; in this state, the secret can only be recovered \
                         or purged."
                    ),
                );
                reply["error"]["innererror"] = json!({"code": "ObjectIsDeletedButRecoverable"});
                return (409, vec![], reply);
            }
            let parameters: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            if !parameters["value"].is_string() {
                return (400, vec![], error("BadParameter", "The request has no value."));
            }
            let versions = state.secrets.entry(name.to_string()).or_default();
            versions.push(parameters.clone());
            let mut reply = parameters;
            reply["id"] = json!(format!("{base}/secrets/{name}/v{}", versions.len()));
            (200, vec![], reply)
        }
        ("GET", ["deletedsecrets", name]) if state.deleted.iter().any(|d| d == name) => (
            200,
            vec![],
            json!({"recoveryId": format!("{base}/deletedsecrets/{name}"),
                   "id": format!("{base}/secrets/{name}/v1")}),
        ),
        ("GET", ["deletedsecrets", name]) => {
            (404, vec![], error("SecretNotFound", &format!("Deleted Secret not found: {name}")))
        }
        _ => (400, vec![], error("BadParameter", "Unknown request")),
    }
}

/// Decodes a form value (`+` and `%XX`).
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}
