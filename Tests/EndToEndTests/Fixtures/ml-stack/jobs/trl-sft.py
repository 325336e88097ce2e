"""TRL SFTTrainer on a tiny Llama (2 layers, hidden 32) built from a config, with a BPE tokenizer
trained here and a generated text dataset; CPU, 40 steps, logging every 2, eval every 10."""
from datasets import Dataset
from transformers import set_seed
from trl import SFTConfig, SFTTrainer

import trl_common

set_seed(0)
texts = trl_common.corpus(seed=0, n=400)
tok = trl_common.tokenizer(texts)
model = trl_common.model(tok)
train = Dataset.from_dict({"text": texts[:320]})
evaluation = Dataset.from_dict({"text": texts[320:336]})

args = SFTConfig(
    output_dir="out", max_steps=40, per_device_train_batch_size=8, per_device_eval_batch_size=8,
    learning_rate=1e-3, logging_steps=2, eval_strategy="steps", eval_steps=10, save_strategy="no",
    report_to="none", seed=0, max_length=64, use_cpu=True, dataloader_num_workers=0,
)
record = trl_common.Record()
trainer = SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=evaluation,
                     processing_class=tok, callbacks=[record])
trainer.train()
record.write(names_complete=True)
