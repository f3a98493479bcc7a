"""CI, the other Pythons (.ci/pythons): a bundled model saved with save_pretrained (which
writes its card: huggingface-hub renders cards with jinja2, the dependency a plain install on
Python 3.12 once lacked) and loaded back samples exactly as before. Run in an empty folder."""
import numpy as np

import nif_zoo
from nif_zoo.models.model import Model

model = nif_zoo.load("nif32-lfw24")
model.save_pretrained("saved")
again = Model.from_pretrained("saved")
before = np.asarray(model.sample(2, seed=0, temperature=0.7, s=0.0))
after = np.asarray(again.sample(2, seed=0, temperature=0.7, s=0.0))
assert np.array_equal(before, after), "a saved and reloaded model samples differently"
print("save_pretrained -> from_pretrained: the same samples")
