//! Which models a task tries, in order, and why: the resolution chain.
//!
//! - an explicit provider id (or `codex`, meaning `openai-codex`): that provider with the
//!   task's model or the provider's default, then the task's `fallback_chain`, which is
//!   used only for capacity errors (rate limits, an overloaded backend);
//! - `main`: the session's model (the task's `model` may replace the model), then the
//!   `fallback_chain` the same way;
//! - `auto`: the session's model first, then the task's `fallback_chain`, then the
//!   profile's `[fallback_model]`, falling through on any failure. `openai-codex` is
//!   never added by `auto` unless it is the main provider: the ChatGPT backend's models
//!   are not documented for side tasks.
//!
//! Under `auto`, OpenRouter comes last when its key is set (its provider answers
//! `provider.accounts` with one), with its default model, as Hermes' auto chains end:
//! it serves text tasks, and vision when the main model takes no images.
//!
//! For `vision`, only models that take images count (the provider's model list says);
//! under `auto`, a main model without image input is replaced by the first model of the
//! main provider that has it.

use talaria_sdk::provider::{ModelInfo, ModelList};
use talaria_sdk::turn::ModelRef;
use talaria_sdk::{Error, ErrorKind, Result};

use crate::config::{FallbackModel, TaskConfig};

pub const CODEX_PROVIDER: &str = "openai-codex";
/// The provider `auto` ends with when it has a key (the `openai-compatible` plugin
/// serves it).
pub const OPENROUTER_PROVIDER: &str = "openrouter";

/// One step of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub model: ModelRef,
    pub reason: String,
    /// Why the step cannot serve the task, decided before any call (a model without
    /// image input for `vision`).
    pub skip: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub steps: Vec<Step>,
    /// An explicit choice (a provider id, `codex`, `main`): the chain moves on only for
    /// capacity errors.
    pub explicit: bool,
}

/// The provider model lists the resolution needs, asked for at most once each.
pub trait Catalog {
    fn models(&mut self, provider: &str) -> Result<ModelList>;
    /// The provider has a credential to call with (`provider.accounts` lists one); a
    /// provider nobody serves has none.
    fn has_credentials(&mut self, _provider: &str) -> bool {
        false
    }
}

pub struct Inputs<'a> {
    pub task: &'a str,
    pub config: &'a TaskConfig,
    pub main: Option<&'a ModelRef>,
    pub fallback: Option<&'a FallbackModel>,
    pub needs_images: bool,
}

pub fn chain(inputs: &Inputs<'_>, catalog: &mut dyn Catalog) -> Result<Chain> {
    let cfg = inputs.config;
    let task = inputs.task;
    let provider = cfg.provider.trim();
    let mut steps = Vec::new();
    let explicit = provider != "auto";
    let configured = |what: &str| format!("[auxiliary.{task}] provider = \"{what}\"");
    match provider {
        "auto" => {
            if let Some(main) = inputs.main {
                let model = ModelRef {
                    provider: main.provider.clone(),
                    model: cfg.model().unwrap_or(&main.model).to_owned(),
                };
                steps.push(Step {
                    model,
                    reason: "auto: the main model".into(),
                    skip: None,
                });
            }
        }
        "main" => {
            let main = inputs.main.ok_or_else(|| {
                Error::invalid(format!(
                    "{} needs the session's main model, and none was given",
                    configured("main")
                ))
            })?;
            steps.push(Step {
                model: ModelRef {
                    provider: main.provider.clone(),
                    model: cfg.model().unwrap_or(&main.model).to_owned(),
                },
                reason: configured("main"),
                skip: None,
            });
        }
        other => {
            let id = if other == "codex" {
                CODEX_PROVIDER
            } else {
                other
            };
            let model = match cfg.model() {
                Some(m) => m.to_owned(),
                None => match inputs.main.filter(|m| m.provider == id) {
                    Some(main) => main.model.clone(),
                    None => catalog
                        .models(id)
                        .map(|list| list.default_model)
                        .map_err(|e| {
                            Error::new(
                                e.kind,
                                format!(
                                    "{} names no model, and the provider's default is unknown: {}",
                                    configured(other),
                                    e.message
                                ),
                            )
                        })?,
                },
            };
            steps.push(Step {
                model: ModelRef {
                    provider: id.to_owned(),
                    model,
                },
                reason: configured(other),
                skip: None,
            });
        }
    }
    for (i, step) in cfg.fallback_chain.iter().enumerate() {
        let provider = if step.provider == "codex" {
            CODEX_PROVIDER
        } else {
            step.provider.as_str()
        };
        steps.push(Step {
            model: ModelRef {
                provider: provider.to_owned(),
                model: step.model.clone(),
            },
            reason: format!("[auxiliary.{task}] fallback_chain[{i}]"),
            skip: None,
        });
    }
    if !explicit {
        if let Some(f) = inputs.fallback {
            steps.push(Step {
                model: ModelRef {
                    provider: f.provider.clone(),
                    model: f.model.clone(),
                },
                reason: "auto: the profile's [fallback_model]".into(),
                skip: None,
            });
        }
    }
    if !explicit && catalog.has_credentials(OPENROUTER_PROVIDER) {
        if let Ok(list) = catalog.models(OPENROUTER_PROVIDER) {
            if !list.default_model.is_empty() {
                steps.push(Step {
                    model: ModelRef {
                        provider: OPENROUTER_PROVIDER.to_owned(),
                        model: list.default_model,
                    },
                    reason: "auto: OpenRouter, whose key is set".into(),
                    skip: None,
                });
            }
        }
    }
    let mut seen = Vec::new();
    steps.retain(|s| {
        let fresh = !seen.contains(&s.model);
        seen.push(s.model.clone());
        fresh
    });
    if inputs.needs_images {
        steps = with_images(steps, !explicit, catalog);
    }
    if steps.is_empty() {
        return Err(Error::new(
            ErrorKind::Unavailable,
            format!("the {task} task resolves to no model: set [auxiliary.{task}] provider and model, or a fallback_chain"),
        ));
    }
    Ok(Chain { steps, explicit })
}

/// Marks the steps whose model takes no images; under `auto`, the main provider's first
/// model with image input stands in for a main model without it.
fn with_images(steps: Vec<Step>, auto: bool, catalog: &mut dyn Catalog) -> Vec<Step> {
    let mut out = Vec::new();
    for (i, mut step) in steps.into_iter().enumerate() {
        match catalog.models(&step.model.provider) {
            Ok(list) => {
                if let Some(info) = find(&list, &step.model.model) {
                    if info.takes_images() {
                        out.push(step);
                        continue;
                    }
                    step.skip = Some("the model takes no images".into());
                } else {
                    step.skip = Some(
                        "not in the provider's model list, so not known to take images".into(),
                    );
                }
                let stand_in = (auto && i == 0)
                    .then(|| list.models.iter().find(|m| m.takes_images()))
                    .flatten()
                    .map(|m| Step {
                        model: ModelRef {
                            provider: step.model.provider.clone(),
                            model: m.slug.clone(),
                        },
                        reason: "auto: the main provider's first model that takes images".into(),
                        skip: None,
                    });
                out.push(step);
                out.extend(stand_in);
            }
            Err(e) => {
                step.skip = Some(format!("its model list is unavailable: {}", e.message));
                out.push(step);
            }
        }
    }
    out
}

pub fn find<'a>(list: &'a ModelList, slug: &str) -> Option<&'a ModelInfo> {
    list.models.iter().find(|m| m.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The main provider's text-only model, and OpenRouter with a key (or not).
    struct Fake {
        openrouter_key: bool,
    }

    impl Catalog for Fake {
        fn models(&mut self, provider: &str) -> Result<ModelList> {
            let model = |slug: &str, modalities: &[&str]| ModelInfo {
                slug: slug.into(),
                input_modalities: modalities.iter().map(|m| (*m).to_owned()).collect(),
                ..Default::default()
            };
            Ok(match provider {
                OPENROUTER_PROVIDER => ModelList {
                    models: vec![model("vision-model", &["text", "image"])],
                    default_model: "vision-model".into(),
                    ..Default::default()
                },
                _ => ModelList {
                    models: vec![model("text-model", &["text"])],
                    default_model: "text-model".into(),
                    ..Default::default()
                },
            })
        }

        fn has_credentials(&mut self, provider: &str) -> bool {
            provider == OPENROUTER_PROVIDER && self.openrouter_key
        }
    }

    fn resolve(provider: &str, needs_images: bool, openrouter_key: bool) -> Vec<Step> {
        let main = ModelRef {
            provider: "local".into(),
            model: "text-model".into(),
        };
        let config = TaskConfig {
            provider: provider.into(),
            ..Default::default()
        };
        let inputs = Inputs {
            task: "vision",
            config: &config,
            main: Some(&main),
            fallback: None,
            needs_images,
        };
        chain(&inputs, &mut Fake { openrouter_key }).unwrap().steps
    }

    #[test]
    fn auto_ends_with_openrouter_when_its_key_is_set() {
        let steps = resolve("auto", true, true);
        let usable: Vec<String> = steps
            .iter()
            .filter(|s| s.skip.is_none())
            .map(|s| s.model.to_string())
            .collect();
        assert_eq!(usable, ["openrouter/vision-model"], "{steps:?}");
        assert_eq!(steps[0].skip.as_deref(), Some("the model takes no images"));
        assert_eq!(steps[1].reason, "auto: OpenRouter, whose key is set");
        // Without the key there is no such step; an explicit provider never gets one.
        assert!(resolve("auto", true, false)
            .iter()
            .all(|s| s.model.provider != OPENROUTER_PROVIDER));
        assert!(resolve("local", false, true)
            .iter()
            .all(|s| s.model.provider != OPENROUTER_PROVIDER));
        // Text tasks reach it too, after the main model.
        let text = resolve("auto", false, true);
        assert_eq!(text.len(), 2);
        assert_eq!(text[1].model.provider, OPENROUTER_PROVIDER);
    }
}
