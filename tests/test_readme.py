"""The README's Python example and the contributor guide's Chain example run as written."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
CONTRIBUTING = README.parent / "docs" / "contributing.md"


@pytest.mark.slow
def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["samples"].shape == (16, 16, 16, 1)
    assert namespace["z"].shape == (8, 16)


def test_readme_is_a_landing_page():
    assert len(README.read_text().splitlines()) <= 150


def test_contributing_chain_example_runs():
    blocks = [b for b in re.findall(r"```python\n(.*?)```", CONTRIBUTING.read_text(), flags=re.S)
              if "Chain(" in b]
    assert blocks, "docs/contributing.md has no Chain example"
    namespace = {}
    exec(compile(blocks[0], "docs/contributing.md", "exec"), namespace)
    assert namespace["elbo"].shape == (5,) and namespace["z"].shape == (5, 3)
    assert namespace["x_on"].shape == (5, 6)
