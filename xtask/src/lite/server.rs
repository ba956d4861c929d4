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
//! per connection up to [`MAX_CONNECTIONS`]. What a good static host does for a second visit
//! (docs/lite.md, "Caching and compression"): `ETag`/`Last-Modified` and 304s, `Cache-Control`
//! by name (content-hashed: immutable; the rest: revalidate), and the `.gz` copies `lite` wrote
//! as `Content-Encoding: gzip` when the client accepts it. What it refuses: any path with a `.` or `..`
//! segment (also when percent-encoded), backslashes and NULs (400), a file that resolves outside
//! the root through a link (403), other methods (405). No directory listings. Ctrl-C ends the
//! process; the server writes nothing, so there is nothing to clean up.
//!
//! For `cargo xtask bench site` it can also imitate a slow network ([`Shaping`]): one bandwidth
//! shared by all its connections and a round trip before each response. `lite --serve` never
//! shapes.

use std::{
    fs,
    io::{self, BufRead, BufReader, BufWriter, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
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
    /// The network to imitate; none: as fast as loopback.
    pub shaping: Option<Shaping>,
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
            shaping: None,
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
        // One link for all connections: together they share its bandwidth, as on a real network.
        let link = self.shaping.map(|s| Arc::new(Link::new(s)));
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
            let (root, active, link) = (root.clone(), active.clone(), link.clone());
            let log_errors = self.log_errors;
            thread::spawn(move || {
                let _ = serve_connection(stream, &root, log_errors, link);
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
    /// The conditional and negotiation headers, as sent.
    accept_encoding: String,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

fn serve_connection(
    stream: TcpStream,
    root: &Path,
    log_errors: bool,
    link: Option<Arc<Link>>,
) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let rtt = link.as_ref().map(|l| l.rtt);
    let mut writer = BufWriter::with_capacity(
        CHUNK,
        Shaped {
            inner: stream,
            link,
        },
    );
    loop {
        let req = match read_request(&mut reader)? {
            Some(Ok(r)) => r,
            Some(Err(status)) => {
                respond_error(&mut writer, status, true)?;
                return Ok(());
            }
            None => return Ok(()), // the client closed the connection
        };
        if let Some(rtt) = rtt {
            thread::sleep(rtt); // the request's way there and the first byte's way back
        }
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
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        close: version == "HTTP/1.0",
        has_body: false,
        accept_encoding: String::new(),
        if_none_match: None,
        if_modified_since: None,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "connection" => req.close = value.eq_ignore_ascii_case("close"),
            "content-length" => req.has_body |= value != "0",
            "transfer-encoding" => req.has_body = true,
            "accept-encoding" => req.accept_encoding = value.to_string(),
            "if-none-match" => req.if_none_match = Some(value.to_string()),
            "if-modified-since" => req.if_modified_since = Some(value.to_string()),
            _ => {}
        }
    }
    Ok(Some(Ok(req)))
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
            let headers = [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", "0"),
                ("Cache-Control", REVALIDATE),
                ("Location", &location),
            ];
            write_head(w, 301, close, &headers)?;
            Ok(301)
        }
        Resolved::File(path) => respond_file(w, root, &path, req, head_only, close),
    }
}

/// `Cache-Control` of a file whose name carries its content's hash: it never changes, so a
/// cache may keep it for a year without asking again.
pub(super) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of every other file: a cache may keep it but must revalidate it (a 304 when
/// unchanged) before each use, so a rebuilt site is seen at the next load.
pub(super) const REVALIDATE: &str = "no-cache";

/// The precompressed copies `cargo xtask lite` writes beside a file (`name.gz`), as
/// (Content-Encoding, suffix), in the order the server prefers them.
pub const PRECOMPRESSED: &[(&str, &str)] = &[("gzip", ".gz")];

/// What a GET or HEAD of a file sends: the file itself, or a precompressed copy of it.
struct Representation {
    path: PathBuf,
    encoding: Option<&'static str>,
    /// A precompressed copy exists: the answer depends on Accept-Encoding.
    varies: bool,
}

fn respond_file(
    w: &mut impl Write,
    root: &Path,
    file: &Path,
    req: &Request,
    head_only: bool,
    close: bool,
) -> io::Result<u16> {
    let rep = representation(root, file, &req.accept_encoding);
    let Ok(mut body) = fs::File::open(&rep.path) else {
        respond_error(w, 404, close)?;
        return Ok(404);
    };
    let meta = body.metadata()?;
    let len = meta.len();
    let modified = changed(&meta);
    let etag = entity_tag(len, modified, rep.encoding);
    let last_modified = http_date(modified);
    let cache = if is_content_hashed(file.strip_prefix(root).unwrap_or(file)) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mut headers = vec![
        ("Cache-Control", cache),
        ("ETag", etag.as_str()),
        ("Last-Modified", last_modified.as_str()),
    ];
    if rep.varies {
        headers.push(("Vary", "Accept-Encoding"));
    }
    if not_modified(req, &etag, &last_modified) {
        write_head(w, 304, close, &headers)?;
        return Ok(304);
    }
    let len_text = len.to_string();
    headers.push(("Content-Type", content_type(file)));
    headers.push(("Content-Length", &len_text));
    if let Some(encoding) = rep.encoding {
        headers.push(("Content-Encoding", encoding));
    }
    write_head(w, 200, close, &headers)?;
    if !head_only {
        let copied = io::copy(&mut body, w)?;
        if copied != len {
            // The file changed under us: the length sent is wrong, end the connection.
            return Err(io::Error::other("file changed while being sent"));
        }
    }
    Ok(200)
}

/// The file, or its precompressed copy when the client accepts that encoding. A file that is
/// itself compressed (`.gz`, `.tar.gz` bundles) has no copies: nothing is compressed twice.
fn representation(root: &Path, file: &Path, accept_encoding: &str) -> Representation {
    let mut rep = Representation {
        path: file.to_path_buf(),
        encoding: None,
        varies: false,
    };
    if content_type(file) == "application/gzip" {
        return rep;
    }
    for (encoding, suffix) in PRECOMPRESSED {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        // The copy, like any file, must not lead out of the root through a link.
        let Ok(copy) = fs::canonicalize(PathBuf::from(name)) else {
            continue;
        };
        if !copy.starts_with(root) || !copy.is_file() {
            continue;
        }
        rep.varies = true;
        if rep.encoding.is_none() && accepts(accept_encoding, encoding) {
            rep.path = copy;
            rep.encoding = Some(encoding);
        }
    }
    rep
}

/// Whether an Accept-Encoding value admits `encoding` (by name or `*`, with a q-value above 0).
pub(super) fn accepts(accept_encoding: &str, encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (name.eq_ignore_ascii_case(encoding) || name == "*") && !refused
    })
}

/// A file named after its content: a dot-separated part of 16 or more hex digits anywhere
/// (`284.d7346201dd9bb8c9.js` of an extension, `xlean-std.0123456789abcdef.tar.gz`), or of 7 or
/// more in a `.js` file of the JupyterLite application's `build/` folder, whose chunks are named
/// `[name].[contenthash:7].js` (its rspack config). `path` is relative to the site.
pub(super) fn is_content_hashed(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let in_app_build = path.parent() == Some(Path::new("build")) && name.ends_with(".js");
    let min_len = if in_app_build { 7 } else { 16 };
    name.split('.')
        .skip(1)
        .any(|part| part.len() >= min_len && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// When the file last changed: its status change time, not its modification time, because
/// `jupyter lite build` gives its files a fixed modification time (1985, for reproducible
/// archives), so a rebuilt file of the same size would keep its validators. Every build writes a
/// new site, so every file's change time is the build's.
fn changed(meta: &fs::Metadata) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let secs = u64::try_from(meta.ctime()).unwrap_or(0);
    let nanos = u32::try_from(meta.ctime_nsec()).unwrap_or(0);
    UNIX_EPOCH + Duration::new(secs, nanos)
}

/// A strong validator from the size and the change time (nginx uses size and modification
/// time), distinct per encoding.
fn entity_tag(len: u64, modified: SystemTime, encoding: Option<&str>) -> String {
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    match encoding {
        Some(e) => format!("\"{nanos:x}-{len:x}-{e}\""),
        None => format!("\"{nanos:x}-{len:x}\""),
    }
}

/// The client's copy is current: If-None-Match names our tag (or `*`); without If-None-Match,
/// If-Modified-Since is exactly our Last-Modified (nginx's default, `if_modified_since exact`:
/// clients send back the date they were given).
fn not_modified(req: &Request, etag: &str, last_modified: &str) -> bool {
    if let Some(tags) = &req.if_none_match {
        return tags.trim() == "*"
            || tags
                .split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag);
    }
    req.if_modified_since.as_deref() == Some(last_modified)
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP dates take.
pub(super) fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days to a civil date (proleptic Gregorian), counting in 400-year eras from 0000-03-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn respond_error(w: &mut impl Write, status: u16, close: bool) -> io::Result<()> {
    let body = format!("{status} {}\n", reason(status));
    let len = body.len().to_string();
    let headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", len.as_str()),
        ("Cache-Control", REVALIDATE),
    ];
    write_head(w, status, close, &headers)?;
    w.write_all(body.as_bytes())
}

/// The response head: the status line, `headers`, and what every response carries. Deliberately
/// no Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy (see the module comment).
fn write_head(
    w: &mut impl Write,
    status: u16,
    close: bool,
    headers: &[(&str, &str)],
) -> io::Result<()> {
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nDate: {}\r\nX-Content-Type-Options: nosniff\r\n\
         Connection: {}\r\n",
        reason(status),
        http_date(SystemTime::now()),
        if close { "close" } else { "keep-alive" }
    )?;
    for (k, v) in headers {
        write!(w, "{k}: {v}\r\n")?;
    }
    w.write_all(b"\r\n")
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
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

/// A network for the server to imitate: `mbit` Mbit/s shared by all its connections, and a
/// round trip of `rtt_ms` before the first byte of every response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shaping {
    pub mbit: f64,
    pub rtt_ms: u32,
}

/// What a shaped response is written in: each chunk waits for its share of the bandwidth.
const CHUNK: usize = 16 * 1024;

/// The imitated network of one server: a token bucket of bytes, shared by its connections.
struct Link {
    bucket: Mutex<Bucket>,
    rtt: Duration,
}

impl Link {
    fn new(shaping: Shaping) -> Link {
        Link {
            bucket: Mutex::new(Bucket {
                bytes_per_sec: shaping.mbit * 1e6 / 8.0,
                tokens: CHUNK as f64,
                last: Instant::now(),
            }),
            rtt: Duration::from_millis(u64::from(shaping.rtt_ms)),
        }
    }

    /// Takes the tokens for `bytes` now and sleeps until the link has carried them.
    fn pass(&self, bytes: usize) {
        let wait = self
            .bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(bytes, Instant::now());
        thread::sleep(wait);
    }
}

/// Tokens (bytes) that fill at the bandwidth up to one [`CHUNK`] (an idle link saves nothing
/// up). A taker may drive them below zero: the debt is what later takers wait out, so all
/// connections together never pass more than the bandwidth.
struct Bucket {
    bytes_per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes `bytes` at `now`; returns how long the taker must wait before sending them.
    fn take(&mut self, bytes: usize, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last);
        self.tokens = refilled(self.tokens, self.bytes_per_sec, elapsed) - bytes as f64;
        self.last = now;
        wait_for(self.tokens, self.bytes_per_sec)
    }
}

/// The tokens `elapsed` after there were `tokens`, at `bytes_per_sec`, at most one [`CHUNK`].
pub(super) fn refilled(tokens: f64, bytes_per_sec: f64, elapsed: Duration) -> f64 {
    (tokens + bytes_per_sec * elapsed.as_secs_f64()).min(CHUNK as f64)
}

/// How long a debt of `-tokens` takes to pay off at `bytes_per_sec` (zero without a debt).
pub(super) fn wait_for(tokens: f64, bytes_per_sec: f64) -> Duration {
    Duration::from_secs_f64((-tokens).max(0.0) / bytes_per_sec)
}

/// A connection's socket, written through its [`Link`] when the server shapes.
struct Shaped {
    inner: TcpStream,
    link: Option<Arc<Link>>,
}

impl Write for Shaped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(link) = &self.link else {
            return self.inner.write(buf);
        };
        let chunk = &buf[..buf.len().min(CHUNK)];
        link.pass(chunk.len());
        self.inner.write_all(chunk)?;
        Ok(chunk.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
