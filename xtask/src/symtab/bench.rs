//! `cargo xtask bench symtab` (placeholder while the generator lands).

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    crate::not_implemented("bench symtab", "the benchmark")
}
