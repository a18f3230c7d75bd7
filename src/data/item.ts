// What one data-set item is: a stable id (path relative to the data root) and whatever labels and coordinates it carries.

export interface Item {
  /** Stable id: the path relative to the data root, with '/' separators. */
  id: string;
  /** Absolute path of the image file. */
  path: string;
  /** Single class label (identity, hotel id, ...). */
  label?: string;
  /** Several labels (multi-label sets). */
  labels?: string[];
  lat?: number;
  lon?: number;
  utmEast?: number;
  utmNorth?: number;
  split?: string;
  group?: string;
}

export interface Dataset {
  /** Absolute data root; every item path lies inside it. */
  root: string;
  /** Where the items came from (folder or manifest path), for messages. */
  source: string;
  items: Item[];
}

/** File extensions visid reads as images (what sharp decodes). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif', '.heic', '.heif']);

export function isImageFile(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.has(name.slice(dot).toLowerCase());
}
