//! `cargo xtask toolchain`: the pinned wasm64 toolchain, provisioned into the tool cache.
//!
//! `install` resolves or provisions every tool and records the result in
//! `<cache>/toolchain.json`, written last and atomically: a run that was interrupted leaves no
//! record, so nothing half-installed is ever trusted. Every other command reads that record
//! through [`Toolchain::load`].

use std::{
    ffi::{OsStr, OsString},
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::{
    paths::ToolCache,
    runner::{self, Step},
    util,
};

mod install;
// For the browser test's own tools (lite): Debian packages and npm tarballs, installed the same way.
pub use install::ensure_debian_packages;
pub mod lean_host;
pub mod node;
#[cfg(test)]
mod smoke;
mod wasm64;
pub use wasm64::WASM64_FLAGS;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Provision everything that is missing (idempotent; a second run changes nothing)
    Install(install::Args),
    /// Print the installed toolchain record
    Show,
}

pub fn run(cmd: Command, cache: &ToolCache) -> Result<()> {
    match cmd {
        Command::Install(args) => install::run(args, cache),
        Command::Show => {
            let tc = Toolchain::load(cache)?;
            println!("{}", serde_json::to_string_pretty(&tc)?);
            Ok(())
        }
    }
}

/// `toolchain install` with default options (what `ci` and `build` run first).
pub fn install_default(cache: &ToolCache) -> Result<()> {
    install::run(install::Args::default(), cache)
}

/// How emscripten was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// An emscripten that was already installed (EMSDK, EM_CONFIG or emcc on PATH).
    Existing,
    /// Debian: bookworm LLVM, the trixie emscripten package unpacked, npm binaryen.
    Debian,
    /// emsdk, for machines that can reach GitHub.
    Emsdk,
}

/// The installed toolchain, as recorded in `<cache>/toolchain.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Toolchain {
    pub route: Route,
    /// The folder holding `emcc`, `em++`, `emcmake`, `emar`, `embuilder`.
    pub emscripten_dir: PathBuf,
    /// The `EM_CONFIG` file every emscripten tool must see.
    pub em_config: PathBuf,
    /// emscripten's writable cache; it holds the system libraries ([`Self::wasm64_libs`]).
    pub em_cache: PathBuf,
    /// `clang`, `wasm-ld`, `llvm-ar`, `llvm-nm` live here.
    pub llvm_bin: PathBuf,
    /// A Node that passed the wasm64 probe (64-bit memory and table).
    pub node: PathBuf,
    /// The npm every caller runs (its `npm-cli.js`, run by `node`): chosen once, here.
    pub npm: node::Npm,
    /// The managed Python venv (JupyterLite).
    pub venv: PathBuf,
    /// `cmake` and `ninja`.
    pub cmake: PathBuf,
    pub ninja: PathBuf,
    /// The tool cache the record lives in (not recorded: [`Toolchain::load`] sets it), where the
    /// toolchain's users keep their npm packages and downloads too.
    #[serde(skip)]
    pub cache: ToolCache,
}

impl Toolchain {
    /// `<cache>/toolchain.json`.
    pub fn record_path(cache: &ToolCache) -> PathBuf {
        cache.root.join("toolchain.json")
    }

    /// The toolchain installed in `cache`, or an error that says how to install it.
    pub fn load(cache: &ToolCache) -> Result<Toolchain> {
        let path = Toolchain::record_path(cache);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "the wasm64 toolchain is not installed (no {})\n  fix: cargo xtask toolchain install",
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut tc: Toolchain = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is damaged\n  fix: cargo xtask toolchain install (it rewrites the record)",
                path.display()
            )
        })?;
        for (what, p) in [
            ("emcc", tc.emcc()),
            ("EM_CONFIG", tc.em_config.clone()),
            ("node", tc.node.clone()),
            ("npm", tc.npm.cli.clone()),
            ("llvm-nm", tc.llvm_tool("llvm-nm")),
        ] {
            ensure!(
                p.exists(),
                "{what} recorded in {} is gone: {}\n  fix: cargo xtask toolchain install",
                path.display(),
                p.display()
            );
        }
        tc.cache = cache.clone();
        Ok(tc)
    }

    pub(crate) fn save(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        util::write_atomic(&Toolchain::record_path(&self.cache), text.as_bytes())
    }

    pub fn emcc(&self) -> PathBuf {
        self.emscripten_dir.join("emcc")
    }
    pub fn empp(&self) -> PathBuf {
        self.emscripten_dir.join("em++")
    }
    pub fn emar(&self) -> PathBuf {
        self.emscripten_dir.join("emar")
    }
    pub fn emcmake(&self) -> PathBuf {
        self.emscripten_dir.join("emcmake")
    }
    pub fn embuilder(&self) -> PathBuf {
        self.emscripten_dir.join("embuilder")
    }
    pub fn llvm_tool(&self, name: &str) -> PathBuf {
        self.llvm_bin.join(name)
    }
    pub fn python(&self) -> PathBuf {
        self.venv.join("bin/python")
    }
    /// `<em_cache>/sysroot/lib/wasm64-emscripten/`: the system libraries (libc, libc++...)
    /// install prebuilds.
    pub fn wasm64_libs(&self) -> PathBuf {
        self.em_cache.join("sysroot/lib/wasm64-emscripten")
    }

    /// A logged step that runs with the toolchain's environment ([`Toolchain::env`]).
    pub fn step(&self, name: impl Into<String>, program: impl AsRef<OsStr>) -> Step {
        Step::new(name, program).envs(self.env())
    }

    /// A short command (see [`runner::cmd`]) that runs with the toolchain's environment.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Step {
        runner::cmd(program).envs(self.env())
    }

    /// Environment for any process that runs emscripten or the built module: `EM_CONFIG`, and a
    /// `PATH` with the pinned node, emscripten, LLVM, cmake and ninja first.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for d in [
            self.node.parent(),
            Some(self.emscripten_dir.as_path()),
            Some(self.llvm_bin.as_path()),
            self.cmake.parent(),
            self.ninja.parent(),
        ]
        .into_iter()
        .flatten()
        {
            if !dirs.iter().any(|x| x == d) {
                dirs.push(d.to_path_buf());
            }
        }
        if let Some(old) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&old));
        }
        let path = std::env::join_paths(dirs).unwrap_or_default();
        vec![
            ("EM_CONFIG".into(), self.em_config.clone().into_os_string()),
            ("PATH".into(), path),
            // emcc must not pick up another emscripten's settings from the user's shell.
            ("EMSDK_QUIET".into(), "1".into()),
        ]
    }
}

/// For tests that need the installed toolchain: `None` when there is none, after
/// [`crate::gate::skip`] (which fails the test where CI requires the toolchain).
#[cfg(test)]
pub fn for_tests() -> Option<Toolchain> {
    Toolchain::load(&ToolCache::standard(None))
        .map_err(|e| crate::gate::skip(crate::gate::Need::Toolchain, &format!("{e:#}")))
        .ok()
}

/// `Path::exists` that also accepts a file found by name on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = Path::new(name);
        return p.is_file().then(|| p.to_path_buf());
    }
    find_on_path(&std::env::var_os("PATH")?, name)
}

/// The file `name` in the first folder of `path` (a `PATH` value) that holds one.
pub fn find_on_path(path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
