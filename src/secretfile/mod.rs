//! The Secretfile: its model, loading it with source locations, templating and validation.
//!
//! Loading never stops at the first problem: [`load`] walks the whole document and returns
//! every finding at once, so a user fixes a file in one pass.

mod load;
pub(crate) mod node;
mod template;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use secrecy::SecretString;

pub use load::{LoadError, load, load_text};
pub(crate) use load::{plain_path, valid_secret_name};
pub use node::Loc;

use crate::generate;
use crate::rotation::Period;
use crate::target::format::Format;

/// A loaded, rendered and validated Secretfile.
#[derive(Debug)]
pub struct Secretfile {
    /// The path as the user gave it, for messages.
    pub path: PathBuf,
    /// The folder that relative target paths start from.
    pub dir: PathBuf,
    pub version: String,
    pub metadata: Metadata,
    pub variables: IndexMap<String, String>,
    pub providers: IndexMap<String, Provider>,
    /// Custom policies, in file order, for `secretzero policy`.
    pub policies: Vec<Policy>,
    pub secrets: IndexMap<String, Secret>,
    /// The text, with literal values masked, for source excerpts in reports.
    pub masked_source: String,
    /// Problems that do not stop the file from being used, for `validate` to show.
    pub warnings: Vec<crate::report::Finding>,
}

#[derive(Debug, Default)]
pub struct Metadata {
    pub name: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub compliance: Vec<(String, Loc)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Aws,
    Azure,
    Vault,
    Github,
    Gitlab,
    Jenkins,
    Kubernetes,
}

impl ProviderKind {
    pub const ALL: [(&'static str, ProviderKind); 7] = [
        ("aws", ProviderKind::Aws),
        ("azure", ProviderKind::Azure),
        ("vault", ProviderKind::Vault),
        ("github", ProviderKind::Github),
        ("gitlab", ProviderKind::Gitlab),
        ("jenkins", ProviderKind::Jenkins),
        ("kubernetes", ProviderKind::Kubernetes),
    ];

    pub fn name(self) -> &'static str {
        ProviderKind::ALL.iter().find(|(_, kind)| *kind == self).map_or("?", |(name, _)| name)
    }
}

/// What a provider kind accepts in its block, checked when the Secretfile loads so a typo is
/// reported with its line, whatever this build's features.
#[derive(Debug)]
pub struct ProviderSchema {
    /// Keys of `config`, beyond `max_in_flight` and `max_attempts`, which every kind takes.
    pub config: &'static [&'static str],
    /// Each auth `kind` with the keys its `auth` block takes; the first is the default.
    pub auth: &'static [(&'static str, &'static [&'static str])],
    /// Auth keys an auth kind cannot do without: `(kind, keys)`, where one of `keys` will do.
    pub required: &'static [(&'static str, &'static [&'static str])],
    /// `config` keys that are whole numbers, with their range.
    pub numbers: &'static [(&'static str, std::ops::RangeInclusive<u64>)],
}

/// `config` keys every provider kind takes, with the whole numbers each allows.
pub const COMMON_CONFIG: &[(&str, std::ops::RangeInclusive<u64>)] =
    &[("max_in_flight", 1..=256), ("max_attempts", 1..=20)];

impl ProviderKind {
    /// The schema of this kind's provider block.
    pub fn schema(self) -> &'static ProviderSchema {
        const AWS: ProviderSchema = ProviderSchema {
            config: &["region"],
            auth: &[
                ("ambient", &[]),
                ("profile", &["profile"]),
                ("assume_role", &["role_arn", "session_name", "external_id"]),
            ],
            required: &[("profile", &["profile"]), ("assume_role", &["role_arn"])],
            numbers: &[],
        };
        const VAULT: ProviderSchema = ProviderSchema {
            config: &["address", "namespace"],
            auth: &[
                ("token", &["token"]),
                ("ambient", &["token"]),
                ("approle", &["role_id", "secret_id_file", "secret_id_env", "mount"]),
                ("jwt", &["role", "token_file", "token_env", "mount"]),
            ],
            required: &[("jwt", &["role"]), ("jwt", &["token_file", "token_env"])],
            numbers: &[],
        };
        const AZURE: ProviderSchema = ProviderSchema {
            config: &["vault_url", "authority_host", "verify_challenge_resource"],
            auth: &[
                ("default", &[]),
                ("ambient", &[]),
                ("service_principal", &["tenant_id", "client_id", "client_secret_env"]),
                ("workload_identity", &["tenant_id", "client_id", "token_file"]),
                ("managed_identity", &["client_id"]),
                ("cli", &["tenant_id"]),
            ],
            required: &[],
            numbers: &[("request_timeout", 1..=300)],
        };
        const GITLAB: ProviderSchema = ProviderSchema {
            config: &["url"],
            auth: &[("token", &["token"]), ("ambient", &["token"])],
            required: &[],
            numbers: &[],
        };
        const GITHUB: ProviderSchema = ProviderSchema {
            config: &["api_url"],
            auth: &[
                ("token", &["token"]),
                ("ambient", &["token"]),
                ("app", &["app_id", "installation_id", "private_key_file", "private_key_env"]),
            ],
            required: &[
                ("app", &["app_id"]),
                ("app", &["installation_id"]),
                ("app", &["private_key_file", "private_key_env"]),
            ],
            numbers: &[],
        };
        const JENKINS: ProviderSchema = ProviderSchema {
            config: &["url"],
            auth: &[("token", &["user", "token"]), ("ambient", &["user", "token"])],
            required: &[],
            numbers: &[],
        };
        const KUBERNETES: ProviderSchema = ProviderSchema {
            config: &["context", "kubeconfig"],
            // `context` and `kubeconfig` may also sit under `auth`, where the older SecretZero
            // kept them.
            auth: &[
                ("kubeconfig", &["context", "kubeconfig"]),
                ("ambient", &["context", "kubeconfig"]),
                ("in_cluster", &[]),
            ],
            required: &[],
            numbers: &[],
        };
        match self {
            ProviderKind::Aws => &AWS,
            ProviderKind::Github => &GITHUB,
            ProviderKind::Gitlab => &GITLAB,
            ProviderKind::Jenkins => &JENKINS,
            ProviderKind::Vault => &VAULT,
            ProviderKind::Azure => &AZURE,
            ProviderKind::Kubernetes => &KUBERNETES,
        }
    }
}

/// The KV mount a `vault-kv` target without `mount` writes to, as Vault's dev server and most
/// installations name it.
pub const DEFAULT_VAULT_MOUNT: &str = "secret";

/// A named connection that remote targets use.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub auth_kind: String,
    pub auth: IndexMap<String, String>,
    pub config: IndexMap<String, String>,
    pub loc: Loc,
}

impl Provider {
    /// What a remote target without a `provider:` uses when no provider of its kind is
    /// declared: the ambient credentials of the environment and no configuration.
    pub fn default_of(kind: ProviderKind) -> Provider {
        Provider {
            name: format!("(default {})", kind.name()),
            kind,
            auth_kind: "ambient".into(),
            auth: IndexMap::new(),
            config: IndexMap::new(),
            loc: Loc::default(),
        }
    }

    /// The declared provider a target uses: the one it names, else the only one of its kind;
    /// `None` when it names none and the kind has none or several (a run then uses
    /// [`Provider::default_of`]).
    pub fn of<'a>(
        providers: &'a IndexMap<String, Provider>,
        target: &RemoteTarget,
    ) -> Option<&'a Provider> {
        if let Some(name) = &target.provider {
            return providers.get(name);
        }
        let kind = target.kind.provider_kind();
        let mut of_kind = providers.values().filter(|p| p.kind == kind);
        match (of_kind.next(), of_kind.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }
}

/// A custom policy under `policies:`.
#[derive(Debug)]
pub struct Policy {
    pub name: String,
    pub description: Option<String>,
    pub severity: crate::report::Severity,
    /// Which secrets it applies to: glob patterns over secret names; `None` means all.
    pub secrets: Option<globset::GlobSet>,
    pub rule: PolicyRule,
    /// The policy's name (or, in list form, its mapping).
    pub loc: Loc,
}

#[derive(Debug)]
pub enum PolicyRule {
    /// Every selected secret rotates (`require`), at least this often (`max_age`).
    Rotation { require: bool, max_age: Option<(Period, Loc)> },
    /// Which target types selected secrets may be written to, in the environments that match
    /// `environments` (glob patterns over `var.environment`; `None` means every environment).
    Access {
        environments: Option<globset::GlobSet>,
        allowed: Option<Vec<String>>,
        denied: Vec<String>,
    },
    /// What random generators must draw: at least `min_length` characters, and the classes
    /// required (each guaranteed to appear, which only `random-password` promises).
    Generator { min_length: Option<usize>, classes: Vec<CharClass> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    Upper,
    Lower,
    Numbers,
    Symbols,
}

impl CharClass {
    pub const ALL: [(&'static str, CharClass); 4] = [
        ("upper", CharClass::Upper),
        ("lower", CharClass::Lower),
        ("numbers", CharClass::Numbers),
        ("symbols", CharClass::Symbols),
    ];

    pub fn name(self) -> &'static str {
        CharClass::ALL.iter().find(|(_, c)| *c == self).map_or("?", |(name, _)| name)
    }
}

#[derive(Debug)]
pub struct Secret {
    pub name: String,
    pub description: Option<String>,
    pub loc: Loc,
    /// `Some(type)` for a `template` secret; `None` for a one-value `generator` secret.
    pub template: Option<String>,
    /// One field named [`SINGLE_FIELD`] for a one-value secret, else the template's fields.
    pub fields: Vec<Field>,
    pub targets: Vec<TargetDef>,
    pub rotation_period: Option<(Period, Loc)>,
    pub one_time: bool,
    /// `sensitive: false` marks a value that may be written in the Secretfile (a user name,
    /// a URL); policies that forbid literal values skip it.
    pub sensitive: bool,
}

/// The field name a one-value secret's value is recorded under.
pub const SINGLE_FIELD: &str = "value";

impl Secret {
    /// Whether the secret holds one value (written as a plain key) or several fields.
    pub fn is_single(&self) -> bool {
        self.fields.len() == 1 && self.fields[0].name == SINGLE_FIELD
    }
}

#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub generator: generate::Spec,
    pub loc: Loc,
    /// The environment variable that overrides this field's value.
    pub env_var: String,
    /// As [`Secret::sensitive`], for one field; a field of a non-sensitive secret is never
    /// sensitive.
    pub sensitive: bool,
}

#[derive(Debug)]
pub struct TargetDef {
    /// Stable identity in the lockfile, such as `local-file:.env#API_KEY`.
    pub id: String,
    pub kind: TargetKind,
    pub loc: Loc,
}

#[derive(Debug)]
pub enum TargetKind {
    LocalFile(LocalFile),
    Remote(RemoteTarget),
}

#[derive(Debug, Clone)]
pub struct LocalFile {
    /// As written in the Secretfile.
    pub path: String,
    /// Joined onto the Secretfile's folder.
    pub resolved: PathBuf,
    pub format: Format,
    /// The key for a one-value secret, or the prefix (dotenv) or parent key (others) of the
    /// fields of a multi-field secret.
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct RemoteTarget {
    pub kind: RemoteKind,
    pub provider: Option<String>,
    pub options: IndexMap<String, String>,
    /// `tags:`, for stores that tag what they hold; not part of the target's identity. A
    /// Kubernetes Secret's `labels:` and `annotations:` are kept here as `label:<key>` and
    /// `annotation:<key>` (neither kind of key may hold a `:`).
    pub tags: IndexMap<String, String>,
    /// The Secretfile's folder, for target types that write a local file (`external-secret`).
    pub base: PathBuf,
}

/// Target types that live outside the machine; each arrives with its provider's feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    AwsSecretsManager,
    AwsSsm,
    AzureKeyVault,
    VaultKv,
    GithubSecret,
    GitlabVariable,
    JenkinsCredential,
    KubernetesSecret,
    ExternalSecret,
}

impl RemoteKind {
    pub const ALL: [RemoteKind; 9] = [
        RemoteKind::AwsSecretsManager,
        RemoteKind::AwsSsm,
        RemoteKind::AzureKeyVault,
        RemoteKind::VaultKv,
        RemoteKind::GithubSecret,
        RemoteKind::GitlabVariable,
        RemoteKind::JenkinsCredential,
        RemoteKind::KubernetesSecret,
        RemoteKind::ExternalSecret,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RemoteKind::AwsSecretsManager => "aws-secretsmanager",
            RemoteKind::AwsSsm => "aws-ssm",
            RemoteKind::AzureKeyVault => "azure-keyvault",
            RemoteKind::VaultKv => "vault-kv",
            RemoteKind::GithubSecret => "github-secret",
            RemoteKind::GitlabVariable => "gitlab-variable",
            RemoteKind::JenkinsCredential => "jenkins-credential",
            RemoteKind::KubernetesSecret => "kubernetes-secret",
            RemoteKind::ExternalSecret => "external-secret",
        }
    }

    /// The cargo feature that brings this target type, for those that have one.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            RemoteKind::AwsSecretsManager | RemoteKind::AwsSsm => Some("aws"),
            RemoteKind::VaultKv => Some("vault"),
            RemoteKind::AzureKeyVault => Some("azure"),
            RemoteKind::GithubSecret => Some("github"),
            RemoteKind::GitlabVariable => Some("gitlab"),
            RemoteKind::JenkinsCredential => Some("jenkins"),
            RemoteKind::KubernetesSecret | RemoteKind::ExternalSecret => Some("kubernetes"),
        }
    }

    /// The provider kind whose connection this target uses.
    pub fn provider_kind(self) -> ProviderKind {
        match self {
            RemoteKind::AwsSecretsManager | RemoteKind::AwsSsm => ProviderKind::Aws,
            RemoteKind::AzureKeyVault => ProviderKind::Azure,
            RemoteKind::VaultKv => ProviderKind::Vault,
            RemoteKind::GithubSecret => ProviderKind::Github,
            RemoteKind::GitlabVariable => ProviderKind::Gitlab,
            RemoteKind::JenkinsCredential => ProviderKind::Jenkins,
            RemoteKind::KubernetesSecret | RemoteKind::ExternalSecret => ProviderKind::Kubernetes,
        }
    }

    /// Options that must be present, then options that may be.
    pub fn options(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            RemoteKind::AwsSecretsManager => {
                (&["name"], &["region", "kms_key_id", "description", "tags"])
            }
            RemoteKind::AwsSsm => (
                &["name"],
                &["region", "parameter_type", "kms_key_id", "tier", "description", "tags"],
            ),
            RemoteKind::AzureKeyVault => (&["name"], &["vault_url", "content_type", "tags"]),
            RemoteKind::VaultKv => (&["path"], &["mount", "version", "cas"]),
            RemoteKind::GithubSecret => (
                &[],
                &[
                    "owner",
                    "repo",
                    "environment",
                    "org",
                    "visibility",
                    "selected_repositories",
                    "name",
                ],
            ),
            RemoteKind::GitlabVariable => (
                &[],
                &[
                    "project",
                    "group",
                    "key",
                    "protected",
                    "masked",
                    "masked_and_hidden",
                    "raw",
                    "environment_scope",
                    "variable_type",
                    "description",
                ],
            ),
            RemoteKind::JenkinsCredential => {
                (&[], &["id", "domain", "folder", "description", "kind"])
            }
            // The Secret's `type` is `secret_type`: a target's `type` names the target type.
            RemoteKind::KubernetesSecret => {
                (&["name", "namespace"], &["secret_type", "key", "labels", "annotations"])
            }
            RemoteKind::ExternalSecret => (
                &["name", "secret_store", "remote_key"],
                &[
                    "path",
                    "namespace",
                    "secret_store_kind",
                    "refresh_interval",
                    "target_name",
                    "property",
                ],
            ),
        }
    }
}

impl RemoteKind {
    /// The options that say which stored object a target is, in the order its id joins them:
    /// two targets with the same values are the same object, whatever their other settings
    /// (a description, a tier, tags), so changing those never makes a target look new.
    pub fn identity(self) -> &'static [&'static str] {
        match self {
            RemoteKind::AwsSecretsManager | RemoteKind::AwsSsm => &["region", "name"],
            RemoteKind::AzureKeyVault => &["vault_url", "name"],
            RemoteKind::VaultKv => &["mount", "path"],
            RemoteKind::GithubSecret => &["org", "owner", "repo", "environment", "name"],
            RemoteKind::GitlabVariable => &["group", "project", "environment_scope", "key"],
            RemoteKind::JenkinsCredential => &["folder", "domain", "id"],
            RemoteKind::KubernetesSecret => &["namespace", "name", "key"],
            RemoteKind::ExternalSecret => &["path"],
        }
    }
}

impl Secretfile {
    /// The Secretfile's folder joined with a path written in it.
    pub fn resolve(&self, path: &str) -> PathBuf {
        join(&self.dir, path)
    }
}

/// Where the lockfile of the Secretfile at `secretfile` lives by default: beside it.
pub fn default_lockfile_path(secretfile: &Path) -> PathBuf {
    beside(secretfile, crate::lockfile::FILE_NAME)
}

/// A file named `name` in the Secretfile's folder.
pub fn beside(secretfile: &Path, name: &str) -> PathBuf {
    join(&folder_of(secretfile), name)
}

/// Joins without a leading `./`, so messages show `.env` rather than `./.env`.
pub(crate) fn join(dir: &Path, path: &str) -> PathBuf {
    if dir == Path::new(".") { PathBuf::from(path) } else { dir.join(path) }
}

/// The environment variable that overrides a secret's value or one of its fields:
/// `api_key` -> `API_KEY`, field `password` of `database` -> `DATABASE_PASSWORD`.
pub fn env_var_name(secret: &str, field: Option<&str>) -> String {
    let joined = match field {
        Some(field) => format!("{secret}_{field}"),
        None => secret.to_string(),
    };
    joined
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect()
}

/// The variable a field of a multi-field secret becomes in a store of flat names (GitLab CI/CD
/// variables): `KEY_FIELD`.
pub fn field_variable(key: &str, field: &str) -> String {
    format!("{key}_{}", env_var_name(field, None))
}

/// Reads the override for a field; an empty variable counts as unset.
pub fn env_override(field: &Field) -> Option<SecretString> {
    match std::env::var(&field.env_var) {
        Ok(value) if !value.is_empty() => Some(SecretString::from(value)),
        _ => None,
    }
}

/// The folder of a Secretfile path, `.` for a bare file name.
pub(crate) fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A `static` generator without `value` needs its environment variable, unless the lockfile
/// already records the value (then sync keeps what the targets hold). Other commands load such
/// a file: only a sync that needs the value fails, for that secret alone. `validate` reports
/// these with the loader's findings.
pub fn missing_static_values(
    file: &Secretfile,
    lock: Option<&crate::lockfile::Lockfile>,
) -> Vec<crate::report::Finding> {
    let mut findings = Vec::new();
    for secret in file.secrets.values() {
        let entry = lock.and_then(|l| l.secrets.get(&secret.name));
        for field in &secret.fields {
            let generate::Spec::Static(spec) = &field.generator else { continue };
            let recorded = entry.is_some_and(|e| {
                e.fields.contains_key(&field.name)
                    || e.fields.contains_key(crate::lockfile::LEGACY_VALUE_FIELD)
            });
            if spec.value.is_some() || recorded || env_override(field).is_some() {
                continue;
            }
            let owner = match secret.is_single() {
                true => format!("secret `{}`", secret.name),
                false => format!("field `{}` of secret `{}`", field.name, secret.name),
            };
            findings.push(
                crate::report::Finding::error(
                    "secretfile/static-value",
                    file.path.clone(),
                    Some(field.loc),
                    format!(
                        "the static generator of {owner} has no `value`, {} is not set, and the \
                         lockfile records no value",
                        field.env_var
                    ),
                )
                .with_help(format!(
                    "add `value:`, or set the environment variable {} when you validate and sync",
                    field.env_var
                )),
            );
        }
    }
    findings
}
