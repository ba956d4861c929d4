//! The inputs of `symtab` and `abi-check`: wasm object files, and `ar` archives of them (GNU, BSD
//! or thin), read with the `object` crate.
//!
//! Every member is named by its [`Place`] — `lib.a(member.o)` or `file.o`, as wasm-ld names
//! them — so that every message points at the exact member. A damaged archive is an error that
//! names the file and the member; a member that is not an object at all (a text file someone
//! archived) is skipped and reported, because the linker never loads it either.

use std::{
    fmt, fs,
    ops::Deref,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{bail, ensure, Context, Result};
use object::read::archive::ArchiveFile;

/// One file named on the command line, read into memory.
pub struct InputFile {
    /// Absolute, so that messages are unambiguous whatever the working directory.
    pub path: PathBuf,
    data: Contents,
    is_archive: bool,
    /// The contents of a thin archive's members, in member order (they live in other files).
    thin_members: Vec<Contents>,
}

/// A file's bytes, mapped rather than copied: the readers touch only the parts they parse, and
/// a Lean build's archives are hundreds of MB.
enum Contents {
    Mapped(memmap2::Mmap),
    Empty,
}

impl Deref for Contents {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Contents::Mapped(m) => m,
            Contents::Empty => &[],
        }
    }
}

fn map_file(path: &Path) -> std::io::Result<Contents> {
    let file = fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(Contents::Empty);
    }
    // SAFETY: the mapping is read-only and lives as long as the `InputFile`. The inputs are
    // build outputs that nothing rewrites while the table or the check is made; if one were
    // truncated under us, reading past its new end would stop the process (SIGBUS), never
    // yield a wrong result.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(Contents::Mapped(map))
}

/// Where a symbol or a signature comes from: an archive member or an object file.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    pub file: &'a Path,
    pub member: Option<&'a [u8]>,
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.member {
            Some(m) => write!(f, "{}({})", self.file.display(), String::from_utf8_lossy(m)),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// One wasm object: a whole input file or an archive member.
pub struct Member<'a> {
    pub place: Place<'a>,
    pub data: &'a [u8],
}

/// An archive member that is not a wasm object and was left out, with the reason.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub place: String,
    pub what: String,
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Wasm,
    /// LLVM bitcode (`-flto`): its symbols cannot be read without LLVM.
    Bitcode,
    /// An object for another machine (built with the host compiler by mistake).
    Native(&'static str),
    Unknown,
}

pub fn sniff(data: &[u8]) -> Format {
    match data {
        [0, b'a', b's', b'm', ..] => Format::Wasm,
        [b'B', b'C', 0xc0, 0xde, ..] | [0xde, 0xc0, 0x17, 0x0b, ..] => Format::Bitcode,
        [0x7f, b'E', b'L', b'F', ..] => Format::Native("an ELF object"),
        [0xfe, 0xed, 0xfa, 0xce | 0xcf, ..] | [0xce | 0xcf, 0xfa, 0xed, 0xfe, ..] => {
            Format::Native("a Mach-O object")
        }
        _ => Format::Unknown,
    }
}

fn is_archive(data: &[u8]) -> bool {
    data.starts_with(b"!<arch>\n") || data.starts_with(b"!<thin>\n")
}

/// Reads every input (in parallel; the order of the result is the order of `paths`).
pub fn read_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>> {
    if paths.is_empty() {
        bail!("no input: name the wasm archives (.a) or objects (.o) to read");
    }
    par_map(paths, |p| read_input(&crate::paths::absolute(p)))
        .into_iter()
        .collect()
}

fn read_input(path: &Path) -> Result<InputFile> {
    let data = map_file(path).with_context(|| {
        format!(
            "cannot read the input {}\n  fix: pass wasm archives (.a) or objects (.o) that exist \
             (was the library built?)",
            path.display()
        )
    })?;
    let is_archive = is_archive(&data);
    let mut thin_members = Vec::new();
    if data.starts_with(b"!<thin>\n") {
        // A thin archive only names its members; they are files next to it.
        let archive = parse_archive(path, &data)?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        for member in archive.members() {
            let member = member.map_err(|e| damaged(path, None, e))?;
            if !member.is_thin() {
                continue;
            }
            let name = String::from_utf8_lossy(member.name()).into_owned();
            let file = dir.join(&name);
            let bytes = map_file(&file).with_context(|| {
                format!(
                    "{}: cannot read the thin archive's member {name} ({})\n  fix: rebuild the \
                     archive (a thin archive only points at its object files)",
                    path.display(),
                    file.display()
                )
            })?;
            thin_members.push(bytes);
        }
    } else if !is_archive && sniff(&data) != Format::Wasm {
        bail!(
            "{} is neither an ar archive nor a wasm object ({})\n  fix: pass the wasm64 \
             archives or objects made by emcc/emar",
            path.display(),
            describe(sniff(&data))
        );
    }
    Ok(InputFile {
        path: path.to_path_buf(),
        data,
        is_archive,
        thin_members,
    })
}

pub fn describe(format: Format) -> &'static str {
    match format {
        Format::Wasm => "a wasm object",
        Format::Bitcode => "LLVM bitcode, as made by -flto: build the libraries without -flto",
        Format::Native(what) => what,
        Format::Unknown => "not an object file",
    }
}

fn parse_archive<'d>(path: &Path, data: &'d [u8]) -> Result<ArchiveFile<'d>> {
    ArchiveFile::parse(data).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a readable ar archive: {e}\n  fix: rebuild it with emar (or llvm-ar)",
            path.display()
        )
    })
}

fn damaged(path: &Path, after: Option<&[u8]>, e: object::read::Error) -> anyhow::Error {
    let where_ = match after {
        Some(prev) => format!("the member after {}", String::from_utf8_lossy(prev)),
        None => "its first member".to_string(),
    };
    anyhow::anyhow!(
        "{}: cannot read {where_}: {e}\n  the archive is truncated or damaged\n  fix: delete it \
         and rebuild it",
        path.display()
    )
}

impl InputFile {
    pub fn size_bytes(&self) -> u64 {
        let thin: usize = self.thin_members.iter().map(|m| m.len()).sum();
        (self.data.len() + thin) as u64
    }

    /// The wasm objects in this input, in archive order, and the members that are not wasm
    /// objects (skipped). A member that cannot be read is an error naming the archive and the
    /// member.
    pub fn members(&self) -> Result<(Vec<Member<'_>>, Vec<Skipped>)> {
        let path = self.path.as_path();
        let place = |member| Place { file: path, member };
        if !self.is_archive {
            let member = Member {
                place: place(None),
                data: &self.data,
            };
            return Ok((vec![member], Vec::new()));
        }
        let archive = parse_archive(path, &self.data)?;
        let mut members = Vec::new();
        let mut skipped = Vec::new();
        let mut previous: Option<&[u8]> = None;
        let mut thin = self.thin_members.iter();
        for member in archive.members() {
            let member = member.map_err(|e| damaged(path, previous, e))?;
            let name = member.name();
            previous = Some(name);
            let place = place(Some(name));
            let data: &[u8] = if member.is_thin() {
                thin.next().map(|v| &v[..]).unwrap_or_default()
            } else {
                member.data(&self.data[..]).map_err(|_| {
                    let (start, size) = member.file_range();
                    anyhow::anyhow!(
                        "{place}: the member claims {size} bytes at offset {start}, but {} \
                         has only {} bytes\n  the archive is truncated\n  fix: delete it and \
                         rebuild it",
                        path.display(),
                        self.data.len()
                    )
                })?
            };
            match sniff(data) {
                Format::Wasm => members.push(Member { place, data }),
                Format::Unknown => skipped.push(Skipped {
                    place: place.to_string(),
                    what: describe(Format::Unknown).to_string(),
                }),
                other => bail!(
                    "{place} is {}, not a wasm object\n  fix: build every library of the wasm \
                     link with emcc{}",
                    describe(other),
                    if other == Format::Bitcode {
                        ""
                    } else {
                        " (not the host compiler)"
                    }
                ),
            }
        }
        self.check_index(&archive)?;
        Ok((members, skipped))
    }

    /// An archive cut exactly at a member boundary still parses; its symbol index (when it has
    /// one) then points past the end. Catch that too.
    fn check_index(&self, archive: &ArchiveFile<'_>) -> Result<()> {
        if archive.is_thin() {
            return Ok(());
        }
        let Ok(Some(symbols)) = archive.symbols() else {
            return Ok(());
        };
        let len = self.data.len() as u64;
        for symbol in symbols {
            let Ok(symbol) = symbol else { break };
            ensure!(
                symbol.offset().0 < len,
                "{}: the archive index puts symbol {} at offset {}, past the end of the \
                 file ({len} bytes)\n  the archive is truncated\n  fix: delete it and \
                 rebuild it",
                self.path.display(),
                String::from_utf8_lossy(symbol.name()),
                symbol.offset().0
            );
        }
        Ok(())
    }
}

/// Every member of every input, in input order, and the skipped ones.
pub fn all_members(inputs: &[InputFile]) -> Result<(Vec<Member<'_>>, Vec<Skipped>)> {
    let read = inputs.iter().map(InputFile::members);
    let (members, skipped): (Vec<_>, Vec<_>) =
        read.collect::<Result<Vec<_>>>()?.into_iter().unzip();
    Ok((members.into_iter().flatten().collect(), skipped.concat()))
}

/// Applies `f` to every item on all cores; the results keep the order of `items`.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break done };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    done.sort_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = par_map(&items, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(par_map(&[] as &[u32], |x| *x).is_empty());
    }

    #[test]
    fn sniff_tells_formats_apart() {
        assert_eq!(sniff(b"\0asm\x01\0\0\0"), Format::Wasm);
        assert_eq!(sniff(b"BC\xc0\xde...."), Format::Bitcode);
        assert_eq!(sniff(b"\x7fELF\x02"), Format::Native("an ELF object"));
        assert_eq!(sniff(b"hello"), Format::Unknown);
        assert_eq!(sniff(b""), Format::Unknown);
    }

    #[test]
    fn a_text_file_is_not_an_input() {
        let dir = crate::util::test_dir("symtab-inputs-text");
        let p = dir.join("notes.txt");
        fs::write(&p, "hello").unwrap();
        let err = format!("{:#}", read_inputs(std::slice::from_ref(&p)).err().unwrap());
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(
            err.contains("neither an ar archive nor a wasm object"),
            "{err}"
        );
        let missing = dir.join("missing.a");
        let err = format!(
            "{:#}",
            read_inputs(std::slice::from_ref(&missing)).err().unwrap()
        );
        assert!(err.contains(&missing.display().to_string()), "{err}");
    }
}
