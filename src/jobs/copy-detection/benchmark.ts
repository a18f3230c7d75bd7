// A copy-detection benchmark built from real photos: references, edited copies of them and distractor queries, a disjoint background set, training tiles, ground truth.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { AugmentPipeline, type StepSpec } from '../../augment/pipeline.js';
import { decodeRgb } from '../../images/decode.js';
import { isImageFile } from '../../data/item.js';
import { mulberry32 } from '../../util/random.js';
import { VisidError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';

export interface CopyBenchmarkOptions {
  seed?: number;
  /** Photos used as references (their copies are half the queries). */
  references?: number;
  /** Photos whose edited versions are the distractor queries (never references). */
  distractors?: number;
  /** Edited copies per reference and per distractor photo. */
  copies?: number;
  /** Photos are first downscaled to this longest side. */
  maxSide?: number;
  /** Each background photo is cut into tiles × tiles training images (every tile its own instance). */
  tiles?: number;
  /** The copy edits (a pipeline spec); ImageOverlay/ImageUnderlay draw their other photos from the distractors. */
  pipeline: StepSpec[];
  /**
   * One photo per group (person) for references and distractors, so that no two references show the same person
   * (LFW-style folders: photosDir/<person>/<photo>.jpg, one group per folder).
   */
  onePerGroup?: boolean;
  /** Caps the background (training) photos (default: every photo left). */
  background?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface CopyBenchmarkLayout {
  refs: string;
  queries: string;
  background: string;
  train: string;
  truth: string;
  /** queries.csv: query_id, source photo, reference_id (empty for a distractor), the edits applied (;-separated). */
  queries_csv: string;
  counts: { references: number; copies: number; distractorQueries: number; background: number; train: number };
}

/** The photo's group: a mirrored duplicate (img11_reflection.jpg) belongs with its original, so no split holds a copy by accident. */
function groupOf(name: string): string {
  return name.replace(/_reflection(?=\.)/, '');
}

function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

async function writeJpeg(img: { data: Uint8Array; width: number; height: number }, file: string, quality = 92): Promise<void> {
  await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality }).toFile(file);
}

/** Writes the benchmark under `outDir` from the photos of `photosDir` (every run with the same seed writes the same files). */
export async function writeCopyBenchmark(photosDir: string, outDir: string, o: CopyBenchmarkOptions): Promise<CopyBenchmarkLayout> {
  const seed = o.seed ?? 1;
  const nRef = o.references ?? 24;
  const nDis = o.distractors ?? 24;
  const copies = o.copies ?? 2;
  const maxSide = o.maxSide ?? 512;
  const tiles = o.tiles ?? 3;
  // A flat folder of photos, or one folder per person (LFW): then the person is the group.
  const entries = await fs.readdir(photosDir, { withFileTypes: true });
  const names: string[] = entries.filter((e) => e.isFile() && isImageFile(e.name)).map((e) => e.name);
  const folderOf = new Map<string, string>();
  for (const d of entries.filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const f of (await fs.readdir(path.join(photosDir, d.name))).filter(isImageFile).sort()) {
      names.push(`${d.name}/${f}`);
      folderOf.set(`${d.name}/${f}`, d.name);
    }
  }
  names.sort();
  const groups = new Map<string, string[]>();
  const keyOf = (n: string) => folderOf.get(n) ?? groupOf(n);
  for (const n of names) (groups.get(keyOf(n)) ?? groups.set(keyOf(n), []).get(keyOf(n))!).push(n);
  const order = shuffle([...groups.keys()].sort(), mulberry32(seed));
  const take = (count: number): string[] => {
    const out: string[] = [];
    while (out.length < count && order.length > 0) {
      const photos = groups.get(order.shift()!)!;
      out.push(...(o.onePerGroup ? photos.slice(0, 1) : photos));
    }
    return out;
  };
  const refNames = take(nRef);
  const disNames = take(nDis);
  const bgNames = order.flatMap((g) => groups.get(g)!).slice(0, o.background ?? Infinity);
  if (refNames.length < nRef || disNames.length < 1 || bgNames.length < 2) {
    throw new VisidError('E_DATASET', `${names.length} photos are too few for ${nRef} references, ${nDis} distractors and a background set`, { item: photosDir });
  }
  const dirs = Object.fromEntries(['refs', 'queries', 'background', 'train', 'overlays'].map((d) => [d, path.join(outDir, d)])) as Record<string, string>;
  await fs.rm(outDir, { recursive: true, force: true });
  for (const d of Object.values(dirs)) await fs.mkdir(d, { recursive: true });
  const load = async (n: string) => {
    const file = path.join(photosDir, n);
    const full = await decodeRgb(file);
    const scale = Math.min(1, maxSide / Math.max(full.width, full.height));
    return scale < 1 ? decodeRgb(file, { width: Math.round(full.width * scale), height: Math.round(full.height * scale), resize: 'exact' }) : full;
  };

  // Distractor photos double as the "other images" of the overlay and underlay edits.
  const flat = (n: string) => n.replace(/\//g, '__');
  for (const n of disNames) await writeJpeg(await load(n), path.join(dirs.overlays!, flat(n)));
  const spec = o.pipeline.map((s) => (s.op === 'OneOf' ? { ...s, ops: (s.ops as StepSpec[]).map(withOverlayDir) } : withOverlayDir(s)));
  const pipeline = await AugmentPipeline.create(spec, outDir);

  const refIds: string[] = [];
  for (const [i, n] of refNames.entries()) {
    const id = `R${String(i).padStart(4, '0')}.jpg`;
    await writeJpeg(await load(n), path.join(dirs.refs!, id), 95);
    refIds.push(id);
  }
  // Queries: copies of references and edited distractors, shuffled so their names say nothing.
  const sources = [...refNames.map((n, i) => ({ n, ref: refIds[i] })), ...disNames.map((n) => ({ n, ref: undefined as string | undefined }))];
  const queries = shuffle(sources.flatMap((s) => Array.from({ length: copies }, (_, c) => ({ ...s, c }))), mulberry32(seed + 1));
  const truth: { query: string; reference: string; source: string; edits: string[] }[] = [];
  const total = refIds.length + queries.length + bgNames.length;
  for (const [i, q] of queries.entries()) {
    const id = `Q${String(i).padStart(5, '0')}.jpg`;
    const edits: string[] = [];
    await writeJpeg(pipeline.applySeeded(await load(q.n), seed, i, 0, edits), path.join(dirs.queries!, id), 90);
    truth.push({ query: id, reference: q.ref ?? '', source: q.n, edits });
    o.onProgress?.(refIds.length + i + 1, total);
  }
  await writeFileAtomic(path.join(outDir, 'truth.csv'), 'query_id,reference_id\n' + truth.map((t) => `${t.query},${t.reference}`).join('\n') + '\n');
  // Every query's source photo and edit chain, so results can be broken down by edit.
  await writeFileAtomic(path.join(outDir, 'queries.csv'), 'query_id,source,reference_id,edits\n' + truth.map((t) => `${t.query},${JSON.stringify(t.source)},${t.reference},${t.edits.join(';')}`).join('\n') + '\n');

  let nTiles = 0;
  for (const [b, n] of bgNames.entries()) {
    const img = await load(n);
    o.onProgress?.(refIds.length + queries.length + b + 1, total);
    await writeJpeg(img, path.join(dirs.background!, flat(n)), 95);
    const tw = Math.floor(img.width / tiles);
    const th = Math.floor(img.height / tiles);
    for (let ty = 0; ty < tiles; ty++) {
      for (let tx = 0; tx < tiles; tx++) {
        const tile = new Uint8Array(tw * th * 3);
        for (let y = 0; y < th; y++) tile.set(img.data.subarray(((ty * th + y) * img.width + tx * tw) * 3, ((ty * th + y) * img.width + tx * tw + tw) * 3), y * tw * 3);
        await writeJpeg({ data: tile, width: tw, height: th }, path.join(dirs.train!, `${path.parse(flat(n)).name}_t${ty}${tx}.jpg`), 95);
        nTiles++;
      }
    }
  }
  return {
    refs: dirs.refs!,
    queries: dirs.queries!,
    background: dirs.background!,
    train: dirs.train!,
    truth: path.join(outDir, 'truth.csv'),
    queries_csv: path.join(outDir, 'queries.csv'),
    counts: { references: refIds.length, copies: refNames.length * copies, distractorQueries: disNames.length * copies, background: bgNames.length, train: nTiles },
  };
}

function withOverlayDir(s: StepSpec): StepSpec {
  return s.op === 'ImageOverlay' || s.op === 'ImageUnderlay' ? { ...s, dir: 'overlays' } : s;
}

