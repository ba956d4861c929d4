//! The kernel shell (lean-wasm/kernel) linked with the test backend into `xlean-test.js/.wasm`.
//!
//! CMake + Ninja in `<build>/kernel-test`: configured again only when the configuration's stamp
//! (options, the prefix's key, the toolchain) changes; otherwise `cmake --build` lets Ninja
//! decide (an edited source, CMakeLists.txt or JS glue file relinks; nothing changed is a no-op).

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
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
    check_module(&wasm)?;
    Ok(js)
}

/// What the linked module is, as far as the JS side depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFacts {
    pub memory64: bool,
    pub table64: bool,
    /// Imports named `invoke_*`: emscripten's JS exception handling, which must not be mixed
    /// with native wasm exceptions.
    pub js_exception_imports: Vec<String>,
    pub imports: usize,
}

/// Reads a kernel module's memory, table and imports, and fails unless it is a wasm64 module
/// with native exceptions only. (xeus 6.0.5 adds `-fexceptions`, emscripten's JS exceptions,
/// to its users' compile options for emscripten < 4; with `-fwasm-exceptions` also given, emcc
/// 3.1.69 compiles native ones, and this check keeps it that way.)
pub fn check_module(wasm: &Path) -> Result<ModuleFacts> {
    let bytes = fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let facts = module_facts(&bytes).with_context(|| format!("cannot parse {}", wasm.display()))?;
    if !facts.memory64 || !facts.table64 {
        bail!(
            "{} is not a wasm64 module (64-bit memory: {}, 64-bit table: {})",
            wasm.display(),
            facts.memory64,
            facts.table64
        );
    }
    if !facts.js_exception_imports.is_empty() {
        bail!(
            "{} imports emscripten's JS exception helpers ({}): some object was compiled with \
             JS exceptions instead of -fwasm-exceptions",
            wasm.display(),
            facts.js_exception_imports.join(", ")
        );
    }
    Ok(facts)
}

pub(super) fn module_facts(bytes: &[u8]) -> Result<ModuleFacts> {
    use wasmparser::{Parser, Payload, TypeRef};
    let mut facts = ModuleFacts {
        memory64: false,
        table64: false,
        js_exception_imports: Vec::new(),
        imports: 0,
    };
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import?;
                    facts.imports += 1;
                    match import.ty {
                        TypeRef::Memory(m) => facts.memory64 |= m.memory64,
                        TypeRef::Table(t) => facts.table64 |= t.table64,
                        _ => {}
                    }
                    if import.name.starts_with("invoke_") {
                        facts.js_exception_imports.push(import.name.to_string());
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    facts.memory64 |= m?.memory64;
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    facts.table64 |= t?.ty.table64;
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}
