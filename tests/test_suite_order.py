"""The suite's file order (tests/conftest.py): the files of tests/durations.json longest
first, then other files with slow tests, then the rest, each file's tests in their order."""
import json
import os
import types
from pathlib import Path

import conftest

REPO = Path(__file__).resolve().parents[1]


def fake_item(path, slow=False):
    return types.SimpleNamespace(
        path=REPO / path, get_closest_marker=lambda name: object() if slow and name == "slow"
        else None)


def test_files_run_longest_first_and_keep_their_tests_in_order(tmp_path, monkeypatch):
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"tests/b.py": 5.0, "tests/c.py": 50.0}))
    monkeypatch.setattr(conftest, "_DURATIONS", str(durations))
    items = [fake_item("tests/a.py"), fake_item("tests/b.py"), fake_item("tests/a.py"),
             fake_item("tests/d.py", slow=True), fake_item("tests/c.py"),
             fake_item("tests/b.py"), fake_item("tests/d.py")]
    labelled = list(zip(items, range(len(items))))
    config = types.SimpleNamespace(rootpath=REPO)
    conftest.pytest_collection_modifyitems(None, config, items)
    order = [next(i for item2, i in labelled if item2 is item) for item in items]
    assert order == [4, 1, 5, 3, 6, 0, 2]  # c (50 s), b (5 s), d (slow), a


def test_durations_name_only_test_files_that_exist():
    with open(conftest._DURATIONS) as f:
        seconds = json.load(f)
    assert seconds and all(v >= 0 for v in seconds.values())
    missing = [name for name in seconds if not os.path.isfile(REPO / name)]
    assert not missing, f"tests/durations.json names files that are gone: {missing}"
