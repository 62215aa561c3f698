//! Which tools a model is offered, and in which form, as the Codex CLI decides it from
//! the model's catalog entry (reference: codex-tools.md §1).
//!
//! Tool plugins describe every form they can serve (the `coding-tools` plugin serves
//! `shell`, `shell_command`, `exec_command` + `write_stdin`, and `apply_patch` with a
//! grammar); the loop keeps the shell tool the catalog's `shell_type` names, offers
//! `apply_patch` freeform or as a function per `apply_patch_tool_type`, and adds the
//! backend's hosted web search when the profile turns it on and the model has it.
//! Calls to the shell tools not offered still run (the plugin keeps serving them), as
//! Codex keeps its legacy handlers registered.
//!
//! The catalog's `tool_mode: code_mode*` (tools reached from JavaScript cells) is not
//! implemented: such models get the direct tools, which every current model was also
//! trained on, rather than an `exec` tool whose JavaScript runtime we do not ship.

use serde_json::{json, Value};
use talaria_sdk::provider::ModelInfo;
use talaria_sdk::{ToolForm, ToolSpec};

/// The Codex shell tools: a model is offered the one (or pair) its `shell_type` names.
const SHELL_TOOLS: &[&str] = &["shell", "shell_command", "exec_command", "write_stdin"];

/// The tools for this model, in the order they were listed, plus the hosted web search.
pub fn offered(
    listed: &[ToolSpec],
    info: Option<&ModelInfo>,
    web_search: bool,
    sandbox: Option<&str>,
) -> Vec<ToolSpec> {
    let field = |name: &str| info.and_then(|i| i.tools.get(name));
    let shell_type = field("shell_type").and_then(Value::as_str);
    let keep_shell: &[&str] = match shell_type {
        Some("default") => &["shell"],
        Some("unified_exec") => &["exec_command", "write_stdin"],
        Some("disabled") => &[],
        // `local` is a hosted tool this host cannot run: the closest local form.
        Some("local") | Some("shell_command") | None => &["shell_command"],
        Some(_) => &["shell_command"],
    };
    let patch_form = field("apply_patch_tool_type").and_then(Value::as_str);
    let mut tools: Vec<ToolSpec> = listed
        .iter()
        .filter(|t| {
            !SHELL_TOOLS.contains(&t.name.as_str()) || keep_shell.contains(&t.name.as_str())
        })
        .cloned()
        .map(|mut t| {
            // A freeform tool goes out freeform only when the catalog asks for it; other
            // models (and other wire APIs) get its function form.
            if matches!(t.form, ToolForm::Freeform { .. }) && patch_form != Some("freeform") {
                t.form = ToolForm::Function;
            }
            t
        })
        .collect();
    if web_search {
        if let Some(kind) = field("web_search_tool_type").and_then(Value::as_str) {
            tools.push(hosted_web_search(kind, sandbox));
        }
    }
    tools
}

/// `{"type":"web_search"}` as Codex sends it: cached results (`external_web_access:
/// false`) unless the sandbox is off, and image results for models that read them.
fn hosted_web_search(kind: &str, sandbox: Option<&str>) -> ToolSpec {
    let mut spec = json!({
        "type": "web_search",
        "external_web_access": sandbox == Some("danger-full-access"),
    });
    if kind == "text_and_image" {
        spec["search_content_types"] = json!(["text", "image"]);
    }
    ToolSpec {
        name: "web_search".into(),
        description: "Search the web (run by the backend).".into(),
        form: ToolForm::Hosted { spec },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn tool(name: &str, form: ToolForm) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            form,
            ..Default::default()
        }
    }

    fn listed() -> Vec<ToolSpec> {
        let grammar = ToolForm::Freeform {
            syntax: "lark".into(),
            definition: "start: x".into(),
        };
        vec![
            tool("shell", ToolForm::Function),
            tool("shell_command", ToolForm::Function),
            tool("exec_command", ToolForm::Function),
            tool("write_stdin", ToolForm::Function),
            tool("apply_patch", grammar),
            tool("update_plan", ToolForm::Function),
            tool("read_file", ToolForm::Function),
        ]
    }

    fn model(fields: Value) -> ModelInfo {
        let tools: Map<String, Value> = serde_json::from_value(fields).unwrap();
        ModelInfo {
            slug: "m".into(),
            tools,
            ..Default::default()
        }
    }

    fn names(tools: &[ToolSpec]) -> Vec<&str> {
        tools.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn the_catalog_picks_the_shell_and_the_patch_form() {
        let m = model(json!({"shell_type": "shell_command", "apply_patch_tool_type": "freeform"}));
        let tools = offered(&listed(), Some(&m), false, None);
        assert_eq!(
            names(&tools),
            ["shell_command", "apply_patch", "update_plan", "read_file"]
        );
        assert!(matches!(tools[1].form, ToolForm::Freeform { .. }));

        let m = model(json!({"shell_type": "unified_exec", "apply_patch_tool_type": "function"}));
        let tools = offered(&listed(), Some(&m), false, None);
        assert_eq!(
            names(&tools),
            [
                "exec_command",
                "write_stdin",
                "apply_patch",
                "update_plan",
                "read_file"
            ]
        );
        assert_eq!(tools[2].form, ToolForm::Function);

        let m = model(json!({"shell_type": "default"}));
        let tools = offered(&listed(), Some(&m), false, None);
        assert_eq!(names(&tools)[0], "shell");
        assert_eq!(
            tools[1].form,
            ToolForm::Function,
            "no catalog form: function"
        );

        let tools = offered(&listed(), None, false, None);
        assert_eq!(names(&tools)[0], "shell_command");
        let m = model(json!({"shell_type": "disabled"}));
        assert_eq!(
            names(&offered(&listed(), Some(&m), false, None))[0],
            "apply_patch"
        );
    }

    #[test]
    fn web_search_only_when_on_and_the_model_has_it() {
        let with = model(json!({"web_search_tool_type": "text_and_image"}));
        let without = model(json!({}));
        assert!(!names(&offered(&listed(), Some(&with), false, None)).contains(&"web_search"));
        assert!(!names(&offered(&listed(), Some(&without), true, None)).contains(&"web_search"));
        let tools = offered(&listed(), Some(&with), true, Some("workspace-write"));
        let search = tools.last().unwrap();
        assert_eq!(
            search.form,
            ToolForm::Hosted {
                spec: json!({"type": "web_search", "external_web_access": false, "search_content_types": ["text", "image"]})
            }
        );
        let tools = offered(&listed(), Some(&with), true, Some("danger-full-access"));
        let ToolForm::Hosted { spec } = &tools.last().unwrap().form else {
            panic!("not hosted")
        };
        assert_eq!(spec["external_web_access"], true);
    }
}
