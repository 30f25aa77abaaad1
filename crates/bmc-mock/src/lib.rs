//! Redfish BMCs shaped after real vendors' firmware, served in-process on loopback, for tests.
//!
//! Each [`Shape`] builds the resource tree a vendor's BMC shows (paths, slot names, OEM
//! actions) and enforces the rules that vendor's firmware enforces (what it rejects with 400).
//! [`Faults`] inject what real BMCs do on bad days: 503 with Retry-After, a full session table,
//! connections reset mid-flow, answers slower than the client's timeout, tasks that never end.
//! Everything the client did is kept for assertions: the requests, sessions created and deleted.
//!
//! The sushy-tools emulator covers the standard; this covers what only vendors do.
//! [`IpmiSim`] runs the real ipmi_sim for the IPMI tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

/// Which firmware to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The standard (media under Systems, Cd target, sessions).
    Generic,
    /// iDRAC before 6.00.02: media under the Manager; `Cd` would boot the physical drive, so
    /// boot once must be the ImportSystemConfiguration job.
    DellOld,
    /// iDRAC 6+: media under Systems/System.Embedded.1/VirtualMedia/{1,2}; a just-ejected slot
    /// still reads inserted for a moment.
    DellNew,
    /// iLO 5: CD at Managers/1/VirtualMedia/2, boot once by Oem.Hpe.BootOnNextServerReset,
    /// success answered with error-shaped bodies, Inserted/WriteProtected rejected.
    Hpe,
    /// X12: CD1 without Inserted (ConnectedVia tells), `UsbCd`, full override triple required,
    /// Inserted/WriteProtected rejected, `?`/`=` in URLs rejected.
    Supermicro,
    /// XCC: EXT1/EXT2 without InsertMedia, inserted by PATCH.
    Lenovo,
    /// MegaRAC: boot override only through Systems/Self/SD with the full triple; InsertMedia
    /// wants TransferProtocolType.
    Ami,
}

/// Faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer this many requests (after login) with 503 and `Retry-After: 1`.
    pub unavailable: u32,
    /// Refuse new sessions: the table is full (Dell RAC0218).
    pub session_limit: bool,
    /// Reset the connection of requests number `reset_from ..` (counted from 1), `reset_count` of them.
    pub reset_from: Option<u32>,
    /// How many requests to reset (with `reset_from`).
    pub reset_count: u32,
    /// Sleep this long before answering anything but the service root and sessions.
    pub slow: Option<Duration>,
    /// Tasks and jobs stay Running forever.
    pub task_never_completes: bool,
    /// Resources carry a weak ETag (`W/"<hash>"`); a PATCH without `If-Match` gets 428 and one
    /// whose tag is not the strong form (`"<hash>"`) 412, as newer iDRAC settings resources do.
    pub require_if_match: bool,
}

/// What the BMC saw.
#[derive(Debug, Default, Clone)]
pub struct Record {
    /// Every request: method, path, JSON body (Null when none).
    pub requests: Vec<(String, String, Value)>,
    /// Sessions created.
    pub sessions_created: u32,
    /// Sessions deleted (logged out).
    pub sessions_deleted: u32,
    /// Authorization headers and bodies as received (to check what travelled).
    pub raw: Vec<String>,
}

struct State {
    shape: Shape,
    tree: BTreeMap<String, Value>,
    faults: Faults,
    record: Record,
    sessions: BTreeMap<String, String>,
    count: u32,
    unavailable_left: u32,
    user: String,
    password: String,
    stale_reads: u32,
    next_job: u32,
}

/// A running fake BMC; stops when dropped.
pub struct MockBmc {
    addr: SocketAddr,
    tls: Option<Tls>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl MockBmc {
    /// Starts a BMC of `shape` on 127.0.0.1 with these credentials and faults (plain HTTP).
    pub fn start(shape: Shape, user: &str, password: &str, faults: Faults) -> MockBmc {
        Self::start_with(shape, user, password, faults, None)
    }

    /// The same over HTTPS with a fresh self-signed certificate for `localhost`/127.0.0.1, as
    /// BMCs come out of the box.
    pub fn start_tls(shape: Shape, user: &str, password: &str) -> MockBmc {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("params");
        let cert = params.self_signed(&key).expect("self-signed certificate");
        let der = cert.der().to_vec();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(der.clone())],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server config");
        Self::start_with(shape, user, password, Faults::default(), Some(Tls { config: Arc::new(config), der, pem: cert.pem() }))
    }

    /// The certificate (DER) of an HTTPS BMC.
    pub fn cert_der(&self) -> &[u8] {
        &self.tls.as_ref().expect("an HTTPS BMC").der
    }

    /// The certificate (PEM) of an HTTPS BMC.
    pub fn cert_pem(&self) -> &str {
        &self.tls.as_ref().expect("an HTTPS BMC").pem
    }

    fn start_with(shape: Shape, user: &str, password: &str, faults: Faults, tls: Option<Tls>) -> MockBmc {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            shape,
            tree: build(shape),
            unavailable_left: faults.unavailable,
            faults,
            record: Record::default(),
            sessions: BTreeMap::new(),
            count: 0,
            user: user.into(),
            password: password.into(),
            stale_reads: 0,
            next_job: 1,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let config = tls.as_ref().map(|t| t.config.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let st = st.clone();
                    let config = config.clone();
                    std::thread::spawn(move || match config {
                        None => handle(conn, st),
                        Some(c) => {
                            let Ok(server) = rustls::ServerConnection::new(c) else { return };
                            handle(rustls::StreamOwned::new(server, conn), st)
                        }
                    });
                }
            }
        });
        MockBmc { addr, tls, state, stop }
    }

    /// `http://127.0.0.1:PORT` (`https://localhost:PORT` over TLS).
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("http://{}", self.addr),
            Some(_) => format!("https://localhost:{}", self.addr.port()),
        }
    }

    /// What it saw so far.
    pub fn record(&self) -> Record {
        self.state.lock().unwrap().record.clone()
    }

    /// A resource as it is now.
    pub fn get(&self, path: &str) -> Value {
        self.state.lock().unwrap().tree.get(path).cloned().unwrap_or(Value::Null)
    }

    /// Changes a resource (a Null one when it does not exist yet): to give a shape what one
    /// firmware version shows.
    pub fn edit(&self, path: &str, f: impl FnOnce(&mut Value)) {
        let mut s = self.state.lock().unwrap();
        f(s.tree.entry(path.to_string()).or_insert(Value::Null));
    }

    /// Removes a resource (its collection still lists it: it answers 404).
    pub fn remove(&self, path: &str) {
        self.state.lock().unwrap().tree.remove(path);
    }

    /// Sessions still open.
    pub fn open_sessions(&self) -> usize {
        self.state.lock().unwrap().sessions.len()
    }
}

impl Drop for MockBmc {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Where each shape keeps things.
pub struct Paths {
    /// The System.
    pub system: &'static str,
    /// The Manager.
    pub manager: &'static str,
    /// The CD slot the image must land in.
    pub cd: &'static str,
    /// The slot the seed must land in.
    pub seed: &'static str,
}

impl Shape {
    /// Its paths.
    pub fn paths(self) -> Paths {
        match self {
            Shape::Generic => Paths {
                system: "/redfish/v1/Systems/1",
                manager: "/redfish/v1/Managers/1",
                cd: "/redfish/v1/Systems/1/VirtualMedia/Cd",
                seed: "/redfish/v1/Systems/1/VirtualMedia/Floppy",
            },
            Shape::DellOld => Paths {
                system: "/redfish/v1/Systems/System.Embedded.1",
                manager: "/redfish/v1/Managers/iDRAC.Embedded.1",
                cd: "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD",
                seed: "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/RemovableDisk",
            },
            Shape::DellNew => Paths {
                system: "/redfish/v1/Systems/System.Embedded.1",
                manager: "/redfish/v1/Managers/iDRAC.Embedded.1",
                cd: "/redfish/v1/Systems/System.Embedded.1/VirtualMedia/1",
                seed: "/redfish/v1/Systems/System.Embedded.1/VirtualMedia/2",
            },
            Shape::Hpe => Paths {
                system: "/redfish/v1/Systems/1",
                manager: "/redfish/v1/Managers/1",
                cd: "/redfish/v1/Managers/1/VirtualMedia/2",
                seed: "/redfish/v1/Managers/1/VirtualMedia/1",
            },
            Shape::Supermicro => Paths {
                system: "/redfish/v1/Systems/1",
                manager: "/redfish/v1/Managers/1",
                cd: "/redfish/v1/Managers/1/VirtualMedia/CD1",
                seed: "/redfish/v1/Managers/1/VirtualMedia/USBStick1",
            },
            Shape::Lenovo => Paths {
                system: "/redfish/v1/Systems/1",
                manager: "/redfish/v1/Managers/1",
                cd: "/redfish/v1/Managers/1/VirtualMedia/EXT1",
                seed: "/redfish/v1/Managers/1/VirtualMedia/EXT2",
            },
            Shape::Ami => Paths {
                system: "/redfish/v1/Systems/Self",
                manager: "/redfish/v1/Managers/Self",
                cd: "/redfish/v1/Managers/Self/VirtualMedia/CD1",
                seed: "/redfish/v1/Managers/Self/VirtualMedia/CD2",
            },
        }
    }
}

fn id(p: &str) -> Value {
    json!({ "@odata.id": p })
}

fn slot(path: &str, id_: &str, types: &[&str], actions: bool, inserted_field: bool) -> Value {
    let mut s = json!({ "@odata.id": path, "Id": id_, "Name": id_, "MediaTypes": types, "Image": "" });
    if inserted_field {
        s["Inserted"] = json!(false);
        s["WriteProtected"] = json!(true);
    } else {
        s["ConnectedVia"] = json!("NotConnected");
    }
    if actions {
        s["Actions"] = json!({
            "#VirtualMedia.InsertMedia": { "target": format!("{path}/Actions/VirtualMedia.InsertMedia") },
            "#VirtualMedia.EjectMedia": { "target": format!("{path}/Actions/VirtualMedia.EjectMedia") },
        });
    }
    s
}

fn build(shape: Shape) -> BTreeMap<String, Value> {
    let p = shape.paths();
    let mut t = BTreeMap::new();
    let mut root = json!({
        "@odata.id": "/redfish/v1/", "Id": "RootService", "RedfishVersion": "1.11.0",
        "Systems": id("/redfish/v1/Systems"), "Managers": id("/redfish/v1/Managers"),
        "SessionService": id("/redfish/v1/SessionService"), "Tasks": id("/redfish/v1/TaskService"),
        "Links": { "Sessions": id("/redfish/v1/SessionService/Sessions") },
    });
    match shape {
        Shape::DellOld | Shape::DellNew => root["Vendor"] = json!("Dell"),
        Shape::Hpe => root["Oem"] = json!({ "Hpe": { "Manager": [{ "ManagerType": "iLO 5" }] } }),
        Shape::Supermicro => root["Vendor"] = json!("Supermicro"),
        Shape::Lenovo => root["Vendor"] = json!("Lenovo"),
        Shape::Ami => root["Vendor"] = json!("AMI"),
        Shape::Generic => {}
    }
    t.insert("/redfish/v1/".into(), root);
    t.insert("/redfish/v1/Systems".into(), json!({ "Members": [id(p.system)] }));
    t.insert("/redfish/v1/Managers".into(), json!({ "Members": [id(p.manager)] }));
    t.insert("/redfish/v1/SessionService/Sessions".into(), json!({ "Members": [] }));
    t.insert("/redfish/v1/TaskService".into(), json!({ "Tasks": id("/redfish/v1/TaskService/Tasks") }));
    t.insert("/redfish/v1/TaskService/Tasks".into(), json!({ "Members": [] }));
    let resets = if shape == Shape::Hpe {
        json!(["On", "ForceOff", "GracefulShutdown", "ForceRestart", "Nmi", "PushPowerButton"])
    } else {
        json!(["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "PowerCycle"])
    };
    let targets = match shape {
        Shape::Supermicro => json!(["None", "Pxe", "Hdd", "UsbCd", "Cd", "BiosSetup"]),
        _ => json!(["None", "Pxe", "Cd", "Hdd", "BiosSetup"]),
    };
    let mut system = json!({
        "@odata.id": p.system, "Id": p.system.rsplit('/').next().unwrap(), "PowerState": "Off",
        "Manufacturer": match shape { Shape::DellOld | Shape::DellNew => "Dell Inc.", Shape::Hpe => "HPE", Shape::Supermicro => "Supermicro", Shape::Lenovo => "Lenovo", Shape::Ami => "Giga Computing", Shape::Generic => "Example" },
        "Boot": { "BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideTarget": "None", "BootSourceOverrideMode": "UEFI",
                  "BootSourceOverrideTarget@Redfish.AllowableValues": targets },
        "Actions": { "#ComputerSystem.Reset": { "target": format!("{}/Actions/ComputerSystem.Reset", p.system), "ResetType@Redfish.AllowableValues": resets } },
        "Links": { "ManagedBy": [id(p.manager)] },
        "Bios": id(&format!("{}/Bios", p.system)),
    });
    let mut bios = json!({
        "@odata.id": format!("{}/Bios", p.system),
        "Attributes": { "BootMode": "Uefi", "ProcVirtualization": "Enabled", "SriovGlobalEnable": "Disabled", "NumLock": true, "SerialPortAddress": 1016 },
        "Actions": { "#Bios.ResetBios": { "target": format!("{}/Bios/Actions/Bios.ResetBios", p.system) } },
    });
    if matches!(shape, Shape::DellOld | Shape::DellNew) {
        bios["@Redfish.Settings"] = json!({ "SettingsObject": id(&format!("{}/Bios/Settings", p.system)), "SupportedApplyTimes": ["OnReset", "AtMaintenanceWindowStart"] });
        t.insert(format!("{}/Bios/Settings", p.system), json!({ "Attributes": {} }));
        t.insert(format!("{}/Jobs", p.manager), json!({ "Members": [] }));
    }
    if shape == Shape::Ami {
        system["@Redfish.Settings"] = json!({ "SettingsObject": id("/redfish/v1/Systems/Self/SD") });
        t.insert("/redfish/v1/Systems/Self/SD".into(), json!({ "@odata.id": "/redfish/v1/Systems/Self/SD", "Boot": {} }));
    }
    let mut manager = json!({ "@odata.id": p.manager, "Id": p.manager.rsplit('/').next().unwrap() });
    let (holder, members) = match shape {
        Shape::Generic => (p.system, vec![("Cd", vec!["CD", "DVD"]), ("Floppy", vec!["Floppy", "USBStick"])]),
        Shape::DellOld => (p.manager, vec![("CD", vec!["CD", "DVD"]), ("RemovableDisk", vec!["USBStick"])]),
        Shape::DellNew => (p.system, vec![("1", vec!["CD", "DVD", "USBStick"]), ("2", vec!["CD", "DVD", "USBStick"])]),
        Shape::Hpe => (p.manager, vec![("1", vec!["Floppy", "USBStick"]), ("2", vec!["CD", "DVD"])]),
        Shape::Supermicro => (p.manager, vec![("CD1", vec!["CD"]), ("USBStick1", vec!["USBStick"])]),
        Shape::Lenovo => (p.manager, vec![("EXT1", vec!["CD", "DVD"]), ("EXT2", vec!["CD", "DVD"])]),
        Shape::Ami => (p.manager, vec![("CD1", vec!["CD"]), ("CD2", vec!["CD"])]),
    };
    let col = format!("{holder}/VirtualMedia");
    let mut ids = Vec::new();
    for (name, types) in members {
        let path = format!("{col}/{name}");
        let mut s = slot(&path, name, &types, shape != Shape::Lenovo, shape != Shape::Supermicro);
        if shape == Shape::Hpe {
            s["Oem"] = json!({ "Hpe": { "BootOnNextServerReset": false } });
        }
        t.insert(path.clone(), s);
        ids.push(id(&path));
    }
    t.insert(col.clone(), json!({ "Members": ids }));
    if holder == p.system {
        system["VirtualMedia"] = id(&col);
    } else {
        manager["VirtualMedia"] = id(&col);
    }
    if shape == Shape::DellOld {
        manager["Actions"] = json!({ "Oem": { "#OemManager.ImportSystemConfiguration": { "target": format!("{}/Actions/Oem/EID_674_Manager.ImportSystemConfiguration", p.manager) } } });
        manager["Oem"] = json!({ "Dell": { "ServerBoot": {} } });
    }
    t.insert(p.system.into(), system);
    t.insert(format!("{}/Bios", p.system), bios);
    t.insert(p.manager.into(), manager);
    t
}

struct Tls {
    config: Arc<rustls::ServerConfig>,
    der: Vec<u8>,
    pem: String,
}

/// A connection, plain or TLS.
trait Conn: Read + Write {
    fn reset(&mut self);
}

impl Conn for TcpStream {
    fn reset(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn reset(&mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

fn read_request(conn: &mut impl Conn) -> Option<Request> {
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::String(String::from_utf8_lossy(&body).into()))
    };
    Some(Request { method, path, headers, body })
}

fn error(code: &str, msg: &str) -> Value {
    json!({ "error": { "code": "Base.1.8.GeneralError", "message": msg, "@Message.ExtendedInfo": [{ "MessageId": code, "Message": msg }] } })
}

struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

fn ans(status: u16, body: Value) -> Answer {
    Answer { status, body, headers: Vec::new() }
}

fn handle(mut conn: impl Conn, st: Arc<Mutex<State>>) {
    let Some(req) = read_request(&mut conn) else { return };
    let (reset, slow) = {
        let mut s = st.lock().unwrap();
        s.count += 1;
        s.record.requests.push((req.method.clone(), req.path.clone(), req.body.clone()));
        let auth = req.headers.iter().filter(|(k, _)| k == "authorization" || k == "x-auth-token").map(|(k, v)| format!("{k}: {v}"));
        let raw: Vec<String> = auth.chain(std::iter::once(req.body.to_string())).collect();
        s.record.raw.extend(raw);
        let n = s.count;
        let reset = s.faults.reset_from.is_some_and(|f| n >= f && n < f + s.faults.reset_count);
        let light = req.path == "/redfish/v1/" || req.path.contains("/Sessions");
        (reset, if light { None } else { s.faults.slow })
    };
    if reset {
        conn.reset();
        return;
    }
    if let Some(d) = slow {
        std::thread::sleep(d);
    }
    let a = respond(&req, &mut st.lock().unwrap());
    let body = if a.body.is_null() { String::new() } else { a.body.to_string() };
    let mut head =
        format!("HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", a.status, body.len());
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let _ = conn.write_all(format!("{head}\r\n{body}").as_bytes());
    let _ = conn.flush();
}

fn authorized(req: &Request, s: &State) -> bool {
    let h = |n: &str| req.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if let Some(tok) = h("x-auth-token") {
        return s.sessions.contains_key(tok);
    }
    if let Some(b) = h("authorization").and_then(|v| v.strip_prefix("Basic ")) {
        let want = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", s.user, s.password));
        return b == want;
    }
    false
}

fn respond(req: &Request, s: &mut State) -> Answer {
    let path = req.path.clone();
    if req.method == "GET" && (path == "/redfish/v1/" || path == "/redfish/v1") {
        return ans(200, s.tree["/redfish/v1/"].clone());
    }
    if req.method == "POST" && path == "/redfish/v1/SessionService/Sessions" {
        if s.faults.session_limit {
            return ans(503, error("RAC0218", "The maximum number of user sessions is reached."));
        }
        let ok = req.body.get("UserName").and_then(Value::as_str) == Some(&s.user)
            && req.body.get("Password").and_then(Value::as_str) == Some(&s.password);
        if !ok {
            return ans(401, error("Base.1.8.NoValidSession", "Invalid user name or password."));
        }
        s.record.sessions_created += 1;
        let token = format!("tok{}", s.record.sessions_created);
        let loc = format!("/redfish/v1/SessionService/Sessions/{}", s.record.sessions_created);
        s.sessions.insert(token.clone(), loc.clone());
        let mut a = ans(201, json!({ "@odata.id": loc, "Id": s.record.sessions_created.to_string() }));
        a.headers = vec![("X-Auth-Token".into(), token), ("Location".into(), loc)];
        return a;
    }
    if !authorized(req, s) {
        return ans(401, error("Base.1.8.NoValidSession", "Authentication required."));
    }
    if req.method == "DELETE" && path.starts_with("/redfish/v1/SessionService/Sessions/") {
        let before = s.sessions.len();
        s.sessions.retain(|_, l| *l != path);
        if s.sessions.len() < before {
            s.record.sessions_deleted += 1;
            return ans(204, Value::Null);
        }
        return ans(404, error("Base.1.8.ResourceMissingAtURI", "no such session"));
    }
    if s.unavailable_left > 0 {
        s.unavailable_left -= 1;
        let mut a = ans(503, error("SYS518", "iDRAC is busy; retry."));
        a.headers.push(("Retry-After".into(), "1".into()));
        return a;
    }
    let a = match req.method.as_str() {
        "GET" => get(s, &path),
        "PATCH" => {
            let if_match = req.headers.iter().find(|(k, _)| k == "if-match").map(|(_, v)| v.as_str());
            match (s.faults.require_if_match, if_match, s.tree.get(&path)) {
                (true, None, Some(_)) => ans(428, error("Base.1.8.PreconditionRequired", "If-Match is required for this resource.")),
                (true, Some(tag), Some(v)) if tag != etag(v) => ans(412, error("Base.1.8.PreconditionFailed", "The ETag does not match.")),
                _ => patch(s, &path, &req.body),
            }
        }
        "POST" => post(s, &path, &req.body),
        "DELETE" => delete(s, &path),
        _ => ans(405, error("Base.1.8.OperationNotAllowed", "method")),
    };
    // iLO answers success with an error-shaped body.
    if s.shape == Shape::Hpe && req.method != "GET" && a.status < 300 && a.body.is_null() {
        return ans(
            200,
            json!({ "error": { "code": "iLO.0.10.ExtendedInfo", "message": "See @Message.ExtendedInfo for more information.", "@Message.ExtendedInfo": [{ "MessageId": "Base.1.4.Success" }] } }),
        );
    }
    a
}

fn get(s: &mut State, path: &str) -> Answer {
    let Some(mut v) = s.tree.get(path).cloned() else {
        return ans(404, error("Base.1.8.ResourceMissingAtURI", &format!("{path} not found")));
    };
    // iDRAC: a slot reads connected for a couple of reads after eject.
    if s.shape == Shape::DellNew && path.contains("/VirtualMedia/") && s.stale_reads > 0 && v.get("Inserted") == Some(&json!(false)) {
        s.stale_reads -= 1;
        v["Inserted"] = json!(true);
    }
    if path.contains("/Tasks/") || path.contains("/Jobs/") {
        if s.faults.task_never_completes {
            v["TaskState"] = json!("Running");
            v["JobState"] = json!("Running");
            let mut a = ans(202, v);
            a.headers.push(("Retry-After".into(), "1".into()));
            return a;
        }
        // Running on the first look, Completed after.
        let polled = v.get("polled").and_then(Value::as_u64).unwrap_or(0);
        let done = polled >= 1;
        let mut stored = v.clone();
        stored["polled"] = json!(polled + 1);
        if done {
            stored["TaskState"] = json!("Completed");
            stored["JobState"] = json!("Completed");
            stored["PercentComplete"] = json!(100);
        }
        s.tree.insert(path.into(), stored);
        return if done { ans(200, s.tree[path].clone()) } else { ans(202, v) };
    }
    let mut a = ans(200, v);
    if s.faults.require_if_match {
        a.headers.push(("ETag".into(), format!("W/{}", etag(&a.body))));
    }
    a
}

/// The strong ETag of a resource: a hash of its JSON, quoted.
fn etag(v: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

fn bad(msg: &str) -> Answer {
    ans(400, error("Base.1.8.PropertyValueNotInList", msg))
}

fn patch(s: &mut State, path: &str, body: &Value) -> Answer {
    let p = s.shape.paths();
    if let Some(boot) = body.get("Boot") {
        if s.shape == Shape::Ami && path == p.system {
            return bad("Boot properties are read-only here; PATCH /redfish/v1/Systems/Self/SD");
        }
        let full =
            ["BootSourceOverrideTarget", "BootSourceOverrideEnabled", "BootSourceOverrideMode"].iter().all(|k| boot.get(k).is_some());
        if matches!(s.shape, Shape::Supermicro | Shape::Ami) && !full {
            return bad("BootSourceOverrideMode, BootSourceOverrideEnabled and BootSourceOverrideTarget must be sent together");
        }
        let allowed = s.tree[p.system]["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"].clone();
        if let Some(t) = boot.get("BootSourceOverrideTarget") {
            if !allowed.as_array().unwrap().contains(t) {
                return bad(&format!("BootSourceOverrideTarget {t} is not supported"));
            }
        }
    }
    if s.shape == Shape::Lenovo && path.contains("/VirtualMedia/") {
        let mut v = s.tree[path].clone();
        v["Image"] = body.get("Image").cloned().map(|i| if i.is_null() { json!("") } else { i }).unwrap_or(json!(""));
        v["Inserted"] = body.get("Inserted").cloned().unwrap_or(json!(false));
        s.tree.insert(path.into(), v);
        return ans(204, Value::Null);
    }
    if path.ends_with("/Bios/Settings") && matches!(s.shape, Shape::DellOld | Shape::DellNew) {
        let jid = format!("JID_{:012}", s.next_job);
        s.next_job += 1;
        let jobs = format!("{}/Jobs", p.manager);
        let job_path = format!("{jobs}/{jid}");
        s.tree.insert(job_path.clone(), json!({ "@odata.id": job_path, "Id": jid, "Name": "Configure: BIOS.Setup.1-1", "JobState": "Scheduled", "PercentComplete": 0, "Message": "Task successfully scheduled." }));
        s.tree.get_mut(&jobs).unwrap()["Members"].as_array_mut().unwrap().push(id(&job_path));
    }
    let Some(v) = s.tree.get_mut(path) else {
        return ans(404, error("Base.1.8.ResourceMissingAtURI", path));
    };
    merge(v, body);
    ans(204, Value::Null)
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

fn post(s: &mut State, path: &str, body: &Value) -> Answer {
    let p = s.shape.paths();
    if path.ends_with("/Actions/ComputerSystem.Reset") {
        let kind = body.get("ResetType").and_then(Value::as_str).unwrap_or("");
        // What the action lists, else what its ActionInfo lists, else the standard's types.
        let action = &s.tree[p.system]["Actions"]["#ComputerSystem.Reset"];
        let info =
            action["@Redfish.ActionInfo"].as_str().and_then(|i| s.tree.get(i)).map(|i| i["Parameters"][0]["AllowableValues"].clone());
        let allowed = match (&action["ResetType@Redfish.AllowableValues"], info) {
            (Value::Array(a), _) => a.clone(),
            (_, Some(Value::Array(a))) => a,
            _ => ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "PowerCycle", "PushPowerButton"]
                .map(|t| json!(t))
                .to_vec(),
        };
        if !allowed.iter().any(|a| a == kind) {
            return bad(&format!("ResetType {kind} is not supported"));
        }
        let sys = s.tree.get_mut(p.system).unwrap();
        let now = sys["PowerState"].as_str().unwrap_or("Off").to_string();
        let next = match kind {
            "On" => "On",
            "ForceOff" | "GracefulShutdown" => "Off",
            "PushPowerButton" if now == "On" => "Off",
            "PushPowerButton" => "On",
            _ if now == "Off" => return ans(409, error("Base.1.8.ActionNotSupported", "the server is off")),
            _ => "On",
        };
        sys["PowerState"] = json!(next);
        // A boot consumes a one-time override.
        if next == "On" && sys["Boot"]["BootSourceOverrideEnabled"] == "Once" {
            sys["Boot"]["LastBootedFrom"] = sys["Boot"]["BootSourceOverrideTarget"].clone();
        }
        return ans(204, Value::Null);
    }
    let insert = path
        .strip_suffix("/Actions/VirtualMedia.InsertMedia")
        .or_else(|| path.strip_suffix("/Actions/Oem/Hpe/HpeiLOVirtualMedia.InsertVirtualMedia"));
    if let Some(slot_path) = insert {
        let image = body.get("Image").and_then(Value::as_str).unwrap_or("");
        if matches!(s.shape, Shape::Supermicro | Shape::Hpe) && (body.get("Inserted").is_some() || body.get("WriteProtected").is_some()) {
            return bad("Inserted and WriteProtected are not allowed in the InsertMedia payload");
        }
        if s.shape == Shape::Supermicro && (image.contains('?') || image.contains('=')) {
            return bad("the image path contains an invalid character");
        }
        if s.shape == Shape::Ami {
            for property in ["TransferProtocolType", "TransferMethod"] {
                if body.get(property).is_none() {
                    let msg = format!("The property {property} is a required property and must be included in the request.");
                    return ans(400, error("Base.1.8.PropertyMissing", &msg));
                }
            }
        }
        let Some(slot) = s.tree.get_mut(slot_path) else { return ans(404, Value::Null) };
        if slot.get("Inserted") == Some(&json!(true)) || slot.get("ConnectedVia") == Some(&json!("URI")) {
            return ans(500, error("VRM0012", "The Virtual Media image server is already connected."));
        }
        slot["Image"] = json!(image);
        if s.shape == Shape::Supermicro {
            slot["ConnectedVia"] = json!("URI");
        } else {
            slot["Inserted"] = json!(true);
        }
        return ans(204, Value::Null);
    }
    let eject = path
        .strip_suffix("/Actions/VirtualMedia.EjectMedia")
        .or_else(|| path.strip_suffix("/Actions/Oem/Hpe/HpeiLOVirtualMedia.EjectVirtualMedia"));
    if let Some(slot_path) = eject {
        let shape = s.shape;
        let Some(slot) = s.tree.get_mut(slot_path) else { return ans(404, Value::Null) };
        if shape == Shape::Supermicro {
            // The old URL stays in Image; only ConnectedVia says the slot is empty.
            slot["ConnectedVia"] = json!("NotConnected");
        } else {
            slot["Inserted"] = json!(false);
            slot["Image"] = json!("");
        }
        if shape == Shape::DellNew {
            s.stale_reads = 2;
        }
        return ans(204, Value::Null);
    }
    if path.ends_with("EID_674_Manager.ImportSystemConfiguration") {
        let xml = body.get("ImportBuffer").and_then(Value::as_str).unwrap_or("");
        if !xml.contains("ServerBoot.1#BootOnce\">Enabled") || !xml.contains("ServerBoot.1#FirstBootDevice\">VCD-DVD") {
            return bad("ImportBuffer does not set a boot once from VCD-DVD");
        }
        let jid = format!("JID_{:012}", s.next_job);
        s.next_job += 1;
        let task = format!("/redfish/v1/TaskService/Tasks/{jid}");
        s.tree.insert(
            task.clone(),
            json!({ "@odata.id": task, "Id": jid, "Name": "Import Configuration", "TaskState": "Running", "Messages": [] }),
        );
        s.tree.get_mut(p.manager).unwrap()["Oem"]["Dell"]["ServerBoot"] = json!({ "BootOnce": "Enabled", "FirstBootDevice": "VCD-DVD" });
        let mut a = ans(202, Value::Null);
        a.headers.push(("Location".into(), task));
        return a;
    }
    if path.ends_with("/Bios/Actions/Bios.ResetBios") {
        s.tree.get_mut(&format!("{}/Bios", p.system)).unwrap()["ResetPending"] = json!(true);
        return ans(204, Value::Null);
    }
    if path.ends_with("DellJobService.DeleteJobQueue") && matches!(s.shape, Shape::DellOld | Shape::DellNew) {
        let jobs = format!("{}/Jobs", p.manager);
        let which = body.get("JobID").and_then(Value::as_str).unwrap_or("");
        let members: Vec<Value> = s.tree[&jobs]["Members"].as_array().unwrap().clone();
        let keep: Vec<Value> =
            members.into_iter().filter(|m| which != "JID_CLEARALL" && !m["@odata.id"].as_str().unwrap().ends_with(which)).collect();
        s.tree.get_mut(&jobs).unwrap()["Members"] = json!(keep);
        return ans(200, Value::Null);
    }
    ans(404, error("Base.1.8.ActionNotSupported", &format!("no action at {path}")))
}

fn delete(s: &mut State, path: &str) -> Answer {
    if s.tree.remove(path).is_none() {
        return ans(404, Value::Null);
    }
    for v in s.tree.values_mut() {
        if let Some(m) = v.get_mut("Members").and_then(Value::as_array_mut) {
            m.retain(|x| x["@odata.id"] != path);
        }
    }
    ans(204, Value::Null)
}

/// ipmi_sim (OpenIPMI's BMC simulator) on a loopback UDP port, user `admin` with the given
/// password, cipher suite 3. Its chassis hook keeps power (`power`: 0/1) and the boot device
/// (`boot`) in files of [`IpmiSim::dir`] and logs every change to `hook.log`; it answers reads
/// a little slowly so that each ipmitool lives long enough to be looked at in /proc.
pub struct IpmiSim {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn need(tool: &str) {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(found, "{tool} is not installed: run `cargo xtask deps` (the README's test command does)");
}

impl IpmiSim {
    /// Starts it; panics (failing the test) when ipmi_sim or ipmitool is not installed.
    pub fn start(password: &str) -> IpmiSim {
        need("ipmi_sim");
        need("ipmitool");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let hook = format!(
        "#!/bin/sh\ndir='{d}'\nop=$2; shift 2\ncase \"$op\" in\nget) sleep 0.2; for w in \"$@\"; do case $w in\n  power) echo \"power:$(cat $dir/power 2>/dev/null || echo 0)\";;\n  boot) echo \"boot:$(cat $dir/boot 2>/dev/null || echo default)\";;\n  esac; done;;\nset) while [ $# -gt 1 ]; do echo \"$1 $2\" >> $dir/hook.log; case $1 in\n  power) echo $2 > $dir/power;;\n  shutdown) echo 0 > $dir/power;;\n  boot) echo $2 > $dir/boot;;\n  esac; shift 2; done;;\nesac\n",
        d = d.display()
    );
        std::fs::write(d.join("chassis.sh"), hook).unwrap();
        Command::new("chmod").arg("+x").arg(d.join("chassis.sh")).status().unwrap();
        let lan = format!(
        "name \"testbmc\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 {port}\n    priv_limit admin\n    allowed_auths_callback none md2 md5 straight\n    allowed_auths_user none md2 md5 straight\n    allowed_auths_operator none md2 md5 straight\n    allowed_auths_admin none md2 md5 straight\n    guid a123456789abcdefa123456789abcdef\n  endlan\n  chassis_control \"{hook} 0x20\"\n  user 2 true \"admin\" \"{password}\" admin 10 none md2 md5 straight\n",
        hook = d.join("chassis.sh").display()
    );
        std::fs::write(d.join("lan.conf"), lan).unwrap();
        std::fs::write(
        d.join("cmd.emu"),
        "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n",
    )
    .unwrap();
        std::fs::create_dir(d.join("state")).unwrap();
        let child = Command::new("ipmi_sim")
            .args(["-n", "-c"])
            .arg(d.join("lan.conf"))
            .arg("-f")
            .arg(d.join("cmd.emu"))
            .arg("-s")
            .arg(d.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        IpmiSim { child, dir, port }
    }

    /// The UDP port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its folder: `power`, `boot`, `hook.log`.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A program of the test tools' Python venv (`cargo xtask deps` installs sushy-tools there);
/// fails the test with what to run when it is missing.
pub fn venv_bin(name: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/venv/bin").join(name);
    assert!(p.exists(), "{} is missing: run `cargo xtask deps` (the README's test command does)", p.display());
    p
}

/// An htpasswd line with a bcrypt hash (the only kind sushy-emulator accepts). The password
/// goes to Python on its standard input, never on its argv.
pub fn htpasswd_line(user: &str, password: &str) -> Vec<u8> {
    let mut py = Command::new(venv_bin("python"))
        .args([
            "-c",
            "import bcrypt,sys; u=sys.argv[1]; print(u + ':' + bcrypt.hashpw(sys.stdin.read().encode(), bcrypt.gensalt()).decode())",
            user,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the venv's python");
    py.stdin.take().expect("piped").write_all(password.as_bytes()).expect("write the password");
    let out = py.wait_with_output().expect("python ends");
    assert!(out.status.success(), "bcrypt hashing failed");
    out.stdout
}
