// What one data-set item is: a stable id (path relative to the data root) and whatever labels and coordinates it carries.

/** What an item may carry besides its id and file: labels, coordinates, split and group. */
export interface ItemAttributes {
  /** Single class label (identity, hotel id, ...). */
  label?: string;
  /** Several labels (multi-label sets). */
  labels?: string[];
  lat?: number;
  lon?: number;
  utmEast?: number;
  utmNorth?: number;
  /** UTM zone of utmEast/utmNorth, e.g. "10S". */
  utmZone?: string;
  /** Camera heading in degrees (CosPlace's panorama crops), when known. */
  heading?: number;
  split?: string;
  group?: string;
}

export const ITEM_ATTRIBUTE_KEYS = ['label', 'labels', 'lat', 'lon', 'utmEast', 'utmNorth', 'utmZone', 'heading', 'split', 'group'] as const satisfies readonly (keyof ItemAttributes)[];

export interface Item extends ItemAttributes {
  /** Stable id: the path relative to the data root, with '/' separators. */
  id: string;
  /** Absolute path of the image file. */
  path: string;
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
