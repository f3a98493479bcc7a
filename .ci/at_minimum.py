"""Check that pip installed each pinned dependency at its declared minimum (it may not go
lower, and must not go higher): `python .ci/at_minimum.py CONSTRAINTS [NAME ...]` checks the
named ones (all of the file's when none are named) and exits non-zero naming any that differ."""
import sys
from importlib.metadata import version


def main(path, names):
    pins = dict(line.strip().split("==") for line in open(path) if line.strip())
    wrong = []
    for name in names or pins:
        low = pins[name]
        have = version(name)
        if have.split("+")[0] != low and not have.startswith(low + "."):
            wrong.append(f"{name} {have} (declared minimum {low})")
    if wrong:
        sys.exit("not at the declared minimum: " + ", ".join(wrong))
    print("at the declared minimum: " + ", ".join(f"{n} {pins[n]}" for n in names or pins))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
