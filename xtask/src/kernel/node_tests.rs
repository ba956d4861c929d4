//! The kernel's own Node suite: `node --test` over lean-wasm/tests/*.test.mjs against the test
//! modules. Running `node --test` and reading its TAP output is crate::node_test's.

use std::{fs, path::PathBuf};

use anyhow::{ensure, Context, Result};

use super::TestModules;
use crate::{
    node_test::{run_node_test_files, NodeTestSummary},
    paths,
    toolchain::Toolchain,
};

/// The suite for installed kernels with the real Lean (`cargo xtask test-node`), which the test
/// modules cannot answer.
pub const LEAN_ANSWERS_SUITE: &str = "lean-answers.test.mjs";

/// The test files of the test modules: `lean-wasm/tests/*.test.mjs` but the Lean answers, sorted.
fn test_files() -> Result<Vec<PathBuf>> {
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
/// (real backend over the fake Lean), and the abbreviation table the modules were built with
/// from `XLEAN_TEST_ABBREVIATIONS`. Returns the counts even when tests failed (check
/// [`NodeTestSummary::failed`] or call [`NodeTestSummary::ensure_passed`]); an error means node
/// could not run them at all.
pub fn run_node_tests(
    tc: &Toolchain,
    modules: &TestModules,
    logs: &std::path::Path,
) -> Result<NodeTestSummary> {
    run_node_test_files(
        tc,
        "kernel-node-tests",
        &test_files()?,
        &[
            ("XLEAN_TEST_MODULE", &modules.test_backend),
            ("XLEAN_TEST_LEAN_BACKEND_MODULE", &modules.lean_backend),
            ("XLEAN_TEST_ABBREVIATIONS", &modules.abbreviations_json),
        ],
        logs,
    )
}
