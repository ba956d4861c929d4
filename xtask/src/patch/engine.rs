//! Applying and checking the series, strictly.
//!
//! Every edit must find its anchor exactly once. Zero or several matches stop the run with the
//! patch name, the file, the expected text and the closest text found. There is no fuzz, no
//! offset search, no "hunk applied with offset": upstream text that moved is a decision for a
//! person, made with `cargo xtask patch regenerate`.
//!
//! Work happens on a [`Tree`]: the source directory read-only, with every change kept in memory.
//! Nothing is written until the whole series has applied and every post-condition holds.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use super::series::{Check, Edit, Patch};

/// A lean4 source tree, read-only on disk, with in-memory changes on top.
pub struct Tree {
    root: PathBuf,
    files: BTreeMap<String, String>,
    changed: BTreeMap<String, ()>,
}

impl Tree {
    pub fn new(root: &Path) -> Tree {
        Tree {
            root: root.to_path_buf(),
            files: BTreeMap::new(),
            changed: BTreeMap::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current text of `file`, or `None` when the source has no such file.
    pub fn read(&mut self, file: &str) -> Result<Option<&str>> {
        if !self.files.contains_key(file) {
            let path = self.root.join(file);
            match fs::read(&path) {
                Ok(bytes) => {
                    let text = String::from_utf8(bytes).with_context(|| {
                        format!(
                            "{} is not UTF-8 text; patches only edit text files",
                            path.display()
                        )
                    })?;
                    self.files.insert(file.to_string(), text);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        }
        Ok(self.files.get(file).map(String::as_str))
    }

    fn write(&mut self, file: &str, text: String) {
        self.files.insert(file.to_string(), text);
        self.changed.insert(file.to_string(), ());
    }

    /// The files changed in memory, with their new text.
    pub fn changed_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.changed
            .keys()
            .map(|f| (f.as_str(), self.files[f].as_str()))
    }
}

/// What `--check` says about one patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every anchor is found exactly once and no replacement is present yet.
    Applies,
    /// Every replacement is present exactly once (the tree was patched already).
    AlreadyApplied,
    /// Anything else; the problems say exactly what.
    Drifted(Vec<Problem>),
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Applies => "applies",
            Status::AlreadyApplied => "already applied",
            Status::Drifted(_) => "drifted",
        }
    }
}

/// One precise reason why a patch does not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based edit number, or `None` for a post-condition or a missing file.
    pub edit: Option<usize>,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    FileMissing,
    /// The anchor was not found; the closest text in the file is given when there is one.
    AnchorNotFound {
        expected: String,
        closest: Option<Closest>,
    },
    /// The anchor occurs more than once (1-based line numbers of each occurrence).
    AnchorAmbiguous {
        expected: String,
        lines: Vec<usize>,
    },
    /// Some edits of this patch are applied and some are not.
    PartiallyApplied {
        applied: Vec<usize>,
        pending: Vec<usize>,
    },
    /// A post-condition failed after the patch was applied.
    CheckFailed {
        what: String,
    },
}

/// The most similar window of lines in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closest {
    /// 1-based first line.
    pub line: usize,
    /// Similarity in percent (bigram Dice, averaged over the lines).
    pub percent: u32,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EditState {
    Applies,
    Applied,
}

/// Classifies and, when it applies, applies one patch to `tree`. On `Drifted` nothing changes.
pub fn apply_patch(tree: &mut Tree, patch: &Patch) -> Result<Status> {
    // Work on a scratch copy of the touched files, so a drifted patch leaves no half edit.
    let mut scratch: BTreeMap<String, String> = BTreeMap::new();
    let mut states = Vec::with_capacity(patch.edits.len());
    let mut problems = Vec::new();
    for (i, edit) in patch.edits.iter().enumerate() {
        let n = i + 1;
        if !scratch.contains_key(&edit.file) {
            match tree.read(&edit.file)? {
                Some(text) => {
                    scratch.insert(edit.file.clone(), text.to_string());
                }
                None => {
                    problems.push(Problem {
                        file: edit.file.clone(),
                        edit: Some(n),
                        kind: ProblemKind::FileMissing,
                    });
                    continue;
                }
            }
        }
        let text = scratch.get_mut(&edit.file).unwrap();
        match classify_edit(text, edit) {
            Ok(EditState::Applies) => {
                *text = text.replacen(&edit.anchor, &edit.replace, 1);
                states.push((n, EditState::Applies));
            }
            Ok(EditState::Applied) => states.push((n, EditState::Applied)),
            Err(kind) => problems.push(Problem {
                file: edit.file.clone(),
                edit: Some(n),
                kind,
            }),
        }
    }
    if problems.is_empty() {
        let (applied, pending): (Vec<_>, Vec<_>) =
            states.iter().partition(|(_, s)| *s == EditState::Applied);
        let numbers = |v: Vec<&(usize, _)>| v.iter().map(|(n, _)| *n).collect::<Vec<usize>>();
        let (applied, pending) = (numbers(applied), numbers(pending));
        if !applied.is_empty() && !pending.is_empty() {
            problems.push(Problem {
                file: patch.edits[applied[0] - 1].file.clone(),
                edit: None,
                kind: ProblemKind::PartiallyApplied { applied, pending },
            });
        }
    }
    if !problems.is_empty() {
        return Ok(Status::Drifted(problems));
    }
    // Post-conditions, on the patched text.
    for check in &patch.checks {
        let text = match scratch.get(&check.file) {
            Some(t) => Some(t.as_str()),
            None => tree.read(&check.file)?,
        };
        if let Some(kind) = failed_check(text, check) {
            problems.push(Problem {
                file: check.file.clone(),
                edit: None,
                kind,
            });
        }
    }
    if !problems.is_empty() {
        return Ok(Status::Drifted(problems));
    }
    let already = states.iter().all(|(_, s)| *s == EditState::Applied);
    if already {
        return Ok(Status::AlreadyApplied);
    }
    for (file, text) in scratch {
        tree.write(&file, text);
    }
    Ok(Status::Applies)
}

/// `Applies`: the anchor occurs exactly once and the replacement does not occur (beyond the copies
/// of it that the anchor itself contains). `Applied`: the replacement occurs exactly once and every
/// anchor occurrence lies inside it (an insertion keeps its anchor).
fn classify_edit(text: &str, edit: &Edit) -> std::result::Result<EditState, ProblemKind> {
    let anchors = find_all(text, &edit.anchor);
    let replacements = find_all(text, &edit.replace);
    let anchor_in_replacement = count(&edit.replace, &edit.anchor);
    let replacement_in_anchor = count(&edit.anchor, &edit.replace);
    if replacements.len() == 1 && anchors.len() == anchor_in_replacement {
        return Ok(EditState::Applied);
    }
    if anchors.len() == 1 && replacements.len() == replacement_in_anchor {
        return Ok(EditState::Applies);
    }
    if anchors.len() > 1 {
        return Err(ProblemKind::AnchorAmbiguous {
            expected: edit.anchor.clone(),
            lines: anchors.iter().map(|&at| line_of(text, at)).collect(),
        });
    }
    Err(ProblemKind::AnchorNotFound {
        expected: edit.anchor.clone(),
        closest: closest_text(text, &edit.anchor),
    })
}

fn failed_check(text: Option<&str>, check: &Check) -> Option<ProblemKind> {
    let Some(text) = text else {
        return Some(ProblemKind::CheckFailed {
            what: "the file does not exist".into(),
        });
    };
    if let Some(want) = &check.contains {
        if !text.contains(want.as_str()) {
            return Some(ProblemKind::CheckFailed {
                what: format!("must contain:\n{}", indent(want)),
            });
        }
    }
    if let Some(unwanted) = &check.absent {
        if let Some(at) = text.find(unwanted.as_str()) {
            return Some(ProblemKind::CheckFailed {
                what: format!(
                    "must not contain (found at line {}):\n{}",
                    line_of(text, at),
                    indent(unwanted)
                ),
            });
        }
    }
    None
}

fn find_all(hay: &str, needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    hay.match_indices(needle).map(|(i, _)| i).collect()
}

fn count(hay: &str, needle: &str) -> usize {
    find_all(hay, needle).len()
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The window of lines of `text` most similar to `needle` (same number of lines), by the mean
/// bigram Dice coefficient of corresponding lines. Cheap enough for whole lean4 files (the score
/// matrix is needle-lines x file-lines, each cell linear in the line length).
pub fn closest_text(text: &str, needle: &str) -> Option<Closest> {
    let needle_lines: Vec<&str> = needle.trim_end_matches('\n').split('\n').collect();
    let lines: Vec<&str> = text.split('\n').collect();
    let n = needle_lines.len();
    if lines.len() < n || n == 0 {
        return None;
    }
    let needle_grams: Vec<Vec<u32>> = needle_lines.iter().map(|l| bigrams(l)).collect();
    let line_grams: Vec<Vec<u32>> = lines.iter().map(|l| bigrams(l)).collect();
    let mut best: Option<(usize, f64)> = None;
    for start in 0..=(lines.len() - n) {
        let mut sum = 0.0;
        for (i, ng) in needle_grams.iter().enumerate() {
            sum += dice(
                ng,
                &line_grams[start + i],
                needle_lines[i],
                lines[start + i],
            );
        }
        let score = sum / n as f64;
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((start, score));
        }
    }
    let (start, score) = best?;
    if score < 0.25 {
        return None;
    }
    Some(Closest {
        line: start + 1,
        percent: (score * 100.0).round() as u32,
        text: lines[start..start + n].join("\n"),
    })
}

/// Sorted character bigrams of a line, ignoring leading and trailing whitespace.
pub(super) fn bigrams(line: &str) -> Vec<u32> {
    let chars: Vec<char> = line.trim().chars().collect();
    let mut grams: Vec<u32> = chars
        .windows(2)
        .map(|w| ((w[0] as u32) << 16) ^ (w[1] as u32 & 0xffff))
        .collect();
    grams.sort_unstable();
    grams
}

/// The Dice coefficient of two sorted bigram lists; lines without bigrams are alike only when
/// equal.
pub(super) fn dice(a: &[u32], b: &[u32], la: &str, lb: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if la.trim() == lb.trim() { 1.0 } else { 0.0 };
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f64 / (a.len() + b.len()) as f64
}

pub fn indent(text: &str) -> String {
    text.trim_end_matches('\n')
        .split('\n')
        .map(|l| format!("      | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The full, human-readable account of one drifted patch.
pub fn describe_drift(patch: &Patch, problems: &[Problem]) -> String {
    let mut out = String::new();
    for p in problems {
        let edit = match p.edit {
            Some(n) => format!(", edit {n}"),
            None => String::new(),
        };
        let note = p
            .edit
            .and_then(|n| patch.edits.get(n - 1))
            .and_then(|e| e.note.as_deref())
            .map(|n| format!(" ({})", n.trim()))
            .unwrap_or_default();
        let _ = write!(out, "  patch {}: {}{edit}{note}: ", patch.name, p.file);
        match &p.kind {
            ProblemKind::FileMissing => {
                out.push_str("the file does not exist in this lean4 tree\n")
            }
            ProblemKind::AnchorNotFound { expected, closest } => {
                let _ = writeln!(
                    out,
                    "the expected text was not found\n    expected:\n{}",
                    indent(expected)
                );
                match closest {
                    Some(c) => {
                        let _ = writeln!(
                            out,
                            "    closest text found (line {}, {}% similar):\n{}",
                            c.line,
                            c.percent,
                            indent(&c.text)
                        );
                    }
                    None => out.push_str("    nothing similar was found in the file\n"),
                }
            }
            ProblemKind::AnchorAmbiguous { expected, lines } => {
                let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                let _ = writeln!(
                    out,
                    "the expected text occurs {} times (lines {}); an anchor must be unique\n    expected:\n{}",
                    lines.len(),
                    lines.join(", "),
                    indent(expected)
                );
            }
            ProblemKind::PartiallyApplied { applied, pending } => {
                let _ = writeln!(
                    out,
                    "partially applied: edits {applied:?} are present, edits {pending:?} are not"
                );
            }
            ProblemKind::CheckFailed { what } => {
                let _ = writeln!(out, "post-condition failed: the file {what}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::series::Header;

    fn patch(edits: Vec<Edit>, checks: Vec<Check>) -> Patch {
        Patch {
            name: "020-test".into(),
            path: PathBuf::from("020-test.toml"),
            header: Header {
                what: "w".into(),
                why: "y".into(),
                obsolete_when: "o".into(),
                written_against: "a".into(),
            },
            edits,
            checks,
        }
    }

    fn edit(file: &str, anchor: &str, replace: &str) -> Edit {
        Edit {
            file: file.into(),
            note: None,
            anchor: anchor.into(),
            replace: replace.into(),
        }
    }

    /// The problems of a patch that must drift on `tree`.
    fn drift_of(tree: &mut Tree, p: &Patch) -> Vec<Problem> {
        match apply_patch(tree, p).unwrap() {
            Status::Drifted(problems) => problems,
            s => panic!("expected drift: {s:?}"),
        }
    }

    fn tree_with(name: &str, files: &[(&str, &str)]) -> Tree {
        let dir = crate::util::test_dir(name);
        for (f, t) in files {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, t).unwrap();
        }
        Tree::new(&dir)
    }

    #[test]
    fn replacement_and_insertion_apply_once_then_report_already_applied() {
        let mut tree = tree_with("engine-apply", &[("a.c", "int f() {\n    return 1;\n}\n")]);
        let p = patch(
            vec![
                edit("a.c", "    return 1;\n", "    return 2;\n"),
                // An insertion keeps its anchor inside the replacement.
                edit("a.c", "int f() {\n", "int f() {\n    // xlean: note\n"),
            ],
            vec![Check {
                file: "a.c".into(),
                contains: None,
                absent: Some("return 1;".into()),
            }],
        );
        assert_eq!(apply_patch(&mut tree, &p).unwrap(), Status::Applies);
        let text = tree.read("a.c").unwrap().unwrap().to_string();
        assert_eq!(text, "int f() {\n    // xlean: note\n    return 2;\n}\n");
        assert_eq!(apply_patch(&mut tree, &p).unwrap(), Status::AlreadyApplied);
        // The file on disk was never touched.
        assert_eq!(
            fs::read_to_string(tree.root().join("a.c")).unwrap(),
            "int f() {\n    return 1;\n}\n"
        );
    }

    #[test]
    fn ambiguous_missing_and_partial_are_drift_and_change_nothing() {
        let mut tree = tree_with(
            "engine-drift",
            &[("a.c", "x = 1;\nx = 1;\ny = 2;\n"), ("b.c", "z = 3;\n")],
        );
        let ambiguous = patch(vec![edit("a.c", "x = 1;\n", "x = 9;\n")], vec![]);
        assert!(matches!(
            &drift_of(&mut tree, &ambiguous)[0].kind,
            ProblemKind::AnchorAmbiguous { lines, .. } if lines == &vec![1, 2]
        ));
        let missing = patch(
            vec![
                edit("b.c", "z = 3;\n", "z = 4;\n"),
                edit("a.c", "y = 3;\n", "y = 4;\n"),
            ],
            vec![],
        );
        let p = drift_of(&mut tree, &missing);
        assert_eq!(p.len(), 1);
        match &p[0].kind {
            ProblemKind::AnchorNotFound {
                closest: Some(c), ..
            } => {
                assert_eq!(c.line, 3);
                assert_eq!(c.text, "y = 2;");
            }
            k => panic!("{k:?}"),
        }
        // The first edit of the drifted patch was not kept.
        assert_eq!(tree.read("b.c").unwrap().unwrap(), "z = 3;\n");
        assert_eq!(tree.changed_files().count(), 0);
        // Half-applied: one edit's replacement is present, the other's anchor too.
        let mut half = tree_with("engine-half", &[("a.c", "p = 2;\nq = 1;\n")]);
        let p = patch(
            vec![
                edit("a.c", "p = 1;\n", "p = 2;\n"),
                edit("a.c", "q = 1;\n", "q = 2;\n"),
            ],
            vec![],
        );
        assert!(matches!(
            drift_of(&mut half, &p)[0].kind,
            ProblemKind::PartiallyApplied { .. }
        ));
    }

    #[test]
    fn a_failed_post_condition_is_drift() {
        let mut tree = tree_with("engine-check", &[("a.c", "a;\nb;\n")]);
        let p = patch(
            vec![edit("a.c", "a;\n", "a2;\n")],
            vec![Check {
                file: "a.c".into(),
                contains: Some("never".into()),
                absent: None,
            }],
        );
        drift_of(&mut tree, &p);
        assert_eq!(tree.changed_files().count(), 0);
    }

    #[test]
    fn closest_text_finds_the_moved_line() {
        let file = "namespace lean {\nstruct name_hash_fn { uint64_t operator()(name const & n) const { return n.hash(); } };\nstruct other {};\n";
        let c = closest_text(
            file,
            "struct name_hash_fn { unsigned operator()(name const & n) const { return n.hash(); } };\n",
        )
        .unwrap();
        assert_eq!(c.line, 2);
        assert!(c.percent > 80, "{c:?}");
        assert!(closest_text(file, "completely unrelated zebra text\n").is_none());
    }
}
