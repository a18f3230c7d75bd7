// Writes an evaluation as a self-contained HTML page: metrics, Recall@k and precision–recall curves, example queries.
import sharp from 'sharp';
import type { EvaluationReport } from './evaluate.js';
import { lineChart } from './chart.js';

export interface ReportImages {
  /** Path of a query image by query id. */
  query(id: string): string | undefined;
  /** Path of a gallery image by item id. */
  item(id: string): string | undefined;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A 96×96 JPEG thumbnail of an image file (or its bytes) as a data URI; '' when it cannot be read. */
export async function thumb(file: string | Uint8Array | undefined): Promise<string> {
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
