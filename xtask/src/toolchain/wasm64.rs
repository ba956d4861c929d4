//! The one way a wasm64 CMake project is configured, built and installed: the build's project
//! (`build/stages.rs`), the kernel's dependencies and test modules (`kernel/deps.rs`,
//! `kernel/link.rs`) all go through [`CmakeTree`], with [`WASM64_FLAGS`] in every object.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context, Result};

use super::Toolchain;
use crate::stamp;

/// Compile flags every wasm64 object is built with, C and C++ alike (`CMAKE_C_FLAGS` must carry
/// `-sMEMORY64` even for C++ projects: CMake's try-compile and any C file in a dependency use it).
pub const WASM64_FLAGS: &str = "-sMEMORY64 -fwasm-exceptions";

impl Toolchain {
    /// The toolchain as far as it decides what a compiler produces (its record and emscripten's
    /// config, by content): a stamp input of everything compiled.
    pub fn fingerprint(&self) -> Result<String> {
        let record = Toolchain::record_path(&self.cache);
        stamp::content_fingerprint(&[record, self.em_config.clone()])
    }

    /// The CMake build tree `dir`.
    pub fn cmake_tree(&self, dir: &Path) -> CmakeTree<'_> {
        CmakeTree {
            tc: self,
            dir: dir.to_path_buf(),
            prefix: None,
            logs: None,
        }
    }
}

/// A wasm64 CMake build tree (Ninja), with the prefix its packages come from and go to.
pub struct CmakeTree<'a> {
    tc: &'a Toolchain,
    dir: PathBuf,
    prefix: Option<PathBuf>,
    /// `None`: the command's logs folder (the runner's default).
    logs: Option<PathBuf>,
}

impl CmakeTree<'_> {
    /// Packages are found only in `prefix` (and installed there): CMake never looks at /usr,
    /// where host headers would leak into the cross build; each configure checks it.
    pub fn prefix(mut self, prefix: &Path) -> Self {
        self.prefix = Some(prefix.to_path_buf());
        self
    }

    /// Where the steps' logs go [default: the build's logs folder].
    pub fn logs(mut self, dir: &Path) -> Self {
        self.logs = Some(dir.to_path_buf());
        self
    }

    /// What every configure of this tree is given, then the caller's `own` options: Ninja, C and
    /// C++ flags [`WASM64_FLAGS`] and `flags`, the prefix as install prefix, package path and
    /// find root. Stamps record the result.
    pub fn options(&self, flags: &str, own: &[String]) -> Vec<String> {
        let flags = format!("{WASM64_FLAGS} {flags}");
        let mut options = vec![
            "-G".into(),
            "Ninja".into(),
            format!("-DCMAKE_MAKE_PROGRAM={}", self.tc.ninja.display()),
            format!("-DCMAKE_C_FLAGS={}", flags.trim_end()),
            format!("-DCMAKE_CXX_FLAGS={}", flags.trim_end()),
        ];
        if let Some(p) = &self.prefix {
            let p = p.display();
            options.extend([
                format!("-DCMAKE_INSTALL_PREFIX={p}"),
                format!("-DCMAKE_PREFIX_PATH={p}"),
                format!("-DCMAKE_FIND_ROOT_PATH={p}"),
            ]);
        }
        options.extend(own.iter().cloned());
        options
    }

    /// `emcmake cmake -S source -B <tree>` with `options` (from [`CmakeTree::options`]); then
    /// every package found must come from the prefix.
    pub fn configure(&self, step: &str, source: &Path, options: &[String]) -> Result<()> {
        self.step(step, self.tc.emcmake())
            .arg(&self.tc.cmake)
            .arg("-S")
            .arg(source)
            .arg("-B")
            .arg(&self.dir)
            .args(options)
            .run()?;
        match &self.prefix {
            Some(prefix) => check_found_in_prefix(&self.dir, prefix),
            None => Ok(()),
        }
    }

    /// `cmake --build` of `targets` (none: all), with `jobs` parallel jobs [default: Ninja's].
    pub fn build(&self, step: &str, targets: &[&str], jobs: Option<usize>) -> Result<()> {
        let mut s = self
            .step(step, &self.tc.cmake)
            .arg("--build")
            .arg(&self.dir);
        if !targets.is_empty() {
            s = s.arg("--target").args(targets);
        }
        if let Some(j) = jobs {
            s = s.arg(format!("-j{j}"));
        }
        s.run()?;
        Ok(())
    }

    /// `cmake --install` into the prefix.
    pub fn install(&self, step: &str) -> Result<()> {
        self.step(step, &self.tc.cmake)
            .arg("--install")
            .arg(&self.dir)
            .run()?;
        Ok(())
    }

    fn step(&self, name: &str, program: impl AsRef<std::ffi::OsStr>) -> crate::runner::Step {
        let step = self.tc.step(name, program);
        match &self.logs {
            Some(dir) => step.log_dir(dir),
            None => step,
        }
    }
}

/// Every package a configure found must come from the prefix: a `*_DIR` outside it means host
/// headers or libraries would be compiled into the wasm64 build.
fn check_found_in_prefix(build: &Path, prefix: &Path) -> Result<()> {
    let cache = build.join("CMakeCache.txt");
    let text =
        fs::read_to_string(&cache).with_context(|| format!("cannot read {}", cache.display()))?;
    for line in text.lines() {
        let entry = line
            .split_once('=')
            .and_then(|(k, v)| Some((k.split_once(':')?, v)));
        let Some(((var, kind), value)) = entry else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_found_outside_the_prefix_is_refused() {
        let dir = crate::util::test_dir("cmake-cache-check");
        let prefix = dir.join("prefix");
        let p = prefix.display();
        let cache = |text: String| fs::write(dir.join("CMakeCache.txt"), text).unwrap();
        cache(format!(
            "xeus_DIR:PATH={p}/lib/cmake/xeus\nnlohmann_json_DIR:PATH=/usr/share/cmake/nlohmann_json\n"
        ));
        let err = format!("{:#}", check_found_in_prefix(&dir, &prefix).unwrap_err());
        crate::util::assert_contains(&err, &["nlohmann_json_DIR outside the wasm64 prefix"]);
        cache(format!(
            "nlohmann_json_DIR:PATH={p}/share/cmake/nlohmann_json\n"
        ));
        check_found_in_prefix(&dir, &prefix).unwrap();
    }
}
