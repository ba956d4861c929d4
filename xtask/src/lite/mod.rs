//! `cargo xtask lite`: the JupyterLite site with the xlean kernel and our sample notebooks, built
//! offline from the install prefix; `--serve` serves it on 127.0.0.1; `--browser-test` opens it
//! in headless Chromium and runs cells in the kernel. docs/lite.md explains the whole of it.
//!
//! - [`contract`]: the prefix checked against what JupyterLite's xeus add-on needs;
//! - [`extension`]: our JupyterLab extension (highlighting, progress, watchdog), built from pinned npm packages;
//! - [`site`]: `jupyter lite build` into `<output>.partial`, verified, renamed into place;
//! - [`precompress`]: the `.gz` copies of the compressible files, compressed once per content;
//! - [`server`]: the static server (loopback only, `application/wasm`, no COOP/COEP, validators,
//!   cache lifetimes by name, the `.gz` copies as `Content-Encoding: gzip`);
//! - [`browser`]: Chromium + playwright-core, and the browser test.
//!
//! What `ci` calls: [`test_prefix`], on the prefix its build suite installed.

mod browser;
mod contract;
mod extension;
mod precompress;
mod server;
mod site;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::Result;

pub use browser::{browser_test, ensure_browser_tools, tool_states, BrowserTools};
pub use server::{RunningServer, Server, Shaping};
pub use site::{build_site, LiteSources, Site, SiteOptions};

use crate::layout::Layout;
use crate::{node_test::NodeTestSummary, pins::Pins, runner, toolchain::Toolchain};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The install prefix holding the kernel (made by `cargo xtask build`) [default: <build>/prefix]
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// Where the site is written (replaced as a whole) [default: <build>/site]
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Use the site already in the output directory instead of building it
    #[arg(long)]
    pub no_build: bool,
    /// Open the site in headless Chromium and run cells in the kernel (installs Debian chromium
    /// and npm playwright-core when missing)
    #[arg(long)]
    pub browser_test: bool,
    /// Then serve the site on http://127.0.0.1:PORT (Ctrl-C stops)
    #[arg(long)]
    pub serve: bool,
    /// The port for --serve (0: any free port)
    #[arg(long, default_value_t = 8000, requires = "serve")]
    pub port: u16,
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let opts = SiteOptions::standard(layout, args.prefix.as_deref(), args.output_dir.as_deref());
    let site_dir = opts.output.clone();
    if !args.no_build {
        let tc = Toolchain::load(&layout.cache)?;
        let site = runner::timed("JupyterLite site", || build_site(&tc, &opts))?;
        runner::note(&site.summary());
    }
    if args.browser_test {
        let tc = Toolchain::load(&layout.cache)?;
        browser_test(&tc, &Pins::load()?, &site_dir, &layout.logs)?.ensure_passed()?;
    }
    if args.serve {
        let server = server::Server::bind(&site_dir, args.port)?;
        let url = server.url();
        runner::heading(&format!("serving {} (Ctrl-C stops)", site_dir.display()));
        println!("{url}lab/index.html?path=01-introduction.ipynb");
        server.serve_forever()?;
    }
    Ok(())
}

/// The site of the kernel in `prefix`, built into `<build>/lite-test/site` and tested in
/// Chromium (what `ci` runs on the prefix that `cargo xtask build` installed). Returns the site
/// too (its sizes go into the acceptance report).
pub fn test_prefix(
    tc: &Toolchain,
    pins: &Pins,
    prefix: &Path,
    layout: &Layout,
) -> Result<(Site, NodeTestSummary)> {
    let dir = layout.root.join("lite-test");
    let site = build_site(
        tc,
        &SiteOptions {
            prefix: prefix.to_path_buf(),
            output: dir.join("site"),
            work: dir.join("work"),
            gz_cache: dir.join("site-gz"),
            logs: layout.logs.clone(),
            lab_extension: layout.lab_extension.clone(),
            stamps: layout.lite_stamps(),
        },
    )?;
    runner::note(&site.summary());
    let summary = browser_test(tc, pins, &site.dir, &layout.logs)?;
    Ok((site, summary))
}
