//! `cargo xtask patch`: our runtime patches, applied strictly to a copy of the lean4 source.
//!
//! - `cargo xtask patch --lean-src DIR [--out DIR]` copies the part of lean4 the wasm64 build
//!   compiles into `build/lean4-patched/` (default), applies `patches/*.toml` in order, generates
//!   `version.h`, `config.h` and `githash.h`, and renames the result into place only when all of
//!   that succeeded: a failed run leaves the previous good copy (or nothing) behind.
//! - `--check` reports per patch "applies", "already applied" or "drifted" without writing
//!   anything; the user's directory is only ever read.
//! - `cargo xtask patch regenerate` rewrites the series from a tree a maintainer edited by hand,
//!   so moving to a new Lean tag is a guided job (docs/patches.md, "Rebasing").

mod engine;
mod headers;
mod regenerate;
mod series;
pub mod tree;

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

pub use engine::Status;
pub use headers::PLATFORM_TARGET;
pub use series::{default_series_dir, load_series, Patch};

use crate::layout::Layout;
use crate::{paths, pins::Pins, runner, util};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where lean4 comes from (--lean-src DIR, --source, --mirror, --offline; else the network)
    #[command(flatten)]
    sources: crate::fetch::SourceOptions,
    /// Where the patched copy goes [default: <build>/lean4-patched]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Report per patch "applies", "already applied" or "drifted"; write nothing
    #[arg(long, conflicts_with_all = ["out", "draft"])]
    check: bool,
    /// Maintainers: apply what applies, skip what drifted, write the copy anyway for editing by
    /// hand before `patch regenerate`. The copy is marked incomplete; the build refuses it.
    #[arg(long)]
    draft: bool,
    /// The patch series [default: <repo>/patches]
    #[arg(long, value_name = "DIR")]
    series: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Maintainers: rewrite the series from a lean4 tree edited by hand (see docs/patches.md)
    Regenerate(regenerate::Args),
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    if let Some(Command::Regenerate(r)) = args.command {
        return regenerate::run(r);
    }
    let series_dir = paths::absolute(&args.series.unwrap_or_else(default_series_dir));
    // A local copy is read in place (never written); otherwise the pinned, verified archive.
    let pins = Pins::load()?;
    let fetched = crate::fetch::source_dir(&pins, "lean4", &args.sources, layout)?;
    let source = LeanSource::new(&fetched, &pins);
    let src = fetched.dir.clone();
    let series = load_series(&series_dir)?;
    if args.check {
        let report = check_lean_source(&src, &series)?;
        print_check_report(&src, &series, &report);
        let drifted = (report.iter())
            .filter(|(_, s)| matches!(s, Status::Drifted(_)))
            .count();
        ensure!(
            drifted == 0,
            "{drifted} of {} patches drifted from {}\n  \
             fix: docs/patches.md, \"Rebasing onto a new Lean tag\"",
            series.len(),
            src.display()
        );
        return Ok(());
    }
    let out = paths::absolute(&args.out.unwrap_or_else(|| layout.patched.clone()));
    let mode = if args.draft {
        Mode::Draft
    } else {
        Mode::Strict
    };
    let done = runner::timed("patch lean4 for wasm64", || {
        patch_lean_source_with(&source, &out, &series, mode)
    })?;
    runner::note(&format!(
        "{} patches applied ({} already present), headers for lean4 {} ({PLATFORM_TARGET}), githash {}",
        done.applied,
        done.already_applied,
        done.manifest.lean_version,
        done.manifest.githash
    ));
    if !done.manifest.complete {
        runner::warn(&format!(
            "DRAFT: skipped drifted patches {}; finish them by hand in {}, then run `cargo xtask patch regenerate`",
            done.manifest.skipped.join(", "),
            out.display()
        ));
    }
    println!("{}", out.display());
    Ok(())
}

/// The manifest written as `xlean-patch.json` at the root of the patched copy. The build reads it
/// to refuse an incomplete (draft) copy and to know what it was made from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// `false` for a `--draft` copy with skipped patches; never build from such a copy.
    pub complete: bool,
    pub lean_source: PathBuf,
    pub lean_version: String,
    pub githash: String,
    /// "pins.toml" or "git checkout".
    pub githash_from: String,
    pub platform_target: String,
    /// (patch name, sha256 of its file), in series order.
    pub series: Vec<(String, String)>,
    pub skipped: Vec<String>,
}

pub const MANIFEST: &str = "xlean-patch.json";

/// The result of patching.
#[derive(Debug)]
pub struct Patched {
    pub applied: usize,
    pub already_applied: usize,
    pub manifest: Manifest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Draft,
}

/// The lean4 tree to patch, with what `fetch` already knows of it.
pub struct LeanSource<'a> {
    /// Read-only: it may be the user's own checkout.
    pub dir: &'a Path,
    /// The commit fetch found (a checkout's HEAD, an archive's `git archive` commit).
    pub commit: Option<&'a str>,
    /// The pinned tag and commit, for a tree whose commit is unknown.
    pub pin: &'a crate::pins::Lean,
}

impl<'a> LeanSource<'a> {
    pub fn new(fetched: &'a crate::fetch::FetchedSource, pins: &'a Pins) -> LeanSource<'a> {
        LeanSource {
            dir: &fetched.dir,
            commit: fetched.commit(),
            pin: &pins.lean,
        }
    }
}

/// The build's entry point (the build stage calls it with the fetched source): copies the
/// wasm-relevant part of the lean4 tree at `src` to `out`, applies `series`, generates the
/// headers. Atomic: on any error `out` is left as it was.
pub fn patch_lean_source(src: &LeanSource, out: &Path, series: &[Patch]) -> Result<Patched> {
    patch_lean_source_with(src, out, series, Mode::Strict)
}

fn patch_lean_source_with(
    source: &LeanSource,
    out: &Path,
    series: &[Patch],
    mode: Mode,
) -> Result<Patched> {
    let src = source.dir;
    tree::check_lean_tree(src)?;
    check_edits_stay_in_copy(series)?;
    let mut work = engine::Tree::new(src);
    let (mut applied, mut already, mut skipped, mut drift) = (0, 0, Vec::new(), String::new());
    for patch in series {
        match engine::apply_patch(&mut work, patch)? {
            Status::Applies => applied += 1,
            Status::AlreadyApplied => already += 1,
            Status::Drifted(problems) => {
                drift.push_str(&engine::describe_drift(patch, &problems));
                skipped.push(patch.name.clone());
            }
        }
    }
    if !skipped.is_empty() && mode == Mode::Strict {
        bail!(
            "{} of {} patches do not apply to {}; nothing was written\n{drift}  \
             fix: if this is a new Lean tag, follow docs/patches.md (\"Rebasing onto a new Lean tag\");\n  \
             if it should be the pinned tag, the source is not the pinned release",
            skipped.len(),
            series.len(),
            src.display()
        );
    }
    if !drift.is_empty() {
        eprint!("{drift}");
    }

    let cmake = work
        .read("src/CMakeLists.txt")?
        .map(str::to_string)
        .context("src/CMakeLists.txt vanished")?;
    let version = headers::parse_cmake_version(&cmake)
        .with_context(|| format!("reading the version of {}", src.display()))?;
    let (githash, githash_from) = lean_commit(source, &version)?;
    let generated = headers::generate(
        &mut work,
        &headers::HeaderInputs {
            version: version.clone(),
            githash: githash.clone(),
        },
    )?;
    let manifest = Manifest {
        complete: skipped.is_empty(),
        lean_source: src.to_path_buf(),
        lean_version: version.string(),
        githash,
        githash_from: githash_from.into(),
        platform_target: PLATFORM_TARGET.into(),
        series: series
            .iter()
            .map(|p| Ok((p.name.clone(), util::sha256_file(&p.path)?)))
            .collect::<Result<_>>()?,
        skipped,
    };

    util::make_dir_atomically(out, |dir| {
        tree::copy_build_subset(src, dir)?;
        let headers = generated.iter().map(|(file, text)| (*file, text.as_str()));
        for (file, text) in work.changed_files().chain(headers) {
            util::write_atomic(&dir.join(file), text.as_bytes())?;
        }
        let json = serde_json::to_string_pretty(&manifest)? + "\n";
        util::write_atomic(&dir.join(MANIFEST), json.as_bytes())
    })
    .with_context(|| format!("writing the patched copy {}", out.display()))?;
    Ok(Patched {
        applied,
        already_applied: already,
        manifest,
    })
}

/// Reads the manifest of a patched copy and refuses a draft (the tests' check of a copy).
#[cfg_attr(not(test), allow(dead_code))]
pub fn read_complete_manifest(out: &Path) -> Result<Manifest> {
    let path = out.join(MANIFEST);
    let text = fs::read_to_string(&path).with_context(|| {
        format!("{} is not a patched lean4 copy (no {MANIFEST})\n  fix: cargo xtask patch --lean-src DIR", out.display())
    })?;
    let m: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))?;
    ensure!(
        m.complete,
        "{} is a --draft copy with skipped patches ({}); it must not be built\n  \
         fix: finish the rebase (docs/patches.md), then run `cargo xtask patch --lean-src DIR`",
        out.display(),
        m.skipped.join(", ")
    );
    Ok(m)
}

/// `--check`: the status of every patch, in order, against the tree at `src`. Patches that apply
/// are applied in memory so later patches are checked against the text they will really see.
pub fn check_lean_source(src: &Path, series: &[Patch]) -> Result<Vec<(String, Status)>> {
    tree::check_lean_tree(src)?;
    check_edits_stay_in_copy(series)?;
    let mut work = engine::Tree::new(src);
    let mut report = Vec::with_capacity(series.len());
    for patch in series {
        report.push((patch.name.clone(), engine::apply_patch(&mut work, patch)?));
    }
    Ok(report)
}

fn print_check_report(src: &Path, series: &[Patch], report: &[(String, Status)]) {
    runner::heading(&format!(
        "{} patches against {}",
        series.len(),
        src.display()
    ));
    for (name, status) in report {
        println!("{:<16} {name}", status.label());
    }
    for (patch, (_, status)) in series.iter().zip(report) {
        if let Status::Drifted(problems) = status {
            eprint!("{}", engine::describe_drift(patch, problems));
        }
    }
}

/// Every edited file must be part of the copy, or the edit would be lost.
fn check_edits_stay_in_copy(series: &[Patch]) -> Result<()> {
    for p in series {
        for e in &p.edits {
            let in_dir = tree::COPIED_DIRS
                .iter()
                .any(|d| e.file.starts_with(&format!("{d}/")));
            let top_level = e.file.starts_with("src/") && !e.file["src/".len()..].contains('/');
            ensure!(
                in_dir || top_level,
                "{}: edits {} which is not part of the wasm build copy ({})",
                p.path.display(),
                e.file,
                tree::COPIED_DIRS.join(", ")
            );
        }
    }
    Ok(())
}

/// The lean4 commit for `githash.h`: the one fetch found (a checkout's HEAD, or the commit
/// `git archive` wrote into the release archive), otherwise the pinned commit, which is only
/// right if the tree is the pinned release. With where it came from: "fetch" or "pins.toml".
fn lean_commit(src: &LeanSource, version: &headers::LeanVersion) -> Result<(String, &'static str)> {
    if let Some(commit) = src.commit {
        return Ok((commit.to_string(), "fetch"));
    }
    match version.tag() {
        Some(tag) if tag == src.pin.tag => Ok((src.pin.commit.clone(), "pins.toml")),
        other => bail!(
            "{} says it is lean4 {} but pins.toml pins {} and no commit is known for the tree \
             (it is neither a git checkout nor an archive made by `git archive`); githash.h \
             needs it\n  \
             fix: use the pinned release, or a git checkout of the version you want",
            src.dir.display(),
            other.unwrap_or_else(|| version.string()),
            src.pin.tag
        ),
    }
}

#[cfg(test)]
mod tests;
