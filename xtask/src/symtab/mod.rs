//! `cargo xtask symtab`: the C++ symbol table that replaces `dlsym` for Lean's IR interpreter.
//!
//! In a static wasm module there is no `dlsym`, so the interpreter (patched to call
//! `wasm_lookup_symbol`) finds native code through a table generated at build time from the
//! static archives that go into the link. The rules (docs/symtab.md explains why):
//! - keep defined, non-local symbols (hidden ones too: the link is static) whose names start with
//!   `initialize_`, `lean_`, `l_`, `lp_` (or an extra prefix) or end with `___boxed`;
//! - function or data comes from the wasm symbol kind; weak definitions are kept, a strong
//!   definition wins over a weak one; a name that is a function in one place and data in
//!   another is an error naming both places;
//! - the table is sorted by bytes (what `strcmp` sees) and the file is rewritten only when its
//!   content changes, so an unchanged table never forces a relink.
//!
//! Archives are read with the `object` crate, each member's `linking` section with `wasmparser`
//! (see `wasm.rs` for why), members in parallel.

use std::{
    collections::{hash_map::Entry, HashMap},
    fmt,
    hash::{BuildHasherDefault, Hash, Hasher},
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

use crate::util;

pub mod bench;
mod emit;
pub mod inputs;
mod sort;
#[cfg(test)]
pub(crate) mod tests;
pub(crate) mod wasm;

pub use inputs::{InputFile, Member, Place, Skipped};

/// The prefixes of the symbols Lean's interpreter looks up: module initializers, runtime
/// functions, compiled declarations (`l_`) and package-qualified ones (`lp_`).
pub const LEAN_PREFIXES: [&str; 4] = ["initialize_", "lean_", "l_", "lp_"];
/// Boxed variants of compiled functions (`l_foo___boxed`) take and return only objects.
pub const LEAN_SUFFIX: &str = "___boxed";

#[derive(clap::Args)]
pub struct Args {
    /// The C++ file to write; it is rewritten only when its content changes
    #[arg(long, value_name = "FILE.cpp")]
    out: PathBuf,
    /// Also keep symbols whose names start with PREFIX (plug-in libraries); repeatable
    #[arg(long = "prefix", value_name = "PREFIX")]
    prefixes: Vec<String>,
    /// Keep every defined global symbol, whatever its name (for inspection and benchmarks)
    #[arg(long, conflicts_with = "prefixes")]
    all: bool,
    /// The wasm archives (.a) and objects (.o) that go into the link
    #[arg(required = true, value_name = "ARCHIVE_OR_OBJECT")]
    inputs: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let filter = if args.all {
        NameFilter::All
    } else {
        NameFilter::lean(&args.prefixes)?
    };
    let out = crate::paths::absolute(&args.out);
    let summary = generate_with(&args.inputs, &filter, &out)?;
    for s in &summary.skipped {
        crate::runner::warn(&format!("skipped {} ({})", s.place, s.what));
    }
    println!("{summary}");
    Ok(())
}

/// Which names go into the table.
#[derive(Debug, Clone)]
pub enum NameFilter {
    /// Lean's prefixes and suffix, plus extra prefixes.
    Lean { extra_prefixes: Vec<String> },
    /// Every defined global symbol.
    All,
}

impl NameFilter {
    pub fn lean(extra_prefixes: &[String]) -> Result<NameFilter> {
        if let Some(bad) = extra_prefixes
            .iter()
            .find(|p| p.is_empty() || p.bytes().any(|b| b == 0))
        {
            bail!(
                "--prefix {bad:?} is not a usable prefix\n  fix: give a non-empty prefix, or \
                 --all to keep every symbol"
            );
        }
        Ok(NameFilter::Lean {
            extra_prefixes: extra_prefixes.to_vec(),
        })
    }

    pub fn keeps(&self, name: &[u8]) -> bool {
        match self {
            NameFilter::All => true,
            NameFilter::Lean { extra_prefixes } => {
                LEAN_PREFIXES.iter().any(|p| name.starts_with(p.as_bytes()))
                    || name.ends_with(LEAN_SUFFIX.as_bytes())
                    || extra_prefixes
                        .iter()
                        .any(|p| name.starts_with(p.as_bytes()))
            }
        }
    }
}

/// What the table must declare a symbol as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SymbolKind {
    Function,
    Data,
    /// Thread-local data: it has no link-time address, so it cannot be in a static table.
    ThreadLocal,
}

impl fmt::Display for SymbolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SymbolKind::Function => "a function",
            SymbolKind::Data => "data",
            SymbolKind::ThreadLocal => "thread-local data",
        })
    }
}

/// One definition of a symbol in one member.
#[derive(Debug, Clone, Copy)]
struct Found<'a> {
    name: Name<'a>,
    kind: SymbolKind,
    weak: bool,
}

/// A symbol name with its FNV-1a hash and whether it can go into a C string literal as it is,
/// both computed once, in the parallel readers. The hash serves the merge's hash map and the
/// generated table's index.
#[derive(Debug, Clone, Copy)]
pub struct Name<'a> {
    pub bytes: &'a [u8],
    pub hash: u32,
    pub plain: bool,
}

impl<'a> Name<'a> {
    pub fn new(bytes: &'a [u8]) -> Name<'a> {
        let (hash, plain) = emit::scan(bytes);
        Name { bytes, hash, plain }
    }
}

impl PartialEq for Name<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.bytes == other.bytes
    }
}
impl Eq for Name<'_> {}
impl Hash for Name<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.hash);
    }
}

/// Passes the precomputed hash through, spread over 64 bits (the map uses the top bits too).
#[derive(Default)]
struct PrehashedHasher(u64);
impl Hasher for PrehashedHasher {
    fn write(&mut self, _: &[u8]) {
        unreachable!("only names (write_u32) are hashed")
    }
    fn write_u32(&mut self, h: u32) {
        self.0 = (h as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A symbol of the table after merging every definition of its name.
#[derive(Clone, Copy)]
pub struct Definition<'a> {
    pub name: &'a [u8],
    /// FNV-1a of the name (`emit::scan`).
    pub hash: u32,
    /// No byte of the name needs escaping in a C string literal.
    pub plain: bool,
    pub kind: SymbolKind,
    /// Every definition is weak.
    pub weak: bool,
    /// The definition the linker will take: the first strong one, else the first weak one.
    pub place: Place<'a>,
}

/// The merged symbols of all inputs, sorted by bytes.
pub struct Table<'a> {
    pub symbols: Vec<Definition<'a>>,
    /// Defined global symbols that pass the filter but that C cannot take the address of (wasm
    /// tags such as `__cpp_exception`), sorted and without duplicates. Not in the table.
    pub not_addressable: Vec<&'a [u8]>,
    pub members: usize,
    pub skipped: Vec<Skipped>,
}

/// What `generate` did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub out: PathBuf,
    pub inputs: usize,
    pub members: usize,
    /// Entries in the table.
    pub symbols: usize,
    pub functions: usize,
    pub data: usize,
    /// Entries whose only definitions are weak.
    pub weak: usize,
    /// Thread-local symbols that matched the filter but cannot be in a static table.
    pub thread_local: Vec<String>,
    /// Archive members that are not wasm objects.
    pub skipped: Vec<Skipped>,
    /// False when the file already had this content (and was left alone).
    pub written: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "symtab: {} symbols ({} functions, {} data; {} only weakly defined) from {} inputs \
             ({} wasm objects) -> {} ({})",
            self.symbols,
            self.functions,
            self.data,
            self.weak,
            self.inputs,
            self.members,
            self.out.display(),
            if self.written { "written" } else { "unchanged" }
        )?;
        if !self.thread_local.is_empty() {
            write!(
                f,
                "\n  left out {} thread-local symbols (no static address): {}",
                self.thread_local.len(),
                self.thread_local.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The build's entry point: the table of Lean's symbols (plus `extra_prefixes`) of `inputs`,
/// written to `out` when it changed.
pub fn generate(inputs: &[PathBuf], extra_prefixes: &[String], out: &Path) -> Result<Summary> {
    generate_with(inputs, &NameFilter::lean(extra_prefixes)?, out)
}

pub fn generate_with(inputs: &[PathBuf], filter: &NameFilter, out: &Path) -> Result<Summary> {
    let files = inputs::read_inputs(inputs)?;
    let table = collect(&files, filter)?;
    let source_names: Vec<String> = files
        .iter()
        .map(|f| {
            f.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let text = emit::cpp(&table.symbols, &source_names);
    let written = util::write_if_changed(out, &text)
        .with_context(|| format!("cannot write the symbol table {}", out.display()))?;
    let count = |k| table.symbols.iter().filter(|s| s.kind == k).count();
    let thread_local: Vec<String> = table
        .symbols
        .iter()
        .filter(|s| s.kind == SymbolKind::ThreadLocal)
        .map(|s| String::from_utf8_lossy(s.name).into_owned())
        .collect();
    Ok(Summary {
        out: out.to_path_buf(),
        inputs: files.len(),
        members: table.members,
        symbols: table.symbols.len() - thread_local.len(),
        functions: count(SymbolKind::Function),
        data: count(SymbolKind::Data),
        weak: table
            .symbols
            .iter()
            .filter(|s| s.weak && s.kind != SymbolKind::ThreadLocal)
            .count(),
        thread_local,
        skipped: table.skipped,
        written,
    })
}

/// Reads every member of `files` (in parallel) and merges their definitions.
pub fn collect<'a>(files: &'a [InputFile], filter: &NameFilter) -> Result<Table<'a>> {
    let (members, skipped) = inputs::all_members(files)?;
    let found = inputs::par_map(&members, |m| member_symbols(m, filter));
    // Sized for every definition at once: rehashing a large map is costly.
    let definitions = found
        .iter()
        .map(|r| r.as_ref().map_or(0, |(f, _)| f.len()))
        .sum();
    // The map holds an index into `symbols`: small buckets keep a map sized for every definition
    // cheap to fill.
    let mut merged: HashMap<Name<'a>, u32, BuildHasherDefault<PrehashedHasher>> =
        HashMap::with_capacity_and_hasher(definitions, Default::default());
    let mut symbols: Vec<Definition<'a>> = Vec::new();
    let mut clashes: Vec<String> = Vec::new();
    let mut not_addressable = Vec::new();
    for (member, found) in members.iter().zip(found) {
        let (found, other) = found?;
        not_addressable.extend(other);
        for f in found {
            match merged.entry(f.name) {
                Entry::Vacant(v) => {
                    v.insert(symbols.len() as u32);
                    symbols.push(Definition {
                        name: f.name.bytes,
                        hash: f.name.hash,
                        plain: f.name.plain,
                        kind: f.kind,
                        weak: f.weak,
                        place: member.place,
                    });
                }
                Entry::Occupied(o) => {
                    let d = &mut symbols[*o.get() as usize];
                    if d.kind != f.kind {
                        clashes.push(format!(
                            "{}: {} in {}, {} in {}",
                            String::from_utf8_lossy(f.name.bytes),
                            d.kind,
                            d.place,
                            f.kind,
                            member.place
                        ));
                    } else if d.weak && !f.weak {
                        d.weak = false;
                        d.place = member.place;
                    }
                }
            }
        }
    }
    drop(merged);
    if !clashes.is_empty() {
        const SHOWN: usize = 20;
        let more = clashes.len().saturating_sub(SHOWN);
        clashes.truncate(SHOWN);
        bail!(
            "{} symbol(s) defined as different kinds in different objects (wasm-ld rejects this \
             as a symbol type mismatch):\n  {}{}\n  fix: make the declarations agree (a function \
             must not also be defined as a variable)",
            clashes.len() + more,
            clashes.join("\n  "),
            if more > 0 {
                format!("\n  ... and {more} more")
            } else {
                String::new()
            }
        );
    }
    // Byte order is exactly the order `strcmp` sees (it compares unsigned chars), whatever the
    // locale.
    sort::sort_by_bytes(&mut symbols, |d| d.name);
    not_addressable.sort_unstable();
    not_addressable.dedup();
    Ok(Table {
        symbols,
        not_addressable,
        members: members.len(),
        skipped,
    })
}

/// The defined, non-local symbols of one wasm object that pass `filter`, and those among them
/// that are neither functions nor data.
type MemberSymbols<'a> = (Vec<Found<'a>>, Vec<&'a [u8]>);

fn member_symbols<'a>(member: &Member<'a>, filter: &NameFilter) -> Result<MemberSymbols<'a>> {
    let mut found = Vec::new();
    let mut other = Vec::new();
    wasm::defined_symbols(member.data, |name, kind, weak| {
        let name = name.as_bytes();
        if name.is_empty() || !filter.keeps(name) || emit::is_own_symbol(name) {
            return Ok(());
        }
        let kind = match kind {
            wasm::Kind::Function => SymbolKind::Function,
            wasm::Kind::Data => SymbolKind::Data,
            wasm::Kind::ThreadLocal => SymbolKind::ThreadLocal,
            wasm::Kind::NotAddressable => {
                other.push(name);
                return Ok(());
            }
        };
        if name.contains(&0) {
            bail!(
                "symbol {:?} contains a NUL byte; it could never be looked up by a C string",
                String::from_utf8_lossy(name)
            );
        }
        found.push(Found {
            name: Name::new(name),
            kind,
            weak,
        });
        Ok(())
    })
    .map_err(|e| {
        anyhow::anyhow!(
            "{}: not a readable wasm object: {e:#}\n  fix: rebuild it (the file may be truncated \
             or damaged), and pass the static archives (.a) or objects (.o) of the link",
            member.place
        )
    })?;
    Ok((found, other))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn the_lean_filter() {
        let f = NameFilter::lean(&["xeus_".to_string()]).unwrap();
        for keep in [
            "initialize_Init",
            "lean_mk_string",
            "l_Lean_Elab_foo",
            "lp_pkg_x",
            "foo___boxed",
            "xeus_thing",
        ] {
            assert!(f.keeps(keep.as_bytes()), "{keep}");
        }
        for drop in [
            "_ZN4lean4nameC1Ev",
            "memcpy",
            "lean",
            "l",
            "foo__boxed",
            "Initialize_x",
            "xeus",
        ] {
            assert!(!f.keeps(drop.as_bytes()), "{drop}");
        }
        assert!(NameFilter::All.keeps(b"memcpy"));
        assert!(NameFilter::lean(&[String::new()]).is_err());
    }
}
