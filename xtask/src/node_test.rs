//! `node --test --test-reporter=tap`, run as a step and counted from its TAP output: the kernel's
//! Node suite, `test-node` and the browser test all run through here, and `ci` adds up the
//! [`NodeTestSummary`] each returns.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Result};

use crate::{ci::Counts, paths, runner::Step, toolchain::Toolchain};

/// What a run of the Node tests found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeTestSummary {
    pub passed: u64,
    /// Failed and cancelled tests.
    pub failed: u64,
    pub skipped: u64,
    /// Why tests were skipped (the first reason given), when some were.
    pub skip_reason: Option<String>,
    /// The full output, when node ran.
    pub log: Option<PathBuf>,
    /// The `timing <name> <ms>` figures the run printed (for the acceptance report).
    pub timings: Vec<(String, f64)>,
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

impl From<&NodeTestSummary> for Counts {
    fn from(s: &NodeTestSummary) -> Counts {
        Counts {
            passed: s.passed,
            failed: s.failed,
            skipped: s.skipped,
        }
    }
}

/// The `timing <name> <ms>` lines of a script's output (also as TAP diagnostics, `# timing ...`).
pub fn parse_timings(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("# ");
            let mut words = l.strip_prefix("timing ")?.split_whitespace();
            let name = words.next()?.to_string();
            let ms = words.next()?.parse().ok()?;
            Some((name, ms))
        })
        .collect()
}

/// `node --test` with the TAP reporter, one file at a time: add the test files, their
/// environment and the log folder, then hand it to [`run_tap_step`].
pub fn step(tc: &Toolchain, name: &str) -> Step {
    tc.step(name, &tc.node)
        .args(["--test", "--test-reporter=tap", "--test-concurrency=1"])
}

/// `node --test` (TAP, one file at a time) over `files`, each module (a `.js` with its `.wasm`
/// beside it) or other input file handed to the tests in its environment variable; the step's
/// log goes to `logs`. Returns the counts even when tests failed; an error means node could not
/// run them at all.
pub fn run_node_test_files(
    tc: &Toolchain,
    step_name: &str,
    files: &[PathBuf],
    modules: &[(&str, &Path)],
    logs: &Path,
) -> Result<NodeTestSummary> {
    let mut step = step(tc, step_name).args(files);
    for (var, file) in modules {
        let file = paths::absolute(file);
        let is_module = file.extension().is_some_and(|e| e == "js");
        let what = match is_module {
            true => format!("kernel module at {} (and its .wasm)", file.display()),
            false => format!("file at {}", file.display()),
        };
        ensure!(
            file.is_file() && (!is_module || file.with_extension("wasm").is_file()),
            "no {what}\n  fix: build it first"
        );
        step = step.env(var, file);
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
fn parse_tap_summary(tap: &str) -> Option<NodeTestSummary> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_summaries_are_counted() {
        let tap = "TAP version 13\n# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n\
                   ok 2 - b # SKIP XLEAN_TEST_MODULE is not set\n\
                   not ok 3 - c\n1..3\n# tests 3\n# suites 0\n# pass 1\n# fail 1\n# cancelled 1\n\
                   # skipped 1\n# todo 0\n# duration_ms 12.5\n";
        let s = parse_tap_summary(tap).unwrap();
        assert_eq!((s.passed, s.failed, s.skipped), (1, 2, 1));
        assert_eq!(
            s.skip_reason.as_deref(),
            Some("XLEAN_TEST_MODULE is not set")
        );
        assert_eq!(parse_tap_summary("node: bad option\n"), None);
    }

    #[test]
    fn a_summary_counts_for_ci_and_fails_on_a_failed_test() {
        let s = NodeTestSummary {
            passed: 3,
            failed: 1,
            skipped: 2,
            ..NodeTestSummary::default()
        };
        let c = Counts::from(&s);
        assert_eq!((c.passed, c.failed, c.skipped), (3, 1, 2));
        let msg = format!("{:#}", s.ensure_passed().unwrap_err());
        assert!(msg.contains("1 kernel test(s) failed"), "{msg}");
        let skipped = NodeTestSummary::skipped_suite("no sources");
        assert_eq!(skipped.skipped, 1);
        assert_eq!(skipped.skip_reason.as_deref(), Some("no sources"));
        skipped.ensure_passed().unwrap();
    }
}
