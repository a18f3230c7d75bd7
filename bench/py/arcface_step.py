# One ArcFace training step (FC-BN neck + normalised class weights, SGD with momentum) in numpy: forward, backward
# by hand, update — the CPU ceiling that bench/train-head compares TensorFlow.js against.
# Usage: python3 arcface_step.py B D E C runs  → prints one JSON line {"ms": [...], "loss": first-step loss, "blas": ...}
import json, sys, time
import numpy as np

B, D, E, C, runs = (int(v) for v in sys.argv[1:6])
rng = np.random.default_rng(1)
f32 = np.float32
x = rng.standard_normal((B, D), dtype=f32)
y = rng.integers(0, C, B)
W1 = (rng.standard_normal((D, E), dtype=f32) * np.sqrt(2 / D)).astype(f32)
b1 = np.zeros(E, f32)
gamma = np.ones(E, f32)
beta = np.zeros(E, f32)
Wc = (rng.standard_normal((E, C), dtype=f32) * np.sqrt(2 / (E + C))).astype(f32)
params = [W1, b1, gamma, beta, Wc]
moms = [np.zeros_like(p) for p in params]
s, m, eps, lr, mu = f32(30), 0.5, f32(1e-5), f32(0.01), f32(0.9)
rows = np.arange(B)


def step():
    h = x @ W1 + b1
    mean = h.mean(0)
    var = h.var(0)
    inv = 1 / np.sqrt(var + eps)
    hn = (h - mean) * inv
    e = gamma * hn + beta
    en_norm = np.sqrt((e * e).sum(1, keepdims=True))
    en = e / en_norm
    wn_norm = np.sqrt((Wc * Wc).sum(0, keepdims=True))
    wn = Wc / wn_norm
    cos = en @ wn
    ct = np.clip(cos[rows, y], -1 + 1e-6, 1 - 1e-6)
    theta = np.arccos(ct)
    fallback = theta + m > np.pi
    target = np.where(fallback, ct - m * np.sin(m), np.cos(theta + m)).astype(f32)
    logits = s * cos
    logits[rows, y] = s * target
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    loss = float(-np.log(p[rows, y]).mean())
    dlog = p
    dlog[rows, y] -= 1
    dlog /= B
    dcos = s * dlog
    dtarget_dct = np.where(fallback, 1.0, np.sin(theta + m) / np.sin(theta)).astype(f32)
    dcos[rows, y] *= dtarget_dct
    den = dcos @ wn.T
    dwn = en.T @ dcos
    de = (den - en * (en * den).sum(1, keepdims=True)) / en_norm
    dWc = (dwn - wn * (wn * dwn).sum(0, keepdims=True)) / wn_norm
    dgamma = (de * hn).sum(0)
    dbeta = de.sum(0)
    dhn = de * gamma
    dh = (inv / B) * (B * dhn - dhn.sum(0) - hn * (dhn * hn).sum(0))
    dW1 = x.T @ dh
    db1 = dh.sum(0)
    for prm, mom, g in zip(params, moms, [dW1, db1, dgamma, dbeta, dWc]):
        mom *= mu
        mom += g
        prm -= lr * mom
    return loss


first = step()
ms = []
for _ in range(runs):
    t0 = time.perf_counter()
    step()
    ms.append((time.perf_counter() - t0) * 1000)
try:
    import numpy.__config__ as cfg
    blas = str(cfg.CONFIG.get('Build Dependencies', {}).get('blas', {}).get('name', '?'))
except Exception:
    blas = '?'
print(json.dumps({"ms": ms, "loss": first, "numpy": np.__version__, "blas": blas}))
