//! The patch series on disk: `patches/NNN-name.toml`, one file per patch.
//!
//! The format is designed for strictness, not for `patch(1)`: a header that says what the patch
//! does, why, how to tell that upstream no longer needs it and which upstream text it was written
//! against; then a list of edits, each an exact `anchor` (the smallest distinctive upstream text)
//! and its `replace`ment; then optional post-conditions. Text values are TOML multi-line literal
//! strings, so C++ appears verbatim, without escapes. `render` writes the canonical form, which is
//! also what `cargo xtask patch regenerate` produces; a test keeps every committed file canonical.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

/// One patch file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The file stem, e.g. `010-task-promise-emulation`; also the order in the series.
    pub name: String,
    pub path: PathBuf,
    pub header: Header,
    pub edits: Vec<Edit>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Header {
    /// One line: what the patch changes.
    pub what: String,
    /// Why the wasm64 single-threaded build needs it.
    pub why: String,
    /// How to tell that upstream no longer needs it.
    pub obsolete_when: String,
    /// The upstream tag and commit the anchors were written against, and where the text was read.
    pub written_against: String,
}

/// Replace the only occurrence of `anchor` in `file` by `replace`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Path relative to the lean4 source root, with `/` separators.
    pub file: String,
    /// Optional: what this one edit does (shown in reports).
    #[serde(default)]
    pub note: Option<String>,
    pub anchor: String,
    pub replace: String,
}

/// A post-condition, checked after the patch is applied (and on an already-patched tree).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub file: String,
    /// Text that must occur in the file after the patch.
    #[serde(default)]
    pub contains: Option<String>,
    /// Text that must not occur in the file after the patch.
    #[serde(default)]
    pub absent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchFile {
    patch: Header,
    #[serde(default, rename = "edit")]
    edits: Vec<Edit>,
    #[serde(default, rename = "check")]
    checks: Vec<Check>,
}

/// The repository's series: `<repo>/patches`.
pub fn default_series_dir() -> PathBuf {
    crate::paths::project_root().join("patches")
}

/// Loads every `NNN-name.toml` in `dir`, in name order. Any other file (except `README*`) is an
/// error, so a misnamed patch can never be skipped silently.
pub fn load_series(dir: &Path) -> Result<Vec<Patch>> {
    let entries = fs::read_dir(dir)
        .with_context(|| format!("cannot read the patch series directory {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("README") || name.starts_with('.') {
            continue;
        }
        ensure!(
            is_patch_file_name(&name),
            "{}: not a patch file name (expected NNN-lowercase-name.toml, e.g. 010-task-emulation.toml)\n  \
             fix: rename it, or move it out of {}",
            path.display(),
            dir.display()
        );
        files.push(path);
    }
    files.sort();
    ensure!(
        !files.is_empty(),
        "{}: the patch series is empty",
        dir.display()
    );
    files.iter().map(|path| load_patch(path)).collect()
}

fn is_patch_file_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".toml") else {
        return false;
    };
    let bytes = stem.as_bytes();
    bytes.len() > 4
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && bytes[3] == b'-'
        && stem[4..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn load_patch(path: &Path) -> Result<Patch> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read patch file {}", path.display()))?;
    parse_patch(path, &text)
}

pub fn parse_patch(path: &Path, text: &str) -> Result<Patch> {
    let parsed: PatchFile = toml::from_str(text).with_context(|| {
        format!(
            "{} is not a valid patch file (see docs/patches.md)",
            path.display()
        )
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let patch = Patch {
        name,
        path: path.to_path_buf(),
        header: parsed.patch,
        edits: parsed.edits,
        checks: parsed.checks,
    };
    validate(&patch)?;
    Ok(patch)
}

fn validate(p: &Patch) -> Result<()> {
    let at = p.path.display();
    for (field, value) in [
        ("what", &p.header.what),
        ("why", &p.header.why),
        ("obsolete-when", &p.header.obsolete_when),
        ("written-against", &p.header.written_against),
    ] {
        ensure!(!value.trim().is_empty(), "{at}: [patch].{field} is empty");
    }
    ensure!(
        !p.header.what.contains('\n'),
        "{at}: [patch].what must be one line"
    );
    ensure!(
        !p.edits.is_empty(),
        "{at}: a patch needs at least one [[edit]]"
    );
    for (i, e) in p.edits.iter().enumerate() {
        let n = i + 1;
        check_rel_path(&e.file).with_context(|| format!("{at}: edit {n}"))?;
        ensure!(!e.anchor.is_empty(), "{at}: edit {n}: the anchor is empty");
        ensure!(
            !e.replace.is_empty(),
            "{at}: edit {n}: the replacement is empty (leave at least a comment that says what was removed and why)"
        );
        ensure!(
            e.anchor != e.replace,
            "{at}: edit {n}: the replacement equals the anchor"
        );
        ensure!(
            !e.anchor.contains('\r') && !e.replace.contains('\r'),
            "{at}: edit {n}: carriage returns are not allowed in anchors or replacements"
        );
    }
    for (i, c) in p.checks.iter().enumerate() {
        let n = i + 1;
        check_rel_path(&c.file).with_context(|| format!("{at}: check {n}"))?;
        match (&c.contains, &c.absent) {
            (Some(t), None) | (None, Some(t)) if !t.is_empty() => {}
            _ => bail!("{at}: check {n}: give exactly one non-empty `contains` or `absent`"),
        }
    }
    Ok(())
}

/// A path inside the lean4 tree: relative, `/`-separated, no `.`/`..` components.
pub fn check_rel_path(file: &str) -> Result<()> {
    ensure!(
        !file.is_empty()
            && !file.starts_with('/')
            && !file.contains('\\')
            && file
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."),
        "`{file}` is not a relative path inside the lean4 tree (use `/`, no `..`)"
    );
    Ok(())
}

/// The canonical text of a patch file.
pub fn render(p: &Patch) -> String {
    let mut out = String::new();
    out.push_str(
        "# xlean runtime patch for lean4: applied by `cargo xtask patch`; format and rules in docs/patches.md.\n",
    );
    out.push_str("[patch]\n");
    let h = &p.header;
    let _ = writeln!(out, "what = {}", toml_basic(&h.what));
    let texts = [("why", &h.why), ("obsolete-when", &h.obsolete_when)];
    for (key, text) in texts
        .into_iter()
        .chain([("written-against", &h.written_against)])
    {
        let _ = writeln!(out, "{key} = {}", toml_text(text));
    }
    for e in &p.edits {
        out.push_str("\n[[edit]]\n");
        let _ = writeln!(out, "file = {}", toml_basic(&e.file));
        if let Some(note) = &e.note {
            let _ = writeln!(out, "note = {}", toml_text(note));
        }
        let _ = writeln!(out, "anchor = {}", toml_text(&e.anchor));
        let _ = writeln!(out, "replace = {}", toml_text(&e.replace));
    }
    for c in &p.checks {
        out.push_str("\n[[check]]\n");
        let _ = writeln!(out, "file = {}", toml_basic(&c.file));
        if let Some(t) = &c.contains {
            let _ = writeln!(out, "contains = {}", toml_text(t));
        }
        if let Some(t) = &c.absent {
            let _ = writeln!(out, "absent = {}", toml_text(t));
        }
    }
    out
}

/// A one-line TOML basic string.
fn toml_basic(s: &str) -> String {
    format!("\"{}\"", toml_escaped(s, false))
}

/// Text as a TOML multi-line literal string (verbatim), or, when it cannot be one, as a
/// multi-line basic string with escapes. The newline after the opening quotes is not part of
/// the value, so `'''\nabc\n'''` is "abc\n" and `'''\nabc'''` is "abc".
fn toml_text(s: &str) -> String {
    let literal_ok = !s.contains("'''")
        && !s.ends_with('\'')
        && s.chars()
            .all(|c| c == '\n' || c == '\t' || !(c.is_control()));
    if literal_ok {
        return format!("'''\n{s}'''");
    }
    format!("\"\"\"\n{}\"\"\"", toml_escaped(s, true))
}

/// `s` escaped for a TOML basic string; a multi-line one keeps its newlines and tabs.
fn toml_escaped(s: &str, multi_line: bool) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\t' if multi_line => out.push(ch),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Patch {
        Patch {
            name: "010-sample".into(),
            path: PathBuf::from("010-sample.toml"),
            header: Header {
                what: "Makes a \"thing\" work".into(),
                why: "Because.\nTwo lines.\n".into(),
                obsolete_when: "When upstream says so.".into(),
                written_against: "leanprover/lean4 v4.28.0\n".into(),
            },
            edits: vec![
                Edit {
                    file: "src/a.cpp".into(),
                    note: Some("first".into()),
                    anchor: "    int x = 1;\n".into(),
                    replace: "    int x = 2; // it's ''' tricky\\ \"quoted\"\n".into(),
                },
                Edit {
                    file: "src/b.h".into(),
                    note: None,
                    anchor: "unsigned operator()".into(),
                    replace: "\nstd::size_t operator()'".into(),
                },
            ],
            checks: vec![Check {
                file: "src/a.cpp".into(),
                contains: None,
                absent: Some("int x = 1;".into()),
            }],
        }
    }

    #[test]
    fn render_then_parse_round_trips_every_text_shape() {
        let p = sample();
        let text = render(&p);
        let back = parse_patch(Path::new("010-sample.toml"), &text).unwrap();
        assert_eq!(back, p);
        // Rendering is canonical: a second round gives the same bytes.
        assert_eq!(render(&back), text);
    }

    #[test]
    fn unknown_fields_and_bad_paths_are_rejected() {
        let bad = "[patch]\nwhat = \"x\"\nwhy = \"y\"\nobsolete-when = \"z\"\nwritten-against = \"w\"\ncolour = 1\n";
        assert!(parse_patch(Path::new("010-x.toml"), bad).is_err());
        let mut p = sample();
        p.edits[0].file = "../escape.cpp".into();
        let err = parse_patch(Path::new("010-x.toml"), &render(&p)).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a relative path"),
            "{err:#}"
        );
    }

    #[test]
    fn patch_file_names_are_numbered() {
        assert!(is_patch_file_name("010-task-emulation.toml"));
        assert!(!is_patch_file_name("task-emulation.toml"));
        assert!(!is_patch_file_name("010_task.toml"));
        assert!(!is_patch_file_name("010-Task.toml"));
    }
}
