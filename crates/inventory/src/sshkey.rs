//! OpenSSH public keys, checked before they go into a seed: a node that boots with a broken key
//! is a node nobody can log in to.

use base64::Engine;

/// A checked public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    /// Key type, e.g. `ssh-ed25519`.
    pub kind: String,
    /// The base64 blob.
    pub blob: String,
    /// The comment, if any.
    pub comment: Option<String>,
}

impl SshKey {
    /// The key as one authorized_keys line.
    pub fn to_line(&self) -> String {
        match &self.comment {
            Some(c) => format!("{} {} {c}", self.kind, self.blob),
            None => format!("{} {}", self.kind, self.blob),
        }
    }
}

const KINDS: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Parses one public key line: `type base64 [comment]`. The error says what is wrong and the fix.
pub fn parse_public_key(line: &str) -> Result<SshKey, (String, String)> {
    let line = line.trim();
    // One key is one authorized_keys line: a newline in it (a YAML string can hold one) would
    // smuggle a second key, or options, into the booted system.
    if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
        return Err((
            format!("the key contains the control character {:?}; one key is one line", c),
            "write each key as one line of its own (a list item per key)".into(),
        ));
    }
    if line.contains("PRIVATE KEY") {
        return Err((
            "this is a private key, not a public one".into(),
            "remove it at once and paste the .pub file instead (ssh-keygen -y -f KEY prints it)".into(),
        ));
    }
    let mut parts = line.splitn(3, char::is_whitespace);
    let kind = parts.next().unwrap_or_default();
    let blob = parts.next().unwrap_or_default().trim();
    let comment = parts.next().map(str::trim).filter(|c| !c.is_empty()).map(str::to_string);
    if kind == "ssh-dss" {
        return Err((
            "DSA keys (ssh-dss) are refused by current OpenSSH servers".into(),
            "use an ed25519 key: ssh-keygen -t ed25519".into(),
        ));
    }
    if !KINDS.contains(&kind) {
        return Err((
            format!("'{}' is not an SSH public key type", shorten(kind)),
            "paste the whole line of a .pub file, e.g. 'ssh-ed25519 AAAAC3Nza... user@host'".into(),
        ));
    }
    if blob.is_empty() {
        return Err(("the key has no data after its type".into(), "paste the whole line of the .pub file".into()));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(blob).map_err(|_| {
        ("the key data is not valid base64 (truncated or altered?)".to_string(), "copy the key again from its .pub file".to_string())
    })?;
    // The blob starts with the key type again, as an SSH string (u32 length + bytes).
    let mut r = Wire(&bytes);
    if r.string() != Some(kind.as_bytes()) {
        return Err((
            format!("the key data does not match its type '{kind}'"),
            "copy the key again from its .pub file; the type and the data must come from the same line".into(),
        ));
    }
    if let Err(what) = key_material(kind, &mut r) {
        return Err((format!("the {kind} key {what} (truncated or altered?)"), "copy the key again from its .pub file".into()));
    }
    if !r.0.is_empty() {
        return Err((
            format!("the {kind} key has {} bytes too many after its data", r.0.len()),
            "copy the key again from its .pub file".into(),
        ));
    }
    Ok(SshKey { kind: kind.into(), blob: blob.into(), comment })
}

/// Reads the SSH wire format (RFC 4251): strings and mpints with a u32 length.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let s = self.0.get(4..4usize.checked_add(len)?)?;
        self.0 = &self.0[4 + len..];
        Some(s)
    }
}

/// Checks the key material after the type: what each type holds (RFC 4253, 5656, 8709 and
/// OpenSSH's PROTOCOL.u2f), at the sizes that type has.
fn key_material(kind: &str, r: &mut Wire) -> Result<(), String> {
    let missing = || "has no key material".to_string();
    let curve_point = |r: &mut Wire, curve: &str| -> Result<(), String> {
        let name = r.string().ok_or_else(missing)?;
        if name != curve.as_bytes() {
            return Err(format!("names the curve '{}', not {curve}", String::from_utf8_lossy(name)));
        }
        let q = r.string().ok_or_else(missing)?;
        let want = match curve {
            "nistp256" => 65,
            "nistp384" => 97,
            _ => 133,
        };
        if q.len() != want || q[0] != 4 {
            return Err(format!("has a point of {} bytes, not an uncompressed {curve} point of {want}", q.len()));
        }
        Ok(())
    };
    match kind {
        "ssh-ed25519" | "sk-ssh-ed25519@openssh.com" => {
            let k = r.string().ok_or_else(missing)?;
            if k.len() != 32 {
                return Err(format!("has {} bytes of key, not 32", k.len()));
            }
        }
        "ssh-rsa" => {
            let e = r.string().ok_or_else(missing)?;
            let n = r.string().ok_or_else(missing)?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if e.is_empty() || bits < 1024 {
                return Err(format!("has a modulus of {bits} bits; OpenSSH refuses RSA keys under 1024 bits"));
            }
        }
        _ => {
            let curve = kind.trim_start_matches("sk-").trim_start_matches("ecdsa-sha2-").trim_end_matches("@openssh.com");
            curve_point(r, curve)?;
        }
    }
    if kind.starts_with("sk-") && r.string().is_none() {
        return Err("has no application (a security key's public key ends with one)".into());
    }
    Ok(())
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 24 {
        format!("{}...", s.chars().take(24).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVsdGltYXRlbHktYS10ZXN0LWtleS1vZi0zMmJ5dGVz alice@lab";

    #[test]
    fn accepts_a_real_shaped_ed25519_key() {
        let k = parse_public_key(ED).unwrap();
        assert_eq!(k.comment.as_deref(), Some("alice@lab"));
        assert_eq!(k.to_line(), ED);
    }

    #[test]
    fn rejects_a_truncated_key() {
        let cut = &ED[..60];
        assert!(parse_public_key(cut).is_err());
    }

    /// A blob of SSH strings, base64.
    fn blob(parts: &[&[u8]]) -> String {
        let mut b = Vec::new();
        for p in parts {
            b.extend((p.len() as u32).to_be_bytes());
            b.extend(*p);
        }
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn rejects_keys_without_their_material() {
        let cases: Vec<(String, &str)> = vec![
            (format!("ssh-rsa {}", blob(&[b"ssh-rsa"])), "no key material"),
            (format!("ssh-rsa {}", blob(&[b"ssh-rsa", &[1, 0, 1], &[0xff; 64]])), "512 bits"),
            (format!("ecdsa-sha2-nistp256 {}", blob(&[b"ecdsa-sha2-nistp256", b"nistp256"])), "no key material"),
            (format!("ecdsa-sha2-nistp256 {}", blob(&[b"ecdsa-sha2-nistp256", b"nistp384", &[4; 65]])), "curve"),
            (format!("ecdsa-sha2-nistp384 {}", blob(&[b"ecdsa-sha2-nistp384", b"nistp384", &[4; 65]])), "point of 65 bytes"),
            (format!("ssh-ed25519 {}", blob(&[b"ssh-ed25519", &[7; 32], b"extra"])), "too many"),
            (format!("sk-ssh-ed25519@openssh.com {}", blob(&[b"sk-ssh-ed25519@openssh.com", &[7; 32]])), "application"),
        ];
        for (line, want) in cases {
            let e = parse_public_key(&line).unwrap_err();
            assert!(e.0.contains(want), "{line}: {e:?}");
        }
        let mut n = vec![0u8];
        n.extend([0xc5; 256]);
        for good in [
            format!("ssh-rsa {} k", blob(&[b"ssh-rsa", &[1, 0, 1], &n])),
            format!("ecdsa-sha2-nistp521 {}", blob(&[b"ecdsa-sha2-nistp521", b"nistp521", &[4; 133]])),
            format!(
                "sk-ecdsa-sha2-nistp256@openssh.com {}",
                blob(&[b"sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", &[4; 65], b"ssh:"])
            ),
        ] {
            assert!(parse_public_key(&good).is_ok(), "{good}");
        }
    }

    #[test]
    fn rejects_type_and_blob_mismatch() {
        let e = parse_public_key(&ED.replace("ssh-ed25519", "ssh-rsa")).unwrap_err();
        assert!(e.0.contains("does not match"), "{e:?}");
    }
}
