#!/usr/bin/env bash
# Train the flagship comparison set (issue 20; configs in nif_zoo/configs/next/) one model
# after another, resumable: rerun after a kill and every run continues from its last
# checkpoint (training_runs/NAME, committed with the latest checkpoint when a session ends).
# Publishing is a separate step (nif-zoo publish, once the configs move to
# nif_zoo/configs/).
#   scripts/train_flagship.sh                       # the whole set, in this order
#   scripts/train_flagship.sh nif64-mnist28-3bit    # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-training_runs}  # committed between sessions: the runs resume from there
NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then
  NAMES=(nf-mnist28-3bit nif64-mnist28-3bit nif32-mnist28-3bit nif128-mnist28-3bit
         deepnif64-mnist28-3bit prognif196-mnist28-3bit)
fi
for name in "${NAMES[@]}"; do
  resume=()
  [ -d "$RUNS/$name/checkpoints" ] && resume=(--resume)
  nif-zoo train --config "nif_zoo/configs/next/$name.yaml" --out "$RUNS/$name" "${resume[@]}" --no-progress
done
