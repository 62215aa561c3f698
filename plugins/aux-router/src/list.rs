//! `talaria aux list`: what every task resolves to right now, and why. No model is
//! called; provider model lists are (for defaults and image input).

use serde::Serialize;
use talaria_sdk::router::AuxStep;
use talaria_sdk::CallContext;

use crate::resolve::{self, Inputs};
use crate::{AuxRouter, HostCatalog};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRoute {
    pub task: String,
    /// Empty when the task resolves to nothing usable.
    pub provider: String,
    pub model: String,
    pub reason: String,
    /// The whole chain, in order, with why each step is there or skipped.
    pub chain: Vec<AuxStep>,
}

impl AuxRouter {
    pub fn routes(&self, cx: &CallContext) -> Vec<TaskRoute> {
        let mut catalog = HostCatalog::new(&self.host, cx);
        self.config
            .task_names()
            .into_iter()
            .map(|task| {
                let cfg = self.config.task(&task);
                let inputs = Inputs {
                    task: &task,
                    config: &cfg,
                    main: self.main.as_ref(),
                    fallback: self.fallback.as_ref(),
                    needs_images: task == "vision",
                };
                match resolve::chain(&inputs, &mut catalog) {
                    Ok(chain) => {
                        let steps: Vec<AuxStep> = chain
                            .steps
                            .iter()
                            .map(|s| AuxStep {
                                model: s.model.clone(),
                                reason: s.reason.clone(),
                                outcome: s
                                    .skip
                                    .as_ref()
                                    .map_or_else(String::new, |why| format!("skipped: {why}")),
                                attempts: 0,
                            })
                            .collect();
                        let first = chain.steps.iter().find(|s| s.skip.is_none());
                        match first {
                            Some(step) => TaskRoute {
                                task,
                                provider: step.model.provider.clone(),
                                model: step.model.model.clone(),
                                reason: step.reason.clone(),
                                chain: steps,
                            },
                            None => TaskRoute {
                                task,
                                provider: String::new(),
                                model: String::new(),
                                reason: format!(
                                    "no usable model: {}",
                                    steps
                                        .iter()
                                        .map(|s| format!("{} {}", s.model, s.outcome))
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                ),
                                chain: steps,
                            },
                        }
                    }
                    Err(e) => TaskRoute {
                        task,
                        provider: String::new(),
                        model: String::new(),
                        reason: e.message,
                        chain: Vec::new(),
                    },
                }
            })
            .collect()
    }
}

/// The table `aux list` prints.
pub fn table(routes: &[TaskRoute]) -> String {
    let mut out = format!(
        "{:<18} {:<16} {:<24} {}\n",
        "TASK", "PROVIDER", "MODEL", "WHY"
    );
    for r in routes {
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        out.push_str(&format!(
            "{:<18} {:<16} {:<24} {}\n",
            r.task,
            dash(&r.provider),
            dash(&r.model),
            r.reason
        ));
    }
    out
}
