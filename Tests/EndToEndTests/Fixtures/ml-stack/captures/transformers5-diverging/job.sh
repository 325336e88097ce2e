# venv: transformers5
# The same Trainer run with a learning rate of 1e5: the first logged loss is huge, then loss,
# grad_norm and eval_loss are nan to the end, train_loss is nan, and the job exits 0.
# --no-nan-inf-filter sets TrainingArguments(logging_nan_inf_filter=False); with the default
# (True) the Trainer logs 'loss': '0' for all-nan windows instead of nan.
python "$FIXTURES/jobs/hf_trainer.py" --lr 1e5 --no-nan-inf-filter
