"""Supervised fine-tuning of a tiny causal language model with the Hugging Face Trainer, on CPU,
with nothing downloaded: the model is built from a LlamaConfig, the tokenizer is a character-level
one built here with `tokenizers`, and the data are addition problems generated here
("prompt" `37+85=`, "completion" `122`). The loss is taken on the completion only (the prompt's
labels are -100), as an SFT trainer does, so `eval_loss` measures how well the model adds.

An ordinary Trainer script: the hyperparameters are flags, and it prints what the Trainer prints
(a dict of training metrics every --logging-steps steps, a dict of eval metrics every
--eval-steps steps, the final evaluate()'s `***** eval metrics *****` block).

    python train.py --learning-rate 3e-3 --weight-decay 0.01 --warmup-ratio 0.05 --max-steps 400
"""
import argparse
import os
import random

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    set_seed,
)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--learning-rate", type=float, default=3e-3)
parser.add_argument("--weight-decay", type=float, default=0.0)
parser.add_argument("--warmup-ratio", type=float, default=0.05, help="fraction of --max-steps, in [0, 1)")
parser.add_argument("--lr-scheduler", default="linear", help="linear, cosine, constant_with_warmup, ...")
parser.add_argument("--hidden", type=int, default=64, help="model width (hidden size); 4 heads")
parser.add_argument("--n-layer", type=int, default=2)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--max-steps", type=int, default=400)
parser.add_argument("--eval-steps", type=int, default=40)
parser.add_argument("--logging-steps", type=int, default=20)
parser.add_argument("--digits", type=int, default=2, help="operands have up to this many digits")
parser.add_argument("--train-examples", type=int, default=8000)
parser.add_argument("--eval-examples", type=int, default=256)
parser.add_argument("--seed", type=int, default=0, help="the model's initialisation and the data order")
parser.add_argument("--output-dir", default="runs/manual", help="the final model and tokenizer go here")
args = parser.parse_args()
if not 0 <= args.warmup_ratio < 1:
    parser.error("--warmup-ratio must be in [0, 1)")
if args.hidden % 4:
    parser.error("--hidden must be a multiple of 4 (4 attention heads)")

# A character-level tokenizer, built here: 4 special tokens, the digits, '+' and '='.
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
vocab = {tok: i for i, tok in enumerate(SPECIALS + list("0123456789+="))}
backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
)


def problems(n, seed):
    """n addition problems as (prompt, completion) pairs; the split's own seed, not --seed."""
    rng = random.Random(seed)
    top = 10**args.digits
    pairs = []
    for _ in range(n):
        a, b = rng.randrange(top), rng.randrange(top)
        pairs.append((f"{a}+{b}=", str(a + b)))
    return pairs


class SFTDataset(torch.utils.data.Dataset):
    """Token ids of <s> prompt completion </s>, with labels only on completion and </s>."""

    def __init__(self, pairs):
        self.items = []
        for prompt, completion in pairs:
            p = [tokenizer.bos_token_id] + tokenizer(prompt, add_special_tokens=False)["input_ids"]
            c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            self.items.append({"input_ids": p + c, "labels": [-100] * len(p) + c})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def collate(batch):
    """Right-pads a batch; padding is masked out of attention and of the loss."""
    width = max(len(x["input_ids"]) for x in batch)
    ids = torch.full((len(batch), width), tokenizer.pad_token_id)
    labels = torch.full((len(batch), width), -100)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, x in enumerate(batch):
        n = len(x["input_ids"])
        ids[row, :n] = torch.tensor(x["input_ids"])
        labels[row, :n] = torch.tensor(x["labels"])
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def predicted_tokens(logits, labels):
    """Keeps only the argmax of the logits during evaluation (not the whole vocabulary)."""
    return logits.argmax(dim=-1)


def compute_metrics(eval_pred):
    """Accuracy of the completion's tokens and of whole answers (every token right)."""
    preds, labels = eval_pred.predictions[:, :-1], eval_pred.label_ids[:, 1:]
    supervised = labels != -100
    correct = (preds == labels) & supervised
    answers = (correct | ~supervised).all(axis=1)
    return {
        "token_accuracy": float(correct.sum() / supervised.sum()),
        "exact_match": float(np.mean(answers)),
    }


# Disjoint seeds: the data are the same for every run, whatever --seed says.
train_set = SFTDataset(problems(args.train_examples, seed=1))
eval_set = SFTDataset(problems(args.eval_examples, seed=2))

set_seed(args.seed)
config = LlamaConfig(
    vocab_size=len(vocab),
    hidden_size=args.hidden,
    intermediate_size=4 * args.hidden,
    num_hidden_layers=args.n_layer,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=4 * args.digits + 8,
    bos_token_id=tokenizer.bos_token_id,
    eos_token_id=tokenizer.eos_token_id,
    pad_token_id=tokenizer.pad_token_id,
    tie_word_embeddings=True,
)
model = LlamaForCausalLM(config)

training_args = TrainingArguments(
    output_dir=args.output_dir,
    max_steps=args.max_steps,
    per_device_train_batch_size=args.batch_size,
    per_device_eval_batch_size=args.eval_examples,
    learning_rate=args.learning_rate,
    weight_decay=args.weight_decay,
    warmup_steps=args.warmup_ratio,  # transformers 5: a value below 1 is a fraction of max_steps
    lr_scheduler_type=args.lr_scheduler,
    logging_steps=args.logging_steps,
    eval_strategy="steps",
    eval_steps=args.eval_steps,
    save_strategy="no",
    report_to="none",
    seed=args.seed,
    use_cpu=True,
    dataloader_num_workers=0,
)
trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=train_set,
    eval_dataset=eval_set,
    data_collator=collate,
    processing_class=tokenizer,
    compute_metrics=compute_metrics,
    preprocess_logits_for_metrics=predicted_tokens,
)

train_result = trainer.train()
trainer.log_metrics("train", train_result.metrics)
metrics = trainer.evaluate()
trainer.log_metrics("eval", metrics)
trainer.save_model(args.output_dir)  # a few hundred KiB: model.safetensors, config, tokenizer
print(f"saved the model and tokenizer to {os.path.abspath(args.output_dir)}")
