//! ISO 9660 for liveboot: a writer for small flat images (NoCloud seeds: a handful of files in
//! the root directory) and a reader that lists and extracts any ISO 9660 image, for checking
//! what liveboot and xorriso wrote.
//!
//! The writer emits three views of the same files: ISO 9660 names (upper-case, for any
//! reader), Joliet (UCS-2, for Windows) and Rock Ridge (POSIX names and modes, which Linux and
//! cloud-init use). Everything it writes is a function of its input: no clock, no randomness.

mod date;
mod read;
mod write;

pub use date::VolumeDate;
pub use read::{IsoEntry, IsoError, IsoReader};
pub use write::{write_iso, IsoFile, IsoOptions, WriteError};

/// Bytes per logical sector.
pub const SECTOR: usize = 2048;
