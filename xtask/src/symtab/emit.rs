//! The generated C++: declarations, the sorted table, a hash index and the lookup functions.
//!
//! - The symbols are one list in an X-macro (`XLEAN_SYMTAB_LIST`), one line each, expanded into
//!   the declarations, the name array and the entries: every name is written once, which halves
//!   the file (8 MB instead of 17 MB at 81k symbols, same compile time).
//! - Every symbol is declared under a placeholder C++ name (`xlean_f12`, `xlean_d7`) with an asm
//!   label carrying its real link name. Link names need not be C++ identifiers (`.`, `$`, ...),
//!   and a label also keeps a library name (`memcpy`, `main`) from clashing with the compiler's
//!   own idea of it.
//! - Functions are declared `void(void)` and data as `char[]`: only addresses are taken. wasm-ld
//!   checks function signatures only for direct calls, and a data symbol has no type, but the
//!   two kinds must not be mixed up (that is a "symbol type mismatch").
//! - The file includes no header and calls no library function, so no name in the table can
//!   collide with a declaration of its own.
//! - `wasm_lookup_symbol` hashes the name (FNV-1a, 32 bits, computed here and in C++ the same
//!   way) into an open-addressing index of load at most 1/2, then compares one string; a miss
//!   usually ends at the first empty slot without any string comparison. The sorted table also
//!   allows a binary search (`xlean_symtab_lookup_sorted`), which the tests and the benchmark
//!   use as the reference. No output on a miss unless built with `-DXLEAN_SYMTAB_TRACE_MISSES`.

use std::fmt::Write as _;

use super::{Definition, SymbolKind};

/// Symbols the generated file defines itself; they are never table entries.
const OWN_SYMBOLS: [&str; 5] = [
    "wasm_lookup_symbol",
    "xlean_symtab_lookup_sorted",
    "xlean_symtab_size",
    "xlean_symtab_name",
    "xlean_symtab_address",
];

pub fn is_own_symbol(name: &[u8]) -> bool {
    OWN_SYMBOLS.iter().any(|s| s.as_bytes() == name)
}

/// `(FNV-1a of name (32 bits), name needs no escaping)` in one pass over the bytes. The C++
/// lookup computes the same hash.
pub fn scan(name: &[u8]) -> (u32, bool) {
    let mut h: u32 = 0x811c_9dc5;
    let mut plain = true;
    for &b in name {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
        plain &= PLAIN[b as usize];
    }
    (h, plain)
}

/// The number of index slots for `n` entries: a power of two, at least `2n` (load <= 1/2), so
/// that a probe sequence always reaches an empty slot.
pub fn slot_count(n: usize) -> usize {
    (2 * n).next_power_of_two().max(2)
}

/// The open-addressing index over the entries' hashes: slot -> entry index + 1 (0 = empty).
/// Linear probing; entries are inserted in table order, so the index is deterministic.
pub fn build_index(hashes: &[u32]) -> Vec<u32> {
    let slots = slot_count(hashes.len());
    let mask = slots - 1;
    let mut index = vec![0u32; slots];
    for (i, &hash) in hashes.iter().enumerate() {
        let mut s = hash as usize & mask;
        while index[s] != 0 {
            s = (s + 1) & mask;
        }
        index[s] = i as u32 + 1;
    }
    index
}

/// Bytes that go into a C string literal as they are. Everything else (controls, quotes,
/// backslashes, `?` of trigraphs, non-ASCII) is written as a three-digit octal escape, which can
/// never swallow a following character.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = !matches!(b as u8, b'"' | b'\\' | b'?');
        b += 1;
    }
    t
};

/// A C string literal (without the quotes) whose bytes are exactly `name`; `plain` is what
/// [`scan`] said about it.
fn c_string(out: &mut Vec<u8>, name: &[u8], plain: bool) {
    // Names are nearly always plain identifiers: one copy.
    if plain {
        out.extend_from_slice(name);
        return;
    }
    for &b in name {
        if PLAIN[b as usize] {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'0' + (b >> 6),
                b'0' + ((b >> 3) & 7),
                b'0' + (b & 7),
            ]);
        }
    }
}

/// Decimal, without going through `fmt` (this runs hundreds of thousands of times).
fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_hex32(out: &mut Vec<u8>, v: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 8];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
    out.extend_from_slice(&digits);
}

/// The whole C++ file for `symbols` (sorted, merged). Thread-local symbols are left out (they
/// have no link-time address); `sources` (input file names) only go into the header comment.
pub fn cpp(symbols: &[Definition<'_>], sources: &[String]) -> Vec<u8> {
    let entries: Vec<&Definition<'_>> = symbols
        .iter()
        .filter(|s| s.kind != SymbolKind::ThreadLocal)
        .collect();
    let hashes: Vec<u32> = entries.iter().map(|s| s.hash).collect();
    let index = build_index(&hashes);
    let name_bytes: usize = entries.iter().map(|s| s.name.len()).sum();
    assert!(
        (name_bytes + entries.len()) < u32::MAX as usize,
        "symbol names exceed 4 GiB: the table format needs wider offsets"
    );

    // Sized up front, generously (capacity that is never written costs nothing): growing a
    // buffer of many MB would copy it.
    let mut out: Vec<u8> =
        Vec::with_capacity(8192 + name_bytes * 5 / 4 + entries.len() * 48 + index.len() * 8);
    out.extend_from_slice(header(symbols, &entries, sources).as_bytes());
    push_list(&mut out, &entries);
    out.extend_from_slice(
        b"\n\
          // Placeholder C++ names; the asm label is the real link name.\n\
          #define XLEAN_DECLARE_F(i, hash, offset, name) void xlean_f##i(void) __asm__(name);\n\
          #define XLEAN_DECLARE_D(i, hash, offset, name) extern char xlean_d##i[] __asm__(name);\n\
          extern \"C\" {\n\
          XLEAN_SYMTAB_LIST(XLEAN_DECLARE_F, XLEAN_DECLARE_D)\n\
          }\n\n\
          // All names in one array: an entry holds a 32-bit offset instead of a pointer.\n\
          #define XLEAN_NAME(i, hash, offset, name) name \"\\0\"\n\
          static const char xlean_symtab_names[] = XLEAN_SYMTAB_LIST(XLEAN_NAME, XLEAN_NAME) \"\";\n\n\
          namespace {\n\
          struct xlean_symtab_entry {\n\
          \x20   xlean_u32 hash;  // fnv1a(name)\n\
          \x20   xlean_u32 name;  // offset in xlean_symtab_names\n\
          \x20   void* address;\n\
          };\n\
          }  // namespace\n\n\
          #define XLEAN_ENTRY_F(i, hash, offset, name) {hash, offset, (void*)&xlean_f##i},\n\
          #define XLEAN_ENTRY_D(i, hash, offset, name) {hash, offset, (void*)xlean_d##i},\n\
          static const xlean_symtab_entry xlean_symtab_entries[",
    );
    push_decimal(&mut out, entries.len().max(1) as u64);
    out.extend_from_slice(b"] = {XLEAN_SYMTAB_LIST(XLEAN_ENTRY_F, XLEAN_ENTRY_D)");
    if entries.is_empty() {
        out.extend_from_slice(b" {0u, 0u, 0}  /* placeholder: the table is empty */");
    }
    out.extend_from_slice(
        b"};\n\n// Open addressing, linear probing: entry index + 1, or 0 for an empty slot.\n\
          static const xlean_u32 xlean_symtab_slots[",
    );
    push_slots(&mut out, &index);
    out.extend_from_slice(b"};\n\nstatic const xlean_size xlean_symtab_count = ");
    push_decimal(&mut out, entries.len() as u64);
    out.extend_from_slice(b";\nstatic const xlean_u32 xlean_symtab_mask = ");
    push_decimal(&mut out, index.len() as u64 - 1);
    out.extend_from_slice(b"u;\n");
    out.extend_from_slice(LOOKUP_CODE.as_bytes());
    out
}

/// The comment naming what the file holds, and the start of the list macro.
fn header(symbols: &[Definition<'_>], entries: &[&Definition<'_>], sources: &[String]) -> String {
    let functions = entries
        .iter()
        .filter(|s| s.kind == SymbolKind::Function)
        .count();
    let mut head = String::new();
    head.push_str(
        "// Generated by `cargo xtask symtab`; do not edit. The dlsym replacement for Lean's IR\n\
         // interpreter in a static wasm module: see docs/symtab.md.\n",
    );
    let _ = writeln!(
        head,
        "// {} symbols ({} functions, {} data) from: {}",
        entries.len(),
        functions,
        entries.len() - functions,
        sources.join(", ")
    );
    let left_out: Vec<String> = symbols
        .iter()
        .filter(|s| s.kind == SymbolKind::ThreadLocal)
        .map(|s| String::from_utf8_lossy(s.name).replace(['\n', '\r'], " "))
        .collect();
    if !left_out.is_empty() {
        let _ = writeln!(
            head,
            "// Left out (thread-local, no static address): {}",
            left_out.join(", ")
        );
    }
    head.push_str(
        "\n#ifdef XLEAN_SYMTAB_TRACE_MISSES\n#include <stdio.h>\n#endif\n\n\
         typedef __UINT32_TYPE__ xlean_u32;\n\
         typedef __SIZE_TYPE__ xlean_size;\n\n\
         // One line per symbol, sorted by bytes (strcmp order), each name written once:\n\
         //   F(index, fnv1a(name), offset of the name in xlean_symtab_names, \"name\")  a function\n\
         //   D(...)                                                            data\n\
         // The list is expanded three times below: declarations, names, entries.\n\
         #define XLEAN_SYMTAB_LIST(F, D) \\\n",
    );
    head
}

/// The list macro's body: one `F(...)`/`D(...)` line per entry.
fn push_list(out: &mut Vec<u8>, entries: &[&Definition<'_>]) {
    let mut offset: u64 = 0;
    for (i, s) in entries.iter().enumerate() {
        out.extend_from_slice(match s.kind {
            SymbolKind::Function => b"F(",
            _ => b"D(",
        });
        push_decimal(out, i as u64);
        out.extend_from_slice(b",0x");
        push_hex32(out, s.hash);
        out.extend_from_slice(b"u,");
        push_decimal(out, offset);
        out.extend_from_slice(b"u,\"");
        c_string(out, s.name, s.plain);
        out.extend_from_slice(b"\") \\\n");
        offset += s.name.len() as u64 + 1;
    }
}

/// The slot array's size and values, 32 a line.
fn push_slots(out: &mut Vec<u8>, index: &[u32]) {
    push_decimal(out, index.len() as u64);
    out.extend_from_slice(b"] = {\n");
    for chunk in index.chunks(32) {
        for &v in chunk {
            if v == 0 {
                out.extend_from_slice(b"0,");
            } else {
                push_decimal(out, v as u64);
                out.push(b',');
            }
        }
        out.push(b'\n');
    }
}

const LOOKUP_CODE: &str = r#"
// strcmp, written out so that this file needs no library function.
static int xlean_symtab_compare(const char* a, const char* b) {
    while (*a != 0 && *a == *b) {
        ++a;
        ++b;
    }
    return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

static void* xlean_symtab_miss(const char* name) {
#ifdef XLEAN_SYMTAB_TRACE_MISSES
    fprintf(stderr, "wasm_lookup_symbol: no symbol %s\n", name ? name : "(null)");
#else
    (void)name;
#endif
    return 0;
}

// The dlsym replacement: the address of the function or data called `name`, or null.
extern "C" void* wasm_lookup_symbol(const char* name) {
    if (name == 0) return xlean_symtab_miss(name);
    xlean_u32 hash = 2166136261u;
    for (const unsigned char* p = (const unsigned char*)name; *p != 0; ++p) {
        hash ^= *p;
        hash *= 16777619u;
    }
    for (xlean_u32 slot = hash & xlean_symtab_mask;; slot = (slot + 1) & xlean_symtab_mask) {
        xlean_u32 index = xlean_symtab_slots[slot];
        if (index == 0) return xlean_symtab_miss(name);
        const xlean_symtab_entry* entry = &xlean_symtab_entries[index - 1];
        if (entry->hash == hash &&
            xlean_symtab_compare(xlean_symtab_names + entry->name, name) == 0) {
            return entry->address;
        }
    }
}

// The same lookup by binary search in the sorted table (the reference for tests and benchmarks).
extern "C" void* xlean_symtab_lookup_sorted(const char* name) {
    if (name == 0) return 0;
    xlean_size lo = 0, hi = xlean_symtab_count;
    while (lo < hi) {
        xlean_size mid = lo + (hi - lo) / 2;
        int c = xlean_symtab_compare(xlean_symtab_names + xlean_symtab_entries[mid].name, name);
        if (c == 0) return xlean_symtab_entries[mid].address;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return 0;
}

extern "C" xlean_size xlean_symtab_size(void) { return xlean_symtab_count; }

extern "C" const char* xlean_symtab_name(xlean_size i) {
    return i < xlean_symtab_count ? xlean_symtab_names + xlean_symtab_entries[i].name : 0;
}

extern "C" void* xlean_symtab_address(xlean_size i) {
    return i < xlean_symtab_count ? xlean_symtab_entries[i].address : 0;
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symtab::Place;
    use std::path::Path;

    fn fnv1a(bytes: &[u8]) -> u32 {
        scan(bytes).0
    }

    #[test]
    fn fnv1a_known_values() {
        // Published FNV-1a 32-bit test vectors, against the hash the table uses.
        assert_eq!(fnv1a(b""), 0x811c9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9cf968);
    }

    #[test]
    fn the_index_finds_every_name_and_leaves_empty_slots() {
        let names: Vec<Vec<u8>> = (0..1000).map(|i| format!("l_x{i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
        let hashes: Vec<u32> = refs.iter().map(|n| fnv1a(n)).collect();
        let index = build_index(&hashes);
        assert_eq!(index.len(), 2048);
        assert!(index.iter().filter(|&&v| v == 0).count() >= 1024);
        let mask = index.len() - 1;
        for (i, n) in refs.iter().enumerate() {
            let mut s = fnv1a(n) as usize & mask;
            loop {
                assert_ne!(index[s], 0, "{:?} not found", String::from_utf8_lossy(n));
                if index[s] as usize == i + 1 {
                    break;
                }
                s = (s + 1) & mask;
            }
        }
        assert_eq!(build_index(&[]), vec![0, 0]);
    }

    #[test]
    fn names_are_escaped_exactly() {
        let mut s = Vec::new();
        let weird = b"a.b$c \"q\"\\?\n\xc3\xa9";
        assert!(!scan(weird).1);
        c_string(&mut s, weird, false);
        assert_eq!(s, b"a.b$c \\042q\\042\\134\\077\\012\\303\\251");
        let mut plain = Vec::new();
        assert!(scan(b"l_Lean_Elab_foo___boxed").1);
        c_string(&mut plain, b"l_Lean_Elab_foo___boxed", true);
        assert_eq!(plain, b"l_Lean_Elab_foo___boxed");
    }

    #[test]
    fn the_output_is_deterministic_and_declares_by_kind() {
        let p = Place {
            file: Path::new("/x/lib.a"),
            member: Some(b"m.o"),
        };
        let d = |name: &'static str, kind| Definition {
            name: name.as_bytes(),
            hash: fnv1a(name.as_bytes()),
            plain: true,
            kind,
            weak: false,
            place: p,
        };
        let symbols = [
            d("l_data", SymbolKind::Data),
            d("l_fun", SymbolKind::Function),
            d("l_tls", SymbolKind::ThreadLocal),
        ];
        let a = String::from_utf8(cpp(&symbols, &["lib.a".into()])).unwrap();
        assert_eq!(a.as_bytes(), cpp(&symbols, &["lib.a".into()]));
        let data_line = format!("D(0,0x{:08x}u,0u,\"l_data\") \\\n", fnv1a(b"l_data"));
        let fun_line = format!("F(1,0x{:08x}u,7u,\"l_fun\") \\\n\n", fnv1a(b"l_fun"));
        assert!(a.contains(&data_line), "{a}");
        assert!(a.contains(&fun_line), "{a}");
        assert!(!a.contains("\"l_tls\")"), "{a}");
        assert!(a.contains("Left out (thread-local, no static address): l_tls"));
        assert!(a.contains("xlean_symtab_count = 2;"));
        let empty = String::from_utf8(cpp(&[], &[])).unwrap();
        assert!(empty.contains("xlean_symtab_entries[1]"), "{empty}");
    }
}
