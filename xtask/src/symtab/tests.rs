//! Tests with the real toolchain: archives built here with emcc/emar from our fixtures
//! (`tests/fixtures/symtab/`), the table linked into a program and run under Node.
//!
//! They print `SKIPPED: ...` when the toolchain is not installed, and fail instead where it is
//! required (`crate::gate`; `cargo xtask ci`).

use std::{
    fs,
    path::{Path, PathBuf},
};

use super::*;
use crate::{runner::Step, toolchain::Toolchain, util::test_dir};

/// The installed toolchain and the test's fresh directory, or `None` after saying why the test
/// is skipped.
pub(crate) fn toolchain_and_dir(test: &str) -> Option<(Toolchain, PathBuf)> {
    Some((crate::toolchain::for_tests()?, test_dir(test)))
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    crate::paths::project_root()
        .join("tests/fixtures/symtab")
        .join(name)
}

/// Which wasm: the product's wasm64, or wasm32.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Wasm64,
    Wasm32,
}

impl Target {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Target::Wasm64 => &["-sMEMORY64", "-Wno-experimental"],
            Target::Wasm32 => &[],
        }
    }

    fn link_flags(self) -> &'static [&'static str] {
        match self {
            Target::Wasm64 => self.flags(),
            // WASM_BIGINT: no i64 legalization, which needs wasm-emscripten-finalize (not in
            // the npm binaryen of the pinned toolchain).
            Target::Wasm32 => &["-sWASM_BIGINT"],
        }
    }
}

/// `emcc -c SOURCE -o dir/OBJECT` (emcc compiles `.cpp` as C++).
pub(crate) fn compile(
    tc: &Toolchain,
    dir: &Path,
    target: Target,
    source: &str,
    extra: &[&str],
) -> PathBuf {
    let src = fixture(source);
    let object = dir.join(
        Path::new(source)
            .file_stem()
            .map(|s| format!("{}.o", s.to_string_lossy()))
            .unwrap(),
    );
    tc.step(format!("emcc-{}", source.replace('/', "-")), tc.emcc())
        .args(["-c", "-O1"])
        .args(target.flags())
        .args(extra)
        .arg(&src)
        .arg("-o")
        .arg(&object)
        .cwd(dir)
        .log_dir(dir)
        .run()
        .unwrap();
    object
}

pub(crate) fn archive(tc: &Toolchain, dir: &Path, name: &str, members: &[&Path]) -> PathBuf {
    let path = dir.join(name);
    tc.step(format!("emar-{name}"), tc.emar())
        .arg("rcs")
        .arg(&path)
        .args(members)
        .cwd(dir)
        .log_dir(dir)
        .run()
        .unwrap();
    path
}

fn error_of<T>(r: Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

/// The names the fixture table must hold (with `--prefix plugin_`), and their kinds.
const EXPECTED: [(&str, SymbolKind, bool); 16] = [
    ("helper___boxed", SymbolKind::Function, false),
    ("initialize_Fixture", SymbolKind::Function, false),
    ("l_Fixture_foo___boxed", SymbolKind::Function, false),
    ("l_Fixture_zeroed", SymbolKind::Data, false),
    (
        "lean_fixture.odd \"q\" \u{e9}?",
        SymbolKind::Function,
        false,
    ),
    ("lean_fixture.weird$name", SymbolKind::Function, false),
    ("lean_fixture_add", SymbolKind::Function, false),
    ("lean_fixture_counter", SymbolKind::Data, false),
    ("lean_fixture_hidden", SymbolKind::Function, false),
    ("lean_fixture_message", SymbolKind::Data, false),
    ("lean_fixture_only_weak", SymbolKind::Function, true),
    ("lean_fixture_weak_data", SymbolKind::Data, true),
    ("lean_fixture_weak_fn", SymbolKind::Function, false),
    ("lean_from_cpp", SymbolKind::Function, false),
    ("lp_fixture_pkg", SymbolKind::Function, false),
    ("plugin_hello", SymbolKind::Function, false),
];

/// The fixture archive (`kinds.o`, `mangled.o` and a text file) and `strong.o`.
fn fixture_inputs(tc: &Toolchain, dir: &Path, target: Target) -> (PathBuf, PathBuf) {
    let kinds = compile(tc, dir, target, "kinds.c", &[]);
    let mangled = compile(tc, dir, target, "mangled.cpp", &[]);
    let strong = compile(tc, dir, target, "strong.c", &[]);
    let notes = dir.join("notes.txt");
    fs::write(
        &notes,
        "not an object: the linker ignores it, and so do we\n",
    )
    .unwrap();
    let lib = archive(tc, dir, "libfixture.a", &[&kinds, &mangled, &notes]);
    (lib, strong)
}

fn table_links_and_resolves_under_node(target: Target, test: &str) {
    let Some((tc, dir)) = toolchain_and_dir(test) else {
        return;
    };
    let (lib, strong) = fixture_inputs(&tc, &dir, target);
    let inputs = [lib.clone(), strong.clone()];
    let filter = NameFilter::lean(&["plugin_".to_string()]).unwrap();
    let out = dir.join("table.cpp");

    let summary = generate_with(&inputs, &filter, &out).unwrap();
    assert_eq!(summary.symbols, EXPECTED.len(), "{summary}");
    assert_eq!(summary.functions, 12, "{summary}");
    assert_eq!(summary.data, 4, "{summary}");
    assert_eq!(summary.weak, 2, "{summary}");
    assert_eq!(summary.members, 3, "{summary}");
    assert!(summary.written);
    assert!(summary.thread_local.is_empty());
    assert_eq!(summary.skipped.len(), 1, "{:?}", summary.skipped);
    assert_eq!(
        summary.skipped[0].place,
        format!("{}(notes.txt)", lib.display())
    );

    // The exact table, in byte order, with kinds and weakness; the same whatever the order of
    // the inputs (the strong definition wins either way).
    for order in [[&lib, &strong], [&strong, &lib]] {
        let files = inputs::read_inputs(&order.map(|p| p.to_path_buf())).unwrap();
        let table = collect(&files, &filter).unwrap();
        let got: Vec<(String, SymbolKind, bool)> = table
            .symbols
            .iter()
            .map(|s| (String::from_utf8_lossy(s.name).into_owned(), s.kind, s.weak))
            .collect();
        let want: Vec<(String, SymbolKind, bool)> = EXPECTED
            .iter()
            .map(|(n, k, w)| (n.to_string(), *k, *w))
            .collect();
        assert_eq!(got, want);
        let strong_place = table
            .symbols
            .iter()
            .find(|s| s.name == b"lean_fixture_weak_fn")
            .unwrap()
            .place
            .to_string();
        assert_eq!(strong_place, strong.display().to_string());
    }

    // Unchanged inputs: the file is left alone (same bytes, same mtime: no relink).
    let before = fs::metadata(&out).unwrap().modified().unwrap();
    let text = fs::read(&out).unwrap();
    let again = generate_with(&inputs, &filter, &out).unwrap();
    assert!(!again.written);
    assert_eq!(fs::read(&out).unwrap(), text);
    assert_eq!(fs::metadata(&out).unwrap().modified().unwrap(), before);
    // Without the plug-in prefix, one symbol fewer, and the file is rewritten.
    let lean_only = generate_with(&inputs, &NameFilter::lean(&[]).unwrap(), &out).unwrap();
    assert_eq!(lean_only.symbols, EXPECTED.len() - 1);
    assert!(lean_only.written);
    generate_with(&inputs, &filter, &out).unwrap();

    // Link the table into the checker and run it under Node.
    tc.step("emcc-link-check", tc.emcc())
        .args(target.link_flags())
        .arg(format!("-DEXPECTED_COUNT={}", EXPECTED.len()))
        .args(["-O1", "-Wall", "-Werror", "-Wno-experimental"])
        .arg(fixture("check.c"))
        .arg(&out)
        .arg(&lib)
        .arg(&strong)
        .args(["-o", "check.js"])
        .cwd(&dir)
        .log_dir(&dir)
        .run()
        .unwrap();
    let run = tc
        .step("node-check", &tc.node)
        .arg("check.js")
        .cwd(&dir)
        .log_dir(&dir)
        .capture()
        .unwrap();
    assert!(
        run.output
            .contains(&format!("CHECKED {} entries, 0 failures", EXPECTED.len())),
        "{}",
        run.output
    );
    assert!(!run.output.contains("FAIL"), "{}", run.output);
}

#[test]
fn wasm64_table_links_and_every_entry_resolves_under_node() {
    table_links_and_resolves_under_node(Target::Wasm64, "symtab-node-wasm64");
}

#[test]
fn wasm32_table_links_and_every_entry_resolves_under_node() {
    table_links_and_resolves_under_node(Target::Wasm32, "symtab-node-wasm32");
}

#[test]
fn a_function_and_data_clash_names_both_places() {
    let Some((tc, dir)) = toolchain_and_dir("symtab-clash") else {
        return;
    };
    let function = compile(&tc, &dir, Target::Wasm64, "clash_function.c", &[]);
    let data = compile(&tc, &dir, Target::Wasm64, "clash_data.c", &[]);
    let lib = archive(&tc, &dir, "libclash.a", &[&function]);
    let out = dir.join("table.cpp");
    let err = error_of(generate(&[lib.clone(), data.clone()], &[], &out));
    util::assert_contains(
        &err,
        &[
            "lean_fixture_clash",
            &format!("a function in {}(clash_function.o)", lib.display()),
            &format!("data in {}", data.display()),
        ],
    );
    assert!(!out.exists(), "nothing is written after an error");
}

#[test]
fn thread_local_symbols_are_left_out_and_reported() {
    let Some((tc, dir)) = toolchain_and_dir("symtab-tls") else {
        return;
    };
    let object = compile(&tc, &dir, Target::Wasm64, "threads.c", &["-pthread"]);
    let out = dir.join("table.cpp");
    let summary = generate(&[object], &[], &out).unwrap();
    assert_eq!(summary.thread_local, vec!["lean_fixture_tls".to_string()]);
    assert_eq!(summary.symbols, 1, "{summary}");
    let text = fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"lean_fixture_with_tls\") \\\n"), "{text}");
    assert!(!text.contains("\"lean_fixture_tls\")"), "{text}");
    assert!(text.contains("Left out (thread-local, no static address): lean_fixture_tls"));
}

#[test]
fn damaged_inputs_are_clear_errors_naming_file_and_member() {
    let Some((tc, dir)) = toolchain_and_dir("symtab-damaged") else {
        return;
    };
    let (lib, _) = fixture_inputs(&tc, &dir, Target::Wasm64);
    let bytes = fs::read(&lib).unwrap();
    let (kinds_start, kinds_len) = object::read::archive::ArchiveFile::parse(bytes.as_slice())
        .unwrap()
        .members()
        .map(|m| m.unwrap())
        .find(|m| m.name() == b"kinds.o")
        .map(|m| m.file_range())
        .unwrap();
    let (kinds_start, kinds_len) = (kinds_start as usize, kinds_len as usize);
    let kinds_end = kinds_start + kinds_len;
    let kinds_data = &bytes[kinds_start..kinds_end];
    let out = dir.join("table.cpp");
    let damaged = |name: &str, len: usize| {
        let p = dir.join(name);
        fs::write(&p, &bytes[..len]).unwrap();
        (p.clone(), error_of(generate(&[p], &[], &out)))
    };

    // Cut inside a member's data.
    let (p, err) = damaged("cut-in-member.a", kinds_start + kinds_len / 2);
    util::assert_contains(&err, &[&format!("{}(kinds.o)", p.display()), "truncated"]);
    // Cut inside the next member's header.
    let (p, err) = damaged("cut-in-header.a", kinds_end + (kinds_end & 1) + 20);
    assert!(err.contains(&p.display().to_string()), "{err}");
    assert!(err.contains("after kinds.o"), "{err}");
    // Cut exactly after a member: the archive's index still names the missing members.
    let (p, err) = damaged("cut-at-boundary.a", kinds_end + (kinds_end & 1));
    assert!(err.contains(&p.display().to_string()), "{err}");
    assert!(err.contains("truncated"), "{err}");
    // Not an archive at all.
    let (p, err) = damaged("just-the-magic.a", 4);
    assert!(err.contains(&p.display().to_string()), "{err}");
    assert!(!out.exists());

    // A damaged wasm object inside an intact archive.
    let broken = dir.join("broken.o");
    fs::write(&broken, &kinds_data[..kinds_len / 3]).unwrap();
    // `S`: no archive index (llvm-ar would refuse to index a damaged object).
    let lib2 = dir.join("libbroken.a");
    tc.step("emar-libbroken.a", tc.emar())
        .arg("rcS")
        .arg(&lib2)
        .arg(&broken)
        .cwd(&dir)
        .log_dir(&dir)
        .run()
        .unwrap();
    let err = error_of(generate(std::slice::from_ref(&lib2), &[], &out));
    assert!(
        err.contains(&format!("{}(broken.o)", lib2.display())),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_native_object_member_is_an_error() {
    let Some((tc, dir)) = toolchain_and_dir("symtab-native-member") else {
        return;
    };
    let native = dir.join("host.o");
    Step::new("clang-host", tc.llvm_tool("clang"))
        .args(["-c", "--target=x86_64-linux-gnu", "-o"])
        .arg(&native)
        .arg(fixture("strong.c"))
        .log_dir(&dir)
        .run()
        .unwrap();
    let wasm = compile(&tc, &dir, Target::Wasm64, "kinds.c", &[]);
    let lib = archive(&tc, &dir, "libmixed.a", &[&wasm, &native]);
    let err = error_of(generate(
        std::slice::from_ref(&lib),
        &[],
        &dir.join("t.cpp"),
    ));
    assert!(
        err.contains(&format!("{}(host.o) is an ELF object", lib.display())),
        "{err}"
    );
}

/// On real archives nobody here wrote (the emscripten wasm64 system libraries), with the filter
/// off, every name llvm-nm lists as a defined global is ours too, except wasm tags.
#[test]
fn agrees_with_llvm_nm_on_the_system_libraries() {
    let Some(tc) = crate::toolchain::for_tests() else {
        return;
    };
    let libs = super::bench::system_libraries(&tc).unwrap();
    let files = inputs::read_inputs(&libs).unwrap();
    let table = collect(&files, &NameFilter::All).unwrap();
    let nm = super::bench::nm_defined(&tc, &libs).unwrap();
    let mut theirs: Vec<&[u8]> = (nm.iter())
        .filter(|(l, _)| b"TDBRWV".contains(l))
        .map(|(_, name)| name.as_slice())
        .filter(|n| !table.not_addressable.contains(n))
        .collect();
    theirs.sort_unstable();
    theirs.dedup();
    let ours: Vec<&[u8]> = table.symbols.iter().map(|s| s.name).collect();
    assert_eq!(ours.len(), theirs.len());
    assert!(ours == theirs, "the sets or the byte order differ");
    assert!(
        table.not_addressable.iter().all(|n| n.starts_with(b"__")),
        "only wasm tags (__cpp_exception, __c_longjmp) are not addressable: {:?}",
        table
            .not_addressable
            .iter()
            .map(|n| String::from_utf8_lossy(n))
            .collect::<Vec<_>>()
    );
}

/// Our `linking`-section reader sees what `object`'s wasm reader sees, on real objects nobody
/// here wrote (the emscripten wasm64 system libraries) and on the fixtures (-pthread for
/// thread-local data): the same defined, non-local functions, data and thread-local data, with
/// the same weakness. The only differences allowed are the ones that made us read the section
/// ourselves: `object` calls wasm globals and tables data and does not list tags.
#[test]
fn our_wasm_reader_agrees_with_the_object_crate() {
    use object::{read::wasm::WasmFile, Object, ObjectSymbol, SymbolKind as ObjKind};
    let Some((tc, dir)) = toolchain_and_dir("symtab-reader-vs-object") else {
        return;
    };
    let mut paths = super::bench::system_libraries(&tc).unwrap();
    paths.push(compile(
        &tc,
        &dir,
        Target::Wasm64,
        "threads.c",
        &["-pthread"],
    ));
    paths.push(compile(&tc, &dir, Target::Wasm64, "kinds.c", &[]));
    let files = inputs::read_inputs(&paths).unwrap();
    let (members, _) = inputs::all_members(&files).unwrap();
    let (mut functions, mut data, mut tls, mut weak) = (0, 0, 0, 0);
    for m in &members {
        let mut ours = Vec::new();
        wasm::defined_symbols(m.data, |name, kind, weak| {
            if kind != wasm::Kind::NotAddressable {
                ours.push((name.to_string(), kind, weak));
            }
            Ok(())
        })
        .unwrap();
        let file = WasmFile::<&[u8]>::parse(m.data).unwrap();
        let mut theirs = Vec::new();
        for s in file.symbols() {
            if s.is_undefined() || s.is_local() {
                continue;
            }
            let kind = match s.kind() {
                ObjKind::Text => wasm::Kind::Function,
                ObjKind::Data => wasm::Kind::Data,
                ObjKind::Tls => wasm::Kind::ThreadLocal,
                _ => continue,
            };
            theirs.push((s.name().unwrap().to_string(), kind, s.is_weak()));
        }
        // Data in object's view may also be a wasm global or table, which we set apart.
        let ours_names: std::collections::HashSet<&str> =
            ours.iter().map(|(n, _, _)| n.as_str()).collect();
        theirs.retain(|(n, k, _)| *k != wasm::Kind::Data || ours_names.contains(n.as_str()));
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{}", m.place);
        for (_, k, w) in &ours {
            match k {
                wasm::Kind::Function => functions += 1,
                wasm::Kind::Data => data += 1,
                _ => tls += 1,
            }
            weak += *w as usize;
        }
    }
    // The cache holds at least the libraries `toolchain install` prebuilds (9,395 functions,
    // 962 data, 6,839 weak in emscripten 3.1.69); other builds may add more, so the floor is
    // well under that minimum: it only proves the comparison ran over real libraries.
    assert!(
        functions > 5_000 && data > 500 && weak > 1000,
        "{functions} {data} {weak}"
    );
    assert_eq!(tls, 1, "the fixture's thread-local variable");
}
