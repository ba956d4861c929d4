//! `cargo xtask ci`: what `.ci/run` runs. Installs what is missing, then runs every suite and
//! prints one closing line that counts every test: `ci: N passed, N failed, N skipped`.
//!
//! Everything runs with the real tools, and the toolchain is required: a test that finds it
//! missing fails (`crate::gate`). Suites that need the xeus sources (GitHub, a mirror, local
//! copies such as `XLEAN_SOURCE_TREES`) are skipped with the reason where they cannot be had,
//! except under CI (`CI` set): there the sources are required too, and a suite that ran no test
//! is a failure, so a green CI always means every suite ran.
//!
//! `--real` is the acceptance run instead (crate::acceptance): the kernel with the real Lean.

use std::{path::PathBuf, time::Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::layout::Layout;
use crate::{
    acceptance::{self, Report},
    doctor, gate,
    paths::ToolCache,
    pins::Pins,
    runner,
    toolchain::{self, Toolchain},
};

#[derive(clap::Args)]
pub struct Args {
    /// Do not run `toolchain install` first (use what is installed)
    #[arg(long)]
    skip_install: bool,
    /// The acceptance run instead of the suites: build the kernel with the real Lean (official
    /// Lean of the pin, pinned lean4 release, --bundles), then test-node, the notebooks and the
    /// browser test; report in <build>/acceptance/. Checks every input first and exits with
    /// status 2, listing each missing one with its fix, before building anything
    #[arg(long)]
    real: bool,
    /// Where the sources of `--real` come from
    #[command(flatten)]
    sources: crate::fetch::SourceOptions,
}

/// What a suite counted (a Node suite's: `From<&NodeTestSummary>`, in crate::node_test).
#[derive(Default, Debug, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
}

struct SuiteResult {
    name: &'static str,
    counts: Counts,
    secs: f64,
    note: String,
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    if args.real {
        return crate::acceptance::run(&args.sources, layout, !args.skip_install);
    }
    ensure!(
        args.sources.lean_src.is_none() && args.sources.sources.is_empty(),
        "--lean-src and --source name the sources of `cargo xtask ci --real` only\n  \
         fix: add --real, or leave them out"
    );
    let start = Instant::now();
    if !args.skip_install {
        runner::timed("toolchain install", || {
            toolchain::install_default(&layout.cache)
        })?;
    }
    let tc = Toolchain::load(&layout.cache)?;
    let pins = Pins::load()?;
    let strict = std::env::var_os("CI").is_some();
    require(strict);

    // lean-check spends its time in the checker's own imports (one Node process per module, at
    // most two at a time) and shares nothing with the other suites: it runs beside them, so the
    // run takes about as long as the longer of the two lines, not their sum.
    let results = std::thread::scope(|s| {
        let lean = s.spawn(|| suite("lean-check lean-wasm/", strict, || lean_check(layout)));
        let mut results = vec![
            suite("doctor", strict, || doctor_rows(&layout.cache, &pins)),
            suite("workflow lint", strict, || workflow_lint(&tc, &pins)),
            suite("xtask tests (cargo test)", strict, || cargo_test(&tc)),
            suite("kernel shell in Node", strict, || {
                kernel_shell(&tc, &pins, layout)
            }),
        ];
        let mut prefix = None;
        let fixture = layout.nested("ci-fixture");
        let mut report = Report::new(acceptance::FIXTURE_LABEL);
        results.push(suite("build + test-node (fixture)", strict, || {
            let built = fixture_build(&tc, &fixture, &mut report, &mut prefix);
            report.write(&fixture.acceptance)?;
            built
        }));
        results.push(suite("JupyterLite site in Chromium", strict, || {
            let tested = site_in_chromium(&tc, &pins, layout, &mut report, prefix.as_deref());
            report.write(&fixture.acceptance)?;
            tested
        }));
        let lean = lean.join().unwrap_or_else(|_| SuiteResult {
            name: "lean-check lean-wasm/",
            counts: Counts {
                failed: 1,
                ..Counts::default()
            },
            secs: 0.0,
            note: "the lean-check thread panicked".into(),
        });
        results.insert(2, lean);
        results
    });
    summary(&results, start.elapsed().as_secs_f64())
}

/// What this run requires (`crate::gate`): the toolchain always, the sources under CI. Set
/// before any thread starts, so every suite and the tests read the same requirement.
fn require(strict: bool) {
    let mut needs = vec![gate::Need::Toolchain];
    if strict {
        needs.push(gate::Need::Sources);
    }
    let value = gate::require_value(&needs);
    std::env::set_var(gate::REQUIRE_ENV, &value);
    let ci = if strict {
        "; CI: a suite that runs no test fails"
    } else {
        ""
    };
    runner::note(&format!(
        "required here: {value} ({}={value}){ci}",
        gate::REQUIRE_ENV
    ));
}

/// Runs one suite; an error counts as one failure, and under CI so does a suite that ran no
/// test (a green CI means every suite ran).
fn suite(
    name: &'static str,
    strict: bool,
    f: impl FnOnce() -> Result<(Counts, String)>,
) -> SuiteResult {
    let t = Instant::now();
    runner::heading(&format!("suite: {name}"));
    let (counts, note) = match f() {
        Ok((c, note)) if strict && c.passed + c.failed == 0 => (
            Counts { failed: 1, ..c },
            format!("ran no test, which CI does not allow: {note}"),
        ),
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e:#}");
            let first = format!("{e:#}").lines().next().unwrap_or("").to_string();
            (
                Counts {
                    failed: 1,
                    ..Counts::default()
                },
                first,
            )
        }
    };
    let secs = t.elapsed().as_secs_f64();
    runner::note(&format!("suite done: {name} ({})", runner::fmt_secs(secs)));
    SuiteResult {
        name,
        counts,
        secs,
        note,
    }
}

fn doctor_rows(cache: &ToolCache, pins: &Pins) -> Result<(Counts, String)> {
    let ctx = doctor::Context {
        path: std::env::var_os("PATH").unwrap_or_default(),
        cache: cache.clone(),
    };
    let rows = doctor::check(&ctx, Some(pins));
    eprint!("{}", doctor::render(&rows));
    let failed = rows.iter().filter(|r| r.is_required_problem()).count() as u64;
    let counts = Counts {
        passed: rows.len() as u64 - failed,
        failed,
        skipped: 0,
    };
    Ok((counts, "one check per tool".into()))
}

/// The GitHub workflows checked against GitHub's schema (they run only on GitHub): one test
/// per workflow.
fn workflow_lint(tc: &Toolchain, pins: &Pins) -> Result<(Counts, String)> {
    let linter = crate::workflows::Linter::ensure(tc, pins)?;
    let results = linter.lint_all(&crate::workflows::workflow_files(
        &crate::paths::project_root(),
    )?);
    let mut counts = Counts::default();
    for r in results {
        match r {
            Ok(()) => counts.passed += 1,
            Err(e) => {
                eprintln!("{e}");
                counts.failed += 1;
            }
        }
    }
    Ok((
        counts,
        ".github/workflows/*.yml by npm @action-validator/cli".into(),
    ))
}

/// The kernel's Lean modules, elaborated with the best Lean host (here: the npm checker).
fn lean_check(layout: &Layout) -> Result<(Counts, String)> {
    let summary = crate::lean_check::check_lean_wasm(layout)?;
    let c = summary.counts();
    let mut counts = Counts {
        passed: c.passed as u64,
        failed: c.failed as u64,
        skipped: c.unchecked as u64,
    };
    // Keep the module counts even when the verdict is a failure.
    if let Err(e) = summary.verdict(false) {
        eprintln!("{e:#}");
        counts.failed = counts.failed.max(1);
    }
    Ok((counts, summary.line()))
}

/// The kernel shell (xeus interpreter + test backend) in Node, driven like the JupyterLite
/// worker. Needs the xeus/xeus-lite sources: skipped, with the reason, where they cannot be had.
fn kernel_shell(tc: &Toolchain, pins: &Pins, layout: &Layout) -> Result<(Counts, String)> {
    let s = crate::kernel::test_suite(tc, pins, &Default::default(), layout)?;
    let note = s
        .skip_reason
        .clone()
        .unwrap_or_else(|| "node --test, test backend".into());
    Ok((Counts::from(&s), note))
}

/// The product's own path on the fixtures: `build --backend test --bundles` installs a kernel
/// prefix (the kernel's Lean output cannot be made here), then `test-node` runs against it.
/// With bundles, so that the site's browser test also loads Std/Lean from bundles. Its stages
/// go into the fixture's acceptance report (written by the caller, also on failure).
fn fixture_build(
    tc: &Toolchain,
    ci_build: &Layout,
    report: &mut Report,
    prefix: &mut Option<PathBuf>,
) -> Result<(Counts, String)> {
    let mut args = crate::build::fixture_args(ci_build, crate::prefix::Backend::Test);
    args.bundles = true;
    let built = report.stage("build", || crate::build::build(&args, ci_build))?;
    eprint!("{}", built.render());
    report.record_build(&built)?;
    if let Some(skip) = built.skipped.first() {
        let counts = Counts {
            skipped: 1,
            ..Counts::default()
        };
        return Ok((counts, skip.clone()));
    }
    *prefix = Some(built.prefix.clone());
    let mut counts = Counts::from(&report.node_tests(tc, &built.prefix, &ci_build.logs)?);
    counts += Counts::from(&report.notebooks(tc, &built.prefix, &ci_build.logs)?);
    let note = "cargo xtask build --backend test --bundles (fixtures), then test-node (suite and \
                notebooks) on its prefix";
    Ok((counts, note.into()))
}

/// The JupyterLite site of that prefix, built offline and tested in headless Chromium.
fn site_in_chromium(
    tc: &Toolchain,
    pins: &Pins,
    layout: &Layout,
    report: &mut Report,
    prefix: Option<&std::path::Path>,
) -> Result<(Counts, String)> {
    let Some(prefix) = prefix else {
        let counts = Counts {
            skipped: 1,
            ..Counts::default()
        };
        let note = "no kernel prefix: the build suite above was skipped or failed";
        return Ok((counts, note.into()));
    };
    let s = report.browser_test(tc, pins, prefix, layout)?;
    let note = s
        .skip_reason
        .clone()
        .unwrap_or_else(|| "jupyter lite build, then headless Chromium on 127.0.0.1".into());
    Ok((Counts::from(&s), note))
}

/// One line per suite with its counts and wall time, then the closing line CI reads.
fn summary(results: &[SuiteResult], secs: f64) -> Result<()> {
    eprintln!();
    runner::heading(&format!("ci summary ({})", runner::fmt_secs(secs)));
    let mut total = Counts::default();
    for r in results {
        eprintln!(
            "    {:<28} {:>4} passed {:>3} failed {:>3} skipped  {:>8}  {}",
            r.name,
            r.counts.passed,
            r.counts.failed,
            r.counts.skipped,
            runner::fmt_secs(r.secs),
            r.note
        );
        total += r.counts;
    }
    println!(
        "ci: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    if total.failed > 0 {
        bail!("{} test(s) failed", total.failed);
    }
    Ok(())
}

/// Runs the xtask's own tests (unit tests, and the tests that drive the real toolchain).
fn cargo_test(tc: &Toolchain) -> Result<(Counts, String)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = tc
        .step("cargo-test", cargo)
        .args(["test", "--package", "xtask", "--color", "never"])
        .cwd(crate::paths::project_root())
        .capture();
    let (text, ok) = match &out {
        Ok(o) => (o.output.clone(), true),
        Err(e) => (format!("{e:#}"), false),
    };
    let counts = parse_libtest(&text);
    if !ok && counts.failed == 0 {
        return Err(out.unwrap_err()).context("cargo test failed before running its tests");
    }
    Ok((counts, String::new()))
}

/// Sums libtest's `test result: ok. 17 passed; 0 failed; 2 ignored; ...` lines.
fn parse_libtest(text: &str) -> Counts {
    let mut c = Counts::default();
    for line in text.lines() {
        let Some(rest) = line
            .trim_start_matches([' ', '|'])
            .strip_prefix("test result: ")
        else {
            continue;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => c.passed += n,
                "failed" => c.failed += n,
                "ignored" => c.skipped += n,
                _ => {}
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summaries_are_summed() {
        let text = "test result: ok. 17 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.30s\n\
                    noise\n\
                        | test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured\n";
        let c = parse_libtest(text);
        assert_eq!((c.passed, c.failed, c.skipped), (20, 1, 2));
    }
}
