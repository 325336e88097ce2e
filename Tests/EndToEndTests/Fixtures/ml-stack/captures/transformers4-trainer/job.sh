# venv: transformers4
# The Hugging Face Trainer (transformers 4.x) on a tiny GPT-2 built from its config, CPU only:
# 50 steps, logging every 5, eval every 10, then evaluate() and the log_metrics blocks.
python "$FIXTURES/jobs/hf_trainer.py"
