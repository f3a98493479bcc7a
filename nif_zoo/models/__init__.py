"""Image models (NF, NIF, deep NIF, progressive) and the public Model API.

``nif_zoo.models.architectures`` (the architecture table) imports without JAX; ``Model`` and
``create_model`` load JAX on first use."""
__all__ = ["Model", "create_model"]


def __getattr__(name):
    if name == "Model":
        from nif_zoo.models.model import Model

        return Model
    if name == "create_model":
        from nif_zoo.models.factory import create_model

        return create_model
    raise AttributeError(f"module 'nif_zoo.models' has no attribute {name!r}")
