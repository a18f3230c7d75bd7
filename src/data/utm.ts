// WGS84 latitude/longitude ↔ UTM through proj4 (the transverse Mercator of PROJ), with the zone rules (Norway, Svalbard) and the latitude band letter.
import proj4 from 'proj4';
import { VisidError } from '../util/errors.js';

export interface Utm {
  east: number;
  north: number;
  zoneNumber: number;
  /** Latitude band C…X (no I, O); N and above are the northern hemisphere. */
  zoneLetter: string;
}

const BANDS = 'CDEFGHJKLMNPQRSTUVWXX';

/** The band letter of a latitude in [-80, 84]: 8° bands from C at −80°, X stretched to 84°. */
export function latitudeBand(lat: number): string {
  if (!(lat >= -80 && lat <= 84)) throw new VisidError('E_INPUT', `latitude ${lat} is outside UTM's range [-80, 84]`);
  return BANDS[Math.floor((lat + 80) / 8)]!;
}

/** The UTM zone of a point: 6° zones from 180°W, widened to 32V in southern Norway and to 31/33/35/37X on Svalbard. */
export function utmZoneNumber(lat: number, lon: number): number {
  const l = lon >= 180 ? lon - 360 : lon;
  if (lat >= 56 && lat < 64 && l >= 3 && l < 12) return 32;
  if (lat >= 72 && lat < 84) {
    if (l >= 0 && l < 9) return 31;
    if (l >= 9 && l < 21) return 33;
    if (l >= 21 && l < 33) return 35;
    if (l >= 33 && l < 42) return 37;
  }
  return Math.floor((l + 180) / 6) + 1;
}

function utmDef(zone: number, south: boolean): string {
  return `+proj=utm +zone=${zone}${south ? ' +south' : ''} +datum=WGS84 +units=m +no_defs`;
}

function checkLatLon(lat: number, lon: number): void {
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) {
    throw new VisidError('E_INPUT', `(${lat}, ${lon}) is not a latitude/longitude in degrees`);
  }
}

/** UTM coordinates of a WGS84 point, in its own zone (or in `zone` when given, e.g. to keep a whole city in one grid). */
export function latLonToUtm(lat: number, lon: number, zone?: number): Utm {
  checkLatLon(lat, lon);
  const zoneNumber = zone ?? utmZoneNumber(lat, lon);
  if (!(Number.isInteger(zoneNumber) && zoneNumber >= 1 && zoneNumber <= 60)) throw new VisidError('E_INPUT', `UTM zone ${zoneNumber} is not in 1…60`);
  const [east, north] = proj4('EPSG:4326', utmDef(zoneNumber, lat < 0), [lon, lat]) as [number, number];
  return { east, north, zoneNumber, zoneLetter: latitudeBand(lat) };
}

/** The WGS84 point of UTM coordinates; the band letter (N… northern, C…M southern) or 'N'/'S' gives the hemisphere. */
export function utmToLatLon(east: number, north: number, zoneNumber: number, zoneLetter: string): { lat: number; lon: number } {
  if (!Number.isFinite(east) || !Number.isFinite(north)) throw new VisidError('E_INPUT', `UTM (${east}, ${north}) is not finite`);
  if (!(Number.isInteger(zoneNumber) && zoneNumber >= 1 && zoneNumber <= 60)) throw new VisidError('E_INPUT', `UTM zone ${zoneNumber} is not in 1…60`);
  const letter = zoneLetter.toUpperCase();
  if (!/^[C-HJ-NP-X]$/.test(letter)) throw new VisidError('E_INPUT', `'${zoneLetter}' is not a UTM latitude band (C…X without I and O)`);
  const south = letter < 'N';
  const [lon, lat] = proj4(utmDef(zoneNumber, south), 'EPSG:4326', [east, north]) as [number, number];
  return { lat, lon };
}

/** "10S" → { zoneNumber: 10, zoneLetter: 'S' }. */
export function parseUtmZone(text: string): { zoneNumber: number; zoneLetter: string } {
  const m = /^\s*(\d{1,2})\s*([C-HJ-NP-Xc-hj-np-x])\s*$/.exec(text);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 60) throw new VisidError('E_INPUT', `'${text}' is not a UTM zone like 10S`);
  return { zoneNumber: Number(m[1]), zoneLetter: m[2]!.toUpperCase() };
}
