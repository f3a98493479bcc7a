#!/usr/bin/env bash
# Publish finished flagship runs (issue 20): move each config from nif_zoo/configs/next/ to
# nif_zoo/configs/ (replacing an earlier model of the same name), then `nif-zoo publish`
# (the closed-form refits of its config's zoo section, test bits/dim, prior-fit and
# checkerboard diagnostics, checkpoints/NAME and model_cards/NAME.md). A run must have
# reached its last step.
#   scripts/publish_flagship.sh nf-mnist28-3bit nif64-mnist28-3bit
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-training_runs}
[ $# -gt 0 ] || { echo "usage: $0 NAME [NAME ...]" >&2; exit 2; }
for name in "$@"; do
  config="nif_zoo/configs/next/$name.yaml"
  [ -f "$config" ] || { echo "$config: no such flagship config" >&2; exit 1; }
  steps=$(python -c "import yaml, sys; print(yaml.safe_load(open(sys.argv[1]))['train']['steps'])" "$config")
  last=$(python -c "
import json, sys
steps = [json.loads(l).get('step', 0) for l in open(sys.argv[1]) if 'eval_bpd' in l]
print(max(steps, default=0))" "$RUNS/$name/metrics.jsonl")
  [ "$last" = "$steps" ] || { echo "$name: trained to step $last of $steps; train it first" >&2; exit 1; }
  sed -e "s#nif_zoo/configs/next/$name.yaml#nif_zoo/configs/$name.yaml#" \
      -e "s#(resumable: --resume)#(resumable: --resume)\n\# Publish: nif-zoo publish runs/$name --name $name   (or scripts/publish_flagship.sh)#" \
      "$config" > "nif_zoo/configs/$name.yaml"
  rm "$config"
  nif-zoo publish "$RUNS/$name" --name "$name"
done
nif-zoo cards
