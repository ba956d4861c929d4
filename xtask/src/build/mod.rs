//! `cargo xtask build`: from pinned sources to an install prefix holding the wasm64 module.
//!
//! Stages, in order, each a function in `stages.rs` with declared inputs and outputs and a stamp
//! written only after it succeeded (run by `crate::stamp::Stages`; docs/design.md "Build stages"):
//!
//! toolchain → sources → kernel deps → patch → lake (or `--lean-c`) → oleans → bundles →
//! configure → libraries → abi-check → symtab → link → install
//!
//! A stage whose stamp matches its inputs, and whose outputs exist, does not run; when nothing
//! ran the build says "up to date". `--explain` prints why each stage ran, or what was used
//! (toolchain, sources); the kernel deps are stages of `kernel`, with its stamps, in the same report.

pub mod bench;
pub mod lean_out;
pub mod oleans;
pub mod prefix;
mod stages;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{ensure, Result};

use crate::{
    fetch,
    layout::Layout,
    paths,
    pins::Pins,
    prefix::Backend,
    runner,
    stamp::{StageRun, Stages},
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

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let report = build(&args, layout)?;
    eprint!("{}", report.render());
    Ok(())
}

/// A build of the fixtures (tests/fixtures/lean4-mini for lean4, tests/fixtures/lean-out for
/// the pinned Lean's output), installing into `layout`'s prefix: what `bench build` and `ci`
/// build, each in a layout of its own, where the real inputs cannot be had.
pub fn fixture_args(layout: &Layout, backend: Backend) -> Args {
    let root = paths::project_root();
    let sources = fetch::SourceOptions {
        lean_src: Some(root.join("tests/fixtures/lean4-mini")),
        ..Default::default()
    };
    Args {
        lean_c: Some(root.join("tests/fixtures/lean-out")),
        ..Args::standard(sources, backend, layout)
    }
}

impl Args {
    /// The defaults of the command line, with these sources and backend, installing into
    /// `layout`'s prefix (the acceptance run's build: the real sources, Lean's output made here).
    pub fn standard(sources: fetch::SourceOptions, backend: Backend, layout: &Layout) -> Args {
        Args {
            sources,
            lean_c: None,
            profile: Profile::Release,
            backend,
            bundles: false,
            no_kernel: false,
            embed: oleans::Embed::Init,
            prefix: Some(layout.prefix.clone()),
            jobs: None,
            explain: false,
        }
    }
}

/// Every path the command line gave, checked before the first long step: a typo must not cost
/// a toolchain install or a download first.
fn check_inputs(args: &Args) -> Result<()> {
    if let Some(dir) = &args.lean_c {
        for need in ["", "c", "lib/lean", "lean-version.txt"] {
            ensure!(
                dir.join(need).exists(),
                "--lean-c {}: {} is missing (Lean's output: DIR/c/**.c, DIR/lib/lean, \
                 DIR/lean-version.txt)\n  fix: pass the folder a host with the pinned Lean wrote \
                 (docs/lean-host.md), or leave --lean-c out to make it here with the official Lean",
                dir.display(),
                dir.join(need).display()
            );
        }
    }
    let lean_src = args.sources.lean_src.iter().map(|d| ("--lean-src", d));
    let locals = args.sources.sources.iter().map(|l| ("--source", &l.dir));
    for (flag, dir) in lean_src.chain(locals) {
        ensure!(
            dir.is_dir(),
            "{flag} {}: no such directory\n  fix: name the top folder of a local copy of the \
             source, or leave the flag out to use the pinned archive",
            dir.display()
        );
    }
    if let Some(prefix) = &args.prefix {
        let prefix = paths::absolute(prefix);
        let existing = prefix.ancestors().skip(1).find(|a| a.exists());
        ensure!(
            existing.is_some_and(
                |a| a.is_dir() && !a.metadata().is_ok_and(|m| m.permissions().readonly())
            ),
            "--prefix {}: its parent cannot be created ({} is not a writable directory)\n  \
             fix: choose a prefix under a directory you can write to",
            prefix.display(),
            existing.unwrap_or(Path::new("/")).display()
        );
    }
    Ok(())
}

/// What a build did, stage by stage.
#[derive(Debug, Default)]
pub struct Report {
    pub stages: Vec<StageRun>,
    pub prefix: PathBuf,
    pub skipped: Vec<String>,
    pub total_secs: f64,
    /// Where lean4 came from (its tarball's sha256, whether it was recorded just now).
    pub lean4: Option<fetch::FetchedSource>,
    pub counts: Counts,
}

/// What went into the link, for the acceptance report.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    /// The C files of Lean's output that were compiled.
    pub c_files: usize,
    pub archives: usize,
    /// The symbol table's entries, when the symtab stage ran (an up-to-date one is not read).
    pub symbols: Option<usize>,
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
                .map(|r| r.name.as_str())
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

pub fn build(args: &Args, layout: &Layout) -> Result<Report> {
    let start = Instant::now();
    check_inputs(args)?;
    ensure!(
        !(args.bundles && args.embed == oleans::Embed::All),
        "--bundles ships Std and Lean beside the module, --embed all puts them inside it: choose one"
    );
    let pins = Pins::load()?;
    let dirs = layout.build_dirs(
        args.profile.name(),
        args.embed.name(),
        args.prefix.as_deref(),
    );
    let mut report = Report {
        prefix: dirs.prefix.clone(),
        ..Report::default()
    };

    // Toolchain and sources are used as found (installed or fetched when missing); where
    // Lean's output comes from is decided before any stage (without `--lean-c` or the official
    // Lean of the pin nothing runs).
    let mut run = Stages::new(dirs.stamps.clone(), args.explain, &mut report.stages);
    let tc = stages::toolchain(&layout.cache, &pins, &mut run)?;
    let sources = stages::Sources::fetch(args, &pins, layout, &mut run)?;
    report.lean4 = Some(sources.lean4.clone());
    let origin = lean_out::origin(args.lean_c.as_deref(), &pins)?;
    let kernel = stages::kernel_deps(args, &pins, &tc, layout, &mut run, &mut report.skipped)?;
    let ctx = stages::Ctx {
        args,
        pins: &pins,
        dirs: &dirs,
        tc: &tc,
        sources: &sources,
        kernel: kernel.as_ref(),
    };
    stages::patch(&ctx, &mut run)?;
    let lean_out = stages::lake(&ctx, &mut run, &origin)?;
    let manifest = stages::oleans(&ctx, &mut run, &lean_out)?;
    let bundles = stages::bundles(&ctx, &mut run, &lean_out)?;
    let configured = stages::configure(&ctx, &mut run, &lean_out, &manifest)?;
    let libraries = stages::libraries(&ctx, &mut run, &configured)?;
    stages::abi_check(&mut run, &libraries)?;
    let symbols = stages::symtab(&mut run, &libraries, &configured)?;
    let linked = stages::link(&ctx, &mut run, &libraries, &configured, &manifest)?;
    stages::install(&ctx, &mut run, &linked, &bundles)?;

    report.counts = Counts {
        c_files: configured.c_groups.iter().map(|(_, f)| f.len()).sum(),
        archives: libraries.archives.len(),
        symbols,
    };
    report.total_secs = start.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrong path fails at once, naming it and the fix: no toolchain, no download, no build
    /// directory.
    #[test]
    fn a_missing_lean_c_fails_before_any_step() {
        let root = crate::util::test_dir("build-inputs");
        let layout = Layout::new(&root.join("build"), crate::paths::ToolCache::standard(None));
        let args = Args {
            lean_c: Some(PathBuf::from("/nonexistent")),
            sources: fetch::SourceOptions {
                offline: true,
                ..Default::default()
            },
            ..Args::standard(Default::default(), Backend::Lean, &layout)
        };
        let text = format!("{:#}", build(&args, &layout).unwrap_err());
        crate::util::assert_contains(&text, &["--lean-c /nonexistent", "is missing", "fix:"]);
        assert!(!layout.root.exists(), "the build directory was made");

        let args = Args {
            sources: fetch::SourceOptions {
                lean_src: Some(root.join("no-such-lean4")),
                ..Default::default()
            },
            ..Args::standard(Default::default(), Backend::Lean, &layout)
        };
        let text = format!("{:#}", build(&args, &layout).unwrap_err());
        crate::util::assert_contains(&text, &["--lean-src", "no-such-lean4", "fix:"]);
    }
}
