#!/usr/bin/env bash
# demo.sh - the main job: set up, build, and answer a question with SmolLM2-135M-Instruct.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
question=${1:-"What is the capital of France? Answer in one sentence."}
echo "$question" | ./build/kestrel chat -m cache/models/SmolLM2-135M-Instruct.Q4_1.gguf --temp 0 -n 128
