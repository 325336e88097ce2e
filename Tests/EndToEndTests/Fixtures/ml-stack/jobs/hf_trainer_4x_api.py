"""Trainer code written against the transformers 4.x API: it passes the tokenizer as
`Trainer(tokenizer=...)`, which 4.x accepts (with a deprecation warning, in favour of
`processing_class`) and 5.x no longer has, so on 5.x the job dies with a TypeError before any
step: the traceback on stderr, exit status 1, no metrics.

Writes $FIXTURE_RECORD first: nothing is logged by the Trainer before the failure.
"""
import json
import os

import torch
from tokenizers import Tokenizer, Regex, models, pre_tokenizers
from transformers import (
    DataCollatorForLanguageModeling,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    set_seed,
)

if os.environ.get("FIXTURE_RECORD"):
    with open(os.environ["FIXTURE_RECORD"], "w") as f:
        json.dump({"metrics": {}, "names_complete": True}, f)

set_seed(0)

vocab = {tok: i for i, tok in enumerate(["<pad>", "<s>", "</s>", "<unk>"] + list("0123456789+="))}
backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
)

texts = [f"{a}+{b}={a + b}" for a in range(0, 100, 7) for b in range(0, 100, 11)]
train_set = [{"input_ids": tokenizer(t)["input_ids"]} for t in texts]

model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=64, n_embd=32, n_layer=2, n_head=2))

training_args = TrainingArguments(
    output_dir="out",
    max_steps=10,
    per_device_train_batch_size=8,
    logging_steps=5,
    save_strategy="no",
    report_to="none",
)
trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=train_set,
    tokenizer=tokenizer,
    data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
)
trainer.train()
