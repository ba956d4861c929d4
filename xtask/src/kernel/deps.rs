//! nlohmann_json, xeus and xeus-lite as wasm64 static libraries, installed one after another
//! into `<build>/wasm-deps/prefix`, each a stage (`crate::stamp`) configured through
//! `toolchain::CmakeTree` (static xeus, no tests, the wasm64 flags, prefix = install prefix =
//! find root).
//!
//! nlohmann_json is header-only. From a source tree it is configured and installed like the
//! others; without one, Debian's `nlohmann-json3-dev` at the pinned upstream version is
//! downloaded (`apt-get download`, never installed: nothing lands in /usr), hash-checked against
//! pins.lock, unpacked into the tool cache and its headers and CMake package copied into the
//! prefix. CMake is never pointed at /usr, where host headers would leak into the cross build;
//! each configure is checked to have found its packages in the prefix.
//!
//! The abbreviation table the shell compiles in ([`super::abbreviations`]) is made here too, so
//! that every configure of the kernel gets it with the prefix.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};

use super::{
    abbreviations::{abbreviation_table, Abbreviations},
    KernelSources, SourceTree,
};
use crate::layout::Layout;
use crate::{
    fetch::artifact,
    paths::ToolCache,
    pins::{Lock, Pins},
    runner,
    stamp::{self, Inputs, Stages},
    toolchain::Toolchain,
    util,
};

/// The installed prefix and what its contents were built from, with the abbreviation table
/// every kernel module compiles in.
#[derive(Debug, Clone)]
pub struct DepsPrefix {
    pub prefix: PathBuf,
    /// Changes whenever anything installed in the prefix would change (for dependents' stamps).
    pub key: String,
    pub abbreviations: Abbreviations,
    /// The dependencies built by this call (empty: everything was up to date).
    #[cfg_attr(not(test), allow(dead_code))]
    // the tests check that a second call rebuilds nothing
    pub rebuilt: Vec<String>,
}

/// Builds what is out of date and returns the prefix (`<build>/wasm-deps/prefix`) and the
/// abbreviation table ([`abbreviation_table`]). Each dependency is a stage recorded by `run` (the build's report and `--explain`), with its stamp
/// in `<build>/stamps/kernel`.
pub fn build_deps(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    layout: &Layout,
    run: &mut Stages,
) -> Result<DepsPrefix> {
    let prefix = layout.wasm_deps_prefix();
    fs::create_dir_all(&prefix).with_context(|| format!("cannot create {}", prefix.display()))?;
    let mut run = run.in_dir(layout.kernel_stamps());
    // What every dependency depends on; each adds the key of the one before it.
    let mut common = Inputs::new();
    common.add("toolchain", tc.fingerprint()?);

    // nlohmann_json: a source tree, or Debian's package.
    let json_key = match &sources.nlohmann_json {
        Some(tree) => cmake_dep(tc, layout, &mut run, &NLOHMANN, tree, common.clone())?,
        None => {
            let deb = debian_nlohmann(&layout.cache, pins)?;
            let mut inputs = Inputs::new();
            inputs
                .add("debian", &deb.artifact)
                .add("sha256", &deb.sha256);
            let installed = NLOHMANN_INSTALLS.map(|f| prefix.join(f));
            run.stage("nlohmann_json", &inputs, &installed, || {
                install_debian_nlohmann(&deb, &prefix)
            })?;
            inputs.key()
        }
    };
    let mut xeus_inputs = common.clone();
    xeus_inputs.add("nlohmann_json", json_key);
    let xeus_key = cmake_dep(tc, layout, &mut run, &XEUS, &sources.xeus, xeus_inputs)?;
    common.add("xeus", xeus_key);
    let key = cmake_dep(tc, layout, &mut run, &XEUS_LITE, &sources.xeus_lite, common)?;
    let abbreviations = abbreviation_table(tc, pins, layout, &mut run)?;

    let rebuilt = run.ran();
    if rebuilt.is_empty() {
        runner::note(&format!(
            "wasm64 xeus, xeus-lite and nlohmann_json are up to date in {}; the abbreviation \
             table in {}",
            prefix.display(),
            abbreviations.source.display()
        ));
    }
    Ok(DepsPrefix {
        prefix,
        key,
        abbreviations,
        rebuilt,
    })
}

/// A dependency built with CMake from a source tree: its stage name, its own options, what its
/// install leaves in the prefix.
struct CmakeDep {
    name: &'static str,
    options: &'static [&'static str],
    installs: &'static [&'static str],
}

const NLOHMANN_INSTALLS: [&str; 2] = [
    "include/nlohmann/json.hpp",
    "share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake",
];
const NLOHMANN: CmakeDep = CmakeDep {
    name: "nlohmann_json",
    options: &["-DJSON_BuildTests=OFF", "-DJSON_Install=ON"],
    installs: &NLOHMANN_INSTALLS,
};
const XEUS: CmakeDep = CmakeDep {
    name: "xeus",
    options: &[
        "-DXEUS_BUILD_SHARED_LIBS=OFF",
        "-DXEUS_BUILD_STATIC_LIBS=ON",
        "-DXEUS_BUILD_TESTS=OFF",
    ],
    installs: &["lib/libxeus.a"],
};
const XEUS_LITE: CmakeDep = CmakeDep {
    name: "xeus-lite",
    options: &[
        "-DXEUS_LITE_USE_SHARED_XEUS=OFF",
        "-DXEUS_LITE_BUILD_NODE_TESTS=OFF",
    ],
    installs: &["lib/libxeus-lite.a"],
};

/// The stage that configures (from scratch), builds and installs one dependency into the
/// prefix; `inputs` holds what it depends on besides its source and options. Returns the key of
/// its inputs, for its dependents.
fn cmake_dep(
    tc: &Toolchain,
    layout: &Layout,
    run: &mut Stages,
    dep: &CmakeDep,
    tree: &SourceTree,
    mut inputs: Inputs,
) -> Result<String> {
    let name = dep.name;
    let prefix = layout.wasm_deps_prefix();
    let build = layout.wasm_deps.join(format!("{name}-build"));
    let cmake = tc.cmake_tree(&build).prefix(&prefix).logs(&layout.logs);
    let own: Vec<String> = ["-DCMAKE_BUILD_TYPE=Release"]
        .iter()
        .chain(dep.options)
        .map(|o| o.to_string())
        .collect();
    let options = cmake.options("", &own);
    // Source trees can be large: by file metadata (`.git` left out).
    let files = stamp::files_under(&tree.dir, &[""])?;
    inputs
        .add(
            "source",
            format!("{} {} {}", tree.name, tree.version, tree.dir.display()),
        )
        .add("files", stamp::metadata_fingerprint(&tree.dir, &files)?)
        .add("options", options.join(" "));
    let installed: Vec<PathBuf> = dep.installs.iter().map(|f| prefix.join(f)).collect();
    run.stage(name, &inputs, &installed, || {
        // A stale build tree may hold another source's or toolchain's cache: start clean.
        util::remove_any(&build)?;
        cmake.configure(&format!("{name}-configure"), &tree.dir, &options)?;
        cmake.build(&format!("{name}-build"), &[], Some(2))?;
        cmake.install(&format!("{name}-install"))
    })?;
    Ok(inputs.key())
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

fn debian_nlohmann(cache: &ToolCache, pins: &Pins) -> Result<DebianPackage> {
    let upstream = pins.source("nlohmann_json")?.version;
    let (deb, cached) = match cached_deb(&cache.downloads(), &upstream)? {
        Some(deb) => (deb, true),
        None => (download_deb(cache, &upstream)?, false),
    };
    let artifact = deb.file_name().unwrap().to_string_lossy().into_owned();
    if cached {
        Lock::verify_or_record(&Lock::path(), &artifact, &deb)?;
    }
    let sha256 = util::sha256_file(&deb)?;

    let root = cache.root.join(artifact.trim_end_matches(".deb"));
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
    Ok(entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(deb_upstream_version)
                .is_some_and(|v| v == upstream)
        })
        .max())
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
fn download_deb(cache: &ToolCache, upstream: &str) -> Result<PathBuf> {
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
    artifact::apt_download(
        cache,
        &artifact::Deb {
            package: DEBIAN_NLOHMANN,
            version,
            arch: "all",
            suite: None,
        },
    )
}

/// Copies the package's headers and CMake package (relocatable: it finds its include folder
/// relative to itself) into the prefix.
fn install_debian_nlohmann(deb: &DebianPackage, prefix: &Path) -> Result<()> {
    let usr = deb.root.join("usr");
    for dir in ["include/nlohmann", "share/cmake/nlohmann_json"] {
        let dest = prefix.join(dir);
        util::remove_any(&dest)?;
        copy_tree(&usr.join(dir), &dest)?;
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
