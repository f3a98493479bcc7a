"""The shared flow of the closed-form commands, refit-prior and nifify: the model's training
split in, a fitted model out as a new pretrained folder whose card states what was measured on
its saved weights."""
import os

from nif_zoo.cli.options import is_training_run, load_model, progress


def check_new_folder(out: str, source: str, command: str) -> str:
    """``out`` as an absolute path: not the input, and new or empty (a fit never replaces
    anything)."""
    path = os.path.abspath(out)
    if path == os.path.abspath(source) or is_training_run(path):
        raise ValueError(f"--out {out} is the input or a training run: {command} writes a new "
                         "folder")
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise ValueError(f"--out {out} exists and is not empty: {command} writes a new folder")
    return path


def fit_and_save(args, fit, *, command: str, eval_split: str, record_metrics, card_note=None,
                 select_split: str = None):
    """``args.model`` loaded (once ``--out`` is known to be new), ``fit(model, train_images,
    test_images)`` -> (fitted model, record) on its training record's data (with
    ``select_split``: ``fit(model, train_images, test_images, validation_images)``, the
    images of that split, on which the fit is early stopped); the fitted model saved to
    ``args.out`` with its held-out metrics measured
    on the saved weights, plus ``record_metrics(record, saved test bits/dim)``; the card is
    the default one plus ``card_note(metrics, record)``. Returns the metrics."""
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.models import pretrained
    from nif_zoo.zoo.publish import heldout_metrics
    from nif_zoo.zoo.cards import default_card

    out = check_new_folder(args.out, args.model, command)
    model, training = load_model(args.model, args.revision)
    if training is None:
        raise ValueError(f"{args.model} does not record its training data (training.json); "
                         f"{command} needs its training split")
    data = dict(training["data"], image_shape=list(model.image_shape), n_bits=model.n_bits)
    train = evaluation_data(data, "train", args.train_limit, progress(args))
    test = evaluation_data(data, eval_split(data), args.test_limit, progress(args))
    if select_split:
        if select_split == test.split:
            raise ValueError(f"the fit is measured on the {test.split} split; it cannot also be "
                             "early stopped on it (choose another split to select on)")
        selection = evaluation_data(data, select_split, args.test_limit, progress(args))
        fitted, record = fit(model, train.images, test.images, selection.images)
    else:
        fitted, record = fit(model, train.images, test.images)

    def measure(saved):  # the card's numbers are the saved weights'
        metrics = {**heldout_metrics(saved, test.images), "split": test.split}
        return {**metrics, **record_metrics(record, metrics["test_bpd"])}

    def card(config, metrics):
        return default_card(config, metrics) + (card_note(metrics, record) if card_note else "")

    folder, metrics = pretrained.save_measured(fitted, out, measure, card, training=training)
    print(f"wrote the {command} result to {folder}")
    return metrics
