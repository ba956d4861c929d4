//! The kernel shell (lean-wasm/kernel) linked with the test backend into `xlean-test.js/.wasm`.
//!
//! CMake + Ninja in `<build>/kernel-test`: configured again only when the configuration's stamp
//! (options, the prefix's key, the toolchain) changes; otherwise `cmake --build` lets Ninja
//! decide (an edited source, CMakeLists.txt or JS glue file relinks; nothing changed is a no-op).

use std::path::PathBuf;

use anyhow::{ensure, Result};
use serde_json::json;

use super::{
    deps::{self, build_deps_in},
    stamp::{self, Stamp},
    KernelDirs, KernelSources,
};
use crate::{paths, pins::Pins, runner::Step, toolchain::Toolchain, util};

/// Builds what is out of date (dependencies, then the kernel) and returns the module's JS file
/// (`<build>/kernel-test/xlean-test.js`, next to `xlean-test.wasm`).
pub fn build_test_kernel(tc: &Toolchain, sources: &KernelSources) -> Result<PathBuf> {
    build_test_kernel_in(tc, &Pins::load()?, sources, &KernelDirs::standard())
}

pub(super) fn build_test_kernel_in(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    dirs: &KernelDirs,
) -> Result<PathBuf> {
    let deps = build_deps_in(tc, pins, sources, dirs)?;
    let source = paths::project_root().join("lean-wasm/kernel");
    let build = dirs.test_kernel.clone();

    let mut options = deps::common_cmake_options(tc, &deps.prefix);
    options.extend([
        "-DXLEAN_BACKEND=test".to_string(),
        format!("-DXLEAN_VERSION={}", env!("CARGO_PKG_VERSION")),
        // -O2, not Release's -O3: the link takes half the time for the same behaviour
        // (docs/kernel-shell.md has the figures).
        "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG".to_string(),
        "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG".to_string(),
        "-DXLEAN_LINK_OPT=-O2".to_string(),
    ]);
    let stamp = Stamp::new(
        build.join("xlean-configure.stamp.json"),
        json!({
            "options": options,
            "source": source,
            "deps": deps.key,
            "toolchain": stamp::toolchain_inputs(tc, pins),
        }),
    );
    if !stamp.is_current() || !build.join("build.ninja").is_file() {
        util::remove_any(&build)?;
        Step::new("kernel-test-configure", tc.emcmake())
            .arg(&tc.cmake)
            .arg("-S")
            .arg(&source)
            .arg("-B")
            .arg(&build)
            .args(&options)
            .envs(tc.env())
            .log_dir(&dirs.logs)
            .run()?;
        deps::check_found_in_prefix(&build, &deps.prefix)?;
        stamp.record()?;
    }
    Step::new("kernel-test-link", &tc.cmake)
        .arg("--build")
        .arg(&build)
        .args(["-j", "2", "--target", "xlean-test"])
        .envs(tc.env())
        .log_dir(&dirs.logs)
        .run()?;
    let js = build.join("xlean-test.js");
    let wasm = build.join("xlean-test.wasm");
    ensure!(
        js.is_file() && wasm.is_file(),
        "the kernel link succeeded but left no {} and {}\n  log: {}",
        js.display(),
        wasm.display(),
        dirs.logs.join("kernel-test-link.log").display()
    );
    Ok(js)
}
