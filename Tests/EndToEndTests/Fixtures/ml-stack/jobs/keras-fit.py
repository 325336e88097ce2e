"""keras-fit: Keras 3 on the torch backend (KERAS_BACKEND=torch, set by job.sh): a small
Sequential classifier on generated data, compiled with metrics=["accuracy"], fit for 4 epochs
with validation_data and the default verbosity, then model.evaluate(). Writes what Keras itself
holds to $FIXTURE_RECORD: the val_* values from the History object (one per epoch), and loss /
accuracy as evaluate() returned them (evaluate's line is the last one that prints them)."""
import json
import math
import os

import numpy as np
import keras


def data(n, rng, w):
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x @ w + 0.3 * rng.normal(size=(n, 3))).argmax(axis=1)
    return x, y


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 3))
    x_train, y_train = data(1024, rng, w)   # 32 steps of 32
    x_val, y_val = data(256, rng, w)        # 8 steps of 32

    model = keras.Sequential([
        keras.Input(shape=(8,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=4, validation_data=(x_val, y_val))
    results = model.evaluate(x_val, y_val, batch_size=32, return_dict=True)

    def value(v):
        v = float(v)
        return v if math.isfinite(v) else str(v)

    # The val_* values are printed once per epoch, on the line that ends the epoch, so Keras knows
    # how many there are; loss and accuracy are also on every progress update (how many depends
    # on timing: Progbar's 0.05 s interval), so their count is left open.
    metrics = {name: {"count": len(values) if name.startswith("val_") else None,
                      "last": value(values[-1])}
               for name, values in history.history.items()}
    for name, v in results.items():
        metrics[name] = {"count": None, "last": value(v)}
    record = {"metrics": metrics, "names_complete": True,
              "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
              "evaluate": {k: float(v) for k, v in results.items()}}
    with open(os.environ["FIXTURE_RECORD"], "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
