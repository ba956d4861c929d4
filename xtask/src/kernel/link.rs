//! The kernel shell (lean-wasm/kernel) linked into the two test modules:
//! - `kernel-test/xlean.js/.wasm`: the shell with the test backend (backend_test.c);
//! - `xlean.js/.wasm` in `kernel-fake-lean/`: the shell with the REAL backend (backend_lean.c),
//!   built through the CMake project's `XLEAN_BACKEND=lean` route exactly as the build driver
//!   will, but linked against a fake Lean (tests/fixtures/kernel/fake-lean: our own stand-in for
//!   lean.h, the Lean runtime and the XLean exports, which cannot be built here).
//!
//! CMake + Ninja, one build tree per module: configured again only when the configuration's
//! stamp (options, the prefix's key, the toolchain) changes; otherwise `cmake --build` lets Ninja
//! decide (an edited source, CMakeLists.txt or JS glue file relinks; nothing changed is a no-op).

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;

use super::{
    deps::{self, build_deps_in, DepsPrefix},
    stamp::{self, Stamp},
    KernelDirs, KernelSources, WASM_FLAGS,
};
use crate::layout::Layout;
use crate::{paths, pins::Pins, toolchain::Toolchain, util};

/// The modules the Node tests load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestModules {
    /// The shell with the test backend: `<build>/kernel-test/xlean.js`.
    pub test_backend: PathBuf,
    /// The shell with the real backend over the fake Lean: `<build>/kernel-fake-lean/xlean.js`.
    pub lean_backend: PathBuf,
}

/// Builds what is out of date (dependencies, then both test modules) and returns the modules'
/// JS files (each `.wasm` is beside its `.js`).
pub fn build_test_kernel(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    layout: &Layout,
) -> Result<TestModules> {
    build_test_kernel_in(tc, pins, sources, &KernelDirs::of(layout))
}

pub(super) fn build_test_kernel_in(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    dirs: &KernelDirs,
) -> Result<TestModules> {
    let deps = build_deps_in(tc, pins, sources, dirs)?;
    let test_backend = link_module(
        tc,
        pins,
        &deps,
        dirs,
        "kernel-test",
        &["-DXLEAN_BACKEND=test".to_string()],
        "xlean",
    )?;
    let fake = fake_lean_library(tc, dirs)?;
    let lean_backend = link_module(
        tc,
        pins,
        &deps,
        dirs,
        "kernel-fake-lean",
        &[
            "-DXLEAN_BACKEND=lean".to_string(),
            format!("-DLEAN_INCLUDE_DIR={}", fake_lean_dir().display()),
            format!("-DXLEAN_LEAN_LIBRARIES={}", fake.display()),
            format!(
                "-DXLEAN_LEAN_VERSION={}",
                pins.lean.tag.trim_start_matches('v')
            ),
        ],
        "xlean",
    )?;
    Ok(TestModules {
        test_backend,
        lean_backend,
    })
}

fn fake_lean_dir() -> PathBuf {
    paths::project_root().join("tests/fixtures/kernel/fake-lean")
}

/// Configures (when its stamp says so) and builds one module of the kernel CMake project in
/// `<build>/<name>`; returns `<target>.js`, checked to be a wasm64 module with native exceptions.
fn link_module(
    tc: &Toolchain,
    pins: &Pins,
    deps: &DepsPrefix,
    dirs: &KernelDirs,
    name: &str,
    backend_options: &[String],
    target: &str,
) -> Result<PathBuf> {
    let source = paths::project_root().join("lean-wasm/kernel");
    let build = dirs.root.join(name);
    let mut options = deps::common_cmake_options(tc, &deps.prefix);
    options.extend([
        format!("-DXLEAN_VERSION={}", env!("CARGO_PKG_VERSION")),
        // -O2, not Release's -O3: the link takes about a third less time (toolchain.md: 10.7 s
        // against 16.6 s) for the same behaviour.
        "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG".to_string(),
        "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG".to_string(),
        "-DXLEAN_LINK_OPT=-O2".to_string(),
    ]);
    options.extend(backend_options.iter().cloned());
    let stamp = Stamp::new(
        dirs.stamps.join(format!("{name}-configure.json")),
        json!({
            "options": options,
            "source": source,
            "deps": deps.key,
            "toolchain": stamp::toolchain_inputs(tc, pins),
        }),
    );
    if !stamp.is_current() || !build.join("build.ninja").is_file() {
        stamp.invalidate()?;
        util::remove_any(&build)?;
        tc.step(format!("{name}-configure"), tc.emcmake())
            .arg(&tc.cmake)
            .arg("-S")
            .arg(&source)
            .arg("-B")
            .arg(&build)
            .args(&options)
            .log_dir(&dirs.logs)
            .run()?;
        deps::check_found_in_prefix(&build, &deps.prefix)?;
        stamp.record()?;
    }
    tc.step(format!("{name}-link"), &tc.cmake)
        .arg("--build")
        .arg(&build)
        .args(["-j", "2", "--target", target])
        .log_dir(&dirs.logs)
        .run()?;
    let js = build.join(format!("{target}.js"));
    let wasm = build.join(format!("{target}.wasm"));
    ensure!(
        js.is_file() && wasm.is_file(),
        "the kernel link succeeded but left no {} and {}\n  log: {}",
        js.display(),
        wasm.display(),
        dirs.logs.join(format!("{name}-link.log")).display()
    );
    check_module(&wasm)?;
    Ok(js)
}

/// The fake Lean (fake_xlean.c) as a wasm64 archive, rebuilt when the fixture changes.
fn fake_lean_library(tc: &Toolchain, dirs: &KernelDirs) -> Result<PathBuf> {
    let fixture = fake_lean_dir();
    let out = dirs.root.join("kernel-fake-lean-lib");
    let archive = out.join("libfakelean.a");
    let stamp = Stamp::new(
        dirs.stamps.join("fake-lean-lib.json"),
        json!({
            // Our own small files: by content (git checkouts re-date files).
            "fixture": stamp::content_fingerprint(&fixture)?,
            "flags": WASM_FLAGS,
            "emcc": tc.emcc(),
        }),
    );
    if stamp.is_current() && archive.is_file() {
        return Ok(archive);
    }
    stamp.invalidate()?;
    fs::create_dir_all(&out)?;
    let object = out.join("fake_xlean.o");
    tc.step("fake-lean-compile", tc.emcc())
        .args(WASM_FLAGS.split(' '))
        .args(["-O2", "-Wall", "-Wextra", "-c"])
        .arg("-I")
        .arg(&fixture)
        .arg(fixture.join("fake_xlean.c"))
        .arg("-o")
        .arg(&object)
        .log_dir(&dirs.logs)
        .run()?;
    util::remove_any(&archive)?;
    tc.step("fake-lean-archive", tc.emar())
        .arg("rcs")
        .arg(&archive)
        .arg(&object)
        .log_dir(&dirs.logs)
        .run()?;
    stamp.record()?;
    Ok(archive)
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
