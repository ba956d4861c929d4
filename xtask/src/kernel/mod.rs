//! The kernel shell: xeus and xeus-lite built for wasm64, the xlean interpreter linked with the
//! test backend into `kernel-test/xlean.js/.wasm`, and the Node tests that drive it the way the
//! JupyterLite worker does. docs/kernel-shell.md explains the whole of it.

mod abbreviations;
mod deps;
mod link;
mod node_tests;
mod sources;
#[cfg(test)]
mod tests;

use anyhow::Result;

/// Tests that build the shell's test modules in the real build directory hold this while they
/// do: two builds of the same tree at once would race (Ninja takes no lock), and `cargo test`
/// runs tests in parallel.
#[cfg(test)]
pub(crate) fn test_modules_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub use deps::{build_deps, DepsPrefix};
pub use link::{build_test_kernel, check_module, TestModules};
pub use node_tests::{run_node_tests, LEAN_ANSWERS_SUITE};
pub use sources::{kernel_sources, KernelSources, SourceTree, SOURCES_MISSING};

use crate::layout::Layout;
use crate::{fetch::SourceOptions, node_test::NodeTestSummary, pins::Pins, toolchain::Toolchain};

/// The kernel test suite as `ci` runs it: fetch the xeus sources, build the test modules, run
/// the Node tests. Without the sources, nothing is built and the summary says SKIPPED and why
/// (`ci` fails such a suite under CI). `opts`: the command's `fetch` flags
/// (`SourceOptions::default()` for none).
pub fn test_suite(
    tc: &Toolchain,
    pins: &Pins,
    opts: &SourceOptions,
    layout: &Layout,
) -> Result<NodeTestSummary> {
    let Some(sources) = kernel_sources(pins, opts, layout)? else {
        eprintln!("SKIPPED: {SOURCES_MISSING}");
        return Ok(NodeTestSummary::skipped_suite(SOURCES_MISSING));
    };
    let modules = build_test_kernel(tc, pins, &sources, layout)?;
    run_node_tests(tc, &modules, &layout.logs)
}
