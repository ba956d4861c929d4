//! The install prefix as JupyterLite's xeus add-on reads it, checked before the site is built.
//!
//! jupyterlite-xeus 5.1.0 (its `add_on.py`) takes every directory under
//! `<prefix>/share/jupyter/kernels/`, reads `kernel.json`, appends `.js` and `.wasm` to `argv[0]`
//! and copies those two files into the site. When they are not there it only *warns* and leaves
//! the kernel out, and the site is built without it: the prior art shipped kernel-less sites this
//! way more than once. It also names the site's kernel folder after the prefix's last path
//! component (`xeus/<name>/`), and reads `conda-meta/history`. Everything that can go wrong there
//! is checked here, with the file at fault and the fix in the message: kernel.json itself by
//! crate::prefix (which every reader shares), the rest (the prefix's name, the history, argv[0]
//! naming this very prefix, a real wasm module) here.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context, Result};

use crate::prefix::{kernel_module, read_kernel, InstalledKernel, CONDA_HISTORY, FIX_INSTALL};

/// The prefix, once checked: what the add-on makes of it beyond the kernel crate::prefix reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePrefix {
    /// The prefix as given (absolute; the link `cargo xtask build` manages, usually).
    pub dir: PathBuf,
    /// Its last path component: the add-on's "environment name", the site's `xeus/<env_name>/`.
    pub env_name: String,
    pub kernel: InstalledKernel,
}

/// Checks `prefix` against the contract (docs/lite.md, "The prefix"). `prefix` must be absolute.
pub fn check_prefix(prefix: &Path) -> Result<SitePrefix> {
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
        "no install prefix at {}\n  {FIX_INSTALL}",
        prefix.display()
    );
    let history = prefix.join(CONDA_HISTORY);
    ensure!(
        history.is_file(),
        "{} is missing (JupyterLite's xeus add-on reads it; it may be empty)\n  {FIX_INSTALL}",
        history.display()
    );

    let k = read_kernel(prefix)?;
    // argv[0] must name this prefix's own module: a prefix that was copied or moved still names
    // the old place, and the site would silently get whatever kernel is there.
    let same = match (
        fs::canonicalize(&k.js),
        fs::canonicalize(kernel_module(prefix)),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    ensure!(
        same,
        "{}: argv[0] `{}` is not this prefix's bin/xlean (the prefix was moved or copied after it \
         was installed)\n  {FIX_INSTALL}",
        k.spec_path.display(),
        k.argv0
    );
    check_wasm_magic(&k.wasm)?;
    Ok(SitePrefix {
        dir: prefix.to_path_buf(),
        env_name,
        kernel: k,
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
        "{} is not a WebAssembly module (no `\\0asm` header)\n  {FIX_INSTALL}",
        wasm.display()
    );
    Ok(())
}
