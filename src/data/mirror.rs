//! Downloads of the original gzipped files from an HTTP(S) mirror.
//!
//! The connect timeout is short so that an offline machine moves on in seconds; once a
//! mirror cannot be reached it is not asked for the remaining files. Bytes are unpacked
//! while they arrive and kept in memory until verified, so a dropped connection leaves
//! nothing on disk.

use std::time::Duration;

use crate::data::files::{read_maybe_gzip, verify, Fetched, Outcome};
use crate::data::progress::bytes_bar;
use crate::data::specs::FileSpec;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest silence in the middle of a download before giving up on the mirror.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why one download failed; `Unreachable` stops asking this mirror.
enum Failure {
    Unreachable(String),
    Other(String),
}

/// Downloads each wanted file from `base`, returning one outcome per file.
pub fn fetch(base: &str, wanted: &[&FileSpec], progress: bool) -> Vec<Outcome> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        .build();
    let mut unreachable: Option<String> = None;
    let mut outcomes = Vec::new();
    for spec in wanted {
        let outcome = match &unreachable {
            Some(why) => Err(why.clone()),
            None => match download(&agent, &url_for(base, spec), spec, progress) {
                Ok(bytes) => Ok(Fetched {
                    bytes,
                    in_place: None,
                }),
                Err(Failure::Unreachable(why)) => {
                    unreachable = Some(why.clone());
                    Err(why)
                }
                Err(Failure::Other(why)) => Err(why),
            },
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// Where a mirror keeps the gzipped file; the base may or may not end with a slash.
pub fn url_for(base: &str, spec: &FileSpec) -> String {
    format!("{}/{}.gz", base.trim_end_matches('/'), spec.name)
}

fn download(
    agent: &ureq::Agent,
    url: &str,
    spec: &FileSpec,
    progress: bool,
) -> Result<Vec<u8>, Failure> {
    let response = agent.get(url).call().map_err(|e| request_failure(url, e))?;
    let len = response
        .header("Content-Length")
        .and_then(|l| l.parse::<u64>().ok());
    let bar = bytes_bar(progress, len, url.to_string());
    let reader = bar.wrap_read(response.into_reader());
    let result = read_maybe_gzip(reader, spec.size);
    bar.finish_and_clear();
    let bytes =
        result.map_err(|e| Failure::Other(format!("download broke off or is not gzip: {e}")))?;
    verify(spec, &bytes).map_err(Failure::Other)?;
    Ok(bytes)
}

/// Sorts a failed request; ureq's own message already names the URL.
fn request_failure(url: &str, err: ureq::Error) -> Failure {
    match err {
        ureq::Error::Status(code, _) => Failure::Other(format!("HTTP status {code} for {url}")),
        ureq::Error::Transport(t) => {
            let why = t.to_string();
            match t.kind() {
                ureq::ErrorKind::Dns
                | ureq::ErrorKind::ConnectionFailed
                | ureq::ErrorKind::ProxyConnect => {
                    Failure::Unreachable(format!("unreachable: {why}"))
                }
                _ => Failure::Other(why),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_with_or_without_slash() {
        let spec = FileSpec::new("t10k-labels-idx1-ubyte", "", 0);
        assert_eq!(
            url_for("http://h/m/", &spec),
            "http://h/m/t10k-labels-idx1-ubyte.gz"
        );
        assert_eq!(
            url_for("http://h/m", &spec),
            "http://h/m/t10k-labels-idx1-ubyte.gz"
        );
    }

    #[test]
    fn refused_connection_skips_the_rest_quickly() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let spec = FileSpec::new("a-idx1-ubyte", "00", 1);
        let got = fetch(&format!("http://127.0.0.1:{port}/"), &[&spec, &spec], false);
        let first = got[0].as_ref().err().unwrap();
        let second = got[1].as_ref().err().unwrap();
        assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
        assert!(first.starts_with("unreachable: "), "{first}");
        assert_eq!(first, second, "the rest are skipped for the same reason");
    }
}
