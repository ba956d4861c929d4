//! `cargo xtask clean`.

use anyhow::Result;

use crate::{layout::Layout, runner, util};

#[derive(clap::Args)]
pub struct Args {
    /// Also remove the tool cache (toolchains, venv, downloads): the next install starts over
    #[arg(long)]
    cache: bool,
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let build = &layout.root;
    runner::note(&format!("removing {}", build.display()));
    util::remove_any(build)?;
    if args.cache {
        let cache = &layout.cache.root;
        runner::note(&format!("removing {}", cache.display()));
        util::remove_any(cache)?;
    }
    Ok(())
}
