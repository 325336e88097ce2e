"""lightning-fit: a small MLP LightningModule on a generated 3-class dataset, trained for 4 epochs
on the CPU with Lightning's TQDM progress bar (train_loss per step, val_loss and val_acc per
epoch, all with prog_bar=True) and the default logger, then trainer.validate(), which prints
Lightning's results table. Writes what Lightning itself holds to $FIXTURE_RECORD."""
import json
import math
import os

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm


class MLP(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y), prog_bar=True)
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def data(n, generator):
    x = torch.randn(n, 8, generator=generator)
    w = torch.tensor([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0], [-1.0, 0.5, 1.0], [0.2, 0.2, 0.2],
                      [0.0, 0.3, -0.3], [0.4, -0.2, 0.0], [0.0, 0.0, 0.5], [-0.3, 0.1, 0.1]])
    y = (x @ w + 0.3 * torch.randn(n, 3, generator=generator)).argmax(dim=1)
    return TensorDataset(x, y)


def main():
    L.seed_everything(0)
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    train = DataLoader(data(640, generator), batch_size=32, shuffle=True)   # 20 batches
    val = DataLoader(data(160, generator), batch_size=32)                   # 5 batches
    model = MLP()
    bar = TQDMProgressBar()
    trainer = L.Trainer(max_epochs=4, accelerator="cpu", devices=1, enable_checkpointing=False,
                        callbacks=[bar])
    trainer.fit(model, train, val)

    # What the bar showed last: Lightning's own postfix dict (progress-bar metrics plus the
    # logger's v_num), each value as Lightning's Tqdm formats it for the bar.
    shown = bar.get_metrics(trainer, model)
    held = {k: float(v) for k, v in trainer.progress_bar_metrics.items()}

    results = trainer.validate(model, val)

    metrics = {}
    for name, value in shown.items():
        value = float(Tqdm.format_num(value)) if isinstance(value, (int, float)) else float(value)
        metrics[name] = {"count": None, "last": value if math.isfinite(value) else str(value)}
    record = {"metrics": metrics, "names_complete": True,
              "progress_bar_metrics": held, "validate": results}
    with open(os.environ["FIXTURE_RECORD"], "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
