//! `liveboot seed`: NoCloud seed images for nodes of an inventory.

use std::path::Path;

use serde::Serialize;

use liveboot_inventory::Inventory;
use liveboot_seed::{seed_file_name, Format, SeedRenderer};

use crate::Project;

/// Which nodes.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These nodes.
    Nodes(Vec<String>),
    /// Every node of a slice.
    Slice(String),
    /// Every node that belongs to a slice.
    All,
}

/// The nodes a selection names, in order; an unknown slice is an error listing the slices.
pub fn select(inv: &Inventory, which: &Selection) -> Result<Vec<String>, String> {
    Ok(match which {
        Selection::All => inv.slices.values().flat_map(|s| s.nodes.iter().cloned()).collect(),
        Selection::Slice(s) => {
            let slice = inv.slices.get(s).ok_or_else(|| {
                format!(
                    "{}: no slice '{s}'\n  help: the slices are: {}",
                    inv.file.display(),
                    inv.slices.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?;
            slice.nodes.clone()
        }
        Selection::Nodes(n) => n.clone(),
    })
}

/// One seed written (or found unchanged).
#[derive(Debug, Clone, Serialize)]
pub struct SeedResult {
    /// The node.
    pub node: String,
    /// The image's path.
    pub file: String,
    /// cloud-init's instance-id in it.
    pub instance_id: String,
    /// The volume UUID blkid reports.
    pub uuid: String,
    /// Its size.
    pub bytes: usize,
    /// Its SHA-256.
    pub sha256: String,
    /// False when the file already held these bytes (then it was not rewritten).
    pub changed: bool,
}

/// The UUID blkid reports for a seed image: the ISO's date, or the FAT volume serial.
fn volume_uuid(image: &[u8], format: Format) -> String {
    match format {
        Format::Iso => liveboot_iso::IsoReader::open(std::io::Cursor::new(image)).map(|r| r.uuid).unwrap_or_default(),
        Format::Vfat => {
            let s = u32::from_le_bytes([image[39], image[40], image[41], image[42]]);
            format!("{:04X}-{:04X}", s >> 16, s & 0xFFFF)
        }
    }
}

/// Writes one seed per node into `out`: every seed is rendered before any is written (a bad
/// node leaves no partial set behind); unchanged files are not rewritten; the rest are written
/// as one batch (temporary names, one sync, renames).
pub fn write_seeds(project: &Project, inv: &Inventory, nodes: &[String], out: &Path, format: Format) -> Result<Vec<SeedResult>, String> {
    let renderer = SeedRenderer::new(&project.templates()).map_err(|e| e.to_string())?;
    let seeds = nodes.iter().map(|n| renderer.render_node(inv, n)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create the output folder: {e}", out.display()))?;
    let mut results = Vec::new();
    let mut writes = Vec::new();
    for s in &seeds {
        let image = s.image(format);
        let path = out.join(seed_file_name(&s.node, format));
        let changed = std::fs::read(&path).map(|old| old != image).unwrap_or(true);
        results.push(SeedResult {
            node: s.node.clone(),
            file: path.display().to_string(),
            instance_id: s.instance_id.clone(),
            uuid: volume_uuid(&image, format),
            bytes: image.len(),
            sha256: liveboot_digest::sha256_hex(&image),
            changed,
        });
        if changed {
            writes.push((path, image));
        }
    }
    liveboot_publish::write_batch(&writes).map_err(|e| format!("{}: cannot write the seeds: {e}", out.display()))?;
    Ok(results)
}
