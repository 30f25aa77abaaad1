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
    let inner = bytes.get(..4).map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize).and_then(|n| bytes.get(4..4 + n));
    if inner != Some(kind.as_bytes()) {
        return Err((
            format!("the key data does not match its type '{kind}'"),
            "copy the key again from its .pub file; the type and the data must come from the same line".into(),
        ));
    }
    if kind == "ssh-ed25519" && bytes.len() != 4 + kind.len() + 4 + 32 {
        return Err(("the ed25519 key has the wrong length (truncated?)".into(), "copy the key again from its .pub file".into()));
    }
    Ok(SshKey { kind: kind.into(), blob: blob.into(), comment })
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

    #[test]
    fn rejects_type_and_blob_mismatch() {
        let e = parse_public_key(&ED.replace("ssh-ed25519", "ssh-rsa")).unwrap_err();
        assert!(e.0.contains("does not match"), "{e:?}");
    }
}
