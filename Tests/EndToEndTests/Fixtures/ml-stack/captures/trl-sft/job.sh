# venv: trl
# TRL SFTTrainer, tiny Llama from a config, generated text, CPU: 40 steps, logging every 2, eval every 10.
python "$FIXTURES/jobs/trl-sft.py"
