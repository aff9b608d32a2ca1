//! Opening report.html in a real headless Chromium with the network off, for
//! tests/html_report.rs and benches/report.rs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's chromium-headless-shell (or a full Chromium) may be.
const KNOWN: [&str; 5] = [
    "/usr/bin/chromium-headless-shell",
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];

/// The browser: `$RUNNER_CHROMIUM`, else the first known path that exists.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNNER_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.exists(), "RUNNER_CHROMIUM={} does not exist", p.display());
        return p;
    }
    KNOWN
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "no headless Chromium found (looked at {}); install Debian's with \
                 `apt-get install --no-install-recommends chromium-headless-shell` \
                 (.ci/run does when it is missing) or set RUNNER_CHROMIUM to a Chromium binary",
                KNOWN.join(", ")
            )
        })
}

/// Flags that keep Chromium off the network and quiet: every host resolves to nothing,
/// every request goes to a closed local port, no background or component fetches.
fn offline(cmd: &mut Command, profile: &Path) {
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
}

/// What a page load gave.
pub struct Load {
    pub dom: String,
    /// Lines the page logged to the console (any level), as Chromium printed them.
    pub console: Vec<String>,
    /// The attributes of `<div id="status">`.
    pub status: HashMap<String, String>,
    /// Wall time of the browser process, from start to exit.
    pub wall: Duration,
}

/// Runs `cmd`, killing it after `limit`; returns stdout, stderr and the wall time.
fn run(mut cmd: Command, limit: Duration) -> (String, String, Duration) {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    loop {
        if child.try_wait().expect("wait for chromium").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed();
    (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
        wall,
    )
}

/// Loads `page` from file:// (with `#hash`) and dumps its DOM once the page is idle:
/// virtual time runs ahead whenever nothing is left to do, up to `budget_ms`.
pub fn load(page: &Path, hash: &str, budget_ms: u32) -> Load {
    let profile = tempfile::tempdir().expect("profile folder");
    let mut cmd = Command::new(chromium());
    offline(&mut cmd, profile.path());
    cmd.args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg("--dump-dom")
        .arg(url(page, hash));
    let (dom, stderr, wall) = run(cmd, Duration::from_secs(180));
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    let status = status(&dom);
    Load {
        dom,
        console,
        status,
        wall,
    }
}

/// A screenshot of `page` at `width` × `height` pixels.
pub fn screenshot(page: &Path, png: &Path, width: u32, height: u32) {
    let profile = tempfile::tempdir().expect("profile folder");
    let mut cmd = Command::new(chromium());
    offline(&mut cmd, profile.path());
    cmd.arg(format!("--window-size={width},{height}"))
        .arg("--virtual-time-budget=30000")
        .arg(format!("--screenshot={}", png.display()))
        .arg(url(page, ""));
    run(cmd, Duration::from_secs(180));
    assert!(png.exists(), "no screenshot at {}", png.display());
}

fn url(page: &Path, hash: &str) -> String {
    let abs = std::fs::canonicalize(page).expect("page exists");
    format!("file://{}{hash}", abs.display())
}

/// The attributes of the page's `<div id="status" ...>`.
pub fn status(dom: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(start) = dom.find("<div id=\"status\"") else {
        return out;
    };
    let tag = &dom[start..start + dom[start..].find('>').unwrap_or(0)];
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].rsplit(' ').next().unwrap_or("").to_string();
        let after = &rest[eq + 2..];
        let end = after.find('"').unwrap_or(after.len());
        out.insert(name, after[..end].to_string());
        rest = &after[(end + 1).min(after.len())..];
    }
    out
}

/// URLs a browser would fetch: http(s) or protocol-relative targets of src, href, srcset,
/// poster, action or data attributes, CSS url(...) and @import. Mentions in text (licence
/// comments, the JSON schema's name) are not fetched and not counted.
pub fn fetchable_urls(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for opener in [
        "src=", "href=", "srcset=", "poster=", "action=", "data=", "url(", "@import",
    ] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(opener) {
            let at = from + i + opener.len();
            let target = lower[at..].trim_start_matches([' ', '"', '\'', '\\']);
            if ["http://", "https://", "//"]
                .iter()
                .any(|p| target.starts_with(p))
            {
                let start = lower.len() - target.len();
                found.push(html[start..].chars().take(80).collect());
            }
            from = at;
        }
    }
    found
}
