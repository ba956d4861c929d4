//! The install prefix's contract, in one place: where things live inside a prefix, the kernel
//! spec (written by `build`, read by `test-node` and `lite`) and the bundle list.
//!
//! ```text
//! <prefix>/bin/xlean.js, xlean.wasm           the kernel module (argv[0] + `.js` / `.wasm`)
//! <prefix>/bin/xlean-bundles.json, *.tar.gz   the `--bundles` archives and their list
//! <prefix>/share/jupyter/kernels/xlean/       kernel.json and the logos
//! <prefix>/conda-meta/history                 empty; JupyterLite's xeus add-on reads it
//! ```
//!
//! This module sits on the floor: it knows the layout and the file formats, not how a prefix is
//! installed (build/prefix.rs) or what the site needs beyond it (lite/contract.rs).

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;

use crate::paths;

/// The modules and the bundles.
pub const BIN_DIR: &str = "bin";
/// Where kernel.json and the logos live.
pub const KERNEL_SPEC_DIR: &str = "share/jupyter/kernels/xlean";
/// JupyterLite's xeus add-on expects a conda-like prefix and reads this file (it may be empty).
pub const CONDA_HISTORY: &str = "conda-meta/history";
/// The bundle list the kernel's JS glue reads (lean-wasm/js/pre.js), next to `xlean.js`.
pub const BUNDLE_LIST: &str = "xlean-bundles.json";
/// The kernel module's file name without extension: `bin/xlean`, kernel.json's argv[0].
pub const KERNEL_MODULE: &str = "xlean";
/// The kernel's logos (our own artwork), copied next to kernel.json.
pub const LOGOS: [&str; 3] = ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"];

/// The fix for a prefix without a complete kernel install.
pub const FIX_INSTALL: &str = "fix: run `cargo xtask build` (it installs the kernel into \
                               <build>/prefix; with the xeus sources available, and `--backend \
                               test` where the kernel's Lean output is not), or pass --prefix DIR \
                               of a complete install";

/// `<prefix>/share/jupyter/kernels/xlean/kernel.json`.
pub fn kernel_json(prefix: &Path) -> PathBuf {
    prefix.join(KERNEL_SPEC_DIR).join("kernel.json")
}

/// `<prefix>/bin/xlean.js`, the module kernel.json names.
pub fn kernel_module(prefix: &Path) -> PathBuf {
    prefix.join(BIN_DIR).join(format!("{KERNEL_MODULE}.js"))
}

/// Which backend the kernel module is linked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Lean: the runtime, the stdlib and the kernel's own Lean modules (`XLean`)
    Lean,
    /// The test backend: the kernel shell over a scripted stand-in, no Lean inside (for
    /// machines without the pinned Lean's output for the kernel's modules)
    Test,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Lean => "lean",
            Backend::Test => "test",
        }
    }
}

/// The Jupyter kernel spec installed beside the kernel module (`bin/xlean.js`).
#[derive(Debug, Clone)]
pub struct KernelSpec {
    pub backend: Backend,
    /// The Lean version linked in (for the real backend).
    pub lean_version: String,
}

impl KernelSpec {
    /// kernel.json. JupyterLite's xeus add-on appends `.js` and `.wasm` to `argv[0]`, which must
    /// be absolute: with a relative one it only warns and drops the kernel. It names
    /// `<prefix>/bin/xlean` through the prefix link, which stays valid across installs.
    pub fn json(&self, prefix: &Path) -> serde_json::Value {
        let display_name = match self.backend {
            Backend::Lean => format!("Lean {}", self.lean_version),
            Backend::Test => "Lean 4 (test backend: no Lean inside)".to_string(),
        };
        let argv0 = prefix.join(BIN_DIR).join(KERNEL_MODULE);
        json!({
            "argv": [argv0.display().to_string()],
            "display_name": display_name,
            "language": "lean4",
            "metadata": {
                "xlean": {
                    "backend": self.backend.name(),
                    "lean_version": self.lean_version,
                    "xlean_version": env!("CARGO_PKG_VERSION"),
                }
            }
        })
    }

    /// Writes kernel.json and the logos into the install directory `dir`, which `prefix` will
    /// name. The module must already be in `dir`'s `bin/`.
    pub fn write(&self, dir: &Path, prefix: &Path) -> Result<()> {
        if !kernel_module(dir).is_file() {
            bail!("the kernel spec names bin/xlean.js, which is not among the installed modules");
        }
        let spec_dir = dir.join(KERNEL_SPEC_DIR);
        fs::create_dir_all(&spec_dir)?;
        let text = serde_json::to_string_pretty(&self.json(prefix))? + "\n";
        fs::write(kernel_json(dir), text)?;
        let logos = paths::project_root().join("lean-wasm/kernel/logos");
        for logo in LOGOS {
            let from = logos.join(logo);
            fs::copy(&from, spec_dir.join(logo))
                .with_context(|| format!("cannot copy {} into the prefix", from.display()))?;
        }
        Ok(())
    }
}

/// The kernel a prefix holds, as its kernel.json describes it, with its module checked present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledKernel {
    /// The kernel.json read.
    pub spec_path: PathBuf,
    /// argv[0] as written (absolute, without extension).
    pub argv0: String,
    /// `<argv[0]>.js` and `<argv[0]>.wasm`.
    pub js: PathBuf,
    pub wasm: PathBuf,
    pub backend: Backend,
    pub display_name: String,
    /// The Lean version the kernel says it links (for the test backend: the pinned one).
    pub lean_version: String,
}

/// Reads `<prefix>/share/jupyter/kernels/xlean/kernel.json` and checks what every reader needs:
/// argv[0] absolute and without extension, the module it names there (`.js` and `.wasm`), and
/// a backend this xtask knows. Each error names the file at fault and the fix.
pub fn read_kernel(prefix: &Path) -> Result<InstalledKernel> {
    let spec_path = kernel_json(prefix);
    let text = fs::read_to_string(&spec_path).map_err(|e| {
        anyhow::anyhow!(
            "no kernel installed in {} (cannot read {}: {e})\n  {FIX_INSTALL}",
            prefix.display(),
            spec_path.display()
        )
    })?;
    let at = spec_path.display();
    let spec: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{at} is not valid JSON\n  {FIX_INSTALL}"))?;
    let argv0 = spec["argv"][0].as_str().with_context(|| {
        format!("{at}: `argv` is not a list starting with the kernel's path\n  {FIX_INSTALL}")
    })?;
    ensure!(
        Path::new(argv0).is_absolute(),
        "{at}: argv[0] `{argv0}` is relative, not an absolute path; JupyterLite's xeus add-on \
         would only warn and leave the kernel out\n  {FIX_INSTALL}"
    );
    ensure!(
        !argv0.ends_with(".js") && !argv0.ends_with(".wasm"),
        "{at}: argv[0] `{argv0}` has an extension; the add-on appends `.js` and `.wasm` itself\n  \
         {FIX_INSTALL}"
    );
    let meta = &spec["metadata"]["xlean"];
    let backend = match meta["backend"].as_str() {
        Some("lean") => Backend::Lean,
        Some("test") => Backend::Test,
        other => bail!(
            "{at}: metadata.xlean.backend is {}, not \"lean\" or \"test\" (a kernel.json not \
             written by this xtask?)\n  {FIX_INSTALL}",
            other.map_or("missing".to_string(), |b| format!("\"{b}\""))
        ),
    };
    let js = PathBuf::from(format!("{argv0}.js"));
    let wasm = PathBuf::from(format!("{argv0}.wasm"));
    for (file, what) in [(&js, "kernel module"), (&wasm, "kernel's wasm")] {
        ensure!(
            file.is_file(),
            "{at}: the {what} {}, named by argv[0], is missing; JupyterLite's xeus add-on would \
             leave the kernel out\n  {FIX_INSTALL}",
            file.display()
        );
    }
    Ok(InstalledKernel {
        argv0: argv0.to_string(),
        js,
        wasm,
        backend,
        display_name: spec["display_name"].as_str().unwrap_or("xlean").to_string(),
        lean_version: meta["lean_version"].as_str().unwrap_or("").to_string(),
        spec_path,
    })
}

/// One archive of the bundle list: `file` unpacks into `into`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub file: String,
    pub into: String,
    /// How many files it holds, and their bytes unpacked.
    pub files: usize,
    pub bytes: u64,
    /// The modules it holds, as roots: `Std` stands for `Std` and every `Std.…`. The glue loads
    /// the bundle when a cell imports one of them (docs/lite.md, "Loading on demand").
    pub provides: Vec<String>,
    /// The roots its modules import from other bundles, which are loaded first.
    pub needs: Vec<String>,
}

/// Writes the bundle list into `dir` (the archives' folder, later the prefix's `bin/`).
pub fn write_bundle_list(dir: &Path, bundles: &[Bundle]) -> Result<()> {
    let list: Vec<_> = bundles
        .iter()
        .map(|b| {
            json!({
                "file": b.file,
                "into": b.into,
                "files": b.files,
                "bytes": b.bytes,
                "provides": b.provides,
                "needs": b.needs,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&json!({ "bundles": list }))? + "\n";
    fs::write(dir.join(BUNDLE_LIST), text)?;
    Ok(())
}

/// The bundle list in `bin` and the archives it lists, each checked present; empty when there is
/// no list (a build without `--bundles`).
pub fn read_bundle_list(bin: &Path) -> Result<Vec<PathBuf>> {
    let list_path = bin.join(BUNDLE_LIST);
    if !list_path.is_file() {
        return Ok(Vec::new());
    }
    let at = list_path.display();
    let text = fs::read_to_string(&list_path).with_context(|| format!("cannot read {at}"))?;
    let list: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{at} is not valid JSON"))?;
    let mut files = vec![list_path.clone()];
    for b in list["bundles"].as_array().into_iter().flatten() {
        let name = b["file"]
            .as_str()
            .with_context(|| format!("{at}: a bundle without a \"file\""))?;
        ensure!(
            !name.contains('/') && !name.starts_with('.'),
            "{at}: bundle name {name:?} is not a plain file name"
        );
        let file = bin.join(name);
        ensure!(
            file.is_file(),
            "{at} lists {name}, which is not in {}\n  fix: cargo xtask build --bundles",
            bin.display()
        );
        files.push(file);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util;

    #[test]
    fn a_written_kernel_spec_reads_back_with_its_module_and_logos() {
        let dir = util::test_dir("prefix-contract-spec");
        let spec = KernelSpec {
            backend: Backend::Lean,
            lean_version: "4.28.0".into(),
        };
        let msg = format!("{:#}", spec.write(&dir, &dir).unwrap_err());
        assert!(msg.contains("bin/xlean.js"), "{msg}");

        fs::create_dir_all(dir.join(BIN_DIR)).unwrap();
        fs::write(kernel_module(&dir), "js").unwrap();
        fs::write(dir.join("bin/xlean.wasm"), "wasm").unwrap();
        spec.write(&dir, &dir).unwrap();
        let k = read_kernel(&dir).unwrap();
        assert_eq!(k.backend, Backend::Lean);
        assert_eq!(k.js, dir.join("bin/xlean.js"));
        assert_eq!(k.wasm, dir.join("bin/xlean.wasm"));
        assert_eq!(k.argv0, dir.join("bin/xlean").display().to_string());
        assert_eq!(
            (k.display_name.as_str(), k.lean_version.as_str()),
            ("Lean 4.28.0", "4.28.0")
        );
        for logo in LOGOS {
            assert!(dir.join(KERNEL_SPEC_DIR).join(logo).is_file(), "{logo}");
        }
    }

    #[test]
    fn a_prefix_without_a_proper_kernel_is_refused_with_the_fix() {
        let dir = util::test_dir("prefix-contract-read");
        let msg = format!("{:#}", read_kernel(&dir).unwrap_err());
        util::assert_contains(&msg, &["no kernel installed", "cargo xtask build"]);

        fs::create_dir_all(dir.join(KERNEL_SPEC_DIR)).unwrap();
        let write = |argv0: &str, backend: &str| {
            let json = json!({ "argv": [argv0], "metadata": {"xlean": {"backend": backend}} });
            fs::write(kernel_json(&dir), json.to_string()).unwrap();
        };
        let refused = |want: &str| {
            let msg = format!("{:#}", read_kernel(&dir).unwrap_err());
            util::assert_contains(&msg, &[want, FIX_INSTALL]);
        };
        fs::write(kernel_json(&dir), "{").unwrap();
        refused("is not valid JSON");
        write("bin/xlean", "test");
        refused("argv[0] `bin/xlean` is relative, not an absolute path");
        let argv0 = dir.join("bin/xlean").display().to_string();
        write(&format!("{argv0}.js"), "test");
        refused("has an extension");
        write(&argv0, "python");
        refused("metadata.xlean.backend is \"python\"");
        write(&argv0, "test");
        refused("xlean.js, named by argv[0], is missing");

        fs::create_dir_all(dir.join(BIN_DIR)).unwrap();
        fs::write(dir.join("bin/xlean.js"), "").unwrap();
        refused("the kernel's wasm");
        fs::write(dir.join("bin/xlean.wasm"), "").unwrap();
        let k = read_kernel(&dir).unwrap();
        assert_eq!(k.backend, Backend::Test);
        assert_eq!(k.js, dir.join("bin/xlean.js"));
        assert_eq!(k.display_name, "xlean");
    }

    #[test]
    fn a_bundle_list_reads_back_its_files_and_refuses_a_missing_or_odd_one() {
        let dir = util::test_dir("prefix-contract-bundles");
        assert!(read_bundle_list(&dir).unwrap().is_empty());
        let bundle = |file: &str| Bundle {
            file: file.into(),
            into: "/lib/lean".into(),
            files: 2,
            bytes: 10,
            provides: vec!["Std".into()],
            needs: Vec::new(),
        };
        write_bundle_list(&dir, &[bundle("xlean-std.tar.gz")]).unwrap();
        let msg = format!("{:#}", read_bundle_list(&dir).unwrap_err());
        assert!(
            msg.contains("lists xlean-std.tar.gz, which is not in"),
            "{msg}"
        );
        fs::write(dir.join("xlean-std.tar.gz"), "gz").unwrap();
        assert_eq!(
            read_bundle_list(&dir).unwrap(),
            [dir.join(BUNDLE_LIST), dir.join("xlean-std.tar.gz")]
        );
        write_bundle_list(&dir, &[bundle("../escape.tar.gz")]).unwrap();
        let msg = format!("{:#}", read_bundle_list(&dir).unwrap_err());
        assert!(msg.contains("is not a plain file name"), "{msg}");
    }
}
