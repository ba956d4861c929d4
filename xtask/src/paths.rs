//! Where things live that are not build outputs: the repository and the tool cache (build
//! outputs: `layout.rs`).
//!
//! Every path handed out here is absolute, so a step that changes its working directory can
//! never misread one. Relative overrides (flags or environment) are resolved against the
//! directory the user ran the command from.

use std::path::{Path, PathBuf};

/// The repository root (the folder holding `pins.toml`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The tool cache: toolchains, the Python venv, downloads. Shared by every clone of the repo and
/// every build directory. `main` resolves it once and hands it down in the
/// [`Layout`](crate::layout::Layout); a loaded [`Toolchain`](crate::toolchain::Toolchain) carries
/// the one it was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCache {
    pub root: PathBuf,
}

impl ToolCache {
    /// `flag` (`--cache-dir`, which clap has already merged with its environment variable), else
    /// `XLEAN_CACHE_DIR` (which `cargo test` processes see too), else `$XDG_CACHE_HOME/xlean`,
    /// else `~/.cache/xlean`.
    pub fn standard(flag: Option<&Path>) -> ToolCache {
        let env = |name| {
            std::env::var_os(name)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        };
        let root = match (flag, env("XLEAN_CACHE_DIR"), env("XDG_CACHE_HOME")) {
            (Some(dir), _, _) => absolute(dir),
            (None, Some(dir), _) => absolute(&dir),
            (None, None, Some(xdg)) => absolute(&xdg).join("xlean"),
            (None, None, None) => std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
                .join(".cache/xlean"),
        };
        ToolCache { root }
    }

    /// Downloads, named by artifact (the key in `pins.lock`), shared by all commands.
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }
}

/// Makes `p` absolute against the current directory without touching the file system.
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_flag_wins_and_is_made_absolute() {
        let cache = ToolCache::standard(Some(Path::new("rel/cache")));
        assert_eq!(cache.root, absolute(Path::new("rel/cache")));
        assert!(cache.root.is_absolute());
        assert_eq!(cache.downloads(), cache.root.join("downloads"));
    }
}
