# venv: transformers5
# The Hugging Face Trainer (transformers 5.x: values printed as quoted strings) on a tiny GPT-2
# built from its config, CPU only: 50 steps, logging every 5, eval every 10, then evaluate().
python "$FIXTURES/jobs/hf_trainer.py"
