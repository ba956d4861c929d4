//! The kernel shell (lean-wasm/kernel) linked into the two test modules:
//! - `kernel-test/xlean.js/.wasm`: the shell with the test backend (backend_test.c);
//! - `xlean.js/.wasm` in `kernel-fake-lean/`: the shell with the REAL backend (backend_lean.c),
//!   built through the CMake project's `XLEAN_BACKEND=lean` route exactly as the build driver
//!   will, but linked against a fake Lean (tests/fixtures/kernel/fake-lean: our own stand-in for
//!   lean.h, the Lean runtime and the XLean exports, which cannot be built here).
//!
//! CMake + Ninja (`toolchain::CmakeTree`), one build tree per module: configured again only when
//! its configure stage's stamp (options, the prefix's key, the toolchain) says so; otherwise
//! `cmake --build` lets Ninja decide (an edited source, CMakeLists.txt or JS glue file relinks;
//! nothing changed is a no-op).

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context, Result};

use super::{
    deps::{build_deps, DepsPrefix},
    KernelSources,
};
use crate::layout::Layout;
use crate::{
    paths,
    pins::Pins,
    stamp::{self, Inputs, Stages},
    toolchain::{Toolchain, WASM64_FLAGS},
    util,
};

/// The modules the Node tests load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestModules {
    /// The shell with the test backend: `<build>/kernel-test/xlean.js`.
    pub test_backend: PathBuf,
    /// The shell with the real backend over the fake Lean: `<build>/kernel-fake-lean/xlean.js`.
    pub lean_backend: PathBuf,
    /// The upstream abbreviation table both modules were built with, for the tests to compare.
    pub abbreviations_json: PathBuf,
}

/// Builds what is out of date (dependencies, then both test modules) and returns the modules'
/// JS files (each `.wasm` is beside its `.js`).
pub fn build_test_kernel(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    layout: &Layout,
) -> Result<TestModules> {
    let mut runs = Vec::new();
    let mut run = Stages::new(layout.kernel_stamps(), false, &mut runs);
    build_test_kernel_in(tc, pins, sources, layout, &mut run)
}

/// `run`: records the stages; they keep their stamps in `layout.kernel_stamps()`.
pub(super) fn build_test_kernel_in(
    tc: &Toolchain,
    pins: &Pins,
    sources: &KernelSources,
    layout: &Layout,
    run: &mut Stages,
) -> Result<TestModules> {
    let deps = build_deps(tc, pins, sources, layout, run)?;
    let mut run = run.in_dir(layout.kernel_stamps());
    let fake = fake_lean_library(tc, layout, &mut run)?;
    let mut link = |name: &str, backend_options: Vec<String>| {
        link_module(tc, &deps, layout, &mut run, name, backend_options)
    };
    let test_backend = link("kernel-test", vec!["-DXLEAN_BACKEND=test".to_string()])?;
    let lean_backend = link(
        "kernel-fake-lean",
        vec![
            "-DXLEAN_BACKEND=lean".to_string(),
            format!("-DLEAN_INCLUDE_DIR={}", fake_lean_dir().display()),
            format!("-DXLEAN_LEAN_LIBRARIES={}", fake.display()),
            format!(
                "-DXLEAN_LEAN_VERSION={}",
                pins.lean.tag.trim_start_matches('v')
            ),
        ],
    )?;
    Ok(TestModules {
        test_backend,
        lean_backend,
        abbreviations_json: deps.abbreviations.json.clone(),
    })
}

fn fake_lean_dir() -> PathBuf {
    paths::project_root().join("tests/fixtures/kernel/fake-lean")
}

/// Configures (the stage `<name>-configure`) and builds one module of the kernel CMake project
/// in `<build>/<name>`; returns `xlean.js`, checked to be a wasm64 module with native exceptions.
fn link_module(
    tc: &Toolchain,
    deps: &DepsPrefix,
    layout: &Layout,
    run: &mut Stages,
    name: &str,
    backend_options: Vec<String>,
) -> Result<PathBuf> {
    let source = paths::project_root().join("lean-wasm/kernel");
    let build = layout.root.join(name);
    let cmake = tc
        .cmake_tree(&build)
        .prefix(&deps.prefix)
        .logs(&layout.logs);
    let mut own = vec![
        "-DCMAKE_BUILD_TYPE=Release".to_string(),
        format!("-DXLEAN_VERSION={}", env!("CARGO_PKG_VERSION")),
        // -O2, not Release's -O3: the link takes about a third less time (toolchain.md: 10.7 s
        // against 16.6 s) for the same behaviour.
        "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG".to_string(),
        "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG".to_string(),
        "-DXLEAN_LINK_OPT=-O2".to_string(),
        format!(
            "-DXLEAN_ABBREVIATIONS_SOURCE={}",
            deps.abbreviations.source.display()
        ),
    ];
    own.extend(backend_options);
    let options = cmake.options("", &own);
    let mut inputs = Inputs::new();
    inputs
        .add("options", options.join(" "))
        .add("source", source.display().to_string())
        .add("deps", &deps.key)
        .add("toolchain", tc.fingerprint()?);
    let configure = format!("{name}-configure");
    run.stage(&configure, &inputs, &[build.join("build.ninja")], || {
        util::remove_any(&build)?;
        cmake.configure(&configure, &source, &options)
    })?;
    cmake.build(&format!("{name}-link"), &["xlean"], Some(2))?;
    let js = build.join("xlean.js");
    let wasm = build.join("xlean.wasm");
    ensure!(
        js.is_file() && wasm.is_file(),
        "the kernel link succeeded but left no {} and {}\n  log: {}",
        js.display(),
        wasm.display(),
        layout.logs.join(format!("{name}-link.log")).display()
    );
    check_module(&wasm)?;
    Ok(js)
}

/// The fake Lean (fake_xlean.c) as a wasm64 archive, rebuilt when the fixture changes.
fn fake_lean_library(tc: &Toolchain, layout: &Layout, run: &mut Stages) -> Result<PathBuf> {
    let fixture = fake_lean_dir();
    let out = layout.root.join("kernel-fake-lean-lib");
    let archive = out.join("libfakelean.a");
    // Our own small files: by content (git checkouts re-date files).
    let fixture_files = stamp::files_under(&fixture, &[""])?;
    let mut inputs = Inputs::new();
    inputs
        .add("fixture", stamp::content_fingerprint(&fixture_files)?)
        .add("flags", WASM64_FLAGS)
        .add("toolchain", tc.fingerprint()?);
    run.stage(
        "fake-lean-lib",
        &inputs,
        std::slice::from_ref(&archive),
        || {
            fs::create_dir_all(&out)?;
            let object = out.join("fake_xlean.o");
            tc.step("fake-lean-compile", tc.emcc())
                .args(WASM64_FLAGS.split(' '))
                .args(["-O2", "-Wall", "-Wextra", "-c"])
                .arg("-I")
                .arg(&fixture)
                .arg(fixture.join("fake_xlean.c"))
                .arg("-o")
                .arg(&object)
                .log_dir(&layout.logs)
                .run()?;
            util::remove_any(&archive)?;
            tc.step("fake-lean-archive", tc.emar())
                .arg("rcs")
                .arg(&archive)
                .arg(&object)
                .log_dir(&layout.logs)
                .run()?;
            Ok(())
        },
    )?;
    Ok(archive)
}

/// What the linked module is, as far as the JS side depends on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    ensure!(
        facts.memory64 && facts.table64,
        "{} is not a wasm64 module (64-bit memory: {}, 64-bit table: {})",
        wasm.display(),
        facts.memory64,
        facts.table64
    );
    ensure!(
        facts.js_exception_imports.is_empty(),
        "{} imports emscripten's JS exception helpers ({}): some object was compiled with \
             JS exceptions instead of -fwasm-exceptions",
        wasm.display(),
        facts.js_exception_imports.join(", ")
    );
    Ok(facts)
}

pub(super) fn module_facts(bytes: &[u8]) -> Result<ModuleFacts> {
    use wasmparser::{Parser, Payload, TypeRef};
    let mut facts = ModuleFacts::default();
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
