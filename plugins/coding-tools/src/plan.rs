//! `update_plan`: the model's plan, shown to the user as a checklist (`Event::Plan`).

use serde::Deserialize;
use serde_json::{json, Value};
use talaria_sdk::{
    parse_args, CallContext, Event, PlanStep, Result, StepStatus, Tool, ToolOutput, ToolSpec,
};

pub struct UpdatePlan;

#[derive(Deserialize)]
struct Args {
    #[serde(default)]
    explanation: Option<String>,
    plan: Vec<PlanStep>,
}

impl Tool for UpdatePlan {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "update_plan".into(),
            description: "Updates the task plan the user sees. Give every step with its status; at most one step is in_progress at a time. Optionally say what changed in `explanation`.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "explanation": {"type": "string"},
                    "plan": {
                        "type": "array",
                        "description": "The steps, in order.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "step": {"type": "string"},
                                "status": {"type": "string", "description": "One of: pending, in_progress, completed"}
                            },
                            "required": ["step", "status"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["plan"],
                "additionalProperties": false
            }),
            needs_approval: false,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let args: Args = parse_args(args)?;
        if args.plan.iter().any(|s| s.status == StepStatus::Unknown) {
            return Ok(ToolOutput::error(
                "a step's status must be pending, in_progress or completed",
            ));
        }
        let in_progress = args
            .plan
            .iter()
            .filter(|s| s.status == StepStatus::InProgress)
            .count();
        if in_progress > 1 {
            return Ok(ToolOutput::error(format!(
                "{in_progress} steps are in_progress; at most one may be"
            )));
        }
        cx.emit(&Event::Plan {
            explanation: args.explanation.filter(|e| !e.trim().is_empty()),
            steps: args.plan,
        });
        Ok(ToolOutput::text("Plan updated"))
    }
}
