//! `cargo xtask lean-check`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    crate::not_implemented("lean-check", "the Lean checker host")
}
