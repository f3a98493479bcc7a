"""Model cards: a Hugging Face YAML header (license, library, tags, datasets, the measured
metrics as a model-index) and the sections a user needs: architecture and sizes, the
training recipe (exact commands), data, measured numbers (with the command that measures
them), recommended t and s, limitations, and the paper.

Cards are rendered, never hand-edited: from a registry entry (its training config) and the
``metrics.json`` that ``nif-zoo publish`` measured. ``model_cards/NAME.md`` is the same
text as ``checkpoints/NAME/README.md`` (the hub README).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from nif_zoo.data.datasets import TABLE as DATASETS
from nif_zoo.models import metadata
from nif_zoo.models.architectures import architecture
from nif_zoo.models.config import ModelConfig

PAPER = ("Edmond Cunningham, Abhinav Agrawal, Renos Zabounidis, Ina Fiterau, Daniel Sheldon. "
         "*Normalizing Flows Across Dimensions*. 2020 (noisy injective flows).")
LICENSE = metadata.LICENSE
HF_DATASETS = {d.name: d.hf_dataset for d in DATASETS.values() if d.hf_dataset}
DATA_TEXT = {d.name: d.card_text for d in DATASETS.values() if d.name != "folder"}
DATA_TERMS = {d.name: d.terms for d in DATASETS.values() if d.terms}


def describe_architecture(model_config: Dict[str, Any]) -> str:
    """The card's architecture paragraph: the kind describes itself (the architecture
    table's ``describe``)."""
    return architecture(model_config["kind"]).describe(model_config)


PRIOR_FIT_TEXT = (
    "Prior fit: z+ are the test images' embeddings (`model.embed`: a NIF's stochastic-inverse "
    "mode, a deep NIF's eps, an NF's trunk latent); under a fitted prior their mean is near 0 "
    "and, for a closed-form NIF, every eigenvalue of their covariance is >= 1 (cov = I + "
    "E[Lambda^-1]). A sample is *empty* when fewer than 2% of its pixel values reach half of "
    "the top level (>= 128 at 8 bits); none of the real MNIST test digits are.")
NYQUIST_TEXT = (
    "The Nyquist share measures a period-2 checkerboard: the energy of the (H/2, W/2) bin of "
    "an image's 2-D DFT among all non-constant energy, times H W (white noise ~1, real "
    "digits ~0.02; `nif_zoo.evaluate.spectrum`).")


def prior_fit_rows(stats) -> list:
    if not stats:
        return []
    return [f"| \\|mean z+\\| / sqrt(M), {stats['embedded_images']} test images | "
            f"{stats['mean_norm_over_sqrt_m']:.3f} |",
            f"| cov(z+) eigenvalues, min .. max | {stats['cov_eig_min']:.3g} .. "
            f"{stats['cov_eig_max']:.3g} |",
            f"| empty samples at t = 1, s = 0 ({stats['empty_samples']} samples, seed "
            f"{stats['empty_seed']}) | {100 * stats['empty_fraction']:.1f}% |"] + (
        [f"| checkerboard: Nyquist share of samples at t = {stats['nyquist_temperature']:g}, "
         f"s = 0 (held-out images: {stats['nyquist_share_heldout']:.3f}) | "
         f"{stats['nyquist_share']:.3f} |"] if "nyquist_share" in stats else [])


def refit_text(refit) -> str:
    if refit.get("kept") is False:  # early stopped on validation before its first step
        return (f"Prior refit (closed form, `nif-zoo refit-prior`): tried and not kept. Setting b "
                f"to the mean trunk latent of the {refit['images']} training images and refitting "
                f"(A, Sigma) by factor-analysis EM ({refit['em_steps_run']} steps) raised the "
                f"training log-likelihood but never that of the "
                f"{refit['validation_images']} validation images above the trained layer's "
                f"({refit['validation_log_lik_before']:.2f} nats/image), so the trained layer is "
                f"published; test bits/dim {refit['test_bpd_after']:.4f}.")
    selected = (f", the number of steps chosen by the likelihood of the "
                f"{refit['validation_images']} validation images "
                f"({refit['validation_log_lik_before']:.2f} -> "
                f"{refit['validation_log_lik_after']:.2f} nats/image; "
                f"{refit['em_steps_run']} steps run)" if "validation_images" in refit else "")
    return (f"Prior refit (closed form, `nif-zoo refit-prior`): after SGD, b was set to the mean "
            f"trunk latent of the {refit['images']} training images and (A, Sigma) refit by "
            f"{refit['em_steps']} factor-analysis EM steps with the trunk fixed{selected}; training "
            f"log-likelihood {refit['train_log_lik_before']:.2f} -> "
            f"{refit['train_log_lik_after']:.2f} nats/image, test bits/dim "
            f"{refit['test_bpd_before']:.4f} -> {refit['test_bpd_after']:.4f}"
            + (f"; before the refit: |mean z+| / sqrt(M) "
               f"{refit['prior_fit_before']['mean_norm_over_sqrt_m']:.3f}, cov(z+) eigenvalues "
               f"{refit['prior_fit_before']['cov_eig_min']:.3g} .. "
               f"{refit['prior_fit_before']['cov_eig_max']:.3g}, empty samples "
               f"{100 * refit['prior_fit_before']['empty_fraction']:.1f}%"
               if refit.get("prior_fit_before") else "")
            + (f"; then the low-dimensional flow was refit to the new layer by "
               f"{refit['flow_steps']} Adam steps on posterior draws (-E_q log p_z "
               f"{refit['flow_loss_first']:.1f} -> {refit['flow_loss_last']:.1f} nats)"
               if refit.get("flow_steps") else "") + ".")


def _yaml_header(name: str, model_config, training, metrics) -> str:
    dataset = (training or {}).get("data", {}).get("dataset")
    trunk = model_config.get("trunk") or "glow"
    tags = (*metadata.TAGS[:2], trunk, *metadata.TAGS[2:])  # the order of the published cards
    lines = ["---", f"license: {LICENSE}", f"library_name: {metadata.LIBRARY_NAME}", "tags:",
             *[f"- {tag}" for tag in tags],
             f"- {model_config['kind'].replace('_', '-')}", "- image-generation"]
    if dataset in HF_DATASETS:
        lines += ["datasets:", f"- {HF_DATASETS[dataset]}"]
    if metrics and metrics.get("test_bpd") is not None:
        lines += ["metrics:", "- bits-per-dim", "model-index:", f"- name: {name}", "  results:",
                  "  - task:", "      type: image-generation", "      name: density estimation",
                  "    dataset:", f"      name: {dataset}", f"      type: {dataset}",
                  f"      split: {metrics.get('split', 'test')}", "    metrics:",
                  "    - type: bits-per-dim", f"      value: {metrics['test_bpd']:.4f}",
                  f"      name: test bits/dim ({metrics.get('bound', 'exact')}, "
                  f"{metrics.get('images')} images)"]
        for key, value in sorted((metrics.get("fid") or {}).items()):
            lines += ["    - type: fid", f"      value: {value:.2f}", f"      name: FID ({key})"]
    lines.append("---")
    return "\n".join(lines)


def render_card(name: str, model_config: Dict[str, Any], *,
                training: Optional[Dict[str, Any]] = None,
                metrics: Optional[Dict[str, Any]] = None,
                train_command: Optional[str] = None, load_as: Optional[str] = None) -> str:
    """The card of model ``name``: ``training`` is its training config (sections model,
    data, train, zoo), ``metrics`` what was measured (None: a recipe without weights),
    ``load_as`` what ``nif_zoo.load`` takes (default ``name``); ``model_config`` of any
    format version."""
    model_config = ModelConfig.from_dict(dict(model_config))
    zoo = (training or {}).get("zoo", {})
    train = (training or {}).get("train", {})
    data = (training or {}).get("data", {})
    status = zoo.get("status", "custom")
    h, w, ch = model_config["image_shape"]
    parts = [_yaml_header(name, model_config, training, metrics), "", f"# {name}", ""]
    if zoo.get("summary"):
        parts += [zoo["summary"], ""]
    if metrics is None and status == "recipe":
        parts += ["**Recipe; weights not published yet.** The config and this card are in "
                  "nif-zoo; `nif_zoo.load(\"%s\")` works once weights exist on the hub at "
                  "`%s`, or train them yourself with the command below." %
                  (name, zoo.get("hub_repo") or f"nif-zoo/{name}"), ""]
    step = f", denoise={zoo['denoise']:g}" if zoo.get("denoise") else ""
    parts += ["```python", "import nif_zoo", f"model = nif_zoo.load(\"{load_as or name}\")",
              f"images = model.sample(16, temperature={zoo.get('temperature', 0.7)}, "
              f"s={zoo.get('s', 0.0)}{step}, seed=0)  # uint8 (16, {h}, {w}, {ch})",
              "z = model.embed(images)            # latents (16, %d)" % model_config["latent_dim"],
              "```", "", f"CLI: `nif-zoo sample {load_as or name} --temperature {zoo.get('temperature', 0.7)} "
              f"--s {zoo.get('s', 0.0)}"
              + (f" --denoise {zoo['denoise']:g}" if zoo.get("denoise") else "")
              + " --out samples.png`", ""]
    parts += ["## Architecture", "", describe_architecture(model_config)]
    if metrics and metrics.get("num_params"):
        parts += ["", f"Parameters: {metrics['num_params']:,}."]
    parts += [""]
    if training:
        parts += ["## Training", ""]
        if train_command:
            parts += ["```", train_command, "```", ""]
        decay = (", then cosine decay to 0" if train.get("lr_schedule") == "cosine" else "")
        parts += [f"Adam, learning rate {train.get('learning_rate')} with {train.get('warmup_steps')} "
                  f"warmup steps{decay}, batch {train.get('batch_size')}, gradient clipping at norm "
                  f"{train.get('clip_norm')}, {train.get('steps')} steps, seed "
                  f"{train.get('seed')} (the seed fixes the initial weights, the data order and "
                  "all noise); ActNorm initialised on "
                  + (f"{train['init_images']} training images" if train.get("init_images")
                     else "the first batch") + ". Objective: bits/dim under uniform dequantisation"
                  + (f" plus Gaussian noise of sigma {model_config['data_noise']:g} (of the noisy "
                     "data)" if model_config.get("data_noise") else "")
                  + ("" if architecture(model_config["kind"]).exact else " (the ELBO)") + "."]
        if metrics and metrics.get("train_seconds"):
            parts += ["", f"Trained in {metrics['train_seconds'] / 60:.1f} min on "
                      f"{metrics.get('train_hardware', 'unknown hardware')}."]
        shape_text = f" Model input {h}x{w}x{ch}" + (f" (fit: {data['fit']})" if data.get("fit")
                                                     else "") + "."
        split_text = {
            "random_60_20_20": " Split: the authors' random 60/20/20 train/test/validation "
                               f"split of the sorted files (seed {data.get('split_seed', 0)}).",
            "random_80_10_10": " Split: a random 80/10/10 train/test/validation split of the "
                               f"sorted files (seed {data.get('split_seed', 0)}).",
        }.get(data.get("split_scheme"), "")
        flip_text = " Horizontal flips in training." if data.get("flip") else ""
        terms = DATA_TERMS.get(data.get("dataset"))
        parts += ["", "## Data", "", DATA_TEXT.get(data.get("dataset"), str(data.get("dataset")))
                  + shape_text + split_text + flip_text
                  + f" Quantised to {model_config['n_bits']} bits.", ""]
        if terms:
            parts += [f"**Terms of the data:** {terms}", ""]
    parts += ["## Measured", ""]
    if metrics and metrics.get("test_bpd") is not None:
        parts += ["| metric | value |", "|---|---|",
                  f"| {metrics.get('split', 'test')} bits/dim ({metrics.get('bound', 'exact')}) "
                  f"| {metrics['test_bpd']:.4f}"
                  + (f" +- {metrics['test_bpd_sem']:.4f} (s.e.m.)" if metrics.get("test_bpd_sem")
                     else "") + " |",
                  f"| images | {metrics.get('images')} |",
                  f"| dequantisation | {metrics.get('dequantisation', 'uniform')} |"]
        for key, value in sorted((metrics.get("fid") or {}).items()):
            parts.append(f"| FID {key} | {value:.2f} |")
        parts += prior_fit_rows(metrics.get("prior_fit"))
        parts += ["", "Measured with:", "```", metrics.get("command", "")]
        if metrics.get("prior_fit_command"):
            parts.append(metrics["prior_fit_command"] + "   # + prior-fit diagnostics")
        for command in fid_commands(metrics):
            parts.append(command + "   # FID (pip install \"nif-zoo[eval]\")")
        parts += ["```", ""]
        if metrics.get("prior_fit"):
            parts += [PRIOR_FIT_TEXT + (" " + NYQUIST_TEXT if "nyquist_share" in
                                        metrics["prior_fit"] else ""), ""]
        if metrics.get("refit"):
            parts += [refit_text(metrics["refit"]), ""]
        if metrics.get("eval_curve"):
            parts += ["Held-out bits/dim during training (training log, same evaluation): "
                      + ", ".join(f"step {step}: {bpd:.3f}" for step, bpd in metrics["eval_curve"])
                      + ".", ""]
    else:
        parts += ["Nothing yet: no published weights." if status == "recipe"
                  else "Not measured.", ""]
    parts += ["## Recommended sampling", "",
              f"Temperature t = {zoo.get('temperature', 0.7)}, s = {zoo.get('s', 0.0)}. "
              + ("t scales the prior draw z = t eps; an NF has no s."
                 if not architecture(model_config["kind"]).noise_model
                 else "t scales the latent draw z = t eps; s scales the NIF noise N(0, s Sigma) "
                      "added before the Glow: s = 0 samples on the learned manifold (sharpest), "
                      "s = 1 is the trained density.")
              + (f" Then one score step x + sigma^2 grad log p(x) with sigma = "
                 f"{zoo['denoise']:g} (`denoise`; the model was trained on data with that "
                 "noise, so the step is Tweedie's posterior mean of the clean image)."
                 if zoo.get("denoise") else ""), ""]
    limitations = zoo.get("limitations") or ""
    parts += ["## Limitations", "", (limitations + " " if limitations else "") +
              f"A {h}x{w}x{ch} model; a research artefact for studying NF vs NIF, not a "
              "production image generator. Bits/dim are comparable only between models "
              "evaluated the same way (same split, dequantisation, bound).", ""]
    parts += ["## Reference", "", PAPER, "",
              "Implementation: nif-zoo (JAX/Flax); the math is in docs/SPEC.md.", ""]
    return "\n".join(parts)


def default_card(model_config: Dict[str, Any], metrics: Optional[Dict[str, Any]] = None) -> str:
    """The card of a model saved without one (no registry entry)."""
    name = f"{model_config['kind']}-{'x'.join(str(d) for d in model_config['image_shape'])}"
    return render_card(name, model_config, metrics=metrics, load_as="path/to/this/folder")


def fid_commands(metrics: Dict[str, Any]) -> List[str]:
    """The ``nif-zoo compare`` commands that measured a card's FIDs, oldest first (a card
    written before there could be several has one ``fid_command``)."""
    if metrics.get("fid_commands"):
        return list(metrics["fid_commands"])
    return [metrics["fid_command"]] if metrics.get("fid_command") else []


def with_fids(metrics: Dict[str, Any], entries: Dict[str, float], command: str) -> Dict[str, Any]:
    """The metrics' FID entries with ``entries`` added (one of the same label, i.e. the same
    settings, replaced) and ``command`` among the commands that measured them: a comparison
    never drops what another measured on the same weights (publishing new weights starts
    the metrics afresh)."""
    out = {k: v for k, v in metrics.items() if k != "fid_command"}
    out["fid"] = {**(metrics.get("fid") or {}), **entries}
    out["fid_commands"] = [c for c in fid_commands(metrics) if c != command] + [command]
    return out

