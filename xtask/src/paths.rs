//! Where things live that are not build outputs: the repository and the tool cache (build
//! outputs: `layout.rs`).
//!
//! Every path handed out here is absolute, so a step that changes its working directory can
//! never misread one. Relative overrides (flags or environment) are resolved against the
//! directory the user ran the command from.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

static OVERRIDES: OnceLock<Overrides> = OnceLock::new();

#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub cache_dir: Option<PathBuf>,
}

/// Called once by `main` with the global flag (which clap has already merged with its
/// environment variable, `XLEAN_CACHE_DIR`).
pub fn set_overrides(o: Overrides) {
    let _ = OVERRIDES.set(Overrides {
        cache_dir: o.cache_dir.map(|p| absolute(&p)),
    });
}

/// The repository root (the folder holding `pins.toml`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The tool cache: toolchains, the Python venv, downloads. Shared by every clone of the repo.
/// `--cache-dir`, else `XLEAN_CACHE_DIR`, else `$XDG_CACHE_HOME/xlean`, else `~/.cache/xlean`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = OVERRIDES.get().and_then(|o| o.cache_dir.clone()) {
        return dir;
    }
    if let Some(dir) = std::env::var_os("XLEAN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return absolute(Path::new(&dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return absolute(Path::new(&dir)).join("xlean");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("xlean")
}

/// Downloads, named by artifact (the key in `pins.lock`), shared by all commands.
pub fn downloads_dir() -> PathBuf {
    cache_dir().join("downloads")
}

/// Makes `p` absolute against the current directory without touching the file system.
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
