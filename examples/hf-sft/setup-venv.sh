#!/usr/bin/env bash
# Makes examples/hf-sft/.venv for train.py: CPU-only torch, then requirements.txt.
# Idempotent: does nothing when .venv/.complete exists (delete .venv to start over).
# VENV_PYTHON=... names the interpreter (default /usr/bin/python3, which needs python3-venv).
#
# torch comes from a local CPU wheel when /opt/wheels has one (TORCH_WHEEL=... to name another),
# else from PyTorch's CPU index; never from PyPI's default index, whose build bundles CUDA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$here/.venv
python=${VENV_PYTHON:-/usr/bin/python3}

if [ -f "$venv/.complete" ]; then
  exit 0
fi

echo "== making $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip

# e.g. /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl, for this Python's version
tag=$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
wheel=${TORCH_WHEEL:-$(ls /opt/wheels/torch-*+cpu-"$tag"-"$tag"-*.whl 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -n "$wheel" ] && [ -f "$wheel" ]; then
  echo "== torch from $wheel"
  "$venv/bin/pip" install -q "$wheel"
else
  echo "== torch from https://download.pytorch.org/whl/cpu"
  "$venv/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu
fi

echo "== $here/requirements.txt"
"$venv/bin/pip" install -q -r "$here/requirements.txt"
"$venv/bin/python" -c 'import torch, transformers, tokenizers; print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)'
touch "$venv/.complete"
