//! The official host: `lean`/`lake` of the pinned release, from elan's toolchain directory or
//! from `PATH` (elan's proxies are never run), installed with elan where elan is.

use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use super::parse_version_line;
use crate::{
    paths,
    pins::Pins,
    runner::{self, Step},
};

/// A `lean` (and its `lake`) of the pinned release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficialLean {
    pub lean: PathBuf,
    /// `lake` next to `lean` (absent in a bare `lean` install).
    pub lake: Option<PathBuf>,
    pub version_line: String,
}

/// A `lean` that was found but is not the pinned release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherLean {
    pub lean: PathBuf,
    pub version_line: String,
}

/// `$ELAN_HOME`, else `~/.elan`.
pub fn elan_home() -> PathBuf {
    match std::env::var_os("ELAN_HOME").filter(|v| !v.is_empty()) {
        Some(h) => paths::absolute(Path::new(&h)),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/nonexistent"))
            .join(".elan"),
    }
}

/// elan's directory for a toolchain: `leanprover/lean4:v4.28.0` → `leanprover--lean4---v4.28.0`.
pub fn elan_toolchain_dir(pins: &Pins) -> PathBuf {
    toolchain_dir_in(&elan_home(), pins)
}

fn toolchain_dir_in(elan_home: &Path, pins: &Pins) -> PathBuf {
    let name = elan_dir_name(&pins.lean_toolchain());
    elan_home.join("toolchains").join(name)
}

pub(super) fn elan_dir_name(toolchain: &str) -> String {
    toolchain.replace('/', "--").replace(':', "---")
}

fn find_elan_in(elan_home: &Path, path_var: &OsStr) -> Option<PathBuf> {
    let own = elan_home.join("bin/elan");
    if own.is_file() {
        return Some(own);
    }
    crate::toolchain::find_on_path(path_var, "elan")
}

/// Whether `version_line` is the pinned release: same version, and same commit when it names one.
pub fn is_pinned_release(pins: &Pins, version_line: &str) -> bool {
    let Some(v) = parse_version_line(version_line) else {
        return false;
    };
    v.version == pins.lean.tag.trim_start_matches('v')
        && v.commit.as_deref().is_none_or(|c| c == pins.lean.commit)
}

/// What the search for an official Lean found.
#[derive(Debug, Clone, Default)]
pub struct OfficialSearch {
    pub pinned: Option<OfficialLean>,
    /// Other Lean versions seen on the way (for doctor).
    pub others: Vec<OtherLean>,
    pub elan: Option<PathBuf>,
}

/// Looks in elan's toolchain directory for the pin, then at every `lean` on `PATH` that is not an
/// elan proxy. (An elan proxy is never run: it would resolve the toolchain from the current
/// directory and could start a download.)
pub fn find_official(pins: &Pins) -> OfficialSearch {
    find_official_in(
        pins,
        &elan_home(),
        &std::env::var_os("PATH").unwrap_or_default(),
    )
}

/// [`find_official`] with elan's home and `PATH` given (tests).
pub fn find_official_in(pins: &Pins, elan_home: &Path, path_var: &OsStr) -> OfficialSearch {
    let mut search = OfficialSearch {
        elan: find_elan_in(elan_home, path_var),
        ..Default::default()
    };
    let mut candidates = vec![toolchain_dir_in(elan_home, pins).join("bin/lean")];
    let elan_bin = elan_home.join("bin");
    let elan_bin_real = fs::canonicalize(&elan_bin).unwrap_or_else(|_| elan_bin.clone());
    for d in std::env::split_paths(path_var) {
        if d.as_os_str().is_empty() || d == elan_bin {
            continue;
        }
        candidates.push(d.join("lean"));
    }
    let mut seen = Vec::new();
    for lean in candidates {
        if !lean.is_file() {
            continue;
        }
        let real = fs::canonicalize(&lean).unwrap_or_else(|_| lean.clone());
        if seen.contains(&real) || real.starts_with(&elan_bin_real) {
            continue;
        }
        seen.push(real);
        let Some(version_line) = native_version_line(&lean) else {
            continue;
        };
        if is_pinned_release(pins, &version_line) {
            let lake = lean.with_file_name("lake");
            search.pinned = Some(OfficialLean {
                lake: lake.is_file().then_some(lake),
                lean,
                version_line,
            });
            break;
        }
        search.others.push(OtherLean { lean, version_line });
    }
    search
}

fn native_version_line(lean: &Path) -> Option<String> {
    let out = runner::cmd(lean).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("Lean (version "))
        .map(|l| l.trim().to_string())
}

/// The command that installs the pinned toolchain with elan.
pub fn elan_install_command(pins: &Pins) -> String {
    format!("elan toolchain install {}", pins.lean_toolchain())
}

/// Makes the official host available where elan is: `elan toolchain install <pin>` when the pinned
/// toolchain is missing. Returns `None` when there is no elan (the checker host is then the Lean
/// host); an error when elan could not install it (no network, for one).
pub fn install_official(pins: &Pins) -> Result<Option<OfficialLean>> {
    let found = find_official(pins);
    if let Some(official) = found.pinned {
        let (line, lean) = (&official.version_line, official.lean.display());
        runner::note(&format!("official Lean host: {line} ({lean})"));
        return Ok(Some(official));
    }
    let Some(elan) = found.elan else {
        runner::note(&format!(
            "no elan: the official Lean {} is not installed (the checker host stands in; \
             install elan from https://github.com/leanprover/elan for full capability)",
            pins.lean.tag
        ));
        return Ok(None);
    };
    Step::new("elan-toolchain-install", &elan)
        .args(["toolchain", "install", &pins.lean_toolchain()])
        .run()
        .with_context(|| {
            format!(
                "elan could not install {} (it downloads from GitHub)\n  \
                 fix: run `{}` where GitHub is reachable, or use the checker host (`cargo xtask doctor`)",
                pins.lean_toolchain(),
                elan_install_command(pins)
            )
        })?;
    let official = find_official(pins).pinned.with_context(|| {
        format!(
            "`{}` succeeded but {} holds no `lean` reporting version {}",
            elan_install_command(pins),
            elan_toolchain_dir(pins).display(),
            pins.lean.tag
        )
    })?;
    Ok(Some(official))
}
