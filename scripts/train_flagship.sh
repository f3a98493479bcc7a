#!/usr/bin/env bash
# Train the flagship comparison set (issue 20; configs in nif_zoo/configs/, in next/ until published) one model
# after another, resumable: rerun after a kill and every run continues from its last
# checkpoint (training_runs/NAME, committed with the latest checkpoint when a session ends).
# Publishing is a separate step (scripts/publish_flagship.sh moves a config from
# nif_zoo/configs/next/ to nif_zoo/configs/; this script trains from either place).
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
  config="nif_zoo/configs/next/$name.yaml"  # not yet published; once published it moved up
  [ -f "$config" ] || config="nif_zoo/configs/$name.yaml"
  nif-zoo train --config "$config" --out "$RUNS/$name" "${resume[@]}" --no-progress
done
