//! A small HTTP/1.1 server for the files of one folder: GET and HEAD, single byte ranges
//! (`bytes=a-b`, `a-`, `-n`), ETag / Last-Modified with If-None-Match, If-Modified-Since and
//! If-Range, persistent connections, a thread per connection up to a limit. No listings, no
//! path outside the folder, nothing but regular files.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Most connections served at once; more are answered 503.
    pub max_connections: usize,
    /// How long a connection may sit idle.
    pub idle_timeout: Duration,
    /// Print one line per request on standard error.
    pub log: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { max_connections: 256, idle_timeout: Duration::from_secs(60), log: false }
    }
}

/// A running server; dropping it stops accepting connections.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The address it listens on (the port is real even when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server stops (it does not stop by itself).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The open connections. When all slots are taken, a new connection takes the slot of the one
/// that has waited longest in the middle of a request head (a slow or idle client, whose
/// socket is shut down); only when every connection is busy answering is the new one refused
/// (503). So a few hundred slow clients cannot lock out one that sends its request at once.
#[derive(Default)]
struct Conns {
    next: u64,
    open: Vec<(u64, TcpStream, Arc<AtomicBool>)>,
}

impl Conns {
    fn admit(&mut self, stream: &TcpStream, in_head: &Arc<AtomicBool>, max: usize) -> Option<u64> {
        if self.open.len() >= max {
            let slow = self.open.iter().position(|(_, _, h)| h.load(Ordering::SeqCst))?;
            let (_, s, _) = self.open.remove(slow);
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        self.next += 1;
        self.open.push((self.next, stream.try_clone().ok()?, in_head.clone()));
        Some(self.next)
    }

    fn leave(&mut self, id: u64) {
        self.open.retain(|(i, _, _)| *i != id);
    }
}

/// Serves the files under `root` on `bind` (an explicit address: `127.0.0.1:8080` by default in
/// the CLI).
pub fn serve(root: &Path, bind: &str, opts: ServeOptions) -> std::io::Result<Server> {
    let root = root.canonicalize()?;
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let conns = Arc::new(Mutex::new(Conns::default()));
    let thread = std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut stream) = conn else { continue };
            let in_head = Arc::new(AtomicBool::new(true));
            let Some(id) = conns.lock().unwrap().admit(&stream, &in_head, opts.max_connections) else {
                let _ = stream
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            };
            let (root, opts, conns) = (root.clone(), opts.clone(), conns.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, &root, &opts, in_head);
                conns.lock().unwrap().leave(id);
            });
        }
    });
    Ok(Server { addr, stop, thread: Some(thread) })
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The largest request head read (request line and headers); more is answered 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header fields in one request; more is answered 431.
pub const MAX_HEADERS: usize = 64;
/// How long the rest of a request head may take once its first byte has come (slow clients
/// must not hold a connection slot for long).
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// What reading a request head gave.
enum Head {
    /// A request to answer.
    Request(Request),
    /// The client closed the connection (or went quiet for the idle time) between requests.
    Closed,
    /// A request that cannot be served: answer with this status line and close.
    Bad(&'static str),
}

/// A connection's input: bytes read past the last request stay for the next (pipelining).
struct Input {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Set while a request head is partly read (the connection may be evicted for another).
    in_head: Arc<AtomicBool>,
}

impl Input {
    /// Reads one request head, parsed by httparse: bounded in size, in header count and, once
    /// it has begun, in time.
    fn read_request(&mut self, idle: Duration) -> std::io::Result<Head> {
        let mut began: Option<Instant> = None;
        loop {
            if !self.buf.is_empty() {
                began.get_or_insert_with(Instant::now);
                self.in_head.store(true, Ordering::SeqCst);
                let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut fields);
                match req.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let head = request(&req);
                        self.buf.drain(..n);
                        self.in_head.store(false, Ordering::SeqCst);
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                        return Ok(Head::Bad("431 Request Header Fields Too Large"))
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => return Ok(Head::Bad("431 Request Header Fields Too Large")),
                    Err(_) => return Ok(Head::Bad("400 Bad Request")),
                }
            }
            let wait = match began {
                None => idle,
                Some(t) => match HEAD_DEADLINE.checked_sub(t.elapsed()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(Head::Bad("408 Request Timeout")),
                },
            };
            self.stream.set_read_timeout(Some(wait))?;
            let mut chunk = [0u8; 4096];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Ok(if began.is_some() { Head::Bad("408 Request Timeout") } else { Head::Closed });
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(Head::Closed);
            }
            // Never more than MAX_HEAD and one chunk held, whatever the client sends.
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The request httparse read, with the body rules: no request liveboot serves has a body, so a
/// `Transfer-Encoding` (alone or with `Content-Length`, RFC 9112 6.1) or conflicting lengths are
/// refused, and a request with a body is answered and the connection closed, so that a body is
/// never read as the next request (request smuggling).
fn request(req: &httparse::Request) -> Head {
    let headers: Vec<(String, String)> =
        req.headers.iter().map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_string())).collect();
    let all = |name: &str| headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    if !all("transfer-encoding").is_empty() {
        return Head::Bad("400 Bad Request");
    }
    let lengths = all("content-length");
    let length = match lengths.as_slice() {
        [] => 0,
        [one, rest @ ..] if rest.iter().all(|r| r == one) => match one.parse::<u64>() {
            Ok(n) => n,
            Err(_) => return Head::Bad("400 Bad Request"),
        },
        _ => return Head::Bad("400 Bad Request"),
    };
    let conn = headers.iter().find(|(k, _)| k == "connection").map(|(_, v)| v.to_ascii_lowercase()).unwrap_or_default();
    let http11 = req.version == Some(1);
    let close = length > 0 || (!http11 && !conn.contains("keep-alive")) || conn.contains("close");
    Head::Request(Request { method: req.method.unwrap_or("").to_string(), target: req.path.unwrap_or("").to_string(), headers, close })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file a request path names, if it is a regular file inside `root`.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = percent_decode(target.split(['?', '#']).next()?)?;
    let rel = Path::new(path.strip_prefix('/')?);
    // Hidden files are never served: temporary files of a publish in progress or interrupted,
    // `.git`, `.htpasswd`.
    if rel.components().any(|c| !matches!(c, Component::Normal(n) if !n.to_string_lossy().starts_with('.'))) {
        return None;
    }
    let full = root.join(rel).canonicalize().ok()?;
    (full.starts_with(root) && full.is_file()).then_some(full)
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// An IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = liveboot_iso::VolumeDate { unix, centis: 0 }.civil();
    let wd = DAYS[unix.div_euclid(86_400).rem_euclid(7) as usize];
    format!("{wd}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT", MONTHS[mo as usize - 1])
}

/// The byte range a Range header asks for, as (start, end inclusive); `Err` when unsatisfiable,
/// `Ok(None)` when the header is absent, malformed or asks for several ranges (the whole file).
fn range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else { return Ok(None) };
    let (a, b) = (a.trim(), b.trim());
    let r = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
        (Ok(start), Err(_)) if b.is_empty() => (start, size.saturating_sub(1)),
        (Err(_), Ok(n)) if a.is_empty() && n > 0 => (size.saturating_sub(n), size.saturating_sub(1)),
        _ => return Ok(None),
    };
    if size == 0 || r.0 >= size {
        return Err(());
    }
    Ok(Some(r))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("iso") => "application/x-iso9660-image",
        Some("ipxe" | "cfg" | "conf" | "txt" | "yaml" | "json") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn handle(stream: TcpStream, root: &Path, opts: &ServeOptions, in_head: Arc<AtomicBool>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut input = Input { stream, buf: Vec::new(), in_head };
    loop {
        match input.read_request(opts.idle_timeout)? {
            Head::Closed => break,
            Head::Bad(status) => {
                head(&mut writer, status, &[("Content-Length", "0".to_string())], true)?;
                if opts.log {
                    eprintln!("- - {}", &status[..3]);
                }
                break;
            }
            Head::Request(req) => {
                let close = req.close;
                let (status, sent) = respond(&mut writer, root, &req)?;
                if opts.log {
                    eprintln!("{} {} {status} {sent}", printable(&req.method), printable(&req.target));
                }
                if close {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Text from a client, safe to print on a terminal (control characters escaped).
fn printable(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

fn head(w: &mut TcpStream, status: &str, headers: &[(&str, String)], close: bool) -> std::io::Result<()> {
    let mut s = format!("HTTP/1.1 {status}\r\nServer: liveboot\r\n");
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if close {
        s.push_str("Connection: close\r\n");
    }
    s.push_str("\r\n");
    w.write_all(s.as_bytes())
}

fn respond(w: &mut TcpStream, root: &Path, req: &Request) -> std::io::Result<(u16, u64)> {
    let empty = |code: &str| vec![("Content-Length", "0".to_string()), ("X-Reason", code.to_string())];
    if req.method != "GET" && req.method != "HEAD" {
        let mut h = empty("method");
        h.push(("Allow", "GET, HEAD".into()));
        head(w, "405 Method Not Allowed", &h, req.close)?;
        return Ok((405, 0));
    }
    let Some(path) = resolve(root, &req.target) else {
        head(w, "404 Not Found", &empty("no such file"), req.close)?;
        return Ok((404, 0));
    };
    let mut file = std::fs::File::open(&path)?;
    let m = file.metadata()?;
    let size = m.len();
    let etag = format!("\"{:x}-{:x}-{:x}\"", m.ino(), size, m.mtime());
    let modified = http_date(m.mtime());
    let mut headers = vec![
        ("Accept-Ranges", "bytes".to_string()),
        ("ETag", etag.clone()),
        ("Last-Modified", modified.clone()),
        ("Content-Type", content_type(&path).to_string()),
        // Published names are content-addressed: what is behind them never changes.
        ("Cache-Control", "public, max-age=31536000, immutable".to_string()),
    ];
    let not_modified = match req.header("if-none-match") {
        Some(tags) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => req.header("if-modified-since") == Some(modified.as_str()),
    };
    if not_modified {
        head(w, "304 Not Modified", &headers, req.close)?;
        return Ok((304, 0));
    }
    let wanted = match req.header("if-range") {
        Some(v) if v != etag && v != modified => None,
        _ => req.header("range"),
    };
    let (status, start, len) = match range(wanted, size) {
        Err(()) => {
            headers.push(("Content-Range", format!("bytes */{size}")));
            headers.push(("Content-Length", "0".to_string()));
            head(w, "416 Range Not Satisfiable", &headers, req.close)?;
            return Ok((416, 0));
        }
        Ok(Some((a, b))) => {
            headers.push(("Content-Range", format!("bytes {a}-{b}/{size}")));
            (206, a, b - a + 1)
        }
        Ok(None) => (200, 0, size),
    };
    headers.push(("Content-Length", len.to_string()));
    head(w, if status == 206 { "206 Partial Content" } else { "200 OK" }, &headers, req.close)?;
    if req.method == "GET" {
        send_range(&mut file, w, start, len)?;
    }
    Ok((status, if req.method == "GET" { len } else { 0 }))
}

/// Sends `len` bytes of `file` from `start`: with sendfile(2), so the bytes go from the page
/// cache to the socket without passing through user space (the way nginx serves files); with
/// read and write where the kernel refuses.
fn send_range(file: &mut std::fs::File, w: &mut TcpStream, start: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut offset = start as libc::off_t;
    let end = start + len;
    while (offset as u64) < end {
        let want = ((end - offset as u64) as usize).min(1 << 30);
        // SAFETY: both descriptors are open for the duration of the call; offset is ours.
        let n = unsafe { libc::sendfile(w.as_raw_fd(), file.as_raw_fd(), &mut offset, want) };
        if n > 0 {
            continue;
        }
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank while being sent"));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EINVAL) | Some(libc::ENOSYS) => {
                file.seek(SeekFrom::Start(offset as u64))?;
                std::io::copy(&mut file.take(end - offset as u64), w)?;
                return Ok(());
            }
            _ => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    fn fixture() -> (tempfile::TempDir, Vec<u8>, Server) {
        let d = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..1_048_576u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        std::fs::write(d.path().join("img.iso"), &data).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let s = serve(d.path(), "127.0.0.1:0", ServeOptions::default()).unwrap();
        (d, data, s)
    }

    /// Sends raw requests on one connection; returns each response's head and body.
    fn exchange(addr: SocketAddr, requests: &[String]) -> Vec<(String, Vec<u8>)> {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut out = Vec::new();
        for req in requests {
            s.write_all(req.as_bytes()).unwrap();
            let mut head = String::new();
            loop {
                let mut l = String::new();
                r.read_line(&mut l).unwrap();
                head.push_str(&l);
                if l == "\r\n" || l.is_empty() {
                    break;
                }
            }
            let len: usize = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
            let mut body = vec![0u8; if req.starts_with("HEAD") { 0 } else { len }];
            r.read_exact(&mut body).unwrap();
            out.push((head, body));
        }
        out
    }

    fn get(path: &str, extra: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
    }

    #[test]
    fn ranges_heads_and_keep_alive() {
        let (_d, data, s) = fixture();
        let r = exchange(
            s.addr(),
            &[
                "HEAD /img.iso HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
                get("/img.iso", "Range: bytes=100-199\r\n"),
                get("/img.iso", "Range: bytes=-10\r\n"),
                get("/img.iso", "Range: bytes=1048000-\r\n"),
                get("/img.iso", ""),
            ],
        );
        assert!(
            r[0].0.starts_with("HTTP/1.1 200") && r[0].0.contains("Content-Length: 1048576") && r[0].0.contains("Accept-Ranges: bytes")
        );
        assert!(r[1].0.starts_with("HTTP/1.1 206") && r[1].0.contains("Content-Range: bytes 100-199/1048576"));
        assert_eq!(r[1].1, &data[100..200]);
        assert_eq!(r[2].1, &data[data.len() - 10..]);
        assert_eq!(r[3].1, &data[1_048_000..]);
        assert_eq!(r[4].1, data);
    }

    #[test]
    fn conditional_and_bad_requests() {
        let (_d, _data, s) = fixture();
        let first = exchange(s.addr(), &[get("/img.iso", "Range: bytes=0-0\r\n")]);
        let etag = first[0].0.lines().find_map(|l| l.strip_prefix("ETag: ")).unwrap().to_string();
        let modified = first[0].0.lines().find_map(|l| l.strip_prefix("Last-Modified: ")).unwrap().to_string();
        let r = exchange(
            s.addr(),
            &[
                get("/img.iso", &format!("If-None-Match: {etag}\r\n")),
                get("/img.iso", &format!("If-Modified-Since: {modified}\r\n")),
                get("/img.iso", "Range: bytes=2000000-\r\n"),
                get("/img.iso", "If-Range: \"stale\"\r\nRange: bytes=0-9\r\n"),
                get("/../etc/passwd", ""),
                get("/%2e%2e/etc/passwd", ""),
                get("/sub", ""),
                "DELETE /img.iso HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            ],
        );
        let codes: Vec<&str> = r.iter().map(|(h, _)| &h[9..12]).collect();
        assert_eq!(codes, ["304", "304", "416", "200", "404", "404", "404", "405"]);
        assert!(r[2].0.contains("Content-Range: bytes */1048576"));
    }

    #[test]
    fn many_concurrent_range_readers_get_the_right_bytes() {
        let (_d, data, s) = fixture();
        let data = Arc::new(data);
        let threads: Vec<_> = (0..32)
            .map(|t| {
                let (addr, data) = (s.addr(), data.clone());
                std::thread::spawn(move || {
                    for k in 0..20 {
                        let a = (t * 31_337 + k * 4_099) % 1_000_000;
                        let r = exchange(addr, &[get("/img.iso", &format!("Range: bytes={a}-{}\r\n", a + 4095))]);
                        assert_eq!(r[0].1, &data[a..a + 4096]);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn http_dates_are_imf_fixdates() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}

#[cfg(test)]
mod hostile {
    use super::*;

    fn server() -> (tempfile::TempDir, Server) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("x.iso"), b"0123456789").unwrap();
        let s = serve(d.path(), "127.0.0.1:0", ServeOptions::default()).unwrap();
        (d, s)
    }

    /// Everything the server sends until it closes the connection.
    fn all_of(mut s: TcpStream) -> String {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn an_endless_line_is_answered_431_after_a_bounded_read() {
        let (_d, srv) = server();
        let s = TcpStream::connect(srv.addr()).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let chunk = vec![b'A'; 64 << 10];
            let mut sent = 0usize;
            // The server stops reading after MAX_HEAD: the writes then fail or block; stop at 8 MiB.
            while sent < 8 << 20 && w.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let answer = all_of(s);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        let sent = writer.join().unwrap();
        assert!(sent < 8 << 20, "the server kept reading an endless line ({sent} bytes)");
    }

    #[test]
    fn a_body_is_never_read_as_the_next_request() {
        let (_d, srv) = server();
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        let smuggled = "GET /x.iso HTTP/1.1\r\nHost: a\r\n\r\n";
        let req = format!("GET /x.iso HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{smuggled}", smuggled.len());
        s.write_all(req.as_bytes()).unwrap();
        let answer = all_of(s);
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "two responses: {answer}");
        assert!(answer.starts_with("HTTP/1.1 200 ") && answer.contains("Connection: close"), "{answer}");
    }

    #[test]
    fn transfer_encoding_and_conflicting_lengths_are_refused() {
        let (_d, srv) = server();
        for extra in [
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            "Transfer-Encoding: chunked\r\n",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: -1\r\n",
        ] {
            let mut s = TcpStream::connect(srv.addr()).unwrap();
            s.write_all(format!("GET /x.iso HTTP/1.1\r\nHost: a\r\n{extra}\r\n").as_bytes()).unwrap();
            let answer = all_of(s);
            assert!(answer.starts_with("HTTP/1.1 400 "), "{extra:?}: {answer}");
        }
    }

    #[test]
    fn too_many_header_fields_are_431_and_a_stalled_head_408() {
        let (_d, srv) = server();
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        let fields: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
        s.write_all(format!("GET /x.iso HTTP/1.1\r\n{fields}\r\n").as_bytes()).unwrap();
        assert!(all_of(s).starts_with("HTTP/1.1 431 "));
        // Half a head, then nothing: answered 408 once the head's deadline has passed.
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        s.write_all(b"GET /x.iso HTT").unwrap();
        let start = Instant::now();
        let answer = all_of(s);
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        assert!(start.elapsed() >= HEAD_DEADLINE - Duration::from_secs(1));
    }

    #[test]
    fn hidden_files_are_never_served() {
        let (d, srv) = server();
        std::fs::write(d.path().join(".htpasswd"), b"admin:secret").unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/config"), b"[core]").unwrap();
        std::fs::write(d.path().join(".liveboot-publish-abc123"), b"partial").unwrap();
        for path in ["/.htpasswd", "/.git/config", "/.liveboot-publish-abc123", "/%2Ehtpasswd"] {
            let mut s = TcpStream::connect(srv.addr()).unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
            let answer = all_of(s);
            assert!(answer.starts_with("HTTP/1.1 404 "), "{path}: {answer}");
        }
    }
}
