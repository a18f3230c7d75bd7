// The galleries a server serves: loaded once, searched concurrently, written one change at a time with a swap.
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { Gallery } from '../index/gallery.js';
import { GallerySearcher } from '../search/gallery-search.js';
import type { Embedder } from '../models/embedder.js';
import { embedConfigOfGallery, embedderForGallery } from '../pipeline/gallery-embedder.js';
import { SerialQueue } from './limiter.js';
import { SearchBatcher } from './batcher.js';
import { uniqueLabelRanking, Hit, LabelHit } from '../search/labels.js';

export interface ServedGallery {
  name: string;
  gallery: Gallery;
  /** Replaced (never mutated) after each write, so a search never sees a half-applied change. */
  searcher: GallerySearcher;
  writes: SerialQueue;
  batcher: SearchBatcher;
  embedder?: Promise<Embedder>;
}

export class GalleryRegistry {
  private readonly byName = new Map<string, ServedGallery>();

  static async open(dirs: string[], maxPendingSearches = 1024): Promise<GalleryRegistry> {
    const reg = new GalleryRegistry();
    for (const dir of dirs) {
      const name = path.basename(path.resolve(dir));
      if (reg.byName.has(name)) throw new VisidError('E_INPUT', `two galleries are named '${name}'`, { item: dir });
      const gallery = await Gallery.open(dir);
      const served: ServedGallery = { name, gallery, searcher: await GallerySearcher.create(gallery), writes: new SerialQueue(), batcher: undefined as never };
      served.batcher = new SearchBatcher(() => served.searcher, 64, maxPendingSearches);
      reg.byName.set(name, served);
    }
    return reg;
  }

  list(): ServedGallery[] {
    return [...this.byName.values()];
  }

  get(name: string): ServedGallery {
    const g = this.byName.get(name);
    if (!g) throw new VisidError('E_NOT_FOUND', `no gallery named '${name}'`);
    return g;
  }

  /** The embedder of the gallery's model, loaded on first use. */
  embedder(g: ServedGallery): Promise<Embedder> {
    g.embedder ??= embedderForGallery(g.gallery, undefined).catch((err) => {
      g.embedder = undefined;
      throw err;
    });
    return g.embedder;
  }

  async embed(g: ServedGallery, images: Uint8Array[], names: string[], maxPixels?: number): Promise<Float32Array> {
    const embedder = await this.embedder(g);
    const { vectors } = await embedder.embedFiles(images, { ...embedConfigOfGallery(g.gallery), names, maxPixels });
    return vectors;
  }

  /** Top-k hits of one query, batched with concurrent ones. */
  search(g: ServedGallery, query: Float32Array, k: number): Promise<Hit[]> {
    return g.batcher.search(query, Math.min(k, Math.max(1, g.gallery.count)));
  }

  /** Top-k distinct labels of one query: a batched search deep enough for most queries, exact widening otherwise. */
  async searchLabels(g: ServedGallery, query: Float32Array, k: number): Promise<LabelHit[]> {
    const depth = Math.min(Math.max(4 * k, 32), g.gallery.count);
    const labels = uniqueLabelRanking(await this.search(g, query, depth), k);
    if (labels.length >= k || depth >= g.gallery.count) return labels;
    const [exact] = await g.searcher.searchLabels(query, { k });
    return exact!;
  }

  /** Applies a write to the gallery (serialised), then swaps in a searcher over the new rows. */
  async write(g: ServedGallery, change: (gallery: Gallery) => Promise<void>): Promise<void> {
    await g.writes.run(async () => {
      await change(g.gallery);
      // Every upload commits its own small segment; merging them now and then keeps loading and disk use bounded.
      await g.gallery.compactIfFragmented();
      const old = g.searcher;
      g.searcher = await GallerySearcher.create(g.gallery);
      // Searches still running on the old index hold their own references; release it a little later.
      setTimeout(() => void old.close(), 10_000).unref();
    });
  }

  async close(): Promise<void> {
    for (const g of this.byName.values()) {
      await g.searcher.close();
      if (g.embedder) await (await g.embedder.catch(() => undefined))?.close();
    }
  }
}
