"""What kiwi-ng itself reads from a KIWI description: the reference `liveboot-kiwi` is compared
with (tests/kiwi.rs). Reads JSON lines from stdin,
[DESCRIPTION FILE, [PROFILE, ...], TYPE or null], and prints one JSON line for each: the fields
liveboot uses, after kiwi's schema conversion, validation, profile resolution (import profiles,
requires) and build type selection; or {"error": ...} when kiwi refuses the description.
"""
import json
import logging
import sys

logging.disable(logging.CRITICAL)

from kiwi.xml_description import XMLDescription  # noqa: E402
from kiwi.xml_state import XMLState  # noqa: E402


def first(state, getter):
    """kiwi's rule for single-valued preferences: the first selected section that has it."""
    for p in state.get_preferences_sections():
        v = getattr(p, getter)()
        if v:
            return v[0]
    return None


LOADED = {}


def read(path, profiles, build_type):
    # Loading (schema conversion and validation) is the slow part: once per file.
    if path not in LOADED:
        LOADED[path] = XMLDescription(path).load()
    xml = LOADED[path]
    state = XMLState(xml, profiles or None, build_type or None)
    t = state.build_type
    bootloader = state.get_build_type_bootloader_section()
    desc = state.get_description_section()
    out = {
        "name": xml.get_name(),
        "displayname": xml.get_displayname(),
        "author": desc.author,
        "contact": desc.contact,
        "specification": desc.specification,
        "profiles": state.profiles,
        "type": {
            "image": t.get_image(),
            "primary": bool(t.get_primary()),
            "firmware": t.get_firmware(),
            "kernelcmdline": t.get_kernelcmdline(),
            "volid": t.get_volid(),
            "flags": t.get_flags(),
            "filesystem": t.get_filesystem(),
            "hybridpersistent": t.get_hybridpersistent(),
            "hybridpersistent_filesystem": t.get_hybridpersistent_filesystem(),
            "initrd_system": state.get_initrd_system(),
            "bootloader": bootloader.get_name() if bootloader else None,
            "bootloader_console": state.get_build_type_bootloader_console() if bootloader else None,
            "bootloader_timeout": bootloader.get_timeout() if bootloader else None,
        },
        "version": state.get_image_version() or None,
        "packagemanager": state.get_package_manager(),
        "locale": state.get_locale(),
        "keytable": first(state, "get_keytable"),
        "timezone": first(state, "get_timezone"),
        "rpm_check_signatures": state.get_rpm_check_signatures(),
        "rpm_excludedocs": state.get_rpm_excludedocs(),
        "repositories": [
            {
                "type": r.get_type(),
                "alias": r.get_alias(),
                "priority": r.get_priority(),
                "imageinclude": bool(r.get_imageinclude()),
                "path": r.get_source().get_path(),
                "distribution": r.get_distribution(),
                "components": r.get_components(),
            }
            for r in state.get_repository_sections()
        ],
        "packages": {
            "bootstrap": sorted({p.package_section.get_name().strip() for p in state.get_package_sections(state.get_bootstrap_packages_sections())}),
            "image": state.get_system_packages(),
            "delete": state.get_to_become_deleted_packages(True),
            "uninstall": state.get_to_become_deleted_packages(False),
            "bootstrap_collections": state.get_bootstrap_collections(),
            "image_collections": state.get_system_collections(),
            "bootstrap_archives": state.get_bootstrap_archives(),
            "image_archives": state.get_system_archives(),
            "ignore": state.get_system_ignore_packages(),
        },
        "users": [
            {
                "name": u.get_name(),
                "groups": state.get_user_groups(u.get_name()),
                "home": u.get_home(),
                "shell": u.get_shell(),
                "password": u.get_password() is not None,
            }
            for u in state.get_users()
        ],
    }
    return out


def main():
    for line in sys.stdin:
        path, profiles, build_type = json.loads(line)
        try:
            out = read(path, profiles, build_type)
        except Exception as e:  # kiwi's refusal is the result
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out, sort_keys=True), flush=True)


main()
