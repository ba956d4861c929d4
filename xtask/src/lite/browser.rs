//! The browser test: the built site served by [`super::server`] on a free loopback port, opened
//! in headless Debian Chromium driven by npm `playwright-core`, the xlean kernel started through
//! the page's own JupyterLab API and cells run in it (`jupyterlite/tests/browser.test.mjs`, run
//! with `node --test` from the provisioned Node).
//!
//! Its tools are installed here, on first use, the way the toolchain installs its own: Debian
//! `chromium` with apt-get (signed by Debian), `playwright-core` at the version pinned in
//! pins.toml [npm] with `npm pack`, hash-checked against pins.lock, unpacked into
//! `<cache>/playwright-core-<version>/` through a `.partial` directory. A second run finds both and
//! changes nothing.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

use super::server::Server;
use crate::{
    fetch::artifact,
    node_test::{self, run_tap_step, NodeTestSummary},
    paths::{self, ToolCache},
    pins::Pins,
    runner,
    toolchain::{self, Toolchain},
    util,
};

/// Debian's Chromium (runs wasm64 with no flag from version 156 on).
pub const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";
const PLAYWRIGHT: &str = "playwright-core";

/// What the browser test runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserTools {
    pub chromium: PathBuf,
    /// `chromium --version`, e.g. `Chromium 156.0.8078.79 built on Debian ...`.
    pub chromium_version: String,
    /// The unpacked npm package (its `package.json` names the pinned version).
    pub playwright_core: PathBuf,
}

/// Finds or installs Chromium and playwright-core. `no_apt`: never run apt-get; fail with the
/// command to run instead. `XLEAN_CHROMIUM` names another Chromium (non-Debian machines).
pub fn ensure_browser_tools(tc: &Toolchain, pins: &Pins, no_apt: bool) -> Result<BrowserTools> {
    let chromium = match std::env::var_os("XLEAN_CHROMIUM").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => {
            toolchain::ensure_debian_packages(&["chromium".to_string()], no_apt)?;
            PathBuf::from(DEBIAN_CHROMIUM)
        }
    };
    ensure!(
        chromium.is_file(),
        "no Chromium at {}\n  fix: sudo apt-get install -y chromium (Debian), or set \
         XLEAN_CHROMIUM to a Chromium 156 or later",
        chromium.display()
    );
    let chromium_version = runner::cmd(&chromium)
        .arg("--version")
        .read()
        .with_context(|| format!("cannot run {} --version", chromium.display()))?
        .trim()
        .to_string();
    let playwright_core = ensure_playwright_core(tc, pins)?;
    Ok(BrowserTools {
        chromium,
        chromium_version,
        playwright_core,
    })
}

/// `<cache>/playwright-core-<version>/`, installed when missing or not the pinned version.
fn ensure_playwright_core(tc: &Toolchain, pins: &Pins) -> Result<PathBuf> {
    let version = pins.npm_version(PLAYWRIGHT)?;
    let dir = tc.cache.root.join(format!("{PLAYWRIGHT}-{version}"));
    if artifact::npm_package_version(&dir).as_deref() == Some(version) {
        runner::note(&format!(
            "{PLAYWRIGHT} {version} present: {}",
            dir.display()
        ));
        return Ok(dir);
    }
    let tgz = tc.npm.pack(&tc.cache, PLAYWRIGHT, version)?;
    util::make_dir_atomically(&dir, |partial| {
        artifact::unpack_npm(&tgz, partial)?;
        let found = artifact::npm_package_version(partial);
        ensure!(
            found.as_deref() == Some(version) && partial.join("index.js").is_file(),
            "{} is not npm {PLAYWRIGHT}@{version} (package.json says {found:?})",
            tgz.display()
        );
        Ok(())
    })?;
    runner::note(&format!(
        "{PLAYWRIGHT} {version} installed into {}",
        dir.display()
    ));
    Ok(dir)
}

/// One of the browser test's tools as `doctor` shows it. Both are optional: only the browser
/// test needs them, and it installs them on first use.
pub struct ToolState {
    pub tool: &'static str,
    pub found: String,
    pub path: PathBuf,
    pub wanted: String,
    /// How to get it, when it is not there.
    pub fix: Option<String>,
}

/// Chromium and playwright-core (in `cache`), looked up without installing anything.
pub fn tool_states(cache: &ToolCache, pins: &Pins) -> Vec<ToolState> {
    let fix = "cargo xtask lite --browser-test (installs it)".to_string();
    let chromium = std::env::var_os("XLEAN_CHROMIUM")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEBIAN_CHROMIUM), PathBuf::from);
    let version = runner::cmd(&chromium).arg("--version").read().ok();
    let mut rows = vec![ToolState {
        tool: "chromium",
        found: version.as_deref().map_or("missing".into(), |v| {
            v.split(" built").next().unwrap_or(v).to_string()
        }),
        path: chromium,
        wanted: "Debian chromium (wasm64)".into(),
        fix: version.is_none().then(|| fix.clone()),
    }];
    let wanted = pins.npm_version(PLAYWRIGHT).unwrap_or("?").to_string();
    let dir = cache.root.join(format!("{PLAYWRIGHT}-{wanted}"));
    let found = artifact::npm_package_version(&dir);
    rows.push(ToolState {
        tool: PLAYWRIGHT,
        fix: (found.as_deref() != Some(wanted.as_str())).then_some(fix),
        found: found.unwrap_or_else(|| "missing".into()),
        path: dir,
        wanted,
    });
    rows
}

/// The test file.
pub fn test_file() -> PathBuf {
    paths::project_root().join("jupyterlite/tests/browser.test.mjs")
}

/// Runs the browser test against the site in `site` (a directory `build_site` made), installing
/// Chromium and playwright-core when missing. Returns the counts even when tests failed (call
/// [`NodeTestSummary::ensure_passed`]); an error means the test could not run at all.
pub fn browser_test(
    tc: &Toolchain,
    pins: &Pins,
    site: &Path,
    logs: &Path,
) -> Result<NodeTestSummary> {
    let tools = ensure_browser_tools(tc, pins, false)?;
    run_browser_test(tc, &tools, site, logs)
}

/// The test with tools already at hand; its log goes into `logs`.
pub fn run_browser_test(
    tc: &Toolchain,
    tools: &BrowserTools,
    site: &Path,
    logs: &Path,
) -> Result<NodeTestSummary> {
    ensure!(
        site.join("xeus/kernels.json").is_file(),
        "{} is not a built site (no xeus/kernels.json)\n  fix: cargo xtask lite",
        site.display()
    );
    let mut server = Server::bind(site, 0)?;
    server.log_errors = false; // the test reports what the page asked for and did not get
    let server = server.spawn();
    runner::note(&format!(
        "serving {} at {} for {}",
        site.display(),
        server.url,
        tools.chromium_version
    ));
    let step = node_test::step(tc, "browser-test")
        .arg(test_file())
        .env("XLEAN_SITE_URL", &server.url)
        .env("XLEAN_CHROMIUM", &tools.chromium)
        .env("XLEAN_PLAYWRIGHT_CORE", &tools.playwright_core)
        .cwd(paths::project_root())
        .log_dir(logs);
    let result = run_tap_step(step, "the browser test");
    drop(server);
    let (mut summary, output) = result?;
    summary.timings = node_test::parse_timings(&output);
    // The figures the test measured (its `t.diagnostic` lines).
    for line in output.lines().map(str::trim) {
        if let Some(figure) = line.strip_prefix("# figure: ") {
            runner::note(figure);
        }
    }
    runner::note(&format!(
        "browser test: {} passed, {} failed, {} skipped (log: {})",
        summary.passed,
        summary.failed,
        summary.skipped,
        summary.log.as_deref().unwrap_or(Path::new("-")).display()
    ));
    Ok(summary)
}
