//! The provider instances this plugin serves: each `[providers.NAME]` table with
//! `kind = "openai-compatible"`, and the built-in `openrouter` (which a table of that
//! name replaces).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// The `kind` this plugin serves (`[provides] provider_kinds` in its manifest).
pub const KIND: &str = "openai-compatible";
pub const OPENROUTER: &str = "openrouter";
pub const OPENROUTER_KEY_VAR: &str = "OPENROUTER_API_KEY";
/// Overrides OpenRouter's base URL (a proxy, or a test's loopback server).
pub const OPENROUTER_BASE_URL_VAR: &str = "TALARIA_OPENROUTER_BASE_URL";
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// OpenRouter's app attribution (`HTTP-Referer` and `X-Title`).
/// A placeholder (a reserved, never-resolving name) until the project has a home page.
pub const ATTRIBUTION_URL: &str = "https://talaria.invalid/";
pub const ATTRIBUTION_TITLE: &str = "talaria";
/// Hermes' default OpenRouter model for auxiliary tasks: fast, and takes images.
pub const OPENROUTER_DEFAULT_MODEL: &str = "google/gemini-3-flash-preview";
/// The wire API when a table names none.
pub const DEFAULT_TRANSPORT: &str = "chat-completions";

/// `[providers.NAME]` as written (the host has checked the keys and the transport).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Table {
    pub kind: String,
    pub base_url: String,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub transport: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
}

/// An API key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(pub String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// One provider id this plugin answers for.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub name: String,
    /// Without a trailing `/`.
    pub base_url: String,
    /// The variable the key comes from; `None`: the server takes no key.
    pub key_var: Option<String>,
    /// The key, read at init; `None` when the variable is unset or blank.
    pub key: Option<ApiKey>,
    pub wire_api: String,
    /// `models = [...]`: listed instead of asking `GET {base}/models`.
    pub models: Vec<String>,
    /// Extra headers every request carries (OpenRouter's attribution).
    pub headers: Vec<(String, String)>,
    /// Where the instance is defined, for messages.
    pub origin: String,
    /// What `doctor` GETs to check the key (below the base URL); `models` when `None`.
    pub probe_path: Option<String>,
}

/// Every instance: the profile's tables of this kind, plus `openrouter` unless a table
/// has that name. `env` looks variables up (the process environment, or a test's).
pub fn instances(
    tables: &BTreeMap<String, Table>,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, Instance> {
    let non_blank = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut out = BTreeMap::new();
    for (name, table) in tables.iter().filter(|(_, t)| t.kind == KIND) {
        let key_var = table.api_key_env.clone().filter(|v| !v.trim().is_empty());
        out.insert(
            name.clone(),
            Instance {
                name: name.clone(),
                base_url: table.base_url.trim_end_matches('/').to_owned(),
                key: key_var.as_deref().and_then(non_blank).map(ApiKey),
                key_var,
                wire_api: table
                    .transport
                    .clone()
                    .unwrap_or_else(|| DEFAULT_TRANSPORT.to_owned()),
                models: table.models.clone(),
                headers: Vec::new(),
                origin: format!("[providers.{name}]"),
                probe_path: None,
            },
        );
    }
    out.entry(OPENROUTER.to_owned())
        .or_insert_with(|| Instance {
            name: OPENROUTER.to_owned(),
            base_url: non_blank(OPENROUTER_BASE_URL_VAR)
                .unwrap_or_else(|| OPENROUTER_BASE_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            key_var: Some(OPENROUTER_KEY_VAR.to_owned()),
            key: non_blank(OPENROUTER_KEY_VAR).map(ApiKey),
            wire_api: DEFAULT_TRANSPORT.to_owned(),
            models: Vec::new(),
            headers: vec![
                ("HTTP-Referer".to_owned(), ATTRIBUTION_URL.to_owned()),
                ("X-Title".to_owned(), ATTRIBUTION_TITLE.to_owned()),
            ],
            origin: "the built-in openrouter provider".to_owned(),
            // Its model list is public; `key` answers only to a valid key.
            probe_path: Some("key".to_owned()),
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn table(kind: &str, base: &str, key_env: Option<&str>) -> Table {
        Table {
            kind: kind.into(),
            base_url: base.into(),
            api_key_env: key_env.map(str::to_owned),
            transport: None,
            models: vec![],
        }
    }

    #[test]
    fn tables_of_this_kind_become_instances_and_openrouter_is_built_in() {
        let tables = BTreeMap::from([
            (
                "local".to_owned(),
                table(KIND, "http://127.0.0.1:8080/v1/", Some("LOCAL_KEY")),
            ),
            ("other".to_owned(), table("grpc-thing", "http://x", None)),
        ]);
        let all = instances(
            &tables,
            &env(&[("LOCAL_KEY", " k "), (OPENROUTER_KEY_VAR, "")]),
        );
        assert_eq!(all.keys().collect::<Vec<_>>(), ["local", "openrouter"]);
        let local = &all["local"];
        assert_eq!(local.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(local.key, Some(ApiKey("k".into())));
        assert_eq!(local.wire_api, "chat-completions");
        let openrouter = &all["openrouter"];
        assert_eq!(openrouter.base_url, OPENROUTER_BASE_URL);
        assert_eq!(openrouter.key, None, "a blank key is no key");
        assert!(openrouter
            .headers
            .iter()
            .any(|(k, v)| k == "X-Title" && v == "talaria"));
        assert!(!format!("{local:?}").contains("\"k\""));
    }

    #[test]
    fn a_table_named_openrouter_replaces_the_built_in_one() {
        let tables = BTreeMap::from([(
            "openrouter".to_owned(),
            table(KIND, "http://127.0.0.1:9/api/v1", Some("MY_OR_KEY")),
        )]);
        let all = instances(&tables, &env(&[("MY_OR_KEY", "sk-or")]));
        assert_eq!(all["openrouter"].base_url, "http://127.0.0.1:9/api/v1");
        assert!(all["openrouter"].headers.is_empty());
        let all = instances(
            &BTreeMap::new(),
            &env(&[(OPENROUTER_BASE_URL_VAR, "http://127.0.0.1:9/api/v1/")]),
        );
        assert_eq!(all["openrouter"].base_url, "http://127.0.0.1:9/api/v1");
    }
}
