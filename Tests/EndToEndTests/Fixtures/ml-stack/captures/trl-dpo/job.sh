# venv: trl
# TRL DPOTrainer, tiny Llama from a config, generated preference pairs, CPU: 30 steps, logging every 2, eval every 10.
python "$FIXTURES/jobs/trl-dpo.py"
