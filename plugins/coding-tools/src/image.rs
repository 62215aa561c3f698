//! `view_image`: a local image into the conversation (as a `data:` URL after the tool's
//! output), for models that read images.

use std::sync::Arc;

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use talaria_sdk::{parse_args, CallContext, Result, Tool, ToolOutput, ToolSpec};

use crate::turn::{Shared, Turn};

/// Larger images are refused rather than sent (the backend's own limit is about this).
const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

pub struct ViewImage(pub Arc<Shared>);

#[derive(Deserialize)]
struct Args {
    path: String,
}

impl Tool for ViewImage {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "view_image".into(),
            description: "Shows you a local image file (PNG, JPEG, GIF or WebP) by its path."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {"path": {"type": "string", "description": "The image file's path."}},
                "required": ["path"],
                "additionalProperties": false
            }),
            needs_approval: false,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let args: Args = parse_args(args)?;
        let turn = Turn::of(cx, &self.0);
        if let Some(model) = &turn.model {
            if !model.input_modalities.is_empty() && !model.takes_images() {
                return Ok(ToolOutput::error(format!(
                    "{} cannot read images, so view_image is not available with it",
                    model.slug
                )));
            }
        }
        let path = turn.resolve(&args.path);
        let size = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => {
                return Ok(ToolOutput::error(format!(
                    "{} is not a file",
                    path.display()
                )))
            }
            Err(e) => {
                return Ok(ToolOutput::error(format!(
                    "unable to locate image at `{}`: {e}",
                    path.display()
                )))
            }
        };
        if size > MAX_IMAGE_BYTES {
            return Ok(ToolOutput::error(format!(
                "{} is {size} bytes; images over {MAX_IMAGE_BYTES} bytes are not sent",
                path.display()
            )));
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                return Ok(ToolOutput::error(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let Some(mime) = image_type(&bytes) else {
            return Ok(ToolOutput::error(format!(
                "{} is not a PNG, JPEG, GIF or WebP image",
                path.display()
            )));
        };
        let url = format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        let mut out = ToolOutput::text("");
        out.images.push(url);
        Ok(out)
    }
}

/// The image type from the file's first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}
