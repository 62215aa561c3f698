//! The stable driver's mutations: without a coverage-guided engine (libFuzzer needs a
//! nightly compiler for its instrumentation), inputs are grown from the corpus by the
//! classic blind mutations, with tokens of the formats under test.

/// Inputs grow no larger than this (the parsers' own limits are far above it).
pub const MAX_LEN: usize = 64 * 1024;

/// Pieces of the formats under test, inserted whole.
const TOKENS: &[&[u8]] = &[
    b"data: ",
    b"\n\n",
    b"\r\n",
    b"\r",
    b"\"type\":",
    b"\"response.completed\"",
    b"\"response.output_text.delta\"",
    b"\"response.output_item.done\"",
    b"\"response.failed\"",
    b"\"error\"",
    b"\"status\":",
    b"\"index\":",
    b"\"tool_calls\":",
    b"\"choices\":",
    b"\"delta\":",
    b"[DONE]",
    b"null",
    b"true",
    b"{}",
    b"[]",
    b"\"\"",
    b"0",
    b"-1",
    b"4294967295",
    b"18446744073709551615",
    b"-9223372036854775808",
    b"1e309",
    b"\"method\":",
    b"\"id\":",
    b"\"params\":",
    b"*** Begin Patch\n",
    b"*** End Patch",
    b"*** Add File: ",
    b"*** Update File: ",
    b"*** Delete File: ",
    b"*** Move to: ",
    b"*** End of File\n",
    b"@@",
    b"@@ ",
    b"<<'EOF'\n",
    b"[mcp_servers.",
    b"[[",
    b"]]",
    b" = ",
    b"\"\"\"",
    b"'''",
    b"# managed by talaria \xe2\x80\x94 `talaria codex-runtime migrate` regenerates this section\n",
    b"# end talaria managed section\n",
    b"\xe2\x80\x94",
    b"\xc3\xa9",
    b"\xff",
    b"\0",
];

/// A new input from `seed`, with `donor` (another corpus entry) for splices.
pub fn mutate(rng: &mut fastrand::Rng, seed: &[u8], donor: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..rng.usize(1..=4) {
        mutate_once(rng, &mut data, donor);
    }
    data.truncate(MAX_LEN);
    data
}

fn mutate_once(rng: &mut fastrand::Rng, data: &mut Vec<u8>, donor: &[u8]) {
    let at = |rng: &mut fastrand::Rng, data: &Vec<u8>| rng.usize(0..=data.len());
    match rng.u8(0..8) {
        // Flip a bit.
        0 if !data.is_empty() => {
            let i = rng.usize(0..data.len());
            data[i] ^= 1 << rng.u8(0..8);
        }
        // Replace a byte.
        1 if !data.is_empty() => {
            let i = rng.usize(0..data.len());
            data[i] = rng.u8(..);
        }
        // Delete a range.
        2 if !data.is_empty() => {
            let start = rng.usize(0..data.len());
            let end = rng.usize(start..=data.len().min(start + 64));
            data.drain(start..end);
        }
        // Duplicate a range.
        3 if !data.is_empty() => {
            let start = rng.usize(0..data.len());
            let end = rng.usize(start..=data.len().min(start + 256));
            let piece = data[start..end].to_vec();
            let i = at(rng, data);
            data.splice(i..i, piece);
        }
        // Splice in a piece of another input.
        4 if !donor.is_empty() => {
            let start = rng.usize(0..donor.len());
            let end = rng.usize(start..=donor.len());
            let i = at(rng, data);
            data.splice(i..i, donor[start..end].iter().copied());
        }
        // Cut the end off.
        5 if !data.is_empty() => {
            let n = rng.usize(0..data.len());
            data.truncate(n);
        }
        // Insert random bytes.
        6 => {
            let piece: Vec<u8> = (0..rng.usize(1..8)).map(|_| rng.u8(..)).collect();
            let i = at(rng, data);
            data.splice(i..i, piece);
        }
        // Insert a token of the formats.
        _ => {
            let token = TOKENS[rng.usize(0..TOKENS.len())];
            let i = at(rng, data);
            data.splice(i..i, token.iter().copied());
        }
    }
}
