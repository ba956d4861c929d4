//! Where outputs go: every folder a command writes under the build directory, named once.
//!
//! `main` resolves the build directory once (`--build-dir`, else `XLEAN_BUILD_DIR`, else
//! `<repo>/build`) and hands the [`Layout`] down to the command. Nothing below looks the build
//! directory up again, so a `Layout` made for another folder (the fixture builds of `ci` and
//! `bench`, a test's scratch folder) isolates everything written there. The tool cache is
//! shared on purpose: `main` resolves it once too, and every `Layout` carries it unchanged.

use std::path::{Path, PathBuf};

use crate::paths::{self, ToolCache};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The build directory itself (`cargo xtask clean` removes it).
    pub root: PathBuf,
    /// One log file per step.
    pub logs: PathBuf,
    /// Stage stamps: `<stamps>/<profile>` for the build, `<stamps>/kernel` for the kernel's
    /// dependencies and test modules.
    pub stamps: PathBuf,
    /// Upstream archives, unpacked by `fetch`.
    pub sources: PathBuf,
    /// The patched copy of the lean4 subset the wasm build compiles.
    pub patched: PathBuf,
    /// Lean's output, when the lake stage makes it here.
    pub lean_out: PathBuf,
    /// The kernel's wasm64 dependencies: one build tree each, and the prefix they share.
    pub wasm_deps: PathBuf,
    /// The install prefix when `--prefix` is not given.
    pub prefix: PathBuf,
    /// The JupyterLite site when `--output-dir` is not given.
    pub site: PathBuf,
    /// Where `jupyter lite build` runs (its task database and cache).
    pub lite_work: PathBuf,
    /// The gzip copies of the site's files, named by their original's sha256, kept between
    /// `lite` runs (`jupyter lite build` makes the site afresh each time).
    pub site_gz: PathBuf,
    /// The site's JupyterLab extension (highlighting, progress, watchdog): its sources with their npm tree, and the
    /// built extension.
    pub lab_extension: PathBuf,
    /// `lean-check`'s compiled modules and cached results.
    pub lean_check: PathBuf,
    /// The acceptance report (`report.md`, `report.json`) of `ci --real`, or of `ci`'s fixture run.
    pub acceptance: PathBuf,
    /// The tool cache (not under `root`): toolchains, the venv, downloads.
    pub cache: ToolCache,
}

impl Layout {
    /// Every folder under `root` (made absolute against the current directory), and the tool
    /// cache `cache`.
    pub fn new(root: &Path, cache: ToolCache) -> Layout {
        let root = paths::absolute(root);
        Layout {
            logs: root.join("logs"),
            stamps: root.join("stamps"),
            sources: root.join("sources"),
            patched: root.join("lean4-patched"),
            lean_out: root.join("lean-out"),
            wasm_deps: root.join("wasm-deps"),
            prefix: root.join("prefix"),
            site: root.join("site"),
            lite_work: root.join("lite-work"),
            site_gz: root.join("site-gz"),
            lab_extension: root.join("lab-extension"),
            lean_check: root.join("lean-check"),
            acceptance: root.join("acceptance"),
            cache,
            root,
        }
    }

    /// The build directory of this command line: `dir` (from `--build-dir`), else
    /// `XLEAN_BUILD_DIR` (which `cargo test` processes see too), else `<repo>/build`; and its
    /// tool cache: [`ToolCache::standard`] of `cache_dir` (from `--cache-dir`).
    pub fn standard(dir: Option<&Path>, cache_dir: Option<&Path>) -> Layout {
        let cache = ToolCache::standard(cache_dir);
        let env = std::env::var_os("XLEAN_BUILD_DIR").filter(|d| !d.is_empty());
        match (dir, env) {
            (Some(dir), _) => Layout::new(dir, cache),
            (None, Some(env)) => Layout::new(Path::new(&env), cache),
            (None, None) => Layout::new(&paths::project_root().join("build"), cache),
        }
    }

    /// A build of its own inside this one (`ci`'s fixture build, a benchmark's), logging into
    /// the same folder as its parent so that one command's logs stay together.
    pub fn nested(&self, name: &str) -> Layout {
        Layout {
            logs: self.logs.clone(),
            ..Layout::new(&self.root.join(name), self.cache.clone())
        }
    }

    /// The stamps of the kernel's dependencies and test modules (`nlohmann_json`, `xeus`,
    /// `xeus-lite`, `fake-lean-lib`, `<module>-configure`).
    pub fn kernel_stamps(&self) -> PathBuf {
        self.stamps.join("kernel")
    }

    /// The stamps of `lite`'s stages (the xlean JupyterLab extension).
    pub fn lite_stamps(&self) -> PathBuf {
        self.stamps.join("lite")
    }

    /// The prefix nlohmann_json, xeus and xeus-lite are installed into.
    pub fn wasm_deps_prefix(&self) -> PathBuf {
        self.wasm_deps.join("prefix")
    }
}

/// The build's folders for one profile and one choice of embedded `.olean` files.
pub struct BuildDirs {
    /// `<stamps>/<profile>`.
    pub stamps: PathBuf,
    pub patched: PathBuf,
    pub lean_out: PathBuf,
    /// The embedded `.olean` files, staged: `oleans-<embed>`.
    pub oleans: PathBuf,
    /// The CMake build tree: `wasm-<profile>`.
    pub wasm: PathBuf,
    /// Files the build writes for CMake (`sources.cmake`, the symbol table).
    pub generated: PathBuf,
    /// The install prefix: `prefix` (from `--prefix`, made absolute) or the layout's.
    pub prefix: PathBuf,
}

impl Layout {
    pub fn build_dirs(&self, profile: &str, embed: &str, prefix: Option<&Path>) -> BuildDirs {
        let wasm = self.root.join(format!("wasm-{profile}"));
        BuildDirs {
            stamps: self.stamps.join(profile),
            patched: self.patched.clone(),
            lean_out: self.lean_out.clone(),
            oleans: self.root.join(format!("oleans-{embed}")),
            generated: wasm.join("generated"),
            prefix: prefix.map_or_else(|| self.prefix.clone(), paths::absolute),
            wasm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_folder_is_under_the_root_and_a_nested_build_shares_the_logs_and_cache() {
        let cache = ToolCache {
            root: PathBuf::from("/c"),
        };
        let top = Layout::new(Path::new("/b"), cache.clone());
        for dir in [
            &top.logs,
            &top.sources,
            &top.wasm_deps,
            &top.site,
            &top.site_gz,
            &top.prefix,
        ] {
            assert!(dir.starts_with("/b"), "{}", dir.display());
        }
        let nested = top.nested("ci-fixture");
        assert_eq!(nested.prefix, Path::new("/b/ci-fixture/prefix"));
        assert_eq!(nested.sources, Path::new("/b/ci-fixture/sources"));
        assert_eq!(nested.logs, top.logs);
        assert_eq!(nested.cache, cache);
    }

    #[test]
    fn a_relative_build_dir_is_made_absolute() {
        let layout = Layout::new(Path::new("rel/build"), ToolCache::default());
        assert!(layout.root.is_absolute(), "{}", layout.root.display());
        assert!(layout.logs.is_absolute());
    }
}
