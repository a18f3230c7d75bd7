# PyTorch anchors for bench/finetune and bench/train-head (Debian's python3-torch; used only by benchmarks).
#   finetune_torch.py cnn <mobilenet_v2|inception_v3> <all|last-2-blocks> <batch> <size> <steps> <threads>
#       training images/s of torchvision's network (random init: Debian ships no weights; speed does not care),
#       GAP + FC to 512 + CE over 300 classes, SGD with momentum, on random images; median over steps after warm-up.
#   finetune_torch.py head <batch> <D> <E> <C> <runs> <threads>
#       one ArcFace step of bench/train-head's shape: FC-BN neck + normalised class weights, SGD with momentum.
# Prints one JSON line.
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def cnn(arch, trainable, batch, size, steps, threads):
    import torchvision
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if arch == 'mobilenet_v2':
        body = torchvision.models.mobilenet_v2().features
        channels = 1280
        # features[0] is the stem, 1–17 the inverted residual blocks, 18 the final 1×1 conv: "last 2 blocks" =
        # block 17 and the final conv, as visid's block split of the same network ends.
        frozen = body[:17] if trainable == 'last-2-blocks' else None
    else:
        net = torchvision.models.inception_v3(aux_logits=False, init_weights=False)
        body = nn.Sequential(*[m for name, m in net.named_children() if name not in ('avgpool', 'dropout', 'fc')])
        channels = 2048
        frozen = body[:-2] if trainable == 'last-2-blocks' else None
    if frozen is not None:
        for p in frozen.parameters():
            p.requires_grad_(False)
    head = nn.Sequential(nn.Flatten(), nn.Linear(channels, 512), nn.Linear(512, 300))
    model = nn.Sequential(body, nn.AdaptiveAvgPool2d(1), head)
    model.train()
    if frozen is not None:
        frozen.eval()  # frozen batch norm statistics, as visid's default
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    x = torch.rand(batch, 3, size, size)
    y = torch.randint(0, 300, (batch,))
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if i > 0:
            times.append(time.perf_counter() - t0)
    return {"imagesPerSecond": batch / median(times), "stepSeconds": times, "torch": torch.__version__, "threads": threads}


def head(B, D, E, C, runs, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.randn(B, D)
    y = torch.arange(B) * 7919 % C
    fc = nn.Linear(D, E)
    bn = nn.BatchNorm1d(E)
    W = nn.Parameter(torch.randn(E, C) * math.sqrt(2 / (E + C)))
    params = list(fc.parameters()) + list(bn.parameters()) + [W]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    s, m = 30.0, 0.5

    def step():
        opt.zero_grad()
        e = F.normalize(bn(fc(x)), dim=1)
        cos = e @ F.normalize(W, dim=0)
        ct = cos.gather(1, y[:, None]).clamp(-1 + 1e-6, 1 - 1e-6)
        theta = torch.acos(ct)
        target = torch.where(theta + m > math.pi, ct - m * math.sin(m), torch.cos(theta + m))
        logits = cos.scatter(1, y[:, None], target) * s
        loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        return float(loss)

    first = step()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1000)
    return {"ms": ms, "loss": first, "torch": torch.__version__, "threads": threads}


if __name__ == '__main__':
    kind = sys.argv[1]
    if kind == 'cnn':
        arch, trainable, batch, size, steps, threads = sys.argv[2], sys.argv[3], *map(int, sys.argv[4:8])
        print(json.dumps(cnn(arch, trainable, batch, size, steps, threads)))
    else:
        print(json.dumps(head(*map(int, sys.argv[2:8]))))
