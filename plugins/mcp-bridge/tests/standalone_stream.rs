//! A remote server that answers the standalone GET slowly and, like the TypeScript
//! SDK's server, can send an elicitation only on an open standalone stream. The
//! bridge's first call must not overtake that GET (the cause of a conformance-suite
//! failure on busy machines: the elicitation was dropped and the call hung).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rmcp::model::{ElicitResult, ElicitationAction};
use serde_json::{json, Value};
use talaria_mcp_bridge::client;
use talaria_sdk::mcp::McpServer;
use tokio::sync::{mpsc, oneshot};

/// How long the server takes to answer the standalone GET.
const SLOW_GET: Duration = Duration::from_millis(400);

#[derive(Clone, Default)]
struct Server {
    standalone: Arc<Mutex<Option<mpsc::UnboundedSender<String>>>>,
    elicited: Arc<Mutex<Option<oneshot::Sender<Value>>>>,
}

fn json_reply(id: &Value, result: Value) -> Response {
    (
        [("mcp-session-id", "s1")],
        Json(json!({ "jsonrpc": "2.0", "id": id, "result": result })),
    )
        .into_response()
}

async fn on_post(State(server): State<Server>, Json(message): Json<Value>) -> Response {
    let id = message["id"].clone();
    match message["method"].as_str() {
        Some("initialize") => json_reply(
            &id,
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": { "tools": {} },
                "serverInfo": { "name": "slow-get", "version": "1" }
            }),
        ),
        Some("tools/list") => json_reply(
            &id,
            json!({ "tools": [{ "name": "ask", "inputSchema": { "type": "object" } }] }),
        ),
        Some("tools/call") => {
            let stream = server.standalone.lock().unwrap().clone();
            let Some(stream) = stream else {
                // Where the TypeScript SDK drops the message, say so instead of hanging.
                return json_reply(
                    &id,
                    json!({ "content": [{ "type": "text", "text": "no standalone stream yet: the elicitation was dropped" }], "isError": true }),
                );
            };
            let (answered, answer) = oneshot::channel();
            *server.elicited.lock().unwrap() = Some(answered);
            let request = json!({
                "jsonrpc": "2.0",
                "id": 100,
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": "Your name?",
                    "requestedSchema": {
                        "type": "object",
                        "properties": { "name": { "type": "string", "default": "Ada" } }
                    }
                }
            });
            stream
                .send(format!("event: message\ndata: {request}\n\n"))
                .unwrap();
            let answer = tokio::time::timeout(Duration::from_secs(20), answer)
                .await
                .expect("the client never answered the elicitation")
                .unwrap();
            json_reply(
                &id,
                json!({ "content": [{ "type": "text", "text": answer["content"]["name"] }] }),
            )
        }
        // A notification, or the client's answer to our elicitation.
        _ => {
            if message["id"] == json!(100) {
                if let Some(answered) = server.elicited.lock().unwrap().take() {
                    let _ = answered.send(message["result"].clone());
                }
            }
            StatusCode::ACCEPTED.into_response()
        }
    }
}

async fn on_get(State(server): State<Server>) -> Response {
    tokio::time::sleep(SLOW_GET).await;
    let (send, receive) = mpsc::unbounded_channel::<String>();
    *server.standalone.lock().unwrap() = Some(send);
    let events = futures_util::stream::unfold(receive, |mut receive| async move {
        let event = receive.recv().await?;
        Some((Ok::<_, Infallible>(Bytes::from(event)), receive))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(events),
    )
        .into_response()
}

#[test]
fn the_first_call_waits_for_the_standalone_stream() {
    let rt = talaria_mcp_bridge::runtime().unwrap();
    rt.block_on(async {
        let app = Router::new()
            .route(
                "/mcp",
                post(on_post)
                    .get(on_get)
                    .delete(|| async { StatusCode::OK }),
            )
            .with_state(Server::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let mut options = client::Options::new(Arc::new(|_| {}));
        options.elicit = Some(Arc::new(|_| {
            ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "name": "Ada" }))
        }));
        let config = McpServer {
            url: Some(url),
            connect_timeout: Some(20.0),
            ..McpServer::default()
        };
        let connection = client::start("slow-get", &config, &options).await.unwrap();
        let output = connection.call("ask", json!({})).await.unwrap();
        assert!(!output.is_error, "{}", output.content);
        assert_eq!(output.content, "Ada");
        connection.close().await;
    });
}
