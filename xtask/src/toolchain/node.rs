//! Finding a Node that can run what clang 19 emits for wasm64.
//!
//! Version numbers are not trusted: the probe instantiates a tiny module that has a 64-bit
//! memory AND a 64-bit table (clang 19's wasm64 output needs both; Node 20 rejects the table even
//! with `--experimental-wasm-memory64`) and runs an `i64`-addressed load.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::{
    fetch::artifact::{self, Store},
    paths::ToolCache,
    runner::Step,
};

/// The probe module, byte by byte (we write it by hand so the probe needs no toolchain).
const WASM64_PROBE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7e, // type section: () -> i64
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x04, 0x04, 0x01, 0x70, 0x04,
    0x01, // table section: funcref, limits flag 0x04 = i64 index, min 1
    0x05, 0x03, 0x01, 0x04,
    0x01, // memory section: limits flag 0x04 = i64 address, min 1 page
    0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // export "f" = function 0
    0x0a, 0x09, 0x01, 0x07, 0x00, // code section: one body of 7 bytes, no locals
    0x42, 0x00, // i64.const 0 (an i64 address)
    0x29, 0x03, 0x00, // i64.load align=8 offset=0
    0x0b, // end
];

/// The npm that belongs to the chosen Node, run as `node npm-cli.js`: never "whichever `npm` is
/// first on PATH". (The PyPI Node wheel ships `bin/npm` as a copy of a script that only works
/// as a symbolic link, so that file cannot be run at all.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Npm {
    pub node: PathBuf,
    /// `npm-cli.js` of the npm package.
    pub cli: PathBuf,
}

impl Npm {
    /// The npm of `node`: the one of its own distribution (`<prefix>/lib/node_modules/npm`, as
    /// in Node's release archives and the PyPI wheel), else the system npm, found by name and
    /// resolved to its `npm-cli.js` (Debian links `/usr/bin/npm` to it).
    pub fn for_node(node: &Path) -> Result<Npm> {
        let real = node.canonicalize().unwrap_or_else(|_| node.to_path_buf());
        let own = real
            .parent()
            .and_then(Path::parent)
            .map(|prefix| prefix.join("lib/node_modules/npm/bin/npm-cli.js"));
        let system = super::which("npm").and_then(|p| p.canonicalize().ok());
        let cli = own
            .into_iter()
            .chain(system)
            .find(|p| p.is_file() && p.file_name().is_some_and(|n| n == "npm-cli.js"))
            .with_context(|| {
                format!(
                    "no npm for {}: neither its own lib/node_modules/npm nor an `npm` on PATH \
                     that is npm-cli.js\n  fix: sudo apt-get install -y npm",
                    node.display()
                )
            })?;
        Ok(Npm {
            node: node.to_path_buf(),
            cli,
        })
    }

    /// `npm pack NAME@VERSION` with this npm into the download cache of `cache`, hash-checked
    /// against pins.lock ([`artifact::npm_pack`]).
    pub fn pack(&self, cache: &ToolCache, name: &str, version: &str) -> Result<PathBuf> {
        artifact::npm_pack(&Store::standard(cache), self.step(name), name, version)
    }

    /// `node npm-cli.js`, a step named for the package it packs.
    fn step(&self, package: &str) -> Step {
        Step::new(format!("npm-pack-{package}"), &self.node).arg(&self.cli)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProbe {
    /// `process.version` without the `v`, e.g. `24.19.0`.
    pub version: String,
    pub major: u32,
    /// `None` when the wasm64 module ran; otherwise the engine's error.
    pub wasm64_error: Option<String>,
}

/// Runs the probe with `node`. An error means the program could not be run at all.
pub fn probe(node: &Path) -> Result<NodeProbe> {
    let bytes: Vec<String> = WASM64_PROBE.iter().map(|b| b.to_string()).collect();
    let script = format!(
        "let r = {{ version: process.versions.node, error: null }};\n\
         try {{\n\
           const m = new WebAssembly.Module(new Uint8Array([{}]));\n\
           const i = new WebAssembly.Instance(m, {{}});\n\
           if (i.exports.f() !== 0n) throw new Error('wrong result from an i64-addressed load');\n\
         }} catch (e) {{ r.error = String(e && e.message || e); }}\n\
         console.log(JSON.stringify(r));",
        bytes.join(",")
    );
    let out = crate::runner::cmd(node).arg("-e").arg(&script).output()?;
    if !out.status.success() {
        bail!(
            "{} -e <wasm64 probe> failed ({}): {}",
            node.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("unexpected output from the wasm64 probe: {stdout}"))?;
    let version = v["version"].as_str().unwrap_or_default().to_string();
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Ok(NodeProbe {
        version,
        major,
        wasm64_error: v["error"].as_str().map(str::to_string),
    })
}

/// Probes `node` and judges it: the probe, or what was found (`missing` when it cannot run at
/// all) and why it is not good enough.
pub fn usable(node: &Path, min_major: u32) -> Result<NodeProbe, (String, String)> {
    let p = probe(node).map_err(|e| ("missing".to_string(), format!("{e:#}")))?;
    verdict(&p, min_major).map_err(|why| (p.version.clone(), why))?;
    Ok(p)
}

/// Whether a probed Node is good enough, and if not, why.
pub fn verdict(p: &NodeProbe, min_major: u32) -> Result<(), String> {
    if p.major < min_major {
        return Err(format!(
            "Node {} is older than the required major {min_major}",
            p.version
        ));
    }
    if let Some(e) = &p.wasm64_error {
        return Err(format!(
            "Node {} cannot run wasm64 with a 64-bit table: {e}",
            p.version
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From nothing: an empty downloads folder, packed with the npm the record names (never the
    /// first on PATH), verified against the pinned hash, and unpacked.
    #[test]
    fn the_recorded_npm_packs_a_pinned_tarball_into_an_empty_cache() {
        use crate::{
            fetch::artifact::Store,
            pins::{Lock, Pins},
            util,
        };
        let Some(tc) = crate::toolchain::for_tests() else {
            return;
        };
        let dir = util::test_dir("npm-pack-from-nothing");
        let store = Store {
            downloads: dir.join("downloads"),
            lock: dir.join("pins.lock"),
        };
        std::fs::copy(Lock::path(), &store.lock).unwrap();
        let version = Pins::load().unwrap().emscripten.acorn;
        let tgz = artifact::npm_pack(&store, tc.npm.step("acorn"), "acorn", &version).unwrap();
        assert_eq!(tgz, dir.join(format!("downloads/npm/acorn-{version}.tgz")));
        assert!(!dir
            .join(format!("downloads/npm/acorn-{version}.tgz.partial"))
            .exists());
        // Recorded hashes are verified, not rewritten: the lock file is unchanged.
        assert_eq!(
            std::fs::read(&store.lock).unwrap(),
            std::fs::read(Lock::path()).unwrap()
        );
        let unpacked = dir.join("acorn");
        let out = artifact::unpack_npm(&tgz, &unpacked).unwrap();
        assert!(unpacked.join("package.json").is_file());
        assert!(out.files > 1);
    }

    #[test]
    fn the_probe_module_is_valid_wasm64() {
        // wasmparser with the memory64 feature accepts it; without it, it is rejected: so the
        // module really exercises 64-bit memory and table.
        use wasmparser::{Validator, WasmFeatures};
        let mut with =
            Validator::new_with_features(WasmFeatures::default() | WasmFeatures::MEMORY64);
        with.validate_all(WASM64_PROBE)
            .expect("valid with memory64");
        let mut without =
            Validator::new_with_features(WasmFeatures::default() - WasmFeatures::MEMORY64);
        assert!(without.validate_all(WASM64_PROBE).is_err());
    }

    /// What a probe of Node `version` (`major.minor.patch`) would say.
    fn probed(version: &str, wasm64_error: Option<&str>) -> NodeProbe {
        NodeProbe {
            version: version.into(),
            major: version.split('.').next().unwrap().parse().unwrap(),
            wasm64_error: wasm64_error.map(Into::into),
        }
    }

    #[test]
    fn verdict_names_the_reason() {
        assert!(verdict(&probed("20.20.2", None), 22)
            .unwrap_err()
            .contains("older than the required major 22"));
        assert!(
            verdict(&probed("22.1.0", Some("invalid table limits flags")), 22)
                .unwrap_err()
                .contains("cannot run wasm64")
        );
        assert!(verdict(&probed("24.19.0", None), 22).is_ok());
    }

    #[test]
    fn the_system_node_is_probed_for_real() {
        // Whatever node is on PATH (Node 20 on a fresh machine of this kind), the probe must
        // run and give a verdict that agrees with its version: Node < 24 has no 64-bit tables.
        let Some(node) = super::super::which("node") else {
            eprintln!("SKIPPED: no `node` on PATH (install nodejs to run this probe test)");
            return;
        };
        let p = probe(&node).unwrap();
        assert!(p.major > 0, "{p:?}");
        if p.major < 24 {
            assert!(
                p.wasm64_error.is_some(),
                "Node {} should fail the 64-bit table probe",
                p.version
            );
        }
    }
}
