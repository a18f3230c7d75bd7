// Embeds query images for a gallery exactly as the gallery's items were embedded (same model, views, fusion).
import type { Dataset } from '../data/item.js';
import type { Gallery } from '../index/gallery.js';
import { createProgress } from '../util/progress.js';
import { embedConfigOfGallery, embedderForGallery } from './options.js';

export async function embedQueries(
  gallery: Gallery,
  queries: Dataset,
  o: { model?: string; threads?: number; batch?: number; quiet?: boolean },
): Promise<Float32Array> {
  const embedder = await embedderForGallery(gallery, o.model, o.threads);
  const progress = createProgress({ label: 'embed queries', total: queries.items.length, unit: 'img', quiet: o.quiet || queries.items.length < 64 });
  try {
    const res = await embedder.embedFiles(queries.items.map((it) => it.path), {
      ...embedConfigOfGallery(gallery),
      batchSize: o.batch,
      onProgress: (n) => progress.tick(n),
    });
    progress.done();
    return res.vectors;
  } finally {
    await embedder.close();
  }
}
