//! `cargo xtask abi-check`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    crate::not_implemented("abi-check", "the wasm ABI check")
}
