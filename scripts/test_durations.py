"""Write tests/durations.json, the seconds each test file took, from a JUnit XML report of a
full run of the suite (``python -m pytest --junitxml=report.xml``; setup, call and teardown
of every test summed per file). tests/conftest.py runs the files longest first, so the two
workers of ``-n 2 --dist loadfile`` start with the long end-to-end files and end on short
ones (pytest-xdist's own order, most tests first, left the few-test slow files to the end,
where one worker can be left running them while the other waits). Measure on a quiet
machine.

    python -m pytest -q --junitxml=/tmp/report.xml && python scripts/test_durations.py /tmp/report.xml
"""
import argparse
import collections
import json
import os
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "durations.json")


def file_seconds(report: str) -> dict:
    """{test file (relative to the repository, e.g. tests/test_cli.py): seconds}."""
    seconds = collections.Counter()
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        # classname: tests.train.test_training(.Class); the file is the part up to test_*
        parts = []
        for part in module:
            parts.append(part)
            if part.startswith("test_"):
                break
        seconds["/".join(parts) + ".py"] += float(case.get("time", 0.0))
    return dict(seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", help="JUnit XML of a full run of the suite")
    parser.add_argument("--out", default=OUT, help="default tests/durations.json")
    args = parser.parse_args(argv)
    seconds = file_seconds(args.report)
    if not seconds:
        raise SystemExit(f"{args.report}: no test cases")
    ordered = dict(sorted(((k, round(v, 1)) for k, v in seconds.items()),
                          key=lambda kv: (-kv[1], kv[0])))
    with open(args.out, "w") as f:
        json.dump(ordered, f, indent=1)
        f.write("\n")
    print(f"{len(ordered)} files, {sum(ordered.values()):.0f} s in all -> {args.out}")


if __name__ == "__main__":
    main()
