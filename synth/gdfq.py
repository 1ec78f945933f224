"""GDFQ (Xu et al., ECCV 2020, "Generative Low-bitwidth Data Free Quantization").

A class-conditional generator network is trained against the frozen FP32 model so that its
images are (a) classified as the label they were drawn for (cross-entropy) and (b) produce, at
every BatchNorm layer of the model, batch statistics that match the running ones (BNS loss).
The trained generator then yields calibration images.

Faithful to the authors' public ImageNet code: latent size 100, a linear layer to 128 channels
at img_size/4, two nearest-neighbour x2 upsamplings with 3x3 convolutions (128 -> 128 -> 64 -> 3),
per-class ("categorical conditional") BatchNorm, LeakyReLU(0.2), tanh, then a non-affine
BatchNorm2d(3); loss = CE + 0.1 * BNS with BNS the mean over layers of MSE(mean) + MSE(biased
var); Adam(lr 1e-3, betas (0.5, 0.999)). Their two inner BatchNorms use eps=0.8 (a positional
argument meant as momentum, kept since it shapes the images). The noise is also multiplied by
a learned label embedding, as in the paper and their CIFAR generator (`label_embedding=False`
gives their ImageNet generator, which conditions through the BatchNorms only).

The paper's full method then fine-tunes the quantized model on generated images with
knowledge distillation; that needs the quantized model, which a generator never sees, so it
is the separate, opt-in `finetune_quantized` below.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from challenge.errors import KitError
from challenge.graphed_steps import run_steps
from synth import register_generator
from synth._bn_stats import frozen_teacher
from synth._precision import channel_var_mean, channels_last_input, tensor_cores


class ClassBatchNorm2d(nn.Module):
    """BatchNorm without its own affine part, then a per-class scale and shift."""

    def __init__(self, num_classes, channels, eps=1e-5):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, eps=eps, affine=False)
        self.gamma = nn.Embedding(num_classes, channels)
        self.beta = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x, labels):
        return self.norm(x) * self.gamma(labels)[:, :, None, None] + self.beta(labels)[:, :, None, None]


class GeneratorNet(nn.Module):
    def __init__(self, num_classes, image_shape=(3, 224, 224), latent_dim=100, label_embedding=True):
        super().__init__()
        channels, height, width = image_shape
        if height % 4 or width % 4:
            raise KitError(f"gdfq needs an image size divisible by 4, got {height}x{width}")
        self.latent_dim = latent_dim
        self.init_size = (height // 4, width // 4)
        self.embed = nn.Embedding(num_classes, latent_dim) if label_embedding else None
        self.project = nn.Linear(latent_dim, 128 * self.init_size[0] * self.init_size[1])
        self.norm0 = ClassBatchNorm2d(num_classes, 128)
        self.conv1 = nn.Conv2d(128, 128, 3, padding=1)
        self.norm1 = ClassBatchNorm2d(num_classes, 128, eps=0.8)
        self.conv2 = nn.Conv2d(128, 64, 3, padding=1)
        self.norm2 = ClassBatchNorm2d(num_classes, 64, eps=0.8)
        self.to_image = nn.Conv2d(64, channels, 3, padding=1)
        self.out_norm = nn.BatchNorm2d(channels, affine=False)

    def forward(self, z, labels):
        if self.embed is not None:
            z = z * self.embed(labels)
        x = self.project(z).view(z.shape[0], 128, *self.init_size)
        x = F.interpolate(self.norm0(x, labels), scale_factor=2)
        x = F.leaky_relu(self.norm1(self.conv1(x), labels), 0.2)
        x = F.interpolate(x, scale_factor=2)
        x = F.leaky_relu(self.norm2(self.conv2(x), labels), 0.2)
        return self.out_norm(torch.tanh(self.to_image(x)))


def _latents(count, latent_dim, num_classes, seed, device):
    # Drawn on the CPU (same values on every device) and moved once, not per step.
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn((count, latent_dim), generator=rng)
    labels = torch.randint(0, num_classes, (count,), generator=rng)
    return z.to(device), labels.to(device)


def _bns_loss(records):
    terms = []
    for bn, x in records:
        var, mean = channel_var_mean(x, (0, 2, 3), correction=0)  # float32, also for bf16 x
        terms.append(F.mse_loss(mean, bn.running_mean) + F.mse_loss(var, bn.running_var))
    return torch.stack(terms).mean()


def train_generator(model, *, num_classes, input_shape=(3, 224, 224), iterations=1000, batch_size=32,
                    lr=1e-3, betas=(0.5, 0.999), bns_weight=0.1, latent_dim=100, label_embedding=True, seed=0,
                    precision="fp32", cuda_graph=True):
    """Train a GeneratorNet against the frozen `model`. Returns (net in eval mode, loss history).

    Each step reads its latents and labels at a device counter, so on a GPU the step is captured
    once as a CUDA graph and replayed (challenge/graphed_steps.py); the history (CE + bns_weight
    * BNS before each step) stays on the device and is read once at the end. `precision`: the
    forward and backward passes in bf16 on a GPU (synth/_precision.py), losses in float32.
    """
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
        torch.random.default_generator.manual_seed(seed)
        net = GeneratorNet(num_classes, tuple(input_shape), latent_dim, label_embedding)
    net.to(device).train()
    # fused: one kernel for all parameters (9x faster on CPU for the 40M-weight projection at 224);
    # capturable: its step count stays on the device, inside a CUDA graph.
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, betas=betas, fused=True,
                                 capturable=device.type == "cuda")
    z_all, labels_all = _latents(iterations * batch_size, latent_dim, num_classes, seed, device)
    z_all, labels_all = z_all.view(iterations, batch_size, -1), labels_all.view(iterations, batch_size)
    history = torch.empty(iterations, device=device)
    counter = torch.zeros(1, dtype=torch.long, device=device)
    with frozen_teacher(model) as records, tensor_cores([model, net], precision, device) as bf16:
        def step():
            z, labels = z_all.index_select(0, counter)[0], labels_all.index_select(0, counter)[0]
            records.clear()
            logits = model(channels_last_input(net(z, labels), bf16))
            loss = F.cross_entropy(logits.float(), labels) + bns_weight * _bns_loss(records)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                history.index_copy_(0, counter, loss.detach().view(1))
                counter.add_(1)
            records.clear()

        run_steps(step, iterations, device, zero_grad=lambda: optimizer.zero_grad(set_to_none=True),
                  graph=cuda_graph)
    return net.eval(), history.cpu()


@register_generator("gdfq")
def gdfq(model, *, num_classes, input_shape=(3, 224, 224), num_samples=256, batch_size=32, seed=0,
         iterations=1000, train_batch_size=32, lr=1e-3, betas=(0.5, 0.999), bns_weight=0.1,
         latent_dim=100, label_embedding=True, precision="fp32"):
    """Train the generator (`iterations` steps of `train_batch_size`), then sample from it.

    1000 steps at batch 32 (32k generated images; the paper's 50 warm-up epochs of 200 steps at
    batch 16 are 160k) take about 40 s for ResNet18 and 50 s for MobileNetV2 on one H100.
    """
    net, _ = train_generator(model, num_classes=num_classes, input_shape=input_shape,
                             iterations=iterations, batch_size=train_batch_size, lr=lr, betas=betas,
                             bns_weight=bns_weight, latent_dim=latent_dim,
                             label_embedding=label_embedding, seed=seed, precision=precision)
    # A seed distinct from training's so calibration images are not the training draws.
    device = next(model.parameters()).device
    z_all, labels_all = _latents(num_samples, latent_dim, num_classes, seed + 1, device)
    for start in range(0, num_samples, batch_size):
        # Not `yield` inside no_grad: grad mode is thread-global and would stay off in the caller.
        with torch.no_grad():
            images = net(z_all[start:start + batch_size], labels_all[start:start + batch_size])
        yield images


def finetune_quantized(qmodel, fp32_model, generator_net, *, num_classes, iterations=200, batch_size=16,
                       lr=1e-6, momentum=0.9, weight_decay=1e-4, temperature=20.0, alpha=1.0, seed=0):
    """The paper's second stage: fine-tune `qmodel` on generated images, distilling `fp32_model`.

    Opt-in and separate from the generator. `qmodel` must be trainable (fake quantization with a
    straight-through estimator); its parameters with requires_grad are updated in place. Loss as
    in the authors' code: KL(student/T || teacher/T) averaged over every logit, times alpha*T^2,
    plus cross-entropy on the sampled labels; SGD with Nesterov momentum. The student stays in
    eval mode (its BatchNorm statistics frozen, as in their trainer) and the generator is not
    trained further (the paper keeps updating it). Returns the loss history (CPU tensor).
    """
    device = next(qmodel.parameters()).device
    params = [p for p in qmodel.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=True)
    z_all, labels_all = _latents(iterations * batch_size, generator_net.latent_dim, num_classes, seed, device)
    modes = [(m, m.training) for net in (qmodel, generator_net) for m in net.modules()]
    qmodel.eval()
    generator_net.eval()
    history = torch.empty(iterations, device=device)
    with frozen_teacher(fp32_model) as records:
        for step in range(iterations):
            z = z_all[step * batch_size:(step + 1) * batch_size]
            labels = labels_all[step * batch_size:(step + 1) * batch_size]
            with torch.no_grad():
                images = generator_net(z, labels)
                teacher = fp32_model(images)
            records.clear()
            student = qmodel(images)
            kl = F.kl_div(F.log_softmax(student / temperature, 1), F.softmax(teacher / temperature, 1),
                          reduction="sum") / student.numel()
            loss = kl * alpha * temperature ** 2 + F.cross_entropy(student, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history[step] = loss.detach()
    for module, mode in modes:
        module.training = mode
    return history.cpu()
