//! Where each source comes from: flags, the two config files, mirrors.
//!
//! Precedence, highest first: flags (`--lean-src`, `--source`, `--mirror`/`XLEAN_MIRROR`), the
//! repository's untracked `xlean.local.toml`, the user-level `<cache>/local-sources.toml`, then
//! mirrors (in that same order), then the network. Both files have one format:
//!
//! ```toml
//! mirror = "DIR"          # optional: a folder of release archives named by artifact
//! [sources]
//! lean4 = "DIR"           # optional: a local copy of a source, used as-is
//! ```

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

use super::{Places, SourceOptions};
use crate::{paths, pins::Pins, runner};

/// What the flags and config files say, merged by precedence.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Source name → the local copy to use instead of an archive.
    pub locals: BTreeMap<String, Local>,
    /// Mirror folders, searched in this order.
    pub mirrors: Vec<Mirror>,
    pub offline: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Local {
    /// Absolute, not yet checked to exist (a config file may name a copy that is only needed
    /// for another source set; it is checked when used).
    pub dir: PathBuf,
    /// Where it was set, for messages and provenance: a flag or a file path.
    pub set_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mirror {
    pub dir: PathBuf,
    pub set_by: String,
}

/// The format of `xlean.local.toml` and `<cache>/local-sources.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    mirror: Option<String>,
    #[serde(default)]
    sources: BTreeMap<String, String>,
}

/// What a config file may contain, for error messages.
const CONFIG_FORMAT: &str = "mirror = \"DIR\"   # optional\n    [sources]\n    lean4 = \"DIR\"    # any source named in pins.toml";

/// How strictly a config file is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// `xlean.local.toml`: belongs to this clone, so an unknown source name is an error.
    Repo,
    /// `<cache>/local-sources.toml`: shared by every clone on the machine, some of which may pin
    /// a different set of sources, so an unknown source name only warns.
    User,
}

impl Settings {
    pub fn resolve(pins: &Pins, opts: &SourceOptions, places: &Places) -> Result<Settings> {
        let mut locals = BTreeMap::new();
        // Collected lowest precedence first, searched highest first.
        let mut mirrors = Vec::new();
        // Lowest precedence first; later layers overwrite local copies.
        for (file, scope) in [
            (&places.user_config, Scope::User),
            (&places.repo_config, Scope::Repo),
        ] {
            if let Some(config) = read_config(file)? {
                apply_config(pins, file, config, scope, &mut locals, &mut mirrors)?;
            }
        }
        // The environment, then the flags: relative paths are relative to where the command
        // was run. A directory named there is checked at once: a typo is never what was meant.
        for (name, dir) in source_trees(pins, places.source_trees.as_deref())? {
            let set_by = format!("{SOURCE_TREES_ENV}={}", dir.display());
            let local = checked_local(pins, &name, &dir, set_by)?;
            locals.insert(name, local);
        }
        locals.extend(flag_locals(pins, opts)?);
        if let Some(dir) = &opts.mirror {
            mirrors.push(Mirror {
                dir: paths::absolute(dir),
                set_by: "--mirror (or XLEAN_MIRROR)".into(),
            });
        }
        mirrors.reverse();
        Ok(Settings {
            locals,
            mirrors,
            offline: opts.offline,
        })
    }
}

/// One config file's mirror (after those of lower precedence) and local copies (over them).
fn apply_config(
    pins: &Pins,
    file: &Path,
    config: ConfigFile,
    scope: Scope,
    locals: &mut BTreeMap<String, Local>,
    mirrors: &mut Vec<Mirror>,
) -> Result<()> {
    let base = file.parent().unwrap_or(Path::new("/"));
    let set_by = file.display().to_string();
    if let Some(m) = &config.mirror {
        let dir = resolve_in(base, m).with_context(|| format!("{set_by}: key `mirror`"))?;
        let set_by = set_by.clone();
        mirrors.push(Mirror { dir, set_by });
    }
    for (name, dir) in &config.sources {
        if !pins.sources.contains_key(name) {
            let msg = format!(
                "{set_by}: [sources].{name}: pins.toml has no source named `{name}` (known: {})",
                known_names(pins)
            );
            match scope {
                Scope::Repo => bail!(msg),
                Scope::User => {
                    runner::warn(&format!("{msg}; ignored"));
                    continue;
                }
            }
        }
        let dir = resolve_in(base, dir).with_context(|| format!("{set_by}: [sources].{name}"))?;
        let set_by = set_by.clone();
        locals.insert(name.clone(), Local { dir, set_by });
    }
    Ok(())
}

/// The local copies `--lean-src` and `--source` name; one source named twice must be one folder.
fn flag_locals(pins: &Pins, opts: &SourceOptions) -> Result<BTreeMap<String, Local>> {
    let lean_src = (opts.lean_src.iter()).map(|dir| ("lean4".into(), dir, "--lean-src".into()));
    let sources = opts.sources.iter().map(|s| {
        let set_by = format!("--source {}={}", s.name, s.dir.display());
        (s.name.clone(), &s.dir, set_by)
    });
    let mut from_flags: BTreeMap<String, Local> = BTreeMap::new();
    for (name, dir, set_by) in lean_src.chain(sources) {
        let local = checked_local(pins, &name, dir, set_by)?;
        let earlier = from_flags.entry(name.clone()).or_insert(local.clone());
        ensure!(
            earlier.dir == local.dir,
            "two local copies of {name} on the command line: {} ({}) and {} ({})\n  fix: keep one",
            earlier.dir.display(),
            earlier.set_by,
            local.dir.display(),
            local.set_by
        );
    }
    Ok(from_flags)
}

/// A folder of unpacked upstream trees named `<name>-<version>` (as a release archive or `git
/// archive --prefix` unpacks them): each one of a pinned source at its pinned version is a local
/// copy, for every command of a run (CI, tests). Below the flags, above the config files.
pub const SOURCE_TREES_ENV: &str = "XLEAN_SOURCE_TREES";

/// The local copies a source-trees folder holds (relative: to where the command was run).
pub(crate) fn source_trees(pins: &Pins, folder: Option<&Path>) -> Result<Vec<(String, PathBuf)>> {
    let Some(folder) = folder else {
        return Ok(Vec::new());
    };
    let folder = paths::absolute(&expand_home(folder)?);
    check_dir(&folder)
        .with_context(|| format!("{SOURCE_TREES_ENV}: the folder of source trees"))?;
    let mut found = Vec::new();
    for name in pins.source_names() {
        let dir = folder.join(format!("{name}-{}", pins.source(name)?.version));
        if dir.is_dir() {
            found.push((name.to_string(), dir));
        }
    }
    Ok(found)
}

/// A local copy named by a flag or the environment: a known source, an existing directory.
fn checked_local(pins: &Pins, name: &str, dir: &Path, set_by: String) -> Result<Local> {
    if !pins.sources.contains_key(name) {
        bail!(
            "{set_by}: pins.toml has no source named `{name}` (known: {})",
            known_names(pins)
        );
    }
    // `~` too: the shell does not expand it after `NAME=`.
    let dir = paths::absolute(&expand_home(dir)?);
    check_dir(&dir).with_context(|| format!("{set_by}: the local copy of {name}"))?;
    Ok(Local { dir, set_by })
}

fn known_names(pins: &Pins) -> String {
    pins.source_names().collect::<Vec<_>>().join(", ")
}

fn read_config(path: &Path) -> Result<Option<ConfigFile>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let config: ConfigFile = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid local-sources file; the format is:\n    {CONFIG_FORMAT}\n  \
             (relative paths are relative to the file's folder)",
            path.display()
        )
    })?;
    Ok(Some(config))
}

/// A path from a config file: `~` is the home folder, a relative path is relative to the
/// file's folder (never to wherever the command happens to run).
fn resolve_in(base: &Path, value: &str) -> Result<PathBuf> {
    if value.trim().is_empty() {
        bail!("the path is empty");
    }
    Ok(paths::absolute(&base.join(expand_home(Path::new(value))?)))
}

/// `~` or `~/…` → the home folder (`~user` is not supported and stays as it is).
pub(crate) fn expand_home(path: &Path) -> Result<PathBuf> {
    match path.strip_prefix("~") {
        Ok(rest) => {
            let home = std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .with_context(|| {
                    format!("`{}` starts with `~` but HOME is not set", path.display())
                })?;
            Ok(PathBuf::from(home).join(rest))
        }
        Err(_) => Ok(path.to_path_buf()),
    }
}

/// A local copy (or mirror) must be an existing directory; says which path is wrong.
pub(crate) fn check_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("{} is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("the directory {} does not exist", dir.display())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}
