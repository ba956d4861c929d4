//! The defined symbols of one relocatable wasm object, from its `linking` section.
//!
//! Read with `wasmparser` (the parser the `object` crate uses for wasm) rather than through
//! `object::read::wasm`, for two reasons measured on real objects:
//! - `object` reports wasm globals and tables as data; a table entry declared as C data for a
//!   wasm global would be a link error, so the kind must be exact;
//! - `object` walks every function body and builds per-function tables we do not need; reading
//!   only the section headers and the `linking` section (the code and data sections are skipped
//!   without being touched) made the whole generator markedly faster (docs/symtab.md).
//!
//! A test checks, on the emscripten system libraries, that both readers see the same functions,
//! data and thread-local data.

use anyhow::{bail, Result};
use wasmparser::{
    Chunk, Encoding, Linking, LinkingSectionReader, Parser, Payload, SymbolFlags, SymbolInfo,
};

/// Whether a walk over a wasm object's sections goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    Next,
    Done,
}

/// Calls `each` for every section of a core wasm object, in order, up to and including
/// `Payload::End` or until `each` says [`Walk::Done`]. Function bodies are skipped without being
/// read (the symbol table and the ABI check need only headers, linking and relocations).
pub fn walk_sections<'a>(
    data: &'a [u8],
    mut each: impl FnMut(Payload<'a>) -> Result<Walk>,
) -> Result<()> {
    let mut parser = Parser::new(0);
    let mut rest = data;
    loop {
        let (payload, consumed) = match parser.parse(rest, true)? {
            Chunk::NeedMoreData(_) => bail!("the file ends in the middle of a section"),
            Chunk::Parsed { payload, consumed } => (payload, consumed),
        };
        rest = &rest[consumed..];
        match payload {
            Payload::Version { encoding, .. } if encoding != Encoding::Module => {
                bail!("a wasm component, not a core wasm object")
            }
            Payload::CodeSectionStart { size, .. } => {
                parser.skip_section();
                rest = rest
                    .get(size as usize..)
                    .ok_or_else(|| anyhow::anyhow!("the code section runs past the end"))?;
            }
            payload => {
                let end = matches!(payload, Payload::End(_));
                if each(payload)? == Walk::Done || end {
                    return Ok(());
                }
            }
        }
    }
}

/// What a defined symbol is, as far as the table cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Function,
    Data,
    ThreadLocal,
    /// A wasm global, table or tag (`__cpp_exception`): C cannot take its address.
    NotAddressable,
}

/// Calls `each(name, kind, weak)` for every defined, non-local symbol of `data`.
pub fn defined_symbols<'a>(
    data: &'a [u8],
    mut each: impl FnMut(&'a str, Kind, bool) -> Result<()>,
) -> Result<()> {
    walk_sections(data, |payload| {
        match payload {
            Payload::CustomSection(section) if section.name() == "linking" => {
                let reader = LinkingSectionReader::new(wasmparser::BinaryReader::new(
                    section.data(),
                    section.data_offset(),
                ))?;
                for sub in reader {
                    let Linking::SymbolTable(map) = sub? else {
                        continue;
                    };
                    for symbol in map {
                        let (flags, name, kind) = match symbol? {
                            SymbolInfo::Func { flags, name, .. } => (flags, name, Kind::Function),
                            SymbolInfo::Data { flags, name, .. }
                                if flags.contains(SymbolFlags::TLS) =>
                            {
                                (flags, Some(name), Kind::ThreadLocal)
                            }
                            SymbolInfo::Data { flags, name, .. } => (flags, Some(name), Kind::Data),
                            SymbolInfo::Global { flags, name, .. }
                            | SymbolInfo::Table { flags, name, .. }
                            | SymbolInfo::Event { flags, name, .. } => {
                                (flags, name, Kind::NotAddressable)
                            }
                            SymbolInfo::Section { .. } => continue,
                        };
                        // Undefined symbols are references; local ones (`static`) are invisible
                        // to the linker.
                        if flags.intersects(SymbolFlags::UNDEFINED | SymbolFlags::BINDING_LOCAL) {
                            continue;
                        }
                        let Some(name) = name else {
                            bail!("a defined symbol without a name in the linking section");
                        };
                        each(name, kind, flags.contains(SymbolFlags::BINDING_WEAK))?;
                    }
                }
                // Everything after it (relocations, producers) is of no interest here.
                Ok(Walk::Done)
            }
            Payload::End(_) => {
                bail!("no `linking` section: a linked program, not a relocatable object file")
            }
            _ => Ok(Walk::Next),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_modules_without_linking_are_errors() {
        let none = |d: &[u8]| {
            defined_symbols(d, |_, _, _| Ok(()))
                .unwrap_err()
                .to_string()
        };
        assert!(none(b"\0asm\x01\0\0\0").contains("no `linking` section"));
        assert!(!none(b"\0asm\x01\0\0\0\x01\xff").is_empty());
        assert!(!none(b"\0asm").is_empty());
    }
}
