//! Every way a vendor's Redfish differs from the standard that liveboot handles, in one place.
//!
//! The flows in [`super`] ask [`Quirks`] instead of testing vendors; each field says where
//! the behaviour is known from. Adding a vendor means adding a row here, not `if`s in flows.
//!
//! Rules the flows apply to every BMC, because firmware of several vendors needs them (each
//! read from the service, never assumed from the vendor):
//! - Reset types: `ResetType@Redfish.AllowableValues`, else the action's `@Redfish.ActionInfo`
//!   (iLO, iDRAC, XCC publish them there); spellings off the standard read as the standard
//!   value, unknown values ignored, nothing known = everything tried (sushy `system.py`).
//!   `PushPowerButton` is the graceful off where `GracefulShutdown` is not listed (iLO 5;
//!   ironic `redfish/power.py`), and only on a System known to be On.
//! - A missing Reset action, an action target outside its resource (DSP0266: an action's URI
//!   is its resource's URI + `/Actions/...`), a one-time boot target not in
//!   `BootSourceOverrideTarget@Redfish.AllowableValues` (Supermicro's `UsbCd`; ironic
//!   `redfish/management.py`) all fail before the first change.
//! - InsertMedia: `TransferProtocolType` added when the BMC names it missing (ironic), then
//!   `TransferMethod: Stream` (AMI MegaRAC; sushy `virtual_media.py`); HPE's OEM
//!   `HpeiLOVirtualMedia.InsertVirtualMedia`/`EjectVirtualMedia` when the standard actions are
//!   absent (iLO 4; python-ilorest-library); slots chosen by `MediaTypes`, then by Id.
//! - PATCH carries `If-Match` with the resource's ETag; a weak one refused with 412 is sent
//!   strong (sushy `connector.py`; Fujitsu iRMC and newer iDRAC answer 428 without).
//! - Links may be absolute URLs: followed as paths on the same BMC. Collections are read to
//!   their last `Members@odata.nextLink` page.

use crate::Vendor;

/// How a one-time boot from the virtual CD is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootOnce {
    /// Standard `Boot.BootSourceOverrideTarget` + `BootSourceOverrideEnabled: Once` on the
    /// System (or its `@Redfish.Settings` object).
    Override,
    /// Dell iDRAC before firmware 6.00.02: the standard `Cd` target boots the *physical* drive,
    /// so boot once goes through an OEM ImportSystemConfiguration job setting
    /// `ServerBoot.1#BootOnce` and `ServerBoot.1#FirstBootDevice = VCD-DVD`.
    /// Sources: sushy oem/dell; dell/iDRAC-Redfish-Scripting#90, #116; the sopnode liveboot
    /// tool's idrac.py.
    DellImportBootOnce,
    /// HPE iLO: PATCH the CD slot's `Oem.Hpe.BootOnNextServerReset: true` (Gen9: `Oem.Hp`).
    /// Source: HPE iLO Redfish docs, community.general#3509.
    HpeBootOnNextReset,
}

/// One vendor's differences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirks {
    /// Which vendor these are for.
    pub vendor: Vendor,
    /// How boot once is set.
    pub boot_once: BootOnce,
    /// The override target meaning "virtual CD". Supermicro X11/X12: `UsbCd` (Cd is the
    /// physical drive). Source: Supermicro Redfish reference guide; ironic
    /// redfish/management.py.
    pub cd_target: &'static str,
    /// Send Mode + Enabled + Target together, always (Supermicro; AMI/ASRockRack/Gigabyte
    /// MegaRAC). Source: ironic redfish/management.py (`_set_boot_device`),
    /// DMTF Redfish-Tacklebox#111, #144.
    pub full_override: bool,
    /// Put `Inserted: true, WriteProtected: true` in the InsertMedia payload. Supermicro answers
    /// 400 to them (community.general PR#4839), iLO 4 rejects them (HPE iLO 4 docs).
    pub send_inserted: bool,
    /// The slot's `Inserted` is not to be trusted: a slot is empty when `ConnectedVia` is
    /// `NotConnected`, even when `Image` still holds the old URL. Source: community.general#6969.
    pub connected_via_decides: bool,
    /// Image URLs must not contain `?` or `=` (Supermicro X12, Gigabyte field reports in
    /// REDFISH.md); liveboot's published names never do, other URLs are refused early.
    pub plain_urls_only: bool,
    /// The job queue is the Manager's `Jobs` collection (Dell iDRAC's lifecycle controller
    /// jobs), not the TaskService's tasks. Sources: the sopnode liveboot tool's
    /// queueget/queueclear; libredfish dell.rs; quads#726.
    pub manager_jobs: bool,
}

/// Messages after which a request is worth repeating (with backoff).
/// - `SYS518`: Dell, "iDRAC is busy"/LC not ready (sushy connector).
/// - `InvalidOperationForSystemState`, `UnableToModifyDuringSystemPOST`: HPE iLO while the
///   server is in POST (sushy connector, ironic).
/// - `VRM0012`: Dell virtual media just ejected still reads connected (iDRAC-Redfish-Scripting).
/// - `LC068`, `RAC0679`: Dell lifecycle controller busy with another job (sushy oem/dell).
pub const RETRYABLE_MESSAGES: &[&str] =
    &["SYS518", "InvalidOperationForSystemState", "UnableToModifyDuringSystemPOST", "VRM0012", "LC068", "RAC0679"];

/// Facts found by discovery that choose between firmware generations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Firmware {
    /// Virtual media sits under the Manager only (Dell before 6.00.02 moved it under Systems:
    /// dell/iDRAC-Redfish-Scripting#265).
    pub media_under_manager_only: bool,
}

impl Quirks {
    /// The quirks of `vendor`'s firmware as discovered.
    pub fn for_vendor(vendor: Vendor, fw: Firmware) -> Quirks {
        let standard = Quirks {
            vendor,
            boot_once: BootOnce::Override,
            cd_target: "Cd",
            full_override: false,
            send_inserted: true,
            connected_via_decides: false,
            plain_urls_only: false,
            manager_jobs: false,
        };
        match vendor {
            Vendor::Dell if fw.media_under_manager_only => {
                Quirks { boot_once: BootOnce::DellImportBootOnce, manager_jobs: true, ..standard }
            }
            Vendor::Dell => Quirks { manager_jobs: true, ..standard },
            Vendor::Generic => standard,
            Vendor::Hpe => Quirks { boot_once: BootOnce::HpeBootOnNextReset, send_inserted: false, ..standard },
            Vendor::Supermicro => Quirks {
                cd_target: "UsbCd",
                full_override: true,
                send_inserted: false,
                connected_via_decides: true,
                plain_urls_only: true,
                ..standard
            },
            Vendor::Lenovo => standard,
            Vendor::Ami => Quirks { full_override: true, plain_urls_only: true, ..standard },
        }
    }
}

/// The vendor a service says it is: the root's `Vendor`, its `Oem` keys, else the System's
/// `Manufacturer`.
pub fn detect(root: &serde_json::Value, system: &serde_json::Value) -> Vendor {
    let by_name = |s: &str| {
        let s = s.to_ascii_lowercase();
        if s.contains("dell") {
            Some(Vendor::Dell)
        } else if s == "hpe" || s == "hp" || s.contains("hewlett") {
            Some(Vendor::Hpe)
        } else if s.contains("supermicro") {
            Some(Vendor::Supermicro)
        } else if s.contains("lenovo") {
            Some(Vendor::Lenovo)
        } else if s == "ami" || s.contains("gigabyte") || s.contains("asrock") || s.contains("american megatrends") {
            Some(Vendor::Ami)
        } else {
            None
        }
    };
    if let Some(v) = root.get("Vendor").and_then(|v| v.as_str()).and_then(by_name) {
        return v;
    }
    if let Some(oem) = root.get("Oem").and_then(|o| o.as_object()) {
        if let Some(v) = oem.keys().find_map(|k| by_name(k)) {
            return v;
        }
    }
    system.get("Manufacturer").and_then(|v| v.as_str()).and_then(by_name).unwrap_or(Vendor::Generic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vendors_are_told_apart_by_root_oem_and_manufacturer() {
        assert_eq!(detect(&json!({"Vendor": "Dell"}), &json!({})), Vendor::Dell);
        assert_eq!(detect(&json!({"Oem": {"Hpe": {}}}), &json!({})), Vendor::Hpe);
        assert_eq!(detect(&json!({}), &json!({"Manufacturer": "Supermicro"})), Vendor::Supermicro);
        assert_eq!(detect(&json!({"Vendor": "AMI"}), &json!({})), Vendor::Ami);
        assert_eq!(detect(&json!({}), &json!({"Manufacturer": "Sushy Emulator"})), Vendor::Generic);
    }

    #[test]
    fn old_dell_firmware_boots_once_through_a_job() {
        let old = Quirks::for_vendor(Vendor::Dell, Firmware { media_under_manager_only: true });
        assert_eq!(old.boot_once, BootOnce::DellImportBootOnce);
        assert_eq!(Quirks::for_vendor(Vendor::Dell, Firmware::default()).boot_once, BootOnce::Override);
    }
}
