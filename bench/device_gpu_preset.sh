#!/usr/bin/env bash
# The `gpu` preset (with --final_fit) measured on a lent GPU machine, as one prepared call that resumes if repeated.
#
#   bash bench/device_gpu_preset.sh prepare        # here, once: IMDB into data/imdb, wheels into .whl (both ignored)
#   device run: command "bash bench/device_gpu_preset.sh run", carry [".whl", "data/imdb"], timeout_s 590
#
# The device image has torch and transformers but not datasets or evaluate: they travel as wheels (with transformers
# of this checkout's version). The job stops itself before the call's limit (HF_RNN_DEVICE_SECONDS, default 540);
# a second call on the still-warm machine resumes from the finished stages and the last checkpoint (runs/ is kept
# there between calls). Everything the call learns lands in $OUT: the job's results (json, md, model card, curves),
# each finished stage's record (stages.json), the GPU's name and the log. Copy the results into bench/results/.
# Arguments after `run` go to bench/bench_imdb.py (tests/test_device_script.py rehearses it on a CPU, tiny).
set -uo pipefail
cd "$(dirname "$0")/.."

prepare() {
    local dataset=${HF_RNN_IMDB_PATH:-../shared/data/imdb}
    [ -d "$dataset" ] || { echo "No IMDB folder at $dataset: set HF_RNN_IMDB_PATH." >&2; exit 1; }
    mkdir -p data .whl
    rm -rf data/imdb && cp -r "$dataset" data/imdb
    local versions
    versions=$(python -c "import datasets, evaluate, transformers, dill, multiprocess; print(' '.join(
        f'{m.__name__}=={m.__version__}' for m in (datasets, evaluate, transformers, dill, multiprocess)))")
    python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl $versions
    du -sh data/imdb .whl
}

run() {
    local out=${OUT:?run on the device machine, where OUT is set}
    local run_dir=${HF_RNN_DEVICE_RUN_DIR:-runs/device-gpu-preset}
    export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_RNN_BENCH_RESULTS="$out"
    local wheels=${HF_RNN_DEVICE_WHEELS:-.whl}  # (the CPU rehearsal names an empty folder: its Python differs)
    if compgen -G "$wheels/*.whl" > /dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            "$wheels"/*.whl || exit 1
        export PYTHONPATH="/tmp/site:$PWD"
    else
        export PYTHONPATH="$PWD"
    fi
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no GPU"; } \
        > "$out/machine.txt"
    # SIGINT is Ctrl-C to the Trainer: the stage stops, its last checkpoint stays for the next call.
    timeout --signal=INT --kill-after=30 "${HF_RNN_DEVICE_SECONDS:-540}" python3 bench/bench_imdb.py --preset gpu \
        --final_fit --dataset data/imdb --output_dir "$run_dir" --name imdb_gpu_final_fit "$@" > "$out/log.txt" 2>&1
    local status=$?
    python3 - "$run_dir" "$out/stages.json" <<'PY'
import json, pathlib, sys
stages = {p.parent.name: json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*/stage_done.json"))}
pathlib.Path(sys.argv[2]).write_text(json.dumps(stages, indent=2))
print("finished stages:", ", ".join(stages) or "none")
PY
    echo "job exit status $status (124 or 130: stopped at the time limit; call again to resume)"
    tail -c 3000 "$out/log.txt"
    return $status
}

case "${1:-}" in
    prepare) prepare ;;
    run) shift; run "$@" ;;
    *) echo "usage: $0 prepare | run [bench_imdb.py options]" >&2; exit 2 ;;
esac
