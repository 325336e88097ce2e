#!/usr/bin/env bash
# `make fixtures`: runs the real ML packages (transformers, TRL, accelerate, Lightning, Keras) on
# tiny models built from configs, CPU only, no downloads of models or data, and captures exactly
# what they print, streams separate and merged (2>&1). Not part of `make test`; the captures it
# writes are committed and replayed by the tests (MLStackEndToEndTests).
#
#   generate.sh                 every capture under captures/
#   generate.sh NAME...         only these (captures/NAME/)
#
# Each captures/NAME/job.sh names its virtual environment on a `# venv: NAME` line; the
# environments are made under $FIXTURE_VENVS (default .build/fixture-venvs) from venvs/NAME.txt,
# with torch from a local CPU wheel when the machine has one (/opt/wheels), else PyPI's CPU index.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
venvs=${FIXTURE_VENVS:-$root/.build/fixture-venvs}
python=${FIXTURE_PYTHON:-/usr/bin/python3}

ensure_venv() {
  local name=$1 dir=$venvs/$1
  [ -f "$dir/.complete" ] && return 0
  echo "== making $dir"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install -q --upgrade pip
  local wheel
  wheel=$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -n 1 || true)
  if [ -n "$wheel" ]; then
    "$dir/bin/pip" install -q "$wheel"
  else
    "$dir/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu || "$dir/bin/pip" install -q torch
  fi
  "$dir/bin/pip" install -q -r "$here/venvs/$name.txt"
  touch "$dir/.complete"
}

for dir in "$here"/captures/*/; do
  name=$(basename "$dir")
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  venv=$(sed -n 's/^# venv: *//p' "$dir/job.sh" | head -n 1)
  [ -n "$venv" ] || { echo "$dir/job.sh names no venv (# venv: NAME)" >&2; exit 1; }
  ensure_venv "$venv"
  echo "== $name ($venv)"
  "$python" "$here/capture.py" "$dir" --venv "$venvs/$venv"
done
