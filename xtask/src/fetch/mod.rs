//! `cargo xtask fetch`: the pinned upstream sources, from a local copy, the download cache, a
//! mirror folder or the network, hash-verified, extracted into the build directory.
//!
//! The library side is what the build calls: [`source_dir`] (or a [`Fetcher`] for several
//! sources) returns the directory to READ a source from, plus its provenance. A user's local copy
//! is returned as-is and is never written to; an archive is extracted under
//! `<build>/sources/<name>-<version>/`. Either way later stages treat the directory as read-only
//! and patch a copy of it. docs/sources.md explains it all for users.

pub mod artifact;
mod download;
mod extract;
mod git;
mod settings;
#[cfg(test)]
mod tests;

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use artifact::Candidate;
pub use download::Obtained;
use settings::Settings;

use crate::layout::Layout;
use crate::{
    paths,
    pins::{Lock, Pins, ResolvedSource},
    runner, util,
};

#[derive(clap::Args)]
pub struct Args {
    /// Sources to fetch [default: every source in pins.toml]
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    #[command(flatten)]
    sources: SourceOptions,
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let pins = Pins::load()?;
    let fetched = fetch_all(&pins, &args.names, &args.sources, &Places::standard(layout))?;
    eprintln!("sources (read-only; the build patches copies):");
    for f in &fetched {
        eprintln!("  {}", f.summary());
    }
    Ok(())
}

/// Where a source comes from, as set on the command line. Other commands take the same flags
/// with `#[command(flatten)] sources: fetch::SourceOptions`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SourceOptions {
    /// Use this lean4 checkout or unpacked release instead of downloading (read, never modified;
    /// same as --source lean4=DIR)
    #[arg(long, value_name = "DIR")]
    pub lean_src: Option<PathBuf>,
    /// Use a local copy of a source instead of downloading (read, never modified; repeatable),
    /// e.g. --source xeus=../xeus
    #[arg(long = "source", value_name = "NAME=DIR", value_parser = parse_local_source)]
    pub sources: Vec<LocalSource>,
    /// A folder of release archives named as in the download cache (<name>-<version>.tar.gz),
    /// searched before the network
    #[arg(long, value_name = "DIR", env = "XLEAN_MIRROR")]
    pub mirror: Option<PathBuf>,
    /// Never use the network: local copies, the download cache and mirrors only
    #[arg(long, env = "XLEAN_OFFLINE", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub offline: bool,
}

/// `--source NAME=DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSource {
    pub name: String,
    pub dir: PathBuf,
}

fn parse_local_source(s: &str) -> Result<LocalSource, String> {
    match s.split_once('=') {
        Some((name, dir)) if !name.trim().is_empty() && !dir.trim().is_empty() => Ok(LocalSource {
            name: name.trim().to_string(),
            dir: PathBuf::from(dir),
        }),
        _ => Err(format!(
            "expected NAME=DIR (e.g. xeus=../xeus), found `{s}`"
        )),
    }
}

/// Every file and folder fetching reads or writes. [`Places::standard`] is the real layout; tests
/// point every one of them into a scratch directory, so they never touch the real `pins.lock`,
/// the user's cache or config.
#[derive(Debug, Clone)]
pub struct Places {
    /// `pins.lock`: the sha256 of every archive.
    pub lock_file: PathBuf,
    /// The download cache, one file per artifact: `<cache>/downloads`.
    pub downloads: PathBuf,
    /// Extracted archives: `<build>/sources`.
    pub extractions: PathBuf,
    /// Step logs (curl): `<build>/logs`.
    pub logs: PathBuf,
    /// The clone's untracked config: `<repo>/xlean.local.toml`.
    pub repo_config: PathBuf,
    /// The machine's config, shared by every clone: `<cache>/local-sources.toml`.
    pub user_config: PathBuf,
    /// A folder of source trees named `<name>-<version>`: `XLEAN_SOURCE_TREES`.
    pub source_trees: Option<PathBuf>,
}

impl Places {
    /// The real places, with extractions and logs in `layout` and downloads in its tool cache.
    pub fn standard(layout: &Layout) -> Places {
        Places {
            lock_file: Lock::path(),
            downloads: layout.cache.downloads(),
            extractions: layout.sources.clone(),
            logs: layout.logs.clone(),
            repo_config: paths::project_root().join("xlean.local.toml"),
            user_config: layout.cache.root.join("local-sources.toml"),
            source_trees: std::env::var_os(settings::SOURCE_TREES_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// A source ready to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchedSource {
    pub name: String,
    /// The pinned version (for lean4, the tag). A local copy is trusted to be at it.
    pub version: String,
    /// The directory to read from: the source tree itself (an archive's top folder is
    /// stripped). READ-ONLY for every later stage: it may be the user's own checkout.
    pub dir: PathBuf,
    pub origin: Origin,
    /// This fetch recorded the archive's sha256 in `pins.lock` (nothing was pinned): commit it.
    pub recorded_now: bool,
}

/// Where a source came from, for stamps and `githash.h`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    /// The pinned release archive, verified against `pins.lock`.
    Archive {
        url: String,
        /// The file name in the cache, mirrors and `pins.lock`.
        artifact: String,
        sha256: String,
        /// The commit `git archive` wrote into the archive, when present.
        commit: Option<String>,
        obtained: Obtained,
    },
    /// A local copy named by a flag or a config file.
    Local {
        dir: PathBuf,
        /// The flag or config file that set it.
        set_by: String,
        /// HEAD of the checkout, when it is a git checkout (local edits are not seen).
        commit: Option<String>,
    },
}

impl FetchedSource {
    pub fn is_local(&self) -> bool {
        matches!(self.origin, Origin::Local { .. })
    }

    /// The commit the tree is at, when known.
    pub fn commit(&self) -> Option<&str> {
        match &self.origin {
            Origin::Archive { commit, .. } | Origin::Local { commit, .. } => commit.as_deref(),
        }
    }

    /// One line for the console and for build stamps.
    pub fn summary(&self) -> String {
        let mut s = format!("{} {}: {} (", self.name, self.version, self.dir.display());
        match &self.origin {
            Origin::Archive {
                artifact,
                sha256,
                obtained,
                ..
            } => {
                let _ = write!(s, "{artifact}, sha256 {sha256} verified, ");
                match obtained {
                    Obtained::Network => s.push_str("downloaded now"),
                    Obtained::Mirror { dir } => {
                        let _ = write!(s, "from the mirror {}", dir.display());
                    }
                    Obtained::Cache => s.push_str("from the download cache"),
                    Obtained::AlreadyExtracted => s.push_str("extracted earlier"),
                }
            }
            Origin::Local { set_by, .. } => {
                let _ = write!(s, "local copy set by {set_by}, used as-is");
            }
        }
        if let Some(c) = self.commit() {
            let _ = write!(s, ", commit {c}");
        }
        s.push(')');
        s
    }
}

/// The directory to read source `name` from (see [`Fetcher::source_dir`]), with the standard
/// places. For several sources, make one [`Fetcher`].
pub fn source_dir(
    pins: &Pins,
    name: &str,
    opts: &SourceOptions,
    layout: &Layout,
) -> Result<FetchedSource> {
    Fetcher::new(pins, opts, Places::standard(layout))?.source_dir(name)
}

/// Fetches every source named (all of `pins.toml` [sources] when `names` is empty), printing
/// each one's error as it happens and failing at the end if any failed.
pub fn fetch_all(
    pins: &Pins,
    names: &[String],
    opts: &SourceOptions,
    places: &Places,
) -> Result<Vec<FetchedSource>> {
    let names: Vec<String> = if names.is_empty() {
        pins.source_names().map(str::to_string).collect()
    } else {
        for n in names {
            pins.source(n)?;
        }
        names.to_vec()
    };
    let fetcher = Fetcher::new(pins, opts, places.clone())?;
    let mut fetched = Vec::new();
    let mut failed = Vec::new();
    for name in &names {
        match fetcher.source_dir(name) {
            Ok(f) => fetched.push(f),
            Err(e) => {
                if names.len() == 1 {
                    return Err(e);
                }
                eprintln!("error: {}\n", error_chain(&e));
                failed.push(name.as_str());
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "could not fetch {} of {} sources: {} (each error is above)",
            failed.len(),
            names.len(),
            failed.join(", ")
        );
    }
    Ok(fetched)
}

/// Resolves sources with one reading of the flags and config files.
pub struct Fetcher<'a> {
    pins: &'a Pins,
    settings: Settings,
    places: Places,
}

/// Next to each extraction: which verified archive it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    artifact: String,
    sha256: String,
    commit: Option<String>,
}

impl<'a> Fetcher<'a> {
    pub fn new(pins: &'a Pins, opts: &SourceOptions, places: Places) -> Result<Fetcher<'a>> {
        let settings = Settings::resolve(pins, opts, &places)?;
        Ok(Fetcher {
            pins,
            settings,
            places,
        })
    }

    /// The directory to read source `name` from, in order of precedence: a local copy (flags,
    /// then `xlean.local.toml`, then `<cache>/local-sources.toml`), returned as-is; otherwise the
    /// pinned archive (download cache, mirrors, network), verified against `pins.lock` and
    /// extracted into `<build>/sources/<name>-<version>/` unless an extraction of the same
    /// verified archive is already there.
    pub fn source_dir(&self, name: &str) -> Result<FetchedSource> {
        let src = self.pins.source(name)?;
        if let Some(local) = self.settings.locals.get(name) {
            return self.local(&src, local);
        }
        runner::timed(&format!("fetch {} {}", src.name, src.version), || {
            self.archive(&src)
        })
    }

    /// Like [`Fetcher::source_dir`] for an optional source: `None`, quietly, when it cannot be
    /// had here (no local copy, archive or network); an error when it is there but wrong.
    pub fn optional_source_dir(&self, name: &str) -> Result<Option<FetchedSource>> {
        let src = self.pins.source(name)?;
        if let Some(local) = self.settings.locals.get(name) {
            return self.local(&src, local).map(Some);
        }
        match self.archive(&src) {
            Ok(f) => Ok(Some(f)),
            Err(e) if is_unavailable(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Where source `name` would come from without the network (a local copy, the verified
    /// archive in the download cache, a mirror), or `None`: it would be downloaded.
    pub fn without_network(&self, name: &str) -> Result<Option<String>> {
        let src = self.pins.source(name)?;
        if let Some(local) = self.settings.locals.get(name) {
            let at = format!("{} (set by {})", local.dir.display(), local.set_by);
            return Ok(local.dir.is_dir().then_some(at));
        }
        let cached = self.places.downloads.join(&src.artifact);
        let pinned = Lock::load_from(&self.places.lock_file)?
            .sha256
            .remove(&src.artifact);
        if cached.is_file() && pinned == Some(util::sha256_file(&cached)?) {
            return Ok(Some(format!("{} (verified)", cached.display())));
        }
        let mirrored = self
            .settings
            .mirrors
            .iter()
            .map(|m| m.dir.join(&src.artifact));
        Ok(mirrored
            .into_iter()
            .find(|f| f.is_file())
            .map(|f| f.display().to_string()))
    }

    fn local(&self, src: &ResolvedSource, local: &settings::Local) -> Result<FetchedSource> {
        settings::check_dir(&local.dir).with_context(|| {
            format!(
                "the local copy of {} set by {}\n  fix: correct the path there, or remove it to use the pinned archive",
                src.name, local.set_by
            )
        })?;
        let dir = fs::canonicalize(&local.dir)
            .with_context(|| format!("cannot resolve {}", local.dir.display()))?;
        check_layout(&src.name, &dir).with_context(|| {
            format!(
                "the local copy of {} set by {}\n  fix: name the top folder of the {} source tree",
                src.name, local.set_by, src.name
            )
        })?;
        let commit = git::head_commit(&dir);
        if src.name == "lean4" {
            if let Some(c) = &commit {
                if *c != self.pins.lean.commit {
                    runner::warn(&format!(
                        "the lean4 checkout {} is at commit {c}, but pins.toml pins {} = {}: \
                         the build uses it anyway (fine for trying a new tag; not for a release)",
                        dir.display(),
                        self.pins.lean.tag,
                        self.pins.lean.commit
                    ));
                }
            }
        }
        runner::note(&format!(
            "{} {}: using the local copy {} (set by {}), as-is; it is never modified",
            src.name,
            src.version,
            dir.display(),
            local.set_by
        ));
        Ok(FetchedSource {
            name: src.name.clone(),
            version: src.version.clone(),
            origin: Origin::Local {
                dir: dir.clone(),
                set_by: local.set_by.clone(),
                commit,
            },
            dir,
            recorded_now: false,
        })
    }

    fn archive(&self, src: &ResolvedSource) -> Result<FetchedSource> {
        if !src.artifact.ends_with(".tar.gz") && !src.artifact.ends_with(".tar.xz") {
            bail!(
                "{}: {} is not a .tar.gz or .tar.xz archive; only those are supported",
                src.name,
                src.url
            );
        }
        let dest = self
            .places
            .extractions
            .join(format!("{}-{}", src.name, src.version));
        let stamp_path = dest.with_file_name(format!("{}-{}.stamp.json", src.name, src.version));

        // One fetch of an artifact at a time (the download cache is shared by every clone).
        fs::create_dir_all(&self.places.downloads)
            .with_context(|| format!("cannot create {}", self.places.downloads.display()))?;
        let _guard = lock_artifact(&self.places.downloads, &src.artifact)?;

        let pinned = Lock::load_from(&self.places.lock_file)?
            .sha256
            .get(&src.artifact)
            .cloned();
        let stamp = read_stamp(&stamp_path);
        let already_extracted = |sha: &str| {
            stamp
                .as_ref()
                .is_some_and(|s| s.artifact == src.artifact && s.sha256 == sha)
                && dest.is_dir()
        };
        let result = |sha256: String, commit: Option<String>, obtained| FetchedSource {
            recorded_now: pinned.is_none(),
            name: src.name.clone(),
            version: src.version.clone(),
            dir: dest.clone(),
            origin: Origin::Archive {
                url: src.url.clone(),
                artifact: src.artifact.clone(),
                sha256,
                commit,
                obtained,
            },
        };

        // Fast path: extracted earlier from the archive whose hash is pinned now.
        if let Some(p) = &pinned {
            if already_extracted(p) {
                runner::note(&format!(
                    "{} was extracted earlier from {} (sha256 {p}, as pinned)",
                    dest.display(),
                    src.artifact
                ));
                let commit = stamp.and_then(|s| s.commit);
                return Ok(result(p.clone(), commit, Obtained::AlreadyExtracted));
            }
        }

        let (candidate, obtained) =
            download::obtain(src, pinned.as_deref(), &self.settings, &self.places)?;
        match self.extract(src, &candidate, &obtained, &dest, &stamp_path) {
            // Admitted (its hash recorded if nothing was pinned) only once it extracted cleanly.
            Ok((sha256, commit)) => {
                candidate.admit()?;
                Ok(result(sha256, commit, obtained))
            }
            Err(e) => {
                candidate.discard()?;
                Err(e)
            }
        }
    }

    /// Extracts a verified (or not yet pinned) archive, unless the stamp says it was.
    fn extract(
        &self,
        src: &ResolvedSource,
        candidate: &Candidate,
        obtained: &Obtained,
        dest: &Path,
        stamp_path: &Path,
    ) -> Result<(String, Option<String>)> {
        let sha256 = match &candidate.pinned {
            Some(p) => p.clone(),
            None => util::sha256_file(&candidate.file)?,
        };
        let stamp = read_stamp(stamp_path);
        if let Some(s) =
            stamp.filter(|s| s.artifact == src.artifact && s.sha256 == sha256 && dest.is_dir())
        {
            return Ok((sha256, s.commit));
        }

        util::remove_any(stamp_path)?;
        runner::note(&format!(
            "extracting {} into {}",
            src.artifact,
            dest.display()
        ));
        let expected_commit = (src.name == "lean4").then_some(self.pins.lean.commit.as_str());
        let mut extracted = None;
        let made = util::make_dir_atomically(dest, |partial| {
            let out = extract::extract_tarball(&candidate.file, &src.artifact, partial)
                .with_context(|| refusal(src, obtained))?;
            if let (Some(expected), Some(found)) = (expected_commit, &out.commit) {
                if found != expected {
                    bail!(
                        "{} was made from commit {found}, but pins.toml pins {} = {expected}\n  \
                         it is not the pinned lean4 release; nothing was extracted",
                        candidate.file.display(),
                        self.pins.lean.tag
                    );
                }
            }
            check_layout(&src.name, partial)
                .with_context(|| format!("{} is not the {} source", src.artifact, src.name))?;
            extracted = Some(out);
            Ok(())
        });
        if made.is_err() {
            // Nothing half-extracted stays behind (make_dir_atomically leaves its partial
            // directory when the filling fails).
            util::remove_any(&util::partial_path(dest))?;
        }
        made?;
        let extracted = extracted.expect("set by the closure");
        let stamp = Stamp {
            artifact: src.artifact.clone(),
            sha256: sha256.clone(),
            commit: extracted.commit.clone(),
        };
        util::write_atomic(stamp_path, serde_json::to_string_pretty(&stamp)?.as_bytes())?;
        runner::note(&format!(
            "{} files from {} (sha256 {sha256})",
            extracted.files, src.artifact
        ));
        Ok((sha256, extracted.commit))
    }
}

/// A folder every tree of a known source has, so that a wrong directory (say `lean4/src` for
/// `lean4`) is caught here, not as a puzzling error several stages later.
fn layout_marker(name: &str) -> Option<&'static str> {
    match name {
        "lean4" => Some("src/runtime"),
        "xeus" => Some("include/xeus"),
        "xeus-lite" => Some("include/xeus-lite"),
        "nlohmann_json" => Some("include/nlohmann"),
        "mini-gmp" => Some("mini-gmp"),
        _ => None,
    }
}

fn check_layout(name: &str, dir: &Path) -> Result<()> {
    if let Some(marker) = layout_marker(name) {
        if !dir.join(marker).is_dir() {
            bail!(
                "{} does not look like a {name} source tree: it has no folder {marker}/",
                dir.display()
            );
        }
    }
    Ok(())
}

/// What to say when an archive is refused at extraction (corrupt, truncated or hostile): it has
/// been discarded by then, so the fix depends on where it came from.
fn refusal(src: &ResolvedSource, obtained: &Obtained) -> String {
    let fix = match obtained {
        Obtained::Mirror { dir } => format!(
            "replace {} with the real release from {}",
            dir.join(&src.artifact).display(),
            src.url
        ),
        Obtained::Network => format!(
            "fetch again; if it fails the same way, what {} serves is not a usable release",
            src.url
        ),
        Obtained::Cache | Obtained::AlreadyExtracted => {
            "fetch again (the cached copy was removed)".to_string()
        }
    };
    format!(
        "refused {} ({}): it was discarded, nothing was extracted or recorded\n  fix: {fix}",
        src.artifact,
        match obtained {
            Obtained::Mirror { dir } => format!("copied from the mirror {}", dir.display()),
            Obtained::Network => format!("downloaded from {}", src.url),
            _ => "from the download cache".to_string(),
        }
    )
}

/// An error and its causes, as `main` would print them, without a backtrace.
fn error_chain(e: &anyhow::Error) -> String {
    let mut s = e.to_string();
    for cause in e.chain().skip(1) {
        let _ = write!(s, "\n  caused by: {cause}");
    }
    s
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// An exclusive lock on `<downloads>/<artifact>.lock`, released when dropped.
fn lock_artifact(downloads: &Path, artifact: &str) -> Result<fs::File> {
    let path = downloads.join(format!("{artifact}.lock"));
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            runner::note(&format!(
                "waiting for another xtask that is fetching {artifact} ({})",
                path.display()
            ));
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
    Ok(file)
}

/// Whether a `fetch` error only says the source cannot be had here (no network, offline), as
/// opposed to a source that is there but wrong.
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    text.contains("cannot download") || text.contains("the network is off (--offline)")
}
