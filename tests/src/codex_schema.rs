//! The pinned codex's own protocol schema (`codex app-server generate-json-schema`), and
//! the check that every message talaria sent it validates: requests and notifications
//! against `ClientRequest` / `ClientNotification`, replies to codex's requests against
//! that request's `…Response` schema, JSON-RPC errors against `JSONRPCError`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::codex_cli::{codex_bin_of, install_dir_of, CODEX_VERSION};

struct Schemas {
    dir: PathBuf,
    /// Server request method → the file of its response schema.
    responses: HashMap<String, String>,
    client_request: jsonschema::Validator,
    client_notification: jsonschema::Validator,
    error: jsonschema::Validator,
}

fn load(dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).unwrap()
}

/// The schemas of codex `version`, generated once into its install folder.
fn schemas(version: &str) -> &'static Schemas {
    static SCHEMAS: OnceLock<Mutex<HashMap<String, &'static Schemas>>> = OnceLock::new();
    let mut all = SCHEMAS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    all.entry(version.to_owned())
        .or_insert_with(|| Box::leak(Box::new(generate(version))))
}

fn generate(version: &str) -> Schemas {
    {
        let dir = install_dir_of(version).join("schema");
        if !dir.join("ClientRequest.json").is_file() {
            let home = install_dir_of(version).join("schema-home");
            std::fs::create_dir_all(&home).unwrap();
            let status = std::process::Command::new(codex_bin_of(version))
                .args(["app-server", "generate-json-schema", "--out"])
                .arg(&dir)
                .env("CODEX_HOME", &home)
                .env("HOME", &home)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("run codex app-server generate-json-schema");
            assert!(
                status.success(),
                "codex app-server generate-json-schema failed"
            );
        }
        // `item/commandExecution/requestApproval` → `CommandExecutionRequestApprovalResponse.json`,
        // read from the request's params type.
        let mut responses = HashMap::new();
        for variant in load(&dir, "ServerRequest.json")["oneOf"]
            .as_array()
            .unwrap()
        {
            let method = variant["properties"]["method"]["enum"][0].as_str().unwrap();
            let params = variant["properties"]["params"]["$ref"].as_str().unwrap();
            let name = params
                .rsplit('/')
                .next()
                .unwrap()
                .replace("Params", "Response");
            responses.insert(method.to_owned(), format!("{name}.json"));
        }
        Schemas {
            client_request: validator(&load(&dir, "ClientRequest.json")),
            client_notification: validator(&load(&dir, "ClientNotification.json")),
            error: validator(&load(&dir, "JSONRPCError.json")),
            responses,
            dir,
        }
    }
}

fn problems(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// Checks a `TALARIA_CODEX_TRACE` (lines `{"dir": "out"|"in", "message": …}`) against
/// the schema of [`CODEX_VERSION`].
pub fn check_trace(trace: &[Value]) {
    check_trace_against(CODEX_VERSION, trace)
}

/// Every outgoing message must validate against codex `version`'s schema; panics naming
/// the message and what is wrong.
pub fn check_trace_against(version: &str, trace: &[Value]) {
    let s = schemas(version);
    let mut asked: HashMap<String, String> = HashMap::new();
    let mut response_validators: HashMap<String, jsonschema::Validator> = HashMap::new();
    for entry in trace {
        let message = &entry["message"];
        if entry["dir"] == "in" {
            asked.insert(
                message["id"].to_string(),
                message["method"].as_str().unwrap_or_default().to_owned(),
            );
            continue;
        }
        let errors = if message.get("method").is_some() && message.get("id").is_some() {
            problems(&s.client_request, message)
        } else if message.get("method").is_some() {
            problems(&s.client_notification, message)
        } else if message.get("error").is_some() {
            problems(&s.error, message)
        } else {
            let method = asked.get(&message["id"].to_string()).unwrap_or_else(|| {
                panic!("talaria answered a request codex never made: {message}")
            });
            let file = s
                .responses
                .get(method)
                .unwrap_or_else(|| panic!("codex's schema has no response for {method}"));
            let v = response_validators
                .entry(file.clone())
                .or_insert_with(|| validator(&load(&s.dir, file)));
            problems(v, &message["result"])
        };
        assert!(
            errors.is_empty(),
            "talaria sent codex a message its schema rejects:\n{message}\n{}",
            errors.join("\n")
        );
    }
}
