# faiss HNSW32 (Debian's python3-faiss) on the vectors bench/ann wrote: build time, recall@10 against IndexFlatIP,
# queries/s per efSearch (median of `runs`), RSS. Prints one JSON object. Reference only; never used by visid.
import json, resource, sys, time
import numpy as np
import faiss

base, queries, m, efc, efs, runs, threads, sq8 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), [int(x) for x in sys.argv[5].split(',')], int(sys.argv[6]), int(sys.argv[7]), sys.argv[8] == '1'
faiss.omp_set_num_threads(threads)
x = np.load(base, mmap_mode='r'); q = np.load(queries)
d = x.shape[1]
flat = faiss.IndexFlatIP(d); flat.add(np.ascontiguousarray(x)); _, truth = flat.search(q, 10); del flat
out = {'threads': threads}
for storage in (['flat', 'sq8'] if sq8 else ['flat']):
    idx = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT) if storage == 'flat' else faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, m, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = efc
    t = time.perf_counter()
    if storage == 'sq8': idx.train(np.ascontiguousarray(x[:100000]))
    idx.add(np.ascontiguousarray(x))
    build = time.perf_counter() - t
    rows = []
    for ef in efs:
        idx.hnsw.efSearch = ef
        times = []
        for _ in range(runs):
            t = time.perf_counter(); _, got = idx.search(q, 10); times.append(time.perf_counter() - t)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)]))
        rows.append({'ef': ef, 'recall': recall, 'qps': len(q) / float(np.median(times))})
    out[storage] = {'build_s': build, 'rows': rows}
    del idx
out['max_rss_kb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
