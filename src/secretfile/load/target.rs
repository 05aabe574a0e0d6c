//! Targets: local files, and the remote types this build parses and validates.

use super::*;

impl Walker {
    pub(super) fn targets(
        &mut self,
        secret: &str,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> Vec<TargetDef> {
        let Some(items) = self.items(node, "`targets`") else {
            return Vec::new();
        };
        let mut targets: Vec<TargetDef> = Vec::new();
        for item in items {
            let Some(target) = self.target(secret, item, providers) else { continue };
            if let Some(earlier) = targets.iter().find(|t| t.id == target.id) {
                let earlier = earlier.loc;
                self.error(
                    "secretfile/duplicate-target",
                    target.loc,
                    format!("secret `{secret}` lists the same target twice: {}", target.id),
                )
                .related
                .push((earlier, "first listed here".into()));
                continue;
            }
            targets.push(target);
        }
        targets
    }

    /// An ExternalSecret manifest is a whole file: no local-file target may write into it.
    pub(super) fn manifest_files(&mut self, file: &Secretfile) {
        let mut local: HashMap<&str, &str> = HashMap::new();
        for secret in file.secrets.values() {
            for target in &secret.targets {
                if let TargetKind::LocalFile(f) = &target.kind {
                    local.entry(f.path.as_str()).or_insert(secret.name.as_str());
                }
            }
        }
        for secret in file.secrets.values() {
            for target in &secret.targets {
                let TargetKind::Remote(remote) = &target.kind else { continue };
                if remote.kind != RemoteKind::ExternalSecret {
                    continue;
                }
                let path = remote.options.get("path").map_or("", String::as_str);
                if let Some(other) = local.get(path) {
                    self.error(
                        "secretfile/key-collision",
                        target.loc,
                        format!(
                            "secret `{}` writes an ExternalSecret manifest to `{path}`, which \
                             secret `{other}` writes as a local file",
                            secret.name
                        ),
                    );
                }
            }
        }
    }

    /// Targets that share one Kubernetes Secret must agree on its type and on the value of
    /// each label and annotation they set, or every sync would fail or undo one of them.
    pub(super) fn shared_kubernetes_secrets(&mut self, file: &Secretfile) {
        let mut first: HashMap<(String, String), (String, String, Loc)> = HashMap::new();
        for secret in file.secrets.values() {
            for target in &secret.targets {
                let TargetKind::Remote(remote) = &target.kind else { continue };
                if remote.kind != RemoteKind::KubernetesSecret {
                    continue;
                }
                let object = stored_object(remote, &file.providers);
                let label = secret_label(remote);
                let kind = remote.options.get("secret_type").map_or("Opaque", String::as_str);
                let settings = std::iter::once(("type".to_string(), kind.to_string()))
                    .chain(remote.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
                for (setting, value) in settings {
                    let slot = (object.clone(), setting.clone());
                    match first.get(&slot) {
                        Some((other_value, other, other_loc)) if other_value != &value => {
                            let what = match setting.split_once(':') {
                                Some((kind, key)) => format!("{kind} `{key}`"),
                                None => "type".to_string(),
                            };
                            let (other, other_loc) = (other.clone(), *other_loc);
                            self.error(
                                "secretfile/target",
                                target.loc,
                                format!(
                                    "secret `{}` sets the {what} of Secret {label} to `{value}`, \
                                     and secret `{other}` to `{other_value}`",
                                    secret.name
                                ),
                            )
                            .related
                            .push((other_loc, format!("`{other}` sets it here")));
                        }
                        Some(_) => {}
                        None => {
                            first.insert(slot, (value, secret.name.clone(), target.loc));
                        }
                    }
                }
            }
        }
    }

    /// Each remote target against its store's rules (names, scopes, options), where this
    /// build has the store: a target the store would refuse stops every command before any
    /// request, at its line.
    pub(super) fn store_rules(&mut self, file: &Secretfile) {
        for secret in file.secrets.values() {
            for target in &secret.targets {
                let TargetKind::Remote(remote) = &target.kind else { continue };
                if let Some(Err(why)) = crate::target::check_options(secret, remote) {
                    self.error(
                        "secretfile/target",
                        target.loc,
                        format!("secret `{}`: {why}", secret.name),
                    )
                    .set_help("docs/targets.md lists each store's rules");
                }
            }
        }
    }

    pub(super) fn target(
        &mut self,
        secret: &str,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> Option<TargetDef> {
        let entries = self.entries(node, "a target")?;
        let type_names: Vec<&str> =
            std::iter::once("local-file").chain(RemoteKind::ALL.iter().map(|k| k.name())).collect();
        let Some(type_node) = entries.iter().find(|(k, _)| k.name == "type").map(|(_, v)| v) else {
            self.error(
                "secretfile/missing-key",
                node.loc,
                format!("a target of secret `{secret}` has no `type`"),
            )
            .set_help(format!("set `type:` to one of: {}", type_names.join(", ")));
            return None;
        };
        let kind = self.string(type_node, "the target `type`")?;
        if kind == "local-file" {
            return self.local_file(secret, node);
        }
        let Some(remote) = RemoteKind::ALL.into_iter().find(|k| k.name() == kind) else {
            self.unknown(
                "secretfile/unknown-target",
                type_node.loc,
                format!("secret `{secret}` has a target of unknown type `{kind}`"),
                &kind,
                &type_names,
            );
            return None;
        };
        self.remote(secret, node, remote, providers)
    }

    pub(super) fn local_file(&mut self, secret: &str, node: &Node) -> Option<TargetDef> {
        let what = format!("a local-file target of secret `{secret}`");
        let object = self.object(node, &what, LOCAL_FILE_KEYS)?;
        let Some(path_node) = object.get("path") else {
            self.error("secretfile/missing-key", node.loc, format!("{what} has no `path`"));
            return None;
        };
        let written = self.string(path_node, "`path`")?;
        let path = match plain_path(&written) {
            Ok(path) => path,
            Err(reason) => {
                self.error("secretfile/path", path_node.loc, format!("{what}: {reason}"))
                    .set_help("a target path is relative to the Secretfile's folder, inside it");
                return None;
            }
        };
        let own_files = [self.file_name.as_str(), crate::lockfile::FILE_NAME];
        if own_files.contains(&path.as_str()) {
            self.error(
                "secretfile/path",
                path_node.loc,
                format!("{what} would write into `{path}`, which SecretZero itself keeps"),
            );
            return None;
        }
        let resolved = crate::secretfile::join(&self.dir, &path);
        let format = match object.get("format") {
            Some(format_node) => {
                let name = self.string(format_node, "`format`")?;
                let Some(format) = Format::from_name(&name) else {
                    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                    self.unknown(
                        "secretfile/format",
                        format_node.loc,
                        format!("unknown file format `{name}`"),
                        &name,
                        &names,
                    );
                    return None;
                };
                format
            }
            None => match Format::from_path(Path::new(&path)) {
                Some(format) => format,
                None => {
                    self.error(
                        "secretfile/format",
                        path_node.loc,
                        format!("cannot tell the format of `{path}` from its name"),
                    )
                    .set_help("add `format:` with dotenv, json, yaml, toml or tfvars");
                    return None;
                }
            },
        };
        let (key, key_loc) = match object.get("key") {
            Some(key_node) => (self.string(key_node, "`key`")?, key_node.loc),
            None if format == Format::Dotenv => (env_var_name(secret, None), path_node.loc),
            None => (secret.to_string(), path_node.loc),
        };
        if let Err(reason) = format.check_key(&key) {
            self.error("secretfile/key", key_loc, format!("key `{key}`: {reason}"))
                .set_help("set `key:` to a name this format can hold");
            return None;
        }
        Some(TargetDef {
            id: format!("local-file:{path}#{key}"),
            kind: TargetKind::LocalFile(LocalFile { path, resolved, format, key }),
            loc: node.loc,
        })
    }

    pub(super) fn remote(
        &mut self,
        secret: &str,
        node: &Node,
        kind: RemoteKind,
        providers: &IndexMap<String, Provider>,
    ) -> Option<TargetDef> {
        let what = format!("the {} target of secret `{secret}`", kind.name());
        let (required, optional) = kind.options();
        let allowed: Vec<&str> =
            ["type", "provider"].iter().chain(required).chain(optional).copied().collect();
        let object = self.object(node, &what, &allowed)?;
        let before = self.findings.len();

        for option in required {
            if object.get(option).is_none() {
                self.error("secretfile/missing-key", node.loc, format!("{what} has no `{option}`"));
            }
        }
        let provider = object.get("provider").and_then(|n| {
            let name = self.string(n, "`provider`")?;
            match providers.get(&name) {
                Some(p) if p.kind != kind.provider_kind() => {
                    self.error(
                        "secretfile/provider",
                        n.loc,
                        format!(
                            "{what} uses provider `{name}`, which is of kind `{}`; it needs \
                             one of kind `{}`",
                            p.kind.name(),
                            kind.provider_kind().name()
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    let names: Vec<&str> = providers.keys().map(String::as_str).collect();
                    let finding = self.error(
                        "secretfile/provider",
                        n.loc,
                        format!("{what} uses provider `{name}`, which is not declared"),
                    );
                    finding.help = Some(match did_you_mean(&name, &names) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => "declare it under `providers:`".into(),
                    });
                }
            }
            Some(name)
        });
        let mut options = IndexMap::new();
        let mut tags = IndexMap::new();
        for (key, value) in object.entries {
            if key.name == "type" || key.name == "provider" {
                continue;
            }
            if key.name == "tags" {
                tags.extend(self.string_map(value, &format!("the `tags` of {what}")));
                continue;
            }
            if key.name == "labels" || key.name == "annotations" {
                let map = self.string_map(value, &format!("the `{}` of {what}", key.name));
                let prefix = key.name.trim_end_matches('s');
                tags.extend(map.into_iter().map(|(k, v)| (format!("{prefix}:{k}"), v)));
                continue;
            }
            // A YAML boolean (`True`, `FALSE`) is the flag it spells, whatever its case.
            if let Kind::Bool(flag) = value.kind {
                options.insert(key.name.clone(), flag.to_string());
                continue;
            }
            if let Some(text) = self.string(value, &format!("`{}`", key.name)) {
                options.insert(key.name.clone(), text);
            }
        }
        if self.findings.len() != before {
            return None;
        }
        if kind == RemoteKind::GitlabVariable {
            // The variable's name and scope are part of its identity, so their defaults are
            // written out: two secrets in one project are two targets.
            options.entry("key".into()).or_insert_with(|| env_var_name(secret, None));
            options.entry("environment_scope".into()).or_insert_with(|| "*".into());
        }
        if kind == RemoteKind::JenkinsCredential {
            // The credential's id defaults to the secret's name; written out, it is part of the
            // target's identity like an explicit one. The global domain and a folder's
            // slashes are spelled one way, so one credential has one identity.
            options.entry("id".into()).or_insert_with(|| secret.to_string());
            if options.get("domain").is_some_and(|d| d == "_") {
                options.shift_remove("domain");
            }
            if let Some(folder) = options.get_mut("folder") {
                *folder = folder.split('/').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("/");
                if folder.is_empty() {
                    options.shift_remove("folder");
                }
            }
        }
        if kind == RemoteKind::GithubSecret {
            // GitHub keeps secret names upper-cased, whatever was sent; the stored name is the
            // identity. An organization secret's visibility defaults as GitHub's UI does.
            let name = options.get("name").cloned().unwrap_or_else(|| env_var_name(secret, None));
            options.insert("name".into(), name.to_ascii_uppercase());
            if options.contains_key("org") {
                options.entry("visibility".into()).or_insert_with(|| "private".into());
            }
        }

        if kind == RemoteKind::ExternalSecret {
            // The manifest is a file next to the Secretfile, under the same rules as a
            // local-file target's path.
            let name = options.get("name").cloned().unwrap_or_default();
            let written = options
                .get("path")
                .cloned()
                .unwrap_or_else(|| format!("{name}.externalsecret.yaml"));
            let own_files = [self.file_name.as_str(), crate::lockfile::FILE_NAME];
            match plain_path(&written) {
                Ok(path) if own_files.contains(&path.as_str()) => {
                    self.error(
                        "secretfile/path",
                        node.loc,
                        format!("{what} would write into `{path}`, which SecretZero itself keeps"),
                    );
                    return None;
                }
                Ok(path) => {
                    options.insert("path".into(), path);
                }
                Err(reason) => {
                    self.error("secretfile/path", node.loc, format!("{what}: {reason}"))
                        .set_help("the manifest path is relative to the Secretfile's folder");
                    return None;
                }
            }
        }

        let location = location(kind, &options);
        Some(TargetDef {
            id: format!("{}:{}:{location}", kind.name(), provider.as_deref().unwrap_or("")),
            kind: TargetKind::Remote(RemoteTarget {
                kind,
                provider,
                options,
                tags,
                base: self.dir.clone(),
            }),
            loc: node.loc,
        })
    }
}

/// Where in its store a remote target's object is: the part of the target's id after the
/// kind and the provider.
fn location(kind: RemoteKind, options: &IndexMap<String, String>) -> String {
    match kind {
        // Project paths and scopes may both hold `/`, and a group and a project may share a
        // path: `team/app[*]/KEY` is a project's variable, `group:team[*]/KEY` a group's.
        RemoteKind::GitlabVariable => {
            let option = |key: &str| options.get(key).map_or("", String::as_str);
            let owner = match options.get("group") {
                Some(group) => format!("group:{group}"),
                None => option("project").to_string(),
            };
            format!("{owner}[{}]/{}", option("environment_scope"), option("key"))
        }
        // `acme/app/NAME` is a repository's secret, `acme/app[prod]/NAME` one of its
        // environment `prod`, `org:acme/NAME` an organization's.
        RemoteKind::GithubSecret => {
            let option = |key: &str| options.get(key).map_or("", String::as_str);
            let repo = [option("owner"), option("repo")].join("/");
            let place = match (options.get("org"), options.get("environment")) {
                (Some(org), _) => format!("org:{org}/"),
                (None, Some(environment)) => format!("{repo}[{environment}]/"),
                // A target without a scope is refused before any request; its id is the
                // name alone.
                (None, None) if repo == "/" => String::new(),
                (None, None) => format!("{repo}/"),
            };
            format!("{place}{}", option("name"))
        }
        _ => kind
            .identity()
            .iter()
            .filter_map(|key| options.get(*key).filter(|value| !value.is_empty()))
            .cloned()
            .collect::<Vec<_>>()
            .join("/"),
    }
}

/// A Kubernetes Secret as messages name it: `namespace/name`, and the provider it names.
pub(super) fn secret_label(target: &RemoteTarget) -> String {
    let option = |key: &str| target.options.get(key).map_or("", String::as_str);
    let object = format!("{}/{}", option("namespace"), option("name"));
    match &target.provider {
        Some(provider) => format!("{object} (provider `{provider}`)"),
        None => object,
    }
}

/// The object a remote target writes, spelled one way whatever the Secretfile leaves to
/// defaults: its provider (the one it names, else the only one of its kind, as a run picks
/// it), the provider's region (else `AWS_REGION`'s) or Key Vault where the target names none,
/// Vault's default mount, paths without stray slashes. Two targets with one such name write one
/// object. For a
/// Kubernetes Secret it is the Secret, not the key; for an ExternalSecret manifest the file,
/// whatever the provider. Target ids stay as written, since the lockfile records them.
pub(super) fn stored_object(
    target: &RemoteTarget,
    providers: &IndexMap<String, Provider>,
) -> String {
    let kind = target.kind;
    let mut options = target.options.clone();
    if kind == RemoteKind::ExternalSecret {
        return format!("{}::{}", kind.name(), location(kind, &options));
    }
    let provider = Provider::of(providers, target);
    let mut default_from_provider = |key: &str| {
        if let Some(value) = provider.and_then(|p| p.config.get(key)) {
            options.entry(key.to_string()).or_insert_with(|| value.clone());
        }
    };
    match kind {
        RemoteKind::AwsSecretsManager | RemoteKind::AwsSsm => {
            default_from_provider("region");
            // Else the environment's region, as the SDK finds it first.
            let ambient = ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find_map(|name| std::env::var(name).ok().filter(|r| !r.is_empty()));
            if let Some(region) = ambient {
                options.entry("region".into()).or_insert(region);
            }
        }
        RemoteKind::AzureKeyVault => default_from_provider("vault_url"),
        _ => {}
    }
    match kind {
        RemoteKind::AzureKeyVault => {
            // Key Vault's host name is case-insensitive, and its names are too.
            for key in ["vault_url", "name"] {
                if let Some(value) = options.get_mut(key) {
                    *value = value.trim_end_matches('/').to_ascii_lowercase();
                }
            }
        }
        RemoteKind::VaultKv => {
            let mount = options.get("mount").map_or(DEFAULT_VAULT_MOUNT, |m| m.trim_matches('/'));
            options.insert("mount".into(), mount.to_string());
            if let Some(path) = options.get_mut("path") {
                *path = path.trim_matches('/').to_string();
            }
        }
        RemoteKind::KubernetesSecret => {
            options.shift_remove("key");
        }
        _ => {}
    }
    let provider = provider.map_or("", |p| p.name.as_str());
    format!("{}:{provider}:{}", kind.name(), location(kind, &options))
}

/// A target path made plain: relative, without `.` or `..`, with `/` between parts, so that two
/// spellings of one file are one file. Paths that leave the Secretfile's folder are refused: a
/// Secretfile from someone else's repository must not write elsewhere on the machine.
pub(crate) fn plain_path(path: &str) -> Result<String, String> {
    use std::path::Component;
    if path.trim().is_empty() {
        return Err("the path is empty".into());
    }
    if path.starts_with('~') {
        return Err(format!("`{path}` starts with `~`, which is not expanded"));
    }
    if path.chars().any(char::is_control) {
        return Err("the path holds a control character (a newline, a NUL...)".into());
    }
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(format!("`{path}` is absolute"));
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(format!("`{path}` leaves the Secretfile's folder"));
                }
            }
            Component::Normal(part) => match part.to_str() {
                Some(part) => parts.push(part),
                None => return Err(format!("`{path}` is not valid UTF-8")),
            },
        }
    }
    if parts.is_empty() {
        return Err(format!("`{path}` names the Secretfile's folder, not a file"));
    }
    if path.ends_with(['/', '\\']) || path.ends_with("/.") || path.ends_with("/..") {
        return Err(format!("`{path}` names a folder, not a file"));
    }
    Ok(parts.join("/"))
}
