// Writes an evaluation as a self-contained HTML page: metrics, Recall@k and precision–recall curves, example queries.
import sharp from 'sharp';
import type { EvaluationReport } from './evaluate.js';

export interface ReportImages {
  /** Path of a query image by query id. */
  query(id: string): string | undefined;
  /** Path of a gallery image by item id. */
  item(id: string): string | undefined;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** An SVG line chart of (x, y) points with y in [0, 1]. */
export function lineChart(points: Array<[number, number]>, title: string, xLabel: string, yLabel: string, xMax: number): string {
  const W = 420, H = 280, L = 45, B = 35, T = 25, R = 15;
  const x = (v: number) => L + (v / (xMax || 1)) * (W - L - R);
  const y = (v: number) => H - B - v * (H - B - T);
  const pts = points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
  const yt = [0, 0.25, 0.5, 0.75, 1].map((v) => `<text x="${L - 5}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v}</text><line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`).join('');
  const xt = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${x(f * xMax)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${+(f * xMax).toFixed(2)}</text>`).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" font-family="sans-serif">` +
    `<text x="${W / 2}" y="15" text-anchor="middle" font-size="12">${esc(title)}</text>${yt}${xt}` +
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - B - T}" fill="none" stroke="#888"/>` +
    `<text x="${W / 2}" y="${H - 4}" text-anchor="middle" font-size="11">${esc(xLabel)}</text>` +
    `<text x="12" y="${H / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${H / 2})">${esc(yLabel)}</text>` +
    `<polyline points="${pts}" fill="none" stroke="#3d6df2" stroke-width="2"/></svg>`
  );
}

async function thumb(file: string | undefined): Promise<string> {
  if (!file) return '';
  try {
    const jpeg = await sharp(file, { autoOrient: true }).resize(96, 96, { fit: 'cover' }).jpeg({ quality: 70 }).toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return '';
  }
}

/** The report page; thumbnails of up to `examples` queries are embedded as data URIs (no external files). */
export async function renderReport(title: string, report: EvaluationReport, images: ReportImages, examples = 8): Promise<string> {
  const rows = Object.entries(report.metrics).map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${v.toFixed(4)}</td></tr>`).join('');
  const recall = report.recallCurve ? lineChart(report.recallCurve.map((v, i) => [i + 1, v]), 'Recall@k', 'k', 'recall', report.recallCurve.length) : '';
  const pr = report.prCurve ? lineChart(report.prCurve, 'Precision–recall (11-point, interpolated)', 'recall', 'precision', 1) : '';
  const cards: string[] = [];
  for (const q of report.perQuery.slice(0, examples)) {
    const cells = await Promise.all(
      q.ranked.slice(0, 5).map(async (id, i) => `<figure class="${q.hits[i] ? 'hit' : 'miss'}"><img alt="${esc(id)}" src="${await thumb(images.item(id))}"/><figcaption>${i + 1}. ${esc(id)}</figcaption></figure>`),
    );
    cards.push(`<div class="example"><figure class="query"><img alt="query ${esc(q.id)}" src="${await thumb(images.query(q.id))}"/><figcaption>${esc(q.id)}${q.label ? ` (${esc(q.label)})` : ''}</figcaption></figure>${cells.join('')}</div>`);
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2330}table{border-collapse:collapse}th,td{padding:.2rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.charts{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}.example{display:flex;gap:.5rem;margin:.5rem 0;align-items:start}
figure{margin:0;width:100px;font-size:.7rem;word-break:break-all}img{width:96px;height:96px;border-radius:4px;background:#ddd}
.hit img{outline:3px solid #27ae60}.miss img{outline:3px solid #c0392b}.query img{outline:3px solid #3d6df2}</style></head><body>
<h1>${esc(title)}</h1><p>${report.queries} queries, ${esc(report.relevance)} relevance${report.queriesWithoutPositives ? `, ${report.queriesWithoutPositives} without any relevant item` : ''}.</p>
<table><tbody>${rows}</tbody></table><div class="charts">${recall}${pr}</div>
<h2>Example queries</h2><p>Query (blue), then its top 5: green = relevant, red = not.</p>${cards.join('')}</body></html>
`;
}
