#!/usr/bin/env bash
# The main job on a heterogeneous cluster emulated on this machine: builds
# Tessera if needed, prints the partitioner's plan for the cluster's
# catalogue figures, brings up one real worker process per device of a
# cluster from configs/ (each slowed to its device's speed, its link shaped
# like the cluster's: in network namespaces with tc when run as root, else
# delayed in-process on loopback) plus a coordinator that plans from what
# the emulated workers report, prints the mode and the plan it chose,
# streams a generation with per-stage timings, and tears the cluster down
# on exit. NETWORK=loopback|netns|auto and PLANNER=even|partitioner choose.
# Uses the real pretrained model in ../shared when present, otherwise a
# random-weight `tessera make-model` one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null

BIN=${BUILD_DIR:-build}/bin
CLUSTER=${CLUSTER:-configs/clusters/edge_usb_tether.textproto}
MODEL=../shared/models/stories260K.gguf
if [[ ! -f $MODEL ]]; then
  MODEL=build/demo-model.gguf
  echo "demo: ../shared is absent; using a random-weight smollm2-135m-shaped model (its text is noise)" >&2
  "$BIN/tessera" make-model --shape smollm2-135m --layers 4 --type q8_0 --seed 1 -o "$MODEL"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-demo.XXXXXX")
STATE=$WORK/cluster.state
cleanup() {
  if [[ -f $STATE ]]; then "$BIN/tessera-sim" down --state "$STATE" >&2 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "demo: partitioner plan for $MODEL on $CLUSTER (catalogue figures)" >&2
"$BIN/tessera" plan --model "$MODEL" --cluster "$CLUSTER" || \
  echo "demo: no plan from the catalogue figures (see above)" >&2

# The optimal plan for a model this small is one device (links cost more
# than its layers), so by default the demo splits the layers evenly to show
# the pipeline across every device; PLANNER=partitioner runs the plan.
PLANNER=${PLANNER:-even}
if [[ $PLANNER == even ]]; then
  echo "demo: the plan above keeps this tiny model on one device; the emulated cluster splits it evenly (PLANNER=even) to show activations streaming through every device" >&2
fi
echo "demo: bringing up the emulated cluster" >&2
ADDR=$("$BIN/tessera-sim" up --cluster "$CLUSTER" --model "$MODEL" \
        --network "${NETWORK:-auto}" --planner "$PLANNER" \
        --state "$STATE" --work-dir "$WORK")

echo "demo: tessera generate --coordinator $ADDR --prompt 'Once upon a time' -n 120" >&2
"$BIN/tessera" generate --coordinator "$ADDR" --prompt "Once upon a time" -n 120
echo
