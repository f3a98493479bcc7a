"""The model zoo: a registry of named models (``list_models``), pretrained folders
(``save_pretrained`` / ``load_pretrained``), the bundled checkpoints and the Hugging Face
hub (``load``, ``push_to_hub``), and model cards."""
from nif_zoo.models.pretrained import IntegrityError
from nif_zoo.zoo.hub import HubError, load, load_pretrained, push_to_hub, save_pretrained
from nif_zoo.zoo.registry import ModelEntry, UnknownModelError, get_entry, list_models

__all__ = ["HubError", "IntegrityError", "ModelEntry", "UnknownModelError", "get_entry",
           "list_models", "load", "load_pretrained", "push_to_hub", "save_pretrained"]
