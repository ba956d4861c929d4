//! `cargo xtask test-node`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    crate::not_implemented("test-node", "the Node test suite")
}
