//! Remote target types: the machinery every cloud store shares, and the types this build
//! cannot write.
//!
//! A remote target reads everything the planner will ask for in one concurrent prefetch, and
//! stages writes until [`Target::flush`], which runs them concurrently. Each provider has a
//! limit on requests in flight ([`crate::provider::Limiter`]); retries with backoff live in the
//! provider's client. Every documented limit of a store (names, sizes, depth) is checked before
//! any request, so `sync --dry-run` shows a write the store would refuse as skipped.
//!
//! A store type without its cargo feature in this build is [`Unsupported`]: its targets fail
//! one by one with an error that names the feature, and the rest of the run goes on.

use super::{FlushFailure, Readback, SecretData, Target, TargetError};
use crate::secretfile::{RemoteTarget, Secret, TargetDef, TargetKind};

#[cfg(feature = "remote")]
pub(crate) use machinery::{Checked, Request, Store, StoreRead};
#[cfg(feature = "remote")]
pub use machinery::{Probe, RemoteTargets};

/// The rules a store sets for a target's names and options, checked without connecting (for
/// `validate`, and every command that loads the Secretfile); `None` when this build lacks the
/// target type, whose options are then checked only for their names.
pub fn check_options(secret: &Secret, target: &RemoteTarget) -> Option<Result<(), String>> {
    #[cfg(feature = "remote")]
    use crate::secretfile::RemoteKind;
    let _ = secret;
    #[allow(unreachable_patterns, reason = "reachable in builds without every feature")]
    match target.kind {
        #[cfg(feature = "aws")]
        RemoteKind::AwsSecretsManager => Some(super::aws_secretsmanager::check_options(target)),
        // The region is not known before connecting: an empty one makes the ARN's length a
        // lower bound, so nothing valid is refused.
        #[cfg(feature = "aws")]
        RemoteKind::AwsSsm => Some(super::aws_ssm::check_options(target, "")),
        #[cfg(feature = "vault")]
        RemoteKind::VaultKv => Some(super::vault_kv::check_options(target)),
        #[cfg(feature = "azure")]
        RemoteKind::AzureKeyVault => Some(super::azure_keyvault::check_options(target)),
        #[cfg(feature = "github")]
        RemoteKind::GithubSecret => Some(super::github_secret::check_options(secret, target)),
        #[cfg(feature = "gitlab")]
        RemoteKind::GitlabVariable => Some(super::gitlab_variable::check_options(secret, target)),
        #[cfg(feature = "jenkins")]
        RemoteKind::JenkinsCredential => Some(
            super::jenkins_credential::check_options(target)
                .and_then(|()| super::jenkins_credential::check_shape(secret, target)),
        ),
        #[cfg(feature = "kubernetes")]
        RemoteKind::KubernetesSecret => {
            Some(super::kubernetes_secret::check_options(secret, target))
        }
        #[cfg(feature = "kubernetes")]
        RemoteKind::ExternalSecret => Some(super::external_secret::check_options(secret, target)),
        _ => None,
    }
}

#[derive(Debug)]
pub struct Unsupported;

fn error(target: &TargetDef) -> TargetError {
    let kind = match &target.kind {
        TargetKind::Remote(remote) => remote.kind,
        TargetKind::LocalFile(_) => unreachable!("local files are always supported"),
    };
    TargetError::Unsupported { kind: kind.name(), id: target.id.clone(), feature: kind.feature() }
}

impl Target for Unsupported {
    fn read(&mut self, _: &Secret, target: &TargetDef) -> Readback {
        Readback::Unreadable(error(target).to_string())
    }

    fn write(&mut self, _: &Secret, target: &TargetDef, _: &SecretData) -> Result<(), TargetError> {
        Err(error(target))
    }

    /// A dry run shows the write as skipped, since it is certain to fail.
    fn available(&self, target: &TargetDef) -> Result<(), String> {
        Err(error(target).to_string())
    }

    fn flush(&mut self) -> Vec<FlushFailure> {
        Vec::new()
    }
}

#[cfg(feature = "remote")]
mod machinery {
    use std::collections::HashMap;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use indexmap::IndexMap;
    use secrecy::{ExposeSecret, SecretString};
    use tracing::debug;

    use super::super::{FlushFailure, Readback, SecretData, Target, TargetError};
    use crate::provider::{Limiter, RemoteError, block_on};
    use crate::secretfile::{Provider, RemoteKind, RemoteTarget, Secret, TargetDef, TargetKind};

    pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

    /// What one request about one secret in one store needs, owned so requests can run
    /// concurrently after the engine's borrow ends.
    #[derive(Debug)]
    pub(crate) struct Request {
        pub secret: String,
        /// The target id, for messages.
        pub id: String,
        #[cfg_attr(
            not(any(
                feature = "aws",
                feature = "azure",
                feature = "github",
                feature = "gitlab",
                feature = "jenkins",
                feature = "kubernetes"
            )),
            expect(
                dead_code,
                reason = "stores that keep one string, or one object per field, or choose by \
                          shape use it"
            )
        )]
        pub single: bool,
        pub options: IndexMap<String, String>,
        #[cfg_attr(
            not(any(feature = "aws", feature = "azure", feature = "kubernetes")),
            expect(dead_code, reason = "stores that tag or label what they hold use it")
        )]
        pub tags: IndexMap<String, String>,
        /// The secret's field names, in Secretfile order, for stores that keep one object per
        /// field.
        #[cfg_attr(
            not(any(feature = "github", feature = "gitlab", feature = "kubernetes")),
            expect(dead_code, reason = "GitHub, GitLab and Kubernetes use it")
        )]
        pub fields: Vec<String>,
        /// What the prefetch found: `Some(true)` when something is stored there already, so a
        /// store can choose between create and update without asking again.
        #[cfg_attr(
            not(any(feature = "aws", feature = "gitlab", feature = "jenkins")),
            expect(dead_code, reason = "AWS, GitLab and Jenkins stores use it")
        )]
        pub exists: Option<bool>,
    }

    impl Request {
        pub fn option(&self, name: &str) -> Option<&str> {
            self.options.get(name).map(String::as_str)
        }
    }

    /// What a store holds for one target.
    #[derive(Debug)]
    pub(crate) enum StoreRead {
        Missing,
        /// One string: the value of a one-value secret, or a JSON object of the fields.
        #[cfg_attr(
            not(any(feature = "aws", feature = "azure")),
            expect(dead_code, reason = "stores that keep one string make it")
        )]
        Text(SecretString),
        /// Named fields, for stores that keep a mapping (Vault KV).
        #[cfg_attr(
            not(any(feature = "vault", feature = "gitlab", feature = "kubernetes")),
            expect(dead_code, reason = "Vault KV and GitLab (a variable per field) keep them")
        )]
        Fields(Vec<(String, SecretString)>),
        /// There, but the store never gives the value back; `stamp` is what it shows about the
        /// value instead (see [`Readback::Sealed`](super::super::Readback::Sealed)), `why`
        /// what it withholds.
        #[cfg_attr(
            not(any(
                feature = "github",
                feature = "gitlab",
                feature = "jenkins",
                feature = "kubernetes"
            )),
            expect(
                dead_code,
                reason = "the GitHub, Jenkins, GitLab and ExternalSecret stores make it"
            )
        )]
        Sealed {
            stamp: Option<String>,
            why: String,
        },
        /// There, but not to be written: the reason says why and what to do.
        #[cfg_attr(
            not(any(
                feature = "aws",
                feature = "azure",
                feature = "jenkins",
                feature = "kubernetes"
            )),
            expect(
                dead_code,
                reason = "AWS, Azure and Jenkins stores have states no write may touch"
            )
        )]
        Broken(String),
    }

    /// One remote target type, connected through one provider.
    pub(crate) trait Store: Send + Sync + std::fmt::Debug {
        /// Rules on a target that need the connection (Parameter Store's ARN length, with the
        /// region resolved), checked before any request; the message names the target and the
        /// limit, and the engine names the secret. The rules on names and options alone ran
        /// when the Secretfile loaded (each type's `check_options`).
        fn check_target(&self, target: &RemoteTarget) -> Result<(), String> {
            let _ = target;
            Ok(())
        }

        /// The store's limits on the value (sizes), checked before any request.
        fn check_value(
            &self,
            secret: &Secret,
            target: &RemoteTarget,
            value: &SecretData,
        ) -> Result<(), String>;

        /// Whether every value the secret's generators could make would be accepted, for a
        /// value still to be generated: a dry run cannot check the value itself.
        fn check_generated(&self, secret: &Secret, target: &RemoteTarget) -> Result<(), String> {
            let _ = (secret, target);
            Ok(())
        }

        fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>>;

        /// Creates or updates the value (and, where the store has them, its metadata). A sealed
        /// store returns the stamp it shows for what was written, for the lockfile.
        fn write(
            &self,
            request: Arc<Request>,
            value: SecretData,
        ) -> BoxFuture<Result<Option<String>, RemoteError>>;

        /// For `secretzero test`: harmless calls that need the credentials and the permissions
        /// a sync of `targets` needs; returns what each showed, a failure for each object or
        /// scope refused, or an error when nothing could be checked (credentials refused, the
        /// store unreachable).
        fn probe(&self, targets: Vec<Arc<Request>>)
        -> BoxFuture<Result<Vec<Checked>, RemoteError>>;
    }

    /// One check of `secretzero test`: what a call showed, or why it was refused.
    pub type Checked = Result<String, RemoteError>;

    /// What `secretzero test` found for one provider and target type.
    #[derive(Debug)]
    pub struct Probe {
        pub provider: String,
        pub kind: RemoteKind,
        pub targets: usize,
        pub outcome: Result<Vec<Checked>, RemoteError>,
    }

    /// A stand-in for a value still to be generated, of the size it will have, when every
    /// field's size is known before it is made: random fields are as long as their generator
    /// makes them (in `x`, which every store takes and no encoding lengthens), others hold the
    /// static value or the environment variable that overrides them. `None` when a field's size
    /// is not known (a script).
    fn sized_sample(secret: &Secret) -> Option<SecretData> {
        let fields = secret.fields.iter().map(|field| {
            let text = match (crate::secretfile::env_override(field), &field.generator) {
                (Some(value), _) => value,
                (None, crate::generate::Spec::Static(spec)) => spec.value.clone()?,
                (None, spec) => SecretString::from("x".repeat(spec.shape()?.0)),
            };
            Some((field.name.clone(), text))
        });
        Some(SecretData { fields: fields.collect::<Option<Vec<_>>>()? })
    }

    /// A store and its provider's limit on requests in flight.
    #[derive(Debug, Clone)]
    struct Connected {
        store: Arc<dyn Store>,
        limiter: Limiter,
    }

    /// Connects a store; the target files provide one function each.
    fn connect(
        kind: RemoteKind,
        provider: &Provider,
        target: &RemoteTarget,
    ) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
        let _ = (provider, target);
        match kind {
            #[cfg(feature = "aws")]
            RemoteKind::AwsSecretsManager => {
                super::super::aws_secretsmanager::connect(provider, target)
            }
            #[cfg(feature = "aws")]
            RemoteKind::AwsSsm => super::super::aws_ssm::connect(provider, target),
            #[cfg(feature = "vault")]
            RemoteKind::VaultKv => super::super::vault_kv::connect(provider),
            #[cfg(feature = "azure")]
            RemoteKind::AzureKeyVault => super::super::azure_keyvault::connect(provider, target),
            #[cfg(feature = "github")]
            RemoteKind::GithubSecret => super::super::github_secret::connect(provider),
            #[cfg(feature = "gitlab")]
            RemoteKind::GitlabVariable => super::super::gitlab_variable::connect(provider),
            #[cfg(feature = "jenkins")]
            RemoteKind::JenkinsCredential => super::super::jenkins_credential::connect(provider),
            #[cfg(feature = "kubernetes")]
            RemoteKind::KubernetesSecret => super::super::kubernetes_secret::connect(provider),
            #[cfg(feature = "kubernetes")]
            RemoteKind::ExternalSecret => super::super::external_secret::connect(target),
            #[allow(unreachable_patterns, reason = "reachable in builds without every feature")]
            _ => unreachable!("the engine routes only supported kinds here"),
        }
    }

    /// Whether this build writes `kind`.
    pub fn supports(kind: RemoteKind) -> bool {
        const BUILT: &[&str] = &[
            #[cfg(feature = "aws")]
            "aws",
            #[cfg(feature = "vault")]
            "vault",
            #[cfg(feature = "azure")]
            "azure",
            #[cfg(feature = "github")]
            "github",
            #[cfg(feature = "gitlab")]
            "gitlab",
            #[cfg(feature = "jenkins")]
            "jenkins",
            #[cfg(feature = "kubernetes")]
            "kubernetes",
        ];
        kind.feature().is_some_and(|feature| BUILT.contains(&feature))
    }

    /// Every remote target of one run, whatever its type.
    #[derive(Debug)]
    pub struct RemoteTargets {
        providers: IndexMap<String, Provider>,
        connections: HashMap<String, Result<Connected, RemoteError>>,
        /// Prefetched reads, by secret and target id.
        cache: HashMap<(String, String), Result<StoreRead, RemoteError>>,
        staged: Vec<Staged>,
        /// The stamps sealed stores showed for this run's writes, by secret and target id.
        stamps: HashMap<(String, String), String>,
        /// The first authentication failure met, so the command exits 3.
        auth_failure: Option<RemoteError>,
    }

    #[derive(Debug)]
    struct Staged {
        connected: Connected,
        request: Arc<Request>,
        value: SecretData,
    }

    fn remote(target: &TargetDef) -> &RemoteTarget {
        match &target.kind {
            TargetKind::Remote(remote) => remote,
            TargetKind::LocalFile(_) => unreachable!("the engine routes only remote targets here"),
        }
    }

    impl RemoteTargets {
        pub fn new(providers: &IndexMap<String, Provider>) -> RemoteTargets {
            crate::provider::install_crypto();
            RemoteTargets {
                providers: providers.clone(),
                connections: HashMap::new(),
                cache: HashMap::new(),
                staged: Vec::new(),
                stamps: HashMap::new(),
                auth_failure: None,
            }
        }

        pub fn supports(kind: RemoteKind) -> bool {
            supports(kind)
        }

        /// Checks every provider with the target types that use it (every type of its kind when
        /// no target uses it), one provider at a time.
        pub fn probe(&mut self, secrets: &[&Secret]) -> Vec<Probe> {
            let mut groups: IndexMap<String, (RemoteTarget, Provider, Vec<Arc<Request>>)> =
                IndexMap::new();
            for secret in secrets {
                for def in &secret.targets {
                    let TargetKind::Remote(target) = &def.kind else { continue };
                    if !supports(target.kind) {
                        continue;
                    }
                    let (key, provider) = self.key(target);
                    let request = Arc::new(self.request(secret, def, None));
                    groups
                        .entry(key)
                        .or_insert_with(|| (target.clone(), provider, Vec::new()))
                        .2
                        .push(request);
                }
            }
            for provider in self.providers.values() {
                // A provider no target uses is checked with every type of its kind; one that
                // targets use, with those types only.
                if groups.values().any(|(_, p, _)| p.name == provider.name) {
                    continue;
                }
                for kind in RemoteKind::ALL {
                    if kind.provider_kind() != provider.kind || !supports(kind) {
                        continue;
                    }
                    let target = RemoteTarget {
                        kind,
                        provider: Some(provider.name.clone()),
                        options: IndexMap::new(),
                        tags: IndexMap::new(),
                        base: std::path::PathBuf::new(),
                    };
                    let key = format!("{}|{}|", kind.name(), provider.name);
                    groups.insert(key, (target, provider.clone(), Vec::new()));
                }
            }

            let mut probes = Vec::new();
            for (_, (target, provider, requests)) in groups {
                let targets = requests.len();
                let outcome = self.connected(&target).and_then(|connected| {
                    // A target the store would refuse is named, not sent.
                    for request in &requests {
                        let mut checked = target.clone();
                        checked.options = request.options.clone();
                        if let Err(reason) = connected.store.check_target(&checked) {
                            let error = RemoteError::new("limit", reason);
                            return Err(error.hint("fix the target in the Secretfile"));
                        }
                    }
                    block_on(async move { connected.store.probe(requests).await })
                });
                match &outcome {
                    Err(error) => self.note(error),
                    Ok(checks) => checks.iter().filter_map(|c| c.as_ref().err()).for_each(|e| {
                        self.note(e);
                    }),
                }
                probes.push(Probe { provider: provider.name, kind: target.kind, targets, outcome });
            }
            probes
        }

        /// The first authentication or authorization failure of the run, if any.
        pub fn auth_failure(&self) -> Option<&RemoteError> {
            self.auth_failure.as_ref()
        }

        /// The provider a target uses: the one it names, else the only one of its kind, else
        /// the defaults (the ambient credentials of the environment).
        fn provider(&self, target: &RemoteTarget) -> Provider {
            Provider::of(&self.providers, target)
                .cloned()
                .unwrap_or_else(|| Provider::default_of(target.kind.provider_kind()))
        }

        /// One connection per target type, provider, region override and Key Vault: a target's
        /// own `vault_url` must not be served by another target's client.
        fn key(&self, target: &RemoteTarget) -> (String, Provider) {
            let provider = self.provider(target);
            let option = |key: &str| target.options.get(key).map_or("", String::as_str);
            let (region, vault) = (option("region"), option("vault_url"));
            (format!("{}|{}|{region}|{vault}", target.kind.name(), provider.name), provider)
        }

        fn lookup(&self, target: &RemoteTarget) -> Option<&Result<Connected, RemoteError>> {
            self.connections.get(&self.key(target).0)
        }

        fn connected(&mut self, target: &RemoteTarget) -> Result<Connected, RemoteError> {
            let (key, provider) = self.key(target);
            if !self.connections.contains_key(&key) {
                let connected = connect(target.kind, &provider, target)
                    .map(|(store, limiter)| Connected { store, limiter });
                self.connections.insert(key.clone(), connected);
            }
            self.connections[&key].clone()
        }

        fn request(&self, secret: &Secret, def: &TargetDef, exists: Option<bool>) -> Request {
            let target = remote(def);
            Request {
                secret: secret.name.clone(),
                id: def.id.clone(),
                single: secret.is_single(),
                options: target.options.clone(),
                tags: target.tags.clone(),
                fields: secret.fields.iter().map(|f| f.name.clone()).collect(),
                exists,
            }
        }

        fn note(&mut self, error: &RemoteError) {
            if error.auth && self.auth_failure.is_none() {
                self.auth_failure = Some(error.clone());
            }
        }

        /// Whether a target may be read or written at all: connected, and a name the store
        /// accepts.
        fn usable(&mut self, secret: &Secret, def: &TargetDef) -> Result<Connected, String> {
            let target = remote(def);
            let connected = self.connected(target).map_err(|e| e.to_string())?;
            let _ = secret;
            connected.store.check_target(target)?;
            if let Some(error) = &self.auth_failure {
                return Err(format!("not tried after an authentication failure: {error}"));
            }
            Ok(connected)
        }
    }

    impl Target for RemoteTargets {
        fn prefetch(&mut self, reads: &[(&Secret, &TargetDef)]) {
            let mut jobs = Vec::new();
            for (secret, def) in reads {
                let key = (secret.name.clone(), def.id.clone());
                if self.cache.contains_key(&key) {
                    continue;
                }
                let Ok(connected) = self.usable(secret, def) else { continue };
                jobs.push((key, connected, Arc::new(self.request(secret, def, None))));
            }
            if jobs.is_empty() {
                return;
            }
            debug!(reads = jobs.len(), "prefetching remote targets");
            let results = block_on(async move {
                let mut set = tokio::task::JoinSet::new();
                for (index, (key, connected, request)) in jobs.into_iter().enumerate() {
                    set.spawn(async move {
                        let _permit = connected.limiter.acquire().await;
                        (index, key, connected.store.read(request).await)
                    });
                }
                let mut results = Vec::new();
                while let Some(done) = set.join_next().await {
                    results.push(
                        done.unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic())),
                    );
                }
                results.sort_by_key(|(index, _, _)| *index);
                results
            });
            for (_, key, result) in results {
                if let Err(error) = &result {
                    self.note(error);
                }
                self.cache.insert(key, result);
            }
        }

        fn read(&mut self, secret: &Secret, def: &TargetDef) -> Readback {
            let key = (secret.name.clone(), def.id.clone());
            if !self.cache.contains_key(&key) {
                let connected = match self.usable(secret, def) {
                    Ok(connected) => connected,
                    Err(reason) => return Readback::Unreadable(reason),
                };
                let request = Arc::new(self.request(secret, def, None));
                let result = block_on(async move {
                    let _permit = connected.limiter.acquire().await;
                    connected.store.read(request).await
                });
                if let Err(error) = &result {
                    self.note(error);
                }
                self.cache.insert(key.clone(), result);
            }
            match &self.cache[&key] {
                Ok(held) => decode(secret, held),
                Err(error) => Readback::Unreadable(error.to_string()),
            }
        }

        fn available(&self, def: &TargetDef) -> Result<(), String> {
            if let Some(error) = &self.auth_failure {
                return Err(format!("not tried after an authentication failure: {error}"));
            }
            match self.lookup(remote(def)) {
                Some(Ok(connected)) => connected.store.check_target(remote(def)),
                Some(Err(error)) => Err(error.to_string()),
                None => Ok(()),
            }
        }

        fn check_generated(&self, secret: &Secret, def: &TargetDef) -> Result<(), String> {
            let target = remote(def);
            match self.lookup(target) {
                Some(Ok(connected)) => {
                    connected.store.check_generated(secret, target)?;
                    // The store's limits on size, with a value as long as the one to come.
                    match sized_sample(secret) {
                        Some(sample) => connected.store.check_value(secret, target, &sample),
                        None => Ok(()),
                    }
                }
                _ => Ok(()),
            }
        }

        fn check(
            &self,
            secret: &Secret,
            def: &TargetDef,
            value: &SecretData,
        ) -> Result<(), String> {
            let target = remote(def);
            match self.lookup(target) {
                Some(Ok(connected)) => {
                    connected.store.check_target(target)?;
                    connected.store.check_value(secret, target, value)
                }
                Some(Err(error)) => Err(error.to_string()),
                None => Ok(()),
            }
        }

        fn write(
            &mut self,
            secret: &Secret,
            def: &TargetDef,
            value: &SecretData,
        ) -> Result<(), TargetError> {
            let refused = |reason: String| TargetError::Refused { reason };
            let connected = self.usable(secret, def).map_err(refused)?;
            connected.store.check_value(secret, remote(def), value).map_err(refused)?;
            let exists = match self.cache.get(&(secret.name.clone(), def.id.clone())) {
                Some(Ok(StoreRead::Missing)) => Some(false),
                Some(Ok(_)) => Some(true),
                _ => None,
            };
            let request = Arc::new(self.request(secret, def, exists));
            self.staged.push(Staged { connected, request, value: value.clone() });
            Ok(())
        }

        fn flush(&mut self) -> Vec<FlushFailure> {
            let staged = std::mem::take(&mut self.staged);
            if staged.is_empty() {
                return Vec::new();
            }
            debug!(writes = staged.len(), "writing remote targets");
            let results = block_on(async move {
                let mut set = tokio::task::JoinSet::new();
                for Staged { connected, request, value } in staged {
                    set.spawn(async move {
                        let _permit = connected.limiter.acquire().await;
                        let result =
                            connected.store.write(Arc::clone(&request), value.clone()).await;
                        (request, result.map_err(|error| redacted(error, &value)))
                    });
                }
                let mut results = Vec::new();
                while let Some(done) = set.join_next().await {
                    results.push(
                        done.unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic())),
                    );
                }
                results
            });
            let mut failures = Vec::new();
            for (request, result) in results {
                let error = match result {
                    Ok(stamp) => {
                        if let Some(stamp) = stamp {
                            let key = (request.secret.clone(), request.id.clone());
                            self.stamps.insert(key, stamp);
                        }
                        continue;
                    }
                    Err(error) => error,
                };
                self.note(&error);
                failures.push(FlushFailure {
                    secret: request.secret.clone(),
                    target_id: request.id.clone(),
                    error: Arc::new(TargetError::Remote { error }),
                });
            }
            failures.sort_by(|a, b| (&a.secret, &a.target_id).cmp(&(&b.secret, &b.target_id)));
            failures
        }

        fn stamp(&self, secret: &str, target: &str) -> Option<String> {
            self.stamps.get(&(secret.to_string(), target.to_string())).cloned()
        }
    }

    /// A store's error with the value it was sent cut out: stores do not echo values, but a
    /// proxy in front of one, or a validation message, might.
    fn redacted(mut error: RemoteError, value: &SecretData) -> RemoteError {
        use base64::Engine;
        for (_, field) in &value.fields {
            let text = field.expose_secret();
            // Shorter values would cut ordinary words out of messages, and reveal little.
            if text.len() < 4 {
                continue;
            }
            // As sent, and as base64 (how a Kubernetes Secret carries it).
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            for form in [text, encoded.as_str()] {
                for part in [&mut error.code, &mut error.message] {
                    if part.contains(form) {
                        *part = part.replace(form, "[value]");
                    }
                }
                if let Some(hint) = error.hint.as_mut().filter(|h| h.contains(form)) {
                    *hint = hint.replace(form, "[value]");
                }
            }
        }
        error
    }

    /// What a target holds, as the engine compares it.
    fn decode(secret: &Secret, held: &StoreRead) -> Readback {
        match held {
            StoreRead::Missing => Readback::Missing,
            StoreRead::Broken(why) => Readback::Broken(why.clone()),
            StoreRead::Sealed { stamp, why } => {
                Readback::Sealed { stamp: stamp.clone(), why: why.clone() }
            }
            StoreRead::Text(text) if secret.is_single() => Readback::Value(SecretData {
                fields: vec![(secret.fields[0].name.clone(), text.clone())],
            }),
            StoreRead::Text(text) => {
                let Ok(serde_json::Value::Object(object)) =
                    serde_json::from_str::<serde_json::Value>(text.expose_secret())
                else {
                    return Readback::Broken(
                        "it holds something other than a JSON object of the secret's fields".into(),
                    );
                };
                let fields = secret
                    .fields
                    .iter()
                    .filter_map(|f| match object.get(&f.name) {
                        Some(serde_json::Value::String(v)) => {
                            Some((f.name.clone(), SecretString::from(v.clone())))
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                if fields.is_empty() {
                    Readback::Missing
                } else {
                    Readback::Value(SecretData { fields })
                }
            }
            StoreRead::Fields(stored) => {
                let fields = secret
                    .fields
                    .iter()
                    .filter_map(|f| {
                        stored
                            .iter()
                            .find(|(name, _)| *name == f.name)
                            .map(|(_, v)| (f.name.clone(), v.clone()))
                    })
                    .collect::<Vec<_>>();
                if fields.is_empty() {
                    Readback::Missing
                } else {
                    Readback::Value(SecretData { fields })
                }
            }
        }
    }

    /// The one string a store keeps: the value of a one-value secret, or a JSON object of the
    /// fields in Secretfile order.
    #[cfg(any(feature = "aws", feature = "azure"))]
    pub(crate) fn encode_text(value: &SecretData, single: bool) -> SecretString {
        if single {
            return value.fields[0].1.clone();
        }
        let object: serde_json::Map<String, serde_json::Value> = value
            .fields
            .iter()
            .map(|(name, v)| {
                (name.clone(), serde_json::Value::String(v.expose_secret().to_string()))
            })
            .collect();
        SecretString::from(serde_json::Value::Object(object).to_string())
    }

    /// The size of what a store keeps for `secret`, and the start of a refusal naming it
    /// (never the value): "the value of `db` is 5000 bytes as a JSON object".
    #[cfg(any(feature = "aws", feature = "azure"))]
    pub(crate) fn stored_size(secret: &Secret, value: &SecretData) -> (usize, String) {
        let bytes = encode_text(value, secret.is_single()).expose_secret().len();
        let shape = if secret.is_single() { "" } else { " as a JSON object" };
        (bytes, format!("the value of `{}` is {bytes} bytes{shape}", secret.name))
    }

    /// A write of one object per field that failed after some fields were written says so:
    /// those fields hold the new value and the rest the old one until a write of every field
    /// succeeds.
    #[cfg(any(feature = "github", feature = "gitlab"))]
    pub(crate) fn partly_written(error: RemoteError, written: &[String]) -> RemoteError {
        if written.is_empty() {
            return error;
        }
        let names = written.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let note = format!(
            "{names} already hold{} the new value and the other fields the old one, until a \
             write of every field succeeds",
            if written.len() == 1 { "s" } else { "" }
        );
        let hint = match error.hint {
            Some(hint) => format!("{hint}; {note}"),
            None => note,
        };
        RemoteError { hint: Some(hint), ..error }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_store_error_that_echoes_the_value_shows_it_cut_out() {
            let value = SecretData {
                fields: vec![
                    ("username".into(), SecretString::from("app")),
                    ("password".into(), SecretString::from("CANARY-echoed-9f2")),
                ],
            };
            let echoed = RemoteError::new("HTTP 400", "value CANARY-echoed-9f2 is invalid")
                .hint("CANARY-echoed-9f2 has a space; app must be longer");
            let shown = redacted(echoed, &value).to_string();
            assert_eq!(
                shown,
                "HTTP 400: value [value] is invalid; [value] has a space; app must be longer"
            );
            // base64 of CANARY-echoed-9f2, as a Kubernetes Secret's data carries it.
            let encoded = RemoteError::new("Invalid (HTTP 422)", "data: Q0FOQVJZLWVjaG9lZC05ZjI=");
            assert_eq!(redacted(encoded, &value).to_string(), "Invalid (HTTP 422): data: [value]");
        }
    }
}

#[cfg(feature = "remote")]
pub(crate) use machinery::BoxFuture;
#[cfg(any(feature = "github", feature = "gitlab"))]
pub(crate) use machinery::partly_written;
#[cfg(any(feature = "aws", feature = "azure"))]
pub(crate) use machinery::{encode_text, stored_size};
