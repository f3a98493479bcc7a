"""Print a pip constraints file that pins every dependency nif-zoo declares (install_requires
and the named extras of setup.cfg) to its declared minimum: `name==minimum` for each `>=`
bound. CI installs with it to test the lowest versions the package claims to support.

    python .ci/lowest_constraints.py data fid eval > lowest.txt
    pip install -c lowest.txt ".[data,fid,eval]"

With --without-core, only the named extras' bounds (install_requires left to pip): the
extras whose minima need the newest core libraries (.ci/extras_lowest).
"""
import configparser
import re
import sys
from pathlib import Path

BOUND = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def requirements(text):
    return [line.split("#")[0].strip() for line in text.splitlines()
            if line.split("#")[0].strip()]


def minimum(requirement):
    """(name, the version of its `>=` or `==` bound, or None)."""
    name, _, spec = BOUND.match(requirement).groups()
    for part in spec.split(","):
        part = part.strip()
        if part.startswith((">=", "==")):
            return name, part[2:].strip()
    return name, None


def main(args):
    without_core = "--without-core" in args
    extras = [a for a in args if a != "--without-core"]
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parent.parent / "setup.cfg")
    reqs = [] if without_core else requirements(cfg["options"]["install_requires"])
    for extra in extras:
        reqs += requirements(cfg["options.extras_require"][extra])
    pins = {}
    for req in reqs:
        name, low = minimum(req)
        if low is None:
            sys.exit(f"{req!r} declares no lower bound: every dependency needs a tested one")
        if pins.get(name.lower(), low) != low:
            sys.exit(f"{name} is declared with two lower bounds ({pins[name.lower()]}, {low})")
        pins[name.lower()] = low
    for name, low in sorted(pins.items()):
        print(f"{name}=={low}")


if __name__ == "__main__":
    main(sys.argv[1:])
