//! A small static file server for the built site, on 127.0.0.1 only.
//!
//! Why our own and not `python -m http.server`: the site needs exactly three things from a server
//! (docs/lite.md, "Serving"): `application/wasm` for `.wasm` (browsers refuse to stream-compile a
//! module served as anything else; Python's table depends on the host's mimetypes files), NO
//! `Cross-Origin-Opener-Policy`/`Cross-Origin-Embedder-Policy` headers (with them Chromium 156
//! hangs the xeus kernel at "Unknown"), and loopback only. A few hundred lines of std::net give
//! all three on every machine, and the browser test can run it in-process on a free port.
//!
//! What it does: `GET` and `HEAD` of files under the root, `index.html` for a directory (after a
//! redirect to the URL with a trailing slash, which relative links need), keep-alive, one thread
//! per connection up to [`MAX_CONNECTIONS`]. What it refuses: any path with a `.` or `..`
//! segment (also when percent-encoded), backslashes and NULs (400), a file that resolves outside
//! the root through a link (403), other methods (405). No directory listings. Ctrl-C ends the
//! process; the server writes nothing, so there is nothing to clean up.

use std::{
    fs,
    io::{self, BufRead, BufReader, BufWriter, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

use anyhow::{Context, Result};

/// Connections served at once; more wait for a free slot in the accept loop (a browser opens
/// about six per host).
pub const MAX_CONNECTIONS: usize = 64;
/// A connection idle this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A request head larger than this is refused.
const MAX_HEAD: usize = 16 * 1024;

/// A bound server, not yet serving.
pub struct Server {
    listener: TcpListener,
    root: PathBuf,
    addr: SocketAddr,
    /// Print one line per request that fails (4xx/5xx).
    pub log_errors: bool,
}

impl Server {
    /// Binds 127.0.0.1:`port` (0: any free port) for the files under `root`.
    pub fn bind(root: &Path, port: u16) -> Result<Server> {
        let root = fs::canonicalize(root).with_context(|| {
            format!(
                "cannot serve {}: it does not exist\n  fix: cargo xtask lite (builds the site)",
                root.display()
            )
        })?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).with_context(|| {
            format!("cannot listen on 127.0.0.1:{port}\n  fix: pass another --port")
        })?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            root,
            addr,
            log_errors: true,
        })
    }

    /// `http://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until the process ends.
    pub fn serve_forever(self) -> Result<()> {
        self.accept_loop(&AtomicBool::new(false));
        Ok(())
    }

    /// Serves on a background thread until the handle is dropped (tests, the browser test).
    pub fn spawn(self) -> RunningServer {
        let stop = Arc::new(AtomicBool::new(false));
        let addr = self.addr;
        let url = self.url();
        let flag = stop.clone();
        let thread = thread::spawn(move || self.accept_loop(&flag));
        RunningServer {
            url,
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn accept_loop(self, stop: &AtomicBool) {
        let active = Arc::new(AtomicUsize::new(0));
        let root = Arc::new(self.root);
        for conn in self.listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = conn else { continue };
            // Back-pressure: wait for a slot rather than spawn without bound.
            while active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                thread::sleep(Duration::from_millis(5));
            }
            active.fetch_add(1, Ordering::SeqCst);
            let (root, active) = (root.clone(), active.clone());
            let log_errors = self.log_errors;
            thread::spawn(move || {
                let _ = serve_connection(stream, &root, log_errors);
                active.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

/// A server on a background thread; dropping it stops accepting and joins the thread.
pub struct RunningServer {
    pub url: String,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request head, as far as this server cares.
struct Request {
    method: String,
    target: String,
    /// The client asked to close the connection after this request (or spoke HTTP/1.0).
    close: bool,
    /// A request body was announced: it is not read, so the connection must close.
    has_body: bool,
}

fn serve_connection(stream: TcpStream, root: &Path, log_errors: bool) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    loop {
        let req = match read_request(&mut reader)? {
            Some(Ok(r)) => r,
            Some(Err(status)) => {
                respond_error(&mut writer, status, true)?;
                return Ok(());
            }
            None => return Ok(()), // the client closed the connection
        };
        let close = req.close || req.has_body;
        let status = respond(&mut writer, root, &req, close)?;
        if log_errors && status >= 400 {
            eprintln!("    {status} {} {}", req.method, req.target);
        }
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
}

/// The next request head; `None` at end of stream, `Some(Err(status))` for a malformed one.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Result<Request, u16>>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take((MAX_HEAD + 1 - head.len().min(MAX_HEAD)) as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(if head.is_empty() {
                None
            } else {
                Some(Err(400))
            });
        }
        if head.len() + line.len() > MAX_HEAD {
            return Ok(Some(Err(431)));
        }
        let blank = line == b"\r\n" || line == b"\n";
        if blank && head.is_empty() {
            continue; // a stray empty line between requests is allowed
        }
        head.extend_from_slice(&line);
        if blank {
            break;
        }
    }
    let Ok(head) = String::from_utf8(head) else {
        return Ok(Some(Err(400)));
    };
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (first.next(), first.next(), first.next(), first.next())
    else {
        return Ok(Some(Err(400)));
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(Some(Err(505)));
    }
    let mut close = version == "HTTP/1.0";
    let mut has_body = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("content-length") {
            has_body |= value != "0";
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            has_body = true;
        }
    }
    Ok(Some(Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        close,
        has_body,
    })))
}

/// What a request target resolves to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Resolved {
    File(PathBuf),
    /// A directory asked for without the trailing slash: where to send the client.
    Redirect(String),
    Error(u16),
}

/// Maps a request target (`/lab/index.html?x=1`) to a file under `root` (canonical).
pub(super) fn resolve(root: &Path, target: &str) -> Resolved {
    let path_part = target.split(['?', '#']).next().unwrap_or("");
    let query = &target[path_part.len()..];
    if !path_part.starts_with('/') {
        return Resolved::Error(400);
    }
    let Some(decoded) = percent_decode(path_part) else {
        return Resolved::Error(400);
    };
    let mut file = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." || segment.contains(['\\', '\0']) {
            return Resolved::Error(400);
        }
        file.push(segment);
    }
    // Links inside the site must not lead out of it.
    let Ok(real) = fs::canonicalize(&file) else {
        return Resolved::Error(404);
    };
    if !real.starts_with(root) {
        return Resolved::Error(403);
    }
    if real.is_dir() {
        if !path_part.ends_with('/') {
            return Resolved::Redirect(format!("{path_part}/{query}"));
        }
        let index = real.join("index.html");
        return if index.is_file() {
            Resolved::File(index)
        } else {
            Resolved::Error(404)
        };
    }
    Resolved::File(real)
}

/// `%XX` decoding of a URL path; `None` for a bad escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The Content-Type for a file name. `.wasm` must be `application/wasm`.
pub(super) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" | "ipynb" => "application/json",
        "webmanifest" => "application/manifest+json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "eot" => "application/vnd.ms-fontobject",
        "txt" | "lean" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "gz" | "tgz" => "application/gzip",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Answers one request; returns the status sent.
fn respond(w: &mut impl Write, root: &Path, req: &Request, close: bool) -> io::Result<u16> {
    let head_only = match req.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            respond_error(w, 405, close)?;
            return Ok(405);
        }
    };
    match resolve(root, &req.target) {
        Resolved::Error(status) => {
            respond_error(w, status, close)?;
            Ok(status)
        }
        Resolved::Redirect(location) => {
            write_head(
                w,
                301,
                "text/plain; charset=utf-8",
                0,
                close,
                &[("Location", &location)],
            )?;
            Ok(301)
        }
        Resolved::File(path) => {
            let Ok(mut file) = fs::File::open(&path) else {
                respond_error(w, 404, close)?;
                return Ok(404);
            };
            let len = file.metadata()?.len();
            write_head(w, 200, content_type(&path), len, close, &[])?;
            if !head_only {
                let copied = io::copy(&mut file, w)?;
                if copied != len {
                    // The file changed under us: the length sent is wrong, end the connection.
                    return Err(io::Error::other("file changed while being sent"));
                }
            }
            Ok(200)
        }
    }
}

fn respond_error(w: &mut impl Write, status: u16, close: bool) -> io::Result<()> {
    let body = format!("{status} {}\n", reason(status));
    write_head(
        w,
        status,
        "text/plain; charset=utf-8",
        body.len() as u64,
        close,
        &[],
    )?;
    w.write_all(body.as_bytes())
}

/// The response head. Deliberately no Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy
/// (see the module comment).
fn write_head(
    w: &mut impl Write,
    status: u16,
    content_type: &str,
    len: u64,
    close: bool,
    extra: &[(&str, &str)],
) -> io::Result<()> {
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: {}\r\n",
        reason(status),
        if close { "close" } else { "keep-alive" }
    )?;
    for (k, v) in extra {
        write!(w, "{k}: {v}\r\n")?;
    }
    w.write_all(b"\r\n")
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}
