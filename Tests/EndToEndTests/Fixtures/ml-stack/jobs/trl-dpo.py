"""TRL DPOTrainer on a tiny Llama (2 layers, hidden 32) built from a config, with a BPE tokenizer
trained here and a generated preference dataset (chosen: the prompt's words repeated in order;
rejected: random words); CPU, 30 steps, logging every 2, eval every 10."""
import random

from datasets import Dataset
from transformers import set_seed
from trl import DPOConfig, DPOTrainer

import trl_common

set_seed(0)
rng = random.Random(1)
rows = {"prompt": [], "chosen": [], "rejected": []}
for _ in range(300):
    prompt = trl_common.sentence(rng, 3, 5)
    rows["prompt"].append(prompt + " :")
    rows["chosen"].append(" " + prompt)
    rows["rejected"].append(" " + trl_common.sentence(rng, 3, 5))
tok = trl_common.tokenizer(rows["prompt"] + rows["chosen"] + rows["rejected"])
model = trl_common.model(tok)
reference = trl_common.model(tok)  # the same weights (same seed); DPOTrainer would load it from model's hub id
data = Dataset.from_dict(rows)
train, evaluation = data.select(range(0, 280)), data.select(range(280, 296))

args = DPOConfig(
    output_dir="out", max_steps=30, per_device_train_batch_size=8, per_device_eval_batch_size=8,
    learning_rate=1e-3, logging_steps=2, eval_strategy="steps", eval_steps=10, save_strategy="no",
    report_to="none", seed=0, max_length=64, beta=0.1, use_cpu=True, dataloader_num_workers=0,
)
record = trl_common.Record()
trainer = DPOTrainer(model=model, ref_model=reference, args=args, train_dataset=train, eval_dataset=evaluation,
                     processing_class=tok, callbacks=[record])
trainer.train()
record.write(names_complete=True)
