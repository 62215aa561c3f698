//! The bridge's client against a raw stdio server (tests/mcp/raw_server.py) that sends a
//! notification before the initialize result and answers calls out of order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use talaria_mcp_bridge::client;
use talaria_sdk::mcp::McpServer;

fn raw_server(mode: &str) -> McpServer {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp/raw_server.py");
    McpServer {
        command: Some("python3".into()),
        args: vec![script.display().to_string(), mode.into()],
        connect_timeout: Some(10.0),
        ..McpServer::default()
    }
}

#[test]
fn early_notifications_and_out_of_order_replies_are_matched_by_id() {
    let rt = talaria_mcp_bridge::runtime().unwrap();
    rt.block_on(async {
        let options = client::Options::new(Arc::new(|_| {}));
        let connection = client::start("quirky", &raw_server("quirky"), &options)
            .await
            .unwrap();
        let tools = connection.tools().await.unwrap();
        assert_eq!(tools.len(), 1);
        // The server holds the first answer until the second call is answered.
        let (held, prompt) = tokio::join!(
            connection.call("add", json!({"a": 1, "b": 2, "hold": true})),
            async {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                connection.call("add", json!({"a": 20, "b": 22})).await
            }
        );
        assert_eq!(held.unwrap().content, "3");
        assert_eq!(prompt.unwrap().content, "42");
    });
}
