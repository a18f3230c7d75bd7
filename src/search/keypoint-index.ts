// Candidate retrieval by local features: every reference's binary descriptors (ORB or AKAZE) in one approximate
// nearest-neighbour index (usearch HNSW, Hamming distance); a query's keypoints each vote for the reference of their nearest
// code when it passes Lowe's ratio test against the second nearest. References with the most votes are the
// candidates local verification then checks. This finds copies a global descriptor has lost — small crops,
// rotations, perspective, pastes onto other photos — because a few dozen keypoints survive those edits.
import type * as UsearchModule from 'usearch';
import { VisidError } from '../util/errors.js';
import { usearchLib } from '../index/hnsw.js';
import type { LocalFeatures } from './geometric-verification.js';

/** Neighbours looked at per query keypoint, to find the nearest code of a different reference. */
const NEIGHBOURS = 8;

/** Binary codes (`bytes` a row) as one byte per bit (what usearch's JavaScript binding takes for binary vectors). */
function unpackBits(codes: Uint8Array, rows: number, bytes: number): Uint8Array {
  const out = new Uint8Array(rows * bytes * 8);
  for (let i = 0; i < rows * bytes; i++) {
    const b = codes[i]!;
    for (let k = 0; k < 8; k++) out[i * 8 + k] = (b >> k) & 1;
  }
  return out;
}

export interface KeypointIndexOptions {
  /** Keypoints kept per reference (the strongest first, as ORB returns them; default all). */
  perImage?: number;
  threads?: number;
  /** Lowe's ratio for a vote (default 0.8). */
  ratio?: number;
}

export class KeypointVoteIndex {
  private constructor(
    private readonly index: UsearchModule.Index,
    private readonly owner: Int32Array,
    /** Bytes per descriptor (all references' features come from one detector). */
    private readonly bytes: number,
    readonly ids: string[],
    private readonly o: KeypointIndexOptions,
  ) {}

  /** Indexes the references' features (`features[i]` belongs to `ids[i]`). */
  static build(features: LocalFeatures[], ids: string[], o: KeypointIndexOptions = {}): KeypointVoteIndex {
    if (features.length !== ids.length) throw new VisidError('E_INPUT', `${features.length} feature sets for ${ids.length} references`);
    const per = features.map((f) => Math.min(f.count, o.perImage ?? Infinity));
    const total = per.reduce((a, b) => a + b, 0);
    if (total === 0) throw new VisidError('E_INPUT', 'no keypoints in any reference: nothing to index');
    const bytes = features.find((f) => f.count > 0)!.bytes;
    const other = features.findIndex((f) => f.count > 0 && f.bytes !== bytes);
    if (other >= 0) throw new VisidError('E_DIM', `reference ${ids[other]}: ${features[other]!.bytes}-byte descriptors among ${bytes}-byte ones`, { item: ids[other] });
    const owner = new Int32Array(total);
    const codes = new Uint8Array(total * bytes);
    let row = 0;
    features.forEach((f, i) => {
      codes.set(f.descriptors.subarray(0, per[i]! * bytes), row * bytes);
      owner.fill(i, row, row + per[i]!);
      row += per[i]!;
    });
    const lib = usearchLib();
    const index = new lib.Index({ dimensions: bytes * 8, metric: lib.MetricKind.Hamming, quantization: lib.ScalarKind.B1, connectivity: 16, expansion_add: 64, expansion_search: 64, multi: false });
    const keys = new BigUint64Array(total);
    for (let i = 0; i < total; i++) keys[i] = BigInt(i);
    // In blocks: the unpacked codes take a byte per bit.
    const block = 65_536;
    for (let s = 0; s < total; s += block) {
      const e = Math.min(total, s + block);
      index.add(keys.subarray(s, e), unpackBits(codes.subarray(s * bytes, e * bytes), e - s, bytes), o.threads ?? 2);
    }
    return new KeypointVoteIndex(index, owner, bytes, ids, o);
  }

  get size(): number {
    return this.owner.length;
  }

  /** The `k` references with the most votes from the query's keypoints (several feature sets vote together, e.g. a mirrored query). */
  search(query: LocalFeatures | LocalFeatures[], k: number): Array<{ id: string; votes: number }> {
    const sets = Array.isArray(query) ? query : [query];
    const votes = new Map<number, number>();
    const ratio = this.o.ratio ?? 0.8;
    for (const q of sets) {
      if (q.count === 0) continue;
      if (q.bytes !== this.bytes) throw new VisidError('E_DIM', `query features of ${q.bytes} bytes against an index of ${this.bytes}-byte descriptors`);
      // Lowe's test against the nearest code of *another* reference: a reference's own near-duplicate keypoints
      // (one corner found at two scales) must not make its match look ambiguous.
      const kn = Math.min(NEIGHBOURS, this.owner.length);
      const r = this.index.search(unpackBits(q.descriptors, q.count, q.bytes), kn, this.o.threads ?? 2);
      for (let i = 0; i < q.count; i++) {
        const counts = (r as { counts?: BigUint64Array }).counts;
        const found = counts ? Math.min(kn, Number(counts[i])) : kn;
        if (found === 0) continue;
        const d1 = r.distances[kn * i]!;
        const ref = this.owner[Number(r.keys[kn * i]!)]!;
        let d2 = Infinity;
        for (let j = 1; j < found; j++) {
          if (this.owner[Number(r.keys[kn * i + j]!)] !== ref) {
            d2 = r.distances[kn * i + j]!;
            break;
          }
        }
        if (!(d1 < ratio * d2)) continue;
        votes.set(ref, (votes.get(ref) ?? 0) + 1);
      }
    }
    return [...votes.entries()]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, k)
      .map(([ref, v]) => ({ id: this.ids[ref]!, votes: v }));
  }
}
