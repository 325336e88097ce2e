"""Shared pieces of the TRL capture jobs (trl-sft.py, trl-dpo.py, trl-grpo.py): a tiny Llama built
from a config, a BPE tokenizer trained here on the generated text, the generated text itself, and
a TrainerCallback that writes what the trainer logged to $FIXTURE_RECORD (capture.py's format).
Nothing is downloaded and nothing is printed here: the jobs print only what TRL prints."""
import json
import math
import numbers
import os
import random

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainerCallback

WORDS = ["red", "blue", "green", "cat", "dog", "bird", "runs", "sits", "jumps", "over", "under",
         "the", "a", "big", "small", "fast", "slow", "tree", "house", "river", "one", "two", "three"]


def sentence(rng, low=4, high=9):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def corpus(seed=0, n=400):
    rng = random.Random(seed)
    return [sentence(rng) for _ in range(n)]


def tokenizer(texts, vocab_size=160):
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<eos>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                   unk_token="<unk>", model_max_length=128)


def model(tok, seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                         bos_token_id=tok.eos_token_id)
    return LlamaForCausalLM(config)


def printed_value(value):
    """The number ProgressCallback's printed dict shows for a logged value, or None when it shows
    none (strings that are not numbers, None, bools, lists)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, torch.Tensor):
        return float(value.item()) if value.numel() == 1 else None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class Record(TrainerCallback):
    """Keeps every dict the trainer hands its callbacks' on_log while ProgressCallback prints
    them (between on_train_begin and on_train_end: it has no bar, and prints nothing, outside
    train()), less 'total_flos', which it drops; writes count/last per key to $FIXTURE_RECORD."""

    def __init__(self):
        self.logs = []
        self.training = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.training = True

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training and logs is not None:
            self.logs.append({k: v for k, v in logs.items() if k != "total_flos"})

    def write(self, names_complete=True):
        metrics = {}
        for logs in self.logs:
            for key, value in logs.items():
                v = printed_value(value)
                if v is None:
                    continue
                entry = metrics.setdefault(key, {"count": 0, "last": None})
                entry["count"] += 1
                entry["last"] = v
        for entry in metrics.values():
            v = entry["last"]
            if math.isnan(v):
                entry["last"] = "nan"
            elif math.isinf(v):
                entry["last"] = "inf" if v > 0 else "-inf"
        path = os.environ.get("FIXTURE_RECORD")
        if path:
            with open(path, "w") as f:
                json.dump({"metrics": metrics, "names_complete": names_complete}, f, indent=1, sort_keys=True)
