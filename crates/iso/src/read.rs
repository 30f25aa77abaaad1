//! Reading ISO 9660 images: volume label and UUID, the primary, Joliet and Rock Ridge names of
//! every file, and file contents. Bounded: corrupt images give an error, never a panic or an
//! endless loop.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use crate::SECTOR;

/// Why an image could not be read.
#[derive(Debug)]
pub enum IsoError {
    /// Reading failed.
    Io(std::io::Error),
    /// Not an ISO 9660 image, or a damaged one; says what was wrong.
    Corrupt(String),
}

impl std::fmt::Display for IsoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IsoError::Io(e) => write!(f, "cannot read the image: {e}"),
            IsoError::Corrupt(m) => write!(f, "not a valid ISO 9660 image: {m}"),
        }
    }
}

impl std::error::Error for IsoError {}

impl From<std::io::Error> for IsoError {
    fn from(e: std::io::Error) -> Self {
        IsoError::Io(e)
    }
}

fn corrupt(m: impl Into<String>) -> IsoError {
    IsoError::Corrupt(m.into())
}

/// One file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoEntry {
    /// Path from the root, by the best names available (Rock Ridge, else primary).
    pub path: String,
    /// The ISO 9660 identifier, without `;1`.
    pub primary_name: String,
    /// The Joliet name, when the image has a Joliet tree.
    pub joliet_name: Option<String>,
    /// The Rock Ridge name (NM), when present.
    pub rr_name: Option<String>,
    /// POSIX mode from Rock Ridge PX, when present.
    pub mode: Option<u32>,
    /// First sector.
    pub extent: u32,
    /// Size in bytes.
    pub size: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// An open image.
pub struct IsoReader<R> {
    r: R,
    /// Volume label of the primary descriptor.
    pub volume_id: String,
    /// The UUID blkid shows (from the modification date, else the creation date).
    pub uuid: String,
    /// Whether the root announces Rock Ridge (SP and an RRIP/IEEE ER entry).
    pub rock_ridge: bool,
    /// Joliet root directory (extent, size), when present.
    joliet_root: Option<(u32, u32)>,
    root: (u32, u32),
    sectors: u64,
}

/// One directory record, copied out of its sector.
struct Record {
    extent: u32,
    size: u32,
    is_dir: bool,
    ident: Vec<u8>,
    system_use: Vec<u8>,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_record(r: &[u8]) -> Result<Record, IsoError> {
    if r.len() < 34 {
        return Err(corrupt("directory record shorter than 34 bytes"));
    }
    let name_len = r[32] as usize;
    let su_start = 33 + name_len + (1 - name_len % 2);
    if 33 + name_len > r.len() {
        return Err(corrupt("directory record name runs past its end"));
    }
    Ok(Record {
        extent: le32(&r[2..6]),
        size: le32(&r[10..14]),
        is_dir: r[25] & 2 != 0,
        ident: r[33..33 + name_len].to_vec(),
        system_use: r.get(su_start.min(r.len())..).unwrap_or(&[]).to_vec(),
    })
}

fn date17(d: &[u8]) -> Option<String> {
    if d[..16].iter().all(|b| *b == b'0' || *b == 0) {
        return None;
    }
    let s = std::str::from_utf8(&d[..16]).ok()?;
    Some(format!("{}-{}-{}-{}-{}-{}-{}", &s[0..4], &s[4..6], &s[6..8], &s[8..10], &s[10..12], &s[12..14], &s[14..16]))
}

fn from_ucs2(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

impl<R: Read + Seek> IsoReader<R> {
    /// Opens an image and reads its volume descriptors.
    pub fn open(mut r: R) -> Result<Self, IsoError> {
        let sectors = r.seek(SeekFrom::End(0))? / SECTOR as u64;
        let mut this =
            IsoReader { r, volume_id: String::new(), uuid: String::new(), rock_ridge: false, joliet_root: None, root: (0, 0), sectors };
        let mut found_primary = false;
        for n in 16..64u32 {
            if u64::from(n) >= sectors {
                break;
            }
            let d = this.sector(n)?;
            if &d[1..6] != b"CD001" {
                return Err(corrupt(format!("sector {n} holds no volume descriptor (no CD001)")));
            }
            match d[0] {
                1 if !found_primary => {
                    found_primary = true;
                    this.volume_id = String::from_utf8_lossy(&d[40..72]).trim_end().to_string();
                    this.uuid = date17(&d[830..847]).or_else(|| date17(&d[813..830])).unwrap_or_default();
                    let root = parse_record(&d[156..190])?;
                    this.root = (root.extent, root.size);
                }
                2 if &d[88..90] == b"%/" && matches!(d[90], b'@' | b'C' | b'E') => {
                    let root = parse_record(&d[156..190])?;
                    this.joliet_root = Some((root.extent, root.size));
                }
                255 => break,
                _ => {}
            }
        }
        if !found_primary {
            return Err(corrupt("no primary volume descriptor"));
        }
        this.rock_ridge = this.detect_rock_ridge()?;
        Ok(this)
    }

    fn sector(&mut self, n: u32) -> Result<Vec<u8>, IsoError> {
        self.bytes(n, SECTOR as u32)
    }

    fn bytes(&mut self, extent: u32, len: u32) -> Result<Vec<u8>, IsoError> {
        if u64::from(extent) * SECTOR as u64 + u64::from(len) > self.sectors * SECTOR as u64 + SECTOR as u64 {
            return Err(corrupt(format!("extent {extent} (+{len} bytes) lies past the end of the image")));
        }
        self.r.seek(SeekFrom::Start(u64::from(extent) * SECTOR as u64))?;
        let mut buf = vec![0u8; len as usize];
        let mut got = 0;
        while got < buf.len() {
            match self.r.read(&mut buf[got..])? {
                0 => break,
                n => got += n,
            }
        }
        Ok(buf)
    }

    /// The System Use entries of a record, following continuation areas (CE), bounded.
    fn susp_entries(&mut self, su: &[u8]) -> Result<Vec<(String, Vec<u8>)>, IsoError> {
        let mut out = Vec::new();
        let mut area = su.to_vec();
        for _ in 0..16 {
            let mut next = None;
            let mut i = 0;
            while i + 4 <= area.len() {
                let len = area[i + 2] as usize;
                if len < 4 || i + len > area.len() {
                    break;
                }
                let sig = String::from_utf8_lossy(&area[i..i + 2]).into_owned();
                let body = area[i + 4..i + len].to_vec();
                if sig == "CE" && body.len() >= 24 {
                    next = Some((le32(&body[0..4]), le32(&body[8..12]), le32(&body[16..20])));
                } else if sig == "ST" {
                    break;
                }
                out.push((sig, body));
                i += len;
            }
            match next {
                Some((block, off, len)) if len <= SECTOR as u32 * 4 => {
                    let data = self.bytes(block, off + len)?;
                    area = data[off as usize..].to_vec();
                }
                _ => break,
            }
        }
        Ok(out)
    }

    fn detect_rock_ridge(&mut self) -> Result<bool, IsoError> {
        let dir = self.bytes(self.root.0, SECTOR as u32)?;
        let dot = parse_record(&dir[..dir[0].max(34) as usize])?;
        if !dot.system_use.starts_with(b"SP") {
            return Ok(false);
        }
        Ok(self.susp_entries(&dot.system_use)?.iter().any(|(sig, body)| {
            sig == "ER" && body.len() > 4 && {
                let id_len = body[0] as usize;
                let id = body.get(4..4 + id_len).unwrap_or_default();
                matches!(id, b"RRIP_1991A" | b"IEEE_P1282" | b"IEEE_1282")
            }
        }))
    }

    /// Lists a directory's records (without `.` and `..`).
    fn read_dir(&mut self, extent: u32, size: u32) -> Result<Vec<Record>, IsoError> {
        if size > 64 * 1024 * 1024 {
            return Err(corrupt("directory larger than 64 MiB"));
        }
        let data = self.bytes(extent, size)?;
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let len = data[i] as usize;
            if len == 0 {
                i = (i / SECTOR + 1) * SECTOR;
                continue;
            }
            if i + len > data.len() {
                return Err(corrupt("directory record runs past its directory"));
            }
            let rec = parse_record(&data[i..i + len])?;
            if rec.ident != [0] && rec.ident != [1] {
                out.push(rec);
            }
            i += len;
        }
        Ok(out)
    }

    /// Every file and directory, depth first, with all the names the image gives them.
    pub fn entries(&mut self) -> Result<Vec<IsoEntry>, IsoError> {
        let mut joliet: HashMap<(u32, bool, u32), String> = HashMap::new();
        if let Some((e, s)) = self.joliet_root {
            let mut stack = vec![(e, s, String::new(), 0)];
            while let Some((e, s, prefix, depth)) = stack.pop() {
                for Record { ident, extent: ext, size, is_dir: dir, .. } in self.read_dir(e, s)? {
                    let name = from_ucs2(&ident);
                    let name = name.strip_suffix(";1").unwrap_or(&name).to_string();
                    joliet.insert((ext, dir, size), name.clone());
                    if dir && depth < 64 {
                        stack.push((ext, size, format!("{prefix}{name}/"), depth + 1));
                    }
                }
            }
        }
        let mut out = Vec::new();
        let mut stack = vec![(self.root.0, self.root.1, String::new(), 0)];
        while let Some((e, s, prefix, depth)) = stack.pop() {
            for Record { ident, extent, size, is_dir, system_use: su } in self.read_dir(e, s)? {
                let raw = String::from_utf8_lossy(&ident).into_owned();
                let primary_name = raw.split(';').next().unwrap_or_default().trim_end_matches('.').to_string();
                let (mut rr_name, mut mode) = (None::<String>, None);
                if self.rock_ridge {
                    for (sig, body) in self.susp_entries(&su)? {
                        match sig.as_str() {
                            "NM" if !body.is_empty() => {
                                let part = String::from_utf8_lossy(&body[1..]).into_owned();
                                rr_name = Some(rr_name.unwrap_or_default() + &part);
                            }
                            "PX" if body.len() >= 8 => mode = Some(le32(&body[0..4])),
                            _ => {}
                        }
                    }
                }
                let name = rr_name.clone().unwrap_or_else(|| primary_name.clone());
                let path = format!("{prefix}{name}");
                if is_dir && depth < 64 {
                    stack.push((extent, size, format!("{path}/"), depth + 1));
                }
                let joliet_name = joliet.get(&(extent, is_dir, size)).cloned();
                out.push(IsoEntry { path, primary_name, joliet_name, rr_name, mode, extent, size, is_dir });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// A file's contents.
    pub fn read(&mut self, entry: &IsoEntry) -> Result<Vec<u8>, IsoError> {
        self.bytes(entry.extent, entry.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{write_iso, IsoFile, IsoOptions, VolumeDate};
    use std::io::Cursor;

    fn sample() -> Vec<IsoFile> {
        vec![
            IsoFile { name: "user-data".into(), data: b"#cloud-config\n".to_vec(), mode: 0o644 },
            IsoFile { name: "meta-data".into(), data: b"instance-id: x\n".to_vec(), mode: 0o644 },
            IsoFile { name: "empty".into(), data: Vec::new(), mode: 0o600 },
            IsoFile { name: "big".into(), data: (0..5000u32).map(|i| i as u8).collect(), mode: 0o644 },
        ]
    }

    fn opts() -> IsoOptions {
        IsoOptions { volume_id: "cidata".into(), date: VolumeDate { unix: 1_700_000_000, centis: 42 }, application: "liveboot".into() }
    }

    #[test]
    fn round_trip_keeps_names_modes_and_bytes() {
        let img = write_iso(&sample(), &opts()).unwrap();
        let mut r = IsoReader::open(Cursor::new(img)).unwrap();
        assert_eq!(r.volume_id, "cidata");
        assert_eq!(r.uuid, "2023-11-14-22-13-20-42");
        assert!(r.rock_ridge);
        let entries = r.entries().unwrap();
        assert_eq!(entries.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["big", "empty", "meta-data", "user-data"]);
        for f in sample() {
            let e = entries.iter().find(|e| e.path == f.name).unwrap();
            assert_eq!(e.joliet_name.as_deref(), Some(f.name.as_str()));
            assert_eq!(e.mode, Some(0o100000 | f.mode));
            assert_eq!(r.read(e).unwrap(), f.data);
        }
    }

    #[test]
    fn many_files_spill_directories_over_several_sectors() {
        let files: Vec<IsoFile> =
            (0..200).map(|i| IsoFile { name: format!("file-number-{i:03}"), data: vec![i as u8; i], mode: 0o644 }).collect();
        let img = write_iso(&files, &opts()).unwrap();
        let mut r = IsoReader::open(Cursor::new(img)).unwrap();
        let entries = r.entries().unwrap();
        assert_eq!(entries.len(), 200);
        for e in &entries {
            let i: usize = e.path[12..].parse().unwrap();
            assert_eq!(r.read(e).unwrap(), vec![i as u8; i]);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for len in [0usize, 100, 40_000, 70_000] {
            let mut junk: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
            assert!(IsoReader::open(Cursor::new(junk.clone())).is_err());
            if len > 34_000 {
                junk[16 * SECTOR + 1..16 * SECTOR + 6].copy_from_slice(b"CD001");
                junk[16 * SECTOR] = 1;
                let _ = IsoReader::open(Cursor::new(junk)).and_then(|mut r| r.entries());
            }
        }
    }

    #[test]
    fn same_input_same_bytes_and_dates_differ_by_content() {
        assert_eq!(write_iso(&sample(), &opts()).unwrap(), write_iso(&sample(), &opts()).unwrap());
    }
}
