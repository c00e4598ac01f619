"""A plain PyTorch training loop of ResNet-9 at width 24: bench_gpu.py's baseline.

    python bench/torch_resnet9.py [DATA_DIR] --epochs 16 --batch-size 512 \\
        --precision mixed_bfloat16 --out torch.json

The same network as cnnzoo's `resnet9_w24` (cnnzoo/models/resnet9.py): raw pixels
scaled by 1/255, then prep conv(24), layer1 conv(48) + max pool + residual pair, layer2
conv(96) + max pool, layer3 conv(192) + max pool + residual pair, global max pool, a
dense softmax head; 3x3 bias-free convolutions, each followed by batch norm (Keras's
epsilon 1e-3 and momentum 0.99) and ReLU; Keras's initialisers (Glorot-uniform kernels,
zero biases); 926,578 trainable parameters. It trains with bench_gpu's recipe for the
model, written out here rather than through Keras: SGD with Nesterov momentum 0.9,
decoupled weight decay on kernels only, applied as Keras applies it
(`w -= learning_rate * weight_decay * w` before the step), label smoothing, a linear
warm-up then cosine decay per step (Keras's `CosineDecay`), and the shift (zero padding
then a random crop) and horizontal flip drawn per image on the device. `mixed_bfloat16`
is `torch.autocast` to bfloat16 with float32 weights, as Keras's policy. On CUDA, float32
matrix products may use TF32, as XLA's default lets JAX do (the JSON records it).

Only the baseline that bench_gpu.py measures cnnzoo against; cnnzoo never imports it.
"""

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # Run as a script, cnnzoo not installed (the GPU machine).
    sys.path.insert(0, str(REPO))

THRESHOLDS = (0.91, 0.93, 0.94, 0.95)
# Keras's BatchNormalization defaults; PyTorch's momentum weighs the new batch.
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.01


def conv_bn_relu(in_channels, out_channels):
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels, eps=BN_EPSILON,
                                              momentum=BN_MOMENTUM), nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.pair = nn.Sequential(conv_bn_relu(width, width), conv_bn_relu(width, width))

    def forward(self, x):
        return x + self.pair(x)


class ResNet9(nn.Module):
    """ResNet-9 at base width `width` (24: cnnzoo's `resnet9_w24`), taking raw pixels
    `(batch, channels, height, width)` and returning logits."""

    def __init__(self, width=24, channels=1, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(channels, width),
            conv_bn_relu(width, 2 * width), nn.MaxPool2d(2), Residual(2 * width),
            conv_bn_relu(2 * width, 4 * width), nn.MaxPool2d(2),
            conv_bn_relu(4 * width, 8 * width), nn.MaxPool2d(2), Residual(8 * width))
        self.head = nn.Linear(8 * width, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)  # Keras's glorot_uniform.
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, images):
        x = self.features(images / 255.0)
        return self.head(torch.amax(x, dim=(2, 3)))


def copy_keras_weights(model, keras_model):
    """Copies the weights of a Keras `resnet9_w24` (cnnzoo's, any backend) into `model`,
    convolutions, batch norms and the head in order; returns `model`. A test holds the
    two networks' predictions equal with it.

    Raises:
        ValueError: the Keras model has other layers than this network.
    """
    import keras

    def of(kind):
        return [layer for layer in keras_model.layers if isinstance(layer, kind)]

    def numpy(variable):
        return torch.as_tensor(keras.ops.convert_to_numpy(variable))

    pairs = [(of(keras.layers.Conv2D), nn.Conv2d), (of(keras.layers.BatchNormalization),
                                                    nn.BatchNorm2d),
             (of(keras.layers.Dense), nn.Linear)]
    with torch.no_grad():
        for layers, kind in pairs:
            modules = [module for module in model.modules() if isinstance(module, kind)]
            if len(layers) != len(modules):
                raise ValueError(f"{keras_model.name} has {len(layers)} {kind.__name__} "
                                 f"layers; this network has {len(modules)}.")
            for layer, module in zip(layers, modules):
                if kind is nn.Conv2d:  # (h, w, in, out) -> (out, in, h, w)
                    module.weight.copy_(numpy(layer.kernel).permute(3, 2, 0, 1))
                elif kind is nn.Linear:
                    module.weight.copy_(numpy(layer.kernel).T)
                    module.bias.copy_(numpy(layer.bias))
                else:
                    module.weight.copy_(numpy(layer.gamma))
                    module.bias.copy_(numpy(layer.beta))
                    module.running_mean.copy_(numpy(layer.moving_mean))
                    module.running_var.copy_(numpy(layer.moving_variance))
    return model


def count_parameters(model):
    """Returns the trainable parameters of `model`."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def shift_and_flip(images, pad, generator):
    """Returns `images` (N, C, H, W) each shifted by up to `pad` pixels both ways (zero
    padding, then a crop at a random offset) and flipped left-right half the time."""
    n, _, height, width = images.shape
    padded = nn.functional.pad(images, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), device=images.device, generator=generator)
    rows = offsets[:, :1] + torch.arange(height, device=images.device)
    cols = offsets[:, 1:] + torch.arange(width, device=images.device)
    flip = torch.rand(n, device=images.device, generator=generator) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    index = torch.arange(n, device=images.device)[:, None, None]
    shifted = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]
    return shifted.permute(0, 3, 1, 2)


def learning_rate_at(step, *, peak, warmup_steps, total_steps):
    """Returns Keras's `CosineDecay` with warm-up at `step`: linear from 0 to `peak` over
    `warmup_steps`, then cosine from `peak` to 0 over the rest."""
    if step < warmup_steps:
        return peak * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def _kernels(model):
    return [p for name, p in model.named_parameters() if name.endswith("weight")
            and p.dim() > 1]


def evaluate(model, x_test, y_test, *, autocast, batch_size=1024):
    """Returns the test accuracy of `model` in inference mode."""
    model.eval()
    correct = 0
    with torch.no_grad(), autocast():
        for start in range(0, len(x_test), batch_size):
            logits = model(x_test[start:start + batch_size])
            correct += int((logits.argmax(1) == y_test[start:start + batch_size]).sum())
    model.train()
    return correct / len(x_test)


def _synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_and_measure(data, *, recipe, precision, seed=0, device=None):
    """Returns a result row of one run of `recipe` (bench_gpu's recipe dict: optimizer
    "sgd", learning_rate, warmup_epochs, epochs, batch_size, augment "none" or "light",
    weight_decay, label_smoothing), evaluated on the test set after every epoch: as
    bench_gpu.py's rows, with `framework` "torch".

    Raises:
        ValueError: a recipe this loop does not write out (another optimizer or preset).
    """
    if recipe["optimizer"] != "sgd" or recipe["augment"] not in ("none", "light"):
        raise ValueError(f"the PyTorch baseline trains with SGD and the 'none' or 'light' "
                         f"augmentation; received {recipe['optimizer']!r} and "
                         f"{recipe['augment']!r}.")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    (x, y), (x_test, y_test) = data["train"], data["test"]

    def tensor(array, dtype):  # NumPy NHWC -> the device's NCHW.
        value = torch.as_tensor(np.asarray(array), dtype=dtype, device=device)
        return value.permute(0, 3, 1, 2).contiguous() if value.dim() == 4 else value

    x, y, x_test, y_test = (tensor(x, torch.float32), tensor(y, torch.long),
                            tensor(x_test, torch.float32), tensor(y_test, torch.long))
    model = ResNet9(channels=x.shape[1]).to(device)
    bfloat16 = precision == "mixed_bfloat16"

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bfloat16)

    batch = min(recipe["batch_size"], len(x))
    steps = len(x) // batch
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe["learning_rate"], momentum=0.9,
                                nesterov=True)
    loss_function = nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"])
    kernels, decay = _kernels(model), recipe["weight_decay"] or 0.0
    pad = 2 if recipe["augment"] == "light" else 0  # 1/14 of 28 px, as the preset.
    schedule = {"peak": recipe["learning_rate"], "total_steps": recipe["epochs"] * steps,
                "warmup_steps": recipe["warmup_epochs"] * steps}
    epochs, trained, step = [], 0.0, 0
    reached = {f"{t:.0%}": None for t in THRESHOLDS}
    for _ in range(recipe["epochs"]):
        _synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(len(x), device=device, generator=generator)
        for index in range(steps):
            chosen = order[index * batch:(index + 1) * batch]
            images = x[chosen]
            if pad:
                images = shift_and_flip(images, pad, generator)
            learning_rate = learning_rate_at(step, **schedule)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate
            with torch.no_grad():
                for kernel in kernels:
                    kernel.mul_(1.0 - learning_rate * decay)
            with autocast():
                loss = loss_function(model(images), y[chosen])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        loss = float(loss.detach())  # Waits for the device.
        _synchronize(device)
        seconds = time.perf_counter() - start
        trained += seconds
        start = time.perf_counter()
        accuracy = evaluate(model, x_test, y_test, autocast=autocast)
        epochs.append({"train_seconds": seconds, "accuracy": accuracy, "loss": loss,
                       "eval_seconds": time.perf_counter() - start})
        for threshold in THRESHOLDS:
            key = f"{threshold:.0%}"
            if reached[key] is None and accuracy >= threshold:
                reached[key] = trained
    steady = statistics.median(row["train_seconds"] for row in epochs[1:] or epochs)
    return {"framework": "torch", "model": "resnet9_w24 (plain PyTorch)",
            "precision": precision, "device": device_name(device), "batch_size": batch,
            "recipe": recipe, "parameters": count_parameters(model),
            "tf32": torch.backends.cuda.matmul.allow_tf32, "epochs": epochs,
            "images_per_second": steps * batch / steady, "ms_per_step": 1000 * steady / steps,
            "best_accuracy": max(row["accuracy"] for row in epochs),
            "train_seconds_to": reached, "train_seconds": trained,
            "first_epoch_seconds": epochs[0]["train_seconds"], "median_epoch_seconds": steady}


def device_name(device):
    """Returns the device as bench_gpu names it, e.g. `1x cuda NVIDIA H200` or `1x cpu`."""
    if device.type == "cuda":
        return f"1x cuda {torch.cuda.get_device_name(device)}"
    return f"1x {device.type}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--recipe", help="bench_gpu's recipe as JSON (default: its "
                                         "resnet9_w24 recipe)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--limit", type=int, help="only the first N images of each split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the result row as JSON here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_gpu

    recipe = json.loads(args.recipe) if args.recipe else bench_gpu.recipe_for("resnet9_w24")
    recipe.update({key: value for key, value in (("epochs", args.epochs),
                                                 ("batch_size", args.batch_size)) if value})
    data = bench_gpu.load_fashion_mnist(args.data_dir, limit=args.limit)
    row = train_and_measure(data, recipe=recipe, precision=args.precision, seed=args.seed)
    print(f"{row['model']} {row['precision']} batch {row['batch_size']}: "
          f"{row['images_per_second']:,.0f} img/s, best {row['best_accuracy']:.2%}, "
          f"to 94% {row['train_seconds_to']['94%']} s; {row['device']}")
    if args.out:
        from cnnzoo.atomic import write_atomically

        write_atomically(args.out, json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
