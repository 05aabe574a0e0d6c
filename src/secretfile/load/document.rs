//! The top of the file: version, metadata, variables, providers and policies.

use super::*;

impl Walker {
    pub(super) fn secretfile(&mut self, root: &Node) -> Option<Secretfile> {
        let Kind::Map(_) = root.kind else {
            self.error(
                "secretfile/type",
                root.loc,
                format!("a Secretfile must be a mapping, found {}", root.kind_name()),
            );
            return None;
        };
        let top = self.object(root, "the top level", TOP_KEYS)?;

        let version = self.version(&top, root.loc);
        let metadata = top.get("metadata").map(|n| self.metadata(n)).unwrap_or_default();
        let variables = top.get("variables").map(|n| self.variables(n)).unwrap_or_default();
        let providers = top.get("providers").map(|n| self.providers(n)).unwrap_or_default();
        let policies = top.get("policies").map(|n| self.policies(n)).unwrap_or_default();
        let secrets = match top.get("secrets") {
            Some(node) => self.secrets(node, &providers),
            None => {
                self.error("secretfile/missing-key", root.loc, "missing `secrets`".into())
                    .set_help("add `secrets:` (write `secrets: {}` while there are none yet)");
                IndexMap::new()
            }
        };

        Some(Secretfile {
            path: self.file.clone(),
            dir: self.dir.clone(),
            version,
            metadata,
            variables,
            providers,
            policies,
            secrets,
            masked_source: String::new(),
            warnings: Vec::new(),
        })
    }

    pub(super) fn version(&mut self, top: &Object<'_>, root: Loc) -> String {
        let Some(node) = top.get("version") else {
            self.error("secretfile/missing-key", root, "missing `version`".into())
                .set_help("add `version: \"1.0\"` at the top of the file");
            return String::new();
        };
        let version = node.scalar_text().unwrap_or_default();
        if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
            self.error(
                "secretfile/version",
                node.loc,
                format!("unsupported Secretfile version `{version}`; this build reads \"1.0\""),
            );
        }
        version
    }

    pub(super) fn metadata(&mut self, node: &Node) -> Metadata {
        let Some(object) = self.object(node, "`metadata`", METADATA_KEYS) else {
            return Metadata::default();
        };
        let mut metadata = Metadata::default();
        for (field, slot) in [
            ("name", &mut metadata.name),
            ("description", &mut metadata.description),
            ("owner", &mut metadata.owner),
        ] {
            if let Some(value) = object.get(field) {
                *slot = self.string(value, &format!("`metadata.{field}`"));
            }
        }
        if let Some(compliance) = object.get("compliance") {
            match &compliance.kind {
                Kind::Seq(items) => {
                    for item in items {
                        let Some(name) = self.string(item, "a compliance framework") else {
                            continue;
                        };
                        if COMPLIANCE_PACKS.contains(&name.as_str()) {
                            metadata.compliance.push((name, item.loc));
                        } else {
                            self.unknown(
                                "secretfile/unknown-compliance",
                                item.loc,
                                format!("unknown compliance framework `{name}`"),
                                &name.to_lowercase(),
                                COMPLIANCE_PACKS,
                            );
                        }
                    }
                }
                _ => {
                    self.error(
                        "secretfile/type",
                        compliance.loc,
                        format!(
                            "`metadata.compliance` must be a list such as [soc2], found {}",
                            compliance.kind_name()
                        ),
                    );
                }
            }
        }
        metadata
    }

    /// Variables render in order, so each may use the ones before it.
    pub(super) fn variables(&mut self, node: &Node) -> IndexMap<String, String> {
        let mut variables = IndexMap::new();
        let Some(entries) = self.entries(node, "`variables`") else {
            return variables;
        };
        self.duplicates(entries, "`variables`");
        for (key, value) in entries {
            if let Some(rendered) = self.string(value, &format!("variable `{}`", key.name)) {
                self.templater.define(&key.name, rendered.clone());
                variables.insert(key.name.clone(), rendered);
            }
        }
        variables
    }

    pub(super) fn providers(&mut self, node: &Node) -> IndexMap<String, Provider> {
        let mut providers = IndexMap::new();
        let Some(entries) = self.entries(node, "`providers`") else {
            return providers;
        };
        self.duplicates(entries, "`providers`");
        for (key, value) in entries {
            if let Some(provider) = self.provider(&key.name, value) {
                providers.insert(key.name.clone(), provider);
            }
        }
        providers
    }

    pub(super) fn provider(&mut self, name: &str, node: &Node) -> Option<Provider> {
        let what = format!("provider `{name}`");
        let object = self.object(node, &what, PROVIDER_KEYS)?;
        let kind_names: Vec<&str> = ProviderKind::ALL.iter().map(|(n, _)| *n).collect();
        let kind = match object.get("kind") {
            None => {
                self.error("secretfile/missing-key", node.loc, format!("{what} has no `kind`"))
                    .set_help(format!("set `kind:` to one of: {}", kind_names.join(", ")));
                None
            }
            Some(kind_node) => {
                let text = self.string(kind_node, &format!("the kind of {what}"))?;
                let found = ProviderKind::ALL.iter().find(|(n, _)| *n == text).map(|(_, k)| *k);
                if found.is_none() {
                    self.unknown(
                        "secretfile/unknown-provider-kind",
                        kind_node.loc,
                        format!("{what} has unknown kind `{text}`"),
                        &text,
                        &kind_names,
                    );
                }
                found
            }
        };

        let mut auth = IndexMap::new();
        let mut auth_kind = "ambient".to_string();
        if let Some(auth_node) = object.get("auth") {
            auth = self.string_map(auth_node, &format!("the `auth` of {what}"));
            if let Some(kind) = auth.shift_remove("kind") {
                auth_kind = kind;
            }
        }
        let config = match object.get("config") {
            Some(config) => self.string_map(config, &format!("the `config` of {what}")),
            None => IndexMap::new(),
        };
        if let Some(schema) = kind.map(ProviderKind::schema) {
            self.provider_schema(
                &what,
                schema,
                (&auth_kind, object.get("auth")),
                &config,
                object.get("config"),
            );
        }
        Some(Provider {
            name: name.to_string(),
            kind: kind?,
            auth_kind,
            auth,
            config,
            loc: node.loc,
        })
    }

    /// Checks a provider block against its kind's schema: the auth kind, the keys of `auth`
    /// and `config`, and the numbers `config` sets.
    fn provider_schema(
        &mut self,
        what: &str,
        schema: &ProviderSchema,
        (auth_kind, auth_node): (&str, Option<&Node>),
        config: &IndexMap<String, String>,
        config_node: Option<&Node>,
    ) {
        let kinds: Vec<&str> = schema.auth.iter().map(|(kind, _)| *kind).collect();
        let auth_entries = map_entries(auth_node);
        match schema.auth.iter().find(|(kind, _)| *kind == auth_kind) {
            None => {
                let loc = auth_entries
                    .iter()
                    .find(|(key, _)| key.name == "kind")
                    .map_or(auth_node.map_or(Loc::default(), |n| n.loc), |(_, value)| value.loc);
                self.unknown(
                    "secretfile/unknown-key",
                    loc,
                    format!("{what} has auth kind `{auth_kind}`, which it does not know"),
                    auth_kind,
                    &kinds,
                );
            }
            Some((_, keys)) => {
                let needed = schema.required.iter().filter(|(kind, _)| *kind == auth_kind);
                for (_, keys) in needed {
                    if !auth_entries.iter().any(|(k, _)| keys.contains(&k.name.as_str())) {
                        let loc = auth_node.map_or(Loc::default(), |n| n.loc);
                        let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                        self.error(
                            "secretfile/missing-key",
                            loc,
                            format!(
                                "{what} (auth kind `{auth_kind}`) has no {} under `auth`",
                                keys.join(" or ")
                            ),
                        );
                    }
                }
                for (key, _) in auth_entries.iter().filter(|(key, _)| key.name != "kind") {
                    if !keys.contains(&key.name.as_str()) {
                        let mut allowed = keys.to_vec();
                        allowed.push("kind");
                        self.unknown(
                            "secretfile/unknown-key",
                            key.loc,
                            format!(
                                "unknown key `{}` in the `auth` of {what} (auth kind \
                                 `{auth_kind}`)",
                                key.name
                            ),
                            &key.name,
                            &allowed,
                        );
                    }
                }
            }
        }
        let known: Vec<&str> = COMMON_CONFIG
            .iter()
            .map(|(key, _)| *key)
            .chain(schema.config.iter().copied())
            .chain(schema.numbers.iter().map(|(key, _)| *key))
            .collect();
        for (key, value) in map_entries(config_node) {
            if !known.contains(&key.name.as_str()) {
                self.unknown(
                    "secretfile/unknown-key",
                    key.loc,
                    format!("unknown key `{}` in the `config` of {what}", key.name),
                    &key.name,
                    &known,
                );
                continue;
            }
            let range = COMMON_CONFIG
                .iter()
                .chain(schema.numbers)
                .find(|(k, _)| *k == key.name)
                .map(|(_, r)| r);
            let (Some(range), Some(text)) = (range, config.get(&key.name)) else { continue };
            let digits = !text.trim().is_empty() && text.trim().bytes().all(|b| b.is_ascii_digit());
            if !digits || !text.trim().parse::<u64>().is_ok_and(|n| range.contains(&n)) {
                self.error(
                    "secretfile/limit",
                    value.loc,
                    format!(
                        "`{}` in the `config` of {what} is `{text}`; it must be a whole number \
                         from {} to {}",
                        key.name,
                        range.start(),
                        range.end()
                    ),
                );
            }
        }
    }

    /// A flat mapping of strings, rendered; nested values are findings.
    pub(super) fn string_map(&mut self, node: &Node, what: &str) -> IndexMap<String, String> {
        let mut map = IndexMap::new();
        let Some(entries) = self.entries(node, what) else {
            return map;
        };
        self.duplicates(entries, what);
        for (key, value) in entries {
            if let Some(text) = self.string(value, &format!("`{}` in {what}", key.name)) {
                map.insert(key.name.clone(), text);
            }
        }
        map
    }
}

/// A mapping's entries, or none.
fn map_entries(node: Option<&Node>) -> &[(Key, Node)] {
    match node.map(|n| &n.kind) {
        Some(Kind::Map(entries)) => entries,
        _ => &[],
    }
}
