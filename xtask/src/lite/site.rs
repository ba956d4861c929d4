//! The JupyterLite site: `jupyter lite build` run offline over a checked prefix and our notebooks,
//! into `<output>.partial`, verified, given `.gz` copies of its compressible files (compressed
//! only when their content is new, see `precompress`), then renamed over the output. A failed or
//! interrupted build never leaves a half site where the site goes, and the last good site stays
//! until a new one is complete.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use super::contract::{check_prefix, SitePrefix};
use super::extension::{self, build_extension};
use super::precompress::{precompress_site, Precompressed};
use crate::layout::Layout;
use crate::{
    paths,
    runner::{self, Step},
    toolchain::Toolchain,
    util,
};

/// What to build from and where.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// The install prefix (absolute): `<build>/prefix` unless `--prefix`.
    pub prefix: PathBuf,
    /// Where the site goes (absolute): `<build>/site` unless `--output-dir`.
    pub output: PathBuf,
    /// The lite directory `jupyter lite build` runs in (its task database and cache land there);
    /// made afresh for every build.
    pub work: PathBuf,
    /// Where the `.gz` copies are kept between builds, by their original's content
    /// (`<build>/site-gz`; see `precompress`).
    pub gz_cache: PathBuf,
    /// Where the build's log goes.
    pub logs: PathBuf,
    /// Where the xlean JupyterLab extension is built (`<build>/lab-extension`) and where its stage
    /// stamp goes (`<build>/stamps/lite`).
    pub lab_extension: PathBuf,
    pub stamps: PathBuf,
}

impl SiteOptions {
    /// The defaults of `layout`, with the given prefix and output if any.
    pub fn standard(layout: &Layout, prefix: Option<&Path>, output: Option<&Path>) -> SiteOptions {
        SiteOptions {
            prefix: prefix.map_or_else(|| layout.prefix.clone(), paths::absolute),
            output: output.map_or_else(|| layout.site.clone(), paths::absolute),
            work: layout.lite_work.clone(),
            gz_cache: layout.site_gz.clone(),
            logs: layout.logs.clone(),
            lab_extension: layout.lab_extension.clone(),
            stamps: layout.lite_stamps(),
        }
    }
}

/// A built and verified site.
#[derive(Debug, Clone)]
pub struct Site {
    pub dir: PathBuf,
    pub prefix: SitePrefix,
    /// Every file of the site.
    pub total_bytes: u64,
    pub files: u64,
    /// The kernel's module in the site (`xeus/<env>/bin/xlean.wasm`, `.js`).
    pub wasm_bytes: u64,
    pub js_bytes: u64,
    /// The `.gz` copies written beside the compressible files (counted in the totals too).
    pub precompressed: Precompressed,
    /// How long `jupyter lite build` took.
    pub build_secs: f64,
}

impl Site {
    pub fn summary(&self) -> String {
        format!(
            "site {}: {} in {} files; kernel ({} backend): xlean.wasm {}, xlean.js {}; \
             gzip copies of {} files ({} unchanged, from the cache): {} -> {}; jupyter lite \
             build {}",
            self.dir.display(),
            fmt_bytes(self.total_bytes),
            self.files,
            self.prefix.kernel.backend.name(),
            fmt_bytes(self.wasm_bytes),
            fmt_bytes(self.js_bytes),
            self.precompressed.files,
            self.precompressed.reused,
            fmt_bytes(self.precompressed.raw_bytes),
            fmt_bytes(self.precompressed.gz_bytes),
            runner::fmt_secs(self.build_secs)
        )
    }
}

/// The JupyterLite apps the site has: JupyterLab, and the simpler Notebook interface (its
/// `notebooks` and `tree` pages). The others (`repl`, `consoles`, `edit`) are left out: they
/// would add pages nobody links to.
pub const APPS: &[&str] = &["lab", "notebooks", "tree"];

/// `jupyter lite build` over the checked prefix, offline, verified. See the module comment.
pub fn build_site(tc: &Toolchain, opts: &SiteOptions) -> Result<Site> {
    let prefix = check_prefix(&opts.prefix)?;
    let sources = LiteSources::standard();
    check_output_is_ours(
        &opts.output,
        &[&sources.dir, &opts.prefix, &paths::project_root()],
    )?;
    ensure!(
        !opts.output.starts_with(&sources.dir),
        "--output-dir {} is inside our lite sources {}\n  fix: choose another --output-dir \
         (default: <build>/site)",
        opts.output.display(),
        sources.dir.display()
    );
    let jupyter_lite = tc.venv.join("bin/jupyter-lite");
    ensure!(
        jupyter_lite.is_file(),
        "{} is missing (the venv lacks jupyterlite-core)\n  fix: cargo xtask toolchain install",
        jupyter_lite.display()
    );
    let extension = build_extension(tc, &opts.lab_extension, &opts.stamps, &opts.logs)?;

    // A fresh lite dir holding only our jupyter-lite.json: the build's task database and cache
    // go there, never into the repository, and no earlier run can make it skip a step.
    util::remove_any(&opts.work)?;
    fs::create_dir_all(&opts.work)
        .with_context(|| format!("cannot create {}", opts.work.display()))?;
    let config = sources.dir.join("jupyter-lite.json");
    fs::copy(&config, opts.work.join("jupyter-lite.json"))
        .with_context(|| format!("cannot copy {}", config.display()))?;

    let partial = util::partial_path(&opts.output);
    util::remove_any(&partial)?;
    let mut step = Step::new("jupyter-lite-build", &jupyter_lite)
        .arg("build")
        .arg("--lite-dir")
        .arg(&opts.work)
        .arg("--contents")
        .arg(&sources.notebooks)
        .arg("--output-dir")
        .arg(&partial)
        .arg(format!("--XeusAddon.prefix={}", prefix.dir.display()))
        // The add-on wants a package channel for the kernel's environment (it has no packages).
        // `nodefaults` names none: nothing can ever be fetched for it.
        .arg("--XeusAddon.default_channels=nodefaults")
        .arg(format!(
            "--LiteBuildConfig.federated_extensions={}",
            extension.display()
        ));
    for app in APPS {
        step = step.args(["--apps", app]);
    }
    let step = step
        // Source maps double the site and serve nobody but JupyterLab's own developers.
        .args(["--no-sourcemaps", "--no-unused-shared-packages"])
        .cwd(&opts.work)
        .envs(offline_env(&opts.work))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .log_dir(&opts.logs);
    let start = Instant::now();
    let built = step
        .run()
        .and_then(|_| copy_bundles(&prefix, &partial))
        .and_then(|_| verify_site(&partial, &prefix))
        .and_then(|_| precompress_site(&partial, &opts.gz_cache));
    let build_secs = start.elapsed().as_secs_f64();
    let precompressed = match built {
        Ok(p) => p,
        Err(e) => {
            let _ = util::remove_any(&partial);
            return Err(e.context(format!(
                "the site was not built; {} is unchanged",
                opts.output.display()
            )));
        }
    };

    util::remove_any(&opts.output)?;
    fs::rename(&partial, &opts.output).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            opts.output.display()
        )
    })?;
    util::remove_any(&opts.work)?;

    let (total_bytes, files) = tree_size(&opts.output)?;
    let bin = opts.output.join("xeus").join(&prefix.env_name).join("bin");
    let size = |f: &str| fs::metadata(bin.join(f)).map(|m| m.len()).unwrap_or(0);
    Ok(Site {
        dir: opts.output.clone(),
        wasm_bytes: size("xlean.wasm"),
        js_bytes: size("xlean.js"),
        prefix,
        total_bytes,
        files,
        precompressed,
        build_secs,
    })
}

/// Our lite sources in the repository: `jupyterlite/jupyter-lite.json` and the notebooks.
#[derive(Debug, Clone)]
pub struct LiteSources {
    pub dir: PathBuf,
    pub notebooks: PathBuf,
}

impl LiteSources {
    pub fn standard() -> LiteSources {
        let dir = paths::project_root().join("jupyterlite");
        LiteSources {
            notebooks: dir.join("notebooks"),
            dir,
        }
    }

    /// The sample notebooks, sorted.
    pub fn notebook_files(&self) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.notebooks)
            .with_context(|| format!("cannot list {}", self.notebooks.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
            .collect();
        files.sort();
        Ok(files)
    }
}

/// Environment for the build: no network (any attempt goes to a closed local port and fails at
/// once, so a build that needs the network cannot pass here by luck), and no Jupyter
/// configuration from the user's home.
pub(super) fn offline_env(work: &Path) -> Vec<(String, String)> {
    let nowhere = "http://127.0.0.1:9".to_string();
    let mut env: Vec<(String, String)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .iter()
    .map(|k| (k.to_string(), nowhere.clone()))
    .collect();
    env.push(("PIP_NO_INDEX".into(), "1".into()));
    env.push((
        "JUPYTER_CONFIG_DIR".into(),
        work.join("jupyter-config").display().to_string(),
    ));
    env.push(("JUPYTER_PLATFORM_DIRS".into(), "1".into()));
    env
}

/// The output directory is replaced as a whole, so it must be a site (or empty, or absent), and
/// must hold none of `keep` (the lite sources, the prefix, the repository).
fn check_output_is_ours(output: &Path, keep: &[&Path]) -> Result<()> {
    for k in keep {
        let k = paths::absolute(k);
        ensure!(
            !k.starts_with(output),
            "--output-dir {} would replace {}, which it contains\n  fix: choose another \
             --output-dir (default: <build>/site)",
            output.display(),
            k.display()
        );
    }
    match fs::symlink_metadata(output) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => {
            let empty = fs::read_dir(output)
                .with_context(|| format!("cannot list {}", output.display()))?
                .next()
                .is_none();
            ensure!(
                empty || output.join("jupyter-lite.json").is_file(),
                "--output-dir {} exists and is not a JupyterLite site (no jupyter-lite.json); \
                 the build replaces its output as a whole\n  fix: choose another --output-dir, \
                 or remove it",
                output.display()
            );
            Ok(())
        }
        Ok(_) => bail!(
            "--output-dir {} exists and is not a directory\n  fix: choose another --output-dir",
            output.display()
        ),
    }
}

/// The `.olean` bundles a `--bundles` build installed next to the kernel (listed in
/// `bin/xlean-bundles.json`): JupyterLite's add-on copies only the `.js`, `.wasm` and `.data`, so
/// they are copied here, beside the site's `xlean.wasm`, where the kernel's JS glue looks.
/// Returns the prefix files it copied (none without a list).
fn bundle_files(prefix: &SitePrefix) -> Result<Vec<PathBuf>> {
    crate::prefix::read_bundle_list(&prefix.dir.join(crate::prefix::BIN_DIR))
}

fn copy_bundles(prefix: &SitePrefix, site: &Path) -> Result<()> {
    let bin = site.join("xeus").join(&prefix.env_name).join("bin");
    for f in bundle_files(prefix)? {
        let to = bin.join(f.file_name().unwrap());
        fs::copy(&f, &to)
            .with_context(|| format!("cannot copy {} to {}", f.display(), to.display()))?;
    }
    Ok(())
}

/// What the xeus add-on must have written, checked on the built site: the kernel list names
/// xlean in our environment, the module is there whole, the kernel spec points at it, the
/// default kernel is xlean, every notebook is in the contents, and the xlean JupyterLab extension
/// is loaded by the site.
pub fn verify_site(site: &Path, prefix: &SitePrefix) -> Result<()> {
    let env = &prefix.env_name;
    let list_path = site.join("xeus/kernels.json");
    let list: Value = read_json(&list_path)?;
    let listed = list.as_array().is_some_and(|a| {
        a.iter()
            .any(|k| k["kernel"] == "xlean" && k["env_name"] == env.as_str())
    });
    ensure!(
        listed,
        "{} does not list the kernel xlean of environment {env}: {list}\n  JupyterLite's xeus \
         add-on dropped it (see the warnings in the build log)",
        list_path.display()
    );
    let mut kernel_files = vec![
        (prefix.kernel.js.clone(), "xlean.js".to_string()),
        (prefix.kernel.wasm.clone(), "xlean.wasm".to_string()),
    ];
    for f in bundle_files(prefix)? {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        kernel_files.push((f, name));
    }
    for (from, name) in &kernel_files {
        let copy = site.join("xeus").join(env).join("bin").join(name);
        let want = fs::metadata(from)?.len();
        let got = fs::metadata(&copy)
            .with_context(|| format!("the site lacks the kernel file {}", copy.display()))?
            .len();
        ensure!(
            got == want,
            "{} has {got} bytes, the prefix's {} has {want}",
            copy.display(),
            from.display()
        );
    }
    let spec_path = site.join("xeus").join(env).join("xlean/kernel.json");
    let spec = read_json(&spec_path)?;
    let argv0 = format!("xeus/{env}/bin/xlean.js");
    ensure!(
        spec["argv"][0] == argv0.as_str(),
        "{}: argv[0] is {}, not {argv0}",
        spec_path.display(),
        spec["argv"][0]
    );
    let lite_path = site.join("jupyter-lite.json");
    let lite = read_json(&lite_path)?;
    let default = &lite["jupyter-config-data"]["defaultKernelName"];
    ensure!(
        default == "xlean",
        "{}: defaultKernelName is {default}, not \"xlean\"",
        lite_path.display()
    );
    verify_extension(site, &lite, &lite_path)?;
    for nb in LiteSources::standard().notebook_files()? {
        let name = nb.file_name().unwrap();
        let copy = site.join("files").join(name);
        ensure!(
            copy.is_file(),
            "the site lacks the notebook {} (expected {})",
            nb.display(),
            copy.display()
        );
    }
    Ok(())
}

/// The site lists the xlean JupyterLab extension in `jupyter-lite.json` (what JupyterLite loads)
/// and has the file it loads.
fn verify_extension(site: &Path, lite: &Value, lite_path: &Path) -> Result<()> {
    let listed = lite["jupyter-config-data"]["federated_extensions"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == extension::NAME));
    let entry = listed.with_context(|| {
        format!(
            "{}: federated_extensions does not list {} (Lean syntax highlighting)\n  the \
             build did not take the extension; see the jupyter-lite-build log",
            lite_path.display(),
            extension::NAME
        )
    })?;
    let load = site
        .join("extensions")
        .join(extension::NAME)
        .join(entry["load"].as_str().unwrap_or_default());
    ensure!(
        load.is_file(),
        "the site lacks {}, which jupyter-lite.json names for {}",
        load.display(),
        extension::NAME
    );
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Total bytes and number of files under `dir` (links are not followed).
pub fn tree_size(dir: &Path) -> Result<(u64, u64)> {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                bytes += meta.len();
                files += 1;
            }
        }
    }
    Ok((bytes, files))
}

pub fn fmt_bytes(n: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if n as f64 >= MB {
        format!("{:.1} MiB", n as f64 / MB)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}
