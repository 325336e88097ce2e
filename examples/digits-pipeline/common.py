"""Helpers shared by the digits-pipeline jobs.

The model, the data and the held-out test split come from ../digits-sweep/train.py, imported as
a module (importing it only defines things), so eval.py sees exactly the split training held out.
"""

import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "digits-sweep"))
import train  # noqa: E402  (../digits-sweep/train.py)

CHECKPOINT_KEYS = ("w1", "b1", "w2", "b2", "mean", "std")


def fail(message):
    """Print message on stderr and exit 2 (bad input)."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(2)


def load_checkpoint(path):
    """(model, mean, std, test_fraction or None) from a model.npz written by train.py --output."""
    if not os.path.isfile(path):
        fail(f"No checkpoint at {path}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in CHECKPOINT_KEYS if k not in npz.files]
            if missing:
                fail(f"{path} is not a digits checkpoint: it lacks {', '.join(missing)} "
                     "(train.py --output writes them).")
            arrays = {k: npz[k] for k in CHECKPOINT_KEYS}
            test_fraction = float(npz["test_fraction"]) if "test_fraction" in npz.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # not a zip, empty, truncated, pickled...
        fail(f"Cannot read the checkpoint {path}: not an .npz written by train.py --output ({e})")
    w1, b1, w2, b2 = (arrays[k] for k in ("w1", "b1", "w2", "b2"))
    n_in = arrays["mean"].shape
    if not (w1.ndim == 2 and w2.ndim == 2 and b1.shape == (w1.shape[1],) and w2.shape[0] == w1.shape[1]
            and b2.shape == (w2.shape[1],) and n_in == (w1.shape[0],) and arrays["std"].shape == n_in):
        fail(f"{path} has inconsistent shapes: w1 {w1.shape}, b1 {b1.shape}, w2 {w2.shape}, "
             f"b2 {b2.shape}, mean {arrays['mean'].shape}, std {arrays['std'].shape}.")
    return train.MLP.from_weights(w1, b1, w2, b2), arrays["mean"], arrays["std"], test_fraction
