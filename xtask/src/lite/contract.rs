//! The install prefix as JupyterLite's xeus add-on reads it, checked before the site is built.
//!
//! jupyterlite-xeus 5.1.0 (its `add_on.py`) takes every directory under
//! `<prefix>/share/jupyter/kernels/`, reads `kernel.json`, appends `.js` and `.wasm` to `argv[0]`
//! and copies those two files into the site. When they are not there it only *warns* and leaves
//! the kernel out, and the site is built without it: the prior art shipped kernel-less sites this
//! way more than once. It also names the site's kernel folder after the prefix's last path
//! component (`xeus/<name>/`), and reads `conda-meta/history`. Everything that can go wrong there
//! is checked here, with the file at fault and the fix in the message.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};

use crate::build::{prefix::KERNEL_SPEC_DIR, Backend};

/// What the prefix holds, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPrefix {
    /// The prefix as given (absolute; the link `cargo xtask build` manages, usually).
    pub dir: PathBuf,
    /// Its last path component: the add-on's "environment name", the site's `xeus/<env_name>/`.
    pub env_name: String,
    pub backend: Backend,
    pub display_name: String,
    /// The Lean version the kernel says it links (for the test backend: the pinned one).
    pub lean_version: String,
    /// `<argv[0]>.js` and `<argv[0]>.wasm`.
    pub js: PathBuf,
    pub wasm: PathBuf,
}

const FIX_BUILD: &str = "fix: cargo xtask build (it installs the kernel into <build>/prefix), \
                         or pass --prefix DIR of a complete install";

/// Checks `prefix` against the contract (docs/lite.md, "The prefix"). `prefix` must be absolute.
pub fn check_prefix(prefix: &Path) -> Result<KernelPrefix> {
    ensure!(
        prefix.is_absolute(),
        "the prefix {} is relative: the kernel's paths are read as they are\n  \
         fix: pass an absolute --prefix",
        prefix.display()
    );
    let env_name = prefix
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("the prefix {} has no last path component", prefix.display()))?;
    ensure!(
        !env_name.starts_with('.'),
        "the prefix {} has a name starting with a dot: the site would hold the kernel in \
         xeus/{env_name}/, which static hosts such as GitHub Pages do not publish\n  \
         fix: install into a prefix whose name does not start with a dot (cargo xtask build \
         --prefix DIR), and pass that",
        prefix.display()
    );
    ensure!(
        prefix.is_dir(),
        "no install prefix at {}\n  {FIX_BUILD}",
        prefix.display()
    );
    let history = prefix.join("conda-meta/history");
    ensure!(
        history.is_file(),
        "{} is missing (JupyterLite's xeus add-on reads it; it may be empty)\n  {FIX_BUILD}",
        history.display()
    );

    let spec_dir = prefix.join(KERNEL_SPEC_DIR);
    let spec_path = spec_dir.join("kernel.json");
    let text = fs::read_to_string(&spec_path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}\n  the prefix holds no xlean kernel spec\n  {FIX_BUILD}",
            spec_path.display()
        )
    })?;
    let spec: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON\n  {FIX_BUILD}", spec_path.display()))?;

    let argv0 = spec["argv"][0].as_str().with_context(|| {
        format!(
            "{}: `argv` is not a list starting with the kernel's path\n  {FIX_BUILD}",
            spec_path.display()
        )
    })?;
    let argv0_path = Path::new(argv0);
    ensure!(
        argv0_path.is_absolute(),
        "{}: argv[0] `{argv0}` is relative; JupyterLite's xeus add-on would only warn and build \
         the site without the kernel\n  {FIX_BUILD}",
        spec_path.display()
    );
    ensure!(
        !argv0.ends_with(".js") && !argv0.ends_with(".wasm"),
        "{}: argv[0] `{argv0}` has an extension; the add-on appends `.js` and `.wasm` itself\n  \
         {FIX_BUILD}",
        spec_path.display()
    );
    let js = PathBuf::from(format!("{argv0}.js"));
    let wasm = PathBuf::from(format!("{argv0}.wasm"));
    for (file, what) in [(&js, "kernel module"), (&wasm, "kernel's wasm")] {
        ensure!(
            file.is_file(),
            "{}: the {what} {} named by argv[0] is missing; JupyterLite's xeus add-on would \
             build the site without the kernel\n  {FIX_BUILD}",
            spec_path.display(),
            file.display()
        );
    }
    // argv[0] must name this prefix's own module: a prefix that was copied or moved still names
    // the old place, and the site would silently get whatever kernel is there.
    let own = prefix.join("bin/xlean.js");
    let same = match (fs::canonicalize(&js), fs::canonicalize(&own)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    ensure!(
        same,
        "{}: argv[0] `{argv0}` is not this prefix's bin/xlean (the prefix was moved or copied \
         after it was installed)\n  {FIX_BUILD}",
        spec_path.display()
    );
    check_wasm_magic(&wasm)?;

    let meta = &spec["metadata"]["xlean"];
    let backend = match meta["backend"].as_str() {
        Some("lean") => Backend::Lean,
        Some("test") => Backend::Test,
        other => bail!(
            "{}: metadata.xlean.backend is {}, not \"lean\" or \"test\" (a kernel.json not \
             written by this xtask?)\n  {FIX_BUILD}",
            spec_path.display(),
            other.map_or("missing".to_string(), |b| format!("\"{b}\""))
        ),
    };
    Ok(KernelPrefix {
        dir: prefix.to_path_buf(),
        env_name,
        backend,
        display_name: spec["display_name"].as_str().unwrap_or("xlean").to_string(),
        lean_version: meta["lean_version"].as_str().unwrap_or("").to_string(),
        js,
        wasm,
    })
}

/// A truncated copy, a Git LFS pointer or an HTML error page in place of the module would only
/// fail in the browser, after a download of the whole site: catch it here.
fn check_wasm_magic(wasm: &Path) -> Result<()> {
    let mut magic = [0u8; 4];
    let ok = fs::File::open(wasm)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\0asm";
    ensure!(
        ok,
        "{} is not a WebAssembly module (no `\\0asm` header)\n  {FIX_BUILD}",
        wasm.display()
    );
    Ok(())
}
