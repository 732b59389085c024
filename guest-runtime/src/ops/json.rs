//! `host.jsonDepth(text, limit)`: how deeply JSON text nests, for the
//! prelude's guard in front of QuickJS's recursive `JSON.parse`.

/// The deepest nesting of `[` and `{` in `text`, outside strings; it stops
/// counting once past `limit`. Malformed text is left to the parser.
pub fn json_depth(text: String, limit: u32) -> u32 {
    let mut depth: u32 = 0;
    let mut deepest: u32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > limit {
                        return deepest;
                    }
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
