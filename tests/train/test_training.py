"""Training: fair NF/NIF comparison, falling loss, non-finite skips, resume after a kill,
data parallelism on 4 forced CPU devices."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nif_zoo.train import TrainingDiverged, load_trained, make_config, train
from nif_zoo.train import checkpoint, loop

TINY = {
    "model": {"kind": "nif", "levels": 2, "steps": 1, "width": 8, "latent_dim": 4},
    "data": {"dataset": "mnist", "image_shape": [8, 8, 1], "fit": "resize", "limit": 256,
             "eval_limit": 64},
    "train": {"batch_size": 16, "steps": 30, "learning_rate": 2e-3, "warmup_steps": 5,
              "checkpoint_every": 10, "log_every": 5, "seed": 7},
}


def tiny(**sections):
    cfg = json.loads(json.dumps(TINY))
    for section, values in sections.items():
        cfg[section].update(values)
    return cfg


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_nf_and_nif_runs_share_batches_and_the_initial_glow():
    nif_cfg = make_config(tiny())
    nf_raw = tiny(model={"kind": "nf"})
    nf_raw["model"].pop("latent_dim")
    nf_cfg = make_config(nf_raw)
    (nif_data, _), (nf_data, _) = loop.load_datasets(nif_cfg), loop.load_datasets(nf_cfg)
    for step in (0, 1, 15, 16, 40):
        np.testing.assert_array_equal(nif_data.batch_at(step, 16, 7), nf_data.batch_at(step, 16, 7))
    nif = loop.initial_model(nif_cfg, nif_data)
    nf = loop.initial_model(nf_cfg, nf_data)
    for a, b in zip(leaves(nif.variables["params"]["glow"]), leaves(nf.variables["params"]["glow"])):
        np.testing.assert_array_equal(a, b)


def test_deep_nif_trains_by_the_elbo(tmp_path):
    cfg = tiny(model={"kind": "deep_nif", "prior_layers": 2, "prior_hidden": 16},
               train={"steps": 20})
    result = train(cfg, str(tmp_path / "deep"), progress=False)
    losses = [h["loss_bpd"] for h in result.history if "loss_bpd" in h]
    assert losses[-1] < losses[0], losses
    assert result.model.kind == "deep_nif"
    reloaded = load_trained(str(tmp_path / "deep"))
    x = np.full((2, 8, 8, 1), 3, np.uint8)
    np.testing.assert_allclose(reloaded.elbo(x), result.model.elbo(x), rtol=1e-6)


@pytest.mark.lowest
def test_training_lowers_bits_per_dim_and_reloads(tmp_path):
    result = train(tiny(), str(tmp_path / "run"), progress=False)
    losses = [h["loss_bpd"] for h in result.history if "loss_bpd" in h]
    assert losses[-1] < losses[0] - 0.2, losses
    evals = [h for h in result.history if "eval_bpd" in h]
    assert evals and np.isfinite(evals[-1]["eval_bpd"])
    reloaded = load_trained(str(tmp_path / "run"))
    for a, b in zip(leaves(reloaded.variables), leaves(result.model.variables)):
        np.testing.assert_array_equal(a, b)
    with open(tmp_path / "run" / "metrics.jsonl") as fh:
        logged = [json.loads(line) for line in fh]
    assert [r["step"] for r in logged if "loss_bpd" in r] == [5, 10, 15, 20, 25, 30]
    assert logged[0]["step"] == 0 and "CPU core" in logged[0]["hardware"]  # what it ran on
    with pytest.raises(FileExistsError, match="resume"):
        train(tiny(), str(tmp_path / "run"), progress=False)
    mngr = checkpoint.manager(str(tmp_path / "run"))
    record = checkpoint.read_record(mngr)
    mngr.close()
    assert record["step"] == record["data_position"] == 30
    assert record["config"]["train"]["seed"] == 7 and record["model"]["kind"] == "nif"


def test_an_unfinished_checkpoint_is_ignored_on_resume(tmp_path):
    """A kill during a save leaves orbax's temporary folder; the previous one is used."""
    run = tmp_path / "run"
    first = train(tiny(train={"steps": 10}), str(run), progress=False)
    partial = run / "checkpoints" / "20.orbax-checkpoint-tmp-1700000000000000"
    (partial / "state").mkdir(parents=True)
    (partial / "state" / "garbage").write_bytes(b"half a checkpoint")
    mngr = checkpoint.manager(str(run))
    assert mngr.latest_step() == 10
    mngr.close()
    for a, b in zip(leaves(load_trained(str(run)).variables), leaves(first.model.variables)):
        np.testing.assert_array_equal(a, b)


def test_non_finite_gradients_are_skipped_then_stop_the_run(tmp_path, monkeypatch):
    real = loop.bpd_loss

    def poisoned(*args):
        return real(*args) * jnp.nan

    cfg = tiny(train={"steps": 20, "log_every": 1, "checkpoint_every": 2, "max_nonfinite": 3})
    first = train(tiny(train={"steps": 2, "checkpoint_every": 2}), str(tmp_path / "run"),
                  progress=False)
    monkeypatch.setattr(loop, "bpd_loss", poisoned)
    with pytest.raises(TrainingDiverged, match="3 non-finite gradients in a row"):
        train(cfg, str(tmp_path / "run"), resume=True, progress=False)
    # the updates were skipped: the last checkpoint still holds the good parameters (the
    # optimiser's; the moving average keeps averaging them in)
    good = load_trained(str(tmp_path / "run"), step=2, weights="raw")
    kept = load_trained(str(tmp_path / "run"), weights="raw")
    assert first.final_step == 2
    for a, b in zip(leaves(kept.variables["params"]), leaves(good.variables["params"])):
        np.testing.assert_array_equal(a, b)
        assert np.all(np.isfinite(a))


@pytest.mark.slow
@pytest.mark.lowest
def test_a_killed_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    cfg = tiny(train={"steps": 30, "checkpoint_every": 5, "log_every": 5})
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "nif_zoo.cli", "train", "--config",
                             str(cfg_path), "--out", str(killed), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt_dir = killed / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline:
        steps = [int(d) for d in os.listdir(ckpt_dir) if d.isdigit()] if ckpt_dir.exists() else []
        if steps and max(steps) >= 10:
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps = [int(d) for d in os.listdir(ckpt_dir) if d.isdigit()]
    assert 10 <= max(steps) < 30, steps
    resumed = train(cfg, str(killed), resume=True, progress=False)
    straight = train(cfg, str(tmp_path / "straight"), progress=False)
    assert resumed.final_step == straight.final_step == 30
    for a, b in zip(leaves(resumed.model.variables), leaves(straight.model.variables)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # the log says what each stretch ran on: from step 0, and again from the resumed step
    with open(killed / "metrics.jsonl") as fh:
        starts = [json.loads(line)["step"] for line in fh if '"hardware"' in line]
    assert starts[0] == 0 and starts[-1] == max(steps) and len(starts) <= 3, starts


@pytest.mark.slow
def test_four_devices_match_one_device(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        import jax, numpy as np
        from nif_zoo.train import train
        assert len(jax.devices()) == 4, jax.devices()
        cfg = json.loads({json.dumps(json.dumps(tiny(train={"steps": 6, "log_every": 1})))})
        four = train(cfg, sys.argv[1] + "/four", devices=jax.devices(), progress=False)
        one = train(cfg, sys.argv[1] + "/one", devices=jax.devices()[:1], progress=False)
        leaf = jax.tree.leaves(four.model.variables["params"])[0]
        assert len(leaf.sharding.device_set) == 4, leaf.sharding
        l4 = [h["loss_bpd"] for h in four.history if "loss_bpd" in h]
        l1 = [h["loss_bpd"] for h in one.history if "loss_bpd" in h]
        np.testing.assert_allclose(l4, l1, rtol=1e-5)
        for a, b in zip(jax.tree.leaves(four.model.variables), jax.tree.leaves(one.model.variables)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
        print("MATCH", l4)
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "MATCH" in out.stdout


@pytest.mark.lowest
def test_moving_average_of_the_weights():
    """ema_params follow a <- d a + (1 - d) p with TensorFlow's warm-up d = min(decay,
    (1 + k) / (10 + k)) at update k, from the initial params; without ema_decay there is none."""
    cfg = make_config(tiny(train={"ema_decay": 0.5}))
    data, _ = loop.load_datasets(cfg)
    model = loop.initial_model(cfg, data)
    optimizer = loop.make_optimizer(cfg["train"])
    step = loop.make_train_step(model.module, optimizer, 8, 7, 0.5)
    state = loop.initial_state(model.variables, optimizer, ema=True)
    expected = leaves(model.variables["params"])
    for k in range(4):
        state, _ = step(state, data.batch_at(k, 16, 7))
        d = min(0.5, (1 + k) / (10 + k))
        expected = [d * a + (1 - d) * p for a, p in zip(expected, leaves(state["params"]))]
        for a, b in zip(leaves(state["ema_params"]), expected):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert "ema_params" not in loop.initial_state(model.variables, optimizer, ema=False)
    assert make_config(tiny())["train"]["ema_decay"] == 0.999  # the default
    with pytest.raises(ValueError, match="ema_decay must be in"):
        make_config(tiny(train={"ema_decay": 1.0}))


def test_training_logs_and_publishes_the_average_with_the_raw_weights_beside(tmp_path):
    run = str(tmp_path / "run")
    result = train(tiny(train={"steps": 10, "eval_every": 10, "ema_decay": 0.9}), run,
                   progress=False)
    ema, raw = load_trained(run), load_trained(run, weights="raw")
    for a, b in zip(leaves(result.model.variables), leaves(ema.variables)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in
               zip(leaves(ema.variables["params"]), leaves(raw.variables["params"])))
    (record,) = [h for h in result.history if "eval_bpd" in h]
    eval_data = loop.load_datasets(make_config(tiny()))[1]
    assert record["eval_weights"] == "ema"
    assert record["eval_bpd"] == pytest.approx(ema.bits_per_dim(eval_data.images, key=7))
    assert record["eval_bpd_raw"] == pytest.approx(raw.bits_per_dim(eval_data.images, key=7))
    with pytest.raises(ValueError, match="weights must be one of"):
        load_trained(run, weights="average")


def test_records_without_ema_decay_ran_without_the_average():
    """A record written before the moving average became the default ran without one."""
    from nif_zoo.recipe import complete_record

    old = tiny()
    assert complete_record(old)["train"]["ema_decay"] == 0.0
    assert complete_record(tiny(train={"ema_decay": 0.99}))["train"]["ema_decay"] == 0.99
    assert make_config(old)["train"]["ema_decay"] == 0.999


def test_logged_metrics_are_typed_by_dtype_not_by_name():
    record = loop.python_scalars({"loss_bpd": jnp.float32(1.5), "count": jnp.int32(3),
                                  "ratio": jnp.float32(0.25), "norm_steps": jnp.int32(2),
                                  "flag": jnp.bool_(True)})
    assert record == {"loss_bpd": 1.5, "count": 3, "ratio": 0.25, "norm_steps": 2, "flag": True}
    assert isinstance(record["ratio"], float) and isinstance(record["norm_steps"], int)


def test_evaluations_since_best():
    assert loop.evaluations_since_best([]) == 0
    assert loop.evaluations_since_best([3.0, 2.0]) == 0
    assert loop.evaluations_since_best([3.0, 2.0, 2.1, 2.0]) == 2  # a tie is no improvement
    assert loop.evaluations_since_best([1.0, 2.0, 3.0]) == 2


@pytest.mark.lowest
def test_patience_stops_on_held_out_bits_per_dim_and_stays_stopped(tmp_path, monkeypatch):
    from nif_zoo.models.model import Model

    curve = iter([3.0, 2.0, 2.1, 2.05, 1.0, 0.5])  # no better than 2.0 at steps 15 and 20
    monkeypatch.setattr(Model, "bits_per_dim", lambda self, images, key=0: next(curve))
    cfg = tiny(train={"patience": 2, "eval_every": 5, "ema_decay": 0.0},
               data={"eval_split": "validation"})
    out = str(tmp_path / "run")
    result = train(cfg, out, progress=False)
    assert result.final_step == 20
    assert checkpoint.manager(out).latest_step() == 20
    assert checkpoint.read_record(checkpoint.manager(out))["evaluations"] == [3.0, 2.0, 2.1, 2.05]
    with open(os.path.join(out, "metrics.jsonl")) as fh:
        last = json.loads(fh.readlines()[-1])
    assert last == {"step": 20, "stopped_early": True, "patience": 2}
    again = train(cfg, out, resume=True, progress=False)  # stopped runs stay stopped
    assert again.final_step == 20 and next(curve) == 1.0
    with pytest.raises(ValueError, match="patience"):
        make_config(tiny(train={"patience": 2, "eval_every": 0}))
