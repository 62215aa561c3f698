//! What the HTTP transports read from the network.

use serde_json::Value;
use talaria_chat_completions::stream::{Assembler, ChunkError, Shown};
use talaria_chat_completions::wire::Chunk;
use talaria_responses::events::{Dispatch, Feed, ResponseBuilder};
use talaria_responses::ws::text_frame;
use talaria_transport_kit::classify::{
    classify, describe, short_reason, HttpError, Problem, Target,
};
use talaria_transport_kit::sse::SseParser;

/// A fixed clock, so a run is reproducible.
const NOW: u64 = 1_800_000_000;

/// The Codex backend's usage-window header prefix (what `openai-codex` configures).
fn rate_limit_headers() -> Vec<String> {
    vec!["x-codex".to_owned()]
}

/// Every event of a byte stream, as `read_sse` gets them: fed in `chunks`, then the end.
fn sse_events(chunks: &[&[u8]]) -> Vec<String> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(parser.feed(chunk));
    }
    events.extend(parser.finish());
    events
}

/// SSE framing. Property: where the network splits the stream does not matter.
pub fn sse(data: &[u8]) {
    let whole = sse_events(&[data]);
    let cut = data
        .first()
        .map_or(0, |b| usize::from(*b) % (data.len() + 1));
    let (a, b) = data.split_at(cut);
    assert_eq!(sse_events(&[a, b]), whole, "split at {cut}");
    if data.len() <= 512 {
        let singles: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(sse_events(&singles), whole, "one byte at a time");
    }
}

/// Every problem ends as a class, an action and a message for the user.
fn explain(problem: &Problem) {
    let verdict = classify(problem);
    let target = Target {
        url: "https://chatgpt.test/backend-api/codex/responses".into(),
        base: "https://chatgpt.test/backend-api/codex".into(),
        websocket_tried: true,
        retries: 2,
        endpoint: None,
        transport: "responses",
        has_websocket: true,
    };
    assert!(!describe(problem, verdict.class, &target).is_empty());
    let _ = short_reason(problem);
}

/// An HTTP error response: two bytes of status, `name: value` header lines up to a blank
/// line, then the body; also the body as a websocket error frame.
pub fn http_error(data: &[u8]) {
    let Some((status, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = u16::from_be_bytes(*status);
    let (head, body) = crate::split_at(rest, b"\n\n");
    let head = crate::text(head);
    let headers: Vec<(&str, &str)> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect();
    let lookup = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_owned())
    };
    let limits = rate_limit_headers();
    let error = HttpError::from_response(status, &lookup, body, NOW, &limits);
    assert_eq!(error.status, status);
    explain(&Problem::http(error));
    if let Ok(frame) = serde_json::from_slice::<Value>(body) {
        explain(&Problem::http(HttpError::from_ws_frame(
            &frame, NOW, &limits,
        )));
    }
}

/// What one Responses stream showed and how it ended.
#[derive(Default)]
struct Seen {
    text: String,
}

/// Reads Responses events to the end: the result, a problem, or neither (the stream
/// ended early). `next` gives each event to the transport's own handling.
fn responses(
    mut next: impl FnMut(&mut ResponseBuilder, &mut Feed<'_>) -> Option<Result<(), Problem>>,
) {
    let mut seen = Seen::default();
    let mut builder = ResponseBuilder::new();
    let ended = {
        let mut deltas = |d: Dispatch| match d {
            Dispatch::Text(t) => seen.text.push_str(&t),
            Dispatch::Reasoning(_) => {}
            other => panic!("{other:?} was handed over as a delta"),
        };
        let log = |_: &str| {};
        let mut feed = Feed {
            deltas: &mut deltas,
            log: &log,
        };
        next(&mut builder, &mut feed)
    };
    match ended {
        Some(Ok(())) => {
            let result = builder.finish(Some("gpt-test".into()), "sse");
            // Every item goes back out in the next request, so it must encode.
            for item in &result.output {
                let encoded = serde_json::to_value(item);
                assert!(encoded.is_ok(), "{item:?} does not encode");
            }
        }
        Some(Err(problem)) => explain(&problem),
        None => {}
    }
}

/// The Responses API over SSE: the bytes framed, each `data` parsed and handled.
pub fn responses_sse(data: &[u8]) {
    let events = sse_events(&[data]);
    responses(|builder, feed| events.iter().find_map(|data| feed.data(builder, data)));
}

/// The Responses API over a websocket: each line is one text frame.
pub fn responses_ws(data: &[u8]) {
    let text = crate::text(data);
    let limits = rate_limit_headers();
    responses(|builder, feed| {
        text.split('\n')
            .find_map(|frame| text_frame(frame, builder, feed, &limits))
    });
}

/// Chat Completions: an SSE stream of chunks, and the same bytes as a whole
/// (non-streamed) answer. Property: the text shown as it arrived is the result's text.
pub fn chat_sse(data: &[u8]) {
    let mut assembler = Assembler::new();
    let mut shown = String::new();
    let mut show = |s: Vec<Shown>| {
        for s in s {
            if let Shown::Text(t) = s {
                shown.push_str(&t);
            }
        }
    };
    for event in sse_events(&[data]) {
        match assembler.data(&event) {
            Ok(s) => show(s),
            Err(ChunkError::Malformed(_)) => {}
            Err(ChunkError::Failed(problem)) => {
                explain(&problem);
                return;
            }
        }
        if assembler.done {
            break;
        }
    }
    let _ = assembler.warning();
    let result = assembler.finish("sse");
    assert_eq!(result.text, shown);

    if let Ok(chunk) = serde_json::from_slice::<Chunk>(data) {
        let mut whole = Assembler::new();
        match whole.chunk(&chunk) {
            Ok(_) => {
                let _ = whole.finish("sse");
            }
            Err(problem) => explain(&problem),
        }
    }
}
