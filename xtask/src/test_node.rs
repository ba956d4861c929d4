//! `cargo xtask test-node`: the installed kernel (`<prefix>/bin/xlean.js`) in Node, driven the
//! way the JupyterLite worker drives it, with the provisioned Node and its built-in test runner.
//!
//! Which suite runs depends on the backend the prefix's kernel.json names (read and checked by
//! crate::prefix):
//! - `lean`: lean-wasm/tests/lean-answers.test.mjs, real Lean answers (`#check Nat`, `#eval`,
//!   definitions across cells, errors with line:col, `IO.println`, `import`, completion);
//! - `test` (built with `--backend test`, no Lean inside): lean-wasm/tests/kernel.test.mjs, the
//!   kernel shell's own suite, and the output says that no Lean answer was checked.
//!
//! Then lean-wasm/tests/timings.mjs prints start-up and command timings as a benchmark.

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
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let tc = match Toolchain::load() {
        Ok(tc) => tc,
        Err(_) => {
            toolchain::install_default()?;
            Toolchain::load()?
        }
    };
    let prefix = args
        .prefix
        .as_deref()
        .map(paths::absolute)
        .unwrap_or_else(|| layout.prefix.clone());
    let summary = test_prefix(&tc, &prefix, &layout.logs)?;
    summary.ensure_passed()?;
    eprintln!(
        "test-node: {} passed, {} skipped",
        summary.passed, summary.skipped
    );
    Ok(())
}

/// Runs the suite for the prefix's backend, then the timings. Returns the counts; an error when
/// the kernel is missing or node could not run.
pub fn test_prefix(tc: &Toolchain, prefix: &Path, logs: &Path) -> Result<NodeTestSummary> {
    let kernel = read_kernel(prefix)?;
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
    let summary = run_node_test_files(
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
    let mut summary = summary;
    if summary.failed == 0 {
        summary.timings = print_timings(tc, &kernel)?;
    }
    Ok(summary)
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
