//! Getting a release archive into the download cache: from the cache itself, a mirror folder or
//! the network, always through `<artifact>.partial` and always hash-checked against `pins.lock`
//! before it is trusted.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{settings::Settings, Places};
use crate::{
    pins::{Lock, ResolvedSource},
    runner::{self, Step},
    util,
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

/// An archive ready to extract. `file` is either the cached download or, for one obtained now,
/// its `.partial` file, which becomes the cached download only after it extracted cleanly.
pub(crate) struct Candidate {
    pub file: PathBuf,
    pub is_partial: bool,
    pub obtained: Obtained,
    /// The sha256 pinned in the lock, which the file was checked against; `None` if nothing was
    /// pinned (the hash is recorded once the archive has extracted cleanly).
    pub pinned: Option<String>,
}

pub(crate) fn cached_path(places: &Places, src: &ResolvedSource) -> PathBuf {
    places.downloads.join(&src.artifact)
}

/// Finds the archive of `src`: the download cache, then each mirror, then (unless offline) the
/// network. Whatever is found is checked against the pinned hash, if there is one.
pub(crate) fn obtain(
    src: &ResolvedSource,
    pinned: Option<&str>,
    settings: &Settings,
    places: &Places,
) -> Result<Candidate> {
    let cached = cached_path(places, src);
    let partial = util::partial_path(&cached);
    // A leftover from an interrupted run is never trusted.
    util::remove_any(&partial)?;
    let candidate = |file: PathBuf, is_partial, obtained| Candidate {
        file,
        is_partial,
        obtained,
        pinned: pinned.map(str::to_string),
    };

    if cached.is_file() {
        match pinned {
            None => return Ok(candidate(cached, false, Obtained::Cache)),
            Some(expected) => {
                let actual = util::sha256_file(&cached)?;
                if actual == expected {
                    return Ok(candidate(cached, false, Obtained::Cache));
                }
                runner::warn(&format!(
                    "the cached {} does not match pins.lock (pinned {expected}, cached {actual}): \
                     removing it and fetching it again",
                    cached.display()
                ));
                util::remove_any(&cached)?;
            }
        }
    }

    fs::create_dir_all(&places.downloads)
        .with_context(|| format!("cannot create {}", places.downloads.display()))?;

    for mirror in &settings.mirrors {
        super::settings::check_dir(&mirror.dir)
            .with_context(|| format!("the mirror set by {}", mirror.set_by))?;
        let file = mirror.dir.join(&src.artifact);
        if !file.is_file() {
            continue;
        }
        runner::note(&format!(
            "copying {} from the mirror {}",
            src.artifact,
            mirror.dir.display()
        ));
        let copied = fs::copy(&file, &partial)
            .with_context(|| format!("cannot copy {} to {}", file.display(), partial.display()));
        if let Err(e) = copied {
            util::remove_any(&partial)?;
            return Err(e);
        }
        check_pinned(places, src, pinned, &partial).with_context(|| {
            format!(
                "the mirror's {} (mirror set by {}) is not the pinned file; nothing was extracted\n  \
                 fix: replace it in the mirror with the real {}",
                file.display(),
                mirror.set_by,
                src.url
            )
        })?;
        return Ok(candidate(
            partial,
            true,
            Obtained::Mirror {
                dir: mirror.dir.clone(),
            },
        ));
    }

    if settings.offline {
        let searched = if settings.mirrors.is_empty() {
            "no mirror is set".to_string()
        } else {
            let dirs: Vec<_> = settings
                .mirrors
                .iter()
                .map(|m| m.dir.display().to_string())
                .collect();
            format!("not in the mirror(s) {}", dirs.join(", "))
        };
        bail!(
            "{} {} is needed but the network is off (--offline): it is not in the download cache \
             ({}), {searched}, and no local copy is set\n  it would come from {}\n{}",
            src.name,
            src.version,
            cached.display(),
            src.url,
            local_copy_help(src, places)
        );
    }

    let download = Step::new(format!("download-{}", src.artifact), "curl")
        .args([
            "--fail",
            "--location",
            "--retry",
            "2",
            "--connect-timeout",
            "20",
            "--silent",
            "--show-error",
            "-o",
        ])
        .arg(&partial)
        .arg(&src.url)
        .log_dir(&places.logs)
        .run();
    if let Err(e) = download {
        util::remove_any(&partial)?;
        return Err(e.context(format!(
            "cannot download {} {} from {}\n{}",
            src.name,
            src.version,
            src.url,
            local_copy_help(src, places)
        )));
    }
    check_pinned(places, src, pinned, &partial).with_context(|| {
        format!(
            "the download from {} is not the pinned file; nothing was extracted",
            src.url
        )
    })?;
    Ok(candidate(partial, true, Obtained::Network))
}

/// Checks a freshly obtained `.partial` file against the pinned hash (if any); removes it on a
/// mismatch, so a bad file never reaches the cache.
fn check_pinned(
    places: &Places,
    src: &ResolvedSource,
    pinned: Option<&str>,
    partial: &Path,
) -> Result<()> {
    if pinned.is_none() {
        return Ok(());
    }
    let verified = Lock::verify_or_record(&places.lock_file, &src.artifact, partial);
    if verified.is_err() {
        util::remove_any(partial)?;
    }
    verified.map(|_| ())
}

/// The exact ways to build without the network, for the error a user sees when offline.
pub(crate) fn local_copy_help(src: &ResolvedSource, places: &Places) -> String {
    let mut s = String::from(
        "  to build from a local copy instead, add one of these to the cargo xtask command:\n",
    );
    if src.name == "lean4" {
        s.push_str(&format!(
            "    --lean-src DIR              a lean4 checkout or unpacked release at {}\n",
            src.version
        ));
    }
    s.push_str(&format!(
        "    --source {}=DIR{:pad$}a local copy of {} {}, used as-is (never modified)\n",
        src.name,
        "",
        src.name,
        src.version,
        pad = 15usize.saturating_sub(src.name.len()).max(1)
    ));
    s.push_str(&format!(
        "    --mirror DIR                a folder holding {} (or set XLEAN_MIRROR=DIR)\n",
        src.artifact
    ));
    s.push_str(&format!(
        "  or set it once in {} (this clone) or {} (every clone):\n    \
         [sources]\n    {} = \"DIR\"\n  see docs/sources.md",
        places.repo_config.display(),
        places.user_config.display(),
        src.name
    ));
    s
}
