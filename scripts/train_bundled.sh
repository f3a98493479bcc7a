#!/usr/bin/env bash
# Train and publish the bundled checkpoints (checkpoints/NAME, model_cards/NAME.md) from the
# committed configs, one after another (they share the 2 CPU cores of a laptop).
#   scripts/train_bundled.sh                 # all bundled models
#   scripts/train_bundled.sh nf-lfw24 ...    # some of them
# Runs go to ${RUNS:-runs}/NAME (resumable: rerun the script after a kill).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-runs}
NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then
  mapfile -t NAMES < <(nif-zoo list --bundled --names)
fi
for name in "${NAMES[@]}"; do
  resume=()
  [ -d "$RUNS/$name/checkpoints" ] && resume=(--resume)
  nif-zoo train --config "nif_zoo/configs/$name.yaml" --out "$RUNS/$name" "${resume[@]}" --no-progress
  nif-zoo publish "$RUNS/$name" --name "$name"
done
