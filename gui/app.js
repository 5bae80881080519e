// memery web GUI: one page, no framework. Talks to the JSON API of the server that served it. The
// page holds no secret: opening the `?token=` URL that `memery serve` prints set an HttpOnly,
// SameSite=Strict cookie, which the browser sends with every same-origin request (fetch, <img>,
// EventSource); this script never sees the token. Routes, event names and the event-stream parser
// come from the protocol module the server serves as /client.js (@memery/client's protocol), and so
// does the snippet of each result's text (OCR): text from images is only ever set as DOM text
// (textContent, text nodes, <mark> elements), never parsed as HTML.
import { EVENTS, ROUTES, SEARCH_MODES, fileRoute, sseParser, textSnippet, thumbRoute } from '/client.js';

const $ = (id) => document.getElementById(id);

const el = {
  q: $('q'), neg: $('neg'), mode: $('mode'), folder: $('folder'), n: $('n'), threshold: $('threshold'), thresholdOut: $('threshold-out'),
  grid: $('grid'), info: $('info'), stats: $('stats'), empty: $('empty'), chip: $('chip'), chipImg: $('chip-img'),
  chipLabel: $('chip-label'), chipClear: $('chip-clear'), pick: $('pick'), file: $('file'), progress: $('progress'),
  progressBar: $('progress-bar'), progressText: $('progress-text'), viewer: $('viewer'), vImg: $('v-img'),
  vCaption: $('v-caption'), vDownload: $('v-download'), vText: $('v-text'), vCopyText: $('v-copy-text'), drop: $('drop'), toast: $('toast'),
  folderList: $('folder-list'), indexForm: $('index-form'), indexPath: $('index-path'),
};

const state = {
  /** Image part of the query: null, {kind: 'id', id, name} or {kind: 'blob', blob, url, name}. */
  image: null,
  results: [],
  selected: -1,
  viewing: -1,
  seq: 0,
  controller: null,
  /** Why the last search found nothing: {threshold, best} when Min score left out every result (best: the top score without it). */
  filtered: null,
  /** Folders whose list of failed files is open (kept across status refreshes). */
  openFailed: new Set(),
};

const basename = (p) => p.slice(p.lastIndexOf('/') + 1);
const thumbUrl = (id) => thumbRoute(id);

function toast(text, ms = 1800) {
  el.toast.textContent = text;
  el.toast.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.toast.hidden = true; }, ms);
}

async function api(path, init = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  if (res.status === 401) {
    // The cookie is no longer valid (the server was restarted, or another one took the port): the
    // page itself now explains how to get in.
    location.reload();
  }
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      const body = await res.json();
      message = body.error?.message ?? message;
    } catch { /* not JSON */ }
    const err = new Error(message);
    err.status = res.status;
    throw err;
  }
  return res;
}

// ---- search ------------------------------------------------------------------------------------

function options() {
  const t = Number(el.threshold.value);
  return {
    n: Number(el.n.value),
    threshold: t > 0 ? t : undefined,
    folders: el.folder.value ? [el.folder.value] : undefined,
    mode: SEARCH_MODES.includes(el.mode.value) ? el.mode.value : 'hybrid',
  };
}

function hasQuery() {
  return Boolean(el.q.value.trim() || state.image);
}

/** One search request with options `o`; resolves with the answer's results. */
async function ask(o, signal) {
  const text = el.q.value.trim();
  const neg = el.neg.value.trim();
  let res;
  if (state.image?.kind === 'blob') {
    const p = new URLSearchParams();
    p.set('n', String(o.n));
    if (o.threshold !== undefined) p.set('threshold', String(o.threshold));
    if (o.folders) p.append('folder', o.folders[0]);
    if (text) p.set('text', text);
    if (neg) p.set('negativeText', neg);
    p.set('mode', o.mode);
    res = await api(`${ROUTES.searchImage}?${p}`, {
      method: 'POST',
      headers: { 'Content-Type': state.image.blob.type || 'application/octet-stream' },
      body: state.image.blob,
      signal,
    });
  } else {
    const query = {};
    if (text) query.text = text;
    if (state.image?.kind === 'id') query.image = `id:${state.image.id}`;
    if (neg) query.negativeText = neg;
    res = await api(ROUTES.search, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query, ...o }),
      signal,
    });
  }
  return (await res.json()).results;
}

async function search() {
  const seq = ++state.seq;
  state.controller?.abort();
  state.filtered = null;
  if (!hasQuery()) {
    state.results = [];
    render(null);
    return;
  }
  const controller = new AbortController();
  state.controller = controller;
  const o = options();
  const t0 = performance.now();
  try {
    const results = await ask(o, controller.signal);
    if (seq !== state.seq) return;
    const ms = performance.now() - t0;
    if (!results.length && o.threshold !== undefined) {
      // Nothing at this Min score: was it the threshold? The best result without it says.
      const [best] = await ask({ ...o, n: 1, threshold: undefined }, controller.signal);
      if (seq !== state.seq) return;
      if (best) state.filtered = { threshold: o.threshold, best: best.score };
    }
    state.results = results;
    render(ms);
  } catch (err) {
    if (err.name === 'AbortError' || seq !== state.seq) return;
    state.results = [];
    render(null, err.message);
  }
}

let debounceTimer;
function searchSoon(ms = 180) {
  clearTimeout(debounceTimer);
  debounceTimer = setTimeout(search, ms);
}

// ---- rendering ---------------------------------------------------------------------------------

/** Appends snippet parts to `parent`: plain parts as text nodes, matched ones as <mark> with textContent (no HTML is parsed). */
function appendMarked(parent, parts) {
  for (const p of parts) {
    if (p.hit) {
      const mark = document.createElement('mark');
      mark.textContent = p.text;
      parent.append(mark);
    } else {
      parent.append(document.createTextNode(p.text));
    }
  }
}

/** The whole text as parts, the matched spans as hits (for the large view). */
function markedParts(text, match) {
  const parts = [];
  let at = 0;
  const spans = [...(match?.spans ?? [])].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  for (const s of spans) {
    const a = Math.max(at, s.start);
    const b = Math.min(text.length, s.end);
    if (a >= b) continue;
    if (a > at) parts.push({ text: text.slice(at, a), hit: false });
    parts.push({ text: text.slice(a, b), hit: true });
    at = b;
  }
  if (at < text.length) parts.push({ text: text.slice(at), hit: false });
  return parts;
}

/** A short, clipped line of the image's text under its thumbnail, the matched words marked. */
function snippet(r) {
  const parts = textSnippet(r.text, r.match, { width: 60, lead: 6 });
  if (!parts.length) return null;
  const p = document.createElement('p');
  p.className = 'snippet';
  p.title = r.text;
  appendMarked(p, parts);
  return p;
}

function card(r, i) {
  const fig = document.createElement('figure');
  fig.className = 'card';
  fig.dataset.index = String(i);
  fig.dataset.id = String(r.id);
  fig.dataset.name = basename(r.path);
  fig.title = r.path;
  const frame = document.createElement('div');
  frame.className = 'frame';
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.decoding = 'async';
  img.alt = basename(r.path);
  img.draggable = true;
  img.src = thumbUrl(r.id);
  frame.append(img);
  const cap = document.createElement('figcaption');
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = basename(r.path);
  const score = document.createElement('span');
  score.className = 'score';
  score.textContent = r.score.toFixed(3);
  cap.append(name, score);
  const tools = document.createElement('div');
  tools.className = 'tools';
  tools.innerHTML = '<button type="button" data-act="like" title="More like this">Similar</button>' +
    '<button type="button" data-act="copy" title="Copy image">Copy</button>' +
    '<a data-act="download" title="Download">↓</a>';
  const a = tools.querySelector('a');
  a.href = fileRoute(r.id, true);
  a.download = basename(r.path);
  fig.append(frame, tools, cap);
  const text = snippet(r);
  if (text) fig.append(text);
  return fig;
}

function render(ms, error) {
  const frag = document.createDocumentFragment();
  state.results.forEach((r, i) => frag.append(card(r, i)));
  el.grid.replaceChildren(frag);
  state.selected = state.results.length ? Math.min(Math.max(state.selected, 0), state.results.length - 1) : -1;
  if (!hasQuery()) state.selected = -1;
  markSelected(false);
  const n = state.results.length;
  el.info.textContent = error ? '' : ms == null ? '' : `${n} result${n === 1 ? '' : 's'} · ${Math.round(ms)} ms`;
  el.empty.hidden = n > 0 && !error;
  el.empty.textContent = error ? `Search failed: ${error}` : hasQuery() ? noMatches() : el.empty.dataset.idle || 'Type to search your images.';
  el.grid.dataset.seq = String(state.seq);
  document.body.dataset.searches = String(Number(document.body.dataset.searches || 0) + 1);
}

/** What an empty result says: when Min score left every result out, that and the best score. */
function noMatches() {
  const f = state.filtered;
  if (!f) return 'No matches.';
  return `No matches at Min score ${f.threshold.toFixed(2)}: the best score is ${f.best.toFixed(3)}. Lower Min score to see results.`;
}

function markSelected(scroll = true) {
  for (const c of el.grid.querySelectorAll('.card.selected')) c.classList.remove('selected');
  const c = el.grid.children[state.selected];
  if (c) {
    c.classList.add('selected');
    if (scroll) c.scrollIntoView({ block: 'nearest' });
  }
}

function columns() {
  const cards = el.grid.children;
  if (cards.length < 2) return 1;
  const top = cards[0].offsetTop;
  let n = 1;
  while (n < cards.length && cards[n].offsetTop === top) n++;
  return n;
}

// ---- image query -------------------------------------------------------------------------------

function setImage(image) {
  if (state.image?.kind === 'blob') URL.revokeObjectURL(state.image.url);
  state.image = image;
  el.chip.hidden = !image;
  if (image) {
    el.chipImg.src = image.kind === 'blob' ? image.url : thumbUrl(image.id);
    el.chipLabel.textContent = image.name;
    el.chip.title = image.kind === 'id' ? `More like ${image.name}` : `Image: ${image.name}`;
  }
  state.selected = 0;
  search();
}

function useBlob(blob, name) {
  if (!blob || !/^image\//.test(blob.type || 'image/')) {
    toast('That is not an image');
    return;
  }
  setImage({ kind: 'blob', blob, url: URL.createObjectURL(blob), name: name || 'pasted image' });
}

function moreLike(i) {
  const r = state.results[i];
  if (!r) return;
  closeViewer();
  setImage({ kind: 'id', id: r.id, name: basename(r.path) });
}

// ---- copy / view -------------------------------------------------------------------------------

async function pngOf(id) {
  const blob = await (await api(fileRoute(id))).blob();
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  bitmap.close();
  return new Promise((res, rej) => canvas.toBlob((b) => (b ? res(b) : rej(new Error('Cannot encode PNG'))), 'image/png'));
}

async function copyImage(i) {
  const r = state.results[i];
  if (!r) return;
  try {
    // A promise inside the ClipboardItem keeps the user gesture (Safari needs this).
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': pngOf(r.id) })]);
    toast(`Copied ${basename(r.path)}`);
  } catch (err) {
    toast(`Cannot copy: ${err.message}`);
  }
}

function openViewer(i) {
  const r = state.results[i];
  if (!r) return;
  state.viewing = i;
  state.selected = i;
  markSelected();
  el.vImg.src = fileRoute(r.id);
  el.vImg.alt = basename(r.path);
  el.vCaption.textContent = `${r.path} · ${r.width ?? '?'}×${r.height ?? '?'} · score ${r.score.toFixed(3)}`;
  el.vDownload.href = fileRoute(r.id, true);
  el.vDownload.download = basename(r.path);
  el.vText.replaceChildren();
  if (r.text) appendMarked(el.vText, markedParts(r.text, r.match));
  el.vText.hidden = !r.text;
  el.vCopyText.hidden = !r.text;
  el.viewer.hidden = false;
}

async function copyText(i) {
  const r = state.results[i];
  if (!r?.text) return;
  try {
    await navigator.clipboard.writeText(r.text);
    toast(`Copied the text of ${basename(r.path)}`);
  } catch (err) {
    toast(`Cannot copy: ${err.message}`);
  }
}

function closeViewer() {
  if (el.viewer.hidden) return;
  el.viewer.hidden = true;
  el.vImg.removeAttribute('src');
  state.viewing = -1;
}

// ---- status, folders, indexing -----------------------------------------------------------------

async function refreshStatus() {
  try {
    const st = await (await api(ROUTES.status)).json();
    const current = el.folder.value;
    const opts = [new Option('All folders', '')];
    for (const f of st.folders) opts.push(new Option(`${f.path} (${f.files})`, f.path));
    el.folder.replaceChildren(...opts);
    el.folder.value = st.folders.some((f) => f.path === current) ? current : '';
    const texts = st.counts.texts ? ` · ${st.counts.texts.toLocaleString()} with text` : '';
    const model = modelLabel(st);
    el.stats.textContent = `${st.counts.files.toLocaleString()} images${texts} · model ${model}${st.model.id ? '' : ' (not available)'}${st.server.watch.enabled ? ' · watching' : ''}`;
    el.stats.title = modelDetails(st.model, model);
    el.empty.dataset.idle = st.counts.files ? 'Type to search your images.' : 'Nothing indexed yet: add a folder below (Folders).';
    if (!hasQuery()) render(null);
    el.folderList.replaceChildren(
      ...st.folders.map((f, i) => {
        const li = document.createElement('li');
        const code = document.createElement('code');
        code.textContent = f.path;
        const row = document.createElement('div');
        row.className = 'row';
        const count = document.createElement('span');
        count.textContent = `${f.files} image${f.files === 1 ? '' : 's'}${f.failed && !f.errors ? `, ${f.failed} failed` : ''}`;
        const again = document.createElement('button');
        again.type = 'button';
        again.textContent = 'Re-index';
        again.addEventListener('click', () => indexFolder(f.path));
        const forget = document.createElement('button');
        forget.type = 'button';
        forget.textContent = 'Forget';
        forget.addEventListener('click', () => forgetFolder(f.path));
        row.append(code, count);
        const failed = f.failed && f.errors ? failedFiles(f, i) : null;
        if (failed) row.append(failed.toggle);
        row.append(again, forget);
        li.append(row);
        if (failed) li.append(failed.list);
        return li;
      }),
    );
  } catch (err) {
    el.stats.textContent = `status: ${err.message}`;
  }
}

/**
 * The model's name, as status names the model in use among the catalog's models (`models`): the
 * registry model's, or its folder's name for a local model folder (`model.name` says 'local' then).
 * Without that entry (an older server, a model not available), its folder's name as before.
 */
function modelLabel(st) {
  const inUse = st.models?.find((c) => c.inUse)?.name;
  if (inUse) return inUse;
  const m = st.model;
  const dir = m.dir?.replace(/\/+$/, '');
  return dir ? basename(dir) || m.name : m.name;
}

function modelDetails(m, label) {
  const parts = [`Model: ${label}`];
  if (m.layout) parts.push(`${m.layout} layout`);
  if (m.dir) parts.push(`in ${m.dir}`);
  parts.push(m.id ? `id ${m.id}` : 'not available');
  return parts.join(', ');
}

/**
 * A folder's failed files: a toggle ("N failed") and the list it opens, one file per line with its
 * reason (status lists up to 100 per folder; the count covers them all).
 */
function failedFiles(f, i) {
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'failed-toggle';
  const list = document.createElement('ul');
  list.className = 'failed-files';
  list.id = `failed-files-${i}`;
  toggle.setAttribute('aria-controls', list.id);
  const prefix = `${f.path.replace(/\/+$/, '')}/`;
  for (const e of f.errors) {
    const item = document.createElement('li');
    const name = document.createElement('code');
    name.textContent = e.path.startsWith(prefix) ? e.path.slice(prefix.length) : e.path;
    name.title = e.path;
    const reason = document.createElement('span');
    reason.className = 'reason';
    // Why, without the path the list shows already ("Cannot decode: <libvips' reason>"); an older server sends no reason.
    reason.textContent = e.reason ?? e.message;
    reason.title = `${e.code}: ${e.message}`;
    item.append(name, reason);
    list.append(item);
  }
  if (f.failed > f.errors.length) {
    const more = document.createElement('li');
    more.textContent = `… and ${f.failed - f.errors.length} more`;
    list.append(more);
  }
  const show = (open) => {
    list.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = `${f.failed} failed ${open ? '▾' : '▸'}`;
    toggle.title = open ? 'Hide the files that could not be indexed' : 'Show the files that could not be indexed, and why';
  };
  show(state.openFailed.has(f.path));
  toggle.addEventListener('click', () => {
    const open = list.hidden;
    if (open) state.openFailed.add(f.path);
    else state.openFailed.delete(f.path);
    show(open);
  });
  return { toggle, list };
}

async function indexFolder(folder) {
  try {
    const res = await api(ROUTES.index, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ folder }),
    });
    // The body is a server-sent event stream; progress is shown from /api/events, the result here.
    let done;
    let failed;
    sseParser((event, data) => {
      if (event === EVENTS.done) done = JSON.parse(data);
      else if (event === EVENTS.error) failed = JSON.parse(data);
    })(await res.text());
    // This answer can arrive before /api/events delivers the same run's last progress and 'done':
    // hide the bar now, and let that stream's late progress of this run not show it again.
    if (done || failed) runFinished((done ?? failed).run);
    if (done) toast(`Indexed ${done.folder}: ${done.new} new, ${done.reembedded} changed, ${done.removed} removed, ${done.failed} failed`, 4000);
    else if (failed) toast(`Indexing failed: ${failed.message}`, 5000);
  } catch (err) {
    toast(`Indexing failed: ${err.message}`, 5000);
  }
}

async function forgetFolder(folder) {
  if (!confirm(`Forget ${folder}? Its images leave the catalog (the files stay on disk).`)) return;
  try {
    const r = await (await api(ROUTES.forget, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ folder }),
    })).json();
    toast(`Forgot ${r.folder} (${r.removed} images)`);
  } catch (err) {
    toast(`Cannot forget: ${err.message}`, 4000);
  }
}

/** How each indexing phase is said in the progress bar. */
const PHASES = { scan: 'scanning', hash: 'hashing', encode: 'encoding', finish: 'finishing', ocr: 'reading text' };

/** Index runs (their server numbers) whose end this page has seen, on either stream. */
const finishedRuns = new Set();

function runFinished(run) {
  if (run !== undefined) finishedRuns.add(run);
  el.progress.hidden = true;
}

function showProgress(p) {
  if (p.run !== undefined && finishedRuns.has(p.run)) return; // the run ended: its progress is late
  el.progress.hidden = false;
  const pct = p.total > 0 ? Math.round((100 * p.done) / p.total) : 0;
  el.progressBar.style.width = `${p.phase === 'scan' ? 5 : pct}%`;
  el.progressText.textContent = `Indexing ${p.folder}: ${PHASES[p.phase] ?? p.phase}${p.total ? ` ${p.done}/${p.total}` : ''}`;
}

let refreshTimer;
function listen() {
  const es = new EventSource(ROUTES.events);
  es.addEventListener(EVENTS.progress, (e) => showProgress(JSON.parse(e.data)));
  const finished = (e) => {
    runFinished(e?.data ? JSON.parse(e.data).run : undefined);
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      refreshStatus();
      if (hasQuery() && el.viewer.hidden) search();
    }, 150);
  };
  es.addEventListener(EVENTS.done, finished);
  es.addEventListener(EVENTS.error, (e) => {
    if (e.data) {
      const d = JSON.parse(e.data);
      toast(`Indexing ${d.folder} failed: ${d.message}`, 5000);
    }
    finished(e);
  });
  es.addEventListener(EVENTS.changed, finished);
}

// ---- events ------------------------------------------------------------------------------------

el.q.addEventListener('input', () => { state.selected = 0; searchSoon(); });
el.neg.addEventListener('input', () => searchSoon());
el.folder.addEventListener('change', () => search());
el.mode.addEventListener('change', () => search());
el.n.addEventListener('change', () => search());
el.threshold.addEventListener('input', () => {
  const t = Number(el.threshold.value);
  el.thresholdOut.textContent = t > 0 ? t.toFixed(2) : 'off';
  searchSoon(120);
});
el.chipClear.addEventListener('click', () => setImage(null));
el.pick.addEventListener('click', () => el.file.click());
el.file.addEventListener('change', () => {
  const f = el.file.files[0];
  if (f) useBlob(f, f.name);
  el.file.value = '';
});
el.indexForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const folder = el.indexPath.value.trim();
  if (folder) indexFolder(folder);
});

el.grid.addEventListener('click', (e) => {
  const c = e.target.closest('.card');
  if (!c) return;
  const i = Number(c.dataset.index);
  const act = e.target.closest('[data-act]')?.dataset.act;
  if (act === 'download') return; // the link does it
  e.preventDefault();
  state.selected = i;
  markSelected(false);
  if (act === 'like') moreLike(i);
  else if (act === 'copy') copyImage(i);
  else openViewer(i);
});
el.grid.addEventListener('dragstart', (e) => {
  const c = e.target.closest('.card');
  if (c) e.dataTransfer.setData('text/x-memery-id', c.dataset.id);
});

$('v-close').addEventListener('click', closeViewer);
$('v-copy').addEventListener('click', () => copyImage(state.viewing));
el.vCopyText.addEventListener('click', () => copyText(state.viewing));
$('v-like').addEventListener('click', () => moreLike(state.viewing));
$('v-prev').addEventListener('click', () => openViewer(Math.max(0, state.viewing - 1)));
$('v-next').addEventListener('click', () => openViewer(Math.min(state.results.length - 1, state.viewing + 1)));
el.viewer.addEventListener('click', (e) => { if (e.target === el.viewer) closeViewer(); });

// Drag and drop: files from the desktop, or a result card from this page.
let dragDepth = 0;
const dragsImage = (e) => [...(e.dataTransfer?.types ?? [])].some((t) => t === 'Files' || t === 'text/x-memery-id');
document.addEventListener('dragenter', (e) => { if (dragsImage(e)) { dragDepth++; el.drop.hidden = false; } });
document.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; el.drop.hidden = true; } });
document.addEventListener('dragover', (e) => { if (dragsImage(e)) e.preventDefault(); });
document.addEventListener('drop', (e) => {
  dragDepth = 0;
  el.drop.hidden = true;
  if (!dragsImage(e)) return;
  e.preventDefault();
  const id = e.dataTransfer.getData('text/x-memery-id');
  if (id) {
    const r = state.results.find((x) => String(x.id) === id);
    setImage({ kind: 'id', id: Number(id), name: r ? basename(r.path) : `#${id}` });
    return;
  }
  const f = [...e.dataTransfer.files].find((x) => x.type.startsWith('image/')) ?? e.dataTransfer.files[0];
  if (f) useBlob(f, f.name);
});
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData?.items ?? [])].find((x) => x.kind === 'file' && x.type.startsWith('image/'));
  if (!item) return; // text pastes go to the focused field as usual
  e.preventDefault();
  useBlob(item.getAsFile(), 'pasted image');
});

document.addEventListener('keydown', (e) => {
  const inField = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
  const viewing = !el.viewer.hidden;
  if (e.key === 'Escape') {
    if (viewing) closeViewer();
    else if (inField && e.target.value) return;
    else if (state.image) setImage(null);
    return;
  }
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'c') {
    const typing = inField && e.target.selectionStart !== e.target.selectionEnd;
    if (!typing && !String(window.getSelection())) {
      const i = viewing ? state.viewing : state.selected;
      if (i >= 0) {
        e.preventDefault();
        copyImage(i);
      }
    }
    return;
  }
  if (viewing) {
    if (e.key === 'ArrowLeft') openViewer(Math.max(0, state.viewing - 1));
    else if (e.key === 'ArrowRight') openViewer(Math.min(state.results.length - 1, state.viewing + 1));
    return;
  }
  if (!state.results.length || e.altKey || e.ctrlKey || e.metaKey) return;
  const n = state.results.length;
  // In a text field, left/right keep editing the text; up/down and Enter act on the results.
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() };
  if (e.key in moves && !(inField && (e.key === 'ArrowLeft' || e.key === 'ArrowRight'))) {
    if (inField && e.target.type === 'range') return;
    e.preventDefault();
    if (inField && e.key === 'ArrowDown') {
      e.target.blur();
      el.grid.focus({ preventScroll: true });
      state.selected = Math.max(0, state.selected);
    } else if (inField && e.key === 'ArrowUp') {
      return;
    } else {
      const next = state.selected + moves[e.key];
      if (next < 0 && e.key === 'ArrowUp') {
        el.q.focus();
        return;
      }
      state.selected = Math.min(n - 1, Math.max(0, next));
    }
    markSelected();
  } else if (e.key === 'Enter' && !(e.target instanceof HTMLButtonElement) && !(e.target instanceof HTMLAnchorElement)) {
    if (e.target === el.indexPath) return;
    if (state.selected >= 0) {
      e.preventDefault();
      openViewer(state.selected);
    }
  }
});

refreshStatus();
listen();
render(null);
