"""A tiny causal-LM run with the Hugging Face Trainer (transformers 4.x or 5.x), CPU only, no downloads:
a 2-layer GPT-2 built from its config, a character-level tokenizer built here with `tokenizers`,
and arithmetic strings ("12+34=46") generated here. Prints only what the Trainer prints, as the
examples' run_clm.py does (training, periodic eval, final evaluate(), log_metrics blocks).

Writes $FIXTURE_RECORD: what the Trainer itself logged (each `logs` dict its on_log hands the
callbacks) restricted to what its ProgressCallback prints: the dicts logged while the training bar
is open (the final evaluate() after train() is logged but not printed), without total_flos.

    python hf_trainer.py [--lr LR] [--steps N] [--no-nan-inf-filter] [--use-cpu]
    accelerate launch --multi_gpu --num_processes 2 hf_trainer.py --use-cpu   (record from rank 0)
"""
import argparse
import inspect
import json
import math
import os
import random

import torch
from tokenizers import Tokenizer, Regex, models, pre_tokenizers
from transformers import (
    DataCollatorForLanguageModeling,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=5e-3)
parser.add_argument("--steps", type=int, default=50)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--train-examples", type=int, default=400)
# The Trainer's default (True) logs a nan/inf step's loss as the window's average so far (0.0 when
# every step of the window is nan); False logs the loss as it is.
parser.add_argument("--no-nan-inf-filter", action="store_true")
# TrainingArguments(use_cpu=True): under `accelerate launch --multi_gpu` on a machine without GPUs,
# this makes each process join a MULTI_CPU (gloo) group instead of training alone.
parser.add_argument("--use-cpu", action="store_true")
args = parser.parse_args()

set_seed(0)

# A character-level tokenizer built locally.
specials = ["<pad>", "<s>", "</s>", "<unk>"]
chars = list("0123456789+=")
vocab = {tok: i for i, tok in enumerate(specials + chars)}
backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
)

MAX_LEN = 16
rng = random.Random(0)


def example():
    a, b = rng.randrange(100), rng.randrange(100)
    return f"{a}+{b}={a + b}"


class Sums(torch.utils.data.Dataset):
    def __init__(self, n):
        texts = [example() for _ in range(n)]
        self.items = []
        for text in texts:
            ids = [tokenizer.bos_token_id] + tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
            self.items.append({"input_ids": ids[:MAX_LEN]})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


train_set, eval_set = Sums(args.train_examples), Sums(64)

config = GPT2Config(
    vocab_size=64, n_positions=64, n_embd=32, n_layer=2, n_head=2,
    bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"],
)
model = GPT2LMHeadModel(config)


class Record(TrainerCallback):
    """The Trainer's own logs, as its ProgressCallback prints them (while the training bar is open)."""

    def __init__(self):
        self.training = False
        self.logged = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.training = True

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.training and state.is_world_process_zero:
            self.logged.append({k: v for k, v in logs.items() if k != "total_flos"})

    def printed(self, formatted):
        """What `log_metrics` printed (its `metrics_format` values): the numbers among them
        (`0:00:01.73` and `0GF` are not)."""
        numbers = {}
        for key, value in formatted.items():
            try:
                numbers[key] = float(value)
            except (TypeError, ValueError):
                pass
        self.logged.append(numbers)

    def write(self, path):
        metrics = {}
        for logs in self.logged:
            for key, value in logs.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                entry = metrics.setdefault(key, {"count": 0})
                entry["count"] += 1
                value = float(value)
                entry["last"] = "nan" if math.isnan(value) else ("inf" if value == math.inf else ("-inf" if value == -math.inf else value))
        with open(path, "w") as f:
            json.dump({"metrics": metrics, "names_complete": True}, f, indent=1)


record = Record()
training_args = TrainingArguments(
    output_dir="out",
    max_steps=args.steps,
    per_device_train_batch_size=args.batch,
    per_device_eval_batch_size=16,
    learning_rate=args.lr,
    warmup_steps=5,
    logging_steps=5,
    eval_strategy="steps",
    eval_steps=10,
    save_strategy="no",
    report_to="none",
    seed=0,
    dataloader_num_workers=0,
    logging_nan_inf_filter=not args.no_nan_inf_filter,
    use_cpu=args.use_cpu,
)
trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=train_set,
    eval_dataset=eval_set,
    data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
    processing_class=tokenizer,
    callbacks=[record],
)

train_result = trainer.train()
trainer.log_metrics("train", train_result.metrics)
metrics = trainer.evaluate()
trainer.log_metrics("eval", metrics)
if trainer.is_world_process_zero():
    # What log_metrics printed, through the function it formats with: a Trainer method in 4.x
    # (`metrics_format(self, metrics)`), a plain function of the metrics in 5.x.
    from transformers.trainer_pt_utils import metrics_format

    def printed_form(values):
        return metrics_format(trainer, values) if len(inspect.signature(metrics_format).parameters) == 2 else metrics_format(values)

    record.printed(printed_form(train_result.metrics))
    record.printed(printed_form(metrics))

if trainer.is_world_process_zero() and os.environ.get("FIXTURE_RECORD"):
    record.write(os.environ["FIXTURE_RECORD"])

# Leave the process group as distributed scripts do (accelerate's `end_training()`): a rank that
# exits with gloo's threads still up may abort ("terminate called without an active exception").
if torch.distributed.is_available() and torch.distributed.is_initialized():
    torch.distributed.destroy_process_group()
