//! What the ABI check needs from one relocatable wasm object, read with `wasmparser`: the type of
//! every function symbol that crosses the object's boundary.
//!
//! Per the tool conventions (Linking.md), and as wasm-ld reads them:
//! - the `linking` section's symbol table names the symbols; a function symbol's `index` is in
//!   the function index space (imports first, then the function section);
//! - a defined function's name is in the symbol table; an undefined one's name is the import's
//!   field name, unless the symbol has `WASM_SYM_EXPLICIT_NAME` (set when `import_name` or
//!   `import_module` gave the import another name), in which case the symbol table has it;
//! - a function is *called directly* when some relocation of type `R_WASM_FUNCTION_INDEX_LEB`
//!   (the immediate of `call`/`return_call`) targets its symbol. wasm-ld checks signatures only
//!   for those; a function whose address is merely taken (`R_WASM_TABLE_INDEX_*`, e.g. the symbol
//!   table's `void(void)` declarations) is never checked, by it or by us.
//!
//! The code section is skipped without being read: only the other sections matter.

use std::fmt;

use anyhow::{bail, Result};

use crate::symtab::wasm::{walk_sections, Walk};
use wasmparser::{
    CompositeInnerType, KnownCustom, Linking, Payload, RelocationType, SymbolFlags, SymbolInfo,
    TypeRef, ValType,
};

/// A function type: parameters and results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl fmt::Display for Signature {
    /// `(i64, i64) -> i32`, `() -> ()`, `(f64) -> (i32, i32)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[ValType]| {
            v.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ", list(&self.params))?;
        if self.results.len() == 1 {
            write!(f, "{}", self.results[0])
        } else {
            write!(f, "({})", list(&self.results))
        }
    }
}

/// A function symbol that crosses the object's boundary.
#[derive(Debug, Clone)]
pub struct FunctionSymbol<'a> {
    pub name: &'a str,
    pub signature: Signature,
    pub defined: bool,
    pub weak: bool,
}

/// What the object's sections say about its functions, as read.
#[derive(Default)]
struct Sections<'a> {
    types: Vec<Option<Signature>>,
    /// (type index, field name) of each imported function, in function index order.
    imported: Vec<(u32, &'a str)>,
    defined_types: Vec<u32>,
    symbols: Vec<SymbolInfo<'a>>,
    /// The symbols a `R_WASM_FUNCTION_INDEX_LEB` relocation targets.
    called: Vec<u32>,
}

/// Reads the sections `function_symbols` needs; an error for an object without a `linking`
/// section.
fn read_sections(data: &[u8]) -> Result<Sections<'_>> {
    let mut s = Sections::default();
    let mut has_linking = false;
    walk_sections(data, |payload| {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group?.into_types() {
                        s.types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(Signature {
                                params: f.params().to_vec(),
                                results: f.results().to_vec(),
                            }),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import?;
                    if let TypeRef::Func(ty) = import.ty {
                        s.imported.push((ty, import.name));
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    s.defined_types.push(ty?);
                }
            }
            Payload::CustomSection(section) => match section.as_known() {
                KnownCustom::Linking(reader) => {
                    has_linking = true;
                    for sub in reader {
                        if let Linking::SymbolTable(map) = sub? {
                            for symbol in map {
                                s.symbols.push(symbol?);
                            }
                        }
                    }
                }
                KnownCustom::Reloc(reader) => {
                    for entry in reader.entries() {
                        let entry = entry?;
                        if entry.ty == RelocationType::FunctionIndexLeb {
                            s.called.push(entry.index);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        Ok(Walk::Next)
    })?;
    if !has_linking {
        bail!("no `linking` section: a linked program, not a relocatable object file");
    }
    Ok(s)
}

/// The defined (non-local) functions of one object, and the undefined functions it calls
/// directly.
pub fn function_symbols(data: &[u8]) -> Result<Vec<FunctionSymbol<'_>>> {
    let Sections {
        types,
        imported,
        defined_types,
        symbols,
        called,
    } = read_sections(data)?;
    let mut is_called = vec![false; symbols.len()];
    for i in called {
        match is_called.get_mut(i as usize) {
            Some(c) => *c = true,
            None => bail!(
                "a relocation names symbol {i}, but there are {}",
                symbols.len()
            ),
        }
    }
    let signature = |type_index: u32| -> Result<Signature> {
        match types.get(type_index as usize) {
            Some(Some(s)) => Ok(s.clone()),
            _ => bail!("function type {type_index} is missing or not a function type"),
        }
    };

    let mut out = Vec::new();
    for (i, symbol) in symbols.iter().enumerate() {
        let SymbolInfo::Func { flags, index, name } = *symbol else {
            continue;
        };
        if flags.contains(SymbolFlags::BINDING_LOCAL) {
            continue;
        }
        let defined = !flags.contains(SymbolFlags::UNDEFINED);
        let (name, type_index) = if let Some(local) = index.checked_sub(imported.len() as u32) {
            let Some(&ty) = defined_types.get(local as usize) else {
                bail!("function symbol {i} names function {index}, which does not exist");
            };
            let Some(name) = name else {
                bail!("defined function symbol {i} has no name");
            };
            (name, ty)
        } else {
            let (ty, field) = imported[index as usize];
            // An import is named by its field unless the symbol carries an explicit name.
            let name = if flags.contains(SymbolFlags::EXPLICIT_NAME) {
                name.unwrap_or(field)
            } else {
                field
            };
            (name, ty)
        };
        if !defined && !is_called[i] {
            continue;
        }
        out.push(FunctionSymbol {
            name,
            signature: signature(type_index)?,
            defined,
            weak: flags.contains(SymbolFlags::BINDING_WEAK),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_print_like_wat() {
        let s = Signature {
            params: vec![ValType::I64, ValType::I64],
            results: vec![ValType::I32],
        };
        assert_eq!(s.to_string(), "(i64, i64) -> i32");
        let unit = Signature {
            params: vec![],
            results: vec![],
        };
        assert_eq!(unit.to_string(), "() -> ()");
        let two = Signature {
            params: vec![ValType::F64],
            results: vec![ValType::I32, ValType::I64],
        };
        assert_eq!(two.to_string(), "(f64) -> (i32, i64)");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(function_symbols(b"\0asm\x01\0\0\0\x01\xff").is_err());
        assert!(
            function_symbols(b"\0asm\x01\0\0\0").is_err(),
            "no linking section"
        );
        assert!(function_symbols(b"\0asm").is_err());
    }
}
