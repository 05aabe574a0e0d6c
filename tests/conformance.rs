//! One conformance suite, run against every remote target type: create, unchanged, read-back
//! drift, restore, forced update, multi-field secrets, and no value in any output. Each store
//! is checked through something independent of SecretZero: boto3 against moto for AWS, the
//! doubles' own state for Vault, Azure Key Vault, GitHub (which opens each sealed box with
//! the scope's private key), GitLab and Jenkins.

#![cfg(any(
    feature = "aws",
    feature = "azure",
    feature = "vault",
    feature = "github",
    feature = "gitlab",
    feature = "jenkins",
    feature = "kubernetes"
))]

mod common;

use common::{Project, Run, dotenv_value};
use serde_json::{Value, json};

/// A remote store as the suite sees it.
trait Backend {
    /// The target entry (a YAML flow mapping) for the secret stored under `name`.
    fn target(&self, name: &str) -> String;
    /// A `providers:` block, if the targets need one.
    fn providers(&self) -> String {
        String::new()
    }
    fn env(&self) -> Vec<(String, String)>;
    /// What the store holds under `name`: a string for a one-value secret, an object of
    /// fields otherwise; `None` when nothing is there.
    fn stored(&self, name: &str, single: bool) -> Option<Value>;
    /// Changes a one-value secret behind SecretZero's back.
    fn tamper(&self, name: &str, value: &str);
    /// Whether the store never gives values back and shows nothing that changes on a write
    /// (Jenkins): drift cannot see a change made there, so the tamper step is skipped.
    fn sealed(&self) -> bool {
        false
    }
}

const CANARY: &str = "CANARY-conformance-0b9d";

fn run(backend: &dyn Backend, project: &Project, args: &[&str]) -> Run {
    let env = backend.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    project.run_env(args, &env)
}

fn conformance(backend: &dyn Backend, prefix: &str) {
    let (one, two) = (format!("{prefix}/one"), format!("{prefix}/two"));
    let project = Project::new(&format!(
        r#"version: "1.0"
{providers}
secrets:
  one:
    generator: {{type: random-string}}
    targets:
      - {{type: local-file, path: .env}}
      - {target_one}
  two:
    template:
      type: creds
      fields:
        - {{name: username, generator: {{type: static, value: app}}}}
        - {{name: password, generator: {{type: static, value: {CANARY}}}}}
    targets:
      - {{type: local-file, path: .env}}
      - {target_two}
"#,
        target_one = backend.target(&one),
        target_two = backend.target(&two),
        providers = backend.providers(),
    ));
    let mut seen = String::new();
    let mut step = |args: &[&str], code: i32| {
        let done = run(backend, &project, args);
        assert_eq!(done.code, code, "{args:?} {done:?}");
        seen.push_str(&done.all_output());
        done
    };

    // Create.
    step(&["sync", "--dry-run"], 0);
    assert_eq!(backend.stored(&one, true), None, "a dry run writes nothing");
    step(&["-vv", "sync"], 0);
    let value = dotenv_value(&project.path(".env"), "ONE").unwrap();
    assert_eq!(backend.stored(&one, true), Some(json!(value)));
    assert_eq!(backend.stored(&two, false), Some(json!({"username": "app", "password": CANARY})));

    // Unchanged: nothing is written, nothing drifted.
    let again = step(&["sync"], 0);
    assert!(again.stderr.contains("targets updated 0, unchanged 4, failed 0"), "{again:?}");
    step(&["drift"], 0);

    // Drift read back from the store, then the recorded value restored.
    if !backend.sealed() {
        backend.tamper(&one, &format!("{CANARY}-by-hand"));
        let drift = step(&["drift", "--format", "json"], 4);
        assert!(drift.stdout.contains("\"rule\": \"drift/value-changed\""), "{drift:?}");
        step(&["-vv", "sync"], 0);
        assert_eq!(backend.stored(&one, true), Some(json!(value)));
    }

    // A forced update writes a new value everywhere.
    step(&["sync", "--force", "-s", "one"], 0);
    let new_value = dotenv_value(&project.path(".env"), "ONE").unwrap();
    assert_ne!(new_value, value);
    assert_eq!(backend.stored(&one, true), Some(json!(new_value)));
    step(&["drift", "--format", "sarif"], 0);
    step(&["test"], 0);

    assert!(!seen.contains("CANARY"), "a value leaked:\n{seen}");
}

#[cfg(feature = "aws")]
mod aws {
    use super::*;

    fn endpoint() -> String {
        std::env::var("SECRETZERO_TEST_MOTO").expect("run scripts/test, which starts moto")
    }

    fn boto(code: &str) -> String {
        let python = std::env::var("SECRETZERO_TEST_MOTO_PYTHON").expect("run scripts/test");
        let script = format!(
            "import boto3\nkw = dict(endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='t', aws_secret_access_key='t')\n\
             sm = boto3.client('secretsmanager', **kw)\nssm = boto3.client('ssm', **kw)\n{code}\n",
            endpoint()
        );
        let out = std::process::Command::new(python).arg("-c").arg(script).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim_end().to_string()
    }

    fn unique() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("/conformance-{}-{nanos}", std::process::id())
    }

    struct Aws {
        kind: &'static str,
    }

    impl Backend for Aws {
        fn target(&self, name: &str) -> String {
            format!("{{type: {}, name: \"{name}\"}}", self.kind)
        }

        fn env(&self) -> Vec<(String, String)> {
            [
                ("AWS_ENDPOINT_URL", endpoint()),
                ("AWS_ACCESS_KEY_ID", "t".into()),
                ("AWS_SECRET_ACCESS_KEY", "t".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ]
            .map(|(k, v)| (k.to_string(), v))
            .to_vec()
        }

        fn stored(&self, name: &str, single: bool) -> Option<Value> {
            let get = match self.kind {
                "aws-ssm" => format!(
                    "ssm.get_parameter(Name='{name}', WithDecryption=True)['Parameter']['Value']"
                ),
                _ => format!("sm.get_secret_value(SecretId='{name}')['SecretString']"),
            };
            let text =
                boto(&format!("try:\n    print({get})\nexcept Exception:\n    print('<none>')"));
            match (text.as_str(), single) {
                ("<none>", _) => None,
                (text, true) => Some(json!(text)),
                (text, false) => Some(serde_json::from_str(text).unwrap()),
            }
        }

        fn tamper(&self, name: &str, value: &str) {
            match self.kind {
                "aws-ssm" => boto(&format!(
                    "ssm.put_parameter(Name='{name}', Value='{value}', Type='SecureString', \
                     Overwrite=True)"
                )),
                _ => {
                    boto(&format!("sm.put_secret_value(SecretId='{name}', SecretString='{value}')"))
                }
            };
        }
    }

    #[test]
    fn aws_secretsmanager() {
        conformance(&Aws { kind: "aws-secretsmanager" }, &unique());
    }

    #[test]
    fn aws_ssm() {
        conformance(&Aws { kind: "aws-ssm" }, &unique());
    }
}

#[cfg(feature = "vault")]
#[path = "common/vault_double.rs"]
mod vault_double;

#[cfg(feature = "vault")]
mod vault {
    use super::vault_double::{ROOT_TOKEN, VaultDouble};
    use super::*;

    struct Vault {
        double: VaultDouble,
        mount: &'static str,
    }

    impl Backend for Vault {
        fn target(&self, name: &str) -> String {
            format!("{{type: vault-kv, mount: {}, path: \"{name}\"}}", self.mount)
        }

        fn env(&self) -> Vec<(String, String)> {
            vec![
                ("VAULT_ADDR".into(), self.double.url.clone()),
                ("VAULT_TOKEN".into(), ROOT_TOKEN.into()),
            ]
        }

        fn stored(&self, name: &str, single: bool) -> Option<Value> {
            let path = name.trim_start_matches('/');
            let data = match self.mount {
                "kv" => self.double.kv1("kv", path),
                _ => self.double.kv2("secret", path),
            }?;
            Some(if single { data["value"].clone() } else { data })
        }

        fn tamper(&self, name: &str, value: &str) {
            let path = name.trim_start_matches('/');
            match self.mount {
                "kv" => {
                    let key = ("kv".to_string(), path.to_string());
                    self.double.state.lock().unwrap().kv1.insert(key, json!({"value": value}));
                }
                _ => self.double.put_kv2("secret", path, json!({"value": value})),
            }
        }
    }

    #[test]
    fn vault_kv_version_2() {
        conformance(&Vault { double: VaultDouble::start(), mount: "secret" }, "/c2");
    }

    #[test]
    fn vault_kv_version_1() {
        conformance(&Vault { double: VaultDouble::start(), mount: "kv" }, "/c1");
    }
}

#[cfg(feature = "azure")]
#[path = "common/keyvault_double.rs"]
mod keyvault_double;

#[cfg(feature = "azure")]
mod azure {
    use super::keyvault_double::{CLIENT_ID, CLIENT_SECRET, KeyVaultDouble, TENANT, ca_file};
    use super::*;

    struct Azure(KeyVaultDouble);

    /// Key Vault names hold letters, digits and dashes only.
    fn name(path: &str) -> String {
        path.trim_start_matches('/').replace('/', "-")
    }

    impl Backend for Azure {
        fn target(&self, path: &str) -> String {
            format!("{{type: azure-keyvault, name: {}}}", name(path))
        }

        fn providers(&self) -> String {
            let url = &self.0.url;
            format!(
                "providers:\n  azure:\n    kind: azure\n    auth: {{kind: service_principal, \
                 tenant_id: {TENANT}, client_id: {CLIENT_ID}}}\n    config: {{vault_url: \
                 \"{url}\", authority_host: \"{url}\", verify_challenge_resource: \"false\"}}"
            )
        }

        fn env(&self) -> Vec<(String, String)> {
            vec![
                ("SSL_CERT_FILE".into(), ca_file()),
                ("AZURE_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
            ]
        }

        fn stored(&self, path: &str, single: bool) -> Option<Value> {
            let text = self.0.value(&name(path))?;
            Some(if single { json!(text) } else { serde_json::from_str(&text).unwrap() })
        }

        fn tamper(&self, path: &str, value: &str) {
            self.0.set(&name(path), value);
        }
    }

    #[test]
    fn azure_keyvault() {
        conformance(&Azure(KeyVaultDouble::start()), "/conformance");
    }
}

#[cfg(feature = "gitlab")]
#[path = "common/gitlab_double.rs"]
mod gitlab_double;

#[cfg(feature = "gitlab")]
mod gitlab {
    use super::gitlab_double::{GitlabDouble, MAINTAINER, plain};
    use super::*;

    struct Gitlab(GitlabDouble);

    /// A variable key holds letters, digits and `_` only.
    fn key(path: &str) -> String {
        path.trim_start_matches('/').replace('/', "_").to_uppercase()
    }

    impl Backend for Gitlab {
        fn target(&self, path: &str) -> String {
            format!("{{type: gitlab-variable, project: team/app, key: {}}}", key(path))
        }

        fn env(&self) -> Vec<(String, String)> {
            vec![
                ("CI_SERVER_URL".into(), self.0.url.clone()),
                ("GITLAB_TOKEN".into(), MAINTAINER.into()),
            ]
        }

        /// A secret with fields is one variable per field, `<KEY>_<FIELD>`.
        fn stored(&self, path: &str, single: bool) -> Option<Value> {
            let value = |name: &str| self.0.variable("team/app", name, "*").map(|v| v.value);
            let key = key(path);
            if single {
                return value(&key).map(|v| json!(v));
            }
            let mut fields = serde_json::Map::new();
            for field in ["username", "password"] {
                if let Some(v) = value(&format!("{key}_{}", field.to_uppercase())) {
                    fields.insert(field.into(), json!(v));
                }
            }
            (!fields.is_empty()).then_some(Value::Object(fields))
        }

        fn tamper(&self, path: &str, value: &str) {
            self.0.put("team/app", plain(&key(path), value, "*"));
        }
    }

    #[test]
    fn gitlab_variable() {
        conformance(&Gitlab(GitlabDouble::start()), "/conformance");
    }
}

#[cfg(feature = "jenkins")]
#[path = "common/jenkins_double.rs"]
mod jenkins_double;

#[cfg(feature = "jenkins")]
mod jenkins {
    use super::jenkins_double::{JenkinsDouble, TOKEN, USER};
    use super::*;

    struct Jenkins(JenkinsDouble);

    /// Credential ids hold letters, digits, `_`, `.` and `-` only.
    fn id(path: &str) -> String {
        path.trim_start_matches('/').replace('/', "-")
    }

    impl Backend for Jenkins {
        fn target(&self, path: &str) -> String {
            format!("{{type: jenkins-credential, folder: team, domain: deploy, id: {}}}", id(path))
        }

        fn env(&self) -> Vec<(String, String)> {
            vec![
                ("JENKINS_URL".into(), self.0.url.clone()),
                ("JENKINS_USER".into(), USER.into()),
                ("JENKINS_API_TOKEN".into(), TOKEN.into()),
            ]
        }

        fn stored(&self, path: &str, single: bool) -> Option<Value> {
            let held = self.0.credential("team", "deploy", &id(path))?;
            Some(match single {
                true => json!(held.fields["secret"]),
                false => {
                    let (username, password) = (&held.fields["username"], &held.fields["password"]);
                    json!({"username": username, "password": password})
                }
            })
        }

        fn tamper(&self, _: &str, _: &str) {
            unreachable!("a sealed store without a stamp is not tampered with");
        }

        fn sealed(&self) -> bool {
            true
        }
    }

    #[test]
    fn jenkins_credential() {
        let double = JenkinsDouble::start();
        double.add_folder("team", &["deploy"]);
        conformance(&Jenkins(double), "/conformance");
    }
}

#[cfg(feature = "kubernetes")]
#[path = "common/kubernetes_double.rs"]
mod kubernetes_double;

#[cfg(feature = "kubernetes")]
mod kubernetes {
    use super::kubernetes_double::{KubernetesDouble, TOKEN, encode};
    use super::*;

    /// Secret `prefix-one` holds key `one`; Secret `prefix-two` holds `username` and
    /// `password`.
    struct Kubernetes {
        double: KubernetesDouble,
        home: tempfile::TempDir,
    }

    fn secret_name(name: &str) -> String {
        name.replace('/', "-")
    }

    fn key(name: &str) -> &str {
        name.rsplit('/').next().unwrap()
    }

    impl Backend for Kubernetes {
        fn target(&self, name: &str) -> String {
            let secret = secret_name(name);
            format!("{{type: kubernetes-secret, namespace: conformance, name: {secret}}}")
        }

        fn env(&self) -> Vec<(String, String)> {
            let kubeconfig = self.home.path().join("kubeconfig.yml");
            std::fs::write(&kubeconfig, self.double.kubeconfig(TOKEN)).unwrap();
            vec![
                ("KUBECONFIG".into(), kubeconfig.to_str().unwrap().into()),
                ("HOME".into(), self.home.path().to_str().unwrap().into()),
            ]
        }

        fn stored(&self, name: &str, single: bool) -> Option<Value> {
            let data = self.double.data("conformance", &secret_name(name))?;
            if single {
                return data.get(key(name)).map(|v| json!(v));
            }
            let mut object = serde_json::Map::new();
            for field in ["username", "password"] {
                object.insert(field.into(), json!(data.get(field)?));
            }
            Some(Value::Object(object))
        }

        fn tamper(&self, name: &str, value: &str) {
            let mut secret = self.double.secret("conformance", &secret_name(name)).unwrap();
            secret["data"][key(name)] = json!(encode(value));
            self.double.put("conformance", &secret_name(name), secret);
        }
    }

    #[test]
    fn kubernetes_secret() {
        let backend =
            Kubernetes { double: KubernetesDouble::start(), home: tempfile::tempdir().unwrap() };
        conformance(&backend, "k8s");
    }
}

#[cfg(feature = "github")]
#[path = "common/github_double.rs"]
mod github_double;

#[cfg(feature = "github")]
mod github {
    use super::github_double::{GithubDouble, TOKEN};
    use super::*;

    struct Github(GithubDouble);

    const SCOPE: &str = "repos/acme/app/actions";

    /// A secret name holds letters, digits and `_` only.
    fn name(path: &str) -> String {
        path.trim_start_matches('/').replace('/', "_").to_uppercase()
    }

    impl Backend for Github {
        fn target(&self, path: &str) -> String {
            format!(
                "{{type: github-secret, provider: gh, owner: acme, repo: app, name: {}}}",
                name(path)
            )
        }

        fn providers(&self) -> String {
            format!("providers:\n  gh: {{kind: github, config: {{api_url: \"{}\"}}}}", self.0.url)
        }

        fn env(&self) -> Vec<(String, String)> {
            vec![("GITHUB_TOKEN".into(), TOKEN.into())]
        }

        /// A secret with fields is one GitHub secret per field, `<NAME>_<FIELD>`; each is
        /// opened with the repository's private key.
        fn stored(&self, path: &str, single: bool) -> Option<Value> {
            let name = name(path);
            if single {
                return self.0.open(SCOPE, &name).map(|v| json!(v));
            }
            let mut fields = serde_json::Map::new();
            for field in ["username", "password"] {
                if let Some(v) = self.0.open(SCOPE, &format!("{name}_{}", field.to_uppercase())) {
                    fields.insert(field.into(), json!(v));
                }
            }
            (!fields.is_empty()).then_some(Value::Object(fields))
        }

        /// A PUT behind SecretZero's back: the value cannot be read, but `updated_at` moves.
        fn tamper(&self, path: &str, value: &str) {
            self.0.tamper(SCOPE, &name(path), value);
        }
    }

    #[test]
    fn github_secret() {
        conformance(&Github(GithubDouble::start()), "/conformance");
    }
}
