// The visid web page: search a gallery with an image, browse and extend it, verify two face photos.
interface Hit { id: string; label?: string; score: number; thumbnail: string; count?: number }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const gallerySelect = $<HTMLSelectElement>('gallery');
const PAGE = 24;
let offset = 0;

async function api<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body as T;
}

function showTab(name: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) b.setAttribute('aria-pressed', String(b.dataset['tab'] === name));
  for (const t of ['search', 'browse', 'verify', 'reports']) $(`tab-${t}`).hidden = t !== name;
  if (name === 'browse') void loadPage();
  if (name === 'reports') void loadReports();
}

function card(hit: Hit, rank?: number): HTMLLIElement {
  const li = document.createElement('li');
  const img = document.createElement('img');
  img.src = hit.thumbnail;
  img.alt = hit.label ? `${hit.label} (${hit.id})` : hit.id;
  img.loading = 'lazy';
  const label = document.createElement('div');
  label.className = 'label';
  label.textContent = `${rank !== undefined ? `${rank}. ` : ''}${hit.label ?? '—'}`;
  const meta = document.createElement('div');
  meta.className = 'score';
  meta.textContent = Number.isFinite(hit.score) ? `${hit.score.toFixed(4)} · ${hit.id}` : hit.id;
  li.append(img, label, meta);
  return li;
}

async function search(): Promise<void> {
  const file = $<HTMLInputElement>('query-file').files?.[0];
  const status = $('search-status');
  if (!file) {
    status.textContent = 'Choose an image first.';
    return;
  }
  const form = new FormData();
  form.append('image', file, file.name);
  form.append('k', $<HTMLInputElement>('k').value || '10');
  form.append('uniqueLabels', String($<HTMLInputElement>('unique').checked));
  $<HTMLImageElement>('query-img').src = URL.createObjectURL(file);
  $('query-view').hidden = false;
  status.textContent = 'Searching…';
  try {
    const res = await api<{ results: Hit[] }>(`/galleries/${encodeURIComponent(gallerySelect.value)}/search`, { method: 'POST', body: form });
    $('results').replaceChildren(...res.results.map((h, i) => card(h, i + 1)));
    status.textContent = `${res.results.length} results`;
  } catch (err) {
    status.textContent = (err as Error).message;
  }
}

async function loadPage(): Promise<void> {
  const name = encodeURIComponent(gallerySelect.value);
  const page = await api<{ count: number; items: Hit[] }>(`/galleries/${name}/items?offset=${offset}&limit=${PAGE}`);
  $('items').replaceChildren(...page.items.map((h) => card({ ...h, score: NaN })));
  $('page-info').textContent = page.count === 0 ? 'empty' : `${offset + 1}–${Math.min(offset + PAGE, page.count)} of ${page.count}`;
  $<HTMLButtonElement>('prev').disabled = offset === 0;
  $<HTMLButtonElement>('next').disabled = offset + PAGE >= page.count;
}

async function addImages(): Promise<void> {
  const files = $<HTMLInputElement>('add-files').files;
  const status = $('add-status');
  if (!files || files.length === 0) {
    status.textContent = 'Choose images to add.';
    return;
  }
  const form = new FormData();
  for (const f of files) form.append('image', f, f.name);
  const label = $<HTMLInputElement>('add-label').value.trim();
  if (label) form.append('label', label);
  try {
    const res = await api<{ added: Hit[]; count: number }>(`/galleries/${encodeURIComponent(gallerySelect.value)}/items`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Bearer ${$<HTMLInputElement>('add-token').value}` },
    });
    status.textContent = `Added ${res.added.length}; the gallery now holds ${res.count}.`;
    await loadGalleries();
    await loadPage();
  } catch (err) {
    status.textContent = (err as Error).message;
  }
}

async function verify(): Promise<void> {
  const a = $<HTMLInputElement>('verify-a').files?.[0];
  const b = $<HTMLInputElement>('verify-b').files?.[0];
  const out = $('verify-result');
  if (!a || !b) {
    out.textContent = 'Choose two photos.';
    return;
  }
  const form = new FormData();
  form.append('a', a, a.name);
  form.append('b', b, b.name);
  const recognizer = $<HTMLSelectElement>('verify-recognizer').value;
  if (recognizer) form.append('recognizer', recognizer);
  out.textContent = 'Comparing…';
  try {
    const r = await api<{ score: number; same: boolean; threshold: number; recognizer: string }>('/verify', { method: 'POST', body: form });
    out.innerHTML = '';
    const verdict = document.createElement('span');
    verdict.className = r.same ? 'same' : 'different';
    verdict.textContent = r.same ? 'Same person' : 'Different people';
    out.append(verdict, ` — score ${r.score.toFixed(4)} (threshold ${r.threshold}, ${r.recognizer})`);
  } catch (err) {
    out.textContent = (err as Error).message;
  }
}

async function loadReports(): Promise<void> {
  const reports = await api<Array<{ name: string; url: string }>>('/reports');
  const list = $('reports');
  if (reports.length === 0) {
    list.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'No reports yet.' }));
    return;
  }
  list.replaceChildren(
    ...reports.map((r) => {
      const li = document.createElement('li');
      const a = Object.assign(document.createElement('a'), { href: r.url, textContent: r.name, target: '_blank', rel: 'noopener' });
      li.append(a);
      return li;
    }),
  );
}

async function loadGalleries(): Promise<void> {
  const selected = gallerySelect.value;
  const galleries = await api<Array<{ name: string; count: number; model: string }>>('/galleries');
  gallerySelect.replaceChildren(...galleries.map((g) => new Option(`${g.name} (${g.count}, ${g.model})`, g.name, false, g.name === selected)));
}

async function init(): Promise<void> {
  await loadGalleries();
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) b.addEventListener('click', () => showTab(b.dataset['tab']!));
  gallerySelect.addEventListener('change', () => {
    offset = 0;
    if (!$('tab-browse').hidden) void loadPage();
  });
  $('search-form').addEventListener('submit', (e) => (e.preventDefault(), void search()));
  $<HTMLInputElement>('unique').addEventListener('change', () => $<HTMLInputElement>('query-file').files?.length && void search());
  $('add-form').addEventListener('submit', (e) => (e.preventDefault(), void addImages()));
  $('verify-form').addEventListener('submit', (e) => (e.preventDefault(), void verify()));
  $('prev').addEventListener('click', () => ((offset = Math.max(0, offset - PAGE)), void loadPage()));
  $('next').addEventListener('click', () => ((offset += PAGE), void loadPage()));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const files = e.dataTransfer?.files;
    if (files && files.length > 0) {
      $<HTMLInputElement>('query-file').files = files;
      void search();
    }
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      $<HTMLInputElement>('query-file').click();
    }
  });
}

void init();
