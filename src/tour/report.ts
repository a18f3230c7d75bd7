// The HTML page of `visid demo` on real photos: the faces identified, the copies found with their inlier drawings,
// the photo search's results. Images are files beside the page (photos/, faces/, copies/, inliers/), by relative path.
import type { PhotoDemoResult } from './result.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** A relative path as a URL (each segment escaped, '/' separators). */
const url = (rel: string) => rel.split(/[\\/]/).map(encodeURIComponent).join('/');
const img = (rel: string, alt: string, cls = '') => `<img${cls ? ` class="${cls}"` : ''} src="${esc(url(rel))}" alt="${esc(alt)}" loading="lazy"/>`;

export function renderPhotoDemoReport(r: PhotoDemoResult): string {
  const f = r.faces;
  const enrolled = f.enrolled.map((e) => `<figure>${img(`photos/${e.file}`, `${e.person}, enrolled from ${e.file}`)}<figcaption><b>${esc(e.person)}</b><br>${esc(e.file)}</figcaption></figure>`).join('');
  const identified = f.identified
    .map((p) => {
      const score = p.bestScore === undefined ? '' : ` ${p.identity === 'unknown' ? `best ${esc(p.bestIdentity ?? '')} ` : ''}${p.bestScore.toFixed(3)}`;
      const truth = p.enrolled ? `truth: ${esc(p.expected)}` : `truth: person ${esc(p.person)}, not enrolled`;
      return `<figure class="${p.correct ? 'hit' : 'miss'}">${img(p.annotated, `${p.file}: ${p.identity}`)}<figcaption><b>${esc(p.identity)}</b>${score}<br>${esc(p.file)} · ${truth}</figcaption></figure>`;
    })
    .join('');
  const right = f.identified.filter((p) => p.correct).length;
  const copies = r.copies.found
    .map(
      (c) => `<div class="copy ${c.found ? 'hit' : 'miss'}"><p><b>${esc(c.copy.split(/[\\/]/).pop()!)}</b>: ${esc(c.edits)} of ${esc(c.source)} (ops: ${esc(c.ops.join(', '))}) → found <b>${esc(c.top.reference)}</b>, ${c.top.inliers} inliers${c.drawn < c.top.inliers ? ` (${c.drawn} drawn)` : ''}, score ${c.top.score.toFixed(2)}${c.next ? `; next ${esc(c.next.reference)}, ${c.next.inliers} inliers, score ${c.next.score.toFixed(2)}` : ''}${c.found ? '' : ` — <b>wrong</b>, the source is ${esc(c.source)}`}</p>` +
        `<div class="pair"><figure>${img(c.copy, `copy ${c.copy}`, 'copyimg')}<figcaption>the copy</figcaption></figure>${img(c.drawing, `inliers between ${c.copy} and ${c.top.reference}`, 'drawing')}</div></div>`,
    )
    .join('');
  const s = r.search;
  const results = s.results.map((h, i) => `<figure class="${h.person === s.person ? 'hit' : 'other'}">${img(`photos/${h.file}`, h.file)}<figcaption>${i + 1}. ${esc(h.file)} ${h.score.toFixed(3)}<br>person ${esc(h.person)}</figcaption></figure>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>visid demo: real photos</title><style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2330;max-width:1200px}h2{margin-top:2rem}
.row{display:flex;gap:.8rem;flex-wrap:wrap;align-items:start}figure{margin:0;font-size:.75rem;max-width:220px}
figure img{height:160px;border-radius:4px;display:block}.hit img{outline:3px solid #27ae60}.miss img,.miss .drawing{outline:3px solid #c0392b}
.copy{margin:1rem 0}.pair{display:flex;gap:.8rem;align-items:start;flex-wrap:wrap}.copy p{margin:.2rem 0;font-size:.85rem}
.drawing{height:200px;border-radius:4px}.copyimg{height:200px}.query img{outline:3px solid #3d6df2}.other img{outline:3px solid #999}
.note{color:#555;font-size:.85rem}</style></head><body>
<h1>visid demo: a first run on real photos</h1>
<p>${r.photos.length} photos of ${new Set(r.photos.map((p) => p.person)).size} people from the test images of the open-source <a href="https://github.com/serengil/deepface">deepface</a> project (MIT licence; downscaled to ≤ 400 px; people are letters, not names), through three of visid's jobs on the shipped defaults, offline, in ${r.seconds.total.toFixed(1)} s.</p>

<h2>1. Faces: enrol, then identify (open set)</h2>
<p>Enrolled from one photo each (detect → 68 landmarks → aligned chip → ${esc(f.model)}, ${esc(f.recognizer)}):</p>
<div class="row">${enrolled}</div>
<p>Identified: the nearest enrolled person, or <b>unknown</b> when the best cosine similarity is below ${f.threshold} (the threshold chosen on LFW View 1 DevTrain). ${right} of ${f.identified.length} right (green); people F, G and H are not enrolled.</p>
<div class="row">${identified}</div>

<h2>2. Copy detection: edited copies found again, with the evidence</h2>
<p>Each copy is searched among all ${r.copies.references} photos: the copy descriptor (${esc(r.copies.model)}) gives candidates, and local verification (AKAZE keypoints of the copy and of its mirror image, mutual nearest neighbours, a RANSAC homography) re-scores the ${r.copies.verified} nearest by their inlier count; a match needs ${r.copies.minInliers}+ inliers. The drawings show the copy (left) and the photo found (right), one line per inlier.</p>
${copies}

<h2>3. Photo search</h2>
<p>${esc(s.query)} (person ${esc(s.person)}) searched among the ${s.indexed} other photos with the general photo model (${esc(s.model)}): the top ${s.results.length} by cosine similarity (green: the same person). The photo model finds photos that look alike — framing, light, colours — not the same face; for who is in a photo, see the faces above.</p>
<div class="row"><figure class="query">${img(`photos/${s.query}`, `query ${s.query}`)}<figcaption>query: ${esc(s.query)}</figcaption></figure>${results}</div>
<p class="note">Time: faces ${r.seconds.faces.toFixed(1)} s, copies ${r.seconds.copies.toFixed(1)} s, photo search ${r.seconds.search.toFixed(1)} s. Re-run with <code>npx visid demo</code>; the Fashion-MNIST retrieval demo is <code>npx visid demo fashion-mnist</code>.</p>
</body></html>
`;
}
