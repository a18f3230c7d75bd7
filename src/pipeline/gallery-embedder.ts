// The embedder that made a gallery, loaded again (same model bytes, card and view settings) to embed its queries.
import { existsSync } from 'node:fs';
import { VisidError } from '../util/errors.js';
import type { FusionMode } from '../util/vectors.js';
import { Embedder } from '../models/embedder.js';
import type { ModelCard } from '../models/model-card.js';
import { findModel, registeredModelPath, resolveModelName } from '../models/registry.js';
import type { Gallery } from '../index/gallery.js';

/** The embedder that made `gallery` (or `override`), refusing a model whose content differs. */
export async function embedderForGallery(gallery: Gallery, override: string | undefined, threads?: number): Promise<Embedder> {
  let modelPath = override ? await resolveModelName(override) : gallery.model.path;
  // Shipped and built models move with the package (npx caches, reinstalls): find a registered one where it is now.
  if (!override && modelPath && !existsSync(modelPath)) {
    const registered = gallery.model.name ? findModel(gallery.model.name) : undefined;
    if (registered) modelPath = await registeredModelPath(registered);
  }
  if (!modelPath) throw new VisidError('E_MODEL', 'the gallery does not record its model; pass --model', { item: gallery.dir });
  const card = (gallery.model.config as { card?: Partial<ModelCard> } | undefined)?.card;
  const embedder = await Embedder.load(modelPath, { card, threads });
  if (embedder.modelId !== gallery.model.id) {
    await embedder.close();
    throw new VisidError('E_MODEL', `model file differs from the one the gallery was built with (${gallery.model.name ?? ''} ${gallery.model.id.slice(0, 12)})`, { item: modelPath });
  }
  return embedder;
}

export function embedConfigOfGallery(gallery: Gallery): { flip: boolean; scales: number[]; fusion: FusionMode; brightness?: number } {
  const c = (gallery.model.config ?? {}) as { flip?: boolean; scales?: number[]; fusion?: FusionMode; brightness?: number };
  return { flip: c.flip ?? false, scales: c.scales ?? [1], fusion: c.fusion ?? 'avg', ...(c.brightness === undefined ? {} : { brightness: c.brightness }) };
}
