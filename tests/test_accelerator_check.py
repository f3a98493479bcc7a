"""The prepared accelerator check (benchmarks/accelerator.py) runs end to end on CPU with
--tiny and reports sane numerics."""
import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_accelerator_check_tiny_on_cpu(tmp_path):
    # one recipe (the NIF: its rows run the same code as the NF's, plus the NIF layer)
    out = subprocess.run([sys.executable, "-m", "benchmarks.accelerator", "--out", str(tmp_path),
                          "--tiny", "--recipes", "nif64-cifar32-3bit"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "accelerator.json").read_text())
    for precision in ("default", "highest"):
        row = report["numerics"][precision]
        assert row["round_trip_max_error"] < 1e-4
        assert row["log_det_abs_error"] < 1e-3
        assert row["nif_log_p_max_rel_error"] < 1e-5
    forms = {(r["recipe"], r["conv"]) for r in report["speed"] if "train_img_s" in r}
    assert forms == {("nif64-cifar32-3bit", f) for f in ("lax", "matmul")}
    assert all(r["train_img_s"] > 0 and r["sample_img_s"] > 0 for r in report["speed"])
    assert "| nif64-cifar32-3bit | matmul | 8 |" in (tmp_path / "accelerator.md").read_text()
