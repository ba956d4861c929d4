//! nlohmann_json, xeus and xeus-lite as wasm64 static libraries, installed one after another
//! into `<build>/wasm-deps/prefix` (the configuration that builds them for wasm64: static xeus,
//! no tests, `-sMEMORY64 -fwasm-exceptions` in both C and C++ flags, prefix = install prefix =
//! find root).
//!
//! nlohmann_json is header-only. From a source tree it is configured and installed like the
//! others; without one, Debian's `nlohmann-json3-dev` at the pinned upstream version is
//! downloaded (`apt-get download`, never installed: nothing lands in /usr), hash-checked against
//! pins.lock, unpacked into the tool cache and its headers and CMake package copied into the
//! prefix. CMake is never pointed at /usr, where host headers would leak into the cross build;
//! each configure is checked to have found nlohmann_json in the prefix.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;

use super::{
    stamp::{self, Stamp},
    KernelDirs, KernelSources, SourceTree, WASM_FLAGS,
};
use crate::layout::Layout;
use crate::{
    fetch::artifact,
    paths,
    pins::{Lock, Pins},
    runner,
    toolchain::Toolchain,
    util,
};

/// The installed prefix and what its contents were built from.
#[derive(Debug, Clone)]
pub struct DepsPrefix {
    pub prefix: PathBuf,
    /// Changes whenever anything installed in the prefix would change (for dependents' stamps).
    pub key: String,
    /// The dependencies built by this call (empty: everything was up to date).
    #[cfg_attr(not(test), allow(dead_code))]
    // the tests check that a second call rebuilds nothing
    pub rebuilt: Vec<&'static str>,
}

/// Builds what is out of date and returns the prefix (`<build>/wasm-deps/prefix`).
pub fn build_deps(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    layout: &Layout,
) -> Result<DepsPrefix> {
    build_deps_in(tc, pins, sources, &KernelDirs::of(layout))
}

pub(super) fn build_deps_in(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    dirs: &KernelDirs,
) -> Result<DepsPrefix> {
    let prefix = dirs.prefix();
    fs::create_dir_all(&prefix).with_context(|| format!("cannot create {}", prefix.display()))?;
    let toolchain = stamp::toolchain_inputs(tc, pins);
    let stamp_path = |name: &str| dirs.stamps.join(format!("{name}.json"));
    let mut rebuilt = Vec::new();

    // nlohmann_json: a source tree, or Debian's package.
    let json_stamp = match &sources.nlohmann_json {
        Some(tree) => {
            let stamp = Stamp::new(
                stamp_path("nlohmann_json"),
                json!({
                    "source": tree_inputs(tree)?,
                    "flags": WASM_FLAGS,
                    "toolchain": toolchain,
                    "options": NLOHMANN_OPTIONS,
                }),
            );
            if !stamp.is_current() || !nlohmann_installed(&prefix) {
                stamp.invalidate()?;
                cmake_project(tc, dirs, "nlohmann_json", &tree.dir, NLOHMANN_OPTIONS)?;
                stamp.record()?;
                rebuilt.push("nlohmann_json");
            }
            stamp
        }
        None => {
            let deb = debian_nlohmann(pins)?;
            let stamp = Stamp::new(
                stamp_path("nlohmann_json"),
                json!({ "debian": deb.artifact, "sha256": deb.sha256 }),
            );
            if !stamp.is_current() || !nlohmann_installed(&prefix) {
                stamp.invalidate()?;
                install_debian_nlohmann(&deb, &prefix)?;
                stamp.record()?;
                rebuilt.push("nlohmann_json");
            }
            stamp
        }
    };

    let xeus_stamp = Stamp::new(
        stamp_path("xeus"),
        json!({
            "source": tree_inputs(&sources.xeus)?,
            "flags": WASM_FLAGS,
            "options": XEUS_OPTIONS,
            "toolchain": toolchain,
            "nlohmann_json": json_stamp.key(),
        }),
    );
    if !xeus_stamp.is_current() || !prefix.join("lib/libxeus.a").is_file() {
        xeus_stamp.invalidate()?;
        cmake_project(tc, dirs, "xeus", &sources.xeus.dir, XEUS_OPTIONS)?;
        xeus_stamp.record()?;
        rebuilt.push("xeus");
    }

    let lite_stamp = Stamp::new(
        stamp_path("xeus-lite"),
        json!({
            "source": tree_inputs(&sources.xeus_lite)?,
            "flags": WASM_FLAGS,
            "options": XEUS_LITE_OPTIONS,
            "toolchain": toolchain,
            "xeus": xeus_stamp.key(),
        }),
    );
    if !lite_stamp.is_current() || !prefix.join("lib/libxeus-lite.a").is_file() {
        lite_stamp.invalidate()?;
        cmake_project(
            tc,
            dirs,
            "xeus-lite",
            &sources.xeus_lite.dir,
            XEUS_LITE_OPTIONS,
        )?;
        lite_stamp.record()?;
        rebuilt.push("xeus-lite");
    }
    if rebuilt.is_empty() {
        runner::note(&format!(
            "wasm64 xeus, xeus-lite and nlohmann_json are up to date in {}",
            prefix.display()
        ));
    }
    Ok(DepsPrefix {
        prefix,
        key: lite_stamp.key().to_string(),
        rebuilt,
    })
}

const NLOHMANN_OPTIONS: &[&str] = &["-DJSON_BuildTests=OFF", "-DJSON_Install=ON"];
const XEUS_OPTIONS: &[&str] = &[
    "-DXEUS_BUILD_SHARED_LIBS=OFF",
    "-DXEUS_BUILD_STATIC_LIBS=ON",
    "-DXEUS_BUILD_TESTS=OFF",
];
const XEUS_LITE_OPTIONS: &[&str] = &[
    "-DXEUS_LITE_USE_SHARED_XEUS=OFF",
    "-DXEUS_LITE_BUILD_NODE_TESTS=OFF",
];

fn tree_inputs(tree: &SourceTree) -> Result<serde_json::Value> {
    Ok(json!({
        "name": tree.name,
        "version": tree.version,
        "dir": tree.dir,
        "files": stamp::tree_fingerprint(&tree.dir)?,
    }))
}

fn nlohmann_installed(prefix: &Path) -> bool {
    prefix.join("include/nlohmann/json.hpp").is_file()
        && prefix
            .join("share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake")
            .is_file()
}

/// The options every dependency and the kernel shell are configured with.
pub(super) fn common_cmake_options(tc: &Toolchain, prefix: &Path) -> Vec<String> {
    let p = prefix.display();
    vec![
        "-G".into(),
        "Ninja".into(),
        format!("-DCMAKE_MAKE_PROGRAM={}", tc.ninja.display()),
        "-DCMAKE_BUILD_TYPE=Release".into(),
        format!("-DCMAKE_C_FLAGS={WASM_FLAGS}"),
        format!("-DCMAKE_CXX_FLAGS={WASM_FLAGS}"),
        format!("-DCMAKE_INSTALL_PREFIX={p}"),
        format!("-DCMAKE_PREFIX_PATH={p}"),
        format!("-DCMAKE_FIND_ROOT_PATH={p}"),
    ]
}

/// Configures (from scratch), builds and installs one CMake project into the prefix.
fn cmake_project(
    tc: &Toolchain,
    dirs: &KernelDirs,
    name: &str,
    source: &Path,
    options: &[&str],
) -> Result<()> {
    let build = dirs.deps.join(format!("{name}-build"));
    // A stale build tree may hold another source's or toolchain's cache: start clean.
    util::remove_any(&build)?;
    let prefix = dirs.prefix();
    tc.step(format!("{name}-configure"), tc.emcmake())
        .arg(&tc.cmake)
        .arg("-S")
        .arg(source)
        .arg("-B")
        .arg(&build)
        .args(common_cmake_options(tc, &prefix))
        .args(options)
        .log_dir(&dirs.logs)
        .run()?;
    check_found_in_prefix(&build, &prefix)?;
    tc.step(format!("{name}-build"), &tc.cmake)
        .arg("--build")
        .arg(&build)
        .args(["-j", "2"])
        .log_dir(&dirs.logs)
        .run()?;
    tc.step(format!("{name}-install"), &tc.cmake)
        .arg("--install")
        .arg(&build)
        .log_dir(&dirs.logs)
        .run()?;
    Ok(())
}

/// Every package a configure found must come from the prefix: a `*_DIR` outside it means host
/// headers or libraries would be compiled into the wasm64 build.
pub(super) fn check_found_in_prefix(build: &Path, prefix: &Path) -> Result<()> {
    let cache = build.join("CMakeCache.txt");
    let text =
        fs::read_to_string(&cache).with_context(|| format!("cannot read {}", cache.display()))?;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Some((var, kind)) = key.split_once(':') else {
            continue;
        };
        let package = ["nlohmann_json_DIR", "xeus_DIR", "xeus-lite_DIR"];
        if kind == "PATH" && package.contains(&var) && !value.ends_with("-NOTFOUND") {
            ensure!(
                Path::new(value).starts_with(prefix),
                "{} found {var} outside the wasm64 prefix: {value}\n  \
                 host packages must not reach the cross build; the prefix is {}\n  \
                 fix: remove that package from CMake's search path, or report this as a bug",
                cache.display(),
                prefix.display()
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// nlohmann_json from Debian

/// Debian's package, downloaded and unpacked into the tool cache.
pub(super) struct DebianPackage {
    /// The .deb's file name, also its key in pins.lock.
    pub artifact: String,
    pub sha256: String,
    /// Where it is unpacked (holds `usr/`).
    pub root: PathBuf,
}

const DEBIAN_NLOHMANN: &str = "nlohmann-json3-dev";

fn debian_nlohmann(pins: &Pins) -> Result<DebianPackage> {
    let upstream = pins.source("nlohmann_json")?.version;
    let deb = match cached_deb(&paths::downloads_dir(), &upstream)? {
        Some(deb) => {
            let name = deb.file_name().unwrap().to_string_lossy().into_owned();
            Lock::verify_or_record(&Lock::path(), &name, &deb)?;
            deb
        }
        None => download_deb(&upstream)?,
    };
    let artifact = deb.file_name().unwrap().to_string_lossy().into_owned();
    let sha256 = util::sha256_file(&deb)?;

    let root = paths::cache_dir().join(artifact.trim_end_matches(".deb"));
    if !root.join("usr/include/nlohmann/json.hpp").is_file() {
        util::make_dir_atomically(&root, |dir| {
            artifact::unpack_deb(&deb, dir)?;
            ensure!(
                dir.join("usr/include/nlohmann/json.hpp").is_file()
                    && dir
                        .join("usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake")
                        .is_file(),
                "{} holds no usr/include/nlohmann/json.hpp and CMake package",
                deb.display()
            );
            Ok(())
        })?;
    }
    Ok(DebianPackage {
        artifact,
        sha256,
        root,
    })
}

/// A .deb of the pinned upstream version already in the download cache.
fn cached_deb(downloads: &Path, upstream: &str) -> Result<Option<PathBuf>> {
    let Ok(entries) = fs::read_dir(downloads) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(deb_upstream_version)
                .is_some_and(|v| v == upstream)
        })
        .collect();
    found.sort();
    Ok(found.pop())
}

/// The upstream version in a file name `nlohmann-json3-dev_<debian version>_all.deb`.
pub(super) fn deb_upstream_version(file_name: &str) -> Option<String> {
    let version = file_name
        .strip_prefix(DEBIAN_NLOHMANN)?
        .strip_prefix('_')?
        .strip_suffix("_all.deb")?;
    // dpkg writes an epoch `1:` as `1%3a` in file names.
    let version = version.split_once("%3a").map_or(version, |(_, v)| v);
    Some(upstream_of(version).to_string())
}

/// `3.11.2-2` → `3.11.2` (epoch and Debian revision removed).
pub(super) fn upstream_of(debian_version: &str) -> &str {
    let v = debian_version
        .split_once(':')
        .map_or(debian_version, |(_, v)| v);
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

/// The Debian versions `apt-cache madison` lists whose upstream part is `upstream`.
pub(super) fn madison_versions(madison: &str, upstream: &str) -> Vec<String> {
    madison
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('|').map(str::trim);
            let (package, version) = (cols.next()?, cols.next()?);
            (package == DEBIAN_NLOHMANN && upstream_of(version) == upstream)
                .then(|| version.to_string())
        })
        .collect()
}

/// `apt-get download` of the Debian version of nlohmann_json at the pinned upstream version.
fn download_deb(upstream: &str) -> Result<PathBuf> {
    let no_source = format!(
        "no nlohmann_json source tree was given and Debian's {DEBIAN_NLOHMANN} cannot be used"
    );
    if crate::toolchain::which("apt-get").is_none() || crate::toolchain::which("dpkg").is_none() {
        bail!(
            "{no_source}: this is not a Debian system (no apt-get/dpkg)\n  \
             fix: pass --source nlohmann_json=DIR (nlohmann/json {upstream}) or set it in \
             <cache>/local-sources.toml"
        );
    }
    let madison = runner::cmd("apt-cache")
        .args(["madison", DEBIAN_NLOHMANN])
        .read()
        .unwrap_or_default();
    let versions = madison_versions(&madison, upstream);
    let Some(version) = versions.first() else {
        bail!(
            "{no_source}: apt knows no {DEBIAN_NLOHMANN} at upstream version {upstream} \
             (pins.toml [sources.nlohmann_json])\n  apt-cache madison said:\n{}\n  \
             fix: `sudo apt-get update`, or pass --source nlohmann_json=DIR",
            if madison.trim().is_empty() {
                "    (nothing)".to_string()
            } else {
                madison
                    .lines()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        );
    };
    artifact::apt_download(&artifact::Deb {
        package: DEBIAN_NLOHMANN,
        version,
        arch: "all",
        suite: None,
    })
}

/// Copies the package's headers and CMake package (relocatable: it finds its include folder
/// relative to itself) into the prefix.
fn install_debian_nlohmann(deb: &DebianPackage, prefix: &Path) -> Result<()> {
    let usr = deb.root.join("usr");
    for (from, to) in [
        ("include/nlohmann", "include/nlohmann"),
        ("share/cmake/nlohmann_json", "share/cmake/nlohmann_json"),
    ] {
        let dest = prefix.join(to);
        util::remove_any(&dest)?;
        copy_tree(&usr.join(from), &dest)?;
    }
    runner::note(&format!(
        "nlohmann_json: {} (Debian package, sha256 {}) copied into {}",
        deb.artifact,
        &deb.sha256[..12],
        prefix.display()
    ));
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}
