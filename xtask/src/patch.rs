//! `cargo xtask patch`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    crate::not_implemented("patch", "runtime patches")
}
