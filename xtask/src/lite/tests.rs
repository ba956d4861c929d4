//! Tests of `cargo xtask lite`: the prefix contract, the server, our lite sources (pure Rust);
//! the offline site build (the real `jupyter lite build` from the toolchain's venv, over a prefix
//! with a stand-in module); the test kernel in headless Chromium (real kernel, real browser).

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::{
    browser,
    contract::check_prefix,
    extension,
    precompress::{precompress_site, Precompressed, MIN_BYTES},
    server::{
        accepts, content_type, http_date, is_content_hashed, refilled, resolve, wait_for, Resolved,
        Server, Shaping, IMMUTABLE, REVALIDATE,
    },
    site::{build_site, tree_size, verify_site, LiteSources, SiteOptions},
};
use crate::{
    build::prefix::install,
    gate::{self, Need},
    kernel,
    pins::Pins,
    prefix::{kernel_json, Backend, KernelSpec},
    toolchain::{self, Route, Toolchain},
    util,
};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A prefix made the way `cargo xtask build` makes one, around a stand-in module: a small file
/// with the wasm header (it stands in for the kernel's `xlean.wasm`, which only the browser test
/// needs to be real). Returns the prefix link.
fn stand_in_prefix(dir: &Path, name: &str) -> PathBuf {
    let module_dir = dir.join("module");
    fs::create_dir_all(&module_dir).unwrap();
    let js = module_dir.join("xlean.js");
    fs::write(&js, "var createXeusModule = undefined; // stand-in\n").unwrap();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.resize(4096, 0);
    fs::write(module_dir.join("xlean.wasm"), wasm).unwrap();
    let prefix = dir.join(name);
    install(&prefix, &[js], Some(&test_spec())).unwrap();
    prefix
}

fn test_spec() -> KernelSpec {
    KernelSpec {
        backend: Backend::Test,
        lean_version: "4.28.0".into(),
    }
}

/// Rewrites the prefix's kernel.json with `edit`.
fn edit_kernel_json(prefix: &Path, edit: impl FnOnce(&mut Value)) {
    let path = kernel_json(prefix);
    let mut spec: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut spec);
    fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
}

/// The install prefix is a link into `<prefix>.d/`: the files to break live there.
fn real_dir(prefix: &Path) -> PathBuf {
    fs::canonicalize(prefix).unwrap()
}

/// Checks that the contract refuses `prefix` with a message that holds each of `want`.
fn assert_refused(prefix: &Path, want: &[&str]) {
    util::assert_contains(&error_of(check_prefix(prefix)), want);
}

fn error_of<T: std::fmt::Debug>(r: anyhow::Result<T>) -> String {
    format!("{:#}", r.unwrap_err())
}

/// A toolchain record that names nothing: for code paths that must fail before using it.
fn no_toolchain() -> Toolchain {
    let nowhere = PathBuf::from("/nonexistent/xlean-test");
    Toolchain {
        route: Route::Debian,
        emscripten_dir: nowhere.clone(),
        em_config: nowhere.clone(),
        em_cache: nowhere.clone(),
        llvm_bin: nowhere.clone(),
        node: nowhere.clone(),
        npm: toolchain::node::Npm {
            node: nowhere.clone(),
            cli: nowhere.clone(),
        },
        venv: nowhere.clone(),
        cmake: nowhere.clone(),
        cache: crate::paths::ToolCache {
            root: nowhere.clone(),
        },
        ninja: nowhere,
    }
}

fn options(dir: &Path, prefix: &Path) -> SiteOptions {
    SiteOptions {
        prefix: prefix.to_path_buf(),
        output: dir.join("site"),
        work: dir.join("work"),
        gz_cache: dir.join("site-gz"),
        logs: dir.join("logs"),
        lab_extension: dir.join("lab-extension"),
        stamps: dir.join("stamps"),
    }
}

// ---------------------------------------------------------------------------------------------
// The prefix contract

#[test]
fn a_complete_prefix_passes_the_contract() {
    let dir = util::test_dir("lite-contract-ok");
    let prefix = stand_in_prefix(&dir, "prefix");
    let checked = check_prefix(&prefix).unwrap();
    assert_eq!(checked.env_name, "prefix");
    let k = checked.kernel;
    assert_eq!(k.backend, Backend::Test);
    assert_eq!(k.js, prefix.join("bin/xlean.js"));
    assert_eq!(k.wasm, prefix.join("bin/xlean.wasm"));
    assert!(
        k.display_name.contains("test backend"),
        "{}",
        k.display_name
    );
}

#[test]
fn a_broken_prefix_is_refused_naming_the_file_and_the_fix() {
    let dir = util::test_dir("lite-contract-broken");
    let fix = "cargo xtask build";

    // Nothing there at all.
    assert_refused(&dir.join("absent"), &["no install prefix at", fix]);

    // A dot-prefixed name: refused before anything else is looked at.
    assert_refused(
        &dir.join(".hidden-prefix"),
        &["starting with a dot", "xeus/.hidden-prefix/"],
    );

    // A relative prefix.
    assert_refused(Path::new("build/prefix"), &["is relative"]);

    // argv[0] relative: the add-on would drop the kernel with a mere warning.
    let p = stand_in_prefix(&dir, "relative-argv");
    edit_kernel_json(&p, |s| s["argv"] = json!(["bin/xlean"]));
    assert_refused(&p, &["argv[0] `bin/xlean` is relative", "kernel.json", fix]);

    // argv[0] with the extension the add-on appends itself.
    let p = stand_in_prefix(&dir, "argv-extension");
    let with_js = format!("{}.js", p.join("bin/xlean").display());
    edit_kernel_json(&p, |s| s["argv"] = json!([with_js]));
    assert_refused(&p, &["has an extension"]);

    // The wasm is missing.
    let p = stand_in_prefix(&dir, "no-wasm");
    fs::remove_file(real_dir(&p).join("bin/xlean.wasm")).unwrap();
    assert_refused(&p, &["the kernel's wasm", "xlean.wasm", "missing"]);

    // Not a wasm module (an LFS pointer, an HTML error page...).
    let p = stand_in_prefix(&dir, "not-wasm");
    fs::write(
        real_dir(&p).join("bin/xlean.wasm"),
        "version https://git-lfs",
    )
    .unwrap();
    assert_refused(&p, &["is not a WebAssembly module"]);

    // argv[0] names another prefix's module (this one was copied after install).
    let other = stand_in_prefix(&dir, "other");
    let p = stand_in_prefix(&dir, "copied");
    let elsewhere = other.join("bin/xlean").display().to_string();
    edit_kernel_json(&p, |s| s["argv"] = json!([elsewhere]));
    assert_refused(&p, &["is not this prefix's bin/xlean"]);

    // conda-meta/history is missing.
    let p = stand_in_prefix(&dir, "no-history");
    fs::remove_file(real_dir(&p).join("conda-meta/history")).unwrap();
    assert_refused(&p, &["conda-meta/history is missing"]);

    // No backend named.
    let p = stand_in_prefix(&dir, "no-backend");
    edit_kernel_json(&p, |s| s["metadata"] = json!({}));
    assert_refused(&p, &["metadata.xlean.backend is missing"]);

    // A kernel.json that is not JSON.
    let p = stand_in_prefix(&dir, "bad-json");
    fs::write(kernel_json(&real_dir(&p)), "{").unwrap();
    assert_refused(&p, &["is not valid JSON"]);
}

#[test]
fn a_refused_prefix_leaves_no_site_and_keeps_the_old_one() {
    let dir = util::test_dir("lite-refused");
    let p = stand_in_prefix(&dir, "no-wasm");
    fs::remove_file(real_dir(&p).join("bin/xlean.wasm")).unwrap();
    let opts = options(&dir, &p);

    // No site yet: none is made.
    let msg = error_of(build_site(&no_toolchain(), &opts));
    assert!(msg.contains("missing"), "{msg}");
    assert!(!opts.output.exists());
    assert!(!util::partial_path(&opts.output).exists());

    // An old site stays as it was.
    fs::create_dir_all(&opts.output).unwrap();
    fs::write(opts.output.join("jupyter-lite.json"), "{}").unwrap();
    assert!(build_site(&no_toolchain(), &opts).is_err());
    assert_eq!(
        fs::read_to_string(opts.output.join("jupyter-lite.json")).unwrap(),
        "{}"
    );
}

#[test]
fn an_output_dir_that_is_not_a_site_is_never_replaced() {
    let dir = util::test_dir("lite-output");
    let p = stand_in_prefix(&dir, "prefix");
    let mut opts = options(&dir, &p);
    fs::create_dir_all(&opts.output).unwrap();
    fs::write(opts.output.join("thesis.tex"), "precious").unwrap();
    let msg = error_of(build_site(&no_toolchain(), &opts));
    assert!(msg.contains("is not a JupyterLite site"), "{msg}");
    assert_eq!(
        fs::read_to_string(opts.output.join("thesis.tex")).unwrap(),
        "precious"
    );
    // Nor a directory holding the prefix, or our sources.
    opts.output = dir.clone();
    let msg = error_of(build_site(&no_toolchain(), &opts));
    assert!(msg.contains("which it contains"), "{msg}");
    opts.output = LiteSources::standard().dir.parent().unwrap().to_path_buf();
    let msg = error_of(build_site(&no_toolchain(), &opts));
    assert!(msg.contains("which it contains"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Our lite sources

#[test]
fn the_sample_notebooks_are_lean_notebooks_for_the_xlean_kernel() {
    let sources = LiteSources::standard();
    let notebooks = sources.notebook_files().unwrap();
    let names: Vec<_> = notebooks
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["01-introduction.ipynb", "02-rich-display.ipynb"]);
    for nb in &notebooks {
        let doc: Value = serde_json::from_str(&fs::read_to_string(nb).unwrap()).unwrap();
        let what = nb.display();
        assert_eq!(doc["nbformat"], 4, "{what}");
        assert_eq!(doc["metadata"]["kernelspec"]["name"], "xlean", "{what}");
        assert_eq!(doc["metadata"]["kernelspec"]["language"], "lean4", "{what}");
        assert_eq!(doc["metadata"]["language_info"]["name"], "lean4", "{what}");
        let cells = doc["cells"].as_array().unwrap();
        let code: Vec<String> = cells
            .iter()
            .filter(|c| c["cell_type"] == "code")
            .map(|c| {
                assert_eq!(c["outputs"], json!([]), "{what}: shipped without outputs");
                c["source"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap())
                    .collect()
            })
            .collect();
        assert!(code.len() >= 5, "{what}: {} code cells", code.len());
        // Cell ids are unique (nbformat 4.5).
        let mut ids: Vec<_> = cells.iter().map(|c| c["id"].as_str().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), cells.len(), "{what}");
        // Real Lean, not the test backend's commands.
        assert!(code.iter().any(|c| c.contains("#eval")), "{what}");
        assert!(!code.iter().any(|c| c.starts_with("eval ")), "{what}");
    }
    let rich = fs::read_to_string(&notebooks[1]).unwrap();
    assert!(rich.contains("import XLean.Display"));
    let lite: Value =
        serde_json::from_str(&fs::read_to_string(sources.dir.join("jupyter-lite.json")).unwrap())
            .unwrap();
    assert_eq!(lite["jupyter-config-data"]["defaultKernelName"], "xlean");
}

/// The kernel's `language_info` as its source states it (lean-wasm/kernel/xlean_interpreter.cpp):
/// the CodeMirror mode and the Pygments lexer (the strings on the lines so commented) and the
/// MIME type (the `text/x-…` string).
fn kernel_language_info() -> (String, String, String) {
    let path = crate::paths::project_root().join("lean-wasm/kernel/xlean_interpreter.cpp");
    let cpp = fs::read_to_string(&path).unwrap();
    let quoted = |line: &str| line.split('"').nth(1).map(str::to_string);
    let on_line = |comment: &str| {
        cpp.lines()
            .find(|l| l.contains(comment))
            .and_then(quoted)
            .unwrap_or_else(|| panic!("{}: no string on the `{comment}` line", path.display()))
    };
    let mime = cpp
        .lines()
        .filter_map(quoted)
        .find(|s| s.starts_with("text/x-"))
        .unwrap_or_else(|| panic!("{}: no text/x- MIME type", path.display()));
    (
        on_line("// codemirror mode"),
        mime,
        on_line("// pygments lexer"),
    )
}

#[test]
fn the_extension_registers_the_language_the_kernel_reports() {
    let (mode, mime, _) = kernel_language_info();
    assert_eq!((mode.as_str(), mime.as_str()), ("lean4", "text/x-lean4"));
    let source = |f: &str| fs::read_to_string(extension::source_dir().join(f)).unwrap();
    // The registry entry (how a notebook finds the language from the kernel's language_info) and
    // the CodeMirror language's own name (what the editor shows as `data-language`).
    util::assert_contains(
        &source("index.js"),
        &[&format!("name: '{mode}'"), &format!("mime: '{mime}'")],
    );
    util::assert_contains(&source("lean.js"), &[&format!("name: '{mode}'")]);
    for f in extension::SOURCE_FILES {
        assert!(extension::source_dir().join(f).is_file(), "{f}");
    }
}

#[test]
fn the_extension_is_built_from_its_lock_and_its_tokenizer_passes_its_tests() {
    let Some(tc) = toolchain::for_tests() else {
        return;
    };
    let dir = util::test_dir("lite-extension");
    let (work, stamps, logs) = (dir.join("ext"), dir.join("stamps"), dir.join("logs"));
    let built = extension::build_extension(&tc, &work, &stamps, &logs).unwrap();
    assert!(built.join("package.json").is_file());
    let language = work.join("package/node_modules/@codemirror/language");
    let step = crate::node_test::step(&tc, "extension-test")
        .arg(crate::paths::project_root().join("jupyterlite/tests/extension.test.mjs"))
        .env("XLEAN_CODEMIRROR_LANGUAGE", &language)
        .log_dir(&logs);
    let (summary, output) = crate::node_test::run_tap_step(step, "the tokenizer test").unwrap();
    summary.ensure_passed().unwrap();
    assert!(summary.passed >= 4 && summary.skipped == 0, "{output}");
}

#[test]
fn the_kernels_pygments_lexer_resolves_in_the_venv() {
    let Some(tc) = toolchain::for_tests() else {
        return;
    };
    let (_, mime, lexer) = kernel_language_info();
    let script = "import sys; from pygments.lexers import get_lexer_by_name as get; \
                  l = get(sys.argv[1]); print(l.name, *l.mimetypes)";
    let found = tc
        .cmd(tc.python())
        .args(["-c", script, &lexer])
        .read()
        .unwrap();
    assert_eq!(found, format!("Lean4 {mime}"));
}

#[test]
fn the_extensions_npm_packages_are_the_sites_jupyterlab_singletons() {
    let Some(tc) = toolchain::for_tests() else {
        return;
    };
    let dir = util::test_dir("lite-core");
    extension::extract_lab_package_json(&extension::lite_app_archive(&tc.venv).unwrap(), &dir)
        .unwrap();
    let core: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    let ours: Value = serde_json::from_str(
        &fs::read_to_string(extension::source_dir().join("package.json")).unwrap(),
    )
    .unwrap();
    let singletons = core["jupyterlab"]["singletonPackages"].as_array().unwrap();
    let deps = ours["dependencies"].as_object().unwrap();
    assert!(!deps.is_empty());
    for (name, version) in deps {
        // Shared with the site, never bundled: one CodeMirror, one language registry.
        assert!(
            singletons.iter().any(|s| s == name),
            "{name} is no singleton"
        );
        // The site's range is `~X.Y.Z`: ours is that X.Y, at Z or later.
        let range = core["resolutions"][name].as_str().unwrap();
        let (want, ours) = (range.trim_start_matches('~'), version.as_str().unwrap());
        let split = |v: &str| -> Vec<u64> { v.split('.').map(|n| n.parse().unwrap()).collect() };
        let (w, o) = (split(want), split(ours));
        assert!(
            w[..2] == o[..2] && o[2] >= w[2],
            "{name} {ours} is not in the site's {range}: update jupyterlite/extension \
             (docs/lite.md)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The server

/// One raw HTTP exchange (the target is sent exactly as given: no client normalises `..`).
fn raw_get(url_base: &str, request: &str) -> (u16, String, Vec<u8>) {
    let addr = url_base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(all[..split].to_vec()).unwrap();
    let body = all[split + 4..].to_vec();
    let status = head[9..12].parse().unwrap();
    (status, head, body)
}

fn get(base: &str, target: &str) -> (u16, String, Vec<u8>) {
    raw_get(
        base,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn the_server_serves_the_site_with_the_right_types_and_no_isolation_headers() {
    let dir = util::test_dir("lite-server");
    let root = dir.join("site");
    fs::create_dir_all(root.join("lab")).unwrap();
    fs::write(root.join("index.html"), "<p>root</p>").unwrap();
    fs::write(root.join("lab/index.html"), "<p>lab</p>").unwrap();
    let wasm: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(root.join("lab/kernel.wasm"), &wasm).unwrap();
    fs::write(root.join("a b.json"), "{}").unwrap();
    fs::write(dir.join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("link.txt")).unwrap();

    let server = Server::bind(&root, 0).unwrap();
    let url = server.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let running = server.spawn();

    let (status, head, body) = get(&url, "/lab/kernel.wasm?v=3");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), Some("application/wasm"));
    assert_eq!(body, wasm);
    for (name, _) in [
        ("cross-origin-opener-policy", ()),
        ("cross-origin-embedder-policy", ()),
    ] {
        assert!(header(&head, name).is_none(), "{head}");
    }

    let (status, head, body) = get(&url, "/");
    assert_eq!((status, body.as_slice()), (200, b"<p>root</p>".as_slice()));
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let (status, head, _) = get(&url, "/lab?x=1");
    assert_eq!(status, 301);
    assert_eq!(header(&head, "location"), Some("/lab/?x=1"));
    let (status, _, body) = get(&url, "/lab/");
    assert_eq!((status, body.as_slice()), (200, b"<p>lab</p>".as_slice()));
    let (status, head, _) = get(&url, "/a%20b.json");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), Some("application/json"));

    // Out of the root: `..` plain or encoded, backslashes, links; nothing outside is read.
    for target in [
        "/../secret.txt",
        "/lab/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/lab/%2E%2E%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/lab/./index.html",
        "/%zz",
        "secret.txt",
    ] {
        let (status, _, body) = get(&url, target);
        assert_eq!(status, 400, "{target}");
        assert!(
            !String::from_utf8_lossy(&body).contains("outside"),
            "{target}"
        );
    }
    let (status, _, body) = get(&url, "/link.txt");
    assert_eq!(status, 403);
    assert!(!String::from_utf8_lossy(&body).contains("outside"));
    assert_eq!(get(&url, "/missing.js").0, 404);

    // HEAD: the head only; other methods: refused.
    let (status, head, body) = raw_get(
        &url,
        "HEAD /lab/kernel.wasm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-length"), Some("200000"));
    assert!(body.is_empty());
    let (status, _, _) = raw_get(
        &url,
        "POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);

    // Keep-alive: two requests on one connection.
    let (status, _, body) = raw_get(
        &url,
        "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /lab/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    util::assert_contains(&text, &["<p>root</p>", "<p>lab</p>"]);

    drop(running);
    // Stopped: the port no longer answers.
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    assert!(TcpStream::connect(addr)
        .map(|mut s| {
            let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n");
            let mut b = [0u8; 1];
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            matches!(s.read(&mut b), Ok(0) | Err(_))
        })
        .unwrap_or(true));
}

/// `GET target` with extra request headers, on a connection of its own.
fn get_with(base: &str, target: &str, headers: &str) -> (u16, String, Vec<u8>) {
    raw_get(
        base,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"),
    )
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn the_shaping_bucket_fills_at_the_bandwidth_and_makes_a_debt_wait() {
    let mbit_20 = 20e6 / 8.0; // bytes per second
                              // 0.1 s at 20 Mbit/s is 250,000 bytes, but an idle link saves up only one 16 KiB chunk.
    assert_eq!(refilled(0.0, mbit_20, Duration::from_millis(1)), 2500.0);
    assert_eq!(
        refilled(-300_000.0, mbit_20, Duration::from_millis(100)),
        -50_000.0
    );
    assert_eq!(refilled(0.0, mbit_20, Duration::from_millis(100)), 16_384.0);
    // A debt of 250,000 bytes is 0.1 s of the link; tokens in hand mean no wait.
    assert_eq!(wait_for(-250_000.0, mbit_20), Duration::from_millis(100));
    assert_eq!(wait_for(5.0, mbit_20), Duration::ZERO);
}

#[test]
fn the_server_shaped_sends_no_faster_than_its_bandwidth_and_rtt() {
    let dir = util::test_dir("lite-server-shaped");
    let root = dir.join("site");
    fs::create_dir_all(&root).unwrap();
    let body: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 253) as u8).collect();
    fs::write(root.join("big.bin"), &body).unwrap();
    let mut server = Server::bind(&root, 0).unwrap();
    // 1 Mbit/s: 64 KiB take 0.52 s, less the one chunk a fresh link holds (0.13 s).
    server.shaping = Some(Shaping {
        mbit: 1.0,
        rtt_ms: 50,
    });
    let running = server.spawn();
    let started = Instant::now();
    let (status, _, got) = get(&running.url, "/big.bin");
    let took = started.elapsed().as_secs_f64();
    assert_eq!((status, got.len()), (200, body.len()));
    assert_eq!(got, body);
    // A lower bound only: a slow machine makes it longer, never shorter.
    let minimum = (body.len() - 16 * 1024) as f64 * 8.0 / 1e6 + 0.05;
    assert!(took >= minimum, "{took:.3} s < {minimum:.3} s");
}

#[test]
fn the_server_sends_gzip_copies_validators_and_cache_lifetimes_by_name() {
    let dir = util::test_dir("lite-server-cache");
    let root = dir.join("site");
    fs::create_dir_all(root.join("bin")).unwrap();
    let wasm: Vec<u8> = b"\0asm\x01\0\0\0"
        .iter()
        .copied()
        .cycle()
        .take(50_000)
        .collect();
    fs::write(root.join("bin/k.wasm"), &wasm).unwrap();
    fs::write(root.join("index.html"), "<p>root</p>".repeat(200)).unwrap();
    fs::write(
        root.join("284.d7346201dd9bb8c9.js"),
        "let a = 1;".repeat(200),
    )
    .unwrap();
    let bundle = "xlean-std.0123456789abcdef.tar.gz";
    fs::write(root.join(bundle), b"\x1f\x8b stand-in archive").unwrap();
    let written = precompress_site(&root, &dir.join("site-gz")).unwrap();
    assert_eq!(written.files, 3, "{written:?}"); // the wasm, the page, the script
                                                 // A copy that leads out of the root is never sent.
    fs::write(dir.join("outside.gz"), b"outside").unwrap();
    fs::write(root.join("secret.txt"), "x".repeat(2000)).unwrap();
    std::os::unix::fs::symlink(dir.join("outside.gz"), root.join("secret.txt.gz")).unwrap();
    let running = Server::bind(&root, 0).unwrap().spawn();
    let url = running.url.clone();

    // gzip accepted: the copy, as gzip, with the original's type; the answer varies by encoding.
    let (status, head, body) = get_with(&url, "/bin/k.wasm", "Accept-Encoding: gzip, deflate\r\n");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));
    assert_eq!(header(&head, "content-type"), Some("application/wasm"));
    assert_eq!(header(&head, "vary"), Some("Accept-Encoding"));
    assert_eq!(header(&head, "cache-control"), Some(REVALIDATE));
    assert!(body.len() < wasm.len() / 10, "{} bytes", body.len());
    assert_eq!(gunzip(&body), wasm);
    let gz_tag = header(&head, "etag").unwrap().to_string();
    let last_modified = header(&head, "last-modified").unwrap().to_string();
    assert!(header(&head, "date").unwrap().ends_with(" GMT"), "{head}");

    // Not accepted (absent, or q=0): the file itself, under another tag.
    for accept in [
        "",
        "Accept-Encoding: identity\r\n",
        "Accept-Encoding: gzip;q=0, br\r\n",
    ] {
        let (status, head, body) = get_with(&url, "/bin/k.wasm", accept);
        assert_eq!((status, body.len()), (200, wasm.len()), "{accept}");
        assert!(header(&head, "content-encoding").is_none(), "{head}");
        assert_eq!(header(&head, "vary"), Some("Accept-Encoding"));
        assert_ne!(header(&head, "etag"), Some(gz_tag.as_str()));
    }

    // HEAD: the same head as GET, no body.
    let (status, head, body) = raw_get(
        &url,
        "HEAD /bin/k.wasm HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));
    assert_eq!(header(&head, "etag"), Some(gz_tag.as_str()));
    let gz_len = fs::metadata(root.join("bin/k.wasm.gz"))
        .unwrap()
        .len()
        .to_string();
    assert_eq!(header(&head, "content-length"), Some(gz_len.as_str()));

    // Revalidation: the tag or the date given back gives 304 without a body, and the
    // connection goes on (keep-alive); a stale tag gets the file.
    let conditional = format!(
        "GET /bin/k.wasm HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: \
         \"stale\", {gz_tag}\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\
         If-Modified-Since: {last_modified}\r\nConnection: close\r\n\r\n"
    );
    let (status, head, rest) = raw_get(&url, &conditional);
    assert_eq!(status, 304, "{head}");
    assert_eq!(header(&head, "etag"), Some(gz_tag.as_str()));
    assert_eq!(header(&head, "vary"), Some("Accept-Encoding"));
    assert!(header(&head, "content-length").is_none(), "{head}");
    let second = String::from_utf8_lossy(&rest);
    assert!(
        second.starts_with("HTTP/1.1 304 Not Modified\r\n"),
        "{second}"
    );
    let stale = get_with(&url, "/bin/k.wasm", "If-None-Match: \"stale\"\r\n");
    assert_eq!(stale.0, 200);
    let since = format!("If-Modified-Since: {last_modified}\r\n");
    assert_eq!(get_with(&url, "/index.html", &since).0, 304);
    assert_eq!(get_with(&url, "/index.html", "If-None-Match: *\r\n").0, 304);

    // Named after their content: kept for good. The bundle is gzip already: never encoded again.
    let (_, head, _) = get_with(
        &url,
        "/284.d7346201dd9bb8c9.js",
        "Accept-Encoding: gzip\r\n",
    );
    assert_eq!(header(&head, "cache-control"), Some(IMMUTABLE));
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));
    let (status, head, body) = get_with(&url, &format!("/{bundle}"), "Accept-Encoding: gzip\r\n");
    assert_eq!(
        (status, body.as_slice()),
        (200, fs::read(root.join(bundle)).unwrap().as_slice())
    );
    assert_eq!(header(&head, "cache-control"), Some(IMMUTABLE));
    assert_eq!(header(&head, "content-type"), Some("application/gzip"));
    assert!(header(&head, "content-encoding").is_none() && header(&head, "vary").is_none());
    let (_, head, _) = get(&url, "/index.html");
    assert_eq!(header(&head, "cache-control"), Some(REVALIDATE));

    // The linked copy outside the root is ignored: the file itself is sent.
    let (status, head, body) = get_with(&url, "/secret.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!((status, body.len()), (200, 2000));
    assert!(header(&head, "content-encoding").is_none(), "{head}");
}

#[test]
fn precompressed_copies_are_gzip_of_the_compressible_files_only() {
    let top = util::test_dir("lite-precompress");
    let (dir, cache) = (top.join("site"), top.join("site-gz"));
    let text = "const x = 1;\n".repeat(1000);
    fs::create_dir_all(dir.join("a/b")).unwrap();
    fs::write(dir.join("a/b/app.js"), &text).unwrap();
    // Compressible, but under the threshold.
    fs::write(dir.join("small.json"), " ".repeat(MIN_BYTES as usize - 1)).unwrap();
    fs::write(dir.join("logo.png"), vec![7u8; 4096]).unwrap();
    fs::write(
        dir.join("xlean-std.0123456789abcdef.tar.gz"),
        vec![7u8; 4096],
    )
    .unwrap();
    // Random bytes: gzip would make them larger, so no copy.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    fs::write(dir.join("noise.wasm"), &noise).unwrap();
    let done = precompress_site(&dir, &cache).unwrap();
    assert_eq!((done.files, done.reused), (1, 0), "{done:?}");
    assert_eq!(done.raw_bytes, text.len() as u64);
    let gz = fs::read(dir.join("a/b/app.js.gz")).unwrap();
    assert_eq!(done.gz_bytes, gz.len() as u64);
    assert_eq!(gunzip(&gz), text.as_bytes());
    for absent in ["small.json.gz", "logo.png.gz", "noise.wasm.gz"] {
        assert!(!dir.join(absent).exists(), "{absent}");
    }
    assert!(!dir.join("xlean-std.0123456789abcdef.tar.gz.gz").exists());
    // A link where a copy goes is replaced, never written through.
    fs::write(dir.join("elsewhere"), "keep").unwrap();
    fs::remove_file(dir.join("a/b/app.js.gz")).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("a/b/app.js.gz")).unwrap();
    precompress_site(&dir, &cache).unwrap();
    assert_eq!(fs::read_to_string(dir.join("elsewhere")).unwrap(), "keep");
    assert!(!fs::symlink_metadata(dir.join("a/b/app.js.gz"))
        .unwrap()
        .is_symlink());
    // The same input, the same bytes (no name or date in the header), compressed afresh.
    fs::remove_file(dir.join("a/b/app.js.gz")).unwrap();
    util::remove_any(&cache).unwrap();
    precompress_site(&dir, &cache).unwrap();
    assert_eq!(fs::read(dir.join("a/b/app.js.gz")).unwrap(), gz);
}

#[test]
fn a_site_made_afresh_reuses_the_copies_of_unchanged_files_and_compresses_changed_ones() {
    let top = util::test_dir("lite-precompress-reuse");
    let cache = top.join("site-gz");
    let unchanged = "const x = 1;\n".repeat(1000);
    // What `jupyter lite build` does each time: a new site folder with new files.
    let make_site = |run: u32, app: &str| {
        let site = top.join(format!("site-{run}"));
        fs::create_dir_all(site.join("bin")).unwrap();
        fs::write(site.join("bin/k.wasm"), &unchanged).unwrap();
        fs::write(site.join("app.js"), app).unwrap();
        site
    };
    let first = precompress_site(&make_site(1, &"let a;\n".repeat(500)), &cache).unwrap();
    assert_eq!((first.files, first.reused), (2, 0), "{first:?}");
    let gz_mtime = |site: &Path| {
        fs::metadata(site.join("bin/k.wasm.gz"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let written = gz_mtime(&top.join("site-1"));

    // Nothing changed: both copies come from the cache, none is written again.
    let site = make_site(2, &"let a;\n".repeat(500));
    let second = precompress_site(&site, &cache).unwrap();
    assert_eq!(second, Precompressed { reused: 2, ..first });
    assert_eq!(gz_mtime(&site), written);
    assert_eq!(
        gunzip(&fs::read(site.join("bin/k.wasm.gz")).unwrap()),
        unchanged.as_bytes()
    );

    // One file changed: it alone is compressed, from its new bytes; the old copy leaves the cache.
    let site = make_site(3, &"let b;\n".repeat(600));
    let third = precompress_site(&site, &cache).unwrap();
    assert_eq!((third.files, third.reused), (2, 1), "{third:?}");
    assert_eq!(
        gunzip(&fs::read(site.join("app.js.gz")).unwrap()),
        "let b;\n".repeat(600).as_bytes()
    );
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 2);

    // A copy left half-written (Ctrl-C) is never taken: the file is compressed again.
    let key = util::sha256_file(&site.join("app.js")).unwrap();
    fs::remove_file(cache.join(format!("{key}.gz"))).unwrap();
    fs::write(cache.join(format!("{key}.gz.partial")), b"half").unwrap();
    let fourth = precompress_site(&make_site(4, &"let b;\n".repeat(600)), &cache).unwrap();
    assert_eq!((fourth.files, fourth.reused), (2, 1), "{fourth:?}");
    assert!(!cache.join(format!("{key}.gz.partial")).exists());
}

#[test]
fn http_dates_encodings_and_hashed_names() {
    let t = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(
        http_date(std::time::UNIX_EPOCH),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
    let leap = std::time::UNIX_EPOCH + Duration::from_secs(951_782_400);
    assert_eq!(http_date(leap), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert!(accepts("gzip, deflate, br, zstd", "gzip"));
    assert!(accepts("GZIP;q=0.5", "gzip"));
    assert!(accepts("*", "gzip"));
    assert!(!accepts("gzip;q=0", "gzip"));
    assert!(!accepts("gzip;q=0.000", "gzip"));
    assert!(!accepts("deflate, br", "gzip"));
    assert!(!accepts("", "gzip"));
    for hashed in [
        "284.d7346201dd9bb8c9.js",
        "remoteEntry.5cbb9d2323598fbda535.js",
        "xlean-std.0123456789abcdef.tar.gz",
        "build/1031.b91a70b.js",
        "build/jlab_core.a86436d.js",
    ] {
        assert!(is_content_hashed(Path::new(hashed)), "{hashed}");
    }
    for plain in [
        "xlean.wasm",
        "index.html",
        "bootstrap.js",
        "xlean-std.tar.gz",
        "a.0123.js",
        "files/report.2026120.js",
        "build/style.a86436d.css",
        "build/bootstrap.js",
    ] {
        assert!(!is_content_hashed(Path::new(plain)), "{plain}");
    }
}

#[test]
fn resolve_and_content_types() {
    let dir = util::test_dir("lite-resolve");
    fs::create_dir_all(dir.join("d")).unwrap();
    fs::write(dir.join("d/f.js"), "").unwrap();
    let root = fs::canonicalize(&dir).unwrap();
    assert_eq!(
        resolve(&root, "/d/f.js#frag"),
        Resolved::File(root.join("d/f.js"))
    );
    assert_eq!(
        resolve(&root, "/d//f.js"),
        Resolved::File(root.join("d/f.js"))
    );
    assert_eq!(resolve(&root, "/d"), Resolved::Redirect("/d/".into()));
    assert_eq!(resolve(&root, "/d/"), Resolved::Error(404), "no listings");
    assert_eq!(resolve(&root, "/d/%00"), Resolved::Error(400));
    for (name, ty) in [
        ("x.wasm", "application/wasm"),
        ("x.JS", "text/javascript; charset=utf-8"),
        ("x.mjs", "text/javascript; charset=utf-8"),
        ("x.css", "text/css; charset=utf-8"),
        ("x.svg", "image/svg+xml"),
        ("x.woff2", "font/woff2"),
        ("x.ipynb", "application/json"),
        ("manifest.webmanifest", "application/manifest+json"),
        ("x.data", "application/octet-stream"),
    ] {
        assert_eq!(content_type(Path::new(name)), ty, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The offline site build (real jupyter lite build)

#[test]
fn a_site_is_built_offline_lists_xlean_and_a_failed_build_keeps_the_old_one() {
    let Some(tc) = toolchain::for_tests() else {
        return;
    };
    let dir = util::test_dir("lite-site");
    let prefix = stand_in_prefix(&dir, "prefix");
    let opts = options(&dir, &prefix);
    let site = build_site(&tc, &opts).unwrap();
    eprintln!("{}", site.summary());

    let list: Value =
        serde_json::from_str(&fs::read_to_string(site.dir.join("xeus/kernels.json")).unwrap())
            .unwrap();
    assert_eq!(list, json!([{"kernel": "xlean", "env_name": "prefix"}]));
    let bin = site.dir.join("xeus/prefix/bin");
    assert_eq!(
        fs::read(bin.join("xlean.wasm")).unwrap(),
        fs::read(prefix.join("bin/xlean.wasm")).unwrap()
    );
    assert!(bin.join("xlean.js").is_file());
    let spec: Value = serde_json::from_str(
        &fs::read_to_string(site.dir.join("xeus/prefix/xlean/kernel.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(spec["argv"][0], "xeus/prefix/bin/xlean.js");
    assert_eq!(spec["metadata"]["xlean"]["backend"], "test");
    assert!(site.dir.join("xeus/prefix/xlean/logo-64x64.png").is_file());
    for nb in ["01-introduction.ipynb", "02-rich-display.ipynb"] {
        assert!(site.dir.join("files").join(nb).is_file(), "{nb}");
    }
    // Small: no source maps, only the apps we ship.
    let (bytes, files) = tree_size(&site.dir).unwrap();
    assert_eq!((bytes, files), (site.total_bytes, site.files));
    assert!(bytes < 60 << 20, "{} bytes", bytes);
    assert_eq!(site.wasm_bytes, 4096);
    let mut maps = 0;
    count_files(&site.dir, &mut |p| {
        maps += p.extension().is_some_and(|e| e == "map") as u32
    });
    assert_eq!(maps, 0, "source maps in the site");
    for app in ["lab", "notebooks", "tree"] {
        assert!(site.dir.join(app).join("index.html").is_file(), "{app}");
    }
    for absent in ["repl", "consoles", "edit"] {
        assert!(!site.dir.join(absent).exists(), "{absent}");
    }
    assert!(!opts.work.exists(), "the work dir is removed after a build");
    assert!(!util::partial_path(&opts.output).exists());
    // The xlean JupyterLab extension is in the site, and a site without it fails verification.
    let lite_json = site.dir.join("jupyter-lite.json");
    let with_extension = fs::read_to_string(&lite_json).unwrap();
    assert!(with_extension.contains("@xlean/jupyterlab-extension"));
    assert!(site
        .dir
        .join("extensions/@xlean/jupyterlab-extension/package.json")
        .is_file());
    let checked = check_prefix(&prefix).unwrap();
    verify_site(&site.dir, &checked).unwrap();
    fs::write(
        &lite_json,
        with_extension.replace("@xlean/jupyterlab-extension", "@xlean/other"),
    )
    .unwrap();
    let msg = error_of(verify_site(&site.dir, &checked));
    util::assert_contains(
        &msg,
        &["federated_extensions does not list @xlean/jupyterlab-extension"],
    );
    fs::write(&lite_json, &with_extension).unwrap();
    let built_extension = opts.lab_extension.join("package/labextension/package.json");
    let extension_stamp = fs::metadata(&built_extension).unwrap().modified().unwrap();

    // A build that fails inside jupyter lite build (the xeus add-on chokes on another kernel's
    // kernel.json) leaves the last good site as it was and nothing half-made.
    let broken = real_dir(&prefix).join("share/jupyter/kernels/broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(broken.join("kernel.json"), "{").unwrap();
    let stamp = fs::metadata(site.dir.join("xeus/kernels.json"))
        .unwrap()
        .modified()
        .unwrap();
    let msg = error_of(build_site(&tc, &opts));
    util::assert_contains(&msg, &["jupyter-lite-build", "is unchanged"]);
    assert!(!util::partial_path(&opts.output).exists());
    assert_eq!(
        fs::metadata(site.dir.join("xeus/kernels.json"))
            .unwrap()
            .modified()
            .unwrap(),
        stamp
    );
    // The second build found the extension up to date: not rebuilt.
    assert_eq!(
        fs::metadata(&built_extension).unwrap().modified().unwrap(),
        extension_stamp
    );
}

fn count_files(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            count_files(&p, f);
        } else {
            f(&p);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The kernel in Chromium

/// The browser's tools, or why the test cannot run. Installs them (apt-get, npm) only where the
/// toolchain is required (CI).
fn browser_tools_for_tests(tc: &Toolchain) -> Option<browser::BrowserTools> {
    static TOOLS: OnceLock<Result<browser::BrowserTools, String>> = OnceLock::new();
    let required = gate::required(Need::Toolchain);
    let tools = TOOLS.get_or_init(|| {
        browser::ensure_browser_tools(tc, &Pins::load().unwrap(), !required)
            .map_err(|e| format!("{e:#}"))
    });
    match tools {
        Ok(t) => Some(t.clone()),
        Err(e) => {
            gate::skip(
                Need::Toolchain,
                &format!(
                    "the browser test's tools are missing: {e} (`cargo xtask lite \
                     --browser-test` installs them)"
                ),
            );
            None
        }
    }
}

#[test]
fn the_test_kernel_runs_cells_in_chromium() {
    let Some(tc) = toolchain::for_tests() else {
        return;
    };
    let pins = Pins::load().unwrap();
    let layout = crate::layout::Layout::standard(None, None);
    let Some(sources) = kernel::kernel_sources(&pins, &Default::default(), &layout).unwrap() else {
        return gate::skip(Need::Sources, kernel::SOURCES_MISSING);
    };
    let Some(tools) = browser_tools_for_tests(&tc) else {
        return;
    };
    let modules = {
        let _building = kernel::test_modules_lock();
        kernel::build_test_kernel(&tc, &pins, &sources, &layout).unwrap()
    };
    let dir = util::test_dir("lite-chromium");
    let prefix = dir.join("prefix");
    install(&prefix, &[modules.test_backend], Some(&test_spec())).unwrap();
    let site = build_site(&tc, &options(&dir, &prefix)).unwrap();
    eprintln!("{}", site.summary());
    let summary = browser::run_browser_test(&tc, &tools, &site.dir, &dir.join("logs")).unwrap();
    let log = fs::read_to_string(summary.log.as_ref().unwrap()).unwrap();
    summary.ensure_passed().unwrap();
    // The one test that may skip: bundles (this prefix has none; `ci` runs the browser test on
    // a `--bundles` build).
    let bundle_skips = log.matches("# SKIP the site has no bundles").count() as u64;
    assert_eq!(summary.skipped, bundle_skips, "{log}");
    assert!(bundle_skips <= 1, "{log}");
    assert!(summary.passed >= 8, "{log}");
    assert!(log.contains("kernel backend: test"), "{log}");
}

#[test]
fn a_second_browser_tools_install_changes_nothing() {
    let Some(tc) = toolchain::for_tests() else {
        return;
    };
    let Some(first) = browser_tools_for_tests(&tc) else {
        return;
    };
    let modified = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    let before = modified(&first.playwright_core.join("package.json"));
    let again = browser::ensure_browser_tools(&tc, &Pins::load().unwrap(), true).unwrap();
    assert_eq!(again, first);
    assert_eq!(
        modified(&again.playwright_core.join("package.json")),
        before
    );
    assert!(
        again.chromium_version.starts_with("Chromium "),
        "{}",
        again.chromium_version
    );
}
