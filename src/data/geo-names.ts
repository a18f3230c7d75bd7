// Coordinates carried in file names, as the geo-localization benchmarks (CosPlace, deep-visual-geo-localization-benchmark) write them.
import { VisidError } from '../util/errors.js';

export interface GeoName {
  utmEast: number;
  utmNorth: number;
  /** e.g. "10S". */
  utmZone: string;
  lat: number;
  lon: number;
  /** Degrees, when the name has one (CosPlace's panorama crops). */
  heading?: number;
}

/**
 * Parses `@UTM_east@UTM_north@UTM_zone_number@UTM_zone_letter@latitude@longitude@pano_id@tile_num@heading@pitch@roll@height@timestamp@note@.jpg`
 * (fields after the longitude may be empty or missing). Returns undefined for a name that does not start with '@';
 * throws, naming the file, for one that does but whose coordinates do not parse.
 */
export function parseGeoFileName(fileName: string): GeoName | undefined {
  const base = fileName.replace(/^.*[\\/]/, '');
  if (!base.startsWith('@')) return undefined;
  const f = base.split('@');
  const num = (i: number, what: string) => {
    const v = Number(f[i]);
    if (f[i] === undefined || f[i] === '' || !Number.isFinite(v)) throw new VisidError('E_DATASET', `file name field ${i} (${what}) is '${f[i] ?? ''}', not a number`, { item: fileName });
    return v;
  };
  const utmEast = num(1, 'UTM east');
  const utmNorth = num(2, 'UTM north');
  const zone = num(3, 'UTM zone number');
  const letter = f[4] ?? '';
  if (!/^[C-HJ-NP-X]$/i.test(letter)) throw new VisidError('E_DATASET', `file name field 4 (UTM zone letter) is '${letter}'`, { item: fileName });
  const lat = num(5, 'latitude');
  const lon = num(6, 'longitude');
  if (lat < -90 || lat > 90 || lon < -180 || lon > 180) throw new VisidError('E_DATASET', `(${lat}, ${lon}) is not a latitude/longitude`, { item: fileName });
  const headingText = f[9];
  const heading = headingText !== undefined && headingText !== '' && Number.isFinite(Number(headingText)) ? ((Number(headingText) % 360) + 360) % 360 : undefined;
  return { utmEast, utmNorth, utmZone: `${zone}${letter.toUpperCase()}`, lat, lon, heading };
}

/** The file name for a located image (empty fields where nothing is known). */
export function geoFileName(g: GeoName, extension = '.jpg', note = ''): string {
  const [zone, letter] = [g.utmZone.slice(0, -1), g.utmZone.slice(-1)];
  const heading = g.heading === undefined ? '' : String(Math.round(g.heading * 100) / 100);
  return `@${g.utmEast.toFixed(2)}@${g.utmNorth.toFixed(2)}@${zone}@${letter}@${g.lat.toFixed(6)}@${g.lon.toFixed(6)}@@@${heading}@@@@@${note}@${extension}`;
}
