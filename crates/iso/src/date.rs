//! Volume dates. Tools derive an ISO 9660 image's UUID from its modification date (blkid prints
//! it as `YYYY-MM-DD-HH-MM-SS-cc`), and live-boot finds its medium by that UUID; so two images
//! must never share a date. liveboot derives each image's date from a hash of its content.

/// A date with hundredths of a second, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeDate {
    /// Seconds since 1970-01-01 UTC.
    pub unix: i64,
    /// Hundredths of a second, 0..=99.
    pub centis: u8,
}

impl VolumeDate {
    /// A date from a content hash: spread over 2000-01-01 .. 2029-12-31 with hundredths, so two
    /// different contents collide with odds of about 1 in 10^11.
    pub fn from_hash(hash: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&hash[..8]);
        let n = u64::from_be_bytes(b);
        const START: i64 = 946_684_800; // 2000-01-01
        const SPAN: u64 = 30 * 365 * 86_400;
        VolumeDate { unix: START + (n % SPAN) as i64, centis: ((n / SPAN) % 100) as u8 }
    }

    /// (year, month, day, hour, minute, second).
    pub fn civil(&self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.unix.div_euclid(86_400);
        let secs = self.unix.rem_euclid(86_400) as u32;
        // Howard Hinnant's days-to-civil.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day, secs / 3600, secs / 60 % 60, secs % 60)
    }

    /// The 17-byte form of volume descriptors.
    pub fn to_descriptor(&self) -> [u8; 17] {
        let (y, mo, d, h, mi, s) = self.civil();
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{:02}", self.centis);
        let mut out = [0u8; 17];
        out[..16].copy_from_slice(text.as_bytes());
        out
    }

    /// The 7-byte form of directory records.
    pub fn to_record(&self) -> [u8; 7] {
        let (y, mo, d, h, mi, s) = self.civil();
        [(y - 1900) as u8, mo as u8, d as u8, h as u8, mi as u8, s as u8, 0]
    }

    /// The UUID blkid and udev show for a volume with this date.
    pub fn uuid(&self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}-{:02}", self.centis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(VolumeDate { unix: 0, centis: 0 }.uuid(), "1970-01-01-00-00-00-00");
        assert_eq!(VolumeDate { unix: 1_700_000_000, centis: 7 }.uuid(), "2023-11-14-22-13-20-07");
        assert_eq!(VolumeDate { unix: 951_782_400, centis: 0 }.civil(), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn hash_dates_stay_in_range() {
        for i in 0..=255u8 {
            let d = VolumeDate::from_hash(&[i, 255 - i, i, 7, i, 3, 2, 1]);
            let (y, ..) = d.civil();
            assert!((2000..2030).contains(&y) && d.centis < 100);
        }
    }
}
