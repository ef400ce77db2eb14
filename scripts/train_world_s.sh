#!/usr/bin/env bash
# The recipe of the shipped default model, models/tessera-world-s: both stages resume from their latest
# checkpoint, so this script can be stopped at any time and run again (CPU: run it under nohup).
# Step counts fit a 2-core CPU's budget (~0.6 autoencoder steps/s: ~4.6 h; the transformer ~3-4 h); the cosine schedule
# follows --steps, so a run resumed with a different count continues on the new schedule.
#   STAGE=vae|dit|export|card|distill|all  scripts/train_world_s.sh     (all: every stage in order, resuming)
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${STAGE:-vae}

# A long unattended run that dies (a bug, the machine's memory) restarts from its latest checkpoint, a few
# times; a failure that repeats every time stops it.
# Stopped on purpose (a signal: Ctrl-C, kill) is not a failure and is not retried.
retry() {
  local rc
  for attempt in 1 2 3 4 5; do
    rc=0
    "$@" || rc=$?
    [ "$rc" -eq 0 ] && return 0
    [ "$rc" -ge 128 ] && return "$rc"
    echo "train_world_s: '$1 $2 $3' failed (attempt $attempt); resuming from the latest checkpoint in 30 s" >&2
    sleep 30
  done
  return 1
}

if [ "$STAGE" = all ]; then
  for stage in vae dit export card distill; do STAGE=$stage "$0" || exit $?; done
  exit 0
fi

case "$STAGE" in
  vae)
    retry tessera train vae --preset s --out runs/vae-s --steps 10000 --batch-size 8 --lr 5e-4 --warmup 100 \
      --frames 1,9 --sizes 64x64,112x64,64x112 --ckpt-every 250 --log-every 25 ;;
  dit)
    # The transformer trains on the autoencoder exported from its latest checkpoint.
    [ -d runs/vae-s/model ] || tessera train export runs/vae-s --out runs/vae-s/model
    retry tessera train dit --preset s --vae runs/vae-s/model --out runs/dit-s --steps 15000 --batch-size 16 --compile \
      --lr 3e-4 --warmup 500 --frames 17,25,33 --sizes 64x64,112x64,64x112 --set pool=20000 \
      --ckpt-every 250 --log-every 25 ;;
  export)
    # fp16 on disk keeps the shipped folder under 100 MB; weights load back as fp32.
    tessera train export runs/dit-s --out runs/dit-s/export
    python - <<'PY'
import torch
from tessera.pipeline import TextToVideoPipeline
TextToVideoPipeline.from_pretrained("runs/dit-s/export").save_pretrained("models/tessera-world-s", dtype=torch.float16)
PY
    ;;
  card)
    # The benchmark on all three splits, then the model card from the runs and these reports.
    for split in in-dist ood held-out; do
      tessera eval --model models/tessera-world-s --set "$split" --clips 200 --out "docs/eval/model-$split"
    done
    python scripts/model_card.py models/tessera-world-s --runs runs/vae-s runs/dit-s \
      --reports docs/eval/model-in-dist docs/eval/model-ood docs/eval/model-held-out ;;
  distill)
    # The few-step model: 4 steps without guidance, distilled from the shipped one.
    retry tessera train distill --teacher models/tessera-world-s --out runs/distill-s --steps 2000 --batch-size 8 --compile \
      --student-steps 4 --teacher-steps 24 --frames 17,25,33 --sizes 64x64,112x64,64x112 --set pool=20000 \
      --ckpt-every 100 --log-every 10 ;;
  *) echo "STAGE must be vae, dit, export, card, distill or all" >&2; exit 2 ;;
esac
