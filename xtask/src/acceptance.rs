//! The acceptance run, `cargo xtask ci --real`: the kernel with the real Lean inside, built from
//! the pinned lean4 release with the official Lean's output, then tested in Node, in the sample
//! notebooks and in Chromium, with a report of what each stage took (docs/acceptance.md).
//!
//! Every input is checked first, all at once, building nothing ([`preconditions`]); a missing
//! one ends the command with [`Preconditions`], which `main` maps to exit status 2. `ci`'s
//! fixture suite writes the same [`Report`] for its test-backend build, labelled as not an
//! acceptance run.

use std::{
    collections::BTreeMap,
    fmt::{self, Write as _},
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::{
    build, fetch, kernel,
    layout::Layout,
    lite,
    node_test::NodeTestSummary,
    pins::Pins,
    prefix::{self, Backend},
    runner,
    stamp::{self, StageRun},
    test_node,
    toolchain::{self, lean_host, Toolchain},
    util,
};

/// What labels the report of `ci`'s fixture build.
pub const FIXTURE_LABEL: &str = "test backend, fixtures: not an acceptance run";

/// An input the acceptance run needs and this machine lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub what: String,
    pub why: String,
    /// The command that provides it.
    pub fix: String,
}

/// The acceptance run cannot start. Not a failure of anything built: `main` exits with 2.
#[derive(Debug)]
pub struct Preconditions {
    pub missing: Vec<Missing>,
}

impl fmt::Display for Preconditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the acceptance run cannot start: {} input(s) missing (nothing was built)",
            self.missing.len()
        )?;
        for m in &self.missing {
            write!(f, "\n  - {}: {}\n    fix: {}", m.what, m.why, m.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for Preconditions {}

/// The process's exit status for an error: 2 when inputs are missing, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<Preconditions>().is_some() {
        2
    } else {
        1
    }
}

/// Every input of the run, checked at once without building or installing anything: the
/// official Lean of the pin, the lean4 source, the xeus sources, Chromium.
pub fn preconditions(
    pins: &Pins,
    opts: &fetch::SourceOptions,
    layout: &Layout,
) -> Result<Vec<Missing>> {
    let mut missing = Vec::new();
    let hosts = lean_host::detect(&layout.cache, pins);
    if hosts.official.pinned.is_none() {
        let others: Vec<String> = hosts
            .official
            .others
            .iter()
            .map(|o| format!("{} is `{}`", o.lean.display(), o.version_line))
            .collect();
        missing.push(Missing {
            what: format!("the official Lean {}", pins.lean.tag),
            why: match others.is_empty() {
                true => format!("no elan toolchain {}", pins.lean_toolchain()),
                false => format!("only other versions: {}", others.join("; ")),
            },
            fix: hosts.official_fix(),
        });
    }
    missing.extend(lean4_source(pins, opts, layout)?);
    let xeus = match kernel::kernel_sources(pins, opts, layout) {
        Ok(Some(_)) => None,
        Ok(None) => Some("no local copy, cached or mirrored archive, and no download".into()),
        Err(e) => Some(format!("{e:#}").lines().next().unwrap_or("").to_string()),
    };
    missing.extend(xeus.map(|why| Missing {
        what: "the xeus and xeus-lite sources".into(),
        why,
        fix: "cargo xtask ci --real --source xeus=DIR --source xeus-lite=DIR".into(),
    }));
    // Installable from Debian is not enough: apt-get needs root and a Debian mirror, which a
    // check cannot promise; installing it is one command, which the run should not guess.
    let chromium = lite::tool_states(&layout.cache, pins).into_iter().next();
    missing.extend(chromium.filter(|c| c.fix.is_some()).map(|c| Missing {
        what: "Chromium (the browser test)".into(),
        why: format!("no {}", c.path.display()),
        fix: "sudo apt-get install -y chromium (or set XLEAN_CHROMIUM to a Chromium 156+)".into(),
    }));
    Ok(missing)
}

/// The lean4 source: a local copy, the archive in the download cache or a mirror, else the
/// pinned archive's URL must answer (a bounded probe: nothing is downloaded here).
fn lean4_source(
    pins: &Pins,
    opts: &fetch::SourceOptions,
    layout: &Layout,
) -> Result<Option<Missing>> {
    let fetcher = fetch::Fetcher::new(pins, opts, fetch::Places::standard(layout))?;
    if fetcher.without_network("lean4")?.is_some() {
        return Ok(None);
    }
    let src = pins.source("lean4")?;
    let why = if opts.offline {
        "no local copy, cached or mirrored archive, and --offline".to_string()
    } else {
        let probe = runner::cmd("curl")
            .args(["-sSfIL", "--max-time", "10", &src.url])
            .read();
        match probe {
            Ok(_) => return Ok(None),
            Err(e) => format!(
                "no local copy, cached or mirrored archive, and {} does not answer ({})",
                src.url,
                format!("{e:#}").lines().next().unwrap_or("")
            ),
        }
    };
    Ok(Some(Missing {
        what: format!("the lean4 source {}", pins.lean.tag),
        why,
        fix: format!(
            "cargo xtask ci --real --lean-src DIR (a lean4 checkout at {}), or --mirror DIR \
             holding {} from {}",
            pins.lean.tag, src.artifact, src.url
        ),
    }))
}

/// `cargo xtask ci --real`: the preconditions, then the stages, stopping at the first broken
/// one; the report is written either way.
pub fn run(opts: &fetch::SourceOptions, layout: &Layout, install: bool) -> Result<()> {
    let pins = Pins::load()?;
    let missing = preconditions(&pins, opts, layout)?;
    if !missing.is_empty() {
        return Err(Preconditions { missing }.into());
    }
    if install {
        runner::timed("toolchain install", || {
            toolchain::install_default(&layout.cache)
        })?;
    }
    let tc = Toolchain::load(&layout.cache)?;
    let mut report = Report {
        strict: true,
        ..Report::new("acceptance run: the official Lean, the pinned lean4 release")
    };
    let result = stages(&tc, &pins, opts, layout, &mut report);
    let written = report.write(&layout.acceptance)?;
    eprint!("{}", report.render_md());
    let done = format!("the acceptance run (report: {})", written.display());
    result.map_err(|e| e.context(format!("{done} failed")))?;
    runner::note(&format!("{done} passed"));
    Ok(())
}

fn stages(
    tc: &Toolchain,
    pins: &Pins,
    opts: &fetch::SourceOptions,
    layout: &Layout,
    report: &mut Report,
) -> Result<()> {
    let args = build::Args {
        bundles: true,
        ..build::Args::standard(opts.clone(), Backend::Lean, layout)
    };
    let built = report.stage("build", || build::build(&args, layout))?;
    report.record_build(&built)?;
    report.node_tests(tc, &built.prefix, &layout.logs)?;
    stop_at_failure(report)?;
    report.notebooks(tc, &built.prefix, &layout.logs)?;
    stop_at_failure(report)?;
    report.browser_test(tc, pins, &built.prefix, layout)?;
    stop_at_failure(report)
}

fn stop_at_failure(report: &Report) -> Result<()> {
    match report.failures.first() {
        Some(f) => bail!("stage {} failed: {}", f.stage, f.first_error),
        None => Ok(()),
    }
}

/// What one run did, as written to `report.md` and `report.json`.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub label: String,
    /// An acceptance run: a skipped test fails its stage.
    pub strict: bool,
    pub lean: Option<LeanFacts>,
    pub stages: Vec<Stage>,
    /// The build's own stages (from its report).
    pub build_stages: Vec<StageRun>,
    pub counts: Option<build::Counts>,
    /// Bytes, by path.
    pub sizes: BTreeMap<String, u64>,
    /// Milliseconds, by name.
    pub node_timings: BTreeMap<String, f64>,
    pub chromium_timings: BTreeMap<String, f64>,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Serialize)]
pub struct LeanFacts {
    pub version: String,
    pub lean4_commit: Option<String>,
    /// The lean4 tarball's sha256 (none for a local copy).
    pub lean4_sha256: Option<String>,
    /// The sha256 was recorded in pins.lock by this run: commit pins.lock.
    pub recorded_now: bool,
    pub lean4_source: String,
}

#[derive(Debug, Serialize)]
pub struct Stage {
    pub name: String,
    pub secs: f64,
    pub passed: bool,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub stage: String,
    pub log: Option<PathBuf>,
    pub first_error: String,
}

impl Report {
    pub fn new(label: &str) -> Report {
        Report {
            label: label.to_string(),
            ..Report::default()
        }
    }

    /// Runs one stage, recording its wall time, and on failure its log and first error line.
    pub fn stage<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let start = Instant::now();
        let result = f();
        self.stages.push(Stage {
            name: name.to_string(),
            secs: start.elapsed().as_secs_f64(),
            passed: result.is_ok(),
        });
        if let Err(e) = &result {
            self.failures.push(failure(name, e));
        }
        result
    }

    /// The build's facts: lean4's provenance, its stages' times, its counts, the installed sizes.
    pub fn record_build(&mut self, b: &build::Report) -> Result<()> {
        self.lean = b.lean4.as_ref().map(|src| LeanFacts {
            version: src.version.clone(),
            lean4_commit: src.commit().map(str::to_string),
            lean4_sha256: match &src.origin {
                fetch::Origin::Archive { sha256, .. } => Some(sha256.clone()),
                fetch::Origin::Local { .. } => None,
            },
            recorded_now: src.recorded_now,
            lean4_source: src.summary(),
        });
        self.build_stages = b.stages.clone();
        self.counts = Some(b.counts);
        let bin = b.prefix.join(prefix::BIN_DIR);
        for file in stamp::files_under(&bin, &[".wasm", ".tar.gz"])? {
            let bytes = fs::metadata(&file)?.len();
            self.sizes.insert(file.display().to_string(), bytes);
        }
        Ok(())
    }

    /// `test-node`'s suite on the prefix: its counts, then its Node timings.
    pub fn node_tests(
        &mut self,
        tc: &Toolchain,
        prefix: &Path,
        logs: &Path,
    ) -> Result<NodeTestSummary> {
        let s = self.tests("test-node", || {
            test_node::run_suite(tc, &crate::prefix::read_kernel(prefix)?, logs)
        })?;
        self.node_timings = s.timings.iter().cloned().collect();
        Ok(s)
    }

    /// The notebooks for the prefix's backend against their expected outputs, one test each.
    pub fn notebooks(
        &mut self,
        tc: &Toolchain,
        prefix: &Path,
        logs: &Path,
    ) -> Result<NodeTestSummary> {
        self.tests("notebooks", || {
            let kernel = crate::prefix::read_kernel(prefix)?;
            let n = test_node::run_notebooks(tc, prefix, &kernel, logs, false)?;
            Ok(NodeTestSummary {
                passed: n.passed,
                failed: n.failed,
                ..NodeTestSummary::default()
            })
        })
    }

    /// The site of the prefix in Chromium: the site's size, the browser's timings.
    pub fn browser_test(
        &mut self,
        tc: &Toolchain,
        pins: &Pins,
        prefix: &Path,
        layout: &Layout,
    ) -> Result<NodeTestSummary> {
        let mut site = None;
        let s = self.tests("browser", || {
            let (built, s) = lite::test_prefix(tc, pins, prefix, layout)?;
            site = Some(built);
            Ok(s)
        })?;
        self.sizes
            .extend(site.map(|site| (site.dir.display().to_string(), site.total_bytes)));
        self.chromium_timings = s.timings.iter().cloned().collect();
        Ok(s)
    }

    /// A stage that runs tests: it fails in the report when a test failed or, in an acceptance
    /// run, when any was skipped; the counts are returned either way (`ci` adds them up).
    fn tests(
        &mut self,
        name: &str,
        f: impl FnOnce() -> Result<NodeTestSummary>,
    ) -> Result<NodeTestSummary> {
        let s = self.stage(name, f)?;
        let mut verdict = s.ensure_passed();
        if self.strict && verdict.is_ok() && (s.skipped > 0 || s.passed == 0) {
            verdict = Err(anyhow::anyhow!(
                "{name}: {} passed, {} skipped ({}): a skipped test is not a pass here",
                s.passed,
                s.skipped,
                s.skip_reason.as_deref().unwrap_or("no reason given")
            ));
        }
        if let Err(e) = verdict {
            if let Some(last) = self.stages.last_mut() {
                last.passed = false;
            }
            self.failures.push(failure(name, &e));
        }
        Ok(s)
    }

    /// `report.json` and `report.md` in `dir`, each written atomically. Returns the `.md`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let json = serde_json::to_string_pretty(self)?;
        util::write_atomic(&dir.join("report.json"), json.as_bytes())?;
        let md = dir.join("report.md");
        util::write_atomic(&md, self.render_md().as_bytes())?;
        Ok(md)
    }

    pub fn render_md(&self) -> String {
        let mut s = format!("# xlean acceptance report\n\n{}\n\n", self.label);
        if let Some(l) = &self.lean {
            let _ = writeln!(
                s,
                "- Lean {}, lean4 commit {}, tarball sha256 {}{}\n- lean4: {}\n",
                l.version,
                l.lean4_commit.as_deref().unwrap_or("unknown"),
                l.lean4_sha256.as_deref().unwrap_or("none (a local copy)"),
                if l.recorded_now {
                    " (recorded in pins.lock by this run: commit it)"
                } else {
                    ""
                },
                l.lean4_source
            );
        }
        s.push_str("## Stages\n\n| stage | result | wall time |\n|---|---|---|\n");
        for st in &self.stages {
            let result = if st.passed { "passed" } else { "FAILED" };
            let _ = writeln!(
                s,
                "| {} | {result} | {} |",
                st.name,
                runner::fmt_secs(st.secs)
            );
        }
        self.render_build(&mut s);
        s.push_str("\n## Sizes\n\n");
        for (path, bytes) in &self.sizes {
            let _ = writeln!(s, "- {path}: {bytes} bytes");
        }
        for (title, figures) in [
            ("Node timings", &self.node_timings),
            ("Chromium timings", &self.chromium_timings),
        ] {
            let _ = writeln!(s, "\n## {title}\n");
            for (name, ms) in figures {
                let _ = writeln!(s, "- {name}: {ms:.1} ms");
            }
        }
        s.push_str("\n## Failures\n\n");
        if self.failures.is_empty() {
            s.push_str("none\n");
        }
        for f in &self.failures {
            let log = f
                .log
                .as_deref()
                .map_or("(no log)".into(), |l| l.display().to_string());
            let _ = writeln!(s, "- {}: {}\n  log: {log}", f.stage, f.first_error);
        }
        s
    }

    fn render_build(&self, s: &mut String) {
        if let Some(c) = &self.counts {
            let symbols = c
                .symbols
                .map_or("not counted (up to date)".into(), |n| n.to_string());
            let _ = writeln!(
                s,
                "\nBuilt from {} C files into {} archives; symbol table: {symbols}.",
                c.c_files, c.archives
            );
        }
        if !self.build_stages.is_empty() {
            s.push_str("\n| build stage | ran because | wall time |\n|---|---|---|\n");
        }
        for b in &self.build_stages {
            let ran = b.ran_because.as_deref().unwrap_or("up to date");
            let _ = writeln!(s, "| {} | {ran} | {} |", b.name, runner::fmt_secs(b.secs));
        }
    }
}

/// A failed stage: the log its error names (a step's `full log:`, a test run's `full output:`)
/// and the first error line in it, else the error's own first line.
fn failure(stage: &str, e: &anyhow::Error) -> Failure {
    let text = format!("{e:#}");
    let log = ["full log: ", "full output: "].iter().find_map(|marker| {
        let rest = &text[text.find(marker)? + marker.len()..];
        rest.split_whitespace().next().map(PathBuf::from)
    });
    let in_log = log
        .as_deref()
        .and_then(|l| fs::read_to_string(l).ok())
        .and_then(|t| {
            t.lines()
                .map(str::trim)
                .find(|l| l.starts_with("not ok") || l.to_lowercase().contains("error"))
                .map(str::to_string)
        });
    Failure {
        stage: stage.to_string(),
        first_error: in_log.unwrap_or_else(|| text.lines().next().unwrap_or("").to_string()),
        log,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_stage_writes_its_row_log_and_first_error_line() {
        let dir = util::test_dir("acceptance-failure");
        let log = dir.join("logs/test-node.log");
        util::write_atomic(
            &log,
            b"TAP version 13\nok 1 - loads\n  not ok 2 - answers #check Nat\n",
        )
        .unwrap();
        let mut report = Report::new(FIXTURE_LABEL);
        report.stage("build", || Ok(())).unwrap();
        let e = report
            .stage("test-node", || -> Result<()> {
                bail!("1 kernel test(s) failed\n  full output: {}", log.display())
            })
            .unwrap_err();
        assert_eq!(exit_code(&e), 1, "a failed stage is not a missing input");
        report.write(&dir.join("acceptance")).unwrap();

        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("acceptance/report.json")).unwrap())
                .unwrap();
        let failure = &json["failures"][0];
        assert_eq!(failure["stage"], "test-node");
        assert_eq!(failure["log"], log.display().to_string());
        assert_eq!(failure["first_error"], "not ok 2 - answers #check Nat");
        assert_eq!(json["stages"][1]["passed"], false);
        assert_eq!(json["label"], FIXTURE_LABEL);
        let md = fs::read_to_string(dir.join("acceptance/report.md")).unwrap();
        util::assert_contains(
            &md,
            &[
                FIXTURE_LABEL,
                "| build | passed |",
                "| test-node | FAILED |",
                "- test-node: not ok 2 - answers #check Nat",
                &format!("log: {}", log.display()),
            ],
        );
    }

    /// `ci --real` on a machine without the official Lean (this one): exit status 2, the missing
    /// inputs listed with their fixes, and nothing built in the scratch build directory.
    /// Offline, so the listing does not depend on the network (the probe is tried by hand).
    #[test]
    fn the_real_run_without_its_inputs_exits_2_and_builds_nothing() {
        let pins = Pins::load().unwrap();
        if lean_host::find_official(&pins).pinned.is_some() {
            eprintln!(
                "SKIPPED: the official Lean {} is installed here",
                pins.lean.tag
            );
            return;
        }
        let root = util::test_dir("acceptance-preconditions");
        let layout = Layout::new(&root.join("build"), crate::paths::ToolCache::standard(None));
        let opts = fetch::SourceOptions {
            offline: true,
            ..Default::default()
        };
        let e = run(&opts, &layout, false).unwrap_err();
        assert_eq!(exit_code(&e), 2, "{e:#}");
        let missing = &e.downcast_ref::<Preconditions>().unwrap().missing;
        let text = format!("{e:#}");
        assert!(missing[0].what.contains("official Lean"), "{text}");
        assert!(missing[0].fix.contains("elan"), "{text}");
        let fetcher = fetch::Fetcher::new(&pins, &opts, fetch::Places::standard(&layout)).unwrap();
        if fetcher.without_network("lean4").unwrap().is_none() {
            assert!(missing[1].what.contains("lean4 source"), "{text}");
            assert!(missing[1].fix.contains("--lean-src DIR"), "{text}");
        }
        for built in [&layout.prefix, &layout.stamps, &layout.acceptance] {
            assert!(!built.exists(), "{} was made", built.display());
        }
        assert!(!layout.root.join("wasm-release").exists());
    }
}
