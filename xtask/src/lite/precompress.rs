//! Precompressed copies of the site's files: `name.gz` beside `name`, gzip at its highest level,
//! made once by `cargo xtask lite` so that a server hands them out as `Content-Encoding: gzip`
//! without compressing on every request (our `--serve`; nginx with `gzip_static on`).
//!
//! `jupyter lite build` makes the site afresh on every run, so the copies cannot be kept beside
//! their originals: they are kept in a cache folder (`<build>/site-gz`) under the sha256 of the
//! original, `<sha256>.gz`, and hard-linked into the site. An unchanged file (most of them, and
//! the module of hundreds of MB) costs a hash, not a level-9 compression; a changed one has a new
//! hash and is compressed again. This is content addressing, not a stage: the key is the bytes
//! themselves, so no stamp can disagree with them. After each run the cache holds only what the
//! site uses.
//!
//! Why gzip only (docs/lite.md, "Compression"): Chromium sends `br` and `zstd` in
//! Accept-Encoding only to secure origins (https, or loopback), so gzip is the one encoding every
//! visitor can take; a host serving https compresses with brotli by itself where it can.

use std::{
    collections::BTreeSet,
    ffi::OsString,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use super::server::{content_type, PRECOMPRESSED};
use crate::util;

/// Files smaller than this are sent as they are: the saving would not pay for a second file.
pub const MIN_BYTES: u64 = 1024;

/// What was written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Precompressed {
    pub files: u64,
    /// The originals' bytes and their copies' bytes.
    pub raw_bytes: u64,
    pub gz_bytes: u64,
    /// Of `files`, the copies taken from the cache: their originals had not changed.
    pub reused: u64,
}

/// Writes `name.gz` beside every compressible file of `site` of [`MIN_BYTES`] or more, where it
/// is smaller than the file, taking it from `cache` when a copy of the same bytes is there (see
/// the module comment). Files that are compressed already (`.tar.gz` bundles, images, fonts) are
/// left alone: nothing is compressed twice.
pub fn precompress_site(site: &Path, cache: &Path) -> Result<Precompressed> {
    fs::create_dir_all(cache).with_context(|| format!("cannot create {}", cache.display()))?;
    let mut done = Precompressed::default();
    let mut used = BTreeSet::new();
    let mut stack = vec![site.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry?;
            let (path, meta) = (entry.path(), entry.metadata()?);
            if meta.is_dir() {
                stack.push(path);
            } else if meta.len() >= MIN_BYTES && compressible(&path) {
                let copy = cached_gz(&path, cache)?;
                used.insert(copy.entry.clone());
                if let Some(gz) = copy.gz_bytes {
                    util::remove_any(&gz_path(&path))?;
                    util::link_or_copy(&cache.join(&copy.entry), &gz_path(&path))?;
                    done.files += 1;
                    done.raw_bytes += meta.len();
                    done.gz_bytes += gz;
                    done.reused += u64::from(copy.reused);
                }
            }
        }
    }
    prune(cache, &used)?;
    Ok(done)
}

/// Where the copy of `path` goes: `path.gz`.
fn gz_path(path: &Path) -> PathBuf {
    // The one encoding written (see the module comment).
    let (_, suffix) = PRECOMPRESSED[0];
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The cache's answer for one original.
struct CachedGz {
    /// The cache entry: `<sha256>.gz`, or `<sha256>.not-smaller` (empty) when gzip would not
    /// make the file smaller.
    entry: OsString,
    /// The copy's size; `None` when it is not smaller.
    gz_bytes: Option<u64>,
    /// Found in the cache rather than compressed now.
    reused: bool,
}

/// The cached copy of `path`'s bytes, compressed now when the cache has none.
fn cached_gz(path: &Path, cache: &Path) -> Result<CachedGz> {
    let key = util::sha256_file(path)?;
    let gz = cache.join(format!("{key}.gz"));
    let not_smaller = cache.join(format!("{key}.not-smaller"));
    let name = |p: &Path| p.file_name().unwrap_or_default().to_os_string();
    let found = |p: &Path, gz_bytes| CachedGz {
        entry: name(p),
        gz_bytes,
        reused: true,
    };
    if let Ok(meta) = fs::metadata(&gz) {
        return Ok(found(&gz, Some(meta.len())));
    }
    if not_smaller.is_file() {
        return Ok(found(&not_smaller, None));
    }
    let raw = fs::metadata(path)?.len();
    let packed = write_gz(path, &util::partial_path(&gz))?;
    // Renamed into place only when whole: Ctrl-C leaves at most a `.partial`, never trusted.
    let (entry, gz_bytes) = if packed < raw {
        fs::rename(util::partial_path(&gz), &gz)
            .with_context(|| format!("cannot rename a copy to {}", gz.display()))?;
        (gz, Some(packed))
    } else {
        fs::remove_file(util::partial_path(&gz))?;
        util::write_atomic(&not_smaller, b"")?;
        (not_smaller, None)
    };
    Ok(CachedGz {
        entry: name(&entry),
        gz_bytes,
        reused: false,
    })
}

/// Removes from `cache` every entry the site no longer uses (and any leftover `.partial`).
fn prune(cache: &Path, used: &BTreeSet<OsString>) -> Result<()> {
    for entry in fs::read_dir(cache).with_context(|| format!("cannot list {}", cache.display()))? {
        let entry = entry?;
        if !used.contains(&entry.file_name()) {
            util::remove_any(&entry.path())?;
        }
    }
    Ok(())
}

/// Text and WebAssembly: what gzip makes smaller. By Content-Type, so that it agrees with what
/// the server would send.
fn compressible(path: &Path) -> bool {
    let ty = content_type(path);
    ty.starts_with("text/")
        || ty.starts_with("application/json")
        || ty.starts_with("application/manifest+json")
        || ty == "application/wasm"
        || ty == "application/xml"
        || ty == "image/svg+xml"
}

/// Writes `path` gzip'd to `to` (level 9, no name and no date in the header: the same input gives
/// the same bytes); returns its size.
fn write_gz(path: &Path, to: &Path) -> Result<u64> {
    let mut input =
        fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Written afresh, never through a link that stands where the copy goes.
    util::remove_any(to)?;
    let out = fs::File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut gz =
        flate2::GzBuilder::new().write(io::BufWriter::new(out), flate2::Compression::best());
    io::copy(&mut input, &mut gz).with_context(|| format!("cannot compress {}", path.display()))?;
    gz.finish()?.flush()?;
    Ok(fs::metadata(to)?.len())
}
