"""nif-zoo reproduce end to end at toy scale: a generated image folder, a few steps, the real
Inception features, a kill during training and a resume."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from nif_zoo.zoo import reproduce

TOY = ["model.width=8", "model.steps=1", "train.steps=6", "train.checkpoint_every=2",
       "train.eval_every=0", "train.warmup_steps=2", "train.batch_size=8",
       "train.init_images=16", "train.log_every=1", "data.eval_limit=16"]


PAIR = ["nf-fmnist28-3bit", "nif64-fmnist28-3bit"]  # two of the table's three: CI time


def fashion_like_folder(root):
    """28x28 gray images in train/ and test/: bright blobs of a few shapes on black."""
    r = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    for split, count in (("train", 64), ("test", 32)):
        os.makedirs(root / split)
        for i in range(count):
            cy, cx, rad = r.uniform(9, 19), r.uniform(9, 19), r.uniform(4, 9)
            img = 255 * (((yy - cy) ** 2 + (xx - cx) ** 2) < rad ** 2)
            img = np.clip(img + r.integers(0, 40, img.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / split / f"{i:04d}.png")
    return str(root)


def test_overrides_and_table_configs():
    configs = reproduce.table_configs("fmnist", "/data", ["train.steps=5", "model.width=8"])
    assert list(configs) == ["nf-fmnist28-3bit", "nif64-fmnist28-3bit", "nif128-fmnist28-3bit"]
    for c in configs.values():
        assert c["train"]["steps"] == 5 and c["model"]["width"] == 8
        assert c["data"]["data_dir"] == "/data" and c["data"]["n_bits"] == 3
    with pytest.raises(ValueError, match="section.key=value"):
        reproduce.table_configs("fmnist", None, ["steps=5"])
    with pytest.raises(ValueError, match="unknown table"):
        reproduce.table_configs("svhn", None)
    pair = reproduce.table_configs("fmnist", None, models=["nif64-fmnist28-3bit", "nf-fmnist28-3bit"])
    assert list(pair) == ["nf-fmnist28-3bit", "nif64-fmnist28-3bit"]  # the table's order
    with pytest.raises(ValueError, match="nif32-fmnist28-3bit: not in the fmnist table; its "
                                         "models: nf-fmnist28-3bit, nif64"):
        reproduce.table_configs("fmnist", None, models=["nif32-fmnist28-3bit"])


def test_a_batch_too_big_for_the_devices_is_refused_before_training(monkeypatch):
    from nif_zoo.train import cost

    configs = reproduce.table_configs("fmnist", None, TOY)
    name = "nf-fmnist28-3bit"
    memory = {name: cost.training_step_cost(configs[name], flops=False)}
    said = []
    reproduce.check_memory(memory, lambda text, **_: said.append(text))
    assert said[0].startswith(f"predicted memory: {name}: training step of batch 8 on")
    monkeypatch.setattr(cost, "device_memory", lambda d: memory[name].peak_bytes)  # 90% usable
    with pytest.raises(ValueError, match=f"{name}: a training step of batch 8 .* GiB each"):
        reproduce.check_memory(memory, lambda text, **_: said.append(text))


@pytest.mark.slow
def test_reproduce_fmnist_at_toy_scale_with_a_kill_and_resume(tmp_path):
    data = fashion_like_folder(tmp_path / "fmnist")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "nif_zoo.cli", "reproduce", "fmnist", "--data-dir", data,
               "--out", str(out), "--num-samples", "12", "--s-grid", "0,1", "--train-ref", "24",
               "--test-ref", "16", "--no-progress", "--models", ",".join(PAIR)
               ] + sum((["--set", o] for o in TOY), [])
    env = dict(os.environ, NIF_ZOO_CACHE=str(tmp_path / "cache"))
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    ckpt = out / "runs" / "nf-fmnist28-3bit" / "checkpoints"
    deadline = time.time() + 900
    while time.time() < deadline:
        steps = [int(d) for d in os.listdir(ckpt) if d.isdigit()] if ckpt.exists() else []
        if steps and max(steps) >= 2:
            break
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    first = proc.communicate()[0]
    assert "estimated time on this machine: training" in first
    assert "predicted memory: nf-fmnist28-3bit: training step of batch 8 on" in first
    killed_at = max(int(d) for d in os.listdir(ckpt) if d.isdigit())
    assert 2 <= killed_at < 6

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"nf-fmnist28-3bit: training steps {killed_at} -> 6" in done.stdout
    report = (out / "report.md").read_text()
    assert "nif128-fmnist28-3bit" not in report  # --models: the NF and NIF-64 only
    for name in PAIR:
        fid_paper, bpd_paper = reproduce.TABLES["fmnist"][name]
        row = next(line for line in report.splitlines() if line.startswith(f"| {name} |"))
        assert f"| {bpd_paper:.3f} |" in row and f"| {fid_paper:.2f} |" in row
        result = json.loads((out / "results" / f"{name}.json").read_text())
        assert result["tune"]["num_samples"] == 12 and np.isfinite(result["bpd"])
    assert "12 samples per setting" in report and "against 24 training images" in report
    logged = [json.loads(line)["step"] for line in open(out / "runs" / "nf-fmnist28-3bit" /
                                                         "metrics.jsonl") if "loss_bpd" in line]
    assert logged == [1, 2, 3, 4, 5, 6]
    # a third run finds everything done and only rewrites the report
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "trained (6 steps)" in again.stdout
    assert "FID: every model measured already" in again.stdout


def test_the_report_has_a_ratio_table_only_with_the_nf_among_the_models():
    def row(name, kind, bpd, fid):
        return {"name": name, "kind": kind, "bpd": bpd, "tune": {
            "best_s": None if kind == "nf" else 0.0, "test_fid_s1": fid, "test_fid_best_s": fid}}

    settings = {"num_samples": 12, "s_values": [0.0, 1.0], "train_reference_images": 24,
                "test_reference_images": 16, "training": {"steps": 6}}
    nif = row("nif64-fmnist28-3bit", "nif", 1.5, 20.0)
    both = reproduce.report_markdown("fmnist", [row("nf-fmnist28-3bit", "nf", 1.6, 40.0), nif],
                                     settings)
    assert "| nif64-fmnist28-3bit | 0.938 | 0.992 | 0.50 | 0.56 |" in both
    alone = reproduce.report_markdown("fmnist", [nif], settings)
    assert "| nif64-fmnist28-3bit | 1.500 | 1.506 | 20.00 | 0.00 | 20.00 | 23.97 |" in alone
    assert "ratio to the NF" not in alone


def test_the_tables_train_the_authors_setting_whatever_the_zoo_publishes():
    from nif_zoo.zoo import registry

    configs = reproduce.table_configs("celeba", None)
    for name, config in configs.items():
        assert config["model"]["levels"] == 5 and config["model"]["width"] == 256, name
    with pytest.raises(registry.UnknownModelError, match="no recipe of the authors' setting"):
        registry.paper_recipe("nif64-mnist28-3bit")
