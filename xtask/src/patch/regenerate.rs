//! `cargo xtask patch regenerate`: rewrite the series from a lean4 tree edited by hand.
//!
//! Moving to a new Lean tag: `patch --check` says which patches drifted; `patch --draft` writes a
//! copy with everything that still applies; a maintainer redoes the drifted changes by hand in
//! that copy; this command then derives the series again from (pristine tree, edited tree):
//!
//! 1. for every file the series edits, a line diff (Myers) of pristine vs edited gives hunks;
//! 2. each hunk becomes one edit: the changed text is trimmed to the characters that differ, then
//!    widened (to whole identifiers, then whole lines, then one context line at a time) until its
//!    text occurs exactly once in the pristine file; that text is the anchor, its edited
//!    counterpart the replacement; hunks whose widened anchors would overlap are merged;
//! 3. each new edit goes to the patch whose old edit in the same file has the most similar
//!    replacement; a patch left without edits, or a hunk no patch claims, is an error;
//! 4. the regenerated series is applied to the pristine tree in memory, and every edited file
//!    must come out byte-identical to the maintainer's tree, or nothing is written.
//!
//! Headers (what, why, ...) and post-conditions are kept; `--written-against` updates the record
//! of which upstream commit the anchors now match.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};

use super::{
    engine::{self, Status, Tree},
    series::{self, Edit, Patch},
};
use crate::{paths, runner, util};

#[derive(clap::Args)]
pub struct Args {
    /// The pristine lean4 tree of the (new) tag; only read
    #[arg(long, value_name = "DIR")]
    lean_src: PathBuf,
    /// The same tree with every patch's change made by hand (e.g. a finished `patch --draft` copy)
    #[arg(long, value_name = "DIR")]
    edited: PathBuf,
    /// The series to regenerate [default: <repo>/patches]
    #[arg(long, value_name = "DIR")]
    series: Option<PathBuf>,
    /// Write the regenerated files here instead of over --series
    #[arg(long, value_name = "DIR")]
    out_series: Option<PathBuf>,
    /// New `written-against` text for every patch, e.g. "leanprover/lean4 v4.29.0 (commit ...)"
    #[arg(long, value_name = "TEXT")]
    written_against: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let series_dir = paths::absolute(&args.series.unwrap_or_else(series::default_series_dir));
    let out_dir = args
        .out_series
        .map(|p| paths::absolute(&p))
        .unwrap_or_else(|| series_dir.clone());
    let old = series::load_series(&series_dir)?;
    let new = regenerate_series(
        &paths::absolute(&args.lean_src),
        &paths::absolute(&args.edited),
        &old,
        args.written_against.as_deref(),
    )?;
    fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    for (o, n) in old.iter().zip(&new) {
        let path = out_dir.join(format!("{}.toml", n.name));
        let changed = util::write_if_changed(&path, series::render(n).as_bytes())?;
        let what = if !changed {
            "unchanged".to_string()
        } else if o.edits == n.edits {
            "header updated".to_string()
        } else {
            format!("{} edit(s), was {}", n.edits.len(), o.edits.len())
        };
        println!("{:<40} {what}", n.name);
    }
    if args.written_against.is_none() {
        runner::warn("`written-against` was kept as it was: pass --written-against to record the new upstream commit");
    }
    runner::note(
        "next: cargo xtask patch --check --lean-src <pristine tree>, then update docs/patches.md",
    );
    Ok(())
}

/// One changed region: lines `a0..a1` of the pristine file became lines `b0..b1` of the edited one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hunk {
    a0: usize,
    a1: usize,
    b0: usize,
    b1: usize,
}

/// A derived edit, with the byte ranges it covers in the pristine file and the core that changed.
struct Derived {
    file: String,
    /// Byte range of the anchor in the pristine file.
    span: (usize, usize),
    anchor: String,
    replace: String,
    /// The edited text of the changed core (used to find the owning patch).
    core: String,
}

pub fn regenerate_series(
    pristine: &Path,
    edited: &Path,
    old: &[Patch],
    written_against: Option<&str>,
) -> Result<Vec<Patch>> {
    ensure!(
        fs::canonicalize(pristine).ok() != fs::canonicalize(edited).ok(),
        "--lean-src and --edited are the same directory"
    );
    // Files the series edits first (in series order), then every other file of the build copy:
    // a change in a file no patch touches must not go unnoticed.
    let mut files: Vec<String> = Vec::new();
    for p in old {
        for e in &p.edits {
            if !files.contains(&e.file) {
                files.push(e.file.clone());
            }
        }
    }
    for f in super::tree::build_files(pristine)? {
        if !files.contains(&f) && edited.join(&f).is_file() {
            files.push(f);
        }
    }
    // (patch index, edit) pairs, collected per patch.
    let mut new_edits: Vec<Vec<(usize, usize, Edit)>> = vec![Vec::new(); old.len()];
    for (file_order, file) in files.iter().enumerate() {
        let a = read_text(&pristine.join(file))?;
        let b = read_text(&edited.join(file))?;
        if a == b {
            continue;
        }
        for d in derive_edits(file, &a, &b)? {
            let (pi, ei) = owner(old, file, &d).with_context(|| {
                format!(
                    "{file}: a change at byte {} of the pristine file belongs to no patch:\n{}\n  \
                     fix: add an [[edit]] for this file to the patch it belongs to, or undo the change",
                    d.span.0,
                    engine::indent(&d.replace)
                )
            })?;
            let note = old[pi].edits[ei].note.clone();
            new_edits[pi].push((
                file_order,
                d.span.0,
                Edit {
                    file: d.file,
                    note,
                    anchor: d.anchor,
                    replace: d.replace,
                },
            ));
        }
    }
    let mut new = Vec::with_capacity(old.len());
    for (p, mut edits) in old.iter().zip(new_edits) {
        ensure!(
            !edits.is_empty(),
            "patch {}: none of its changes is in the edited tree\n  \
             fix: if upstream made it unnecessary, delete {} and say so in docs/patches.md; \
             otherwise redo its change in the edited tree",
            p.name,
            p.path.display()
        );
        edits.sort_by_key(|(f, at, _)| (*f, *at));
        // An edit that shares its note with the previous one keeps the note only once.
        let mut out: Vec<Edit> = Vec::new();
        for (_, _, mut e) in edits {
            if out
                .last()
                .is_some_and(|prev| prev.note.is_some() && prev.note == e.note)
            {
                e.note = None;
            }
            out.push(e);
        }
        let mut header = p.header.clone();
        if let Some(w) = written_against {
            header.written_against = format!("{}\n", w.trim_end());
        }
        new.push(Patch {
            name: p.name.clone(),
            path: p.path.clone(),
            header,
            edits: out,
            checks: p.checks.clone(),
        });
    }
    verify_reproduces(pristine, edited, &files, &new)?;
    Ok(new)
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The regenerated series must turn the pristine files into exactly the edited ones.
fn verify_reproduces(
    pristine: &Path,
    edited: &Path,
    files: &[String],
    series: &[Patch],
) -> Result<()> {
    let mut tree = Tree::new(pristine);
    for p in series {
        match engine::apply_patch(&mut tree, p)? {
            Status::Applies | Status::AlreadyApplied => {}
            Status::Drifted(problems) => bail!(
                "the regenerated series does not apply to the pristine tree:\n{}  \
                 fix: edits of different patches overlap; merge those patches or separate the changes",
                engine::describe_drift(p, &problems)
            ),
        }
    }
    for f in files {
        let want = read_text(&edited.join(f))?;
        let got = tree.read(f)?.unwrap_or_default().to_string();
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .map_or(got.lines().count().min(want.lines().count()) + 1, |i| i + 1);
            bail!(
                "the regenerated series does not reproduce {f} of the edited tree (first difference at line {line})\n  \
                 fix: edits of different patches overlap; merge those patches or separate the changes"
            );
        }
    }
    Ok(())
}

/// The old edit (patch index, edit index) whose replacement looks most like this change.
fn owner(old: &[Patch], file: &str, d: &Derived) -> Option<(usize, usize)> {
    let mut best: Option<((usize, usize), f64)> = None;
    for (pi, p) in old.iter().enumerate() {
        for (ei, e) in p.edits.iter().enumerate() {
            if e.file != file {
                continue;
            }
            let score = similarity(&e.replace, &d.replace).max(similarity(&e.replace, &d.core));
            if best.is_none_or(|(_, b)| score > b) {
                best = Some(((pi, ei), score));
            }
        }
    }
    best.filter(|(_, s)| *s >= 0.2).map(|(who, _)| who)
}

/// How alike two lines are, ignoring all whitespace (the Dice coefficient of their bigrams).
fn similarity(a: &str, b: &str) -> f64 {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let (x, y) = (squeeze(a), squeeze(b));
    engine::dice(&engine::bigrams(&x), &engine::bigrams(&y), a, b)
}

/// Every change between `a` (pristine) and `b` (edited) as a minimal, unique-anchored edit.
fn derive_edits(file: &str, a: &str, b: &str) -> Result<Vec<Derived>> {
    let a_lines: Vec<&str> = a.split_inclusive('\n').collect();
    let b_lines: Vec<&str> = b.split_inclusive('\n').collect();
    let a_off = offsets(&a_lines);
    let b_off = offsets(&b_lines);
    let mut hunks = diff_lines(&a_lines, &b_lines);
    loop {
        let derived: Vec<Derived> = hunks
            .iter()
            .map(|h| derive_one(file, a, b, &a_off, &b_off, *h))
            .collect::<Result<_>>()?;
        // Merge neighbours whose anchors would overlap or touch: edits must be independent.
        let mut merged = false;
        let mut next: Vec<Hunk> = Vec::new();
        for (i, h) in hunks.iter().enumerate() {
            if let Some(last) = next.last_mut() {
                let prev = &derived[i - 1];
                if derived[i].span.0 <= prev.span.1 {
                    last.a1 = h.a1;
                    last.b1 = h.b1;
                    merged = true;
                    continue;
                }
            }
            next.push(*h);
        }
        if !merged {
            return Ok(derived);
        }
        hunks = next;
    }
}

/// The byte offset of each line's start, and of the end.
fn offsets(lines: &[&str]) -> Vec<usize> {
    let ends = lines.iter().scan(0, |at, l| {
        *at += l.len();
        Some(*at)
    });
    std::iter::once(0).chain(ends).collect()
}

fn derive_one(
    file: &str,
    a: &str,
    b: &str,
    a_off: &[usize],
    b_off: &[usize],
    h: Hunk,
) -> Result<Derived> {
    let (pa, pb) = (a_off[h.a0], a_off[h.a1]);
    let (ea, eb) = (b_off[h.b0], b_off[h.b1]);
    // Trim the characters both sides share at the start and end of the hunk.
    let (old, new) = (&a.as_bytes()[pa..pb], &b.as_bytes()[ea..eb]);
    let mut pre = old.iter().zip(new).take_while(|(x, y)| x == y).count();
    let max_suf = old.len().min(new.len()) - pre;
    let mut suf = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suf)
        .take_while(|(x, y)| x == y)
        .count();
    while !a.is_char_boundary(pa + pre) || !b.is_char_boundary(ea + pre) {
        pre -= 1;
    }
    while !a.is_char_boundary(pb - suf) || !b.is_char_boundary(eb - suf) {
        suf -= 1;
    }
    let (mut s, mut e) = (pa + pre, pb - suf);
    let core_new = (ea + pre, eb - suf);
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let ab = a.as_bytes();
    // Whole identifiers: never anchor on half a name.
    while s > 0 && ident(ab[s - 1]) && (s < e && ident(ab[s]) || s == e) {
        s -= 1;
    }
    while e < ab.len() && ident(ab[e]) && e > s && ident(ab[e - 1]) {
        e += 1;
    }
    // Widen until the anchor is unique: whole lines, then one context line at a time.
    if s == e || count(a, &a[s..e]) != 1 {
        s = a[..s].rfind('\n').map_or(0, |i| i + 1);
        if e > s && !a[..e].ends_with('\n') {
            e = a[e..].find('\n').map_or(a.len(), |i| e + i + 1);
        }
        let mut up = true;
        while s == e || count(a, &a[s..e]) != 1 {
            let can_up = s > 0;
            let can_down = e < a.len();
            if !can_up && !can_down {
                bail!("{file}: no unique anchor exists for the change at byte {s} (the file repeats itself)");
            }
            if (up && can_up) || !can_down {
                s = a[..s - 1].rfind('\n').map_or(0, |i| i + 1);
            } else {
                e = a[e..].find('\n').map_or(a.len(), |i| e + i + 1);
            }
            up = !up;
        }
    }
    let (cs, ce) = (pa + pre, pb - suf);
    let (s, e) = (s.min(cs), e.max(ce));
    let replace = format!("{}{}{}", &a[s..cs], &b[core_new.0..core_new.1], &a[ce..e]);
    Ok(Derived {
        file: file.to_string(),
        span: (s, e),
        anchor: a[s..e].to_string(),
        replace,
        core: b[core_new.0..core_new.1].to_string(),
    })
}

fn count(hay: &str, needle: &str) -> usize {
    if needle.is_empty() {
        return 0;
    }
    hay.match_indices(needle).count()
}

/// Myers' O(ND) line diff, after trimming the common head and tail. Returns the changed regions.
fn diff_lines(a: &[&str], b: &[&str]) -> Vec<Hunk> {
    let mut pre = 0;
    while pre < a.len() && pre < b.len() && a[pre] == b[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < a.len() - pre && suf < b.len() - pre && a[a.len() - 1 - suf] == b[b.len() - 1 - suf]
    {
        suf += 1;
    }
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let pairs = myers_matches(am, bm);
    // Turn the matched pairs into the gaps between them.
    let mut hunks = Vec::new();
    let (mut x, mut y) = (0, 0);
    for (mx, my) in pairs
        .into_iter()
        .chain(std::iter::once((am.len(), bm.len())))
    {
        if mx > x || my > y {
            hunks.push(Hunk {
                a0: pre + x,
                a1: pre + mx,
                b0: pre + y,
                b1: pre + my,
            });
        }
        x = mx + 1;
        y = my + 1;
    }
    hunks
}

/// The (i, j) pairs of equal lines on a shortest edit script, in order.
fn myers_matches(a: &[&str], b: &[&str]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let off = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    'outer: for d in 0..=max as isize {
        trace.push(v.clone());
        let mut k = -d;
        while k <= d {
            let idx = (k + off) as usize;
            let mut x = if k == -d || (k != d && v[idx - 1] < v[idx + 1]) {
                v[idx + 1]
            } else {
                v[idx - 1] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx] = x;
            if x >= n && y >= m {
                trace.push(v.clone());
                break 'outer;
            }
            k += 2;
        }
    }
    // Walk back through the recorded frontiers.
    let mut pairs = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (1..trace.len() - 1).rev() {
        let v = &trace[d];
        let d = d as isize;
        let k = x - y;
        let prev_k = if k == -d || (k != d && v[(k - 1 + off) as usize] < v[(k + 1 + off) as usize])
        {
            k + 1
        } else {
            k - 1
        };
        let prev_x = v[(prev_k + off) as usize];
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            x -= 1;
            y -= 1;
            pairs.push((x as usize, y as usize));
        }
        x = prev_x;
        y = prev_y;
    }
    while x > 0 && y > 0 {
        x -= 1;
        y -= 1;
        pairs.push((x as usize, y as usize));
    }
    pairs.reverse();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<&str> {
        s.split_inclusive('\n').collect()
    }

    fn hunk(a0: usize, a1: usize, b0: usize, b1: usize) -> Hunk {
        Hunk { a0, a1, b0, b1 }
    }

    #[test]
    fn myers_finds_the_changed_regions() {
        let a = "a\nb\nc\nd\ne\n";
        let b = "a\nB\nc\nd\nx\ne\n";
        let h = diff_lines(&lines(a), &lines(b));
        assert_eq!(h, vec![hunk(1, 2, 1, 2), hunk(4, 4, 4, 5)]);
        assert!(diff_lines(&lines(a), &lines(a)).is_empty());
        let h = diff_lines(&lines(""), &lines("x\n"));
        assert_eq!(h, vec![hunk(0, 0, 0, 1)]);
    }

    #[test]
    fn derived_anchors_are_minimal_and_unique() {
        let a = "struct h { unsigned operator()(int x) const; };\nstruct g { unsigned operator()(int x) const; };\nint y;\n";
        let b = "struct h { std::size_t operator()(int x) const; };\nstruct g { unsigned operator()(int x) const; };\nint y;\n";
        let d = derive_edits("f.h", a, b).unwrap();
        assert_eq!(d.len(), 1);
        // `unsigned` alone is not unique, so the whole line is the anchor.
        assert_eq!(
            d[0].anchor,
            "struct h { unsigned operator()(int x) const; };\n"
        );
        assert_eq!(
            d[0].replace,
            "struct h { std::size_t operator()(int x) const; };\n"
        );
        // A pure insertion is anchored on the line before it.
        let a = "one\ntwo\nthree\n";
        let b = "one\ntwo\ninserted\nthree\n";
        let d = derive_edits("f", a, b).unwrap();
        assert_eq!(d[0].anchor, "two\n");
        assert_eq!(d[0].replace, "two\ninserted\n");
        // A unique word is enough.
        let d = derive_edits(
            "f",
            "int foo(void);\nint bar;\n",
            "int foo(int);\nint bar;\n",
        )
        .unwrap();
        assert_eq!(d[0].anchor, "void");
        assert_eq!(d[0].replace, "int");
    }
}
