// `visid export`, `visid info`, `visid remove`, `visid compact`: inspect and maintain a gallery.
import { Command } from 'commander';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { Gallery, removeEmptyGallery } from '../index/gallery.js';
import { readNpy } from '../formats/npy.js';
import { VisidError } from '../util/errors.js';
import { assertFiniteRows } from '../util/vectors.js';
import { validateGalleryItem } from '../index/items.js';
import { formatIndexSpec, IvfPqIndex, parseIndexSpec, type IndexSpec } from '../index/ann.js';
import { createProgress } from '../util/progress.js';
import { positiveInt } from './options.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write the gallery descriptors as a NumPy .npy file (count × dim float32), and its items as JSONL')
    .argument('<gallery>', 'gallery folder')
    .requiredOption('--npy <file>', 'output .npy file')
    .option('--meta <file>', 'also write the items (id, label, ...) as JSONL, in row order')
    .action(async (dir: string, o: { npy: string; meta?: string }) => {
      const gallery = await Gallery.open(dir);
      await gallery.exportNpy(o.npy, o.meta);
      process.stdout.write(`wrote ${o.npy} (${gallery.count} × ${gallery.dim} float32)${o.meta ? ` and ${o.meta}` : ''}\n`);
    });
}

export function infoCommand(): Command {
  return new Command('info')
    .description('show a gallery: size, dimension, model, labels')
    .argument('<gallery>', 'gallery folder')
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { json?: boolean }) => {
      const g = await Gallery.open(dir, { vectorsOnDisk: true });
      const labels = new Set(g.items.map((it) => it.label).filter((l) => l !== undefined));
      let index: { spec: string; bytes?: number; memoryBytes?: number; builtAt?: string; problem?: string } = { spec: formatIndexSpec(g.indexSpec) };
      try {
        const ann = await g.openIndex();
        // An HNSW file is memory-mapped (paged in as searched); IVF-PQ codes are read into memory.
        if (ann) index = { spec: ann.meta.spec, bytes: ann.meta.bytes, memoryBytes: ann instanceof IvfPqIndex ? ann.memoryBytes : ann.meta.bytes, builtAt: ann.meta.builtAt };
        if (ann instanceof IvfPqIndex) await ann.close();
      } catch (err) {
        if (!(err instanceof VisidError)) throw err;
        index.problem = err.message;
      }
      const info = { dir: g.dir, count: g.count, dim: g.dim, labels: labels.size, model: { name: g.model.name, id: g.model.id, path: g.model.path }, dataRoot: g.dataRoot, vectorBytes: g.count * g.dim * 4, index };
      if (o.json) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else
        process.stdout.write(
          `gallery   ${info.dir}\nitems     ${info.count}\ndim       ${info.dim}\nlabels    ${info.labels}\nmodel     ${info.model.name ?? ''} ${info.model.id.slice(0, 16)}\n` +
            `data root ${info.dataRoot ?? '-'}\nvectors   ${(info.vectorBytes / 2 ** 20).toFixed(1)} MiB float32\n` +
            `index     ${index.spec}${index.bytes !== undefined ? ` (file ${(index.bytes / 2 ** 20).toFixed(1)} MiB, memory ${(index.memoryBytes! / 2 ** 20).toFixed(1)} MiB, built ${index.builtAt})` : ''}${index.problem ? ` — not usable: ${index.problem}` : ''}\n`,
        );
    });
}

export function removeCommand(): Command {
  return new Command('remove')
    .description('remove items from a gallery by id (all or nothing)')
    .argument('<gallery>', 'gallery folder')
    .argument('<ids...>', 'item ids')
    .action(async (dir: string, ids: string[]) => {
      const g = await Gallery.open(dir);
      await g.remove(ids);
      process.stdout.write(`removed ${ids.length} items; ${g.count} remain\n`);
    });
}

export function compactCommand(): Command {
  return new Command('compact')
    .description('rewrite a gallery into one segment, dropping removed items from disk')
    .argument('<gallery>', 'gallery folder')
    .action(async (dir: string) => {
      const g = await Gallery.open(dir);
      await g.compact();
      process.stdout.write(`compacted ${g.dir}: ${g.count} items\n`);
    });
}

export function reindexCommand(): Command {
  return new Command('reindex')
    .description('choose and build the approximate index a gallery keeps: Flat (exact, none), HNSW<M>, HNSW<M>,F16, HNSW<M>,SQ8, IVF<n>,PQ<m>[,RFlat]')
    .argument('<gallery>', 'gallery folder')
    .requiredOption('--index <spec>', 'index spec, faiss-style: Flat | HNSW32 | HNSW32,F16 | HNSW32,SQ8 | IVF4096,PQ32 | IVF4096,PQ32,RFlat', (v: string) => parseIndexSpec(v))
    .option('--ef-construction <n>', 'HNSW build beam (default 128)', positiveInt)
    .option('--train-per-list <n>', 'IVF: training rows per list (default 64)', positiveInt)
    .option('--kmeans-iterations <n>', 'IVF: k-means iterations of the quantisers (default 20)', positiveInt)
    .option('--vectors-on-disk', 'leave the descriptors in the segment files while building (automatic beyond a quarter of RAM)')
    .option('-q, --quiet', 'no progress output')
    .action(async (dir: string, o: { index: IndexSpec; efConstruction?: number; trainPerList?: number; kmeansIterations?: number; vectorsOnDisk?: boolean; quiet?: boolean }) => {
      const g = await Gallery.open(dir, { vectorsOnDisk: o.vectorsOnDisk || 'auto' });
      const progress = o.quiet ? undefined : createProgress({ label: 'indexing', total: g.count, unit: 'rows' });
      const t0 = performance.now();
      let last = 0;
      if (o.index.kind === 'ivfpq' && !o.quiet) process.stderr.write(`training ${formatIndexSpec(o.index)} quantisers on ${Math.min(g.count, Math.max(256, (o.trainPerList ?? 64) * o.index.lists))} rows, then coding every row\n`);
      await g.setIndex(o.index, { efConstruction: o.efConstruction, trainPerList: o.trainPerList, kmeansIterations: o.kmeansIterations, onProgress: (done) => (progress?.tick(done - last), (last = done)) });
      progress?.done();
      const ann = await g.openIndex();
      if (ann instanceof IvfPqIndex) await ann.close();
      process.stdout.write(`${g.dir}: index ${formatIndexSpec(o.index)} over ${g.count} rows${ann ? ` (${(ann.meta.bytes / 2 ** 20).toFixed(1)} MiB)` : ''} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    });
}

export function importCommand(): Command {
  return new Command('import')
    .description('add descriptors from a NumPy .npy file (n × dim float32) with their items (JSONL, one per row) to a gallery')
    .argument('<gallery>', 'gallery folder (created if missing)')
    .requiredOption('--npy <file>', '.npy file of n × dim descriptors')
    .requiredOption('--meta <file>', 'JSONL with one item per row: {"id": ..., "label": ...}')
    .option('--model-id <id>', 'id of the model that made the descriptors (default: derived from the .npy content)')
    .action(async (dir: string, o: { npy: string; meta: string; modelId?: string }) => {
      const text = await fs.readFile(o.meta, 'utf8').catch(() => {
        throw new VisidError('E_NOT_FOUND', 'cannot read the items file', { item: o.meta });
      });
      // Everything is checked before anything is written: a refused import leaves no gallery (or the old one) behind.
      const firstLine = new Map<string, number>();
      const items = text
        .split('\n')
        .map((line, i) => ({ line, n: i + 1 }))
        .filter(({ line }) => line.trim().length > 0)
        .map(({ line, n }) => {
          let raw: unknown;
          try {
            raw = JSON.parse(line);
          } catch {
            throw new VisidError('E_INPUT', 'invalid JSON', { item: `${o.meta}:${n}` });
          }
          const item = validateGalleryItem(raw, `${o.meta}:${n}`);
          const before = firstLine.get(item.id);
          if (before !== undefined) throw new VisidError('E_DUPLICATE', `id '${item.id}' repeats line ${before}`, { item: `${o.meta}:${n}` });
          firstLine.set(item.id, n);
          return item;
        });
      const { data, shape } = await readNpy(o.npy);
      if (shape.length !== 2) throw new VisidError('E_DIM', `expected a 2-d array, got shape (${shape.join(', ')})`, { item: o.npy });
      if (shape[0] !== items.length) throw new VisidError('E_INPUT', `${shape[0]} rows but ${items.length} items in ${o.meta}`, { item: o.npy });
      assertFiniteRows(data, shape[1]!, items.map((it) => it.id));
      const existed = await Gallery.exists(dir);
      let gallery: Gallery;
      if (existed) gallery = await Gallery.open(dir);
      else {
        const id = o.modelId ?? `imported-${createHash('sha256').update(await fs.readFile(o.npy)).digest('hex').slice(0, 16)}`;
        gallery = await Gallery.create(dir, { dim: shape[1]!, model: { id, name: 'imported descriptors' } });
      }
      try {
        await gallery.append(data, items);
      } catch (err) {
        // A gallery created for this import and refused (an id clash...) is removed again, not left empty.
        if (!existed) await removeEmptyGallery(gallery.dir);
        throw err;
      }
      process.stdout.write(`imported ${items.length} descriptors into ${gallery.dir} (${gallery.count} items)\n`);
    });
}
