//! `cargo xtask build`: from pinned sources to an install prefix holding the wasm64 module.
//!
//! Stages, in order, each with declared inputs and outputs and a stamp written only after it
//! succeeded (see `stamp.rs` and docs/design.md "Build stages"):
//!
//! toolchain → sources → patch → lean output → oleans → configure → libraries → abi-check →
//! symtab → link → install
//!
//! A stage whose stamp matches its inputs, and whose outputs exist, does not run; when nothing
//! ran the build says "up to date". `--explain` prints why each stage ran.

pub mod bench;
pub mod lean_out;
pub mod oleans;
pub mod prefix;
pub mod stamp;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{ensure, Context, Result};

use self::{
    lean_out::{LeanOutput, Origin},
    stamp::{Freshness, Inputs, Stamp},
};
use crate::{
    abi_check, fetch, kernel, patch, paths,
    pins::Pins,
    runner::{self, Step},
    symtab,
    toolchain::{self, Toolchain},
    util,
};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub sources: fetch::SourceOptions,
    /// Lean's output made on a host with the pinned Lean: `DIR/c/**.c` (Init, Std, Lean and the
    /// kernel's modules), `DIR/lib/lean` (.olean/.ir files) and `DIR/lean-version.txt`
    /// [default: made here by the lake stage, with the official Lean of the pin]
    #[arg(long, value_name = "DIR")]
    pub lean_c: Option<PathBuf>,
    /// Build profile
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    pub profile: Profile,
    /// The kernel module's backend (`test`: the kernel shell without Lean, for trying the site
    /// and the tests where the kernel's Lean output is not available)
    #[arg(long, value_enum, default_value_t = Backend::Lean)]
    pub backend: Backend,
    /// Ship Std and Lean beside the module as compressed bundles (`bin/xlean-std.tar.gz`,
    /// `bin/xlean-lean.tar.gz`), which the kernel unpacks into /lib/lean when it starts, instead
    /// of embedding them (with `--embed init`)
    #[arg(long)]
    pub bundles: bool,
    /// Install the probe module only: no kernel module, no xeus build (for work on the runtime)
    #[arg(long)]
    pub no_kernel: bool,
    /// Which .olean trees are embedded in the module at /lib/lean
    #[arg(long, value_enum, default_value_t = oleans::Embed::Init)]
    pub embed: oleans::Embed,
    /// Install prefix (a link to the last complete install) [default: <build>/prefix]
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// Parallel compile jobs [default: the number of cores]
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Print why each stage runs (the first input that differs from its stamp)
    #[arg(long)]
    pub explain: bool,
    /// A build directory other than the global one (the benchmark's own).
    #[arg(skip)]
    pub build_dir: Option<PathBuf>,
}

/// Which backend the kernel module is linked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Lean: the runtime, the stdlib and the kernel's own Lean modules (`XLean`)
    Lean,
    /// The test backend: the kernel shell over a scripted stand-in, no Lean inside (for
    /// machines without the pinned Lean's output for the kernel's modules)
    Test,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Lean => "lean",
            Backend::Test => "test",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }
    fn cmake_build_type(self) -> &'static str {
        match self {
            Profile::Release => "Release",
            Profile::Debug => "Debug",
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let report = build(&args)?;
    eprint!("{}", report.render());
    Ok(())
}

/// A build of the fixtures (tests/fixtures/lean4-mini for lean4, tests/fixtures/lean-out for
/// the pinned Lean's output) in `dir`, installing into `dir/prefix`: what `bench build` and `ci`
/// build where the real inputs cannot be had.
pub fn fixture_args(dir: &Path, backend: Backend) -> Args {
    let root = paths::project_root();
    Args {
        sources: fetch::SourceOptions {
            lean_src: Some(root.join("tests/fixtures/lean4-mini")),
            ..Default::default()
        },
        lean_c: Some(root.join("tests/fixtures/lean-out")),
        profile: Profile::Release,
        backend,
        bundles: false,
        no_kernel: false,
        embed: oleans::Embed::Init,
        prefix: Some(dir.join("prefix")),
        jobs: None,
        explain: false,
        build_dir: Some(dir.to_path_buf()),
    }
}

/// What a build did, stage by stage.
#[derive(Debug, Default)]
pub struct Report {
    pub stages: Vec<StageRun>,
    pub prefix: PathBuf,
    pub skipped: Vec<String>,
    pub total_secs: f64,
}

#[derive(Debug, Clone)]
pub struct StageRun {
    pub name: &'static str,
    /// `None`: up to date. `Some(reason)`: it ran, because of this.
    pub ran_because: Option<String>,
    pub secs: f64,
}

impl Report {
    pub fn nothing_ran(&self) -> bool {
        self.stages.iter().all(|s| s.ran_because.is_none())
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for skip in &self.skipped {
            let _ = writeln!(s, "SKIPPED: {skip}");
        }
        if self.nothing_ran() {
            let _ = writeln!(
                s,
                "up to date ({}): {}",
                runner::fmt_secs(self.total_secs),
                self.prefix.display()
            );
        } else {
            let ran: Vec<_> = self
                .stages
                .iter()
                .filter(|r| r.ran_because.is_some())
                .map(|r| r.name)
                .collect();
            let _ = writeln!(
                s,
                "built in {} (ran: {}): {}",
                runner::fmt_secs(self.total_secs),
                ran.join(", "),
                self.prefix.display()
            );
        }
        s
    }
}

struct Stages<'a> {
    stamps: PathBuf,
    explain: bool,
    report: &'a mut Report,
}

impl Stages<'_> {
    /// Runs `work` unless the stage's stamp matches `inputs` and `outputs` exist.
    fn stage(
        &mut self,
        name: &'static str,
        inputs: &Inputs,
        outputs: &[PathBuf],
        work: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let stamp = Stamp::new(&self.stamps, name);
        let start = Instant::now();
        match stamp.freshness(inputs, outputs) {
            Freshness::UpToDate => {
                if self.explain {
                    runner::note(&format!("{name}: up to date"));
                }
                self.report.stages.push(StageRun {
                    name,
                    ran_because: None,
                    secs: 0.0,
                });
                Ok(())
            }
            Freshness::Stale(reason) => {
                if self.explain {
                    runner::note(&format!("{name}: runs because {reason}"));
                }
                runner::heading(&format!("stage {name}"));
                stamp.clear()?;
                work().with_context(|| format!("build stage `{name}` failed"))?;
                stamp.write(inputs)?;
                let secs = start.elapsed().as_secs_f64();
                runner::note(&format!("stage {name} done ({})", runner::fmt_secs(secs)));
                self.report.stages.push(StageRun {
                    name,
                    ran_because: Some(reason),
                    secs,
                });
                Ok(())
            }
        }
    }
}

/// Where the build puts things, for one profile.
pub struct Layout {
    pub stamps: PathBuf,
    pub patched: PathBuf,
    pub lean_out: PathBuf,
    pub oleans: PathBuf,
    pub wasm: PathBuf,
    pub generated: PathBuf,
    pub prefix: PathBuf,
}

impl Layout {
    pub fn new(args: &Args) -> Layout {
        let build = args.build_dir.clone().unwrap_or_else(paths::build_dir);
        let profile = args.profile.name();
        let wasm = build.join(format!("wasm-{profile}"));
        Layout {
            stamps: build.join("stamps").join(profile),
            patched: build.join("lean4-patched"),
            lean_out: build.join("lean-out"),
            oleans: build.join(format!("oleans-{}", args.embed.name())),
            generated: wasm.join("generated"),
            prefix: args
                .prefix
                .as_deref()
                .map(paths::absolute)
                .unwrap_or_else(|| build.join("prefix")),
            wasm,
        }
    }
}

pub fn build(args: &Args) -> Result<Report> {
    let start = Instant::now();
    ensure!(
        !(args.bundles && args.embed == oleans::Embed::All),
        "--bundles ships Std and Lean beside the module, --embed all puts them inside it: choose one"
    );
    let pins = Pins::load()?;
    let layout = Layout::new(args);
    let mut report = Report {
        prefix: layout.prefix.clone(),
        ..Report::default()
    };

    // toolchain: read the record (install only when there is none; the installer's own checks
    // take a second, which a no-op build cannot afford).
    let tc = match Toolchain::load() {
        Ok(tc) => tc,
        Err(_) => {
            toolchain::install_default()?;
            Toolchain::load()?
        }
    };
    let toolchain_fp =
        stamp::content_fingerprint(&[Toolchain::record_path(), tc.em_config.clone()])?;

    // sources: lean4 (a local copy is read in place and never written to).
    let fetcher = fetch::Fetcher::new(&pins, &args.sources, fetch::Places::standard())?;
    let lean_src = fetcher.source_dir("lean4")?;
    // mini-gmp: bignums in GMP's layout, as the official .olean files store them.
    let gmp_dir = fetcher.source_dir("mini-gmp")?.dir.join("mini-gmp");
    let source_fp = if lean_src.is_local() {
        // A user's checkout can change under us: fingerprint what the patch stage copies.
        let mut files = Vec::new();
        for dir in patch::tree::COPIED_DIRS {
            files.extend(stamp::files_under(&lean_src.dir.join(dir), &[""])?);
        }
        files.extend(
            stamp::files_under(&lean_src.dir.join("src"), &["CMakeLists.txt", ".in"])?
                .into_iter()
                .filter(|f| f.parent() == Some(&lean_src.dir.join("src"))),
        );
        format!(
            "local {}",
            stamp::metadata_fingerprint(&lean_src.dir, &files)?
        )
    } else {
        lean_src.summary()
    };

    // Lean's output: C and oleans from one Lean, the pinned one (`--lean-c`, or the lake stage
    // below with the official Lean of the pin). Decided now: without either, nothing runs.
    let origin = lean_out::origin(args.lean_c.as_deref(), &pins)?;

    // The kernel shell needs xeus and xeus-lite: sources (like lean4: fetched, a local copy or a
    // mirror), built into a wasm64 prefix that every profile shares (their own stamps decide).
    let kernel_sources = if args.no_kernel {
        report.skipped.push(
            "the kernel module (bin/xlean.js, kernel.json): --no-kernel was given; this build \
             installs the probe module only"
                .into(),
        );
        None
    } else {
        match kernel::kernel_sources(&pins, &args.sources)? {
            None => {
                report.skipped.push(format!(
                    "the kernel module (bin/xlean.js, kernel.json): {}. This build installs the \
                     probe module only",
                    kernel::SOURCES_MISSING
                ));
                None
            }
            some => some,
        }
    };
    let kernel = match kernel_sources {
        None => None,
        Some(sources) => Some(kernel::build_deps(&tc, &sources)?),
    };

    let mut stages = Stages {
        stamps: layout.stamps.clone(),
        explain: args.explain,
        report: &mut report,
    };

    // patch: a patched copy of the subset of lean4 the wasm build compiles, plus headers.
    let series_dir = patch::default_series_dir();
    let series_files = stamp::files_under(&series_dir, &[".toml"])?;
    let mut inputs = Inputs::new();
    inputs
        .add("lean4 source", &source_fp)
        .add("patch series", stamp::content_fingerprint(&series_files)?)
        .add("lean commit", &pins.lean.commit);
    stages.stage(
        "patch",
        &inputs,
        &[layout.patched.join("src/include/lean/version.h")],
        || {
            let series = patch::load_series(&series_dir)?;
            patch::patch_lean_source(&lean_src.dir, &layout.patched, &series)?;
            Ok(())
        },
    )?;

    // lake: Lean's output made here, when it was not given.
    let lean_out = match &origin {
        Origin::Given(dir) => lean_out::read_given(dir, &pins)?,
        Origin::Host(host) => {
            let package = paths::project_root().join("lean-wasm");
            let mut stdlib: Vec<PathBuf> = lean_out::stdlib_modules(&lean_src.dir)?
                .into_iter()
                .map(|m| lean_src.dir.join("src").join(m))
                .collect();
            stdlib.sort();
            let mut inputs = Inputs::new();
            inputs
                .add("lean", &host.version_line)
                .add(
                    "stdlib sources",
                    stamp::metadata_fingerprint(&lean_src.dir, &stdlib)?,
                )
                .add(
                    "kernel package",
                    stamp::content_fingerprint(&lean_out::kernel_package_files(&package)?)?,
                );
            let key = util::sha256_bytes(format!("{:?}", inputs.0).as_bytes());
            let jobs = args.jobs.unwrap_or_else(default_jobs);
            stages.stage(
                "lake",
                &inputs,
                &[layout.lean_out.join("lean-version.txt")],
                || {
                    lean_out::generate(host, &lean_src.dir, &package, &layout.lean_out, &key, jobs)
                        .map(|_| ())
                },
            )?;
            LeanOutput {
                c: layout.lean_out.join("c"),
                lib: layout.lean_out.join("lib/lean"),
            }
        }
    };
    if kernel.is_some() && args.backend == Backend::Lean {
        lean_out.check_kernel_modules()?;
    }

    // oleans: the files embedded at /lib/lean, staged with hard links.
    let embedded = oleans::select(&lean_out.lib, args.embed)?;
    let manifest = layout.oleans.join("manifest.txt");
    let mut inputs = Inputs::new();
    inputs.add(
        "oleans",
        stamp::metadata_fingerprint(&lean_out.lib, &embedded)?,
    );
    stages.stage("oleans", &inputs, std::slice::from_ref(&manifest), || {
        oleans::stage(
            &lean_out.lib,
            &embedded,
            &layout.oleans.join("lib/lean"),
            &manifest,
        )
    })?;

    // bundles: Std and Lean as compressed archives beside the module (`--bundles`).
    let bundles_dir = layout.wasm.join("bundles");
    let mut bundle_files = Vec::new();
    if args.bundles {
        let mut inputs = Inputs::new();
        let mut files = Vec::new();
        for root in oleans::BUNDLED_ROOTS {
            files.extend(oleans::select_root(&lean_out.lib, root)?);
        }
        inputs.add(
            "bundled files",
            stamp::metadata_fingerprint(&lean_out.lib, &files)?,
        );
        let list = bundles_dir.join(oleans::BUNDLE_LIST);
        stages.stage("bundles", &inputs, std::slice::from_ref(&list), || {
            let written = oleans::write_bundles(&lean_out.lib, &bundles_dir)?;
            for f in &written {
                runner::note(&format!(
                    "bundle {} ({} bytes)",
                    f.display(),
                    std::fs::metadata(f)?.len()
                ));
            }
            Ok(())
        })?;
        bundle_files = stamp::files_under(&bundles_dir, &[""])?;
    }

    // configure: the source lists and every setting, then `emcmake cmake` when they changed.
    let runtime_sources = runtime_sources(&layout.patched)?;
    let stub_sources = stamp::files_under(&paths::project_root().join("stubs"), &[".c", ".cpp"])?;
    let c_groups = lean_out.c_groups()?;
    let sources_cmake = layout.generated.join("sources.cmake");
    let symtab_cpp = layout.generated.join("wasm_symbol_table.cpp");
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
    let mut cmake_defs = cmake_definitions(
        args,
        &layout,
        &sources_cmake,
        &symtab_cpp,
        &manifest,
        &gmp_dir,
    );
    if let Some(deps) = &kernel {
        cmake_defs.extend(kernel_definitions(args, &pins, deps));
        if args.backend == Backend::Lean {
            let init = lean_out::kernel_module_init(&lean_out.c.join("XLean.c"))?;
            cmake_defs.push(format!("-DXLEAN_LEAN_MODULE_INIT={init}"));
        }
    }
    let project = paths::project_root().join("lean-wasm");
    let mut inputs = Inputs::new();
    inputs
        .add("toolchain", &toolchain_fp)
        .add(
            "CMakeLists.txt",
            stamp::content_fingerprint(&[
                project.join("CMakeLists.txt"),
                project.join("kernel/CMakeLists.txt"),
            ])?,
        )
        .add(
            "kernel dependencies",
            kernel.as_ref().map_or("none", |d| d.key.as_str()),
        )
        .add("sources.cmake", util::sha256_bytes(text.as_bytes()))
        .add("definitions", cmake_defs.join(" "));
    stages.stage(
        "configure",
        &inputs,
        &[layout.wasm.join("build.ninja")],
        || {
            Step::new("cmake-configure", tc.emcmake())
                .arg(&tc.cmake)
                .args(["-G", "Ninja", "-S"])
                .arg(&project)
                .arg("-B")
                .arg(&layout.wasm)
                .args(&cmake_defs)
                .envs(tc.env())
                .run()?;
            Ok(())
        },
    )?;
    let configure_fp = inputs.0.values().cloned().collect::<Vec<_>>().join("|");

    // libraries: compile everything that goes into the link. Ninja knows the exact dependencies;
    // the stamp only lets a no-op build skip starting it.
    let mut compile_inputs: Vec<PathBuf> = runtime_sources.clone();
    compile_inputs.extend(stamp::files_under(&layout.patched.join("src"), &[".h"])?);
    compile_inputs.extend(stamp::files_under(
        &paths::project_root().join("stubs"),
        &[".h", ".c", ".cpp"],
    )?);
    compile_inputs.extend([gmp_dir.join("mini-gmp.c"), gmp_dir.join("mini-gmp.h")]);
    for (_, files) in &c_groups {
        compile_inputs.extend(files.iter().cloned());
    }
    let kernel_backend = kernel
        .as_ref()
        .map(|_| backend_object(&layout, args.backend));
    if kernel.is_some() {
        compile_inputs.push(project.join(backend_source(args.backend)));
        compile_inputs.push(project.join("kernel/xlean_backend.h"));
    }
    let archives = archives(&layout, &c_groups);
    // Every object whose calls cross into Lean's C: the archives and the kernel's backend.
    let checked: Vec<PathBuf> = archives.iter().cloned().chain(kernel_backend).collect();
    let mut inputs = Inputs::new();
    inputs
        .add("configure", util::sha256_bytes(configure_fp.as_bytes()))
        .add(
            "compile inputs",
            stamp::metadata_fingerprint(Path::new("/"), &compile_inputs)?,
        );
    stages.stage("libraries", &inputs, &checked, || {
        cmake_build(
            &tc,
            &layout,
            "xlean_libraries",
            args.jobs,
            "cmake-build-libraries",
        )
    })?;

    // abi-check: every call against its definition, before the linker (which only warns).
    let archives_fp = stamp::metadata_fingerprint(Path::new("/"), &archives)?;
    let mut inputs = Inputs::new();
    inputs.add(
        "archives and objects",
        stamp::metadata_fingerprint(Path::new("/"), &checked)?,
    );
    stages.stage("abi-check", &inputs, &[], || {
        let report = abi_check::check(&checked)?;
        eprint!("{report}");
        ensure!(
            report.mismatches.is_empty(),
            "{} wasm signature mismatch(es) between Lean's C and the runtime (listed above).\n  \
             The module would trap at run time. Fix the declaration or the definition with a \
             patch (see docs/patches.md); `cargo xtask abi-check FILE...` reruns the check.",
            report.mismatches.len()
        );
        Ok(())
    })?;

    // symtab: the dlsym replacement, from the archives.
    let mut inputs = Inputs::new();
    inputs.add("archives", &archives_fp);
    stages.stage("symtab", &inputs, std::slice::from_ref(&symtab_cpp), || {
        let summary = symtab::generate(&archives, &[], &symtab_cpp)?;
        runner::note(&summary.to_string());
        Ok(())
    })?;

    // link: the probe always; the kernel when its shell can be built.
    let probe_js = layout.wasm.join("xlean-probe.js");
    let kernel_js = layout.wasm.join("kernel/xlean.js");
    let mut link_outputs = vec![probe_js.clone(), probe_js.with_extension("wasm")];
    let mut targets = vec!["xlean-probe"];
    if kernel.is_some() {
        link_outputs.extend([kernel_js.clone(), kernel_js.with_extension("wasm")]);
        targets.push("xlean");
    }
    let mut kernel_files = stamp::files_under(&project.join("kernel"), &[""])?;
    kernel_files.extend(stamp::files_under(&project.join("js"), &[".js"])?);
    let mut inputs = Inputs::new();
    inputs
        .add("archives", &archives_fp)
        .add(
            "symtab",
            stamp::content_fingerprint(std::slice::from_ref(&symtab_cpp))?,
        )
        .add(
            "embedded",
            stamp::content_fingerprint(std::slice::from_ref(&manifest))?,
        )
        .add(
            "probe sources",
            stamp::content_fingerprint(&[
                project.join("probe/xlean_probe.cpp"),
                project.join("js/post.js"),
            ])?,
        )
        .add("configure", util::sha256_bytes(configure_fp.as_bytes()))
        .add(
            "kernel shell",
            match &kernel {
                Some(_) => stamp::content_fingerprint(&kernel_files)?,
                None => "none".into(),
            },
        );
    stages.stage("link", &inputs, &link_outputs, || {
        cmake_build(&tc, &layout, &targets.join(" "), args.jobs, "cmake-link")?;
        if kernel.is_some() {
            let facts = kernel::check_module(&kernel_js.with_extension("wasm"))?;
            runner::note(&format!(
                "kernel module: wasm64, native exceptions, {} imports",
                facts.imports
            ));
        }
        Ok(())
    })?;

    // install: a new prefix next to the old one, switched over in one rename.
    let mut modules = vec![probe_js.clone()];
    let spec = kernel.as_ref().map(|_| prefix::KernelSpec {
        backend: args.backend,
        lean_version: pins.lean.tag.trim_start_matches('v').to_string(),
    });
    if spec.is_some() {
        modules.push(kernel_js.clone());
    }
    let mut inputs = Inputs::new();
    inputs
        .add(
            "modules",
            stamp::metadata_fingerprint(Path::new("/"), &link_outputs)?,
        )
        .add(
            "bundles",
            stamp::metadata_fingerprint(Path::new("/"), &bundle_files)?,
        )
        .add("prefix", layout.prefix.display().to_string())
        .add(
            "kernel spec",
            spec.as_ref()
                .map_or("none".into(), |s| s.json(&layout.prefix).to_string()),
        );
    let mut installed = vec![layout.prefix.join("bin/xlean-probe.js")];
    if spec.is_some() {
        installed.push(
            layout
                .prefix
                .join(prefix::KERNEL_SPEC_DIR)
                .join("kernel.json"),
        );
    }
    stages.stage("install", &inputs, &installed, || {
        prefix::install_with(&layout.prefix, &modules, &bundle_files, spec.as_ref())
    })?;

    report.total_secs = start.elapsed().as_secs_f64();
    Ok(report)
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

fn archives(layout: &Layout, c_groups: &[(&'static str, Vec<PathBuf>)]) -> Vec<PathBuf> {
    let mut v = vec![layout.wasm.join("libleanrt.a")];
    for (var, files) in c_groups {
        if !files.is_empty() {
            let name = var
                .trim_start_matches("XLEAN_")
                .trim_end_matches("_C")
                .to_lowercase();
            v.push(layout.wasm.join(format!("liblean_c_{name}.a")));
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
fn backend_object(layout: &Layout, backend: Backend) -> PathBuf {
    let file = Path::new(backend_source(backend)).file_name().unwrap();
    let mut object = file.to_os_string();
    object.push(".o");
    layout
        .wasm
        .join("kernel/CMakeFiles/xlean_backend.dir")
        .join(object)
}

/// The settings that turn the kernel on: the xeus prefix and the backend.
fn kernel_definitions(args: &Args, pins: &Pins, deps: &kernel::DepsPrefix) -> Vec<String> {
    let p = deps.prefix.display();
    vec![
        "-DXLEAN_KERNEL=ON".into(),
        format!("-DXLEAN_KERNEL_BACKEND={}", args.backend.name()),
        format!("-DCMAKE_PREFIX_PATH={p}"),
        format!("-DCMAKE_FIND_ROOT_PATH={p}"),
        format!("-DXLEAN_VERSION={}", env!("CARGO_PKG_VERSION")),
        format!(
            "-DXLEAN_LEAN_VERSION={}",
            pins.lean.tag.trim_start_matches('v')
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

fn cmake_definitions(
    args: &Args,
    layout: &Layout,
    sources: &Path,
    symtab: &Path,
    manifest: &Path,
    gmp_dir: &Path,
) -> Vec<String> {
    let opt = match args.profile {
        Profile::Release => "-O2",
        Profile::Debug => "-O0 -g",
    };
    // -sMEMORY64 and -fwasm-exceptions in both C and C++ flags (and so in every object).
    // -Wno-experimental: emcc warns on every file that MEMORY64 is experimental; we know.
    let flags = format!("-sMEMORY64 -fwasm-exceptions -Wno-experimental {opt}");
    let d = |k: &str, v: &dyn std::fmt::Display| format!("-D{k}={v}");
    vec![
        d("CMAKE_BUILD_TYPE", &args.profile.cmake_build_type()),
        d("CMAKE_C_FLAGS", &flags),
        d("CMAKE_CXX_FLAGS", &flags),
        d("CMAKE_C_FLAGS_RELEASE", &""),
        d("CMAKE_CXX_FLAGS_RELEASE", &""),
        d("CMAKE_C_FLAGS_DEBUG", &""),
        d("CMAKE_CXX_FLAGS_DEBUG", &""),
        d("XLEAN_SOURCES_FILE", &sources.display()),
        d("XLEAN_LEAN_SRC", &layout.patched.display()),
        d(
            "XLEAN_STUBS_DIR",
            &paths::project_root().join("stubs").display(),
        ),
        d("XLEAN_SYMTAB_CPP", &symtab.display()),
        d("XLEAN_GMP_DIR", &gmp_dir.display()),
        d("XLEAN_EMBED_DIR", &layout.oleans.join("lib/lean").display()),
        d("XLEAN_EMBED_MANIFEST", &manifest.display()),
        d("XLEAN_STACK_MB", &64),
        d("XLEAN_INITIAL_MEMORY_MB", &256),
        d("XLEAN_MAXIMUM_MEMORY_MB", &4096),
    ]
}

fn cmake_build(
    tc: &Toolchain,
    layout: &Layout,
    target: &str,
    jobs: Option<usize>,
    step: &str,
) -> Result<()> {
    let mut s = Step::new(step, &tc.cmake)
        .arg("--build")
        .arg(&layout.wasm)
        .arg("--target")
        .args(target.split(' '));
    if let Some(j) = jobs {
        s = s.arg(format!("-j{j}"));
    }
    s.envs(tc.env()).run()?;
    Ok(())
}
