// Copy matching by perceptual hash: each query's k nearest references in Hamming distance, scored 1 − d/64 (higher is a closer copy).
import type { CopyMatch } from '../../eval/copy-detection.js';
import { hammingDistance, type Hash64 } from '../../models/perceptual-hash.js';

export interface HashSet {
  ids: string[];
  hashes: Hash64[];
}

export function matchHashes(queries: HashSet, references: HashSet, k = 10): CopyMatch[] {
  const out: CopyMatch[] = [];
  const kk = Math.min(k, references.ids.length);
  queries.hashes.forEach((qh, q) => {
    const d = references.hashes.map((rh, r) => ({ r, d: hammingDistance(qh, rh) }));
    d.sort((a, b) => a.d - b.d || a.r - b.r);
    for (const { r, d: dist } of d.slice(0, kk)) out.push({ query: queries.ids[q]!, reference: references.ids[r]!, score: 1 - dist / 64 });
  });
  return out;
}
