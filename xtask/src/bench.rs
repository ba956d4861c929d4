//! `cargo xtask bench`: benchmarks that print figures.

use anyhow::Result;

mod encodings;
mod site;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Our symbol-table generator against the llvm-nm | awk | sort pipeline, on real archives
    Symtab(crate::symtab::bench::Args),
    /// Per-stage times of a cold and a no-op build of the fixture
    Build,
    /// Load time of the site in headless Chromium on networks our server shapes (cold, warm and
    /// hot visits, then uninstrumented), with and without STAND-IN bundles of real .olean files
    Site(site::Args),
    /// Bytes, ratio, compress and decompress time and the transfer time at 20 Mbit/s of gzip,
    /// brotli and zstd (the Debian CLIs) on one tar of the STAND-IN .olean files
    Encodings(encodings::Args),
}

pub fn run(cmd: Command, layout: &crate::layout::Layout) -> Result<()> {
    match cmd {
        Command::Symtab(args) => crate::symtab::bench::run(args, layout),
        Command::Build => crate::build::bench::run(layout),
        Command::Site(args) => site::run(args, layout),
        Command::Encodings(args) => encodings::run(args, layout),
    }
}
