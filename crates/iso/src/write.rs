//! Writing a small ISO 9660 image with Joliet and Rock Ridge: files in the root directory only.
//!
//! Layout, in 2048-byte sectors: 0-15 system area, 16 primary volume descriptor, 17 Joliet
//! supplementary descriptor, 18 terminator, 19-22 path tables (L and M for both trees), 23 the
//! Rock Ridge continuation area holding the ER entry (too long for the root's "." record, and
//! the Linux kernel uses Rock Ridge names only after it has seen one), then the two root
//! directories, then the file data.

use crate::{VolumeDate, SECTOR};

/// One file for the root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoFile {
    /// Name as seen through Rock Ridge (Linux) and Joliet.
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
    /// POSIX permission bits, e.g. 0o644.
    pub mode: u32,
}

/// Volume-wide settings.
#[derive(Debug, Clone)]
pub struct IsoOptions {
    /// Volume label (`cidata` for NoCloud seeds). Written as given: cloud-init and blkid compare
    /// it case-insensitively, and NoCloud documents it lower-case.
    pub volume_id: String,
    /// Volume dates, which also date every file.
    pub date: VolumeDate,
    /// Application identifier written in the descriptors.
    pub application: String,
}

/// Why an image could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// A file name that no view can carry.
    BadName(String),
    /// Two files with the same name.
    Duplicate(String),
    /// Volume label longer than 32 bytes.
    LabelTooLong(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::BadName(n) => write!(f, "'{n}' cannot be a file name in an ISO image (1-64 characters, no '/', no NUL)"),
            WriteError::Duplicate(n) => write!(f, "two files are named '{n}'"),
            WriteError::LabelTooLong(l) => write!(f, "volume label '{l}' is longer than 32 bytes"),
        }
    }
}

impl std::error::Error for WriteError {}

fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

fn padded(text: &str, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = text.bytes().take(len).collect();
    v.resize(len, b' ');
    v
}

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

fn ucs2_padded(text: &str, len: usize) -> Vec<u8> {
    let mut v = ucs2(text);
    v.truncate(len & !1);
    while v.len() < len {
        v.extend_from_slice(&[0x00, 0x20]);
    }
    v.truncate(len);
    v
}

/// An ISO 9660 level-2 name: upper-case d-characters, at most 30 characters with the dot.
fn primary_name(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' { c } else { '_' })
        .collect();
    let (stem, ext) = match mapped.rsplit_once('.') {
        Some((s, e)) => (s.replace('.', "_"), e.to_string()),
        None => (mapped, String::new()),
    };
    let ext: String = ext.chars().take(8).collect();
    let stem: String = stem.chars().take(29 - ext.len()).collect();
    format!("{stem}.{ext}")
}

/// Rock Ridge entries of a record: PX (mode, links, uid, gid), TF (modify, access, change).
fn rock_ridge(mode: u32, links: u32, date: &[u8; 7], name: Option<&str>) -> Vec<u8> {
    let mut su = Vec::new();
    su.extend_from_slice(b"PX\x24\x01");
    for v in [mode, links, 0, 0] {
        su.extend_from_slice(&both32(v));
    }
    su.extend_from_slice(b"TF\x1a\x01\x0e");
    for _ in 0..3 {
        su.extend_from_slice(date);
    }
    if let Some(n) = name {
        su.extend_from_slice(b"NM");
        su.push(5 + n.len() as u8);
        su.extend_from_slice(&[1, 0]);
        su.extend_from_slice(n.as_bytes());
    }
    su
}

fn record(ident: &[u8], extent: u32, size: u32, dir: bool, date: &[u8; 7], system_use: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; 33];
    r[2..10].copy_from_slice(&both32(extent));
    r[10..18].copy_from_slice(&both32(size));
    r[18..25].copy_from_slice(date);
    r[25] = if dir { 2 } else { 0 };
    r[28..32].copy_from_slice(&both16(1));
    r[32] = ident.len() as u8;
    r.extend_from_slice(ident);
    if ident.len() % 2 == 0 {
        r.push(0);
    }
    r.extend_from_slice(system_use);
    if r.len() % 2 == 1 {
        r.push(0);
    }
    r[0] = r.len() as u8;
    r
}

/// Packs records into sectors (a record never crosses a sector boundary).
fn pack(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let used = out.len() % SECTOR;
        if used + r.len() > SECTOR {
            out.resize(out.len() + SECTOR - used, 0);
        }
        out.extend_from_slice(r);
    }
    out.resize(out.len().div_ceil(SECTOR).max(1) * SECTOR, 0);
    out
}

const ER_ID: &str = "RRIP_1991A";
const ER_DESC: &str = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const ER_SRC: &str = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

fn er_entry() -> Vec<u8> {
    let mut e = b"ER".to_vec();
    e.push((8 + ER_ID.len() + ER_DESC.len() + ER_SRC.len()) as u8);
    e.extend_from_slice(&[1, ER_ID.len() as u8, ER_DESC.len() as u8, ER_SRC.len() as u8, 1]);
    e.extend_from_slice(ER_ID.as_bytes());
    e.extend_from_slice(ER_DESC.as_bytes());
    e.extend_from_slice(ER_SRC.as_bytes());
    e
}

struct Layout {
    ce: u32,
    root: u32,
    root_len: u32,
    jroot: u32,
    jroot_len: u32,
    files: Vec<u32>,
    total: u32,
}

/// Builds the two root directories for a given layout (their sizes do not depend on it).
fn directories(files: &[IsoFile], primary: &[String], l: &Layout, date: &[u8; 7]) -> (Vec<u8>, Vec<u8>) {
    let mut dot_su = b"SP\x07\x01\xbe\xef\x00".to_vec();
    dot_su.extend_from_slice(b"CE\x1c\x01");
    dot_su.extend_from_slice(&both32(l.ce));
    dot_su.extend_from_slice(&both32(0));
    dot_su.extend_from_slice(&both32(er_entry().len() as u32));
    dot_su.extend_from_slice(&rock_ridge(0o40755, 2, date, None));
    let mut p = vec![
        record(&[0], l.root, l.root_len, true, date, &dot_su),
        record(&[1], l.root, l.root_len, true, date, &rock_ridge(0o40755, 2, date, None)),
    ];
    let mut j = vec![record(&[0], l.jroot, l.jroot_len, true, date, &[]), record(&[1], l.jroot, l.jroot_len, true, date, &[])];
    // ISO 9660 and Joliet order directory records by identifier.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| primary[a].cmp(&primary[b]));
    for &i in &order {
        let f = &files[i];
        let ident = format!("{};1", primary[i]);
        let su = rock_ridge(0o100000 | (f.mode & 0o7777), 1, date, Some(&f.name));
        p.push(record(ident.as_bytes(), l.files[i], f.data.len() as u32, false, date, &su));
    }
    order.sort_by(|&a, &b| ucs2(&files[a].name).cmp(&ucs2(&files[b].name)));
    for &i in &order {
        j.push(record(&ucs2(&files[i].name), l.files[i], files[i].data.len() as u32, false, date, &[]));
    }
    (pack(&p), pack(&j))
}

fn path_table(extent: u32, big_endian: bool) -> Vec<u8> {
    let mut t = vec![1u8, 0];
    t.extend_from_slice(&if big_endian { extent.to_be_bytes() } else { extent.to_le_bytes() });
    t.extend_from_slice(&if big_endian { 1u16.to_be_bytes() } else { 1u16.to_le_bytes() });
    t.extend_from_slice(&[0, 0]);
    t
}

fn descriptor(joliet: bool, opts: &IsoOptions, l: &Layout, root_record: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; SECTOR];
    d[0] = if joliet { 2 } else { 1 };
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    let text = |s: &str, len: usize| {
        if joliet {
            ucs2_padded(s, len)
        } else {
            padded(s, len)
        }
    };
    d[8..40].copy_from_slice(&text("LINUX", 32));
    d[40..72].copy_from_slice(&text(&opts.volume_id, 32));
    d[80..88].copy_from_slice(&both32(l.total));
    if joliet {
        d[88..91].copy_from_slice(b"%/E");
    }
    d[120..124].copy_from_slice(&both16(1));
    d[124..128].copy_from_slice(&both16(1));
    d[128..132].copy_from_slice(&both16(SECTOR as u16));
    d[132..140].copy_from_slice(&both32(10));
    let (lpt, mpt) = if joliet { (21u32, 22u32) } else { (19, 20) };
    d[140..144].copy_from_slice(&lpt.to_le_bytes());
    d[148..152].copy_from_slice(&mpt.to_be_bytes());
    d[156..190].copy_from_slice(&root_record[..34]);
    for (start, len) in [(190, 128), (318, 128), (446, 128), (702, 37), (739, 37), (776, 37)] {
        d[start..start + len].copy_from_slice(&text("", len));
    }
    d[574..702].copy_from_slice(&text(&opts.application, 128));
    let date = opts.date.to_descriptor();
    d[813..830].copy_from_slice(&date);
    d[830..847].copy_from_slice(&date);
    let unset = {
        let mut u = [b'0'; 17];
        u[16] = 0;
        u
    };
    d[847..864].copy_from_slice(&unset);
    d[864..881].copy_from_slice(&unset);
    d[881] = 1;
    d
}

/// Writes the image. Same files and options, same bytes.
pub fn write_iso(files: &[IsoFile], opts: &IsoOptions) -> Result<Vec<u8>, WriteError> {
    if opts.volume_id.len() > 32 {
        return Err(WriteError::LabelTooLong(opts.volume_id.clone()));
    }
    for (i, f) in files.iter().enumerate() {
        if f.name.is_empty() || f.name.len() > 64 || f.name.contains(['/', '\0']) || f.name == "." || f.name == ".." {
            return Err(WriteError::BadName(f.name.clone()));
        }
        if files[..i].iter().any(|g| g.name == f.name) {
            return Err(WriteError::Duplicate(f.name.clone()));
        }
    }
    // Unique primary names: a clash ("a-b" and "a_b") gets a numbered stem.
    let mut primary: Vec<String> = Vec::new();
    for f in files {
        let mut name = primary_name(&f.name);
        let mut n = 1;
        while primary.contains(&name) {
            let (stem, ext) = name.split_once('.').map(|(s, e)| (s.to_string(), e.to_string())).unwrap_or_default();
            name = format!("{}{n}.{ext}", &stem[..stem.len().min(26)]);
            n += 1;
        }
        primary.push(name);
    }
    let date = opts.date.to_record();
    let mut l = Layout { ce: 23, root: 24, root_len: 0, jroot: 0, jroot_len: 0, files: vec![0; files.len()], total: 0 };
    let (p, j) = directories(files, &primary, &l, &date);
    l.root_len = p.len() as u32;
    l.jroot = l.root + (p.len() / SECTOR) as u32;
    l.jroot_len = j.len() as u32;
    let mut next = l.jroot + (j.len() / SECTOR) as u32;
    for (i, f) in files.iter().enumerate() {
        l.files[i] = next;
        next += f.data.len().div_ceil(SECTOR) as u32;
    }
    l.total = next;
    let (p, j) = directories(files, &primary, &l, &date);

    let mut img = vec![0u8; 16 * SECTOR];
    img.extend(descriptor(false, opts, &l, &p));
    img.extend(descriptor(true, opts, &l, &j));
    let mut term = vec![0u8; SECTOR];
    term[0] = 255;
    term[1..6].copy_from_slice(b"CD001");
    term[6] = 1;
    img.extend(term);
    for (extent, be) in [(l.root, false), (l.root, true), (l.jroot, false), (l.jroot, true)] {
        let mut s = path_table(extent, be);
        s.resize(SECTOR, 0);
        img.extend(s);
    }
    let mut ce = er_entry();
    ce.resize(SECTOR, 0);
    img.extend(ce);
    img.extend(p);
    img.extend(j);
    for f in files {
        img.extend_from_slice(&f.data);
        img.resize(img.len().div_ceil(SECTOR) * SECTOR, 0);
    }
    debug_assert_eq!(img.len(), l.total as usize * SECTOR);
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_names_are_d_characters() {
        assert_eq!(primary_name("user-data"), "USER_DATA.");
        assert_eq!(primary_name("meta-data"), "META_DATA.");
        assert_eq!(primary_name("a.b.tar.gz"), "A_B_TAR.GZ");
    }
}
