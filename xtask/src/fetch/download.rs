//! Where a release archive comes from: the download cache, a mirror folder or the network (curl).
//! Each way goes through the pinned-artifact service ([`super::artifact`]): `<artifact>.partial`,
//! checked against `pins.lock` before it is trusted.

use std::{fs, path::PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{
    artifact::{Candidate, Store},
    settings::{Mirror, Settings},
    Places,
};
use crate::{
    pins::ResolvedSource,
    runner::{self, Step},
};

/// Where the archive in hand came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Obtained {
    /// Downloaded from the pinned URL now.
    Network,
    /// Copied from a mirror folder now.
    Mirror { dir: PathBuf },
    /// Already in the download cache (fetched earlier).
    Cache,
    /// Already extracted from the archive with the pinned sha256; the archive was not read.
    AlreadyExtracted,
}

/// Finds the archive of `src`: the download cache, then each mirror, then (unless offline) the
/// network. Whatever is found is checked against the pinned hash, if there is one; one obtained
/// now stays in `<artifact>.partial` until it has extracted cleanly ([`Candidate::admit`]).
pub(crate) fn obtain(
    src: &ResolvedSource,
    pinned: Option<&str>,
    settings: &Settings,
    places: &Places,
) -> Result<(Candidate, Obtained)> {
    let store = Store {
        downloads: places.downloads.clone(),
        lock: places.lock_file.clone(),
    };
    if let Some(cached) = store.cached(&src.artifact, pinned)? {
        return Ok((cached, Obtained::Cache));
    }
    for mirror in &settings.mirrors {
        if let Some(copied) = from_mirror(&store, src, pinned, mirror)? {
            let dir = mirror.dir.clone();
            return Ok((copied, Obtained::Mirror { dir }));
        }
    }
    if settings.offline {
        bail!(offline_error(src, settings, places));
    }
    let downloaded = from_network(&store, src, pinned, places)?;
    Ok((downloaded, Obtained::Network))
}

/// A copy of the mirror's archive, if it has one.
fn from_mirror(
    store: &Store,
    src: &ResolvedSource,
    pinned: Option<&str>,
    mirror: &Mirror,
) -> Result<Option<Candidate>> {
    super::settings::check_dir(&mirror.dir)
        .with_context(|| format!("the mirror set by {}", mirror.set_by))?;
    let file = mirror.dir.join(&src.artifact);
    if !file.is_file() {
        return Ok(None);
    }
    runner::note(&format!(
        "copying {} from the mirror {}",
        src.artifact,
        mirror.dir.display()
    ));
    let copied = store.receive(&src.artifact, pinned, |partial| {
        fs::copy(&file, partial)
            .with_context(|| format!("cannot copy {} to {}", file.display(), partial.display()))?;
        Ok(partial.to_path_buf())
    })?;
    let verified = copied.verify().with_context(|| {
        format!(
            "the mirror's {} (mirror set by {}) is not the pinned file; nothing was extracted\n  \
             fix: replace it in the mirror with the real {}",
            file.display(),
            mirror.set_by,
            src.url
        )
    })?;
    Ok(Some(verified))
}

/// The archive downloaded from its pinned URL by curl.
fn from_network(
    store: &Store,
    src: &ResolvedSource,
    pinned: Option<&str>,
    places: &Places,
) -> Result<Candidate> {
    let downloaded = store.receive(&src.artifact, pinned, |partial| {
        Step::new(format!("download-{}", src.artifact), "curl")
            .args("--fail --location --retry 2 --connect-timeout 20".split(' '))
            .args(["--silent", "--show-error", "-o"])
            .arg(partial)
            .arg(&src.url)
            .log_dir(&places.logs)
            .run()
            .with_context(|| {
                format!(
                    "cannot download {} {} from {}\n{}",
                    src.name,
                    src.version,
                    src.url,
                    local_copy_help(src, places)
                )
            })?;
        Ok(partial.to_path_buf())
    })?;
    downloaded.verify().with_context(|| {
        format!(
            "the download from {} is not the pinned file; nothing was extracted",
            src.url
        )
    })
}

/// Offline, with the archive in no cache and no mirror: where it was looked for, where it would
/// come from, and how to build from a local copy instead.
fn offline_error(src: &ResolvedSource, settings: &Settings, places: &Places) -> String {
    let searched = if settings.mirrors.is_empty() {
        "no mirror is set".to_string()
    } else {
        let dirs: Vec<_> = (settings.mirrors.iter())
            .map(|m| m.dir.display().to_string())
            .collect();
        format!("not in the mirror(s) {}", dirs.join(", "))
    };
    format!(
        "{} {} is needed but the network is off (--offline): it is not in the download cache \
         ({}), {searched}, and no local copy is set\n  it would come from {}\n{}",
        src.name,
        src.version,
        places.downloads.join(&src.artifact).display(),
        src.url,
        local_copy_help(src, places)
    )
}

/// The exact ways to build without the network, for the error a user sees when offline.
pub(crate) fn local_copy_help(src: &ResolvedSource, places: &Places) -> String {
    let (name, version) = (&src.name, &src.version);
    let lean_src = match name.as_str() {
        "lean4" => format!(
            "    --lean-src DIR              a lean4 checkout or unpacked release at {version}\n"
        ),
        _ => String::new(),
    };
    let pad = 15usize.saturating_sub(name.len()).max(1);
    format!(
        "  to build from a local copy instead, add one of these to the cargo xtask command:\n\
         {lean_src}    \
         --source {name}=DIR{:pad$}a local copy of {name} {version}, used as-is (never modified)\n    \
         --mirror DIR                a folder holding {} (or set XLEAN_MIRROR=DIR)\n  \
         or set it once in {} (this clone) or {} (every clone):\n    \
         [sources]\n    {name} = \"DIR\"\n  see docs/sources.md",
        "",
        src.artifact,
        places.repo_config.display(),
        places.user_config.display(),
    )
}
