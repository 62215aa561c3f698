//! `provider.models`: the backend's model list for the signed-in plan, with a short-lived
//! cache and fallbacks (an older cache, then a built-in list) when the backend cannot
//! be asked.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use talaria_sdk::provider::{
    Endpoint, FailureReport, ModelInfo, ModelList, ModelSource, ModelsRequest, ReasoningSupport,
    ResolveRequest,
};
use talaria_sdk::text::duration_words;
use talaria_sdk::time::now_secs;
use talaria_sdk::{runtime, ErrorKind, Result};

use crate::http::{describe_send_error, excerpt, retry_after, MODELS_TIMEOUT};
use crate::issuer::Reply;
use crate::{CodexProvider, CODEX_VERSION, PROVIDER_ID};

pub const DEFAULT_MODEL: &str = "gpt-5.3-codex";
/// A cached list younger than this is used without asking the backend.
const CACHE_FRESH_SECS: u64 = 5 * 60;
const CACHE_FILE: &str = "models_cache.json";
/// 2: models carry their capabilities. Files written before (no `version`, read as 0)
/// still load, but are never fresh enough to skip asking the backend.
const CACHE_VERSION: u32 = 2;
/// What the catalog assumes when an entry has no `input_modalities`.
const DEFAULT_INPUT_MODALITIES: [&str; 2] = ["text", "image"];
/// The catalog's fields about tool forms and limits, handed on in `ModelInfo::tools`.
const TOOL_FIELDS: &[&str] = &[
    "shell_type",
    "apply_patch_tool_type",
    "truncation_policy",
    "supports_parallel_tool_calls",
    "auto_compact_token_limit",
    "experimental_supported_tools",
    "web_search_tool_type",
    "tool_mode",
    "support_verbosity",
];

/// The cache file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedModels {
    #[serde(default)]
    pub version: u32,
    pub fetched_at: u64,
    #[serde(default)]
    pub plan: Option<String>,
    pub models: Vec<ModelInfo>,
}

/// Why the live list could not be had.
enum Unavailable {
    /// No answer, or a 5xx: the backend is unreachable for now.
    Offline(String),
    /// Anything else, in words.
    Failed(String),
}

/// The list compiled in, in priority order; Spark only for Pro plans. Each carries the
/// capabilities the live catalog gives these models, so a chat offline still reasons
/// and gets the same tool forms.
pub fn builtin(plan: Option<&str>) -> Vec<ModelInfo> {
    let model = |slug: &str, name: &str, description: &str, context: u64| ModelInfo {
        slug: slug.to_owned(),
        display_name: Some(name.to_owned()),
        description: Some(description.to_owned()),
        context_window: Some(context),
        reasoning: Some(ReasoningSupport {
            default_effort: Some("medium".to_owned()),
            efforts: ["low", "medium", "high"].map(str::to_owned).to_vec(),
            summaries: true,
        }),
        input_modalities: DEFAULT_INPUT_MODALITIES.map(str::to_owned).to_vec(),
        tools: builtin_tools(),
        base_instructions: None,
    };
    let mut list = vec![
        model(
            "gpt-5.5",
            "GPT-5.5",
            "Frontier model for complex coding and agentic work",
            272_000,
        ),
        model(
            "gpt-5.4",
            "GPT-5.4",
            "Strong general-purpose coding model",
            272_000,
        ),
        model(
            "gpt-5.4-mini",
            "GPT-5.4 mini",
            "Smaller, faster and cheaper GPT-5.4",
            272_000,
        ),
        model(
            "gpt-5.3-codex",
            "GPT-5.3 Codex",
            "Codex-tuned model for agentic coding",
            272_000,
        ),
    ];
    if plan == Some("pro") {
        list.push(model(
            "gpt-5.3-codex-spark",
            "GPT-5.3 Codex Spark",
            "Very fast Codex model (Pro plans)",
            128_000,
        ));
    }
    list
}

/// The tool forms the catalog gives every current model.
fn builtin_tools() -> Map<String, Value> {
    let mut tools = Map::new();
    tools.insert("shell_type".to_owned(), json!("shell_command"));
    tools.insert("apply_patch_tool_type".to_owned(), json!("freeform"));
    tools.insert(
        "truncation_policy".to_owned(),
        json!({"mode": "tokens", "limit": 10_000}),
    );
    tools.insert("supports_parallel_tool_calls".to_owned(), json!(true));
    tools
}

/// The model's own system prompt: the catalog's instructions template with the default
/// personality filled in, else its `base_instructions`.
fn instructions_of(m: &Value) -> Option<String> {
    let messages = m.get("model_messages");
    let template = messages
        .and_then(|mm| mm.get("instructions_template"))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty());
    if let Some(template) = template {
        let personality = messages
            .and_then(|mm| mm.get("instructions_variables"))
            .and_then(|v| v.get("personality_default"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Some(template.replace("{{ personality }}", personality));
    }
    m.get("base_instructions")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
}

/// A catalog entry's reasoning support: `None` when it names no reasoning levels at all.
fn reasoning_of(m: &Value) -> Option<ReasoningSupport> {
    let levels = m
        .get("supported_reasoning_levels")
        .and_then(Value::as_array);
    let default_effort = m
        .get("default_reasoning_level")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if levels.is_none() && default_effort.is_none() {
        return None;
    }
    let efforts = levels
        .into_iter()
        .flatten()
        .filter_map(|level| {
            level
                .get("effort")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let summaries = m
        .get("supports_reasoning_summaries")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(ReasoningSupport {
        default_effort,
        efforts,
        summaries,
    })
}

/// The entry's `input_modalities`; the catalog's own default when it has none.
fn input_modalities_of(m: &Value) -> Vec<String> {
    match m.get("input_modalities").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => DEFAULT_INPUT_MODALITIES.map(str::to_owned).to_vec(),
    }
}

/// The entry's tool-form fields, passed on as given (their meaning is the runtime's).
fn tools_of(m: &Value) -> Map<String, Value> {
    TOOL_FIELDS
        .iter()
        .filter_map(|key| {
            m.get(*key)
                .filter(|v| !v.is_null())
                .map(|v| ((*key).to_owned(), v.clone()))
        })
        .collect()
}

/// Reads `models[]`: drops hidden models and those outside the account's plan, and
/// sorts by `priority` (missing last, ties in the server's order).
pub fn parse_models(body: &Value, plan: Option<&str>) -> Vec<ModelInfo> {
    let Some(list) = body.get("models").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut models: Vec<(Option<f64>, ModelInfo)> = list
        .iter()
        .filter_map(|m| {
            let slug = m
                .get("slug")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())?;
            let visibility = m.get("visibility").and_then(Value::as_str).unwrap_or("");
            if visibility.eq_ignore_ascii_case("hide") || visibility.eq_ignore_ascii_case("hidden")
            {
                return None;
            }
            if let Some(plans) = m.get("available_in_plans").and_then(Value::as_array) {
                let allowed = plan.is_some_and(|p| {
                    plans
                        .iter()
                        .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(p)))
                });
                if !allowed {
                    return None;
                }
            }
            let text = |key: &str| {
                m.get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let info = ModelInfo {
                slug: slug.to_owned(),
                display_name: text("display_name"),
                description: text("description"),
                context_window: m.get("context_window").and_then(Value::as_u64),
                reasoning: reasoning_of(m),
                input_modalities: input_modalities_of(m),
                tools: tools_of(m),
                base_instructions: instructions_of(m),
            };
            Some((m.get("priority").and_then(Value::as_f64), info))
        })
        .collect();
    // A stable sort keeps the server's order among equal or missing priorities.
    models.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    models.into_iter().map(|(_, m)| m).collect()
}

fn list(models: Vec<ModelInfo>, source: ModelSource, note: Option<String>) -> ModelList {
    ModelList {
        models,
        default_model: DEFAULT_MODEL.to_owned(),
        source,
        note,
    }
}

pub fn read_cache(path: &Path) -> Option<CachedModels> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Writes the cache through a temp file and a rename, so a reader never sees half a file.
pub fn write_cache(path: &Path, cache: &CachedModels) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        // The plugin's data folder in the profile: the user's alone, like the profile.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let bytes = serde_json::to_vec_pretty(cache).map_err(std::io::Error::other)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&tmp)?, &bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The fallback list: a cache of any age, else the built-in one.
fn fallback(cache: Option<CachedModels>, plan: Option<&str>, why: &str, now: u64) -> ModelList {
    match cache {
        Some(c) => {
            let age = duration_words(now.saturating_sub(c.fetched_at));
            list(
                c.models,
                ModelSource::Cache,
                Some(format!("{why}: showing the list cached {age} ago")),
            )
        }
        None => list(
            builtin(plan),
            ModelSource::Builtin,
            Some(format!("{why}: showing the built-in list")),
        ),
    }
}

impl CodexProvider {
    fn cache_path(&self) -> Option<PathBuf> {
        let dir = self.host.info().plugin_data_dir;
        (!dir.trim().is_empty()).then(|| PathBuf::from(dir).join(CACHE_FILE))
    }

    pub(crate) fn models(&self, request: &ModelsRequest) -> Result<ModelList> {
        let strategy = self.strategy()?;
        let pool = self.load_pool()?;
        let now = now_secs();
        let cache_path = self.cache_path();
        let cache = cache_path.as_deref().and_then(read_cache);

        let Some(index) = pool.pick(strategy, now) else {
            let err = pool.unusable_error(now);
            if err.kind == ErrorKind::RateLimited {
                let plan = pool.credentials.iter().find_map(|e| e.plan());
                return Ok(fallback(cache, plan.as_deref(), &err.message, now));
            }
            let why = if pool.credentials.is_empty() {
                "not logged in: run `talaria login` to see the models your ChatGPT plan offers"
                    .to_owned()
            } else {
                format!("not logged in: every {PROVIDER_ID} login needs a new sign-in (see `talaria auth list`); run `talaria login`")
            };
            return Ok(list(builtin(None), ModelSource::Builtin, Some(why)));
        };
        let plan = pool.credentials[index].plan();

        if !request.refresh {
            let fresh = |c: &&CachedModels| {
                c.version == CACHE_VERSION
                    && now.saturating_sub(c.fetched_at) < CACHE_FRESH_SECS
                    && c.plan == plan
            };
            if let Some(c) = cache.as_ref().filter(fresh) {
                return Ok(list(c.models.clone(), ModelSource::Cache, None));
            }
        }

        match self.fetch_models() {
            Ok((models, plan)) => {
                if let Some(path) = &cache_path {
                    let fresh = CachedModels {
                        version: CACHE_VERSION,
                        fetched_at: now,
                        plan,
                        models: models.clone(),
                    };
                    if let Err(e) = write_cache(path, &fresh) {
                        self.host.warn_log(&format!(
                            "cannot write the {PROVIDER_ID} model cache {}: {e}",
                            path.display()
                        ));
                    }
                }
                Ok(list(models, ModelSource::Live, None))
            }
            Err(Unavailable::Offline(reason)) => {
                self.host
                    .warn_log(&format!("{PROVIDER_ID} model list unavailable: {reason}"));
                Ok(fallback(cache, plan.as_deref(), "offline", now))
            }
            Err(Unavailable::Failed(reason)) => {
                self.host
                    .warn_log(&format!("{PROVIDER_ID} model list unavailable: {reason}"));
                Ok(fallback(cache, plan.as_deref(), &reason, now))
            }
        }
    }

    /// Asks the backend; a 401 gets one refresh and a 429 one rotation before giving up.
    fn fetch_models(&self) -> std::result::Result<(Vec<ModelInfo>, Option<String>), Unavailable> {
        let request = ResolveRequest::default();
        let mut endpoint = self.resolve(&request).map_err(unavailable)?;
        for attempt in 0..2 {
            let reply = self.get_models(&endpoint)?;
            let status = reply.status.as_u16();
            if reply.status.is_success() {
                let body: Value = serde_json::from_str(&reply.body).map_err(|_| {
                    Unavailable::Failed("the backend's model list was not JSON".to_owned())
                })?;
                let plan = self.plan_of(endpoint.credential.as_deref());
                return Ok((parse_models(&body, plan.as_deref()), plan));
            }
            let retryable = attempt == 0 && (status == 401 || status == 429);
            if retryable {
                let report = FailureReport {
                    request: request.clone(),
                    credential: endpoint.credential.clone(),
                    status,
                    retry_after_secs: retry_after(&reply.headers),
                    ..Default::default()
                };
                endpoint = self.report(&report).map_err(unavailable)?;
                continue;
            }
            return Err(if reply.status.is_server_error() {
                Unavailable::Offline(format!("the backend answered {status}"))
            } else {
                Unavailable::Failed(format!(
                    "the backend refused the model list ({status}: {})",
                    excerpt(&reply.body)
                ))
            });
        }
        Err(Unavailable::Failed(
            "the backend kept refusing the model list".to_owned(),
        ))
    }

    fn get_models(&self, endpoint: &Endpoint) -> std::result::Result<Reply, Unavailable> {
        let client = self
            .http
            .client()
            .map_err(|e| Unavailable::Failed(e.message))?;
        let mut request = client
            .get(format!("{}/models", endpoint.base_url))
            .query(&[("client_version", CODEX_VERSION)])
            .timeout(MODELS_TIMEOUT);
        for (name, value) in &endpoint.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let send = async move {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.text().await?;
            Ok::<_, reqwest::Error>(Reply {
                status,
                headers,
                body,
            })
        };
        match runtime::block_on(send) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(Unavailable::Offline(describe_send_error(&e))),
            Err(e) => Err(Unavailable::Failed(e.message)),
        }
    }

    fn plan_of(&self, credential: Option<&str>) -> Option<String> {
        let pool = self.load_pool().ok()?;
        pool.get(credential?)?.plan()
    }
}

fn unavailable(e: talaria_sdk::Error) -> Unavailable {
    match e.kind {
        ErrorKind::Network => Unavailable::Offline(e.message),
        _ => Unavailable::Failed(e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slugs(models: &[ModelInfo]) -> Vec<&str> {
        models.iter().map(|m| m.slug.as_str()).collect()
    }

    #[test]
    fn the_models_own_prompt_comes_from_the_catalog() {
        assert_eq!(instructions_of(&json!({"slug": "m"})), None);
        assert_eq!(
            instructions_of(&json!({"base_instructions": "You are Codex."})).as_deref(),
            Some("You are Codex.")
        );
        let templated = json!({
            "base_instructions": "ignored",
            "model_messages": {
                "instructions_template": "Be {{ personality }}. Work well.",
                "instructions_variables": {"personality_default": "pragmatic"}
            }
        });
        assert_eq!(
            instructions_of(&templated).as_deref(),
            Some("Be pragmatic. Work well.")
        );
    }

    #[test]
    fn parses_filters_and_sorts() {
        let body = json!({"models": [
            {"slug": "c", "priority": 3, "display_name": "C", "context_window": 1000, "description": "cc"},
            {"slug": "none-1"},
            {"slug": "a", "priority": 1},
            {"slug": "hidden", "priority": 0, "visibility": "hide"},
            {"slug": "hidden2", "priority": 0, "visibility": "hidden"},
            {"slug": "b", "priority": 2, "visibility": "list"},
            {"slug": "none-2"},
            {"priority": 0},
            {"slug": "pro-only", "priority": 0, "available_in_plans": ["pro"]},
            {"slug": "plus-ok", "priority": 5, "available_in_plans": ["plus", "pro"]}
        ]});
        let plus = parse_models(&body, Some("plus"));
        assert_eq!(slugs(&plus), ["a", "b", "c", "plus-ok", "none-1", "none-2"]);
        let c = &plus[2];
        assert_eq!(
            (
                c.display_name.as_deref(),
                c.context_window,
                c.description.as_deref()
            ),
            (Some("C"), Some(1000), Some("cc"))
        );
        let pro = parse_models(&body, Some("pro"));
        assert_eq!(slugs(&pro)[0], "pro-only");
        let unknown = parse_models(&body, None);
        assert!(!slugs(&unknown).contains(&"pro-only") && !slugs(&unknown).contains(&"plus-ok"));
        assert!(parse_models(&json!({"data": []}), None).is_empty());
    }

    #[test]
    fn catalog_capabilities_are_passed_on() {
        let body = json!({"models": [
            {"slug": "full", "default_reasoning_level": "medium", "supports_reasoning_summaries": true,
             "supported_reasoning_levels": [{"effort": "low", "description": "quick"}, {"effort": "high"}, {"description": "no effort"}],
             "input_modalities": ["text"],
             "shell_type": "shell_command", "apply_patch_tool_type": "freeform",
             "truncation_policy": {"mode": "tokens", "limit": 10000}, "supports_parallel_tool_calls": true,
             "auto_compact_token_limit": null, "experimental_supported_tools": ["grep_files"],
             "web_search_tool_type": "text", "tool_mode": "x", "support_verbosity": false,
             "base_instructions": "not a tool field", "priority": 0},
            {"slug": "levels-only", "supported_reasoning_levels": [], "priority": 1},
            {"slug": "plain", "priority": 2, "input_modalities": []}
        ]});
        let models = parse_models(&body, None);
        let full = &models[0];
        assert_eq!(
            full.reasoning,
            Some(ReasoningSupport {
                default_effort: Some("medium".into()),
                efforts: vec!["low".into(), "high".into()],
                summaries: true
            })
        );
        assert_eq!(full.input_modalities, ["text"]);
        assert!(!full.takes_images());
        let keys: Vec<&str> = full.tools.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "apply_patch_tool_type",
                "experimental_supported_tools",
                "shell_type",
                "support_verbosity",
                "supports_parallel_tool_calls",
                "tool_mode",
                "truncation_policy",
                "web_search_tool_type"
            ]
        );
        assert_eq!(
            full.tools["truncation_policy"],
            json!({"mode": "tokens", "limit": 10000})
        );
        assert_eq!(models[1].reasoning, Some(ReasoningSupport::default()));
        assert_eq!(
            models[1].input_modalities,
            ["text", "image"],
            "the catalog's default"
        );
        assert_eq!(
            (
                models[2].reasoning.as_ref(),
                models[2].input_modalities.len(),
                models[2].tools.len()
            ),
            (None, 0, 0)
        );
    }

    #[test]
    fn the_builtin_list_carries_the_catalog_capabilities() {
        for m in builtin(Some("pro")) {
            let reasoning = m.reasoning.as_ref().unwrap();
            assert_eq!(
                reasoning.default_effort.as_deref(),
                Some("medium"),
                "{}",
                m.slug
            );
            assert_eq!(reasoning.efforts, ["low", "medium", "high"]);
            assert!(reasoning.summaries && m.takes_images());
            assert_eq!(m.tools["shell_type"], "shell_command");
            assert_eq!(m.tools["apply_patch_tool_type"], "freeform");
            assert_eq!(
                m.tools["truncation_policy"],
                json!({"mode": "tokens", "limit": 10000})
            );
            assert_eq!(m.tools["supports_parallel_tool_calls"], true);
        }
    }

    #[test]
    fn a_cache_from_the_previous_version_still_loads() {
        let dir = std::env::temp_dir().join(format!("occ-models-v1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(CACHE_FILE);
        let old = json!({"fetched_at": 7, "plan": "plus", "models": [
            {"slug": "gpt-5.5", "display_name": "GPT-5.5", "context_window": 272000}
        ]});
        std::fs::write(&path, old.to_string()).unwrap();
        let cache = read_cache(&path).unwrap();
        assert_eq!(cache.version, 0, "never counted as fresh");
        assert_eq!(cache.models[0].slug, "gpt-5.5");
        assert_eq!(
            (
                cache.models[0].reasoning.as_ref(),
                cache.models[0].tools.len()
            ),
            (None, 0)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn builtin_list_gates_spark_on_pro() {
        assert_eq!(
            slugs(&builtin(Some("plus"))),
            ["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex"]
        );
        assert_eq!(
            slugs(&builtin(Some("pro"))).last(),
            Some(&"gpt-5.3-codex-spark")
        );
        assert!(builtin(None).iter().any(|m| m.slug == DEFAULT_MODEL));
    }

    #[test]
    fn cache_round_trips_atomically() {
        let dir = std::env::temp_dir().join(format!("occ-models-{}", std::process::id()));
        let path = dir.join("sub").join(CACHE_FILE);
        let cache = CachedModels {
            version: CACHE_VERSION,
            fetched_at: 42,
            plan: Some("plus".into()),
            models: builtin(None),
        };
        write_cache(&path, &cache).unwrap();
        assert_eq!(read_cache(&path), Some(cache));
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [CACHE_FILE], "no temp file left behind");
        let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(raw["fetched_at"], 42);
        assert_eq!(raw["plan"], "plus");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fallback_prefers_any_cache() {
        let cache = CachedModels {
            version: CACHE_VERSION,
            fetched_at: 1000,
            plan: None,
            models: vec![builtin(None).remove(0)],
        };
        let l = fallback(Some(cache), None, "offline", 1000 + 7200);
        assert_eq!(l.source, ModelSource::Cache);
        assert_eq!(
            l.note.as_deref(),
            Some("offline: showing the list cached 2h ago")
        );
        let l = fallback(None, None, "offline", 0);
        assert_eq!(l.source, ModelSource::Builtin);
        assert_eq!(l.default_model, DEFAULT_MODEL);
    }
}
