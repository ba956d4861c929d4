//! Which xeus, xeus-lite and nlohmann_json trees the kernel is built from, through `fetch`
//! (docs/sources.md): local copies (`--source NAME=DIR`, `xlean.local.toml`,
//! `<cache>/local-sources.toml`), else the pinned archives (download cache, mirrors, network).
//!
//! xeus and xeus-lite live on GitHub only. When they cannot be had (no local copy, no cached or
//! mirrored archive, no network), the kernel tests are skipped with [`SOURCES_MISSING`]; any
//! other failure (a corrupt archive, a wrong local copy) is an error. nlohmann_json is taken as a
//! tree only when one is at hand without the network: otherwise Debian's package of the same
//! pinned version serves (`deps.rs`), so no GitHub download is ever needed for it.

use std::{fs, path::PathBuf};

use anyhow::Result;

use crate::layout::Layout;
use crate::{
    fetch::{FetchedSource, Fetcher, Places, SourceOptions},
    pins::Pins,
    runner,
};

/// What the suite prints when it cannot run (and the reason `ci` shows).
pub const SOURCES_MISSING: &str = "xeus/xeus-lite sources not available (pass --source xeus=DIR \
     --source xeus-lite=DIR or set them in <cache>/local-sources.toml)";

/// One source tree, read-only for the build (CMake builds out of tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTree {
    pub name: String,
    /// The pinned version (a local copy is trusted to be at it; see [`check_version`]).
    pub version: String,
    pub dir: PathBuf,
    /// Where it came from, in one line (`FetchedSource::summary`; goes into messages).
    pub provenance: String,
}

impl From<FetchedSource> for SourceTree {
    fn from(f: FetchedSource) -> SourceTree {
        SourceTree {
            provenance: f.summary(),
            name: f.name,
            version: f.version,
            dir: f.dir,
        }
    }
}

/// The trees the kernel shell needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSources {
    pub xeus: SourceTree,
    pub xeus_lite: SourceTree,
    /// `None`: use Debian's `nlohmann-json3-dev` package at the pinned version instead of a
    /// source tree (see `deps.rs`).
    pub nlohmann_json: Option<SourceTree>,
}

/// The kernel's sources, or `None` when xeus or xeus-lite cannot be had. `opts`: the calling
/// command's `fetch` flags.
pub fn kernel_sources(
    pins: &Pins,
    opts: &SourceOptions,
    layout: &Layout,
) -> Result<Option<KernelSources>> {
    kernel_sources_with(pins, opts, Places::standard(layout))
}

pub(super) fn kernel_sources_with(
    pins: &Pins,
    opts: &SourceOptions,
    places: Places,
) -> Result<Option<KernelSources>> {
    let fetcher = Fetcher::new(pins, opts, places.clone())?;
    let mut trees = Vec::new();
    for name in ["xeus", "xeus-lite"] {
        match fetcher.source_dir(name) {
            Ok(f) => {
                let tree = SourceTree::from(f);
                check_version(&tree);
                trees.push(tree);
            }
            Err(e) if crate::fetch::is_unavailable(&e) => {
                let first = format!("{e:#}");
                runner::note(first.lines().next().unwrap_or_default());
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
    let offline = SourceOptions {
        offline: true,
        ..opts.clone()
    };
    let nlohmann_json = Fetcher::new(pins, &offline, places)?
        .optional_source_dir("nlohmann_json")?
        .map(SourceTree::from);
    let [xeus, xeus_lite]: [SourceTree; 2] = trees.try_into().expect("two trees");
    Ok(Some(KernelSources {
        xeus,
        xeus_lite,
        nlohmann_json,
    }))
}

/// Warns when a tree says it is another version than the pinned one (a local copy is trusted,
/// as `fetch` trusts one, but a mismatch is worth knowing when the build fails).
fn check_version(tree: &SourceTree) {
    let (header, prefix) = match tree.name.as_str() {
        "xeus" => ("include/xeus/xeus.hpp", "XEUS_VERSION_"),
        "xeus-lite" => ("include/xeus-lite/xeus-lite.hpp", "XEUS_LITE_VERSION_"),
        _ => return,
    };
    let Ok(text) = fs::read_to_string(tree.dir.join(header)) else {
        return;
    };
    if let Some(found) = header_version(&text, prefix) {
        if found != tree.version {
            runner::warn(&format!(
                "{} says {} {found}, but pins.toml pins {}",
                tree.dir.join(header).display(),
                tree.name,
                tree.version
            ));
        }
    }
}

/// `MAJOR.MINOR.PATCH` from `#define <prefix>MAJOR 6` lines.
pub(super) fn header_version(text: &str, prefix: &str) -> Option<String> {
    let part = |which: &str| {
        text.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("#define")?.trim();
            let rest = rest.strip_prefix(prefix)?.strip_prefix(which)?;
            let v = rest.trim();
            (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.to_string())
        })
    };
    Some(format!(
        "{}.{}.{}",
        part("MAJOR")?,
        part("MINOR")?,
        part("PATCH")?
    ))
}
