//! `cargo xtask bench symtab`: our generator against the prior art's pipeline, on real archives.
//!
//! The pipeline is `llvm-nm --defined-only ... | awk ... | LC_ALL=C sort -u` with the same rule
//! as ours: defined global symbols, weak ones included (the prior art dropped them, so its own
//! awk would not even mean the same set), names filtered the same way. Both run as separate
//! processes under `bash`'s `time`, alternately, after a warm-up run each; we report the median
//! and the best wall time and the median CPU time (user + system) of each side. Our side also
//! writes the C++ table, which the pipeline does not.
//!
//! Inputs:
//! - the wasm64 system libraries in the provisioned emscripten cache (libc, libc++, ...): real
//!   archives nobody here wrote, with no Lean names, so both sides run with the name filter off;
//! - with `--generated N`: N C files shaped like Lean's generated C (long `l_...` names, boxed
//!   variants, module initializers, closed terms, static helpers), compiled once with emcc and
//!   cached in the build directory, packed into 4 archives like Init/Std/Lean/the kernel. With
//!   N = 1800 they hold about 81,000 table symbols, a Lean build's count. The table generated
//!   from them is then linked into a small program that times `wasm_lookup_symbol` (hash index)
//!   against the binary search, in Node.

use std::{
    collections::{BTreeSet, HashMap},
    ffi::OsString,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

use super::{inputs, NameFilter, SymbolKind};
use crate::layout::Layout;
use crate::{runner, toolchain::Toolchain, util};

#[derive(clap::Args)]
pub struct Args {
    /// Timed runs of each side (medians are reported)
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Also measure on N generated C files (Lean-sized at 1800: ~81k symbols); compiled once
    /// with emcc and cached in the build directory
    #[arg(long, value_name = "N")]
    generated: Option<usize>,
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let tc = Toolchain::load(&layout.cache)?;
    let work = layout.root.join("bench/symtab");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;

    let system = system_libraries(&tc)?;
    compare(
        &tc,
        &work,
        "the emscripten wasm64 system libraries, all defined global symbols",
        &system,
        &NameFilter::All,
        args.runs,
    )?;

    if let Some(n) = args.generated {
        if n == 0 {
            bail!("--generated needs at least 1 file");
        }
        let archives = generated_archives(&tc, n, &layout.root)?;
        let filter = NameFilter::lean(&[])?;
        compare(
            &tc,
            &work,
            &format!(
                "{n} generated Lean-like C files ({} symbols), Lean's name filter",
                n * SYMBOLS_PER_FILE
            ),
            &archives,
            &filter,
            args.runs,
        )?;
        lookup_speed(&tc, &work, &archives)?;
    }
    Ok(())
}

/// `<em_cache>/sysroot/lib/wasm64-emscripten/*.a`, sorted.
pub(super) fn system_libraries(tc: &Toolchain) -> Result<Vec<PathBuf>> {
    let dir = tc.wasm64_libs();
    let mut libs: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "a"))
        .collect();
    libs.sort();
    if libs.is_empty() {
        bail!(
            "no wasm64 system libraries in {}\n  fix: build them once, e.g. `{} build libc \
             libc++ libc++abi --wasm64` (or any wasm64 C++ link)",
            dir.display(),
            tc.embuilder().display()
        );
    }
    Ok(libs)
}

/// Wall and CPU seconds of one run.
#[derive(Debug, Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
}

/// Runs `body` (a bash command line) under bash's `time`; its own output goes to `log`.
fn time_bash(body: &str, log: &Path) -> Result<Timing> {
    let script = format!(
        "set -o pipefail; TIMEFORMAT='XLEAN_TIME %3R %3U %3S'; time {{ {body} ; }} >>{log} 2>&1",
        log = sh_quote(log.as_os_str())
    );
    let out = runner::cmd("bash")
        .args(["-c", &script])
        .output()
        .context("cannot run bash (the benchmark times both sides with its `time`)")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "benchmark command failed ({}): {body}\n  its output: {}\n{stderr}",
            out.status,
            log.display()
        );
    }
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("XLEAN_TIME "))
        .with_context(|| format!("no timing from bash for: {body}\n{stderr}"))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot parse bash's timing {line:?}"))?;
    Ok(Timing {
        wall: v[0],
        cpu: v[1] + v[2],
    })
}

fn sh_quote(s: &std::ffi::OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The awk program: defined global symbols (uppercase letters; weak ones are W/V) whose names
/// pass `filter`.
fn awk_program(filter: &NameFilter) -> Result<String> {
    let kinds = "NF == 3 && $2 ~ /^[TDBRCWV]$/";
    Ok(match filter {
        NameFilter::All => format!("{kinds} {{ print $3 }}"),
        NameFilter::Lean { extra_prefixes } => {
            if !extra_prefixes.is_empty() {
                bail!("the benchmark pipeline only knows Lean's own prefixes");
            }
            let prefixes = super::LEAN_PREFIXES.join("|");
            format!(
                "{kinds} && ($3 ~ /^({prefixes})/ || $3 ~ /{}$/) {{ print $3 }}",
                super::LEAN_SUFFIX
            )
        }
    })
}

fn compare(
    tc: &Toolchain,
    work: &Path,
    what: &str,
    archives: &[PathBuf],
    filter: &NameFilter,
    runs: usize,
) -> Result<()> {
    let files = inputs::read_inputs(archives)?;
    let bytes: u64 = files.iter().map(|f| f.size_bytes()).sum();
    let table = super::collect(&files, filter)?;
    runner::heading(&format!("bench symtab: {what}"));
    runner::note(&format!(
        "inputs: {} archives, {:.1} MB, {} wasm objects",
        files.len(),
        bytes as f64 / 1e6,
        table.members
    ));

    let tag = match filter {
        NameFilter::All => "all",
        NameFilter::Lean { .. } => "lean",
    };
    let ours_out = work.join(format!("{tag}.cpp"));
    let pipeline_out = work.join(format!("{tag}.pipeline.txt"));
    let log = work.join(format!("{tag}.log"));
    let _ = fs::remove_file(&log);
    let exe = std::env::current_exe().context("cannot find the running xtask executable")?;
    let quoted_inputs: Vec<String> = archives.iter().map(|p| sh_quote(p.as_os_str())).collect();
    let ours_cmd = format!(
        "{} symtab {}--out {} {}",
        sh_quote(exe.as_os_str()),
        if matches!(filter, NameFilter::All) {
            "--all "
        } else {
            ""
        },
        sh_quote(ours_out.as_os_str()),
        quoted_inputs.join(" ")
    );
    let pipeline_cmd = format!(
        "{} --defined-only {} | awk {} | LC_ALL=C sort -u > {}",
        sh_quote(tc.llvm_tool("llvm-nm").as_os_str()),
        quoted_inputs.join(" "),
        sh_quote(std::ffi::OsStr::new(&awk_program(filter)?)),
        sh_quote(pipeline_out.as_os_str())
    );

    // Warm-up (page cache), then alternate so that both sides see the same machine load.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..=runs {
        let _ = fs::remove_file(&ours_out);
        let a = time_bash(&ours_cmd, &log)?;
        let b = time_bash(&pipeline_cmd, &log)?;
        if i > 0 {
            ours.push(a);
            theirs.push(b);
        }
    }

    verify_same_set(tc, archives, &table, &pipeline_out)?;

    report_timings(what, runs, &ours, &theirs);
    Ok(())
}

/// Prints both sides' medians and best runs, the ratio, and the machine they ran on.
fn report_timings(what: &str, runs: usize, ours: &[Timing], theirs: &[Timing]) {
    let ms = |s: f64| format!("{:.1} ms", s * 1e3);
    let summary = |side: &str, t: &[Timing]| {
        let wall: Vec<f64> = t.iter().map(|x| x.wall).collect();
        let best = wall.iter().cloned().fold(f64::INFINITY, f64::min);
        let (wall, cpu) = (median(wall), median(t.iter().map(|x| x.cpu).collect()));
        runner::note(&format!(
            "{side} wall median {} (best {}), CPU median {}",
            ms(wall),
            ms(best),
            ms(cpu)
        ));
        (wall, best, cpu)
    };
    let (ow, ob, oc) = summary("ours     (cargo xtask symtab, writes the C++):", ours);
    let (pw, pb, pc) = summary("pipeline (llvm-nm | awk | LC_ALL=C sort -u): ", theirs);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
    println!(
        "bench symtab [{what}]: ours {} vs pipeline {} (wall medians over {runs} runs): {:.1}x \
         faster (best-of: {:.1}x, CPU: {:.1}x)",
        ms(ow),
        ms(pw),
        ratio(pw, ow),
        ratio(pb, ob),
        ratio(pc, oc)
    );
    runner::note(&format!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    ));
}

/// Checks that the pipeline's sorted list is our table (same names, same byte order), that
/// llvm-nm's letters agree with our kinds, and explains any difference.
fn verify_same_set(
    tc: &Toolchain,
    archives: &[PathBuf],
    table: &super::Table<'_>,
    pipeline_out: &Path,
) -> Result<()> {
    let text = fs::read(pipeline_out)
        .with_context(|| format!("cannot read {}", pipeline_out.display()))?;
    let theirs: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let ours: Vec<&[u8]> = table.symbols.iter().map(|s| s.name).collect();
    let ours_set: BTreeSet<&[u8]> = ours.iter().copied().collect();
    let theirs_set: BTreeSet<&[u8]> = theirs.iter().copied().collect();
    let tags: BTreeSet<&[u8]> = table.not_addressable.iter().copied().collect();
    let only_ours: Vec<&[u8]> = ours_set.difference(&theirs_set).copied().collect();
    let not_tag = |n: &&[u8]| !tags.contains(n);
    let only_theirs: Vec<&[u8]> = theirs_set
        .difference(&ours_set)
        .copied()
        .filter(not_tag)
        .collect();
    let explained: Vec<&[u8]> = theirs_set.intersection(&tags).copied().collect();
    let mut verdict = String::new();
    if only_ours.is_empty() && only_theirs.is_empty() {
        let _ = write!(verdict, "same set ({} symbols)", ours.len());
        // The pipeline's list without the tags must be our table, in the same order.
        if theirs
            .iter()
            .copied()
            .filter(not_tag)
            .eq(ours.iter().copied())
        {
            verdict.push_str(", same byte order as LC_ALL=C sort");
        } else {
            verdict.push_str(", but a DIFFERENT ORDER than LC_ALL=C sort");
        }
    } else {
        let _ = write!(
            verdict,
            "DIFFERENT sets: {} only in ours ({}), {} only in the pipeline ({})",
            only_ours.len(),
            show_names(&only_ours),
            only_theirs.len(),
            show_names(&only_theirs)
        );
    }
    if !explained.is_empty() {
        let _ = write!(
            verdict,
            "; the pipeline also lists {} wasm tag(s) that C cannot address and the table rightly \
             leaves out: {}",
            explained.len(),
            show_names(&explained)
        );
    }
    runner::note(&verdict);

    let disagree = kinds_disagreeing(tc, archives, table)?;
    if disagree.is_empty() {
        runner::note("kinds agree with llvm-nm's letters for every strongly defined symbol");
    } else {
        runner::warn(&format!(
            "{} symbols have another kind than llvm-nm's letter: {}",
            disagree.len(),
            show_names(&disagree)
        ));
    }
    if !only_ours.is_empty() || !only_theirs.is_empty() || !disagree.is_empty() {
        bail!("the generator and the pipeline disagree (see above)");
    }
    Ok(())
}

/// The first ten of `names`, for a message.
fn show_names(names: &[&[u8]]) -> String {
    names
        .iter()
        .take(10)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table's symbols whose kind is not the one llvm-nm's letter says.
fn kinds_disagreeing<'t>(
    tc: &Toolchain,
    archives: &[PathBuf],
    table: &super::Table<'t>,
) -> Result<Vec<&'t [u8]>> {
    // Kinds: llvm-nm says T for a function and D/B/R for data (weak ones are just W for both).
    let nm = nm_defined(tc, archives)?;
    let letters: HashMap<&[u8], u8> = (nm.iter())
        .filter(|(l, _)| b"TDBR".contains(l))
        .map(|(l, name)| (name.as_slice(), *l))
        .collect();
    Ok((table.symbols.iter())
        .filter(|s| {
            let l = letters.get(s.name);
            l.is_some_and(|&l| (l == b'T') != (s.kind == SymbolKind::Function))
        })
        .map(|s| s.name)
        .collect())
}

/// `llvm-nm --defined-only` of `archives`: the letter and the name of every symbol it lists.
pub(super) fn nm_defined(tc: &Toolchain, archives: &[PathBuf]) -> Result<Vec<(u8, Vec<u8>)>> {
    let nm = runner::cmd(tc.llvm_tool("llvm-nm"));
    let nm = nm.arg("--defined-only").args(archives).read()?;
    let mut symbols = Vec::new();
    for line in nm.lines() {
        if let [_, &[letter], name] = line
            .split_whitespace()
            .map(str::as_bytes)
            .collect::<Vec<_>>()[..]
        {
            symbols.push((letter, name.to_vec()));
        }
    }
    Ok(symbols)
}

/// Version of the generated sources: bump it when `generated_source` changes.
const GENERATED_VERSION: u32 = 1;
const SYMBOLS_PER_FILE: usize = 45;

/// One C file shaped like a module of Lean's generated C.
fn generated_source(i: usize) -> String {
    let module = format!("Lean_Gen_Area{}_Module{i}", i % 37);
    let mut s = String::with_capacity(16 * 1024);
    let _ = writeln!(
        s,
        "// Generated by `cargo xtask bench symtab`: stands in for one module of Lean's C.\n\
         #include <stdint.h>\n\
         typedef struct lean_object lean_object;\n\
         extern lean_object* lean_alloc_ctor(unsigned, unsigned, unsigned);\n\
         extern void lean_ctor_set(lean_object*, unsigned, lean_object*);\n\
         extern lean_object* lean_apply_2(lean_object*, lean_object*, lean_object*);\n\
         extern void lean_dec_ref(lean_object*);\n\
         static lean_object* l_{module}___closed__1;\n\
         static lean_object* l_{module}___closed__2;"
    );
    for j in 0..4 {
        let _ = writeln!(s, "lean_object* l_{module}_instDecl{j};");
    }
    let _ = writeln!(
        s,
        "static lean_object* l_{module}_helper(lean_object* x) {{\n  \
         lean_object* c = lean_alloc_ctor(1, 2, 0);\n  lean_ctor_set(c, 0, x);\n  \
         lean_ctor_set(c, 1, l_{module}___closed__1);\n  return c;\n}}"
    );
    for j in 0..20 {
        let name = format!("l_{module}_elabDeclaration{j}___lambda__{}", j % 3);
        let _ = writeln!(
            s,
            "lean_object* {name}(lean_object* x, lean_object* y) {{\n  \
             lean_object* a = l_{module}_helper(x);\n  \
             if ((uintptr_t)y & 1) {{ lean_dec_ref(a); return lean_apply_2(y, x, \
             l_{module}_instDecl{}); }}\n  \
             for (unsigned k = 0; k < {}; k++) a = lean_apply_2(a, y, x);\n  return a;\n}}\n\
             lean_object* {name}___boxed(lean_object* x, lean_object* y) {{\n  \
             lean_object* r = {name}(x, y);\n  lean_dec_ref(y);\n  return r;\n}}",
            j % 4,
            j + 1
        );
    }
    let _ = writeln!(
        s,
        "uint8_t gen_not_lean_{i}(void) {{ return {}; }}\n\
         lean_object* initialize_{module}(uint8_t builtin, lean_object* w) {{\n  \
         l_{module}___closed__1 = lean_alloc_ctor(0, 0, 0);\n  \
         l_{module}___closed__2 = l_{module}___closed__1;\n  \
         l_{module}_instDecl0 = l_{module}___closed__2;\n  return w;\n}}",
        i % 251
    );
    s
}

/// The archives of `n` generated files, built once (in batches, 2 compile jobs at a time) and
/// cached under the build directory.
fn generated_archives(tc: &Toolchain, n: usize, build: &Path) -> Result<Vec<PathBuf>> {
    let dir = build.join(format!("bench/symtab-generated-v{GENERATED_VERSION}-{n}"));
    let archive_names = ["Init", "Std", "Lean", "Kernel"].map(|a| format!("libGen{a}.a"));
    let archives: Vec<PathBuf> = archive_names.iter().map(|a| dir.join(a)).collect();
    if archives.iter().all(|a| a.exists()) {
        return Ok(archives);
    }
    runner::timed(
        &format!(
            "compile {n} generated C files (once; cached in {})",
            dir.display()
        ),
        || {
            util::make_dir_atomically(&dir, |tmp| {
                let src = tmp.join("src");
                fs::create_dir_all(&src)?;
                let mut files = Vec::new();
                for i in 0..n {
                    let name = format!("Gen{i}.c");
                    fs::write(src.join(&name), generated_source(i))?;
                    files.push(name);
                }
                // emcc compiles a batch with one Python start; two batches run at a time.
                let batches: Vec<&[String]> = files.chunks(files.len().div_ceil(8)).collect();
                let results = inputs::par_map(&batches, |batch| {
                    tc.step(
                        format!("bench-symtab-compile-{}", batch[0].trim_end_matches(".c")),
                        tc.emcc(),
                    )
                    .args(["-c", "-O2"])
                    .args(WASM64)
                    .args(batch.iter())
                    .cwd(&src)
                    .run()
                });
                results.into_iter().collect::<Result<Vec<_>>>()?;
                // Split like Lean's libraries: Init 26%, Std 20%, Lean 53%, the kernel the rest.
                let cuts = [0, n * 26 / 100, n * 46 / 100, n * 99 / 100, n];
                for (k, name) in archive_names.iter().enumerate() {
                    let objects: Vec<OsString> = (cuts[k]..cuts[k + 1])
                        .map(|i| format!("src/Gen{i}.o").into())
                        .collect();
                    if objects.is_empty() {
                        continue;
                    }
                    tc.step(format!("bench-symtab-ar-{name}"), tc.emar())
                        .arg("rcs")
                        .arg(name)
                        .args(objects)
                        .cwd(tmp)
                        .run()?;
                }
                Ok(())
            })
        },
    )?;
    Ok(archives.into_iter().filter(|a| a.exists()).collect())
}

/// The flags of every wasm64 compile and link here.
const WASM64: [&str; 2] = ["-sMEMORY64", "-Wno-experimental"];

const LOOKUP_DRIVER: &str = r#"
// Times wasm_lookup_symbol (hash index) against the binary search of the same table.
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" void* wasm_lookup_symbol(const char*);
extern "C" void* xlean_symtab_lookup_sorted(const char*);
extern "C" size_t xlean_symtab_size(void);
extern "C" const char* xlean_symtab_name(size_t);
extern "C" void* xlean_symtab_address(size_t);

// The runtime functions the generated modules call (never called here).
typedef struct lean_object lean_object;
extern "C" lean_object* lean_alloc_ctor(unsigned, unsigned, unsigned) { return 0; }
extern "C" void lean_ctor_set(lean_object*, unsigned, lean_object*) {}
extern "C" lean_object* lean_apply_2(lean_object* f, lean_object*, lean_object*) { return f; }
extern "C" void lean_dec_ref(lean_object*) {}

int main() {
    size_t n = xlean_symtab_size();
    // Own copies (no pointer into the table), in a scrambled order.
    char** hits = (char**)malloc(n * sizeof(char*));
    char** misses = (char**)malloc(n * sizeof(char*));
    void** expected = (void**)malloc(n * sizeof(void*));
    unsigned long long state = 12345;
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)(state >> 33) % (i + 1);
        hits[i] = hits[j];
        expected[i] = expected[j];
        const char* name = xlean_symtab_name(i);
        hits[j] = strdup(name);
        expected[j] = xlean_symtab_address(i);
    }
    for (size_t i = 0; i < n; i++) {
        // A miss the interpreter would make: a declaration that was not compiled.
        size_t len = strlen(hits[i]);
        misses[i] = (char*)malloc(len + 3);
        memcpy(misses[i], hits[i], len);
        memcpy(misses[i] + len, "_x", 3);
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (wasm_lookup_symbol(hits[i]) != expected[i]) bad++;
        if (xlean_symtab_lookup_sorted(hits[i]) != expected[i]) bad++;
        if (wasm_lookup_symbol(misses[i]) || xlean_symtab_lookup_sorted(misses[i])) bad++;
    }
    // Best of several passes: the engine tiers up from baseline to optimized code in the
    // background, and the machine may be busy.
    const int passes = 7;
    double t[4] = {1e30, 1e30, 1e30, 1e30};
    void* sink = 0;
    char** sets[2] = {hits, misses};
    for (int p = 0; p < passes; p++) {
        for (int k = 0; k < 4; k++) {
            char** names = sets[k / 2];
            double start = emscripten_get_now();
            for (size_t i = 0; i < n; i++)
                sink = (void*)((size_t)sink ^ (size_t)(k % 2 == 0 ? wasm_lookup_symbol(names[i])
                                                          : xlean_symtab_lookup_sorted(names[i])));
            double ns = (emscripten_get_now() - start) * 1e6 / (double)n;
            if (ns < t[k]) t[k] = ns;
        }
    }
    printf("XLEAN_LOOKUP %zu %d %.1f %.1f %.1f %.1f %p\n", n, bad, t[0], t[1], t[2], t[3], sink);
    return bad != 0;
}
"#;

/// Links the table of `archives` into a driver and times hits and misses in Node.
fn lookup_speed(tc: &Toolchain, work: &Path, archives: &[PathBuf]) -> Result<()> {
    let dir = work.join("lookup");
    fs::create_dir_all(&dir)?;
    let table = dir.join("table.cpp");
    super::generate(archives, &[], &table)?;
    util::write_if_changed(&dir.join("driver.cpp"), LOOKUP_DRIVER.as_bytes())?;
    for source in ["driver.cpp", "table.cpp"] {
        tc.step(format!("bench-symtab-lookup-compile-{source}"), tc.empp())
            .args(["-c", "-O2", source])
            .args(WASM64)
            .cwd(&dir)
            .run()?;
    }
    // -O1 link: the code is already optimized; -O2 would run wasm-opt (JS-hosted here) over
    // 1800 objects for minutes.
    tc.step("bench-symtab-lookup-link", tc.empp())
        .args(["-O1", "-sALLOW_MEMORY_GROWTH"])
        .args(WASM64)
        .args(["driver.o", "table.o"])
        .args(archives)
        .args(["-o", "lookup.js"])
        .cwd(&dir)
        .run()?;
    let out = tc
        .step("bench-symtab-lookup-run", &tc.node)
        .arg("lookup.js")
        .cwd(&dir)
        .capture()?;
    let line = out
        .output
        .lines()
        .find_map(|l| l.strip_prefix("XLEAN_LOOKUP "))
        .context("the lookup driver printed no result")?;
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.get(1) != Some(&"0") {
        bail!("the lookup driver found wrong results: {line}");
    }
    println!(
        "bench symtab [lookup, {} symbols, Node, best of 7 passes]: hit: hash {} ns, binary \
         search {} ns; miss: hash {} ns, binary search {} ns",
        f[0], f[2], f[3], f[4], f[5]
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_awk() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        let lean = awk_program(&NameFilter::lean(&[]).unwrap()).unwrap();
        assert!(
            lean.contains("/^(initialize_|lean_|l_|lp_)/") && lean.contains("/___boxed$/"),
            "{lean}"
        );
        assert!(awk_program(&NameFilter::lean(&["x_".into()]).unwrap()).is_err());
    }

    #[test]
    fn generated_sources_have_the_promised_symbols() {
        let s = generated_source(7);
        let lean = NameFilter::lean(&[]).unwrap();
        // Count the non-static definitions the filter keeps: functions, boxed, data, init.
        let kept = s
            .lines()
            .filter(|l| l.starts_with("lean_object* ") || l.starts_with("uint8_t "))
            .filter_map(|l| {
                let rest = l.split_once(' ')?.1;
                let end = rest.find(['(', ';'])?;
                Some(rest[..end].to_string())
            })
            .filter(|name| lean.keeps(name.as_bytes()))
            .count();
        assert_eq!(kept, SYMBOLS_PER_FILE, "{s}");
    }
}
