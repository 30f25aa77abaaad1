//! Whether package repositories answer, asked before a build waits on them: a mirror that
//! cannot be reached fails the build within seconds, naming it, instead of after a package
//! manager's retries.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one repository may take to answer.
const WITHIN: Duration = Duration::from_secs(6);

/// Asks every `(name, url)` at once; the first that does not answer is the error. An http URL
/// must answer 200 to a GET; an https URL must accept a connection (its TLS and HTTP are left to
/// the package manager); a file URL must exist.
pub(crate) fn all_answer(repos: &[(String, String)]) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    for (i, (_, url)) in repos.iter().enumerate() {
        let (tx, url) = (tx.clone(), url.clone());
        std::thread::spawn(move || {
            let _ = tx.send((i, answers(&url)));
        });
    }
    drop(tx);
    let deadline = Instant::now() + WITHIN + Duration::from_secs(1);
    let mut results: Vec<Option<Result<(), String>>> = vec![None; repos.len()];
    while results.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, r)) => results[i] = Some(r),
            Err(_) => break,
        }
    }
    for ((name, url), r) in repos.iter().zip(results) {
        let why = match r {
            Some(Ok(())) => continue,
            Some(Err(why)) => why,
            None => format!("no answer within {} s", WITHIN.as_secs()),
        };
        return Err(format!("{name} ({url}) cannot be reached: {why}"));
    }
    Ok(())
}

fn answers(url: &str) -> Result<(), String> {
    if let Some(path) = url.strip_prefix("file://") {
        return if std::path::Path::new(path).exists() { Ok(()) } else { Err(format!("{path} does not exist")) };
    }
    let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        return Ok(()); // ftp and others: left to the package manager
    };
    let (authority, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let authority = authority.rsplit_once('@').map(|(_, a)| a).unwrap_or(authority);
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit())) && !authority.ends_with(']');
    let addr = if has_port { authority.to_string() } else { format!("{authority}:{}", if tls { 443 } else { 80 }) };
    let host = authority.rsplit_once(':').filter(|_| has_port).map(|(h, _)| h).unwrap_or(authority);
    let addrs: Vec<_> = addr.to_socket_addrs().map_err(|e| format!("cannot resolve {host} ({e})"))?.collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, WITHIN) {
            Ok(_) if tls => return Ok(()),
            Ok(mut stream) => {
                let _ = stream.set_read_timeout(Some(WITHIN));
                let _ = stream.set_write_timeout(Some(WITHIN));
                let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: liveboot\r\nConnection: close\r\n\r\n");
                stream.write_all(request.as_bytes()).map_err(|e| format!("{a}: {e}"))?;
                let mut head = [0u8; 64];
                let n = stream.read(&mut head).map_err(|e| format!("{a}: {e}"))?;
                let line = String::from_utf8_lossy(&head[..n]);
                let status = line.split_whitespace().nth(1).unwrap_or("");
                return if status == "200" {
                    Ok(())
                } else {
                    Err(format!("GET {path} answered {}", line.lines().next().unwrap_or("nothing").trim()))
                };
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unresolvable_host_fails_at_once_by_name() {
        let started = Instant::now();
        let e = all_answer(&[("repo fedora".into(), "https://mirrors.invalid/metalink?repo=fedora-37".into())]).unwrap_err();
        assert!(
            e.starts_with(
                "repo fedora (https://mirrors.invalid/metalink?repo=fedora-37) cannot be reached: cannot resolve mirrors.invalid"
            ),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(8));
    }

    #[test]
    fn a_missing_repodata_is_named_with_the_answer() {
        let dir = tempfile::tempdir().unwrap();
        let server = liveboot_publish::serve(dir.path(), "127.0.0.1:0", Default::default()).unwrap();
        let url = format!("http://{}/repodata/repomd.xml", server.addr());
        let e = all_answer(&[("url".into(), url.clone())]).unwrap_err();
        assert!(e.contains("answered HTTP/1.1 404"), "{e}");
        std::fs::create_dir_all(dir.path().join("repodata")).unwrap();
        std::fs::write(dir.path().join("repodata/repomd.xml"), "<repomd/>").unwrap();
        all_answer(&[("url".into(), url)]).unwrap();
        // A closed port: refused at once.
        let port = liveboot_runner::local::free_port().unwrap();
        let e = all_answer(&[("url".into(), format!("http://127.0.0.1:{port}/x"))]).unwrap_err();
        assert!(e.contains("refused"), "{e}");
    }
}
