"""Multi-host training with JAX's multi-controller runtime, for real: two processes on
127.0.0.1 (CPU collectives over gloo), each reading only its rows of every global batch,
checkpoints written once and resumed by both, the result equal to a one-process run."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from nif_zoo.train import train

CONFIG = {
    "model": {"kind": "nif", "levels": 1, "steps": 1, "width": 8, "latent_dim": 4},
    "data": {"dataset": "mnist", "image_shape": [8, 8, 1], "fit": "resize", "limit": 256,
             "eval_limit": 32},
    "train": {"batch_size": 16, "steps": 6, "learning_rate": 2e-3, "warmup_steps": 2,
              "checkpoint_every": 2, "log_every": 1, "eval_every": 3, "seed": 11},
}

WORKER = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    from nif_zoo.train import train
    cfg, out, steps = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    cfg["train"]["steps"] = steps
    result = train(cfg, out, resume=True, progress=False)
    assert jax.process_count() == 2 and len(jax.devices()) == 2, jax.devices()
    leaves = [np.asarray(x).tolist() for x in jax.tree.leaves(result.model.variables["params"])]
    with open(f"{out}/params-{jax.process_index()}-{steps}.json", "w") as fh:
        json.dump(leaves, fh)
    print("DONE", jax.process_index(), result.final_step, flush=True)
""")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_two_processes(out, steps):
    port = free_port()
    procs = []
    for pid in range(2):
        env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                   JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(pid), JAX_PLATFORMS="cpu")
        env.pop("XLA_FLAGS", None)
        env["NIF_ZOO_HOST_DEVICES"] = "1"  # one CPU device per process
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(CONFIG), str(out), str(steps)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (stdout, stderr) in zip(procs, outputs):
        assert p.returncode == 0, stderr[-3000:]
    return [o[0] for o in outputs]


@pytest.mark.slow
def test_two_processes_match_one_and_resume_from_one_checkpoint(tmp_path):
    out = tmp_path / "two"
    first = run_two_processes(out, 4)  # as if stopped after step 4
    assert "process 0 of 2: reads rows 0:8 of every global batch of 16" in first[0]
    assert "process 1 of 2: reads rows 8:16 of every global batch of 16" in first[1]
    assert sorted(os.listdir(out / "checkpoints")) == ["2", "4"]  # one folder per step
    second = run_two_processes(out, 6)  # both resume from step 4
    assert all("DONE" in text and " 6" in text for text in second)
    assert sorted(os.listdir(out / "checkpoints"))[-1] == "6"
    steps = [json.loads(line)["step"] for line in open(out / "metrics.jsonl")
             if "loss_bpd" in line]
    assert steps == [1, 2, 3, 4, 5, 6]  # logged once (by process 0), the killed tail redone

    one = train(CONFIG, str(tmp_path / "one"), progress=False)
    expected = [np.asarray(x) for x in jax.tree.leaves(one.model.variables["params"])]
    for pid in range(2):
        got = json.load(open(out / f"params-{pid}-6.json"))
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            # the gradient's mean is reduced across processes in another order: float32 rounding
            np.testing.assert_allclose(np.asarray(a, np.float32), b, rtol=1e-4, atol=1e-5)
