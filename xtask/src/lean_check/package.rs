//! A Lean package on disk: its modules, their imports, the order they must be checked in.
//!
//! A module's name is its path relative to the package root with `/` → `.` and no `.lean`
//! (`XLean/Repl.lean` → `XLean.Repl`), as Lake names modules whose `srcDir` is the package root
//! and as `lean -R <root>` computes it. An import that names one of these files is ours (it is
//! checked first and its `.olean` is handed on); any other import is the host's library.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};

/// The first lines of a Lean file: `module`? `prelude`? then the imports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The file starts with `module` (the module system: `public import`, `public section`, …).
    pub is_module: bool,
    /// `prelude`: no implicit `import Init`.
    pub prelude: bool,
    /// Imported module names, in order (with `public`/`meta`/`all` dropped).
    pub imports: Vec<String>,
    /// Byte offset just after the header's last token (0 when there is no header).
    pub end: usize,
}

/// Reads the header the way Lean does: whitespace and comments (`--`, nested `/- -/`) are
/// skipped (doc comments `/-- -/`, `/-! -/` are commands: the header ends there); `module`, then `prelude`, then `[public] [meta] import [all] Name`, one module per
/// `import`. The header ends at the first token that is none of these.
pub fn parse_header(text: &str) -> Header {
    let mut tokens = Tokens { rest: text };
    let mut header = Header::default();
    let offset = |t: &Tokens| text.len() - t.rest.len();
    let mut tok = tokens.next();
    if tok == Some("module") {
        header.is_module = true;
        header.end = offset(&tokens);
        tok = tokens.next();
    }
    if tok == Some("prelude") {
        header.prelude = true;
        header.end = offset(&tokens);
        tok = tokens.next();
    }
    loop {
        let mut t = tok;
        for modifier in ["public", "meta"] {
            if t == Some(modifier) {
                t = tokens.next();
            }
        }
        if t != Some("import") {
            break;
        }
        let mut name = tokens.next();
        if name == Some("all") {
            name = tokens.next();
        }
        match name {
            Some(n) => {
                // `«Foo Bar».Baz` → `Foo Bar.Baz` (the name Lean means; used only to find our
                // own files).
                header.imports.push(n.replace(['«', '»'], ""));
                header.end = offset(&tokens);
            }
            None => break,
        }
        tok = tokens.next();
    }
    header
}

/// Whitespace-separated tokens of Lean source, comments skipped. Enough for a header: a module
/// name is one token (`«…»` parts may hold spaces).
struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn skip_trivia(&mut self) {
        loop {
            let s = self.rest.trim_start();
            if let Some(after) = s.strip_prefix("--") {
                self.rest = after.split_once('\n').map_or("", |(_, r)| r);
            } else if s.starts_with("/-") && !s.starts_with("/--") && !s.starts_with("/-!") {
                // A plain comment. (`/--` and `/-!` are doc comments: commands, so the header
                // has ended.)
                self.rest = skip_block_comment(s);
            } else {
                self.rest = s;
                return;
            }
        }
    }

    fn next(&mut self) -> Option<&'a str> {
        self.skip_trivia();
        if self.rest.is_empty() {
            return None;
        }
        let mut end = 0;
        let mut in_quote = false;
        for (i, c) in self.rest.char_indices() {
            match c {
                '«' => in_quote = true,
                '»' => in_quote = false,
                c if c.is_whitespace() && !in_quote => break,
                '-' if !in_quote && self.rest[i..].starts_with("--") => break,
                '/' if !in_quote && self.rest[i..].starts_with("/-") => break,
                _ => {}
            }
            end = i + c.len_utf8();
        }
        let (tok, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(tok)
    }
}

/// `s` starts with `/-`; returns what follows the matching `-/` (comments nest).
fn skip_block_comment(s: &str) -> &str {
    let mut depth = 0usize;
    let mut i = 0;
    let b = s.as_bytes();
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'-' {
            depth += 1;
            i += 2;
        } else if b[i] == b'-' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return &s[i..];
            }
        } else {
            i += 1;
        }
    }
    ""
}

/// One `.lean` file of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// Relative to the package root, with `/` separators (what Lean is given and prints).
    pub rel_path: String,
    pub path: PathBuf,
    pub text: String,
    pub header: Header,
    /// The imports that are modules of this package.
    pub own_imports: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Package {
    pub root: PathBuf,
    pub modules: BTreeMap<String, Module>,
    /// Lean options from `lakefile.toml` (`[leanOptions]` of the package, and `leanOptions` of
    /// the `[[lean_lib]]` whose name is the module's first component), as Lake passes them.
    pub options: LakeOptions,
}

/// Options Lake would pass to `lean` as `-Dname=value`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeOptions {
    pub package: Vec<(String, String)>,
    /// Library name → its own options.
    pub libs: BTreeMap<String, Vec<(String, String)>>,
}

impl LakeOptions {
    /// `-Dname=value` arguments for `module`: the package's, then its library's (which win).
    pub fn args_for(&self, module: &str) -> Vec<String> {
        let lib = module.split('.').next().unwrap_or(module);
        let mut merged: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in self
            .package
            .iter()
            .chain(self.libs.get(lib).into_iter().flatten())
        {
            merged.insert(k, v);
        }
        merged.iter().map(|(k, v)| format!("-D{k}={v}")).collect()
    }
}

/// `pp.all = true` in TOML is a table `pp` holding `all`: the option is `pp.all`.
fn flatten_options(
    t: &toml::Table,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) -> std::result::Result<(), (String, String)> {
    for (k, v) in t {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let value = match v {
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::String(s) => s.clone(),
            toml::Value::Table(inner) => {
                flatten_options(inner, &name, out)?;
                continue;
            }
            other => return Err((name, other.to_string())),
        };
        out.push((name, value));
    }
    Ok(())
}

/// Reads `leanOptions` from `<root>/lakefile.toml`. (A `lakefile.lean` is Lean code: its options
/// are not read, and lean-check says so.)
pub fn lake_options(root: &Path) -> Result<LakeOptions> {
    let file = root.join("lakefile.toml");
    let text = match fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LakeOptions::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", file.display()))?;
    let table_options = |t: &toml::Table, what: &str| -> Result<Vec<(String, String)>> {
        let Some(opts) = t.get("leanOptions") else {
            return Ok(Vec::new());
        };
        let opts = opts
            .as_table()
            .with_context(|| format!("{}: {what}.leanOptions is not a table", file.display()))?;
        let mut out = Vec::new();
        flatten_options(opts, "", &mut out).map_err(|(k, v)| {
            anyhow::anyhow!(
                "{}: {what}.leanOptions.{k} = {v} is not a bool, a number or a string",
                file.display()
            )
        })?;
        Ok(out)
    };
    let mut options = LakeOptions {
        package: table_options(&doc, "the package")?,
        libs: BTreeMap::new(),
    };
    if let Some(libs) = doc.get("lean_lib").and_then(|l| l.as_array()) {
        for lib in libs.iter().filter_map(|l| l.as_table()) {
            if let Some(name) = lib.get("name").and_then(|n| n.as_str()) {
                let opts = table_options(lib, &format!("[[lean_lib]] {name}"))?;
                options.libs.insert(name.to_string(), opts);
            }
        }
    }
    Ok(options)
}

impl Package {
    /// Every `.lean` file under `root` except Lake's configuration (`lakefile.lean`) and build
    /// folders (`.lake/`, `build/`, hidden folders).
    pub fn discover(root: &Path) -> Result<Package> {
        let root = crate::paths::absolute(root);
        let mut files = Vec::new();
        collect_lean_files(&root, &root, &mut files)?;
        let mut modules = BTreeMap::new();
        for rel in files {
            let path = root.join(&rel);
            let text = fs::read_to_string(&path)
                .with_context(|| format!("cannot read the Lean module {}", path.display()))?;
            let rel_path = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let name = rel_path.trim_end_matches(".lean").replace('/', ".");
            modules.insert(
                name.clone(),
                Module {
                    header: parse_header(&text),
                    name,
                    rel_path,
                    path,
                    text,
                    own_imports: Vec::new(),
                },
            );
        }
        let names: BTreeSet<String> = modules.keys().cloned().collect();
        for m in modules.values_mut() {
            m.own_imports = m
                .header
                .imports
                .iter()
                .filter(|i| names.contains(*i))
                .cloned()
                .collect();
        }
        let options = lake_options(&root)?;
        Ok(Package {
            root,
            modules,
            options,
        })
    }

    /// The module whose file is `file`, if `file` is in this package.
    pub fn module_of_file(&self, file: &Path) -> Option<&Module> {
        let file = crate::paths::absolute(file);
        self.modules.values().find(|m| m.path == file)
    }

    /// `selection` (all modules when empty) and every module of ours they import, directly or
    /// not, in an order where each module comes after its imports (ties by name). A cycle is an
    /// error that names its modules.
    pub fn check_order(&self, selection: &[String]) -> Result<Vec<String>> {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut stack: Vec<String> = if selection.is_empty() {
            self.modules.keys().cloned().collect()
        } else {
            selection.to_vec()
        };
        while let Some(name) = stack.pop() {
            let Some(m) = self.modules.get(&name) else {
                bail!("no module {name} in {}", self.root.display());
            };
            if wanted.insert(name) {
                stack.extend(m.own_imports.iter().cloned());
            }
        }
        let mut order: Vec<String> = Vec::new();
        while order.len() < wanted.len() {
            let left: Vec<&String> = wanted.iter().filter(|n| !order.contains(n)).collect();
            let ready: Vec<String> = (left.iter())
                .filter(|n| {
                    self.modules[**n]
                        .own_imports
                        .iter()
                        .all(|i| order.contains(i))
                })
                .map(|n| n.to_string())
                .collect();
            ensure!(
                !ready.is_empty(),
                "import cycle among the Lean modules {} in {}: Lean cannot check them",
                left.iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.root.display()
            );
            order.extend(ready);
        }
        Ok(order)
    }
}

fn collect_lean_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            // Folders that never hold the package's own modules.
            if !(name.starts_with('.') || name == "build" || name == "node_modules") {
                collect_lean_files(root, &path, out)?;
            }
        } else if name.ends_with(".lean") && !(dir == root && name == "lakefile.lean") {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// The package root of a single file: the nearest folder above it with a Lake configuration or
/// a `lean-toolchain`, else the file's own folder.
pub fn package_root_of(file: &Path) -> PathBuf {
    let file = crate::paths::absolute(file);
    let mut dir = file.parent();
    while let Some(d) = dir {
        if ["lakefile.lean", "lakefile.toml", "lean-toolchain"]
            .iter()
            .any(|f| d.join(f).is_file())
        {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    file.parent().unwrap_or(Path::new("/")).to_path_buf()
}
