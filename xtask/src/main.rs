//! `cargo xtask`: builds xlean (Lean 4 in the browser), tests it and publishes it.
//!
//! One module per command; this file only parses the command line and dispatches.
//! See README.md for what each command does and docs/design.md for why.

mod abi_check;
mod acceptance;
mod bench;
mod build;
mod ci;
mod clean;
mod doctor;
mod fetch;
mod gate;
mod kernel;
mod layout;
mod lean_check;
mod lite;
mod node_test;
mod patch;
mod paths;
mod pins;
mod prefix;
mod runner;
mod stamp;
mod symtab;
mod test_node;
mod toolchain;
mod util;
mod workflows;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, test and publish xlean: a Lean 4 Jupyter kernel in WebAssembly (wasm64)",
    after_help = "Start with `cargo xtask toolchain install`, then `cargo xtask build`.\n\
                  `cargo xtask ci` installs what is missing and runs every test suite."
)]
struct Cli {
    /// Tool cache (toolchains, venv, downloads) [default: $XDG_CACHE_HOME/xlean or ~/.cache/xlean]
    #[arg(long, global = true, env = "XLEAN_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Build directory (outputs, logs, stamps) [default: <repo>/build]
    #[arg(long, global = true, env = "XLEAN_BUILD_DIR", value_name = "DIR")]
    build_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build xlean.js/xlean.wasm with the Init .olean files embedded, into the install prefix
    Build(build::Args),
    /// Load the built kernel in Node: check real REPL answers, run the notebooks against their
    /// expected outputs
    TestNode(test_node::Args),
    /// Publish the JupyterLite site with the kernel and the sample notebooks
    Lite(lite::Args),
    /// Install or show the pinned wasm64 toolchain (emscripten, LLVM, binaryen, Node, Python venv)
    #[command(subcommand)]
    Toolchain(toolchain::Command),
    /// Check every tool the build needs and say how to fix what is missing
    Doctor(doctor::Args),
    /// Download (or take from a local copy) the pinned upstream sources, hash-verified
    Fetch(fetch::Args),
    /// Apply our runtime patches to a copy of the lean4 source, strictly
    Patch(patch::Args),
    /// Generate the C++ symbol table (the dlsym replacement) from wasm archives and objects
    Symtab(symtab::Args),
    /// Compare the wasm function types of every import with its definition
    AbiCheck(abi_check::Args),
    /// Elaborate the kernel's Lean modules with the best Lean host available
    LeanCheck(lean_check::Args),
    /// Measure: the symbol table generator, the build, the site's load time, the encodings
    #[command(subcommand)]
    Bench(bench::Command),
    /// Remove build outputs (and, with --cache, the tool cache)
    Clean(clean::Args),
    /// What CI runs: install the toolchain, then run every test suite; with --real, the
    /// acceptance run (the kernel with the real Lean: build, Node, notebooks, Chromium)
    Ci(ci::Args),
    /// Check the GitHub Actions workflows (.github/workflows) against GitHub's schema
    LintWorkflows(workflows::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain of context, without a backtrace: errors here are for users.
            eprintln!("error: {e:#}");
            // 2: the inputs of `ci --real` are missing (nothing ran); 1: something failed.
            std::process::ExitCode::from(acceptance::exit_code(&e))
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let layout = layout::Layout::standard(cli.build_dir.as_deref(), cli.cache_dir.as_deref());
    runner::set_log_dir(&layout.logs);
    match cli.command {
        Command::Build(args) => build::run(args, &layout),
        Command::TestNode(args) => test_node::run(args, &layout),
        Command::Lite(args) => lite::run(args, &layout),
        Command::Toolchain(cmd) => toolchain::run(cmd, &layout.cache),
        Command::Doctor(args) => doctor::run(args, &layout.cache),
        Command::Fetch(args) => fetch::run(args, &layout),
        Command::Patch(args) => patch::run(args, &layout),
        Command::Symtab(args) => symtab::run(args),
        Command::AbiCheck(args) => abi_check::run(args),
        Command::LeanCheck(args) => lean_check::run(args, &layout),
        Command::Bench(cmd) => bench::run(cmd, &layout),
        Command::Clean(args) => clean::run(args, &layout),
        Command::Ci(args) => ci::run(args, &layout),
        Command::LintWorkflows(args) => workflows::run(args, &layout.cache),
    }
}
