//! Server-sent events framing: bytes in, the `data` payload of each event out.
//!
//! The Responses API puts everything in the JSON of `data:` (its `type` field names the
//! event), so `event:`, `id:`, `retry:` and comment lines are dropped, as the Codex CLI
//! does.

/// Incremental SSE parser. Feed it chunks as they arrive; a chunk may end anywhere,
/// even inside a UTF-8 sequence or between `\r` and `\n`.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// `data` lines of the event being built.
    data: Vec<String>,
    /// The previous chunk ended with `\r`: a `\n` first in the next one belongs to it.
    after_cr: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes a chunk; returns the data of every event it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::replace(&mut self.after_cr, false);
            match byte {
                b'\n' if after_cr => {}
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    /// The stream ended: a last event without its blank line still counts (a server
    /// that closes right after `data: ...\n` has said everything it meant to).
    pub fn finish(&mut self) -> Option<String> {
        if !self.line.is_empty() {
            // A non-empty line never completes an event, so nothing is lost here.
            self.end_line(&mut Vec::new());
        }
        self.take_event()
    }

    fn end_line(&mut self, events: &mut Vec<String>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if let Some(event) = self.take_event() {
                events.push(event);
            }
            return;
        }
        let line = String::from_utf8_lossy(&line);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            self.data.push(value.to_owned());
        }
    }

    fn take_event(&mut self) -> Option<String> {
        if self.data.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.data).join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> Vec<String> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.feed(c));
        }
        out.extend(p.finish());
        out
    }

    #[test]
    fn events_end_at_a_blank_line_and_other_fields_are_ignored() {
        let text = b"event: response.created\nid: 1\nretry: 10\ndata: {\"type\":\"a\"}\n\n: keepalive\n\ndata: {\"type\":\"b\"}\n\n";
        assert_eq!(
            feed_all(&[text]),
            vec![r#"{"type":"a"}"#, r#"{"type":"b"}"#]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let text = b"data: {\"type\":\ndata:\"x\"}\n\n";
        assert_eq!(feed_all(&[text]), vec!["{\"type\":\n\"x\"}"]);
    }

    #[test]
    fn chunks_may_split_anything() {
        let text = "event: x\r\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"héllo\"}\r\n\r\ndata: {\"type\":\"b\"}\n\n";
        let bytes = text.as_bytes();
        let expected = feed_all(&[bytes]);
        assert_eq!(expected.len(), 2);
        assert!(expected[0].contains("héllo"));
        // Every split point, including inside 'é' and between \r and \n.
        for i in 0..bytes.len() {
            assert_eq!(
                feed_all(&[&bytes[..i], &bytes[i..]]),
                expected,
                "split at {i}"
            );
        }
        // One byte at a time.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(feed_all(&singles), expected);
    }

    #[test]
    fn comments_and_empty_events_produce_nothing() {
        assert!(feed_all(&[b": ping\n\n\n\nevent: noop\n\n"]).is_empty());
    }

    #[test]
    fn a_trailing_event_without_blank_line_is_kept_at_eof() {
        assert_eq!(
            feed_all(&[b"data: {\"type\":\"last\"}"]),
            vec![r#"{"type":"last"}"#]
        );
        assert_eq!(
            feed_all(&[b"data: {\"type\":\"last\"}\n"]),
            vec![r#"{"type":"last"}"#]
        );
    }

    #[test]
    fn data_without_space_and_field_without_colon() {
        assert_eq!(feed_all(&[b"data:x\ndata\n\n"]), vec!["x\n"]);
    }
}
