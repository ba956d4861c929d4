//! `cargo xtask doctor`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    crate::not_implemented("doctor", "in progress")
}
