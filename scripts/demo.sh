#!/usr/bin/env bash
# The main job on a default model: builds Tessera if needed and generates a
# story with the real pretrained model in ../shared when present, otherwise
# with a random-weight model made by `tessera make-model`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null

MODEL=../shared/models/stories260K.gguf
if [[ ! -f $MODEL ]]; then
  MODEL=build/demo-model.gguf
  echo "demo: ../shared is absent; using a random-weight smollm2-135m-shaped model (its text is noise)" >&2
  build/bin/tessera make-model --shape smollm2-135m --layers 4 --type q8_0 --seed 1 -o "$MODEL"
fi
echo "demo: tessera run --model $MODEL --prompt 'Once upon a time' -n 120" >&2
build/bin/tessera run --model "$MODEL" --prompt "Once upon a time" -n 120
