//! A FAT12 image holding a few files in its root directory, with VFAT long file names: the
//! `vfat` flavour of NoCloud seeds (`user-data` and friends need long names; 8.3 would cut them).
//!
//! The image is a pure function of its input: volume serial and file dates are given by the
//! caller (liveboot derives them from the content hash), clusters are laid out in file order.

/// One file for the root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatFile {
    /// Long name (up to 255 UCS-2 characters; no `/ \ : * ? " < > |`).
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// Volume-wide settings.
#[derive(Debug, Clone)]
pub struct FatOptions {
    /// Volume label, at most 11 characters; stored upper-case as FAT requires.
    pub label: String,
    /// Volume serial number (blkid shows it as the UUID `XXXX-XXXX`).
    pub serial: u32,
    /// (year 1980..2107, month, day, hour, minute, second) for every file.
    pub date: (u32, u32, u32, u32, u32, u32),
}

/// Why an image could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FatError {
    /// A name FAT cannot hold.
    BadName(String),
    /// Two files with the same name (FAT compares names without case).
    Duplicate(String),
    /// More files than the root directory holds, or more data than FAT12 addresses.
    TooLarge,
    /// A label FAT cannot hold.
    BadLabel(String),
}

impl std::fmt::Display for FatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FatError::BadName(n) => write!(f, "'{n}' cannot be a FAT file name"),
            FatError::Duplicate(n) => write!(f, "two files are named '{n}' (FAT ignores case)"),
            FatError::TooLarge => {
                write!(f, "too many files or too much data for a FAT12 seed image")
            }
            FatError::BadLabel(l) => write!(f, "'{l}' cannot be a FAT volume label (at most 11 characters A-Z, 0-9, '_', '-')"),
        }
    }
}

impl std::error::Error for FatError {}

const SECTOR: usize = 512;
const ROOT_ENTRIES: usize = 224;
const RESERVED: usize = 1;
const FATS: usize = 2;

/// The 8.3 short name for the `index`-th long name with this basis: `USER-D~1`.
fn short_name(long: &str, taken: &[[u8; 11]]) -> [u8; 11] {
    let upper: String = long.to_uppercase();
    let (stem, ext) = match upper.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), e.to_string()),
        _ => (upper.clone(), String::new()),
    };
    let clean = |s: &str| -> Vec<u8> { s.bytes().filter(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'()@^`{}~".contains(b)).collect() };
    let (stem, ext) = (clean(&stem), clean(&ext));
    let mut out = [b' '; 11];
    for (i, b) in ext.iter().take(3).enumerate() {
        out[8 + i] = *b;
    }
    let fits = stem.len() <= 8 && ext.len() <= 3 && long.to_uppercase() == long && !stem.is_empty();
    if fits {
        out[..stem.len()].copy_from_slice(&stem);
        if !taken.contains(&out) {
            return out;
        }
    }
    for n in 1..1_000_000u32 {
        let tail = format!("~{n}");
        let keep = (8 - tail.len()).min(stem.len());
        let mut cand = out;
        cand[..8].copy_from_slice(b"        ");
        cand[..keep].copy_from_slice(&stem[..keep]);
        cand[keep..keep + tail.len()].copy_from_slice(tail.as_bytes());
        if !taken.contains(&cand) {
            return cand;
        }
    }
    unreachable!("fewer than a million files")
}

fn lfn_checksum(short: &[u8; 11]) -> u8 {
    short.iter().fold(0u8, |sum, b| ((sum & 1) << 7).wrapping_add(sum >> 1).wrapping_add(*b))
}

/// The long-name entries of a name, in the order they are stored (last part first).
fn lfn_entries(name: &str, checksum: u8) -> Vec<[u8; 32]> {
    let mut units: Vec<u16> = name.encode_utf16().collect();
    if units.len() % 13 != 0 {
        units.push(0);
        while units.len() % 13 != 0 {
            units.push(0xFFFF);
        }
    }
    let parts = units.len() / 13;
    (0..parts)
        .rev()
        .map(|i| {
            let mut e = [0u8; 32];
            e[0] = (i + 1) as u8 | if i + 1 == parts { 0x40 } else { 0 };
            e[11] = 0x0F;
            e[13] = checksum;
            let chunk = &units[i * 13..i * 13 + 13];
            let slots = (1..11).step_by(2).chain((14..26).step_by(2)).chain((28..32).step_by(2));
            for (u, off) in chunk.iter().zip(slots) {
                e[off..off + 2].copy_from_slice(&u.to_le_bytes());
            }
            e
        })
        .collect()
}

fn set12(fat: &mut [u8], n: usize, v: u16) {
    let i = n * 3 / 2;
    if n % 2 == 0 {
        fat[i] = v as u8;
        fat[i + 1] = (fat[i + 1] & 0xF0) | ((v >> 8) as u8 & 0x0F);
    } else {
        fat[i] = (fat[i] & 0x0F) | ((v as u8) << 4);
        fat[i + 1] = (v >> 4) as u8;
    }
}

/// Writes the image. Same files and options, same bytes.
pub fn write_fat(files: &[FatFile], opts: &FatOptions) -> Result<Vec<u8>, FatError> {
    let label = opts.label.to_uppercase();
    if label.is_empty() || label.len() > 11 || !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(FatError::BadLabel(opts.label.clone()));
    }
    for (i, f) in files.iter().enumerate() {
        let bad = f.name.is_empty()
            || f.name.encode_utf16().count() > 255
            || f.name.chars().any(|c| "/\\:*?\"<>|".contains(c) || (c as u32) < 0x20)
            || f.name == "."
            || f.name == "..";
        if bad {
            return Err(FatError::BadName(f.name.clone()));
        }
        if files[..i].iter().any(|g| g.name.to_lowercase() == f.name.to_lowercase()) {
            return Err(FatError::Duplicate(f.name.clone()));
        }
    }

    // Directory: the label entry, then each file's long-name entries and its short entry.
    let (y, mo, d, h, mi, s) = opts.date;
    let fdate = (((y.clamp(1980, 2107) - 1980) << 9) | (mo << 5) | d) as u16;
    let ftime = ((h << 11) | (mi << 5) | (s / 2)) as u16;
    let mut shorts: Vec<[u8; 11]> = Vec::new();
    let mut entries: Vec<[u8; 32]> = Vec::new();
    let mut label_entry = [0u8; 32];
    label_entry[..11].copy_from_slice(format!("{label:<11}").as_bytes());
    label_entry[11] = 0x08;
    label_entry[22..24].copy_from_slice(&ftime.to_le_bytes());
    label_entry[24..26].copy_from_slice(&fdate.to_le_bytes());
    entries.push(label_entry);

    // Cluster size: the smallest that keeps FAT12 under its 4084-cluster limit.
    let mut spc = 1usize;
    while files.iter().map(|f| f.data.len().div_ceil(spc * SECTOR)).sum::<usize>() + 16 > 4000 {
        spc *= 2;
        if spc > 64 {
            return Err(FatError::TooLarge);
        }
    }
    let cluster = spc * SECTOR;
    let clusters_needed: usize = files.iter().map(|f| f.data.len().div_ceil(cluster)).sum();
    // Leave room to spare so tools that check free space are content; at least 64 clusters.
    let clusters = (clusters_needed + 16).max(64);
    let fat_sectors = ((clusters + 2) * 3 / 2).div_ceil(SECTOR);
    let root_sectors = ROOT_ENTRIES * 32 / SECTOR;
    let data_start = RESERVED + FATS * fat_sectors + root_sectors;
    let total_sectors = data_start + clusters * spc;

    let mut fat = vec![0u8; fat_sectors * SECTOR];
    set12(&mut fat, 0, 0xFF8);
    set12(&mut fat, 1, 0xFFF);
    let mut next = 2usize;
    let mut data = vec![0u8; clusters * cluster];
    for f in files {
        let short = short_name(&f.name, &shorts);
        shorts.push(short);
        let needs_lfn = short[..8].iter().filter(|b| **b != b' ').map(|b| *b as char).collect::<String>()
            + &{
                let ext: String = short[8..].iter().filter(|b| **b != b' ').map(|b| *b as char).collect();
                if ext.is_empty() {
                    ext
                } else {
                    format!(".{ext}")
                }
            }
            != f.name;
        if needs_lfn {
            entries.extend(lfn_entries(&f.name, lfn_checksum(&short)));
        }
        let n = f.data.len().div_ceil(cluster);
        let first = if n == 0 { 0 } else { next };
        for c in 0..n {
            let this = next + c;
            set12(&mut fat, this, if c + 1 == n { 0xFFF } else { (this + 1) as u16 });
        }
        let off = (next - 2) * cluster;
        data[off..off + f.data.len()].copy_from_slice(&f.data);
        next += n;
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(&short);
        e[11] = 0x20;
        for (at, v) in [(14, ftime), (16, fdate), (18, fdate), (22, ftime), (24, fdate)] {
            e[at..at + 2].copy_from_slice(&v.to_le_bytes());
        }
        e[26..28].copy_from_slice(&(first as u16).to_le_bytes());
        e[28..32].copy_from_slice(&(f.data.len() as u32).to_le_bytes());
        entries.push(e);
    }
    if entries.len() > ROOT_ENTRIES {
        return Err(FatError::TooLarge);
    }

    let mut img = vec![0u8; SECTOR];
    let b = &mut img;
    b[0..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
    b[3..11].copy_from_slice(b"LIVEBOOT");
    b[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    b[13] = spc as u8;
    b[14..16].copy_from_slice(&(RESERVED as u16).to_le_bytes());
    b[16] = FATS as u8;
    b[17..19].copy_from_slice(&(ROOT_ENTRIES as u16).to_le_bytes());
    // Over 65535 sectors (32 MiB) the 16-bit count holds 0 and the 32-bit one at offset 32 the
    // count (as mkfs.fat writes it); truncating it made a corrupt volume.
    match u16::try_from(total_sectors) {
        Ok(n) => b[19..21].copy_from_slice(&n.to_le_bytes()),
        Err(_) => b[32..36].copy_from_slice(&u32::try_from(total_sectors).map_err(|_| FatError::TooLarge)?.to_le_bytes()),
    }
    b[21] = 0xF8;
    b[22..24].copy_from_slice(&(fat_sectors as u16).to_le_bytes());
    b[24..26].copy_from_slice(&32u16.to_le_bytes());
    b[26..28].copy_from_slice(&64u16.to_le_bytes());
    b[36] = 0x80;
    b[38] = 0x29;
    b[39..43].copy_from_slice(&opts.serial.to_le_bytes());
    b[43..54].copy_from_slice(format!("{label:<11}").as_bytes());
    b[54..62].copy_from_slice(b"FAT12   ");
    // Not bootable: a tiny loop that prints nothing, as mkfs.fat writes a message stub.
    b[62..64].copy_from_slice(&[0xEB, 0xFE]);
    b[510] = 0x55;
    b[511] = 0xAA;
    for _ in 0..FATS {
        img.extend_from_slice(&fat);
    }
    let mut root = vec![0u8; root_sectors * SECTOR];
    for (i, e) in entries.iter().enumerate() {
        root[i * 32..i * 32 + 32].copy_from_slice(e);
    }
    img.extend(root);
    img.extend(data);
    debug_assert_eq!(img.len(), total_sectors * SECTOR);
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Above 32 MiB the sector count needs its 32-bit field: fsck.fat and mtools read the
    /// volume and the file back whole.
    #[test]
    fn volumes_above_32_mib_are_whole() {
        let big: Vec<u8> = (0..40u32 << 20).map(|i| (i % 251) as u8).collect();
        let files = [
            FatFile { name: "user-data".into(), data: b"#cloud-config\n".to_vec() },
            FatFile { name: "big.bin".into(), data: big.clone() },
        ];
        let img = write_fat(&files, &FatOptions { label: "CIDATA".into(), serial: 7, date: (2024, 1, 1, 0, 0, 0) }).unwrap();
        assert!(img.len() > 40 << 20);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.img");
        std::fs::write(&path, &img).unwrap();
        let fsck = std::process::Command::new("fsck.fat").arg("-n").arg(&path).output().expect("fsck.fat (dosfstools) runs");
        assert!(fsck.status.success(), "fsck.fat: {}{}", String::from_utf8_lossy(&fsck.stdout), String::from_utf8_lossy(&fsck.stderr));
        let out = dir.path().join("big.bin");
        let m = std::process::Command::new("mcopy").arg("-i").arg(&path).arg("::/big.bin").arg(&out).output().expect("mcopy (mtools) runs");
        assert!(m.status.success(), "mcopy: {}", String::from_utf8_lossy(&m.stderr));
        assert!(std::fs::read(&out).unwrap() == big, "the file read back differs");
    }

    #[test]
    fn short_names_follow_the_windows_pattern() {
        let mut taken = Vec::new();
        let a = short_name("user-data", &taken);
        assert_eq!(&a, b"USER-D~1   ");
        taken.push(a);
        assert_eq!(&short_name("user-data2", &taken), b"USER-D~2   ");
        assert_eq!(&short_name("README.TXT", &[]), b"README  TXT");
    }

    #[test]
    fn fat12_entries_pack_in_twelve_bits() {
        let mut fat = vec![0u8; 6];
        set12(&mut fat, 0, 0xFF8);
        set12(&mut fat, 1, 0xFFF);
        set12(&mut fat, 2, 0x003);
        set12(&mut fat, 3, 0xABC);
        assert_eq!(fat, [0xF8, 0xFF, 0xFF, 0x03, 0xC0, 0xAB]);
    }
}
