# venv: trl
# TRL GRPOTrainer, tiny Llama from a config, generated prompts, character-count reward, CPU generation:
# 4 completions of at most 8 tokens per prompt, 20 steps, logging every 2, eval every 10.
python "$FIXTURES/jobs/trl-grpo.py"
