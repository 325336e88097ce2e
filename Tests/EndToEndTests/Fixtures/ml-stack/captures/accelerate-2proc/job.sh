# venv: transformers5
# The same Trainer script under `accelerate launch`, two CPU processes in one DDP (gloo) group:
# --multi_gpu is accelerate's torchrun launcher (`--cpu` runs a single process without mpirun),
# and --use-cpu (TrainingArguments(use_cpu=True)) makes each process join a MULTI_CPU group.
# Both processes print warnings; rank 0 prints the progress bars and the log dicts.
# A port of its own, so that other jobs on the machine do not collide with the default 29500.
accelerate launch --multi_gpu --num_processes 2 --main_process_port 29731 "$FIXTURES/jobs/hf_trainer.py" --use-cpu
