# venv: lightning-keras
# Keras 3 fit (torch backend) with validation_data, default verbosity, then model.evaluate().
set -euo pipefail
export KERAS_BACKEND=torch
python "$FIXTURES/jobs/keras-fit.py"
