//! `node --test` over lean-wasm/tests/*.test.mjs against a built kernel module, with the counts
//! read from its TAP output.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};

use super::TestModules;
use crate::{paths, runner::Step, toolchain::Toolchain};

/// What a run of the Node tests found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeTestSummary {
    pub passed: u64,
    /// Failed and cancelled tests.
    pub failed: u64,
    pub skipped: u64,
    /// Why tests were skipped (the first reason given), when some were.
    pub skip_reason: Option<String>,
    /// The full output, when node ran.
    pub log: Option<PathBuf>,
}

impl NodeTestSummary {
    /// A suite that could not run at all: one skip, with its reason.
    pub fn skipped_suite(reason: &str) -> NodeTestSummary {
        NodeTestSummary {
            skipped: 1,
            skip_reason: Some(reason.to_string()),
            ..NodeTestSummary::default()
        }
    }

    /// An error when any test failed, pointing at the log.
    pub fn ensure_passed(&self) -> Result<()> {
        ensure!(
            self.failed == 0,
            "{} kernel test(s) failed in Node ({} passed)\n  full output: {}",
            self.failed,
            self.passed,
            self.log
                .as_deref()
                .map_or("(none)".into(), |p| p.display().to_string())
        );
        Ok(())
    }
}

/// The suite for installed kernels with the real Lean (`cargo xtask test-node`), which the test
/// modules cannot answer.
pub const LEAN_ANSWERS_SUITE: &str = "lean-answers.test.mjs";

/// The test files of the test modules: `lean-wasm/tests/*.test.mjs` but the Lean answers, sorted.
pub fn test_files() -> Result<Vec<PathBuf>> {
    let dir = paths::project_root().join("lean-wasm/tests");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".test.mjs") && n != LEAN_ANSWERS_SUITE)
        })
        .collect();
    files.sort();
    ensure!(
        !files.is_empty(),
        "no *.test.mjs files in {}",
        dir.display()
    );
    Ok(files)
}

/// Runs the Node tests against the test modules (from [`super::build_test_kernel`]): the test
/// files read them from `XLEAN_TEST_MODULE` (test backend) and `XLEAN_TEST_LEAN_BACKEND_MODULE`
/// (real backend over the fake Lean). Returns the counts even when tests failed (check
/// [`NodeTestSummary::failed`] or call [`NodeTestSummary::ensure_passed`]); an error means node
/// could not run them at all.
pub fn run_node_tests(tc: &Toolchain, modules: &TestModules) -> Result<NodeTestSummary> {
    run_node_tests_with_logs(tc, modules, &paths::logs_dir())
}

pub(super) fn run_node_tests_with_logs(
    tc: &Toolchain,
    modules: &TestModules,
    logs: &Path,
) -> Result<NodeTestSummary> {
    run_node_test_files(
        tc,
        "kernel-node-tests",
        &test_files()?,
        &[
            ("XLEAN_TEST_MODULE", &modules.test_backend),
            ("XLEAN_TEST_LEAN_BACKEND_MODULE", &modules.lean_backend),
        ],
        logs,
    )
}

/// `node --test` (TAP, one file at a time) over `files`, each module handed to the tests in its
/// environment variable; the step's log goes to `logs`. Returns the counts even when tests
/// failed; an error means node could not run them at all.
pub fn run_node_test_files(
    tc: &Toolchain,
    step_name: &str,
    files: &[PathBuf],
    modules: &[(&str, &Path)],
    logs: &Path,
) -> Result<NodeTestSummary> {
    let mut step = tc
        .step(step_name, &tc.node)
        .args(["--test", "--test-reporter=tap", "--test-concurrency=1"])
        .args(files);
    for (var, js) in modules {
        let js = paths::absolute(js);
        ensure!(
            js.is_file() && js.with_extension("wasm").is_file(),
            "no kernel module at {} (and its .wasm)\n  fix: build it first",
            js.display()
        );
        step = step.env(var, js);
    }
    let step = step.cwd(paths::project_root()).log_dir(logs);
    Ok(run_tap_step(step, "node --test")?.0)
}

/// Runs a `node --test --test-reporter=tap` step; returns the counts (even when tests failed)
/// and the whole output. An error means it could not run, or failed without a failing test.
/// `what` names it in errors.
pub fn run_tap_step(step: Step, what: &str) -> Result<(NodeTestSummary, String)> {
    let log = step.log_path();
    let (output, run_error) = match step.capture() {
        Ok(out) => (out.output, None),
        // node exits 1 when a test fails: the counts are still in its log.
        Err(e) => (fs::read_to_string(&log).unwrap_or_default(), Some(e)),
    };
    let Some(mut summary) = parse_tap_summary(&output) else {
        match run_error {
            Some(e) => return Err(e.context(format!("{what} did not report any counts"))),
            None => bail!(
                "{what} printed no TAP summary (`# pass N` ...)\n  log: {}",
                log.display()
            ),
        }
    };
    if let Some(e) = run_error {
        if summary.failed == 0 {
            // node failed without a failing test (a crash after the summary?): not a pass.
            return Err(e.context(format!("{what} failed although no test failed")));
        }
        eprintln!("{e:#}");
    }
    summary.log = Some(log);
    Ok((summary, output))
}

/// The counts at the end of `node --test --test-reporter=tap` output (`# pass 9`, `# fail 0`,
/// `# cancelled 0`, `# skipped 0`, `# todo 0`), and the first skip reason (`... # SKIP why`).
/// `None` when the output has no summary.
pub(super) fn parse_tap_summary(tap: &str) -> Option<NodeTestSummary> {
    let mut s = NodeTestSummary::default();
    let mut seen = false;
    for line in tap.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.split_whitespace();
            let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = value.parse::<u64>() else {
                continue;
            };
            match key {
                "pass" => s.passed = n,
                "fail" | "cancelled" => s.failed += n,
                "skipped" => s.skipped = n,
                "tests" => seen = true,
                _ => {}
            }
        } else if line.starts_with("ok ") && s.skip_reason.is_none() {
            if let Some((_, reason)) = line.split_once(" # SKIP") {
                let reason = reason.trim();
                s.skip_reason = Some(if reason.is_empty() {
                    "skipped".to_string()
                } else {
                    reason.to_string()
                });
            }
        }
    }
    seen.then_some(s)
}
