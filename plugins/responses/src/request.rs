//! The request: body fields (reference §2), headers (§3), the websocket's
//! `response.create` frame and its incremental form (§9), and URLs fit to show.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use talaria_sdk::items::Item;
use talaria_sdk::provider::Endpoint;
use talaria_sdk::transport::{ReasoningRequest, StreamRequest};
use talaria_sdk::{ToolForm, ToolSpec};
pub use talaria_transport_kit::url::{display_url, join};

/// Keys this backend must never receive; a provider's `body` cannot add them either.
/// (`previous_response_id` is websocket-only and added there, after this filter.)
const FORBIDDEN_KEYS: &[&str] = &["max_output_tokens", "temperature", "previous_response_id"];

/// The websocket protocol revision the backend expects in `OpenAI-Beta`.
pub const WEBSOCKET_BETA: &str = "responses_websockets=2026-02-06";

/// Headers the websocket handshake sets itself, or that do not belong on it (Codex
/// sends no User-Agent there).
const NOT_ON_WEBSOCKET: &[&str] = &[
    "user-agent",
    "host",
    "connection",
    "upgrade",
    "content-length",
    "content-type",
    "content-encoding",
    "accept",
    "openai-beta",
];

/// The body of `POST {base}/responses` (and of the websocket `response.create`): every
/// field but `input`, and the input items each as its JSON text: a long session's
/// history costs one allocation per item, not a tree of JSON values (thousands of small
/// allocations per request).
#[derive(Debug, Serialize)]
pub struct Body {
    #[serde(flatten)]
    pub fields: Map<String, Value>,
    pub input: Vec<Box<RawValue>>,
}

/// Builds the body. Fails only if an item cannot be encoded as JSON.
pub fn build_body(req: &StreamRequest, endpoint: &Endpoint) -> serde_json::Result<Body> {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    if let Some(instructions) = req.instructions.as_deref().filter(|i| !i.is_empty()) {
        body.insert("instructions".into(), json!(instructions));
    }
    // An empty or null `tools` broke gpt-5.5 calls (Hermes #32892): leave the key out.
    if !req.tools.is_empty() {
        body.insert("tools".into(), req.tools.iter().map(wire_tool).collect());
    }
    body.insert("tool_choice".into(), json!("auto"));
    body.insert("parallel_tool_calls".into(), json!(true));
    if let Some(reasoning) = &req.reasoning {
        body.insert("reasoning".into(), reasoning_settings(reasoning));
    }
    // With `store: false` the encrypted reasoning is the only way to replay it next turn.
    let include = if req.reasoning.is_some() {
        json!(["reasoning.encrypted_content"])
    } else {
        json!([])
    };
    body.insert("include".into(), include);
    body.insert("store".into(), json!(false));
    body.insert("stream".into(), json!(true));
    let cache_key = req
        .prompt_cache_key
        .clone()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| req.session_id.clone());
    if !cache_key.is_empty() {
        body.insert("prompt_cache_key".into(), json!(cache_key));
    }
    for (key, value) in &req.extra_body {
        body.insert(key.clone(), value.clone());
    }
    for (key, value) in &endpoint.body {
        body.insert(key.clone(), value.clone());
    }
    for key in FORBIDDEN_KEYS {
        body.remove(*key);
    }
    // The input is the conversation's, never a provider's extra field.
    body.remove("input");
    // Everything below reads a stream; a provider cannot switch that off.
    body.insert("stream".into(), json!(true));
    Ok(Body {
        fields: body,
        input: wire_items(&req.input)?,
    })
}

/// Conversation items in their wire form: a typed item serializes to exactly the
/// Responses API's item JSON, an unknown one to what it was.
pub fn wire_items(items: &[Item]) -> serde_json::Result<Vec<Box<RawValue>>> {
    items.iter().map(serde_json::value::to_raw_value).collect()
}

/// A tool as the Responses API takes it. A function tool is not strict: strict mode
/// accepts only schemas that require every property and close every object, which a
/// plugin's tool schema need not do. A freeform tool is a `custom` tool with its
/// grammar; a hosted one goes as its own spec.
fn wire_tool(spec: &ToolSpec) -> Value {
    match &spec.form {
        ToolForm::Function => json!({
            "type": "function",
            "name": spec.name,
            "description": spec.description,
            "strict": false,
            "parameters": spec.input_schema,
        }),
        ToolForm::Freeform { syntax, definition } => json!({
            "type": "custom",
            "name": spec.name,
            "description": spec.description,
            "format": { "type": "grammar", "syntax": syntax, "definition": definition },
        }),
        ToolForm::Hosted { spec } => spec.clone(),
    }
}

/// `{"effort": .., "summary": ..}`, without `summary` when none is asked for.
fn reasoning_settings(reasoning: &ReasoningRequest) -> Value {
    let mut settings = Map::new();
    settings.insert("effort".into(), json!(reasoning.effort));
    if let Some(summary) = &reasoning.summary {
        settings.insert("summary".into(), json!(summary));
    }
    Value::Object(settings)
}

/// Serializes the HTTP body, zstd-compressed (level 3, as Codex) when the backend takes it.
pub fn encode_body(body: &Body, zstd: bool) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(body)?;
    if zstd {
        zstd::bulk::compress(&json, 3)
    } else {
        Ok(json)
    }
}

/// What the connection remembers of its last successful exchange, for incremental
/// requests. Lives only in memory with the connection.
#[derive(Debug)]
pub struct LastExchange {
    /// The full (non-incremental) body minus `input`.
    pub fields: Map<String, Value>,
    /// The exchange's input, as its length and digest: enough to recognise it as the
    /// start of the next request's input, without a second copy of a long session's
    /// history living here for as long as the connection does.
    pub input: InputDigest,
    pub response_id: String,
    /// The response's output as the runtime got it (typed items, without server ids),
    /// in wire form: what a replay of it looks like in the next request's input.
    pub output: Vec<Box<RawValue>>,
}

/// The number of items and the SHA-256 of their JSON, one item after another.
#[derive(Debug, Clone, PartialEq)]
pub struct InputDigest {
    pub len: usize,
    pub sha256: [u8; 32],
}

impl InputDigest {
    pub fn of(items: &[Box<RawValue>]) -> Self {
        let mut hash = Sha256::new();
        for item in items {
            // JSON values are self-delimiting, so item boundaries need no separator.
            hash.update(item.get().as_bytes());
        }
        InputDigest {
            len: items.len(),
            sha256: hash.finalize().into(),
        }
    }
}

impl LastExchange {
    pub fn new(body: &Body, response_id: String, output: &[Item]) -> serde_json::Result<Self> {
        Ok(LastExchange {
            fields: body.fields.clone(),
            input: InputDigest::of(&body.input),
            response_id,
            output: wire_items(output)?,
        })
    }
}

/// The input items to send with `previous_response_id`, when `body` continues the last
/// exchange: every other field equal, and the input = previous input + previous output +
/// new items. `None` means send the full request.
pub fn incremental_input<'a>(last: &LastExchange, body: &'a Body) -> Option<&'a [Box<RawValue>]> {
    let input = body.input.as_slice();
    if body.fields != last.fields || input.len() < last.input.len + last.output.len() {
        return None;
    }
    let (old_input, rest) = input.split_at(last.input.len);
    if InputDigest::of(old_input) != last.input {
        return None;
    }
    // Both sides went through `Item` (the output when it was returned, the input when
    // it was sent), so a replayed item is byte-for-byte the produced one.
    let (replayed, new_items) = rest.split_at(last.output.len());
    let same = replayed
        .iter()
        .zip(&last.output)
        .all(|(a, b)| a.get() == b.get());
    same.then_some(new_items)
}

/// The websocket frame, serialized: `{"type":"response.create", ...body}`, incremental
/// when it can be.
pub fn create_frame(
    body: &Body,
    last: Option<&LastExchange>,
) -> serde_json::Result<(String, bool)> {
    #[derive(Serialize)]
    struct Frame<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(flatten)]
        fields: &'a Map<String, Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        previous_response_id: Option<&'a str>,
        input: &'a [Box<RawValue>],
    }
    let delta = last.and_then(|last| {
        incremental_input(last, body).map(|items| (last.response_id.as_str(), items))
    });
    let frame = Frame {
        kind: "response.create",
        fields: &body.fields,
        previous_response_id: delta.map(|(id, _)| id),
        input: delta.map_or(body.input.as_slice(), |(_, items)| items),
    };
    Ok((serde_json::to_string(&frame)?, delta.is_some()))
}

/// The endpoint's headers for the websocket handshake (minus those it must not carry),
/// plus the beta opt-in.
pub fn websocket_headers(endpoint: &Endpoint) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = endpoint
        .headers
        .iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !NOT_ON_WEBSOCKET.contains(&lower.as_str()) && !lower.starts_with("sec-websocket-")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push(("openai-beta".into(), WEBSOCKET_BETA.into()));
    headers
}

/// The endpoint's headers for `POST /responses`, then ours (which win), and the body's
/// encoding when the provider asks for zstd.
pub fn http_headers(endpoint: &Endpoint) -> Vec<(String, String)> {
    let mut headers = talaria_transport_kit::http::sse_post_headers(endpoint);
    if endpoint.zstd {
        headers.push(("content-encoding".into(), "zstd".into()));
    }
    headers
}

/// `http→ws`, `https→wss`, then `/responses`.
pub fn websocket_url(base: &str) -> Option<String> {
    let url = join(base, "responses");
    if let Some(rest) = url.strip_prefix("https://") {
        Some(format!("wss://{rest}"))
    } else {
        url.strip_prefix("http://")
            .map(|rest| format!("ws://{rest}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::item_of;
    use std::collections::BTreeMap;
    use talaria_sdk::items::ToolResultContent;

    fn request() -> StreamRequest {
        StreamRequest {
            provider: "openai-codex".into(),
            session_id: "sess-1".into(),
            model: "gpt-5.5".into(),
            input: vec![Item::user_text("hi")],
            ..Default::default()
        }
    }

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: format!("the {name} tool"),
            input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            needs_approval: true,
            ..Default::default()
        }
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            base_url: "https://chatgpt.com/backend-api/codex".into(),
            ..Default::default()
        }
    }

    /// The body as the server sees it.
    fn json_body(req: &StreamRequest, endpoint: &Endpoint) -> Map<String, Value> {
        match serde_json::to_value(build_body(req, endpoint).unwrap()).unwrap() {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn extra_body_fields_are_merged_under_the_providers_and_the_rules() {
        let mut req = request();
        req.extra_body = serde_json::from_value(json!({
            "text": {"verbosity": "low"},
            "service_tier": "flex",
            "temperature": 0.2,
        }))
        .unwrap();
        let endpoint = Endpoint {
            body: serde_json::from_value(json!({"service_tier": "priority"})).unwrap(),
            ..Default::default()
        };
        let body = json_body(&req, &endpoint);
        assert_eq!(body["text"], json!({"verbosity": "low"}));
        assert_eq!(
            body["service_tier"], "priority",
            "the provider's field wins"
        );
        assert!(
            body.get("temperature").is_none(),
            "this backend never gets it"
        );
    }

    #[test]
    fn a_minimal_body_omits_what_is_not_set() {
        let body = json_body(&request(), &endpoint());
        assert_eq!(
            Value::Object(body),
            json!({
                "model": "gpt-5.5",
                "input": [{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}],
                "tool_choice": "auto",
                "parallel_tool_calls": true,
                "include": [],
                "store": false,
                "stream": true,
                "prompt_cache_key": "sess-1"
            })
        );
        let mut req = request();
        req.instructions = Some(String::new());
        let body = json_body(&req, &endpoint());
        assert!(
            !body.contains_key("instructions")
                && !body.contains_key("tools")
                && !body.contains_key("reasoning")
        );
    }

    #[test]
    fn freeform_tools_go_as_custom_tools_and_hosted_ones_as_their_spec() {
        let mut req = request();
        let mut patch = tool("apply_patch");
        patch.form = ToolForm::Freeform {
            syntax: "lark".into(),
            definition: "start: begin_patch".into(),
        };
        let mut search = tool("web_search");
        search.form = ToolForm::Hosted {
            spec: json!({"type": "web_search", "external_web_access": false}),
        };
        req.tools = vec![patch, search];
        let body = json_body(&req, &endpoint());
        assert_eq!(
            body["tools"],
            json!([
                {"type": "custom", "name": "apply_patch", "description": "the apply_patch tool",
                 "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}},
                {"type": "web_search", "external_web_access": false}
            ])
        );
    }

    #[test]
    fn a_full_body_has_reasoning_include_tools_and_the_providers_fields() {
        let mut req = request();
        req.instructions = Some("Be brief.".into());
        req.tools = vec![tool("read_file"), tool("list_dir")];
        req.reasoning = Some(ReasoningRequest {
            effort: "medium".into(),
            summary: Some("auto".into()),
        });
        req.prompt_cache_key = Some("pck_abc".into());
        let mut ep = endpoint();
        ep.body.insert("service_tier".into(), json!("priority"));
        ep.body.insert("max_output_tokens".into(), json!(100));
        ep.body.insert("temperature".into(), json!(0.2));
        ep.body.insert("stream".into(), json!(false));
        let body = json_body(&req, &ep);
        assert_eq!(body["instructions"], "Be brief.");
        assert_eq!(
            body["tools"][0],
            json!({"type": "function", "name": "read_file", "description": "the read_file tool",
                   "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}, "strict": false})
        );
        assert_eq!(body["tools"][1]["name"], "list_dir");
        assert_eq!(
            body["reasoning"],
            json!({"effort": "medium", "summary": "auto"})
        );
        assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
        assert_eq!(body["prompt_cache_key"], "pck_abc");
        assert_eq!(body["service_tier"], "priority");
        assert_eq!(body["stream"], true);
        assert_eq!(body["store"], false);
        for key in FORBIDDEN_KEYS {
            assert!(!body.contains_key(*key), "{key}");
        }

        // No summary asked for: the key is left out, the encrypted reasoning still asked for.
        req.reasoning = Some(ReasoningRequest {
            effort: "high".into(),
            summary: None,
        });
        let body = json_body(&req, &ep);
        assert_eq!(body["reasoning"], json!({"effort": "high"}));
        assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    }

    #[test]
    fn zstd_bodies_round_trip() {
        let body = build_body(&request(), &endpoint()).unwrap();
        let plain = encode_body(&body, false).unwrap();
        let packed = encode_body(&body, true).unwrap();
        assert_ne!(plain, packed);
        assert_eq!(zstd::decode_all(packed.as_slice()).unwrap(), plain);
        let back: Map<String, Value> = serde_json::from_slice(&plain).unwrap();
        assert_eq!(back, json_body(&request(), &endpoint()));
        assert_eq!(back["input"], json!([user("hi")]));
    }

    fn user(text: &str) -> Value {
        json!({"type":"message","role":"user","content":[{"type":"input_text","text":text}]})
    }

    /// The output of a response as the transport hands it to the runtime.
    fn produced() -> Vec<Item> {
        [
            json!({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"hello","annotations":[]}]}),
            json!({"type":"function_call","id":"fc_1","status":"completed","name":"f","arguments":"{}","call_id":"c1"}),
            // A type this build does not know keeps its server id, on both sides.
            json!({"type":"image_generation_call","id":"ig_1","result":"AAAA"}),
        ]
        .into_iter()
        .map(item_of)
        .collect()
    }

    #[test]
    fn incremental_requests_send_only_the_new_items() {
        let first = build_body(&request(), &endpoint()).unwrap();
        let output = produced();
        let last = LastExchange::new(&first, "resp_1".into(), &output).unwrap();

        // The runtime replays the output and adds a tool result and a prompt.
        let mut req = request();
        req.input.extend(output.clone());
        req.input.extend([
            Item::function_output("c1", ToolResultContent::Text("ok".into())),
            Item::user_text("next"),
        ]);
        let second = build_body(&req, &endpoint()).unwrap();
        let items: Vec<Value> = incremental_input(&last, &second)
            .unwrap()
            .iter()
            .map(|raw| serde_json::from_str(raw.get()).unwrap())
            .collect();
        assert_eq!(
            items,
            vec![
                json!({"type":"function_call_output","call_id":"c1","output":"ok"}),
                user("next")
            ]
        );
        let (frame, incremental) = create_frame(&second, Some(&last)).unwrap();
        let frame: Value = serde_json::from_str(&frame).unwrap();
        assert!(incremental);
        assert_eq!(frame["type"], "response.create");
        assert_eq!(frame["previous_response_id"], "resp_1");
        assert_eq!(frame["input"].as_array().unwrap().len(), 2);
        assert_eq!(frame["model"], "gpt-5.5");

        // Nothing new at all is still incremental (an empty delta).
        let mut req = request();
        req.input.extend(output);
        assert!(
            incremental_input(&last, &build_body(&req, &endpoint()).unwrap())
                .is_some_and(|items| items.is_empty())
        );
    }

    #[test]
    fn anything_else_changing_means_a_full_request() {
        let first = build_body(&request(), &endpoint()).unwrap();
        let out = Item::assistant_text("hello");
        let last = LastExchange::new(&first, "resp_1".into(), std::slice::from_ref(&out)).unwrap();
        let next = |f: &dyn Fn(&mut StreamRequest, &mut Endpoint)| {
            let mut req = request();
            req.input.extend([out.clone(), Item::user_text("next")]);
            let mut ep = endpoint();
            f(&mut req, &mut ep);
            build_body(&req, &ep).unwrap()
        };
        assert!(incremental_input(&last, &next(&|_, _| {})).is_some());
        assert!(incremental_input(&last, &next(&|r, _| r.model = "gpt-5.4".into())).is_none());
        assert!(
            incremental_input(&last, &next(&|r, _| r.instructions = Some("x".into()))).is_none()
        );
        assert!(incremental_input(&last, &next(&|r, _| r.tools = vec![tool("t")])).is_none());
        assert!(incremental_input(
            &last,
            &next(&|r, _| r.reasoning = Some(ReasoningRequest {
                effort: "low".into(),
                summary: None
            }))
        )
        .is_none());
        assert!(incremental_input(
            &last,
            &next(&|_, e| {
                e.body.insert("service_tier".into(), json!("priority"));
            })
        )
        .is_none());
        // The history was edited (compaction, a changed prompt).
        assert!(
            incremental_input(&last, &next(&|r, _| r.input[0] = Item::user_text("edited")))
                .is_none()
        );
        // The output was not replayed, or replayed changed.
        let mut req = request();
        req.input.push(Item::user_text("next"));
        assert!(incremental_input(&last, &build_body(&req, &endpoint()).unwrap()).is_none());
        assert!(incremental_input(
            &last,
            &next(&|r, _| r.input[1] = Item::assistant_text("hello!"))
        )
        .is_none());
        // A full frame when there is nothing to continue.
        let (frame, incremental) = create_frame(&first, None).unwrap();
        let frame: Value = serde_json::from_str(&frame).unwrap();
        assert!(!incremental);
        assert!(frame.get("previous_response_id").is_none());
        assert_eq!(frame["input"], json!([user("hi")]));
    }

    #[test]
    fn headers_for_each_transport() {
        let mut ep = endpoint();
        ep.headers = BTreeMap::from([
            ("Authorization".to_owned(), "Bearer secret".to_owned()),
            ("User-Agent".to_owned(), "codex_cli_rs/0.169.0".to_owned()),
            ("originator".to_owned(), "codex_cli_rs".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
        ]);
        ep.zstd = true;
        let http = http_headers(&ep);
        let get = |h: &[(String, String)], n: &str| {
            h.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(get(&http, "accept"), ["text/event-stream"]);
        assert_eq!(get(&http, "content-type"), ["application/json"]);
        assert_eq!(get(&http, "content-encoding"), ["zstd"]);
        assert_eq!(get(&http, "user-agent"), ["codex_cli_rs/0.169.0"]);
        assert_eq!(get(&http, "authorization"), ["Bearer secret"]);
        let ws = websocket_headers(&ep);
        assert!(get(&ws, "user-agent").is_empty());
        assert!(get(&ws, "accept").is_empty());
        assert_eq!(get(&ws, "authorization"), ["Bearer secret"]);
        assert_eq!(get(&ws, "originator"), ["codex_cli_rs"]);
        assert_eq!(get(&ws, "openai-beta"), [WEBSOCKET_BETA]);
        ep.zstd = false;
        assert!(get(&http_headers(&ep), "content-encoding").is_empty());
    }

    #[test]
    fn urls() {
        assert_eq!(
            websocket_url("https://chatgpt.com/backend-api/codex").as_deref(),
            Some("wss://chatgpt.com/backend-api/codex/responses")
        );
        assert_eq!(
            websocket_url("http://127.0.0.1:8080/v1/").as_deref(),
            Some("ws://127.0.0.1:8080/v1/responses")
        );
        assert_eq!(websocket_url("ftp://x"), None);
        assert_eq!(join("http://h/base/", "/models"), "http://h/base/models");
        assert_eq!(
            display_url("https://user:pw@host:1/p/responses?key=abc"),
            "https://host:1/p/responses"
        );
        assert_eq!(display_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
    }
}
