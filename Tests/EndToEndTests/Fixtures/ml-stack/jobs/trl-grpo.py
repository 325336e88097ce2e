"""TRL GRPOTrainer on a tiny Llama (2 layers, hidden 32) built from a config, with a BPE tokenizer
trained here, generated prompts and a character-count reward (char_count); generation with model.generate on
CPU: 4 completions of at most 8 tokens per prompt, 20 steps, logging every 2, eval every 10."""
from datasets import Dataset
from transformers import set_seed
from trl import GRPOConfig, GRPOTrainer

import trl_common

set_seed(0)
texts = trl_common.corpus(seed=2, n=300)
tok = trl_common.tokenizer(texts)
model = trl_common.model(tok)
prompts = [" ".join(t.split()[:3]) for t in texts]
train = Dataset.from_dict({"prompt": prompts[:200]})
evaluation = Dataset.from_dict({"prompt": prompts[200:208]})


def char_count(completions, **kwargs):
    """Each completion's length in characters, over 10."""
    return [len(c) / 10 for c in completions]


args = GRPOConfig(
    output_dir="out", max_steps=20, per_device_train_batch_size=8, per_device_eval_batch_size=8,
    num_generations=4, max_completion_length=8, learning_rate=1e-3, logging_steps=2,
    eval_strategy="steps", eval_steps=10, save_strategy="no", report_to="none", seed=0,
    use_cpu=True, dataloader_num_workers=0,
)
record = trl_common.Record()
trainer = GRPOTrainer(model=model, reward_funcs=char_count, args=args, train_dataset=train,
                      eval_dataset=evaluation, processing_class=tok, callbacks=[record])
trainer.train()
record.write(names_complete=True)
