"""What every nif-zoo model card says of the library (one place): huggingface_hub's
``ModelHubMixin`` takes these as ``Model``'s class metadata, and the zoo's cards
(:mod:`nif_zoo.zoo.cards`) write the same values. Imports nothing."""
LIBRARY_NAME = "nif-zoo"
LICENSE = "apache-2.0"
PAPER_URL = "https://arxiv.org/abs/2006.13070"  # Cunningham et al., Normalizing Flows Across Dimensions
PIPELINE_TAG = "unconditional-image-generation"
TAGS = ("normalizing-flows", "noisy-injective-flows", "jax", "flax")
