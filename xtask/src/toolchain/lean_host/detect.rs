//! Every Lean host this machine has, and the choice among them.

use anyhow::{Context, Result};

use super::{
    checker::{checker_dir, installed_checker, CHECKER_PACKAGE},
    official::{elan_install_command, find_official, OfficialSearch},
    Checker, HostKind, LeanHost,
};
use crate::{paths::ToolCache, pins::Pins, toolchain::Toolchain};

/// Every Lean host this machine has, and why the others are missing.
#[derive(Debug, Clone)]
pub struct LeanHosts {
    pub official: OfficialSearch,
    pub checker: Option<Checker>,
    /// Why the checker is not usable (not installed, or no provisioned Node).
    pub checker_problem: Option<String>,
    pub tag: String,
    pub elan_install: String,
}

/// Finds the official Lean of the pin and the checker installed in `cache` (with the
/// provisioned Node). Starts no Lean process except native `lean --version`; never downloads
/// anything.
pub fn detect(cache: &ToolCache, pins: &Pins) -> LeanHosts {
    let official = find_official(pins);
    let checker = match (installed_checker(cache, pins), Toolchain::load(cache)) {
        (Some(install), Ok(tc)) => Ok(Checker {
            install,
            node: tc.node,
        }),
        (Some(_), Err(e)) => Err(format!(
            "installed, but there is no provisioned Node: {e:#}"
        )),
        (None, _) => Err(format!(
            "npm {CHECKER_PACKAGE}@{} is not installed in {}",
            pins.npm_version(CHECKER_PACKAGE).unwrap_or("?"),
            checker_dir(cache, pins)
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )),
    };
    LeanHosts {
        official,
        checker_problem: checker.as_ref().err().cloned(),
        checker: checker.ok(),
        tag: pins.lean.tag.clone(),
        elan_install: elan_install_command(pins),
    }
}

impl LeanHosts {
    /// The best host: the official Lean of the pin, else the checker.
    pub fn best(&self) -> Option<LeanHost> {
        if let Some(o) = &self.official.pinned {
            return Some(LeanHost::Official(o.clone()));
        }
        self.checker.clone().map(LeanHost::Checker)
    }

    /// A host of the kind asked for, or why there is none.
    pub fn choose(&self, kind: Option<HostKind>) -> Result<LeanHost> {
        match kind {
            None => self.best().with_context(|| {
                format!(
                    "no Lean host: neither the official Lean {} nor the checker is installed\n  {}\n  \
                     fix: cargo xtask toolchain install (installs the checker; with elan: {})",
                    self.tag,
                    self.checker_problem.clone().unwrap_or_default(),
                    self.elan_install
                )
            }),
            Some(HostKind::Official) => self
                .official
                .pinned
                .clone()
                .map(LeanHost::Official)
                .with_context(|| {
                    format!(
                        "no official Lean {} (elan toolchain or `lean` on PATH)\n  fix: {}",
                        self.tag,
                        self.official_fix()
                    )
                }),
            Some(HostKind::Checker) => {
                self.checker.clone().map(LeanHost::Checker).with_context(|| {
                    format!(
                        "no Lean checker host: {}\n  fix: cargo xtask toolchain install",
                        self.checker_problem.clone().unwrap_or_default()
                    )
                })
            }
        }
    }

    /// The command that installs the official Lean of the pin (elan first, if it is missing).
    pub fn official_fix(&self) -> String {
        match &self.official.elan {
            Some(_) => self.elan_install.clone(),
            None => format!(
                "install elan (https://github.com/leanprover/elan), then `{}`",
                self.elan_install
            ),
        }
    }

    /// When no host at all is usable: why, and the fix. (A required problem for doctor: the
    /// build's lake stage and `lean-check` need a Lean.)
    #[cfg_attr(not(test), allow(dead_code))] // the tests' view of a row
    pub fn problem(&self) -> Option<(String, String)> {
        if self.best().is_some() {
            return None;
        }
        Some((
            format!(
                "no Lean host: no official Lean {} and no checker ({})",
                self.tag,
                self.checker_problem.clone().unwrap_or_default()
            ),
            "cargo xtask toolchain install".into(),
        ))
    }
}
