//! The build's stages, one function each, in pipeline order (`build()` in mod.rs calls them).
//!
//! Each stage declares its inputs (a name → fingerprint map) and outputs and runs through
//! [`Stages::stage`], which skips it when its stamp matches and its outputs exist. What a stage
//! hands to the next is returned as a value, so the order of the calls is the data flow. The
//! CMake project is configured and built through [`toolchain::CmakeTree`], as the kernel's are.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Result};

use super::{
    lean_out::{self, LeanOutput, Origin},
    oleans, prefix, Args, Profile,
};
use crate::{
    abi_check, fetch, kernel,
    layout::{BuildDirs, Layout},
    patch,
    paths::{self, ToolCache},
    pins::Pins,
    prefix::{self as contract, Backend, KernelSpec},
    runner,
    stamp::{self, Inputs, Stages},
    symtab,
    toolchain::{self, Toolchain},
    util,
};

/// What every stage reads.
pub struct Ctx<'a> {
    pub args: &'a Args,
    pub pins: &'a Pins,
    pub dirs: &'a BuildDirs,
    pub tc: &'a Toolchain,
    pub sources: &'a Sources,
    /// The wasm64 prefix holding xeus and xeus-lite, when the kernel module is built.
    pub kernel: Option<&'a kernel::DepsPrefix>,
}

/// toolchain: the record in `cache`; installed only when there is none (the installer's own
/// checks take a second, which a no-op build cannot afford).
pub fn toolchain(cache: &ToolCache, pins: &Pins, run: &mut Stages) -> Result<Toolchain> {
    let tc = match Toolchain::load(cache) {
        Ok(tc) => tc,
        Err(_) => {
            toolchain::install_default(cache)?;
            Toolchain::load(cache)?
        }
    };
    run.used(
        "toolchain",
        &format!(
            "emscripten {} from {}",
            pins.emscripten.version,
            tc.emscripten_dir.display()
        ),
    );
    Ok(tc)
}

/// The upstream sources the stages read: lean4 (a local copy is read in place and never written
/// to) and mini-gmp.
pub struct Sources {
    pub lean4: fetch::FetchedSource,
    /// What the patch stage copies from lean4, fingerprinted.
    pub lean4_fingerprint: String,
    /// `<mini-gmp source>/mini-gmp`: bignums in GMP's layout, as the official .olean files
    /// store them.
    pub gmp_dir: PathBuf,
}

impl Sources {
    /// sources: fetched, or local copies read in place.
    pub fn fetch(args: &Args, pins: &Pins, layout: &Layout, run: &mut Stages) -> Result<Sources> {
        let fetcher = fetch::Fetcher::new(pins, &args.sources, fetch::Places::standard(layout))?;
        let lean4 = fetcher.source_dir("lean4")?;
        let gmp = fetcher.source_dir("mini-gmp")?;
        run.used(
            "sources",
            &format!("{}; {}", lean4.summary(), gmp.summary()),
        );
        let gmp_dir = gmp.dir.join("mini-gmp");
        let lean4_fingerprint = if lean4.is_local() {
            // A user's checkout can change under us: fingerprint what the patch stage copies.
            let mut files = Vec::new();
            for dir in patch::tree::COPIED_DIRS {
                files.extend(stamp::files_under(&lean4.dir.join(dir), &[""])?);
            }
            files.extend(
                stamp::files_under(&lean4.dir.join("src"), &["CMakeLists.txt", ".in"])?
                    .into_iter()
                    .filter(|f| f.parent() == Some(&lean4.dir.join("src"))),
            );
            format!("local {}", stamp::metadata_fingerprint(&lean4.dir, &files)?)
        } else {
            lean4.summary()
        };
        Ok(Sources {
            lean4,
            lean4_fingerprint,
            gmp_dir,
        })
    }
}

/// kernel deps: the kernel shell needs xeus and xeus-lite: sources (like lean4: fetched, a local
/// copy or a mirror), built into a wasm64 prefix that every profile shares, each a stage of
/// `kernel` with its own stamps. `None`, with the reason in `skipped`, when the kernel module is
/// not built.
pub fn kernel_deps(
    args: &Args,
    pins: &Pins,
    tc: &Toolchain,
    layout: &Layout,
    run: &mut Stages,
    skipped: &mut Vec<String>,
) -> Result<Option<kernel::DepsPrefix>> {
    const WHAT: &str = "the kernel module (bin/xlean.js, kernel.json)";
    let why_not = if args.no_kernel {
        "--no-kernel was given".to_string()
    } else {
        match kernel::kernel_sources(pins, &args.sources, layout)? {
            Some(sources) => return Ok(Some(kernel::build_deps(tc, pins, &sources, layout, run)?)),
            None => kernel::SOURCES_MISSING.to_string(),
        }
    };
    run.used(
        "kernel deps",
        "none, the kernel module is not built (SKIPPED below)",
    );
    skipped.push(format!(
        "{WHAT}: {why_not}. This build installs the probe module only"
    ));
    Ok(None)
}

/// patch: a patched copy of the subset of lean4 the wasm build compiles, plus headers.
pub fn patch(ctx: &Ctx, run: &mut Stages) -> Result<()> {
    let series_dir = patch::default_series_dir();
    let series_files = stamp::files_under(&series_dir, &[".toml"])?;
    let mut inputs = Inputs::new();
    inputs
        .add("lean4 source", &ctx.sources.lean4_fingerprint)
        .add("patch series", stamp::content_fingerprint(&series_files)?)
        .add("lean commit", &ctx.pins.lean.commit);
    run.stage(
        "patch",
        &inputs,
        &[ctx.dirs.patched.join("src/include/lean/version.h")],
        || {
            let series = patch::load_series(&series_dir)?;
            let source = patch::LeanSource::new(&ctx.sources.lean4, ctx.pins);
            patch::patch_lean_source(&source, &ctx.dirs.patched, &series)?;
            Ok(())
        },
    )
}

/// lake: Lean's output made here with the official Lean of the pin, unless `--lean-c` gave it.
pub fn lake(ctx: &Ctx, run: &mut Stages, origin: &Origin) -> Result<LeanOutput> {
    let lean_out = match origin {
        Origin::Given(dir) => {
            run.used("lake", &format!("not run: --lean-c gave {}", dir.display()));
            lean_out::read_given(dir, ctx.pins)?
        }
        Origin::Host(host) => {
            let lean_src = &ctx.sources.lean4.dir;
            let out_dir = &ctx.dirs.lean_out;
            let package = paths::project_root().join("lean-wasm");
            let stdlib: Vec<PathBuf> = lean_out::stdlib_modules(lean_src)?
                .into_iter()
                .map(|m| lean_src.join("src").join(m))
                .collect();
            let mut inputs = Inputs::new();
            inputs
                .add("lean", &host.version_line)
                .add(
                    "stdlib sources",
                    stamp::metadata_fingerprint(lean_src, &stdlib)?,
                )
                .add(
                    "kernel package",
                    stamp::content_fingerprint(&lean_out::kernel_package_files(&package)?)?,
                );
            let key = util::sha256_bytes(format!("{:?}", inputs.0).as_bytes());
            let jobs = ctx.args.jobs.unwrap_or_else(default_jobs);
            run.stage("lake", &inputs, &[out_dir.join("lean-version.txt")], || {
                lean_out::generate(host, lean_src, &package, out_dir, &key, jobs).map(|_| ())
            })?;
            LeanOutput {
                c: out_dir.join("c"),
                lib: out_dir.join("lib/lean"),
            }
        }
    };
    if ctx.kernel.is_some() && ctx.args.backend == Backend::Lean {
        lean_out.check_kernel_modules()?;
    }
    Ok(lean_out)
}

/// oleans: the files embedded at /lib/lean, staged with hard links. Returns their manifest
/// (the link depends on it).
pub fn oleans(ctx: &Ctx, run: &mut Stages, lean_out: &LeanOutput) -> Result<PathBuf> {
    let embedded = oleans::select(&lean_out.lib, ctx.args.embed)?;
    let manifest = ctx.dirs.oleans.join("manifest.txt");
    let mut inputs = Inputs::new();
    inputs.add(
        "oleans",
        stamp::metadata_fingerprint(&lean_out.lib, &embedded)?,
    );
    run.stage("oleans", &inputs, std::slice::from_ref(&manifest), || {
        oleans::stage(
            &lean_out.lib,
            &embedded,
            &ctx.dirs.oleans.join("lib/lean"),
            &manifest,
        )
    })?;
    Ok(manifest)
}

/// bundles (`--bundles`): Std and Lean as compressed archives beside the module. Returns the
/// files to install next to it (none without the flag).
pub fn bundles(ctx: &Ctx, run: &mut Stages, lean_out: &LeanOutput) -> Result<Vec<PathBuf>> {
    if !ctx.args.bundles {
        run.used("bundles", "none (no --bundles)");
        return Ok(Vec::new());
    }
    let dir = ctx.dirs.wasm.join("bundles");
    let mut files = Vec::new();
    for bundled in oleans::BUNDLED_ROOTS {
        files.extend(oleans::select_root(&lean_out.lib, bundled.root)?);
    }
    let mut inputs = Inputs::new();
    inputs
        .add(
            "bundled files",
            stamp::metadata_fingerprint(&lean_out.lib, &files)?,
        )
        // The list names each bundle's modules and needs: a change there rewrites it.
        .add("bundled roots", format!("{:?}", oleans::BUNDLED_ROOTS));
    let list = dir.join(contract::BUNDLE_LIST);
    run.stage("bundles", &inputs, std::slice::from_ref(&list), || {
        for f in oleans::write_bundles(&lean_out.lib, &dir)? {
            runner::note(&format!(
                "bundle {} ({} bytes)",
                f.display(),
                fs::metadata(&f)?.len()
            ));
        }
        Ok(())
    })?;
    stamp::files_under(&dir, &[""])
}

/// What configure decided, for the stages after it.
pub struct Configured {
    /// Every input of the configure stage, as one fingerprint (later stamps include it).
    pub fingerprint: String,
    pub c_groups: Vec<(&'static str, Vec<PathBuf>)>,
    pub runtime_sources: Vec<PathBuf>,
    pub symtab_cpp: PathBuf,
}

/// configure: the source lists and every setting, then `emcmake cmake` when they changed.
pub fn configure(
    ctx: &Ctx,
    run: &mut Stages,
    lean_out: &LeanOutput,
    manifest: &Path,
) -> Result<Configured> {
    let (args, dirs) = (ctx.args, ctx.dirs);
    let runtime_sources = runtime_sources(&dirs.patched)?;
    let stub_sources = stamp::files_under(&paths::project_root().join("stubs"), &[".c", ".cpp"])?;
    let c_groups = lean_out.c_groups()?;
    let sources_cmake = dirs.generated.join("sources.cmake");
    let symtab_cpp = dirs.generated.join("wasm_symbol_table.cpp");
    let mut text =
        String::from("# Written by `cargo xtask build`: the files each target compiles.\n");
    cmake_list(&mut text, "XLEAN_RUNTIME_SOURCES", &runtime_sources);
    cmake_list(&mut text, "XLEAN_STUB_SOURCES", &stub_sources);
    for (var, files) in &c_groups {
        cmake_list(&mut text, var, files);
    }
    util::write_if_changed(&sources_cmake, text.as_bytes())?;
    if !symtab_cpp.exists() {
        // CMake needs the file to exist at configure time; the symtab stage fills it.
        util::write_atomic(&symtab_cpp, b"// filled by the symtab stage\n")?;
    }
    let mut own = cmake_definitions(
        args,
        dirs,
        &sources_cmake,
        &symtab_cpp,
        manifest,
        &ctx.sources.gmp_dir,
    );
    let mut tree = ctx.tc.cmake_tree(&dirs.wasm);
    if let Some(deps) = ctx.kernel {
        tree = tree.prefix(&deps.prefix);
        own.extend(kernel_definitions(args, ctx.pins, deps));
        if args.backend == Backend::Lean {
            let init = lean_out::kernel_module_init(&lean_out.c.join("XLean.c"))?;
            own.push(format!("-DXLEAN_LEAN_MODULE_INIT={init}"));
        }
    }
    // -Wno-experimental: emcc warns on every file that MEMORY64 is experimental; we know.
    let opt = match args.profile {
        Profile::Release => "-O2",
        Profile::Debug => "-O0 -g",
    };
    let defs = tree.options(&format!("-Wno-experimental {opt}"), &own);
    let project = project_dir();
    let mut inputs = Inputs::new();
    inputs
        .add("toolchain", ctx.tc.fingerprint()?)
        .add(
            "CMakeLists.txt",
            stamp::content_fingerprint(&[
                project.join("CMakeLists.txt"),
                project.join("kernel/CMakeLists.txt"),
            ])?,
        )
        .add(
            "kernel dependencies",
            ctx.kernel.map_or("none", |d| d.key.as_str()),
        )
        .add("sources.cmake", util::sha256_bytes(text.as_bytes()))
        .add("definitions", defs.join(" "));
    run.stage(
        "configure",
        &inputs,
        &[dirs.wasm.join("build.ninja")],
        || tree.configure("cmake-configure", &project, &defs),
    )?;
    Ok(Configured {
        fingerprint: inputs.key(),
        c_groups,
        runtime_sources,
        symtab_cpp,
    })
}

/// What the libraries stage built.
pub struct Libraries {
    /// The static archives that go into every link.
    pub archives: Vec<PathBuf>,
    /// Every object whose calls cross into Lean's C: the archives and the kernel's backend.
    pub checked: Vec<PathBuf>,
}

/// libraries: compile everything that goes into the link. Ninja knows the exact dependencies;
/// the stamp only lets a no-op build skip starting it.
pub fn libraries(ctx: &Ctx, run: &mut Stages, configured: &Configured) -> Result<Libraries> {
    let (args, dirs) = (ctx.args, ctx.dirs);
    let gmp_dir = &ctx.sources.gmp_dir;
    let mut compile_inputs: Vec<PathBuf> = configured.runtime_sources.clone();
    compile_inputs.extend(stamp::files_under(&dirs.patched.join("src"), &[".h"])?);
    compile_inputs.extend(stamp::files_under(
        &paths::project_root().join("stubs"),
        &[".h", ".c", ".cpp"],
    )?);
    compile_inputs.extend([gmp_dir.join("mini-gmp.c"), gmp_dir.join("mini-gmp.h")]);
    for (_, files) in &configured.c_groups {
        compile_inputs.extend(files.iter().cloned());
    }
    let backend = ctx.kernel.map(|_| backend_object(dirs, args.backend));
    if ctx.kernel.is_some() {
        compile_inputs.push(project_dir().join(backend_source(args.backend)));
        compile_inputs.push(project_dir().join("kernel/xlean_backend.h"));
    }
    let archives = archives(dirs, &configured.c_groups);
    let checked: Vec<PathBuf> = archives.iter().cloned().chain(backend).collect();
    let mut inputs = Inputs::new();
    inputs.add("configure", &configured.fingerprint).add(
        "compile inputs",
        stamp::metadata_fingerprint(Path::new("/"), &compile_inputs)?,
    );
    run.stage("libraries", &inputs, &checked, || {
        ctx.tc.cmake_tree(&dirs.wasm).build(
            "cmake-build-libraries",
            &["xlean_libraries"],
            args.jobs,
        )
    })?;
    Ok(Libraries { archives, checked })
}

/// abi-check: every call against its definition, before the linker (which only warns).
pub fn abi_check(run: &mut Stages, libraries: &Libraries) -> Result<()> {
    let mut inputs = Inputs::new();
    inputs.add(
        "archives and objects",
        stamp::metadata_fingerprint(Path::new("/"), &libraries.checked)?,
    );
    run.stage("abi-check", &inputs, &[], || {
        let report = abi_check::check(&libraries.checked)?;
        eprint!("{report}");
        ensure!(
            report.mismatches.is_empty(),
            "{} wasm signature mismatch(es) between Lean's C and the runtime (listed above).\n  \
             The module would trap at run time. Fix the declaration or the definition with a \
             patch (see docs/patches.md); `cargo xtask abi-check FILE...` reruns the check.",
            report.mismatches.len()
        );
        Ok(())
    })
}

/// symtab: the dlsym replacement, from the archives. Returns how many symbols the table has,
/// when the stage ran (an up-to-date table is not read again).
pub fn symtab(
    run: &mut Stages,
    libraries: &Libraries,
    configured: &Configured,
) -> Result<Option<usize>> {
    let symtab_cpp = &configured.symtab_cpp;
    let mut inputs = Inputs::new();
    inputs.add(
        "archives",
        stamp::metadata_fingerprint(Path::new("/"), &libraries.archives)?,
    );
    let mut symbols = None;
    run.stage("symtab", &inputs, std::slice::from_ref(symtab_cpp), || {
        let summary = symtab::generate(&libraries.archives, &[], symtab_cpp)?;
        runner::note(&summary.to_string());
        symbols = Some(summary.symbols);
        Ok(())
    })?;
    Ok(symbols)
}

/// What the link stage made.
pub struct Linked {
    /// Every file the link wrote (each module's `.js` and `.wasm`).
    pub outputs: Vec<PathBuf>,
    pub probe_js: PathBuf,
    /// The kernel module, when it was linked.
    pub kernel_js: Option<PathBuf>,
}

/// link: the probe always; the kernel when its shell can be built (checked after the link:
/// wasm64, native exceptions only).
pub fn link(
    ctx: &Ctx,
    run: &mut Stages,
    libraries: &Libraries,
    configured: &Configured,
    manifest: &Path,
) -> Result<Linked> {
    let dirs = ctx.dirs;
    let project = project_dir();
    let probe_js = dirs.wasm.join("xlean-probe.js");
    let kernel_js = ctx.kernel.map(|_| dirs.wasm.join("kernel/xlean.js"));
    let mut outputs = vec![probe_js.clone(), probe_js.with_extension("wasm")];
    let mut targets = vec!["xlean-probe"];
    if let Some(js) = &kernel_js {
        outputs.extend([js.clone(), js.with_extension("wasm")]);
        targets.push("xlean");
    }
    let kernel_shell = match ctx.kernel {
        Some(deps) => {
            let mut files = stamp::files_under(&project.join("kernel"), &[""])?;
            files.extend(stamp::files_under(&project.join("js"), &[".js"])?);
            files.push(deps.abbreviations.source.clone());
            stamp::content_fingerprint(&files)?
        }
        None => "none".into(),
    };
    let mut inputs = Inputs::new();
    inputs
        .add(
            "archives",
            stamp::metadata_fingerprint(Path::new("/"), &libraries.archives)?,
        )
        .add(
            "symtab",
            stamp::content_fingerprint(std::slice::from_ref(&configured.symtab_cpp))?,
        )
        .add(
            "embedded",
            stamp::content_fingerprint(&[manifest.to_path_buf()])?,
        )
        .add(
            "probe sources",
            stamp::content_fingerprint(&[
                project.join("probe/xlean_probe.cpp"),
                project.join("js/post.js"),
            ])?,
        )
        .add("configure", &configured.fingerprint)
        .add("kernel shell", kernel_shell);
    run.stage("link", &inputs, &outputs, || {
        ctx.tc
            .cmake_tree(&dirs.wasm)
            .build("cmake-link", &targets, ctx.args.jobs)?;
        if let Some(js) = &kernel_js {
            let facts = kernel::check_module(&js.with_extension("wasm"))?;
            runner::note(&format!(
                "kernel module: wasm64, native exceptions, {} imports",
                facts.imports
            ));
        }
        Ok(())
    })?;
    Ok(Linked {
        outputs,
        probe_js,
        kernel_js,
    })
}

/// install: a new prefix next to the old one, switched over in one rename; with the kernel,
/// its kernel.json, logos and the bundles.
pub fn install(ctx: &Ctx, run: &mut Stages, linked: &Linked, bundles: &[PathBuf]) -> Result<()> {
    let dirs = ctx.dirs;
    let mut modules = vec![linked.probe_js.clone()];
    modules.extend(linked.kernel_js.clone());
    let spec = linked.kernel_js.as_ref().map(|_| KernelSpec {
        backend: ctx.args.backend,
        lean_version: ctx.pins.lean.tag.trim_start_matches('v').to_string(),
    });
    let mut inputs = Inputs::new();
    inputs
        .add(
            "modules",
            stamp::metadata_fingerprint(Path::new("/"), &linked.outputs)?,
        )
        .add(
            "bundles",
            stamp::metadata_fingerprint(Path::new("/"), bundles)?,
        )
        .add("prefix", dirs.prefix.display().to_string())
        .add(
            "kernel spec",
            spec.as_ref()
                .map_or("none".into(), |s| s.json(&dirs.prefix).to_string()),
        );
    let bin = dirs.prefix.join(contract::BIN_DIR);
    let mut installed = vec![bin.join("xlean-probe.js")];
    if spec.is_some() {
        installed.push(contract::kernel_json(&dirs.prefix));
    }
    run.stage("install", &inputs, &installed, || {
        prefix::install_with(&dirs.prefix, &modules, bundles, spec.as_ref())
    })
}

fn project_dir() -> PathBuf {
    paths::project_root().join("lean-wasm")
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The runtime, kernel and library C++ files the wasm build compiles, from the patched tree.
fn runtime_sources(patched: &Path) -> Result<Vec<PathBuf>> {
    let src = patched.join("src");
    let mut files = stamp::files_under(&src.join("runtime"), &[".cpp"])?;
    for dir in ["kernel", "library", "util", "initialize"] {
        let d = src.join(dir);
        if d.is_dir() {
            files.extend(stamp::files_under(&d, &[".cpp"])?);
        }
    }
    files.sort();
    Ok(files)
}

fn archives(dirs: &BuildDirs, c_groups: &[(&'static str, Vec<PathBuf>)]) -> Vec<PathBuf> {
    let mut v = vec![dirs.wasm.join("libleanrt.a")];
    for (var, files) in c_groups {
        if !files.is_empty() {
            let name = var
                .trim_start_matches("XLEAN_")
                .trim_end_matches("_C")
                .to_lowercase();
            v.push(dirs.wasm.join(format!("liblean_c_{name}.a")));
        }
    }
    v
}

/// The kernel backend's source, relative to lean-wasm/.
fn backend_source(backend: Backend) -> &'static str {
    match backend {
        Backend::Lean => "kernel/backend_lean.c",
        Backend::Test => "kernel/backend_test.c",
    }
}

/// Where CMake puts the backend's object (an OBJECT library in the kernel subdirectory).
fn backend_object(dirs: &BuildDirs, backend: Backend) -> PathBuf {
    let file = Path::new(backend_source(backend)).file_name().unwrap();
    let mut object = file.to_os_string();
    object.push(".o");
    dirs.wasm
        .join("kernel/CMakeFiles/xlean_backend.dir")
        .join(object)
}

/// The settings that turn the kernel on (beside the xeus prefix): the backend, the versions,
/// the abbreviation table.
fn kernel_definitions(args: &Args, pins: &Pins, deps: &kernel::DepsPrefix) -> Vec<String> {
    vec![
        "-DXLEAN_KERNEL=ON".into(),
        format!("-DXLEAN_KERNEL_BACKEND={}", args.backend.name()),
        format!("-DXLEAN_VERSION={}", env!("CARGO_PKG_VERSION")),
        format!(
            "-DXLEAN_LEAN_VERSION={}",
            pins.lean.tag.trim_start_matches('v')
        ),
        format!(
            "-DXLEAN_ABBREVIATIONS_SOURCE={}",
            deps.abbreviations.source.display()
        ),
    ]
}

fn cmake_list(out: &mut String, var: &str, files: &[PathBuf]) {
    let _ = writeln!(out, "set({var}");
    for f in files {
        let _ = writeln!(
            out,
            "  \"{}\"",
            f.display()
                .to_string()
                .replace('\\', "/")
                .replace('"', "\\\"")
        );
    }
    let _ = writeln!(out, ")");
}

/// The build's own definitions: build type, per-config flags emptied, where every input is.
fn cmake_definitions(
    args: &Args,
    dirs: &BuildDirs,
    sources: &Path,
    symtab: &Path,
    manifest: &Path,
    gmp_dir: &Path,
) -> Vec<String> {
    // The opt level is in CMAKE_C(XX)_FLAGS (CmakeTree::options), not the per-config flags.
    let d = |k: &str, v: &dyn std::fmt::Display| format!("-D{k}={v}");
    // Opt-in compiler cache (XLEAN_COMPILER_LAUNCHER=ccache; docs/design.md, "CI on GitHub").
    // Always passed, empty when unset, so that turning it off clears CMake's cached value; part
    // of the definitions, so the configure stamp sees the change.
    let launcher = std::env::var("XLEAN_COMPILER_LAUNCHER").unwrap_or_default();
    vec![
        d("CMAKE_BUILD_TYPE", &args.profile.cmake_build_type()),
        d("CMAKE_C_FLAGS_RELEASE", &""),
        d("CMAKE_CXX_FLAGS_RELEASE", &""),
        d("CMAKE_C_FLAGS_DEBUG", &""),
        d("CMAKE_CXX_FLAGS_DEBUG", &""),
        d("XLEAN_SOURCES_FILE", &sources.display()),
        d("XLEAN_LEAN_SRC", &dirs.patched.display()),
        d(
            "XLEAN_STUBS_DIR",
            &paths::project_root().join("stubs").display(),
        ),
        d("XLEAN_SYMTAB_CPP", &symtab.display()),
        d("XLEAN_GMP_DIR", &gmp_dir.display()),
        d("XLEAN_EMBED_DIR", &dirs.oleans.join("lib/lean").display()),
        d("XLEAN_EMBED_MANIFEST", &manifest.display()),
        d("XLEAN_STACK_MB", &64),
        d("XLEAN_INITIAL_MEMORY_MB", &256),
        d("XLEAN_MAXIMUM_MEMORY_MB", &4096),
        d("CMAKE_C_COMPILER_LAUNCHER", &launcher),
        d("CMAKE_CXX_COMPILER_LAUNCHER", &launcher),
    ]
}
