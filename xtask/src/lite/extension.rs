//! The site's Lean 4 syntax highlighting, kernel watchdog and kernel loading progress:
//! `jupyterlite/extension/`, a prebuilt (federated) JupyterLab extension, built here as one
//! stage and handed to `jupyter lite build`.
//!
//! Its npm tree is locked by the committed `package-lock.json` (every package's sha512, which
//! `npm ci` verifies) and installed with the npm cache in the tool cache, so later runs need no
//! network. It is built by npm `@jupyterlab/builder` against the JupyterLab application inside
//! the venv's jupyterlite-core wheel (`--core-path`), so the shared modules it asks for are the
//! site's own; the build itself runs offline. docs/lite.md ("Lean syntax highlighting") says
//! why this builder and how to update the pins.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::{
    paths,
    stamp::{self, Inputs, Stages},
    toolchain::Toolchain,
    util,
};

/// The extension's npm name (its folder in the site is `extensions/<NAME>/`).
pub const NAME: &str = "@xlean/jupyterlab-extension";

/// The files of `jupyterlite/extension/` the build reads: all of them are its inputs.
pub const SOURCE_FILES: &[&str] = &[
    "package.json",
    "package-lock.json",
    "index.js",
    "lean.js",
    "kernel-watchdog.js",
    "progress.js",
];

/// `jupyterlite/extension/`.
pub fn source_dir() -> PathBuf {
    paths::project_root().join("jupyterlite/extension")
}

/// Builds the extension into `<dir>/package/labextension` unless its stamp (in `stamps`) says
/// it is up to date; returns that folder. `dir` is the layout's `lab_extension`.
pub fn build_extension(tc: &Toolchain, dir: &Path, stamps: &Path, logs: &Path) -> Result<PathBuf> {
    let source = source_dir();
    let files: Vec<PathBuf> = SOURCE_FILES.iter().map(|f| source.join(f)).collect();
    let app = lite_app_archive(&tc.venv)?;
    let mut inputs = Inputs::new();
    inputs
        .add("sources", stamp::content_fingerprint(&files)?)
        .add(
            "jupyterlite-app",
            stamp::metadata_fingerprint(Path::new("/"), std::slice::from_ref(&app))?,
        )
        .add("node", tc.node.display().to_string())
        .add("npm", tc.npm.cli.display().to_string());
    let package = dir.join("package");
    let built = package.join("labextension");
    let mut runs = Vec::new();
    Stages::new(stamps.to_path_buf(), false, &mut runs).stage(
        "lab-extension",
        &inputs,
        &[built.join("package.json")],
        || {
            util::remove_any(dir)?;
            fs::create_dir_all(&package)
                .with_context(|| format!("cannot create {}", package.display()))?;
            for f in &files {
                let to = package.join(f.file_name().unwrap());
                fs::copy(f, &to).with_context(|| format!("cannot copy {}", f.display()))?;
            }
            let core = dir.join("core");
            extract_lab_package_json(&app, &core)?;
            npm_ci(tc, &package, logs)?;
            build(tc, &package, &core, logs)
        },
    )?;
    if runs.iter().all(|r| r.ran_because.is_none()) {
        crate::runner::note(&format!("{NAME}: up to date ({})", built.display()));
    }
    check_built(&built)?;
    Ok(built)
}

/// `npm ci` in the copied package: exactly the locked tree, every tarball checked against its
/// sha512, no install scripts; the npm cache lives in the tool cache, and `--prefer-offline`
/// takes what is there without asking the registry again.
fn npm_ci(tc: &Toolchain, package: &Path, logs: &Path) -> Result<()> {
    let cache = tc.cache.root.join("npm-cache");
    tc.step("npm-ci-lab-extension", &tc.npm.node)
        .arg(&tc.npm.cli)
        .args([
            "ci",
            "--ignore-scripts",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
        ])
        .arg("--cache")
        .arg(&cache)
        .cwd(package)
        .log_dir(logs)
        .run()
        .with_context(|| {
            format!(
                "npm ci of {} failed (the first run needs the npm registry; later runs use {})\n  \
                 fix: check the network, or see docs/lite.md for updating package-lock.json",
                source_dir().display(),
                cache.display()
            )
        })?;
    Ok(())
}

/// `build-labextension.js --core-path <core> <package>`, offline: webpack writes the federated
/// bundle into `<package>/labextension`.
fn build(tc: &Toolchain, package: &Path, core: &Path, logs: &Path) -> Result<()> {
    let builder = package.join("node_modules/@jupyterlab/builder/lib/build-labextension.js");
    tc.step("build-lab-extension", &tc.node)
        .arg(&builder)
        .arg("--core-path")
        .arg(core)
        .arg(package)
        .cwd(package)
        .envs(super::site::offline_env(package))
        .log_dir(logs)
        .run()?;
    Ok(())
}

/// The JupyterLite application archive inside the venv's jupyterlite-core
/// (`lib/python3.X/site-packages/jupyterlite_core/jupyterlite-app-<version>.tgz`).
pub(super) fn lite_app_archive(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    let found: Vec<PathBuf> = fs::read_dir(&lib)
        .with_context(|| format!("cannot list {}", lib.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|python| fs::read_dir(python.join("site-packages/jupyterlite_core")).ok())
        .flat_map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("jupyterlite-app-") && name.ends_with(".tgz")
        })
        .collect();
    ensure!(
        found.len() == 1,
        "expected one jupyterlite_core/jupyterlite-app-*.tgz under {}, found {found:?}\n  fix: \
         cargo xtask toolchain install",
        lib.display()
    );
    Ok(found.into_iter().next().unwrap())
}

/// Writes `package/lab/package.json` of the application archive (JupyterLab's versions and
/// singleton packages as the site has them) into `core/`: the builder's `--core-path`.
pub(super) fn extract_lab_package_json(app: &Path, core: &Path) -> Result<()> {
    let file = fs::File::open(app).with_context(|| format!("cannot open {}", app.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()? == Path::new("package/lab/package.json") {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            fs::create_dir_all(core)?;
            return fs::write(core.join("package.json"), text)
                .with_context(|| format!("cannot write into {}", core.display()));
        }
    }
    anyhow::bail!("{} has no package/lab/package.json", app.display())
}

/// The built extension: its package.json names the module federation entry, which exists.
fn check_built(built: &Path) -> Result<()> {
    let path = built.join("package.json");
    let json: Value = serde_json::from_str(
        &fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let load = json["jupyterlab"]["_build"]["load"].as_str().unwrap_or("");
    ensure!(
        json["name"] == NAME && !load.is_empty() && built.join(load).is_file(),
        "{} is not a built {NAME} (no jupyterlab._build.load file)\n  fix: remove {} and run \
         cargo xtask lite again",
        path.display(),
        built.display()
    );
    Ok(())
}
