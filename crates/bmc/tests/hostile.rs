//! A malicious BMC: links that would send requests (and the session token) to another host are
//! refused, and the other host is never contacted.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use liveboot_bmc::{Driver, Protocol, Secret, Target, Timing, Tls};

/// Answers every request with `root` as JSON, for as long as the test runs.
fn bmc_serving(root: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{root}",
                root.len()
            );
            let _ = s.write_all(reply.as_bytes());
        }
    });
    port
}

#[test]
fn a_link_to_another_host_is_not_followed() {
    // The host the BMC tries to send us to: it counts the connections it gets.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    let contacted = Arc::new(AtomicUsize::new(0));
    let c2 = contacted.clone();
    std::thread::spawn(move || {
        for _ in other.incoming() {
            c2.fetch_add(1, Ordering::SeqCst);
        }
    });
    for link in [format!("@127.0.0.1:{other_port}/redfish/v1/Systems"), format!("//127.0.0.1:{other_port}/redfish/v1/Systems")] {
        let root = format!(r#"{{"@odata.id": "/redfish/v1/", "Systems": {{"@odata.id": "{link}"}}}}"#);
        let port = bmc_serving(root);
        let t = Target {
            node: "n1".into(),
            address: format!("http://127.0.0.1:{port}"),
            protocol: Protocol::Redfish,
            vendor: None,
            username: "root".into(),
            password: Secret::new("pw"),
            tls: Tls::Insecure,
            cipher_suite: None,
            system: None,
        };
        let timing = Timing { request: Duration::from_secs(2), attempts: 2, backoff: Duration::from_millis(10), ..Timing::default() };
        let e = Driver::connect(&t, &timing).err().expect("a link to another host was followed");
        assert!(e.to_string().contains("not a path on this BMC"), "{e}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(contacted.load(Ordering::SeqCst), 0, "the other host was contacted");
}
