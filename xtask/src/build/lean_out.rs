//! Lean's output for one build: the C of Init/Std/Lean and of the kernel's own modules, and the
//! `lib/lean` tree of `.olean`/`.ir` files that matches it. One Lean makes all of it, the pinned
//! one (docs/design.md, "One Lean end to end"). Two origins:
//!
//! - `--lean-c DIR`: made on another host (`DIR/c/**.c`, `DIR/lib/lean`, `DIR/lean-version.txt`);
//!   C generation and the wasm build can then run on different machines;
//! - the **lake stage**: the official Lean of the pin on this machine. The stdlib's C comes from
//!   `lean -c` on every module of the lean4 source at the pinned tag (parallel; a rerun after an
//!   interruption keeps the modules already done), the kernel's from `lake build` in a copy of
//!   lean-wasm/ (so the repository never gets a `.lake`), and `lib/lean` is the toolchain's own
//!   tree plus the kernel package's `.olean` files, linked (not copied) into `<build>/lean-out`.
//!
//! A `lean` whose version is not the pin is refused either way.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
    time::Instant,
};

use anyhow::{bail, ensure, Context, Result};

use crate::stamp;
use crate::{
    paths,
    pins::Pins,
    runner,
    toolchain::lean_host::{self, OfficialLean},
    util,
};

/// Lean's output, wherever it came from.
pub struct LeanOutput {
    pub c: PathBuf,
    pub lib: PathBuf,
}

/// Where this build's Lean output comes from.
pub enum Origin {
    /// `--lean-c DIR`.
    Given(PathBuf),
    /// The official Lean of the pin, found on this machine.
    Host(OfficialLean),
}

/// The stdlib's top modules: `Init.lean` + `Init/**.lean`, and so on.
pub const STDLIB_ROOTS: &[&str] = &["Init", "Std", "Lean"];

/// Options every stdlib module is compiled with: lean4's own stage builds pass this, so that the
/// compiler does not call native code of the stdlib being compiled.
const STDLIB_LEAN_OPTIONS: &[&str] = &["-Dinterpreter.prefer_native=false"];

/// Decides the origin before anything expensive runs: `--lean-c`, else the official Lean of the
/// pin, else an error that names every `lean` found and both fixes.
pub fn origin(lean_c: Option<&Path>, pins: &Pins) -> Result<Origin> {
    if let Some(dir) = lean_c {
        return Ok(Origin::Given(paths::absolute(dir)));
    }
    let search = lean_host::find_official(pins);
    if let Some(official) = search.pinned {
        runner::note(&format!(
            "Lean output: made here by {} ({})",
            official.version_line,
            official.lean.display()
        ));
        return Ok(Origin::Host(official));
    }
    let others: String = search
        .others
        .iter()
        .map(|o| {
            format!(
                "\n  refused: {} says `{}` (not the pinned {})",
                o.lean.display(),
                o.version_line,
                pins.lean.tag
            )
        })
        .collect();
    bail!(
        "no Lean output to build from: no --lean-c DIR, and no official Lean {} on this machine{others}\n  \
         The C for Init/Std/Lean and the .olean files must come from the pinned Lean.\n  \
         fix: install it (`{}`) so that the build generates them itself, or pass the output of \
         a host that has it with --lean-c DIR (DIR/c/**.c, DIR/lib/lean, DIR/lean-version.txt; \
         see docs/lean-host.md)",
        pins.lean.tag,
        lean_host::elan_install_command(pins)
    )
}

/// Reads and checks a `--lean-c` directory.
pub fn read_given(dir: &Path, pins: &Pins) -> Result<LeanOutput> {
    let out = LeanOutput {
        c: dir.join("c"),
        lib: dir.join("lib/lean"),
    };
    for (what, p) in [("C", &out.c), ("lib/lean", &out.lib)] {
        ensure!(
            p.is_dir(),
            "--lean-c {}: no {what} folder at {}",
            dir.display(),
            p.display()
        );
    }
    let version_file = dir.join("lean-version.txt");
    let version = fs::read_to_string(&version_file).with_context(|| {
        format!(
            "--lean-c {}: cannot read {} (what `lean --version` printed where the C was made)",
            dir.display(),
            version_file.display()
        )
    })?;
    check_lean_version(version.trim(), pins)
        .with_context(|| format!("{} was not made by the pinned Lean", version_file.display()))?;
    Ok(out)
}

/// The C and the .olean files must come from the pinned Lean: refuse any other version.
pub fn check_lean_version(version: &str, pins: &Pins) -> Result<()> {
    let want = pins.lean.tag.trim_start_matches('v');
    ensure!(
        version.contains(&format!("version {want},")) || version.contains(&format!("version {want} ")),
        "it says `{version}`, but pins.toml pins Lean {} (commit {})\n  fix: regenerate the C and .olean files \
         with the pinned toolchain ({})",
        pins.lean.tag,
        pins.lean.commit,
        pins.lean_toolchain()
    );
    if version.contains("commit ") {
        ensure!(
            version.contains(&pins.lean.commit),
            "it says `{version}`: not commit {} of {}",
            pins.lean.commit,
            pins.lean.tag
        );
    }
    Ok(())
}

impl LeanOutput {
    /// `XLEAN_INIT_C`, `XLEAN_STD_C`, `XLEAN_LEAN_C` (the stdlib, by top module) and
    /// `XLEAN_KERNEL_C` (everything else: the kernel's own modules).
    pub fn c_groups(&self) -> Result<Vec<(&'static str, Vec<PathBuf>)>> {
        let mut groups: Vec<(&'static str, Vec<PathBuf>)> = vec![
            ("XLEAN_INIT_C", vec![]),
            ("XLEAN_STD_C", vec![]),
            ("XLEAN_LEAN_C", vec![]),
            ("XLEAN_KERNEL_C", vec![]),
        ];
        for f in stamp::files_under(&self.c, &[".c"])? {
            let top = f
                .strip_prefix(&self.c)?
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().to_string());
            let top = top.as_deref().map(|t| t.trim_end_matches(".c"));
            let i = match top {
                Some("Init") => 0,
                Some("Std") => 1,
                Some("Lean") => 2,
                _ => 3,
            };
            groups[i].1.push(f);
        }
        ensure!(
            !groups[0].1.is_empty(),
            "{} holds no C for Init (expected {}/Init/**.c)",
            self.c.display(),
            self.c.display()
        );
        Ok(groups)
    }

    /// The real backend calls the kernel's own Lean modules (`XLean`, lean-wasm/): their C must
    /// be in the Lean output too.
    pub fn check_kernel_modules(&self) -> Result<()> {
        let root = self.c.join("XLean.c");
        ensure!(
            root.is_file(),
            "the Lean output has no C for the kernel's own modules ({} is missing)\n  \
             fix: generate it with the pinned Lean from lean-wasm/ (`lake build`, see \
             docs/lean-host.md) into the --lean-c folder, or pass `--backend test` to link the \
             kernel with the test backend (no Lean inside)",
            root.display()
        );
        Ok(())
    }
}

/// The C name of the kernel root module's initialiser, read from its definition in `c/XLean.c`.
/// Lean names it `initialize_XLean`, or, when lake builds it as part of a package (as ours does),
/// `initialize_<package>_XLean` (`mkModuleInitializationFunctionName` with the package id):
/// reading it keeps the backend right whichever Lean and lake made the C.
pub fn kernel_module_init(c_file: &Path) -> Result<String> {
    let text =
        fs::read_to_string(c_file).with_context(|| format!("cannot read {}", c_file.display()))?;
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        // A definition: `... initialize_<stem>XLean(uint8_t builtin...) {`
        if !line.ends_with('{') {
            continue;
        }
        for (at, _) in line.match_indices("initialize_") {
            let ident: String = line[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let before = line[..at].chars().last();
            let whole = before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            if whole
                && (ident == "initialize_XLean" || ident.ends_with("_XLean"))
                && line[at + ident.len()..].trim_start().starts_with('(')
            {
                found.push(ident);
            }
        }
    }
    found.dedup();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "{} defines no initialiser of the module XLean (`initialize_XLean` or \
             `initialize_<package>_XLean`): is it the C of lean-wasm/XLean.lean?",
            c_file.display()
        ),
        many => bail!(
            "{} defines several candidate initialisers of XLean: {}",
            c_file.display(),
            many.join(", ")
        ),
    }
}

/// The lean4 stdlib sources (`<src>/src/{Init,Std,Lean}.lean` and everything under those
/// folders), as paths relative to `<src>/src`, sorted. Their names are the module names.
pub fn stdlib_modules(lean_src: &Path) -> Result<Vec<PathBuf>> {
    let src = lean_src.join("src");
    let mut files = Vec::new();
    for root in STDLIB_ROOTS {
        let top = src.join(format!("{root}.lean"));
        if top.is_file() {
            files.push(top);
        }
        files.extend(files_under_if_dir(&src.join(root), ".lean")?);
    }
    ensure!(
        files.iter().any(|f| f.ends_with("Init.lean")),
        "{} has no src/Init.lean: not a lean4 source tree",
        lean_src.display()
    );
    let mut rel: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(&src).map(Path::to_path_buf))
        .collect::<Result<_, _>>()?;
    rel.sort();
    Ok(rel)
}

/// The kernel package's own files (lean-wasm/): what `lake build` reads.
pub fn kernel_package_files(package: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![
        package.join("lakefile.toml"),
        package.join("lean-toolchain"),
    ];
    files.push(package.join("XLean.lean"));
    files.extend(files_under_if_dir(&package.join("XLean"), ".lean")?);
    for f in &files {
        ensure!(f.is_file(), "{} is missing", f.display());
    }
    Ok(files)
}

/// The lake stage: makes `out` (`c/`, `lib/lean/`, `lean-version.txt`, written last) with the
/// official Lean `host`. `key` names the stage's inputs: C already generated under the same key
/// (a run that was interrupted) is kept, anything else is removed first.
pub fn generate(
    host: &OfficialLean,
    lean_src: &Path,
    package: &Path,
    out: &Path,
    key: &str,
    jobs: usize,
) -> Result<LeanOutput> {
    let key_file = out.join("key.txt");
    if fs::read_to_string(&key_file).ok().as_deref() != Some(key) {
        util::remove_any(out)?;
        fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        util::write_atomic(&key_file, key.as_bytes())?;
    }
    let version_file = out.join("lean-version.txt");
    util::remove_any(&version_file)?;
    let c = out.join("c");

    // 1. The stdlib: `lean -c` per module, from <src>/src so that each file's path is its name.
    let modules = stdlib_modules(lean_src)?;
    let prefix = toolchain_prefix(host)?;
    let toolchain_lib = prefix.join("lib/lean");
    ensure!(
        toolchain_lib.join("Init.olean").is_file(),
        "{} has no Init.olean: `{} --print-prefix` does not point at a complete toolchain",
        toolchain_lib.display(),
        host.lean.display()
    );
    compile_modules(
        host,
        &lean_src.join("src"),
        &modules,
        &toolchain_lib,
        &c,
        jobs,
    )?;

    // 2. The kernel's modules: `lake build` in a copy of the package.
    let package_copy = out.join("package");
    copy_package(package, &package_copy)?;
    for (module, file) in &lake_build_c(host, &package_copy, &[])? {
        let to = c.join(module.replace('.', "/")).with_extension("c");
        ensure!(
            !STDLIB_ROOTS
                .iter()
                .any(|r| module == r || module.starts_with(&format!("{r}."))),
            "the kernel package defines module {module}, which clashes with the stdlib"
        );
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(file, &to)
            .with_context(|| format!("cannot copy {} to {}", file.display(), to.display()))?;
    }

    // 3. lib/lean: the toolchain's stdlib tree and the package's .olean files, linked.
    let lib = out.join("lib/lean");
    let package_lib = package_copy.join(".lake/build/lib/lean");
    util::make_dir_atomically(&lib, |partial| {
        let mut n = 0;
        for root in STDLIB_ROOTS {
            n += link_tree_part(&toolchain_lib, root, partial)?;
        }
        n += link_tree_part(&package_lib, "XLean", partial)?;
        runner::note(&format!(
            "lib/lean: {n} files linked into {}",
            lib.display()
        ));
        Ok(())
    })?;

    util::write_atomic(&version_file, format!("{}\n", host.version_line).as_bytes())?;
    Ok(LeanOutput { c, lib })
}

/// `lean --print-prefix`: the toolchain's root (its `lib/lean` holds the stdlib's .olean files).
fn toolchain_prefix(host: &OfficialLean) -> Result<PathBuf> {
    let out = runner::cmd(&host.lean).arg("--print-prefix").read()?;
    let prefix = PathBuf::from(out.trim());
    ensure!(
        prefix.is_absolute() && prefix.is_dir(),
        "`{} --print-prefix` printed `{}`, not a folder",
        host.lean.display(),
        prefix.display()
    );
    Ok(prefix)
}

/// `lean -c` for every module, `jobs` at a time; each C file is written to `.partial` and
/// renamed, so an interrupted run leaves only whole files, which the next run keeps.
fn compile_modules(
    host: &OfficialLean,
    src: &Path,
    modules: &[PathBuf],
    lean_path: &Path,
    c_out: &Path,
    jobs: usize,
) -> Result<()> {
    let todo: Vec<&PathBuf> = modules
        .iter()
        .filter(|m| !c_out.join(m).with_extension("c").is_file())
        .collect();
    runner::note(&format!(
        "lean -c: {} stdlib modules ({} already made), {jobs} at a time",
        modules.len(),
        modules.len() - todo.len()
    ));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let started = Instant::now();
    let last_report = Mutex::new(Instant::now());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(module) = todo.get(i) else { return };
                match compile_module(host, src, module, lean_path, c_out) {
                    Ok(()) => {
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        let mut last = last_report.lock().unwrap();
                        if last.elapsed().as_secs() >= 5 || n == todo.len() {
                            *last = Instant::now();
                            runner::note(&format!(
                                "lean -c: {n}/{} ({})",
                                todo.len(),
                                runner::fmt_secs(started.elapsed().as_secs_f64())
                            ));
                        }
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        errors.lock().unwrap().push(format!("{e:#}"));
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap();
    if !errors.is_empty() {
        bail!(
            "{}\n  (the modules made so far are kept: the next build goes on from there)",
            errors.join("\n")
        );
    }
    Ok(())
}

fn compile_module(
    host: &OfficialLean,
    src: &Path,
    module: &Path,
    lean_path: &Path,
    c_out: &Path,
) -> Result<()> {
    let to = c_out.join(module).with_extension("c");
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    let partial = util::partial_path(&to);
    let out = runner::cmd(&host.lean)
        .args(STDLIB_LEAN_OPTIONS)
        .arg("-c")
        .arg(&partial)
        .arg(module)
        .cwd(src)
        .env("LEAN_PATH", lean_path)
        .output()?;
    if !out.status.success() {
        let _ = fs::remove_file(&partial);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        bail!(
            "`lean -c` failed on {} (cwd {}, LEAN_PATH={}):\n{}",
            module.display(),
            src.display(),
            lean_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    fs::rename(&partial, &to)
        .with_context(|| format!("cannot rename {} into place", partial.display()))?;
    Ok(())
}

/// Copies the kernel package's own files into `to` (made afresh, but lake's `.lake` build folder
/// from an earlier copy is kept so that lake only rebuilds what changed).
fn copy_package(package: &Path, to: &Path) -> Result<()> {
    let files = kernel_package_files(package)?;
    let lake_dir = to.join(".lake");
    if to.is_dir() {
        for entry in fs::read_dir(to)? {
            let p = entry?.path();
            if p != lake_dir {
                util::remove_any(&p)?;
            }
        }
    }
    for f in files {
        let rel = f.strip_prefix(package)?;
        let dest = to.join(rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(&f, &dest)
            .with_context(|| format!("cannot copy {} to {}", f.display(), dest.display()))?;
    }
    Ok(())
}

/// Hard-links (copies across file systems) `<from>/<root>.*` and `<from>/<root>/**` into `to`;
/// returns how many files.
fn link_tree_part(from: &Path, root: &str, to: &Path) -> Result<usize> {
    let mut files = Vec::new();
    if let Ok(entries) = fs::read_dir(from) {
        for e in entries {
            let p = e?.path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if p.is_file() && name.starts_with(&format!("{root}.")) {
                files.push(p);
            }
        }
    }
    files.extend(files_under_if_dir(&from.join(root), "")?);
    for f in &files {
        util::link_or_copy(f, &to.join(f.strip_prefix(from)?))?;
    }
    Ok(files.len())
}

/// [`stamp::files_under`], or nothing when `dir` does not exist.
fn files_under_if_dir(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    if dir.is_dir() {
        stamp::files_under(dir, &[suffix])
    } else {
        Ok(Vec::new())
    }
}

/// `lake build [targets]` in the package at `package_root` with the official Lean `o` (first on
/// `PATH`, so that lake uses no other): module name → its C file in lake's `.lake/build/ir`.
/// [`generate`] calls it on its copy of lean-wasm/.
fn lake_build_c(
    o: &OfficialLean,
    package_root: &Path,
    targets: &[String],
) -> Result<Vec<(String, PathBuf)>> {
    let lake = o.lake.clone().with_context(|| {
        format!(
            "the official Lean at {} has no `lake` beside it\n  fix: install the full toolchain with elan",
            o.lean.display()
        )
    })?;
    // lake finds `lean` next to itself; PATH gets the same folder first so nothing else is used.
    let mut dirs = vec![o.lean.parent().unwrap_or(Path::new("/")).to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    runner::Step::new("lake-build", &lake)
        .arg("build")
        .args(targets)
        .cwd(package_root)
        .env("PATH", std::env::join_paths(dirs)?)
        .env_remove("LEAN_PATH")
        .run()?;
    let c_dir = package_root.join(".lake/build/ir");
    let mut files = Vec::new();
    collect_c_files(&c_dir, &c_dir, &mut files)?;
    ensure!(
        !files.is_empty(),
        "`lake build` succeeded but {} holds no C file",
        c_dir.display()
    );
    Ok(files)
}

fn collect_c_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_c_files(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "c") {
            let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
            let module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((module.join("."), path));
        }
    }
    out.sort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_initialiser_is_read_with_or_without_a_package_prefix() {
        let dir = util::test_dir("lean-out-init");
        let file = dir.join("XLean.c");
        let lake_style = "lean_object* initialize_xlean_XLean_Repl(uint8_t builtin);\n\
             static bool _G_initialized = false;\n\
             LEAN_EXPORT lean_object* initialize_xlean_XLean(uint8_t builtin) {\n\
             lean_object * res;\n";
        fs::write(&file, lake_style).unwrap();
        assert_eq!(kernel_module_init(&file).unwrap(), "initialize_xlean_XLean");
        fs::write(
            &file,
            "lean_object *initialize_XLean(uint8_t builtin) {\n}\n",
        )
        .unwrap();
        assert_eq!(kernel_module_init(&file).unwrap(), "initialize_XLean");
        // The fixture the build tests link.
        let fixture = crate::paths::project_root().join("tests/fixtures/lean-out/c/XLean.c");
        assert_eq!(kernel_module_init(&fixture).unwrap(), "initialize_XLean");
        fs::write(
            &file,
            "lean_object* initialize_xlean_XLean(uint8_t builtin);\n",
        )
        .unwrap();
        let msg = format!("{:#}", kernel_module_init(&file).unwrap_err());
        assert!(msg.contains("defines no initialiser"), "{msg}");
    }
}
