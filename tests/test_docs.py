"""The documentation site builds with warnings as errors, and its tutorials run as written."""
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
TUTORIALS = sorted((REPO / "docs" / "tutorials").glob("*.md"))


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_the_docs_build_with_warnings_as_errors(tmp_path):
    mkdocs = os.path.join(os.path.dirname(sys.executable), "mkdocs")
    out = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=REPO, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("use_all_cores", "from_pretrained", "denoise", "log_marginal", "load_dataset"):
        assert name in api, f"the API reference lacks {name}"


def test_every_tutorial_is_in_the_nav():
    nav = (REPO / "mkdocs.yml").read_text()
    assert len(TUTORIALS) >= 3
    for path in TUTORIALS:
        assert f"tutorials/{path.name}" in nav


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_the_tutorial_runs_as_written(path, tmp_path, monkeypatch):
    blocks = python_blocks(path)
    assert blocks, f"{path.name} has no python code"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NIF_ZOO_CACHE", str(tmp_path / "cache"))
    namespace = {"__name__": "__tutorial__"}
    start = time.perf_counter()
    for i, block in enumerate(blocks):
        exec(compile(block, f"{path.name} (block {i + 1})", "exec"), namespace)
    print(f"{path.name}: {time.perf_counter() - start:.1f} s")
