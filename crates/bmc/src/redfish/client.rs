//! The HTTP side of Redfish: TLS, authentication, retries, task monitors.
//!
//! A [`Client`] logs in with a session when the service offers a SessionService and logs out
//! when it is dropped, on every path, errors included (leaked sessions exhaust the BMC's few
//! slots: Dell RAC0218). Without a SessionService it uses basic authentication.
//! Requests are retried on connection errors, 503 (honouring Retry-After), 5xx of reads and the
//! vendors' retryable messages, with a pause that doubles each time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::quirks::RETRYABLE_MESSAGES;
use crate::{Secret, Timing, Tls};

/// An answer from the BMC.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The Location header (task monitors, new sessions).
    pub location: Option<String>,
    /// Retry-After in seconds.
    pub retry_after: Option<u64>,
    /// The body (Null when empty or not JSON).
    pub body: Value,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

enum Auth {
    Basic(Secret),
    Session { token: Secret, uri: String },
    None,
}

/// The sessions open right now, process-wide: a signal arriving mid-command must not leave
/// them on the BMCs (their few slots fill up: iDRAC RAC0218, iLO), so the CLI's signal thread
/// ends them with [`end_open_sessions`] before exiting.
struct OpenSession {
    id: u64,
    agent: ureq::Agent,
    url: String,
    token: Secret,
}

static OPEN: std::sync::Mutex<Vec<OpenSession>> = std::sync::Mutex::new(Vec::new());
static CLOSING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
/// Logins under way: their session exists on the BMC before its token is known here.
static LOGGING_IN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts a login under way while it lives.
struct LoginUnderWay;

impl LoginUnderWay {
    fn start() -> LoginUnderWay {
        LOGGING_IN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        LoginUnderWay
    }
}

impl Drop for LoginUnderWay {
    fn drop(&mut self) {
        LOGGING_IN.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Ends every session this process has open (one DELETE each, a few seconds at most) and
/// refuses new ones from then on; returns how many were ended. For a signal handler's thread
/// before the process exits.
pub fn end_open_sessions() -> usize {
    CLOSING.store(true, std::sync::atomic::Ordering::SeqCst);
    // A login under way ends its own session when it sees CLOSING: wait for it (briefly).
    let start = std::time::Instant::now();
    while LOGGING_IN.load(std::sync::atomic::Ordering::SeqCst) > 0 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let open: Vec<OpenSession> = std::mem::take(&mut *OPEN.lock().unwrap_or_else(|e| e.into_inner()));
    let ended: Vec<_> = open
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || {
                s.agent.delete(&s.url).set("X-Auth-Token", s.token.expose()).timeout(Duration::from_secs(5)).call().is_ok()
            })
        })
        .collect();
    ended.into_iter().map(|h| h.join()).filter(|r| matches!(r, Ok(true))).count()
}

/// A logged-in Redfish connection.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    username: String,
    password: Secret,
    auth: Auth,
    timing: Timing,
    /// The CA file trusted, if any (for what a certificate failure says).
    ca_file: Option<std::path::PathBuf>,
    /// Its entry in the process's list of open sessions.
    registered: Option<u64>,
}

impl Client {
    /// Reads the service root without credentials, then logs in: a session when the root links
    /// one, basic authentication otherwise. Returns the client and the service root.
    pub fn connect(address: &str, username: &str, password: &Secret, tls: &Tls, timing: &Timing) -> Result<(Client, Value), String> {
        let base = base_url(address);
        let agent = ureq::AgentBuilder::new()
            .timeout(timing.request)
            .max_idle_connections(0)
            .redirects(0)
            .user_agent(concat!("liveboot/", env!("CARGO_PKG_VERSION")))
            .tls_config(Arc::new(tls_config(tls)?))
            .build();
        let mut c = Client {
            agent,
            base,
            username: username.to_string(),
            password: password.clone(),
            auth: Auth::None,
            timing: timing.clone(),
            ca_file: match tls {
                Tls::Verify { ca_file } => ca_file.clone(),
                _ => None,
            },
            registered: None,
        };
        // The service root is public by the standard; some services (sushy-tools with an auth
        // file) want credentials for it too.
        let root = match c.get("/redfish/v1/") {
            Err(e) if e.contains("HTTP 401") => {
                c.auth = Auth::Basic(password.clone());
                c.get("/redfish/v1/")?
            }
            r => r?,
        };
        c.auth = Auth::Basic(password.clone());
        if let Some(sessions) = root.pointer("/Links/Sessions/@odata.id").and_then(Value::as_str) {
            c.login(sessions)?;
        }
        Ok((c, root))
    }

    fn login(&mut self, sessions: &str) -> Result<(), String> {
        let _under_way = LoginUnderWay::start();
        if CLOSING.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        // A session that expired under us (logging in again) is no longer ours to end.
        if let Some(old) = self.registered.take() {
            OPEN.lock().unwrap_or_else(|e| e.into_inner()).retain(|s| s.id != old);
        }
        let body = serde_json::json!({ "UserName": self.username, "Password": self.password.expose() });
        let saved = std::mem::replace(&mut self.auth, Auth::None);
        let reply = self.send("POST", sessions, Some(&body));
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                self.auth = saved;
                return Err(format!("login failed: {e}"));
            }
        };
        let token = reply.header("X-Auth-Token").map(str::to_string);
        let uri = reply.location.clone().or_else(|| reply.body.get("@odata.id").and_then(Value::as_str).map(str::to_string));
        match (token, uri) {
            (Some(token), Some(uri)) => {
                self.auth = Auth::Session { token: Secret::new(token.clone()), uri: self.path_of(&uri) };
                let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let url = format!("{}{}", self.base, self.path_of(&uri));
                OPEN.lock().unwrap_or_else(|e| e.into_inner()).push(OpenSession {
                    id,
                    agent: self.agent.clone(),
                    url,
                    token: Secret::new(token),
                });
                self.registered = Some(id);
                if CLOSING.load(std::sync::atomic::Ordering::SeqCst) {
                    // Interrupted while logging in: the session ends at once.
                    self.logout();
                    return Err("interrupted".into());
                }
                Ok(())
            }
            (Some(_), None) => {
                // No Location to log out of: use basic authentication instead of a session
                // that would stay behind.
                self.auth = Auth::Basic(self.password.clone());
                Ok(())
            }
            _ => {
                self.auth = saved;
                Err("the BMC created a session but sent no X-Auth-Token".into())
            }
        }
    }

    /// Logs the session out (on drop, whatever happened before).
    fn logout(&mut self) {
        if let Some(id) = self.registered.take() {
            let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
            let before = open.len();
            open.retain(|s| s.id != id);
            if open.len() == before {
                // Already ended by end_open_sessions.
                self.auth = Auth::None;
                return;
            }
        }
        if let Auth::Session { uri, .. } = &self.auth {
            let uri = uri.clone();
            // One try and one retry: the BMC ends it by itself later, but slots are few.
            for _ in 0..2 {
                if let Ok(r) = self.once("DELETE", &uri, None, None) {
                    if r.status < 500 {
                        break;
                    }
                }
            }
            self.auth = Auth::None;
        }
    }

    /// A path (`/redfish/v1/...`) from a link that may be a full URL.
    pub fn path_of(&self, link: &str) -> String {
        if let Some(rest) = link.strip_prefix("http://").or_else(|| link.strip_prefix("https://")) {
            rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".into())
        } else {
            link.to_string()
        }
    }

    /// GET a resource's JSON.
    pub fn get(&mut self, path: &str) -> Result<Value, String> {
        Ok(self.send("GET", path, None)?.body)
    }

    /// POST (actions).
    pub fn post(&mut self, path: &str, body: &Value) -> Result<Reply, String> {
        self.send("POST", path, Some(body))
    }

    /// PATCH (settings), with `If-Match` and the resource's ETag when it has one: services
    /// that require it answer 428 without (Fujitsu iRMC, newer iDRAC and iLO settings). A weak
    /// ETag refused with 412 is sent again as a strong one (as sushy does).
    pub fn patch(&mut self, path: &str, body: &Value) -> Result<Reply, String> {
        let Some(tag) = self.etag(path) else { return self.send_with("PATCH", path, Some(body), None) };
        match self.send_with("PATCH", path, Some(body), Some(&tag)) {
            Err(e) if e.contains("HTTP 412") && tag.starts_with("W/") => self.send_with("PATCH", path, Some(body), Some(&tag[2..])),
            r => r,
        }
    }

    /// A resource's ETag: its ETag header, else its `@odata.etag`.
    fn etag(&mut self, path: &str) -> Option<String> {
        let r = self.send("GET", path, None).ok()?;
        r.header("ETag").map(str::to_string).or_else(|| r.body.get("@odata.etag").and_then(Value::as_str).map(str::to_string))
    }

    /// DELETE.
    pub fn delete(&mut self, path: &str) -> Result<Reply, String> {
        self.send("DELETE", path, None)
    }

    /// Sends a request with retries. 4xx and 5xx become errors carrying the BMC's message; a
    /// 2xx whose body is an error with a non-success message does too (HPE answers success with
    /// error-shaped bodies, so only the message ids decide).
    pub fn send(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, String> {
        self.send_with(method, path, body, None)
    }

    /// [`send`](Self::send) with an `If-Match` header.
    fn send_with(&mut self, method: &str, path: &str, body: Option<&Value>, if_match: Option<&str>) -> Result<Reply, String> {
        // Requests go to this BMC only: a link such as `@other-host/x` appended to the base URL
        // would become `https://bmc@other-host/x` and carry the session token elsewhere.
        if !path.starts_with('/') || path.starts_with("//") || path.contains(['@', '\\']) || path.chars().any(char::is_control) {
            return Err(format!("the BMC linked to {path:?}, which is not a path on this BMC; refusing to follow it"));
        }
        let mut pause = self.timing.backoff;
        let mut relogged = false;
        let mut attempt = 1;
        loop {
            let last = attempt >= self.timing.attempts;
            let wait = match self.once(method, path, body, if_match) {
                // A certificate that is not trusted now will not be trusted in a second either.
                Err(Failure::Transport(e)) if e.starts_with(CERTIFICATE) => return Err(e),
                Err(Failure::Transport(e)) => {
                    if last {
                        return Err(format!("{e} (tried {attempt} times)"));
                    }
                    pause
                }
                Ok(r) if r.status == 401 && !relogged && matches!(self.auth, Auth::Session { .. }) => {
                    // The session expired under us: log in again once.
                    relogged = true;
                    let sessions =
                        self.get("/redfish/v1/")?.pointer("/Links/Sessions/@odata.id").and_then(Value::as_str).map(str::to_string);
                    if let Some(s) = sessions {
                        self.auth = Auth::Basic(self.password.clone());
                        self.login(&s)?;
                    }
                    continue;
                }
                Ok(r) if r.status < 300 => {
                    if let Some(m) = failure_in_success(&r.body) {
                        return Err(format!("HTTP {} with an error body: {m}", r.status));
                    }
                    return Ok(r);
                }
                Ok(r) => {
                    let msg = message_of(&r.body);
                    let retryable =
                        r.status == 503 || (r.status >= 500 && method == "GET") || RETRYABLE_MESSAGES.iter().any(|id| msg.contains(id));
                    if !retryable || last {
                        let tries = if attempt > 1 { format!(" (tried {attempt} times)") } else { String::new() };
                        return Err(format!(
                            "{method} {path}: HTTP {}{}{tries}{}",
                            r.status,
                            if msg.is_empty() { String::new() } else { format!(": {msg}") },
                            hint(&msg)
                        ));
                    }
                    match r.retry_after {
                        Some(s) => Duration::from_secs(s).min(self.timing.max_retry_after),
                        None => pause,
                    }
                }
            };
            std::thread::sleep(wait);
            pause *= 2;
            attempt += 1;
        }
    }

    fn once(&self, method: &str, path: &str, body: Option<&Value>, if_match: Option<&str>) -> Result<Reply, Failure> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .agent
            .request(method, &url)
            .set("Accept", "application/json")
            .set("OData-Version", "4.0")
            .set("Connection", "close")
            .set("Accept-Encoding", "identity");
        if let Some(tag) = if_match {
            req = req.set("If-Match", tag);
        }
        match &self.auth {
            Auth::Basic(p) => {
                let pair = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.username, p.expose()));
                req = req.set("Authorization", &format!("Basic {pair}"));
            }
            Auth::Session { token, .. } => req = req.set("X-Auth-Token", token.expose()),
            Auth::None => {}
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(&b.to_string()),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => {
                return Err(Failure::Transport(describe_transport(&t, self.timing.request, self.ca_file.as_deref())))
            }
        };
        let status = resp.status();
        let headers: Vec<(String, String)> =
            resp.headers_names().into_iter().filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string()))).collect();
        let location = resp.header("Location").map(|l| self.path_of(l));
        let retry_after = resp.header("Retry-After").and_then(|v| v.trim().parse().ok());
        let text = resp.into_string().map_err(|e| Failure::Transport(format!("reading the answer: {e}")))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply { status, location, retry_after, body, headers })
    }

    /// Follows a task monitor (202 + Location) or a job resource until it ends, up to the
    /// settle time. Completed → Ok; Exception, Killed, Failed → the task's messages.
    pub fn wait_task(&mut self, monitor: &str) -> Result<Value, String> {
        let start = Instant::now();
        let mut state = String::from("unknown");
        while start.elapsed() < self.timing.settle {
            let r = self.send("GET", monitor, None)?;
            let s = r.body.get("TaskState").or_else(|| r.body.get("JobState")).and_then(Value::as_str).unwrap_or("");
            if r.status != 202 {
                match s {
                    "Completed" | "" => return Ok(r.body),
                    "Exception" | "Killed" | "Cancelled" | "Failed" | "CompletedWithErrors" => {
                        return Err(format!("task {monitor} ended {s}: {}", task_message(&r.body)));
                    }
                    _ => {}
                }
            }
            state = if s.is_empty() { "running".into() } else { s.to_string() };
            let pause =
                r.retry_after.map(Duration::from_secs).unwrap_or(self.timing.poll).min(self.timing.poll.max(Duration::from_millis(50)));
            std::thread::sleep(pause);
        }
        Err(format!("task {monitor} still {state} after {} s; it may finish later: see `liveboot jobs`", self.timing.settle.as_secs()))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.logout();
    }
}

enum Failure {
    Transport(String),
}

/// How a failure of the BMC's certificate starts: such failures are not retried.
const CERTIFICATE: &str = "the BMC's certificate";

fn describe_transport(t: &ureq::Transport, timeout: Duration, ca_file: Option<&std::path::Path>) -> String {
    use std::error::Error;
    let text = t.to_string();
    let cause = t.source().map(|e| e.to_string()).unwrap_or_else(|| t.message().unwrap_or("").to_string());
    if text.contains("timed out") || text.contains("WouldBlock") || text.contains("Resource temporarily unavailable") {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    if text.contains("invalid peer certificate") || text.contains("UnknownIssuer") || text.contains("fingerprint") {
        let what = if text.contains("NotValidForName") {
            "is not made out for the address in the inventory"
        } else if text.contains("Expired") || text.contains("NotValidYet") {
            "is outside its validity dates (or the clock is wrong)"
        } else {
            "is not trusted"
        };
        let fix = match ca_file {
            _ if text.contains("fingerprint") => "check bmc.fingerprint against the BMC's certificate (openssl s_client -connect ADDRESS:443 | openssl x509 -noout -fingerprint -sha256)".to_string(),
            Some(f) => format!(
                "bmc.ca_file {} does not verify it; a BMC's own self-signed certificate is no CA and is not accepted as one: pin it with bmc.fingerprint instead (its SHA-256; then bmc.ca_file is not needed)",
                f.display()
            ),
            None => "set bmc.ca_file (the CA that signed it) or bmc.fingerprint (a self-signed certificate's SHA-256) in the inventory, or pass --insecure".to_string(),
        };
        return format!("{CERTIFICATE} {what} ({cause}): {fix}");
    }
    match t.kind() {
        ureq::ErrorKind::Dns => format!("cannot resolve the BMC's name ({cause})"),
        ureq::ErrorKind::ConnectionFailed => format!("cannot connect to the BMC ({cause})"),
        ureq::ErrorKind::Io => format!("the BMC dropped the connection without answering ({cause})"),
        _ => text,
    }
}

/// `https://host:port` from an inventory address (host, host:port or URL).
pub fn base_url(address: &str) -> String {
    let a = address.trim_end_matches('/');
    if a.starts_with("http://") || a.starts_with("https://") {
        a.to_string()
    } else {
        format!("https://{a}")
    }
}

/// The BMC's own words from an error body.
pub fn message_of(body: &Value) -> String {
    let Some(err) = body.get("error") else {
        return String::new();
    };
    let infos: Vec<String> = err
        .get("@Message.ExtendedInfo")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    let id = i.get("MessageId").and_then(Value::as_str).unwrap_or("");
                    let m = i.get("Message").and_then(Value::as_str).unwrap_or("");
                    (!m.is_empty()).then(|| format!("{m} [{id}]"))
                })
                .collect()
        })
        .unwrap_or_default();
    // Extended info without text (sushy-tools, some iLO answers) leaves the top-level message.
    let top = err.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    if infos.is_empty() {
        let id = err.get("code").and_then(Value::as_str).unwrap_or("");
        if id.is_empty() {
            top
        } else {
            format!("{top} [{id}]").trim().to_string()
        }
    } else {
        infos.join("; ")
    }
}

fn task_message(body: &Value) -> String {
    let msgs: Vec<&str> = body
        .get("Messages")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m.get("Message").and_then(Value::as_str)).collect())
        .unwrap_or_default();
    match (msgs.is_empty(), body.get("Message").and_then(Value::as_str)) {
        (false, _) => msgs.join("; "),
        (true, Some(m)) => m.to_string(),
        _ => "no message".into(),
    }
}

/// A 2xx body shaped as an error whose messages are not all successes.
fn failure_in_success(body: &Value) -> Option<String> {
    let infos = body.get("error")?.get("@Message.ExtendedInfo")?.as_array()?;
    let failed = infos.iter().any(|i| !i.get("MessageId").and_then(Value::as_str).unwrap_or("").ends_with("Success"));
    failed.then(|| message_of(body))
}

fn hint(msg: &str) -> &'static str {
    if msg.contains("RAC0218") || msg.contains("SessionLimitExceeded") || msg.contains("maximum number of user sessions") {
        " (the BMC's session slots are full: stale sessions expire after its session timeout, or end them in its web interface; liveboot logs out its own)"
    } else if msg.contains("Unauthorized") || msg.contains("credentials") || msg.contains("NoValidSession") {
        " (check the user name and the password the inventory points to)"
    } else {
        ""
    }
}

fn tls_config(tls: &Tls) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    Ok(match tls {
        Tls::Verify { ca_file } => {
            let mut roots = rustls::RootCertStore::empty();
            match ca_file {
                Some(f) => {
                    let pem = std::fs::read(f).map_err(|e| format!("cannot read CA file {}: {e}", f.display()))?;
                    let mut n = 0;
                    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                        let cert = cert.map_err(|e| format!("CA file {}: {e}", f.display()))?;
                        roots.add(cert).map_err(|e| format!("CA file {}: {e}", f.display()))?;
                        n += 1;
                    }
                    if n == 0 {
                        return Err(format!("CA file {} holds no PEM certificate", f.display()));
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Tls::Fingerprint(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { fingerprint: Some(*fp), provider }))
            .with_no_client_auth(),
        Tls::Insecure => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Pinned { fingerprint: None, provider })).with_no_client_auth()
        }
    })
}

/// Trusts a certificate by its SHA-256 fingerprint (or any, for --insecure); the handshake
/// signatures are still checked, so the peer holds the certificate's key.
#[derive(Debug)]
struct Pinned {
    fingerprint: Option<[u8; 32]>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.fingerprint {
            None => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            Some(fp) => {
                let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
                if got == fp {
                    Ok(rustls::client::danger::ServerCertVerified::assertion())
                } else {
                    let hex: Vec<String> = got.iter().map(|b| format!("{b:02X}")).collect();
                    Err(rustls::Error::General(format!(
                        "certificate fingerprint {} is not the one in the inventory (bmc.fingerprint)",
                        hex.join(":")
                    )))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_shaped_error_bodies_are_judged_by_their_message_ids() {
        let ok =
            serde_json::json!({"error": {"code": "iLO.0.10.ExtendedInfo", "@Message.ExtendedInfo": [{"MessageId": "Base.1.4.Success"}]}});
        assert_eq!(failure_in_success(&ok), None);
        let bad = serde_json::json!({"error": {"@Message.ExtendedInfo": [{"MessageId": "iLO.2.14.InvalidOperationForSystemState", "Message": "no"}]}});
        assert!(failure_in_success(&bad).unwrap().contains("InvalidOperationForSystemState"));
    }

    #[test]
    fn addresses_become_base_urls() {
        assert_eq!(base_url("10.0.0.5"), "https://10.0.0.5");
        assert_eq!(base_url("bmc:8443"), "https://bmc:8443");
        assert_eq!(base_url("http://127.0.0.1:8000/"), "http://127.0.0.1:8000");
    }
}
