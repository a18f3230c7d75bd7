# faiss IVF-PQ (Debian's python3-faiss) on the vectors bench/ann wrote: the same factory spec visid builds
# ("IVF<n>,PQ<m>", inner product; with ",RFlat" an IndexRefineFlat re-ranking k·factor candidates), trained on the
# same number of rows; build time, recall@10 against IndexFlatIP, queries/s per nprobe (median of `runs`), RSS.
# Prints one JSON object. Reference only; never used by visid.
import json, resource, sys, time
import numpy as np
import faiss

base, queries, spec, nprobes, runs, threads, train_rows, factor = sys.argv[1], sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split(',')], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
faiss.omp_set_num_threads(threads)
x = np.load(base, mmap_mode='r'); q = np.load(queries)
d = x.shape[1]
flat = faiss.IndexFlatIP(d)
for s in range(0, x.shape[0], 1000000): flat.add(np.ascontiguousarray(x[s:s + 1000000]))
_, truth = flat.search(q, 10); del flat
refine = spec.endswith(',RFlat')
base_index = faiss.index_factory(d, spec[:-len(',RFlat')] if refine else spec, faiss.METRIC_INNER_PRODUCT)
idx = faiss.IndexRefineFlat(base_index) if refine else base_index
rng = np.random.default_rng(1234)
sample = np.sort(rng.choice(x.shape[0], size=min(train_rows, x.shape[0]), replace=False))
t = time.perf_counter()
idx.train(np.ascontiguousarray(x[sample]))
for s in range(0, x.shape[0], 1000000): idx.add(np.ascontiguousarray(x[s:s + 1000000]))
build = time.perf_counter() - t
if refine: idx.k_factor = factor
ivf = faiss.extract_index_ivf(base_index)
rows = []
for nprobe in nprobes:
    ivf.nprobe = nprobe
    times = []
    for _ in range(runs):
        t = time.perf_counter(); _, got = idx.search(q, 10); times.append(time.perf_counter() - t)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)]))
    rows.append({'nprobe': nprobe, 'recall': recall, 'qps': len(q) / float(np.median(times))})
print(json.dumps({'spec': spec, 'build_s': build, 'rows': rows, 'max_rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
