#!/usr/bin/env python3
"""What pykickstart reads from kickstart files, as JSON lines, for the comparison tests.

    pykickstart_read.py VERSION FILE...

For each FILE (read from its own folder, after anaconda's %ksappend preprocessing): {"file",
"error" (or null), "flat": what ksflatten prints, "packages", "scripts"} in the shape of
liveboot's model (crates/kickstart/src/model.rs).
"""
import json
import os
import sys
import tempfile
import warnings

from pykickstart import constants
from pykickstart.errors import KickstartError
from pykickstart.parser import KickstartParser, preprocessKickstartToString
from pykickstart.version import makeVersion

INCLUDE = {constants.GROUP_DEFAULT: "default", constants.GROUP_REQUIRED: "required", constants.GROUP_ALL: "all"}
KIND = {constants.KS_SCRIPT_PRE: "%pre", constants.KS_SCRIPT_PREINSTALL: "%pre-install",
        constants.KS_SCRIPT_POST: "%post", constants.KS_SCRIPT_ONERROR: "%onerror",
        constants.KS_SCRIPT_TRACEBACK: "%traceback"}


def read(version, path):
    here = os.getcwd()
    os.chdir(os.path.dirname(os.path.abspath(path)))
    try:
        text = preprocessKickstartToString(os.path.basename(path))
        parser = KickstartParser(makeVersion(version))
        # Beside the file (its %includes are relative), removed whatever happens.
        fd, name = tempfile.mkstemp(suffix=".ks", dir=".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text)
            parser.readKickstart(name)
        finally:
            os.unlink(name)
    finally:
        os.chdir(here)
    h = parser.handler
    p = h.packages
    out = {
        "packages": {
            "seen": p.seen,
            "environment": p.environment,
            "groups": [{"name": g.name, "include": INCLUDE[g.include]} for g in p.groupList],
            "packages": p.packageList,
            "excluded": p.excludedList,
            "excluded_groups": [g.name for g in p.excludedGroupList],
            "default": p.default,
            "nocore": p.nocore,
            "excludedocs": p.excludeDocs,
            "inst_langs": p.instLangs,
            "multilib": p.multiLib,
            "exclude_weakdeps": p.excludeWeakdeps,
            "ignore_missing": p.handleMissing == constants.KS_MISSING_IGNORE,
            "ignore_broken": getattr(p, "handleBroken", None) == constants.KS_BROKEN_IGNORE,
            "timeout": None if p.timeout is None else str(p.timeout),
            "retries": None if p.retries is None else str(p.retries),
        },
        "scripts": [{"kind": KIND[s.type], "interpreter": s.interp, "chroot": s.inChroot,
                     "error_on_fail": s.errorOnFail, "log": s.logfile, "body": s.script}
                    for s in h.scripts],
    }
    # Last: printing sorts the group list in place.
    out["flat"] = str(h)
    return out


def main():
    version, files = sys.argv[1], sys.argv[2:]
    warnings.simplefilter("ignore")
    for path in files:
        try:
            out = read(version, path)
            out["error"] = None
        except (KickstartError, ValueError, IndexError, RecursionError, OSError) as e:
            out = {"error": "%s: %s" % (type(e).__name__, e)}
        out["file"] = path
        print(json.dumps(out))


main()
