// A dependency-free SVG map of localisation results (no tiles are reachable offline): database points, each query's true and predicted location and the error between them.
import type { LocalizedQuery, LocatedItem } from '../../eval/geo-localization.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Planar metres of a point: UTM when it has it, else an equirectangular projection of lat/lon around `lat0`. */
function planar(p: LocatedItem, lat0: number): [number, number] | undefined {
  if (p.utmEast !== undefined && p.utmNorth !== undefined) return [p.utmEast, p.utmNorth];
  if (p.lat === undefined || p.lon === undefined) return undefined;
  const R = 6_371_008.8;
  return [(p.lon * Math.PI / 180) * R * Math.cos(lat0 * Math.PI / 180), (p.lat * Math.PI / 180) * R];
}

export function localizationPlot(results: readonly LocalizedQuery[], database: readonly LocatedItem[], title = 'Localisation'): string {
  const W = 640, H = 480, pad = 30;
  const lat0 = results.find((r) => r.truth.lat !== undefined)?.truth.lat ?? 0;
  const all = [...database.map((d) => planar(d, lat0)), ...results.flatMap((r) => [planar(r.truth, lat0), planar(r.predicted, lat0)])].filter((p): p is [number, number] => !!p);
  if (all.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="40"><text x="10" y="25">no coordinates to plot</text></svg>`;
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0, 1);
  const sx = (v: number) => pad + ((v - x0) / span) * (Math.min(W, H) - 2 * pad);
  const sy = (v: number) => H - pad - ((v - y0) / span) * (Math.min(W, H) - 2 * pad);
  const parts: string[] = [];
  for (const d of database) {
    const p = planar(d, lat0);
    if (p) parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2" fill="#bbb"><title>${esc(d.id)}</title></circle>`);
  }
  for (const r of results) {
    const t = planar(r.truth, lat0), p = planar(r.predicted, lat0);
    if (!t || !p) continue;
    const colour = r.correctAt1 ? '#2a9d4b' : '#d1495b';
    parts.push(`<line x1="${sx(t[0]).toFixed(1)}" y1="${sy(t[1]).toFixed(1)}" x2="${sx(p[0]).toFixed(1)}" y2="${sy(p[1]).toFixed(1)}" stroke="${colour}" stroke-opacity="0.6"/>`);
    parts.push(`<circle cx="${sx(t[0]).toFixed(1)}" cy="${sy(t[1]).toFixed(1)}" r="4" fill="${colour}"><title>${esc(r.id)}: error ${r.errorMeters.toFixed(1)} m</title></circle>`);
    parts.push(`<rect x="${(sx(p[0]) - 2.5).toFixed(1)}" y="${(sy(p[1]) - 2.5).toFixed(1)}" width="5" height="5" fill="#3d6df2"><title>prediction for ${esc(r.id)}</title></rect>`);
  }
  // A scale bar: a round number of metres close to a fifth of the span.
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const bar = [1, 2, 5].map((m) => m * step).filter((m) => m <= span / 3).pop() ?? step;
  const barPx = (bar / span) * (Math.min(W, H) - 2 * pad);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" font-family="sans-serif">` +
    `<rect width="${W}" height="${H}" fill="white"/><text x="${W / 2}" y="16" text-anchor="middle" font-size="12">${esc(title)}</text>` +
    parts.join('') +
    `<line x1="${pad}" y1="${H - 10}" x2="${pad + barPx}" y2="${H - 10}" stroke="#333" stroke-width="2"/><text x="${pad + barPx + 5}" y="${H - 6}" font-size="10">${bar} m</text>` +
    `<g font-size="10"><circle cx="${W - 150}" cy="30" r="4" fill="#2a9d4b"/><text x="${W - 140}" y="34">query, right at R@1</text>` +
    `<circle cx="${W - 150}" cy="46" r="4" fill="#d1495b"/><text x="${W - 140}" y="50">query, wrong at R@1</text>` +
    `<rect x="${W - 152.5}" y="59.5" width="5" height="5" fill="#3d6df2"/><text x="${W - 140}" y="66">predicted location</text>` +
    `<circle cx="${W - 150}" cy="78" r="2" fill="#bbb"/><text x="${W - 140}" y="82">database image</text></g></svg>`
  );
}
