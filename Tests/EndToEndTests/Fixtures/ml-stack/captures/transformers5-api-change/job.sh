# venv: transformers5
# exit: 1
# Trainer code written for transformers 4.x (`Trainer(tokenizer=...)`, which 4.57 accepts with a
# FutureWarning) run on 5.x: TypeError before any step, the traceback on stderr, exit 1, no metrics.
python "$FIXTURES/jobs/hf_trainer_4x_api.py"
