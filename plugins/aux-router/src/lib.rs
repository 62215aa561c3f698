//! The aux-router plugin: side tasks (a session title, a compression summary, an image
//! description, a web page summary, a goal verdict, a second opinion on an approval),
//! each sent to the provider and model `[auxiliary.<task>]` names, through the host's
//! `model.stream`, with retries and a fallback chain.
//!
//! - [`config`]: the `[auxiliary]` section this plugin owns;
//! - [`resolve`]: which models a task tries, in order, and why;
//! - [`call`]: running that chain (retries, backoff, fallbacks, each step logged);
//! - [`tasks`]: each task's prompt and how its answer is read;
//! - [`list`]: what every task resolves to right now (`talaria aux list`).

pub mod call;
pub mod command;
pub mod config;
pub mod list;
pub mod resolve;
pub mod tasks;

use std::collections::HashMap;
use std::sync::Arc;

use talaria_sdk::methods::{ProviderAccounts, ProviderInfoMethod, ProviderModels};
use talaria_sdk::provider::{Empty, ModelList, ModelsRequest, ProviderCall};
use talaria_sdk::router::{AuxRequest, AuxResult, GoalVerdict};
use talaria_sdk::turn::ModelRef;
use talaria_sdk::{export_plugin, CallContext, Error, Exports, Host, Result, Router};

use call::{Prompt, Runner};
use config::{AuxConfig, FallbackModel, MainModel, SECTION};
use resolve::{Catalog, Inputs};

pub struct AuxRouter {
    host: Host,
    config: AuxConfig,
    main: Option<ModelRef>,
    fallback: Option<FallbackModel>,
}

pub fn init(host: Host) -> Result<Exports> {
    let router = Arc::new(AuxRouter::new(host)?);
    Ok(Exports::new()
        .router(RouterExport(router.clone()))
        .command(command::AuxCommand(router)))
}

/// The router as exported: shared with the `aux` command.
pub struct RouterExport(pub Arc<AuxRouter>);

impl Router for RouterExport {
    fn run(&self, request: AuxRequest, cx: &CallContext) -> Result<AuxResult> {
        self.0.run(request, cx)
    }
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

impl AuxRouter {
    pub fn new(host: Host) -> Result<AuxRouter> {
        let section = host.config_section::<serde_json::Value>(SECTION)?;
        let config = AuxConfig::from_value(section)?;
        let main = host
            .config_section::<MainModel>("model")?
            .filter(|m| !m.provider.is_empty() && !m.default.is_empty())
            .map(|m| ModelRef {
                provider: m.provider,
                model: m.default,
            });
        let fallback = host.config_section::<FallbackModel>("fallback_model")?;
        Ok(AuxRouter {
            host,
            config,
            main,
            fallback,
        })
    }

    pub fn config(&self) -> &AuxConfig {
        &self.config
    }
}

/// Model lists through the host (`provider.models`), asked once per provider per call.
pub struct HostCatalog<'a> {
    pub host: &'a Host,
    pub cx: &'a CallContext,
    pub cache: HashMap<String, std::result::Result<ModelList, Error>>,
}

impl<'a> HostCatalog<'a> {
    pub fn new(host: &'a Host, cx: &'a CallContext) -> Self {
        HostCatalog {
            host,
            cx,
            cache: HashMap::new(),
        }
    }
}

impl Catalog for HostCatalog<'_> {
    fn models(&mut self, provider: &str) -> Result<ModelList> {
        if let Some(known) = self.cache.get(provider) {
            return known.clone();
        }
        let answer = self.host.call::<ProviderModels>(
            &ProviderCall::new(provider, ModelsRequest { refresh: false }),
            self.cx,
        );
        self.cache.insert(provider.to_owned(), answer.clone());
        answer
    }

    fn has_credentials(&mut self, provider: &str) -> bool {
        self.host
            .call::<ProviderAccounts>(&ProviderCall::new(provider, Empty {}), self.cx)
            .is_ok_and(|accounts| !accounts.is_empty())
    }
}

impl AuxRouter {
    /// Runs one task: its prompt, its chain, and the reading of the answer.
    pub fn run(&self, request: AuxRequest, cx: &CallContext) -> Result<AuxResult> {
        let task = request.task.as_str();
        let cfg = self.config.task(task);
        let main = request.main.clone().or_else(|| self.main.clone());
        let mut catalog = HostCatalog::new(&self.host, cx);
        let instructions = request
            .instructions
            .clone()
            .unwrap_or_else(|| tasks::default_instructions(task).to_owned());

        // What to send, and for compression whether to send anything at all.
        let mut replaces = 0;
        let prompt: Prompt = match task {
            "title_generation" => tasks::title_prompt(instructions, &request.input),
            "compression" => {
                let check = request.compaction.clone().unwrap_or_default();
                if !check.force {
                    if let Some(skip) = self.below_threshold(
                        &cfg,
                        main.as_ref(),
                        check.context_tokens,
                        &mut catalog,
                    ) {
                        self.host
                            .info_log(&format!("aux compression: not needed ({skip})"));
                        return Ok(AuxResult::default());
                    }
                }
                let keep = cfg.keep_turns.unwrap_or(config::DEFAULT_KEEP_TURNS);
                replaces = tasks::compression_cut(&request.input, keep);
                if replaces == 0 {
                    return Ok(AuxResult::default());
                }
                tasks::compression_prompt(instructions, &request.input[..replaces])
            }
            "goal_judge" => {
                let goal = request
                    .goal
                    .as_ref()
                    .ok_or_else(|| Error::invalid("goal_judge needs the goal (AuxRequest.goal)"))?;
                tasks::judge_prompt(instructions, &goal.goal, &request.input)
            }
            "vision" => {
                if request.images.is_empty() {
                    return Err(Error::invalid("vision needs at least one image"));
                }
                tasks::vision_prompt(instructions, &request.input, &request.images)
            }
            _ => tasks::plain_prompt(instructions, &request.input),
        };

        let inputs = Inputs {
            task,
            config: &cfg,
            main: main.as_ref(),
            fallback: self.fallback.as_ref(),
            needs_images: task == "vision",
        };
        let chain = resolve::chain(&inputs, &mut catalog)?;
        let wire_api = |provider: &str| -> Result<String> {
            self.host
                .call::<ProviderInfoMethod>(&ProviderCall::new(provider, Empty {}), cx)
                .map(|info| info.wire_api)
        };
        let runner = Runner {
            host: &self.host,
            cx,
            task,
            config: &cfg,
            session_id: &request.session_id,
            transient_retries: self.config.transient_retries(),
            wire_api: &wire_api,
        };
        let outcome = runner.run(&chain, &prompt)?;
        let mut result = AuxResult {
            text: outcome.result.text.trim().to_owned(),
            model: outcome.model,
            usage: outcome.result.usage.unwrap_or_default(),
            replaces,
            verdict: None,
            steps: outcome.steps,
        };
        match task {
            "title_generation" => {
                result.text = tasks::clean_title(&result.text).ok_or_else(|| {
                    Error::other(format!(
                        "{} answered the title request with nothing",
                        result.model
                    ))
                })?;
            }
            "compression" if result.text.is_empty() => {
                return Err(Error::other(format!(
                    "{} answered the compression request with an empty summary",
                    result.model
                )));
            }
            "goal_judge" => {
                let (mut verdict, reason) = tasks::read_verdict(&result.text);
                let budget = cfg.max_turns.unwrap_or(config::DEFAULT_GOAL_TURNS);
                let used = request.goal.as_ref().map_or(0, |g| g.turns_used);
                if verdict == GoalVerdict::Continue && used >= budget {
                    verdict = GoalVerdict::BudgetSpent;
                }
                result.verdict = Some(verdict);
                result.text = reason;
            }
            _ => {}
        }
        Ok(result)
    }
}

impl AuxRouter {
    /// `Some(why not)` when the context is below the compression limit: the configured
    /// share of the model's window, else the catalog's `auto_compact_token_limit`, else
    /// the default share.
    fn below_threshold(
        &self,
        cfg: &config::TaskConfig,
        main: Option<&ModelRef>,
        used: u64,
        catalog: &mut dyn Catalog,
    ) -> Option<String> {
        let Some(main) = main else {
            return Some("no main model to measure against".into());
        };
        let info = catalog
            .models(&main.provider)
            .ok()
            .and_then(|list| resolve::find(&list, &main.model).cloned());
        let window = info.as_ref().and_then(|i| i.context_window);
        let catalog_limit = info
            .as_ref()
            .and_then(|i| i.tools.get("auto_compact_token_limit"))
            .and_then(serde_json::Value::as_u64);
        let limit = match (cfg.threshold, window, catalog_limit) {
            (Some(share), Some(w), _) => (share * w as f64) as u64,
            (None, _, Some(limit)) => limit,
            (None, Some(w), None) => (config::DEFAULT_COMPRESSION_THRESHOLD * w as f64) as u64,
            _ => return Some(format!("the context window of {main} is unknown")),
        };
        (used < limit).then(|| format!("{used} of {limit} tokens"))
    }
}

#[cfg(test)]
mod tests;
