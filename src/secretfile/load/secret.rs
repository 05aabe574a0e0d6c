//! Secrets and their templates.

use super::*;

impl Walker {
    pub(super) fn secrets(
        &mut self,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> IndexMap<String, Secret> {
        let mut secrets = IndexMap::new();
        let Kind::Map(entries) = &node.kind else {
            self.error(
                "secretfile/type",
                node.loc,
                format!(
                    "`secrets` must be a mapping from secret name to definition, found {}",
                    node.kind_name()
                ),
            );
            return secrets;
        };
        self.duplicates(entries, "`secrets`");
        let mut keys_in_files: HashMap<(String, String), (String, Loc)> = HashMap::new();
        for (key, value) in entries {
            if secrets.contains_key(&key.name) {
                continue;
            }
            self.current_secret = Some(key.name.clone());
            if !valid_secret_name(&key.name) {
                self.error(
                    "secretfile/secret-name",
                    key.loc,
                    format!(
                        "secret name `{}` may only hold letters, digits, `_`, `-` and `.`, \
                         and must start with a letter or `_`",
                        key.name
                    ),
                );
                // The body is still checked, so that every problem is reported at once.
                let _ = self.secret(&key.name, key.loc, value, providers);
                continue;
            }
            if let Some(secret) = self.secret(&key.name, key.loc, value, providers) {
                self.check_key_collisions(&secret, providers, &mut keys_in_files);
                secrets.insert(key.name.clone(), secret);
            }
        }
        self.current_secret = None;
        secrets
    }

    /// Two secrets writing the same key of the same file would overwrite each other.
    pub(super) fn check_key_collisions(
        &mut self,
        secret: &Secret,
        providers: &IndexMap<String, Provider>,
        seen: &mut HashMap<(String, String), (String, Loc)>,
    ) {
        for target in &secret.targets {
            let file = match &target.kind {
                TargetKind::LocalFile(file) => file,
                // These stores hold one secret's whole value per object (a Jenkins credential
                // too): two secrets writing one object would overwrite each other on every run.
                // (A Kubernetes Secret holds keys that several secrets may share, so it is left
                // out.)
                TargetKind::Remote(remote)
                    if matches!(
                        remote.kind,
                        RemoteKind::AwsSecretsManager
                            | RemoteKind::AwsSsm
                            | RemoteKind::AzureKeyVault
                            | RemoteKind::VaultKv
                            | RemoteKind::JenkinsCredential
                    ) =>
                {
                    let object = target::stored_object(remote, providers);
                    self.claim(seen, (String::new(), object.clone()), secret, target.loc, &object);
                    continue;
                }
                // One variable per field: two secrets, or two fields, may meet in one name.
                // GitHub names are case-insensitive, as are owners, repositories and
                // environments: the slot is compared upper-cased.
                TargetKind::Remote(remote)
                    if matches!(
                        remote.kind,
                        RemoteKind::GitlabVariable | RemoteKind::GithubSecret
                    ) =>
                {
                    let github = remote.kind == RemoteKind::GithubSecret;
                    let option = if github { "name" } else { "key" };
                    let key = remote.options.get(option).map_or("", String::as_str);
                    let names: Vec<String> = match secret.is_single() {
                        true => vec![key.to_string()],
                        false => {
                            secret.fields.iter().map(|f| field_variable(key, &f.name)).collect()
                        }
                    };
                    let object = target::stored_object(remote, providers);
                    let (place, _) = object.rsplit_once('/').unwrap_or((&object, ""));
                    let noun = if github { "secret" } else { "variable" };
                    let slot = |name: &str| match github {
                        true => (place.to_uppercase(), name.to_uppercase()),
                        false => (place.to_string(), name.to_string()),
                    };
                    for (i, name) in names.iter().enumerate() {
                        if let Some(j) = names[..i].iter().position(|n| slot(n) == slot(name)) {
                            self.error(
                                "secretfile/key-collision",
                                target.loc,
                                format!(
                                    "fields `{}` and `{}` of secret `{}` both write {noun} \
                                     `{name}` of {place}",
                                    secret.fields[j].name, secret.fields[i].name, secret.name
                                ),
                            );
                        }
                        let what = format!("{noun} `{name}` of {place}");
                        self.claim(seen, slot(name), secret, target.loc, &what);
                    }
                    continue;
                }
                // Keys of one Kubernetes Secret may belong to several secrets, but one key to
                // one only; an ExternalSecret manifest file belongs to one secret.
                TargetKind::Remote(remote) if remote.kind == RemoteKind::KubernetesSecret => {
                    let object = target::stored_object(remote, providers);
                    let label = format!("kubernetes-secret {}", target::secret_label(remote));
                    let keys: Vec<String> = if secret.is_single() {
                        vec![remote.options.get("key").unwrap_or(&secret.name).clone()]
                    } else {
                        secret.fields.iter().map(|f| f.name.clone()).collect()
                    };
                    for key in keys {
                        let what = format!("key `{key}` of {label}");
                        self.claim(seen, (object.clone(), key), secret, target.loc, &what);
                    }
                    continue;
                }
                TargetKind::Remote(remote) if remote.kind == RemoteKind::ExternalSecret => {
                    let object = target::stored_object(remote, providers);
                    self.claim(seen, (String::new(), object.clone()), secret, target.loc, &object);
                    continue;
                }
                TargetKind::Remote(_) => continue,
            };
            if !secret.is_single() && file.format != Format::Dotenv {
                for field in &secret.fields {
                    if let Err(reason) = file.format.check_field_name(&field.name) {
                        self.error(
                            "secretfile/key",
                            target.loc,
                            format!("field `{}` of secret `{}`: {reason}", field.name, secret.name),
                        );
                    }
                }
            }
            let keys = file_keys(secret, file);
            // Field names that differ only in case or punctuation meet in one dotenv key.
            for (i, key) in keys.iter().enumerate() {
                if let Some(j) = keys[..i].iter().position(|k| k == key) {
                    self.error(
                        "secretfile/key-collision",
                        target.loc,
                        format!(
                            "fields `{}` and `{}` of secret `{}` both write key `{key}` in `{}`",
                            secret.fields[j].name, secret.fields[i].name, secret.name, file.path
                        ),
                    );
                }
            }
            for key in keys {
                let what = format!("key `{key}` in `{}`", file.path);
                self.claim(seen, (file.path.clone(), key), secret, target.loc, &what);
            }
        }
    }

    /// Records that `secret` writes `slot` (a file's key, or a remote object); a second secret
    /// writing the same slot is an error at its target, pointing at the first.
    fn claim(
        &mut self,
        seen: &mut HashMap<(String, String), (String, Loc)>,
        slot: (String, String),
        secret: &Secret,
        loc: Loc,
        what: &str,
    ) {
        match seen.get(&slot) {
            Some((other, other_loc)) if other != &secret.name => {
                let (other, other_loc) = (other.clone(), *other_loc);
                self.error(
                    "secretfile/key-collision",
                    loc,
                    format!("secrets `{other}` and `{}` both write {what}", secret.name),
                )
                .related
                .push((other_loc, format!("`{other}` writes it here")));
            }
            // Two targets of one secret that name one object in other words (GitHub names
            // and scopes in another case).
            Some((_, other_loc)) if *other_loc != loc => {
                let other_loc = *other_loc;
                self.error(
                    "secretfile/duplicate-target",
                    loc,
                    format!("secret `{}` writes {what} twice", secret.name),
                )
                .related
                .push((other_loc, "first here".into()));
            }
            Some(_) => {}
            None => {
                seen.insert(slot, (secret.name.clone(), loc));
            }
        }
    }

    pub(super) fn secret(
        &mut self,
        name: &str,
        name_loc: Loc,
        node: &Node,
        providers: &IndexMap<String, Provider>,
    ) -> Option<Secret> {
        let what = format!("secret `{name}`");
        let object = self.object(node, &what, SECRET_KEYS)?;

        let description = object.get("description").and_then(|n| self.string(n, "`description`"));
        let sensitive = object.get("sensitive").and_then(|n| self.bool(n, "`sensitive`"));
        let sensitive = sensitive.unwrap_or(true);
        let (template, fields) = match (object.get("generator"), object.get("template")) {
            (Some(generator), None) => {
                let env_var = env_var_name(name, None);
                let spec = self.generator(generator, &what);
                let field = spec.map(|generator| Field {
                    name: SINGLE_FIELD.to_string(),
                    generator,
                    loc: generator_loc(&object),
                    env_var,
                    sensitive,
                });
                (None, field.map(|f| vec![f]))
            }
            (None, Some(template)) => match self.template(name, template, sensitive) {
                Some((kind, fields)) => (Some(kind), Some(fields)),
                None => (None, None),
            },
            (Some(_), Some(_)) => {
                self.error(
                    "secretfile/generator-or-template",
                    object.key_loc("template").unwrap_or(name_loc),
                    format!("{what} has both `generator` and `template`"),
                )
                .set_help("use `generator` for one value, `template` for several fields");
                (None, None)
            }
            (None, None) => {
                self.error(
                    "secretfile/generator-or-template",
                    name_loc,
                    format!("{what} has neither `generator` nor `template`"),
                )
                .set_help("add `generator: {type: random-password}`, for example");
                (None, None)
            }
        };

        let rotation_period = object.get("rotation_period").and_then(|n| {
            let text = self.string(n, "`rotation_period`")?;
            match Period::parse(&text) {
                Ok(period) => Some((period, n.loc)),
                Err(message) => {
                    self.error("secretfile/rotation-period", n.loc, format!("{what}: {message}"));
                    None
                }
            }
        });
        let one_time = object.get("one_time").and_then(|n| self.bool(n, "`one_time`"));
        let one_time = one_time.unwrap_or(false);

        let targets = match object.get("targets") {
            Some(node) => self.targets(name, node, providers),
            None => Vec::new(),
        };
        for field in fields.iter().flatten() {
            self.warn_ambient(name, field, name_loc);
        }

        let mut secret = Secret {
            name: name.to_string(),
            description,
            loc: name_loc,
            template,
            fields: fields?,
            targets,
            rotation_period,
            one_time,
            sensitive,
        };
        default_manifest_property(&mut secret);
        Some(secret)
    }

    pub(super) fn template(
        &mut self,
        secret: &str,
        node: &Node,
        sensitive: bool,
    ) -> Option<(String, Vec<Field>)> {
        let what = format!("the template of secret `{secret}`");
        let object = self.object(node, &what, TEMPLATE_KEYS)?;
        let kind = match object.get("type") {
            Some(kind) => self.string(kind, "the template `type`")?,
            None => "custom".to_string(),
        };
        let Some(fields_node) = object.get("fields") else {
            self.error("secretfile/missing-key", node.loc, format!("{what} has no `fields`"));
            return None;
        };
        let items = self.items(fields_node, "`fields`")?;
        if items.is_empty() {
            self.error("secretfile/empty", fields_node.loc, format!("{what} has no fields"));
            return None;
        }

        let mut fields: Vec<Field> = Vec::new();
        let mut complete = true;
        for item in items {
            let Some(field_object) = self.object(item, "a template field", FIELD_KEYS) else {
                complete = false;
                continue;
            };
            let Some(name_node) = field_object.get("name") else {
                self.error("secretfile/missing-key", item.loc, "a field has no `name`".into());
                complete = false;
                continue;
            };
            let Some(name) = self.string(name_node, "a field name") else {
                complete = false;
                continue;
            };
            if !valid_secret_name(&name) {
                self.error(
                    "secretfile/field-name",
                    name_node.loc,
                    format!("field name `{name}` may only hold letters, digits, `_`, `-`, `.`"),
                );
                complete = false;
                // The generator is still checked, so that every problem is reported at once.
                if let Some(generator) = field_object.get("generator") {
                    let _ =
                        self.generator(generator, &format!("field `{name}` of secret `{secret}`"));
                }
                continue;
            }
            if let Some(earlier) = fields.iter().find(|f| f.name == name) {
                let earlier = earlier.loc;
                self.error(
                    "secretfile/duplicate-key",
                    name_node.loc,
                    format!("field `{name}` of secret `{secret}` is defined twice"),
                )
                .related
                .push((earlier, "first defined here".into()));
                complete = false;
                continue;
            }
            let Some(generator) = field_object.get("generator") else {
                self.error(
                    "secretfile/missing-key",
                    item.loc,
                    format!("field `{name}` of secret `{secret}` has no `generator`"),
                );
                complete = false;
                continue;
            };
            // A template whose only field is `value` is a one-value secret, as the FAQ's
            // examples write it: same key, same environment variable.
            let single = items.len() == 1 && name == SINGLE_FIELD;
            let env_var = env_var_name(secret, (!single).then_some(name.as_str()));
            let field_what = format!("field `{name}` of secret `{secret}`");
            let field_sensitive = match field_object.get("sensitive") {
                Some(n) => self.bool(n, "`sensitive`").unwrap_or(true),
                None => true,
            };
            match self.generator(generator, &field_what) {
                Some(spec) => fields.push(Field {
                    name,
                    generator: spec,
                    loc: name_node.loc,
                    env_var,
                    sensitive: sensitive && field_sensitive,
                }),
                None => complete = false,
            }
        }
        complete.then_some((kind, fields))
    }
}

/// The keys a secret writes into a local file: one, or one per field (prefixed in dotenv).
pub(crate) fn file_keys(secret: &Secret, file: &LocalFile) -> Vec<String> {
    if secret.is_single() || file.format != Format::Dotenv {
        return vec![file.key.clone()];
    }
    secret.fields.iter().map(|f| format!("{}_{}", file.key, env_var_name(&f.name, None))).collect()
}

pub(crate) fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn generator_loc(object: &Object<'_>) -> Loc {
    object.key_loc("generator").unwrap_or_default()
}

/// Environment variables that shells and CI runners set on their own: a secret named after one
/// would silently take its value.
const AMBIENT: &[&str] = &[
    "PATH", "HOME", "USER", "SHELL", "PWD", "OLDPWD", "LANG", "TERM", "HOSTNAME", "LOGNAME",
    "TMPDIR", "TMP", "TEMP", "_", "SHLVL", "CI", "EDITOR", "DISPLAY", "MAIL", "UID",
];

impl Walker {
    fn warn_ambient(&mut self, secret: &str, field: &Field, loc: Loc) {
        if !AMBIENT.contains(&field.env_var.as_str()) {
            return;
        }
        let warning = Finding::warning(
            "secretfile/ambient-variable",
            self.file.clone(),
            Some(loc),
            format!(
                "secret `{secret}` takes its value from the environment variable {} when it is \
                 set, and most shells set it",
                field.env_var
            ),
        )
        .with_secret(secret)
        .with_help("rename the secret or the field");
        self.warnings.push(warning);
    }
}

/// A one-value secret that Vault or a Kubernetes Secret holds is one key of a mapping there
/// (`value`, or the Secret's data key). ESO copies the whole mapping, as JSON, for a
/// `remoteRef` without a `property`, so an ExternalSecret manifest of such a secret that
/// names none points at that key; `property: ""` leaves it out.
fn default_manifest_property(secret: &mut Secret) {
    if !secret.is_single() {
        return;
    }
    let held = secret.targets.iter().find_map(|target| match &target.kind {
        TargetKind::Remote(remote) if remote.kind == RemoteKind::VaultKv => {
            Some("value".to_string())
        }
        TargetKind::Remote(remote) if remote.kind == RemoteKind::KubernetesSecret => {
            Some(remote.options.get("key").cloned().unwrap_or_else(|| secret.name.clone()))
        }
        _ => None,
    });
    let Some(held) = held else { return };
    for target in &mut secret.targets {
        if let TargetKind::Remote(remote) = &mut target.kind
            && remote.kind == RemoteKind::ExternalSecret
        {
            remote.options.entry("property".into()).or_insert_with(|| held.clone());
        }
    }
}
