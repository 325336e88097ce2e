# venv: lightning-keras
# Lightning 2.x fit with the TQDM progress bar, then trainer.validate() (results table).
set -euo pipefail
python "$FIXTURES/jobs/lightning-fit.py"
