// A dependency-free SVG line chart (y in [0, 1]) for reports: Recall@k, precision–recall and ROC curves.

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface ChartOptions {
  /** x-axis ticks as [value, label]; default five evenly spaced values from 0 to xMax. */
  xTicks?: Array<[number, string]>;
  /** Lowest x value on the axis (default 0). */
  xMin?: number;
  colour?: string;
}

/** Points (x, y) with y in [0, 1], drawn over [xMin, xMax] × [0, 1]. */
export function lineChart(points: Array<[number, number]>, title: string, xLabel: string, yLabel: string, xMax: number, options: ChartOptions = {}): string {
  const W = 420, H = 280, L = 45, B = 35, T = 25, R = 15;
  const xMin = options.xMin ?? 0;
  const x = (v: number) => L + ((v - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const y = (v: number) => H - B - v * (H - B - T);
  const pts = points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
  const yt = [0, 0.25, 0.5, 0.75, 1].map((v) => `<text x="${L - 5}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v}</text><line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`).join('');
  const ticks = options.xTicks ?? [0, 0.25, 0.5, 0.75, 1].map((f): [number, string] => [xMin + f * (xMax - xMin), String(+(xMin + f * (xMax - xMin)).toFixed(2))]);
  const xt = ticks.map(([v, label]) => `<text x="${x(v)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${esc(label)}</text>`).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" font-family="sans-serif">` +
    `<rect width="${W}" height="${H}" fill="white"/><text x="${W / 2}" y="15" text-anchor="middle" font-size="12">${esc(title)}</text>${yt}${xt}` +
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - B - T}" fill="none" stroke="#888"/>` +
    `<text x="${W / 2}" y="${H - 4}" text-anchor="middle" font-size="11">${esc(xLabel)}</text>` +
    `<text x="12" y="${H / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${H / 2})">${esc(yLabel)}</text>` +
    `<polyline points="${pts}" fill="none" stroke="${options.colour ?? '#3d6df2'}" stroke-width="2"/></svg>`
  );
}
