"""NF and NIF image models and the public Model API."""
from nif_zoo.models.factory import create_model
from nif_zoo.models.model import Model

__all__ = ["Model", "create_model"]
