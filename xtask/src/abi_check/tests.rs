//! Tests with the real toolchain: objects built here with emcc from `tests/fixtures/symtab/abi/`.
//! They print `SKIPPED: ...` without the toolchain, and fail where it is required (`crate::gate`).

use super::*;
use crate::symtab::tests::{archive, compile, toolchain_and_dir, Target};

fn find<'r>(report: &'r Report, name: &str, kind: MismatchKind) -> Option<&'r Mismatch> {
    report
        .mismatches
        .iter()
        .find(|m| m.name == name && m.kind == kind)
}

#[test]
fn world_token_and_return_type_mismatches_are_reported_matching_pairs_pass() {
    let Some((tc, dir)) = toolchain_and_dir("abi-check-wasm64") else {
        return;
    };
    let uses = compile(&tc, &dir, Target::Wasm64, "abi/uses.c", &[]);
    let defs = compile(&tc, &dir, Target::Wasm64, "abi/defs.cpp", &[]);
    let dup_a = compile(&tc, &dir, Target::Wasm64, "abi/dup_a.c", &[]);
    let dup_b = compile(&tc, &dir, Target::Wasm64, "abi/dup_b.c", &[]);
    // The runtime in an archive (as the build has it), the generated code as an object.
    let runtime = archive(&tc, &dir, "libruntime.a", &[&defs, &dup_a]);
    let inputs = vec![uses.clone(), runtime.clone(), dup_b.clone()];
    let report = check(&inputs).unwrap();
    let text = report.to_string();
    let defs_place = format!("{}(defs.o)", runtime.display());
    let uses_place = uses.display().to_string();

    // An extra world-token parameter.
    let m = find(&report, "lean_io_world_op", MismatchKind::Call).expect(&text);
    assert_eq!(m.other.to_string(), "(i64, i64) -> i64", "{text}");
    assert_eq!(m.defined.to_string(), "(i64) -> i64", "{text}");
    assert_eq!(m.other_in, vec![uses_place.clone()]);
    assert_eq!(m.defined_in, defs_place);
    // A Bool (i32) expected where the runtime returns an object pointer (i64 on wasm64).
    let m = find(&report, "lean_returns_bool", MismatchKind::Call).expect(&text);
    assert_eq!(m.other.to_string(), "() -> i32", "{text}");
    assert_eq!(m.defined.to_string(), "() -> i64", "{text}");
    // An import with another field name is still matched by its symbol name.
    let m = find(&report, "lean_renamed", MismatchKind::Call).expect(&text);
    assert_eq!(m.other.to_string(), "(i32) -> i32", "{text}");
    assert_eq!(m.defined.to_string(), "(i64) -> i32", "{text}");
    // Two definitions that disagree; the strong one is the reference.
    let m = find(&report, "lean_dup", MismatchKind::Definition).expect(&text);
    assert_eq!(m.defined.to_string(), "() -> i64", "{text}");
    assert_eq!(m.defined_in, dup_b.display().to_string());
    assert_eq!(m.other.to_string(), "(i32) -> i32", "{text}");
    assert_eq!(
        m.other_in,
        vec![format!("{}(dup_a.o) (weak)", runtime.display())]
    );
    // Nothing else: the matching pair, the address-only use, the agreeing weak/strong pair.
    assert_eq!(report.mismatches.len(), 4, "{text}");
    for fine in ["lean_matching", "lean_address_only", "lean_same"] {
        assert!(!text.contains(fine), "{fine} was reported:\n{text}");
    }
    assert_eq!(report.objects, 4);
    assert!(report.calls_checked >= 4, "{text}");
    // The report names both signatures and both places.
    assert!(
        text.contains(
            "function signature mismatch: lean_io_world_op\n  called as  (i64, i64) -> i64"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("in {defs_place}")), "{text}");

    // The command fails (non-zero exit) on mismatches and passes on matching objects.
    let err = format!("{:#}", run(Args { inputs }).unwrap_err());
    assert!(err.contains("4 function signature mismatch"), "{err}");
    let clean = check(std::slice::from_ref(&defs)).unwrap();
    assert!(clean.mismatches.is_empty(), "{clean}");
    run(Args {
        inputs: vec![defs, dup_b],
    })
    .unwrap();
}

/// The emscripten wasm64 system libraries (real archives with thousands of cross-object calls)
/// are consistent: a check that finds nothing there but finds the fixtures' mismatches above.
#[test]
fn the_system_libraries_have_no_mismatch() {
    let Some(tc) = crate::toolchain::for_tests() else {
        return;
    };
    let dir = tc.wasm64_libs();
    let libs = [
        "libc",
        "libc++abi-except",
        "libc++-except",
        "libcompiler_rt",
    ];
    let libs: Vec<PathBuf> = (libs.iter().map(|l| dir.join(format!("{l}.a"))))
        .filter(|p| p.exists())
        .collect();
    assert!(!libs.is_empty(), "no system libraries in {}", dir.display());
    let report = check(&libs).unwrap();
    assert!(report.calls_checked > 1000, "{report}");
    assert!(report.mismatches.is_empty(), "{report}");
}

#[test]
fn a_damaged_object_is_an_error_naming_it() {
    let Some((tc, dir)) = toolchain_and_dir("abi-check-damaged") else {
        return;
    };
    let defs = compile(&tc, &dir, Target::Wasm64, "abi/defs.cpp", &[]);
    let bytes = std::fs::read(&defs).unwrap();
    let cut = dir.join("cut.o");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = format!("{:#}", check(std::slice::from_ref(&cut)).unwrap_err());
    assert!(err.contains(&cut.display().to_string()), "{err}");
}
