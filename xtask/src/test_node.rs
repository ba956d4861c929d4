//! `cargo xtask test-node`: the installed kernel (`<prefix>/bin/xlean.js`) in Node, driven the
//! way the JupyterLite worker drives it, with the provisioned Node and its built-in test runner.
//!
//! Which suite runs depends on the backend the prefix's kernel.json names (read and checked by
//! crate::prefix):
//! - `lean`: lean-wasm/tests/lean-answers.test.mjs, the real Lean answers of a student's first
//!   hour (`#check`, `#eval`, definitions and `initialize` across cells, errors with line:col,
//!   `IO.println`, `import`, tactics, heartbeats, completion and inspect);
//! - `test` (built with `--backend test`, no Lean inside): lean-wasm/tests/kernel.test.mjs, the
//!   kernel shell's own suite, and the output says that no Lean answer was checked.
//!
//! When the suite passes, lean-wasm/tests/timings.mjs prints start-up and command timings as a
//! benchmark. Then lean-wasm/tests/notebooks.mjs runs the notebooks for that backend cell by
//! cell and compares their outputs with the expected ones kept in the repository
//! (docs/notebooks.md).

use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};

use crate::layout::Layout;
use crate::{
    kernel,
    node_test::{parse_timings, run_node_test_files, NodeTestSummary},
    paths,
    prefix::{read_kernel, Backend, InstalledKernel},
    runner,
    toolchain::{self, Toolchain},
};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The install prefix whose kernel is tested [default: <build>/prefix]
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// Re-record the expected outputs of the notebooks for the kernel's backend (after a
    /// deliberate change; review the diff of lean-wasm/tests/notebooks/expected/ before
    /// committing) instead of testing
    #[arg(long)]
    pub record_notebooks: bool,
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let tc = match Toolchain::load(&layout.cache) {
        Ok(tc) => tc,
        Err(_) => {
            toolchain::install_default(&layout.cache)?;
            Toolchain::load(&layout.cache)?
        }
    };
    let prefix = args
        .prefix
        .as_deref()
        .map(paths::absolute)
        .unwrap_or_else(|| layout.prefix.clone());
    if args.record_notebooks {
        let kernel = read_kernel(&prefix)?;
        let s = run_notebooks(&tc, &prefix, &kernel, &layout.logs, true)?;
        eprintln!(
            "test-node: recorded the expected outputs of {} notebook(s)",
            s.recorded
        );
        return Ok(());
    }
    let summary = test_prefix(&tc, &prefix, &layout.logs)?;
    summary.ensure_passed()?;
    eprintln!(
        "test-node: {} passed, {} skipped",
        summary.passed, summary.skipped
    );
    Ok(())
}

/// Runs the suite for the prefix's backend and its timings, then its notebooks (one test each).
/// Returns the counts; an error when the kernel is missing or node could not run.
pub fn test_prefix(tc: &Toolchain, prefix: &Path, logs: &Path) -> Result<NodeTestSummary> {
    let kernel = read_kernel(prefix)?;
    let mut summary = run_suite(tc, &kernel, logs)?;
    let notebooks = run_notebooks(tc, prefix, &kernel, logs, false)?;
    summary.passed += notebooks.passed;
    summary.failed += notebooks.failed;
    Ok(summary)
}

/// The Node suite for the kernel's backend, then (when it passed) the start-up and command
/// timings, printed and kept in the summary.
pub fn run_suite(tc: &Toolchain, kernel: &InstalledKernel, logs: &Path) -> Result<NodeTestSummary> {
    let tests = paths::project_root().join("lean-wasm/tests");
    let (file, var) = match kernel.backend {
        Backend::Lean => {
            runner::note(&format!(
                "backend: lean ({}): checking real Lean answers",
                kernel.js.display()
            ));
            (kernel::LEAN_ANSWERS_SUITE, "XLEAN_LEAN_KERNEL")
        }
        Backend::Test => {
            runner::note(&format!(
                "backend: TEST ({}): this kernel has no Lean inside (built with --backend test), \
                 so the kernel shell's own suite runs against it and NO Lean answer is checked; \
                 lean-answers.test.mjs needs a kernel built from the pinned Lean's output",
                kernel.js.display()
            ));
            ("kernel.test.mjs", "XLEAN_TEST_MODULE")
        }
    };
    let mut summary = run_node_test_files(
        tc,
        "test-node",
        &[tests.join(file)],
        &[(var, &kernel.js)],
        logs,
    )?;
    eprintln!(
        "test-node ({} backend): {} passed, {} failed, {} skipped{}",
        kernel.backend.name(),
        summary.passed,
        summary.failed,
        summary.skipped,
        summary
            .log
            .as_deref()
            .map_or(String::new(), |l| format!(" (log: {})", l.display()))
    );
    if summary.failed == 0 {
        summary.timings = print_timings(tc, kernel)?;
    }
    Ok(summary)
}

/// What the notebook runner did: one count per notebook.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NotebookSummary {
    pub passed: u64,
    /// Notebooks whose outputs differ from the expected ones, or that have none recorded.
    pub failed: u64,
    pub recorded: u64,
}

/// The notebooks run on a kernel with `backend`, and the folder of their expected outputs
/// (`<name>.json` each). The real notebooks are the site's; the test backend cannot run Lean,
/// so it has a notebook of its own. The expected outputs live outside jupyterlite/notebooks/,
/// which the site publishes whole.
pub fn notebooks_for(backend: Backend) -> Result<(Vec<PathBuf>, PathBuf)> {
    let dir = paths::project_root().join("lean-wasm/tests/notebooks");
    let notebooks = match backend {
        Backend::Lean => crate::lite::LiteSources::standard().notebook_files()?,
        Backend::Test => vec![dir.join("test-backend.ipynb")],
    };
    Ok((notebooks, dir.join("expected").join(backend.name())))
}

/// Runs lean-wasm/tests/notebooks.mjs: every notebook for the kernel's backend, cell by cell in
/// one kernel session each, compared with (or, with `record`, written as) the expected outputs.
/// Prints its report (with a diff for each notebook that differs); an error only when it could
/// not run.
pub fn run_notebooks(
    tc: &Toolchain,
    prefix: &Path,
    kernel: &InstalledKernel,
    logs: &Path,
    record: bool,
) -> Result<NotebookSummary> {
    let (notebooks, expected) = notebooks_for(kernel.backend)?;
    let record_command = format!(
        "cargo xtask test-node --prefix {} --record-notebooks",
        prefix.display()
    );
    let mut step = tc
        .step("test-node-notebooks", &tc.node)
        .arg(paths::project_root().join("lean-wasm/tests/notebooks.mjs"))
        .arg("--module")
        .arg(&kernel.js)
        .args(["--backend", kernel.backend.name(), "--expected"])
        .arg(&expected)
        .args(["--record-command", &record_command])
        .args(&notebooks)
        .log_dir(logs);
    if record {
        step = step.arg("--record");
    }
    let log = step.log_path();
    // The runner exits 0 whatever the comparison found (an error: it could not run); its report
    // is printed here whole, as a terminal shows a step's output one line at a time.
    let output = step.capture()?.output;
    let summary = parse_notebook_results(&output);
    if summary.failed > 0 {
        eprintln!(
            "notebooks that differ from their expected outputs ({}):",
            log.display()
        );
        eprint!("{}", notebook_report(&output));
    }
    let total = summary.passed + summary.failed + summary.recorded;
    ensure!(
        total == notebooks.len() as u64,
        "the notebook runner reported {total} of {} notebooks\n  log: {}",
        notebooks.len(),
        log.display()
    );
    eprintln!(
        "test-node notebooks ({} backend): {} passed, {} failed, {} recorded",
        kernel.backend.name(),
        summary.passed,
        summary.failed,
        summary.recorded
    );
    Ok(summary)
}

/// Counts the runner's `notebook pass|fail|missing|recorded NAME` lines.
fn parse_notebook_results(output: &str) -> NotebookSummary {
    let mut s = NotebookSummary::default();
    for line in output.lines() {
        match line.split_whitespace().take(2).collect::<Vec<_>>()[..] {
            ["notebook", "pass"] => s.passed += 1,
            ["notebook", "fail" | "missing"] => s.failed += 1,
            ["notebook", "recorded"] => s.recorded += 1,
            _ => {}
        }
    }
    s
}

/// The runner's report from its first `notebook` line on (the log also holds the command line).
fn notebook_report(output: &str) -> String {
    let start = output.find("notebook ").unwrap_or(output.len());
    output[start..].to_string()
}

/// lean-wasm/tests/timings.mjs, printed as a small table and returned.
fn print_timings(tc: &Toolchain, kernel: &InstalledKernel) -> Result<Vec<(String, f64)>> {
    let script = paths::project_root().join("lean-wasm/tests/timings.mjs");
    let out = tc
        .step("test-node-timings", &tc.node)
        .arg(&script)
        .arg(&kernel.js)
        .arg(kernel.backend.name())
        .capture()?;
    let figures = parse_timings(&out.output);
    ensure!(
        !figures.is_empty(),
        "{} printed no timings",
        script.display()
    );
    println!(
        "timings of {} ({} backend, Node):",
        kernel.js.display(),
        kernel.backend.name()
    );
    for (name, ms) in &figures {
        println!("  {name:<22} {ms:>10.1} ms");
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_results_are_counted_and_a_missing_expectation_fails() {
        let out =
            "$ node notebooks.mjs\nnotebook pass a.ipynb\nnotebook fail b.ipynb\n  cell 2 `x`:\n\
                   notebook missing c.ipynb\n  no expected outputs recorded for c.ipynb\n\
                   notebook recorded d.ipynb\nnotebooks are fun\n";
        let s = parse_notebook_results(out);
        assert_eq!(
            s,
            NotebookSummary {
                passed: 1,
                failed: 2,
                recorded: 1
            }
        );
        assert!(notebook_report(out).starts_with("notebook pass a.ipynb\n"));
    }

    #[test]
    fn each_backend_has_notebooks_and_the_test_backend_its_expected_outputs() {
        let (lean, lean_expected) = notebooks_for(Backend::Lean).unwrap();
        assert!(!lean.is_empty() && lean.iter().all(|n| n.is_file()));
        assert!(lean_expected.ends_with("lean-wasm/tests/notebooks/expected/lean"));
        let (test, test_expected) = notebooks_for(Backend::Test).unwrap();
        for nb in &test {
            let name = nb.file_stem().unwrap().to_str().unwrap();
            assert!(
                test_expected.join(format!("{name}.json")).is_file(),
                "{name}"
            );
        }
    }

    #[test]
    fn timing_lines_are_read_and_other_lines_ignored() {
        let text =
            "xlean: something\ntiming module-load 12.5\n# timing kernel-start 3.0\ntiming bad x\n";
        assert_eq!(
            parse_timings(text),
            vec![
                ("module-load".to_string(), 12.5),
                ("kernel-start".to_string(), 3.0)
            ]
        );
    }
}
