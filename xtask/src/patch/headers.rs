//! The headers upstream's CMake would generate, written into the patched copy for the wasm64 build.
//!
//! - `src/include/lean/version.h` from lean4's own `version.h.in`, filled with the tree's
//!   `LEAN_VERSION_*` lines from `src/CMakeLists.txt` and the platform target
//!   `wasm64-unknown-emscripten` (the prior art wrote a wasm32 triple into a wasm64 build);
//! - `src/include/lean/config.h` from `config.h.in`: no mimalloc, no small allocator, no lazy RC,
//!   not stage0;
//! - `src/githash.h` from `githash.h.in`: the commit of the pinned tag, or of the user's checkout.
//!
//! Templates are filled strictly: an `@VAR@` we do not know is an error naming the variable, so a
//! new upstream variable is never silently left empty.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};

use super::engine::Tree;

pub const PLATFORM_TARGET: &str = "wasm64-unknown-emscripten";

/// The version a lean4 tree declares in `src/CMakeLists.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeanVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    pub is_release: bool,
    /// `LEAN_SPECIAL_VERSION_DESC`, e.g. `rc1` or `nightly-2026-01-01`; empty for a release.
    pub special: String,
}

impl LeanVersion {
    /// The string upstream's CMake computes: `4.28.0`, `4.28.0-rc1`, `4.29.0-pre`.
    pub fn string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.special.is_empty() {
            s.push('-');
            s.push_str(&self.special);
        } else if !self.is_release {
            s.push_str("-pre");
        }
        s
    }

    /// The release tag this version corresponds to (`v4.28.0`, `v4.28.0-rc1`), if it is one.
    pub fn tag(&self) -> Option<String> {
        (self.is_release || self.special.starts_with("rc")).then(|| format!("v{}", self.string()))
    }
}

/// Reads `set(LEAN_VERSION_MAJOR 4 ...)`-style lines (either `set(X 4)` or
/// `set(X 4 CACHE STRING "")`, values bare or quoted).
pub fn parse_cmake_version(cmake: &str) -> Result<LeanVersion> {
    let number = |var: &str| -> Result<u32> {
        let v = cmake_set_value(cmake, var)
            .with_context(|| format!("src/CMakeLists.txt has no `set({var} ...)` line"))?;
        v.parse()
            .with_context(|| format!("src/CMakeLists.txt: {var} = `{v}` is not a number"))
    };
    Ok(LeanVersion {
        major: number("LEAN_VERSION_MAJOR")?,
        minor: number("LEAN_VERSION_MINOR")?,
        patch: number("LEAN_VERSION_PATCH")?,
        is_release: number("LEAN_VERSION_IS_RELEASE")? != 0,
        special: cmake_set_value(cmake, "LEAN_SPECIAL_VERSION_DESC").unwrap_or_default(),
    })
}

/// The value of the first `set(<var> value …)`; `None` also when its quote is not closed.
fn cmake_set_value(cmake: &str, var: &str) -> Option<String> {
    let value = cmake.lines().find_map(|line| {
        let rest = (line.trim_start().strip_prefix("set(")?.trim_start()).strip_prefix(var)?;
        rest.starts_with(char::is_whitespace)
            .then(|| rest.trim_start())
    })?;
    match value.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map(|end| quoted[..end].to_string()),
        None => Some(value[..value.find([' ', '\t', ')']).unwrap_or(value.len())].to_string()),
    }
}

#[derive(Debug, Clone)]
pub struct HeaderInputs {
    pub version: LeanVersion,
    pub githash: String,
}

/// The templates and outputs, relative to the tree root. lean4 has kept `version.h.in` in two
/// places over time; the first that exists is used.
const VERSION_TEMPLATES: &[&str] = &["src/include/lean/version.h.in", "src/version.h.in"];
const CONFIG_TEMPLATES: &[&str] = &["src/include/lean/config.h.in", "src/config.h.in"];
const GITHASH_TEMPLATES: &[&str] = &["src/githash.h.in"];
pub const VERSION_H: &str = "src/include/lean/version.h";
pub const CONFIG_H: &str = "src/include/lean/config.h";
pub const GITHASH_H: &str = "src/githash.h";

/// Generates the three headers from the templates in `tree`. Returns (path, contents) pairs.
pub fn generate(tree: &mut Tree, inputs: &HeaderInputs) -> Result<Vec<(&'static str, String)>> {
    let v = &inputs.version;
    let version_string = v.string();
    let manual_root = if v.is_release {
        format!("https://lean-lang.org/doc/reference/{version_string}/")
    } else {
        String::new()
    };
    let version_vars = BTreeMap::from([
        ("LEAN_VERSION_MAJOR", v.major.to_string()),
        ("LEAN_VERSION_MINOR", v.minor.to_string()),
        ("LEAN_VERSION_PATCH", v.patch.to_string()),
        (
            "LEAN_VERSION_IS_RELEASE",
            u8::from(v.is_release).to_string(),
        ),
        ("LEAN_SPECIAL_VERSION_DESC", v.special.clone()),
        ("LEAN_VERSION_STRING", version_string),
        ("LEAN_PLATFORM_TARGET", PLATFORM_TARGET.to_string()),
        ("LEAN_MANUAL_ROOT", manual_root),
        // Older templates: only used when no git hash is known, which never happens here.
        ("LEAN_PACKAGE_VERSION", String::new()),
    ]);
    let config_vars = BTreeMap::from([
        // No mimalloc: emscripten's allocator (a wasm64 mimalloc is not part of this build).
        ("LEAN_MIMALLOC", String::new()),
        ("LEAN_SMALL_ALLOCATOR", String::new()),
        ("LEAN_LAZY_RC", String::new()),
        ("LEAN_IS_STAGE0", "#define LEAN_IS_STAGE0 0".to_string()),
    ]);
    let githash_vars = BTreeMap::from([("GIT_SHA1", inputs.githash.clone())]);

    let mut out = Vec::new();
    for (templates, output, vars) in [
        (VERSION_TEMPLATES, VERSION_H, &version_vars),
        (CONFIG_TEMPLATES, CONFIG_H, &config_vars),
        (GITHASH_TEMPLATES, GITHASH_H, &githash_vars),
    ] {
        let (template_path, template) = find_template(tree, templates)?;
        let text = fill_template(&template, vars)
            .with_context(|| format!("filling {template_path} to make {output}"))?;
        out.push((output, text));
    }
    let version_h = &out[0].1;
    if version_h.contains("LEAN_PLATFORM_TARGET") {
        ensure!(
            version_h.contains(&format!("\"{PLATFORM_TARGET}\"")),
            "generated {VERSION_H} does not name the platform target {PLATFORM_TARGET}"
        );
    }
    Ok(out)
}

fn find_template(tree: &mut Tree, candidates: &[&str]) -> Result<(String, String)> {
    for path in candidates {
        if let Some(text) = tree.read(path)? {
            return Ok((path.to_string(), text.to_string()));
        }
    }
    bail!(
        "{}: no header template found (looked for {})\n  \
         fix: lean4 moved its templates; teach xtask/src/patch/headers.rs the new path",
        tree.root().display(),
        candidates.join(", ")
    )
}

/// Replaces every `@NAME@` with its value; any unknown `@NAME@` is an error.
pub fn fill_template(template: &str, vars: &BTreeMap<&str, String>) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut unknown = Vec::new();
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('@') {
            let name = &after[..name_len];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => unknown.push(name.to_string()),
            }
            rest = &after[name_len + 1..];
        } else {
            out.push('@');
            rest = after;
        }
    }
    out.push_str(rest);
    ensure!(
        unknown.is_empty(),
        "the template uses variables this build does not know: {}\n  \
         fix: decide their wasm64 values in xtask/src/patch/headers.rs",
        unknown.join(", ")
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_cmake_styles_parse() {
        let new_style = "set(LEAN_VERSION_MAJOR 4 CACHE STRING \"\")\nset(LEAN_VERSION_MINOR 28 CACHE STRING \"\")\n\
            set(LEAN_VERSION_PATCH 0 CACHE STRING \"\")\nset(LEAN_VERSION_IS_RELEASE 1 CACHE STRING \"\") # 1 in releases\n\
            set(LEAN_SPECIAL_VERSION_DESC \"\" CACHE STRING \"Additional version description\")\n";
        let v = parse_cmake_version(new_style).unwrap();
        assert_eq!(v.string(), "4.28.0");
        assert_eq!(v.tag().as_deref(), Some("v4.28.0"));
        let old_style =
            "set(LEAN_VERSION_MAJOR 4)\nset(LEAN_VERSION_MINOR 29)\nset(LEAN_VERSION_PATCH 0)\n\
            set(LEAN_VERSION_IS_RELEASE 0)\n";
        let v = parse_cmake_version(old_style).unwrap();
        assert_eq!(v.string(), "4.29.0-pre");
        assert_eq!(v.tag(), None);
        let rc =
            "set(LEAN_VERSION_MAJOR 4)\nset(LEAN_VERSION_MINOR 28)\nset(LEAN_VERSION_PATCH 0)\n\
            set(LEAN_VERSION_IS_RELEASE 1)\nset(LEAN_SPECIAL_VERSION_DESC rc1)\n";
        assert_eq!(
            parse_cmake_version(rc).unwrap().tag().as_deref(),
            Some("v4.28.0-rc1")
        );
        let err = parse_cmake_version("set(LEAN_VERSION_MAJOR 4)\n").unwrap_err();
        assert!(format!("{err:#}").contains("LEAN_VERSION_MINOR"));
    }

    #[test]
    fn templates_are_filled_strictly() {
        let vars = BTreeMap::from([("A", "1".to_string())]);
        assert_eq!(fill_template("x @A@ y@ z", &vars).unwrap(), "x 1 y@ z");
        let err = fill_template("#define B \"@B@\"\n", &vars).unwrap_err();
        assert!(format!("{err:#}").contains("B"));
    }
}
