//! Which xeus, xeus-lite and nlohmann_json trees the kernel is built from.
//!
//! TEMPORARY: until `crate::fetch` (docs/sources.md) is merged, [`local_sources`] reads local
//! copies only: `--source NAME=DIR` pairs, then `[sources]` of `<cache>/local-sources.toml`
//! (the same file and format `fetch` reads). When `fetch` lands, the lead replaces the body of
//! [`local_sources`] with `fetch::source_dir` calls (which add archives, mirrors and the
//! network) and fills [`SourceTree::provenance`] from `FetchedSource::summary()`; nothing else
//! in this module's users changes.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::{paths, pins::Pins, runner};

/// What the suite prints when it cannot run (and the reason `ci` shows).
pub const SOURCES_MISSING: &str = "xeus/xeus-lite sources not available (pass --source xeus=DIR \
     --source xeus-lite=DIR or set them in <cache>/local-sources.toml)";

/// One source tree, read-only for the build (CMake builds out of tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTree {
    pub name: String,
    /// The pinned version (a local copy is checked against it where the tree says its version).
    pub version: String,
    pub dir: PathBuf,
    /// Where it came from, in one line (goes into stamps and messages).
    pub provenance: String,
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

/// The user-level config file's parts that matter here (the file belongs to `fetch`, which
/// validates it; unknown keys are left to it).
#[derive(Debug, Default, Deserialize)]
struct LocalConfig {
    #[serde(default)]
    sources: BTreeMap<String, String>,
}

/// The kernel's sources from local copies, or `None` when xeus or xeus-lite has none (the tests
/// then skip with [`SOURCES_MISSING`]). `overrides` are `--source NAME=DIR` pairs; they win over
/// the config file.
pub fn local_sources(
    pins: &Pins,
    overrides: &[(String, PathBuf)],
) -> Result<Option<KernelSources>> {
    resolve(
        pins,
        overrides,
        &paths::cache_dir().join("local-sources.toml"),
    )
}

pub(super) fn resolve(
    pins: &Pins,
    overrides: &[(String, PathBuf)],
    user_config: &Path,
) -> Result<Option<KernelSources>> {
    let config = read_config(user_config)?;
    let find = |name: &str| -> Result<Option<SourceTree>> {
        let (dir, set_by) = if let Some((_, dir)) = overrides.iter().rev().find(|(n, _)| n == name)
        {
            (
                paths::absolute(&expand_home(dir)),
                format!("--source {name}=DIR"),
            )
        } else if let Some(dir) = config.sources.get(name) {
            let base = user_config.parent().unwrap_or(Path::new("/"));
            (
                base.join(expand_home(Path::new(dir))),
                user_config.display().to_string(),
            )
        } else {
            return Ok(None);
        };
        let version = pins.source(name)?.version;
        check_layout(name, &dir, &set_by)?;
        check_version(name, &version, &dir);
        Ok(Some(SourceTree {
            name: name.to_string(),
            provenance: format!(
                "{name} {version}: local copy {} (set by {set_by}), used as-is",
                dir.display()
            ),
            version,
            dir,
        }))
    };
    let (Some(xeus), Some(xeus_lite)) = (find("xeus")?, find("xeus-lite")?) else {
        return Ok(None);
    };
    Ok(Some(KernelSources {
        xeus,
        xeus_lite,
        nlohmann_json: find("nlohmann_json")?,
    }))
}

fn read_config(path: &Path) -> Result<LocalConfig> {
    match fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a valid local-sources file (see docs/sources.md)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LocalConfig::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn expand_home(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest))
            .unwrap_or_else(|| p.to_path_buf()),
        Err(_) => p.to_path_buf(),
    }
}

/// A file each tree must have: the top folder of a checkout or an unpacked release.
fn marker(name: &str) -> Option<&'static str> {
    match name {
        "xeus" => Some("include/xeus/xinterpreter.hpp"),
        "xeus-lite" => Some("include/xeus-lite/xembind.hpp"),
        "nlohmann_json" => Some("single_include/nlohmann/json.hpp"),
        _ => None,
    }
}

fn check_layout(name: &str, dir: &Path, set_by: &str) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "the local copy of {name} does not exist: {} (set by {set_by})\n  \
             fix: point it at the top folder of a {name} checkout or unpacked release",
            dir.display()
        );
    }
    for file in ["CMakeLists.txt"].into_iter().chain(marker(name)) {
        if !dir.join(file).is_file() {
            bail!(
                "{} (set by {set_by}) is not a {name} source tree: it has no {file}\n  \
                 fix: point it at the top folder of the tree (the one holding {file})",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Warns when a tree says it is another version than the pinned one (a local copy is trusted,
/// as `fetch` trusts one, but a mismatch is worth knowing when the build fails).
fn check_version(name: &str, pinned: &str, dir: &Path) {
    let (header, prefix) = match name {
        "xeus" => ("include/xeus/xeus.hpp", "XEUS_VERSION_"),
        "xeus-lite" => ("include/xeus-lite/xeus-lite.hpp", "XEUS_LITE_VERSION_"),
        _ => return,
    };
    let Ok(text) = fs::read_to_string(dir.join(header)) else {
        return;
    };
    if let Some(found) = header_version(&text, prefix) {
        if found != pinned {
            runner::warn(&format!(
                "{} says {name} {found}, but pins.toml pins {pinned}",
                dir.join(header).display()
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
