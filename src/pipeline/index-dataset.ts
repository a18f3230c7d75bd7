// Embeds a data set into a gallery in resumable chunks: items already stored are skipped, each chunk commits atomically.
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { Dataset, Item, ITEM_ATTRIBUTE_KEYS } from '../data/item.js';
import { isInside } from '../data/paths.js';
import { Gallery, GalleryItem } from '../index/gallery.js';
import type { EmbedConfig, Embedder } from '../models/embedder.js';
import type { FusionMode } from '../util/vectors.js';

export interface IndexOptions {
  batchSize?: number;
  flip?: boolean;
  scales?: number[];
  fusion?: FusionMode;
  /** Test-time darkening (seed 001 §4.1): every pixel scaled by this factor; recorded so queries get the same. */
  brightness?: number;
  maxPixels?: number;
  /** Items embedded and committed together (one gallery segment); smaller loses less on a stop. */
  chunkSize?: number;
  /** Skip unreadable images (reported through onSkip) instead of stopping at the first. */
  skipBad?: boolean;
  onSkip?: (item: Item, error: Error) => void;
  onProgress?: (n: number) => void;
  /** Called once with how many items are already in the gallery and will be skipped. */
  onResume?: (alreadyIndexed: number, toDo: number) => void;
}

export interface IndexSummary {
  added: number;
  skippedBad: number;
  alreadyIndexed: number;
  total: number;
}

export function toGalleryItem(item: Item, dataRoot: string): GalleryItem {
  const out: GalleryItem = { id: item.id };
  for (const key of ITEM_ATTRIBUTE_KEYS) {
    if (item[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = item[key];
  }
  out.path = isInside(dataRoot, item.path) ? path.relative(dataRoot, item.path).split(path.sep).join('/') : item.path;
  return out;
}

/** The embedding settings recorded in a gallery, so queries are embedded exactly like its items. */
export function embedConfigOf(options: IndexOptions): EmbedConfig {
  return { flip: options.flip ?? false, scales: options.scales ?? [1], fusion: options.fusion ?? 'avg', ...(options.brightness === undefined ? {} : { brightness: options.brightness }) };
}

/** Opens `galleryDir` (or creates it) and adds every item of `dataset` not yet in it. */
export async function indexDataset(dataset: Dataset, embedder: Embedder, galleryDir: string, options: IndexOptions = {}): Promise<IndexSummary> {
  const config = embedConfigOf(options);
  let gallery: Gallery | undefined;
  if (await Gallery.exists(galleryDir)) {
    gallery = await Gallery.open(galleryDir);
    if (gallery.model.id !== embedder.modelId) {
      throw new VisidError('E_GALLERY', `gallery was built with another model (${gallery.model.name ?? gallery.model.id.slice(0, 12)}); use a new --out folder`, { item: galleryDir });
    }
    const stored = gallery.model.config as unknown as EmbedConfig | undefined;
    if (stored && JSON.stringify({ flip: stored.flip, scales: stored.scales, fusion: stored.fusion, brightness: stored.brightness }) !== JSON.stringify(config)) {
      throw new VisidError('E_GALLERY', `gallery was built with other embedding options (${JSON.stringify(stored)})`, { item: galleryDir });
    }
  }
  const have = new Set(gallery?.items.map((it) => it.id) ?? []);
  const todo = dataset.items.filter((it) => !have.has(it.id));
  options.onResume?.(dataset.items.length - todo.length, todo.length);
  const chunkSize = options.chunkSize ?? 2048;
  let added = 0;
  let skippedBad = 0;
  for (let start = 0; start < todo.length; start += chunkSize) {
    const chunk = todo.slice(start, start + chunkSize);
    const result = await embedder.embedFiles(chunk.map((it) => it.path), {
      batchSize: options.batchSize,
      flip: config.flip,
      scales: config.scales,
      fusion: config.fusion,
      brightness: config.brightness,
      maxPixels: options.maxPixels,
      onProgress: options.onProgress,
      onError: options.skipBad
        ? (i, err) => {
            skippedBad++;
            options.onSkip?.(chunk[i]!, err);
          }
        : undefined,
    });
    if (result.indices.length === 0) continue;
    if (!gallery) {
      gallery = await Gallery.create(galleryDir, {
        dim: embedder.dim!,
        dataRoot: dataset.root,
        model: { id: embedder.modelId, name: embedder.card.name, path: path.resolve(embedder.modelPath), config: { ...config, card: embedder.card } },
      });
    }
    await gallery.append(result.vectors, result.indices.map((i) => toGalleryItem(chunk[i]!, gallery!.dataRoot ?? dataset.root)));
    added += result.indices.length;
  }
  return { added, skippedBad, alreadyIndexed: dataset.items.length - todo.length, total: dataset.items.length };
}
