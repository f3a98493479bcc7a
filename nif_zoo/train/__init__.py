"""Training: config, loop, checkpoints, data-parallel sharding."""
from nif_zoo.recipe import DEFAULTS, load_config, make_config
from nif_zoo.train.loop import TrainingDiverged, TrainResult, load_trained, train

__all__ = ["DEFAULTS", "TrainResult", "TrainingDiverged", "load_config", "load_trained",
           "make_config", "train"]
