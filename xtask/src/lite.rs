//! `cargo xtask lite`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    crate::not_implemented("lite", "the JupyterLite site")
}
