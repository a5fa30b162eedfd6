//! Text made from records for people: label sets as `k=v` lists, a canonical form for
//! keys, and escaping so that text from a file cannot drive the reader's terminal.

use std::borrow::Cow;

use crate::record::{AttrValue, LabelSet};
use crate::value::{AttrRef, Labels};

/// `{key="string",key=200}`: how series are written for people (empty set: nothing).
pub fn labels_text(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| match v {
            AttrRef::Str(s) => format!("{k}={}", serde_json::to_string(s).unwrap_or_default()),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Canonical text of a label set: equal for equal sets whatever the key order.
pub fn canonical_text(labels: &LabelSet) -> String {
    let mut out = String::with_capacity(labels.len() * 32);
    for (k, v) in labels {
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        match v {
            AttrValue::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            AttrValue::Num(n) => out.push_str(n),
            AttrValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
        out.push(',');
    }
    out
}

/// Escapes control characters (C0, DEL, C1) so that untrusted text can never move the
/// cursor, change colours or start an escape sequence on the reader's terminal.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
