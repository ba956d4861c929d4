//! Precompressed copies of the site's files: `name.gz` beside `name`, gzip at its highest level,
//! made once by `cargo xtask lite` so that a server hands them out as `Content-Encoding: gzip`
//! without compressing on every request (our `--serve`; nginx with `gzip_static on`).
//!
//! Why gzip only (docs/lite.md, "Compression"): Chromium sends `br` and `zstd` in
//! Accept-Encoding only to secure origins (https, or loopback), so gzip is the one encoding every
//! visitor can take; a host serving https compresses with brotli by itself where it can.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use super::server::{content_type, PRECOMPRESSED};

/// Files smaller than this are sent as they are: the saving would not pay for a second file.
pub const MIN_BYTES: u64 = 1024;

/// What was written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Precompressed {
    pub files: u64,
    /// The originals' bytes and their copies' bytes.
    pub raw_bytes: u64,
    pub gz_bytes: u64,
}

/// Writes `name.gz` beside every compressible file of `site` of [`MIN_BYTES`] or more, where it
/// is smaller than the file. Files that are compressed already (`.tar.gz` bundles, images,
/// fonts) are left alone: nothing is compressed twice.
pub fn precompress_site(site: &Path) -> Result<Precompressed> {
    let mut done = Precompressed::default();
    let mut stack = vec![site.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry?;
            let (path, meta) = (entry.path(), entry.metadata()?);
            if meta.is_dir() {
                stack.push(path);
            } else if meta.len() >= MIN_BYTES && compressible(&path) {
                if let Some(gz) = write_gz(&path)? {
                    done.files += 1;
                    done.raw_bytes += meta.len();
                    done.gz_bytes += gz;
                }
            }
        }
    }
    Ok(done)
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

/// Writes `path.gz` (level 9, no name and no date in the header: the same input gives the same
/// bytes); returns its size, or `None` (and no file) when it is not smaller.
fn write_gz(path: &Path) -> Result<Option<u64>> {
    // The one encoding written (see the module comment).
    let (_, suffix) = PRECOMPRESSED[0];
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    let gz_path = PathBuf::from(name);
    let mut input =
        fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Written afresh, never through a link that stands where the copy goes.
    crate::util::remove_any(&gz_path)?;
    let out = fs::File::create(&gz_path)
        .with_context(|| format!("cannot create {}", gz_path.display()))?;
    let mut gz =
        flate2::GzBuilder::new().write(io::BufWriter::new(out), flate2::Compression::best());
    io::copy(&mut input, &mut gz).with_context(|| format!("cannot compress {}", path.display()))?;
    gz.finish()?.flush()?;
    let (raw, packed) = (fs::metadata(path)?.len(), fs::metadata(&gz_path)?.len());
    if packed >= raw {
        fs::remove_file(&gz_path)?;
        return Ok(None);
    }
    Ok(Some(packed))
}
