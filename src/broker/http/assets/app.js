// leaseq dashboard: polls the broker's JSON API every second and draws
// with plain DOM, canvas and SVG (no library, no external network).
'use strict';
const STATES = ['waiting', 'queued', 'running', 'done', 'failed', 'cancelled'];
const COLORS = {};
for (const s of STATES.concat(['lost', 'released', 'error'])) {
  COLORS[s] = getComputedStyle(document.documentElement).getPropertyValue('--' + s).trim();
}
const HISTORY_S = 600;
const PAGE = 25;
let history = [];       // {t, counts, done}
let workerOffset = 0;
let writable = false;
let taskKey = null;

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('data-')) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? '' : String(k)));
  return e;
}
function fill(tbody, rows) { tbody.replaceChildren(...rows); }
function ago(ms) {
  if (ms == null) return '';
  const s = Math.max(0, ms / 1000);
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
  if (s < 3600) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}
function clock(ms) { return ms ? new Date(ms).toLocaleTimeString() : ''; }
function stateBadge(s) { return el('span', {class: 'st ' + s}, s); }
function taskLink(key) { return el('a', {href: '#/task/' + encodeURIComponent(key)}, key); }
async function get(path) {
  const r = await fetch(path, {cache: 'no-store'});
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function drawChart() {
  const c = $('chart'), g = c.getContext('2d');
  const W = c.width, H = c.height, L = 50, B = 20, T = 8;
  g.clearRect(0, 0, W, H);
  if (history.length < 1) return;
  const now = history[history.length - 1].t;
  // The window grows with the page's history: from 1 minute to 10.
  const span = Math.min(HISTORY_S * 1000, Math.max(60000, now - history[0].t));
  let max = 1;
  for (const h of history) for (const s of STATES) max = Math.max(max, h.counts[s] || 0);
  const x = (t) => L + (W - L - 40) * (1 - (now - t) / span);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  g.strokeStyle = '#e5e7eb'; g.fillStyle = '#6b7280'; g.font = '11px sans-serif';
  for (let i = 0; i <= 4; i++) {
    const v = Math.round(max * i / 4);
    g.beginPath(); g.moveTo(L, y(v)); g.lineTo(W - 40, y(v)); g.stroke();
    g.fillText(String(v), 4, y(v) + 4);
  }
  const step = span <= 60000 ? 10000 : span <= 180000 ? 30000 : 60000;
  for (let t = 0; t <= span; t += step) {
    const label = t === 0 ? 'now' : '-' + (step < 60000 ? t / 1000 + ' s' : t / 60000 + ' min');
    g.fillText(label, x(now - t) - 12, H - 4);
  }
  for (const s of STATES) {
    g.strokeStyle = COLORS[s]; g.lineWidth = 2; g.beginPath();
    history.forEach((h, i) => { const px = x(h.t), py = y(h.counts[s] || 0); i ? g.lineTo(px, py) : g.moveTo(px, py); });
    g.stroke();
  }
  $('legend').replaceChildren(...STATES.map((s) => el('span', {}, el('span', {class: 'sw ' + s}), ' ' + s)));
}

function drawSpark(rates) {
  const c = $('spark'), g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...rates);
  g.strokeStyle = COLORS.done; g.lineWidth = 2; g.beginPath();
  rates.forEach((r, i) => {
    const px = c.width * i / Math.max(1, rates.length - 1), py = c.height - 4 - (c.height - 8) * r / max;
    i ? g.lineTo(px, py) : g.moveTo(px, py);
  });
  g.stroke();
}

function renderStatus(st) {
  writable = st.writable;
  $('mode').textContent = st.writable ? 'token: retry and cancel on' : 'read-only';
  $('uptime').textContent = 'up ' + ago(st.now - st.started_at);
  const counts = st.counts;
  $('cards').replaceChildren(...STATES.map((s) => el('div', {class: 'card', style: 'border-top-color:' + COLORS[s]},
    el('div', {class: 'n', id: 'count-' + s, 'data-n': counts[s] || 0}, (counts[s] || 0).toLocaleString()),
    el('div', {class: 'l'}, s))),
    el('div', {class: 'card'}, el('div', {class: 'n', id: 'count-workers-alive'}, st.workers.alive || 0),
      el('div', {class: 'l'}, 'workers alive (' + (st.workers.lost || 0) + ' lost)')));
  history.push({t: st.now, counts, done: st.totals.done});
  while (history.length && history[0].t < st.now - HISTORY_S * 1000) history.shift();
  drawChart();
  const rates = [];
  for (let i = 1; i < history.length; i++) {
    const dt = (history[i].t - history[i - 1].t) / 1000;
    rates.push(dt > 0 ? Math.max(0, history[i].done - history[i - 1].done) / dt : 0);
  }
  const recent = rates.slice(-5);
  $('rate').textContent = recent.length ? (recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(1) : '0';
  drawSpark(rates.slice(-120));
  const total = STATES.reduce((a, s) => a + (counts[s] || 0), 0) || 1;
  for (const s of ['done', 'failed', 'cancelled', 'running']) $('bar-' + s).style.width = (100 * (counts[s] || 0) / total) + '%';
  const ended = (counts.done || 0) + (counts.failed || 0) + (counts.cancelled || 0);
  $('progress-text').textContent = ended.toLocaleString() + ' of ' + total.toLocaleString() + ' tasks ended (' +
    (100 * ended / total).toFixed(1) + '%), ' + (counts.failed || 0) + ' failed';
  const t = st.totals;
  $('totals').textContent = t.done.toLocaleString() + ' done, ' + t.failed + ' failed (' + t.failed_by_suspicion +
    ' by suspicion), ' + t.retried + ' retried, ' + t.cancelled + ' cancelled; ' + t.workers_lost + ' workers lost, ' +
    t.leases_reclaimed + ' leases reclaimed';
  fill($('queues').tBodies[0], st.queues.map((q) => el('tr', {'data-queue': q.queue},
    el('td', {}, q.queue), el('td', {}, q.counts.queued || 0), el('td', {}, q.counts.running || 0),
    el('td', {}, q.counts.waiting || 0), el('td', {}, q.counts.done || 0), el('td', {}, q.counts.failed || 0),
    el('td', {}, q.oldest_queued_age_ms ? ago(q.oldest_queued_age_ms) : '-'), el('td', {}, q.paused ? 'paused' : ''))));
  const events = (tbody, list) => fill(tbody, list.slice(0, 10).map((e) => el('tr', {},
    el('td', {}, clock(e.at)), el('td', {}, taskLink(e.key)), el('td', {}, e.worker), el('td', {class: 'err'}, e.what))));
  events($('losses').tBodies[0], st.recent_losses);
  events($('failures').tBodies[0], st.recent_failures);
}

function renderWorkers(w, now) {
  $('workers-total').textContent = '(' + w.total + ')';
  $('page').textContent = w.total ? (w.offset + 1) + '-' + Math.min(w.total, w.offset + w.limit) + ' of ' + w.total : 'none';
  $('prev').disabled = w.offset === 0;
  $('next').disabled = w.offset + w.limit >= w.total;
  fill($('workers').tBodies[0], w.workers.map((x) => el('tr', {'data-worker': x.name, 'data-state': x.state},
    el('td', {}, x.name), el('td', {}, x.host), el('td', {}, x.pid), el('td', {}, x.slots), el('td', {}, x.running),
    el('td', {}, x.prefetched), el('td', {}, ago(now - x.last_seen_at) + ' ago'), el('td', {class: 'state'}, stateBadge(x.state)),
    el('td', {}, x.lost_count))));
}

async function renderTasks() {
  const t = await get('/api/tasks?limit=20&state=' + encodeURIComponent($('task-state').value));
  fill($('tasks').tBodies[0], t.tasks.map((x) => el('tr', {}, el('td', {}, taskLink(x.key)), el('td', {}, stateBadge(x.state)),
    el('td', {}, x.queue), el('td', {}, x.attempts), el('td', {}, clock(x.updated_at)), el('td', {class: 'err'}, x.error))));
}

function renderTimeline(task, now) {
  const svg = $('timeline'), NS = 'http://www.w3.org/2000/svg';
  const workers = [...new Set(task.attempts.map((a) => a.worker))];
  const rowH = 28, L = 150, R = 20, T = 10, W = Math.max(500, svg.clientWidth || 900);
  const H = T + rowH * Math.max(1, workers.length) + 30;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H); svg.setAttribute('height', H);
  svg.replaceChildren();
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    svg.append(e); return e;
  };
  if (!task.attempts.length) { add('text', {x: 10, y: 30}, 'no attempt yet'); return; }
  const t0 = Math.min(...task.attempts.map((a) => a.started_at));
  const t1 = Math.max(...task.attempts.map((a) => a.ended_at || now), t0 + 1);
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  workers.forEach((w, i) => {
    add('text', {x: 6, y: T + i * rowH + 18}, w);
    add('line', {x1: L, x2: W - R, y1: T + i * rowH + rowH - 2, y2: T + i * rowH + rowH - 2, stroke: '#e5e7eb'});
  });
  for (const a of task.attempts) {
    const i = workers.indexOf(a.worker);
    const x0 = x(a.started_at), x1 = Math.max(x0 + 3, x(a.ended_at || now));
    const r = add('rect', {x: x0, y: T + i * rowH + 4, width: x1 - x0, height: rowH - 10, rx: 3,
      fill: COLORS[a.outcome] || '#888', 'data-outcome': a.outcome, 'data-worker': a.worker, 'data-attempt': a.attempt});
    const title = document.createElementNS(NS, 'title');
    title.textContent = '#' + a.attempt + ' ' + a.outcome + ' on ' + a.worker + (a.error ? ': ' + a.error : '');
    r.append(title);
    if (x1 - x0 > 40) add('text', {x: x0 + 4, y: T + i * rowH + 18, class: 'on-bar'}, '#' + a.attempt + ' ' + a.outcome);
  }
  const yAxis = T + rowH * workers.length + 16;
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (t1 - t0) * k / 4;
    add('text', {x: x(t) - (k === 4 ? 40 : 0), y: yAxis, class: 'axis'}, '+' + ((t - t0) / 1000).toFixed(1) + ' s');
  }
}

async function act(verb) {
  const r = await fetch('/api/' + verb + '?key=' + encodeURIComponent(taskKey), {method: 'POST'});
  const j = await r.json();
  $('task-actions').append(el('span', {class: 'muted'}, ' ' + (r.ok ? verb + ': ' + (j.changed.length ? 'done' : 'nothing to change') : j.error)));
  tick();
}

async function renderTask(now) {
  const r = await fetch('/api/tasks/' + encodeURIComponent(taskKey), {cache: 'no-store'});
  if (r.status === 404) { $('task-key').textContent = taskKey + ' (no such task)'; return; }
  if (!r.ok) throw new Error('task: HTTP ' + r.status);
  const t = await r.json();
  $('task-key').textContent = t.key;
  $('task-state-badge').textContent = t.state;
  $('task-state-badge').className = 'st ' + t.state;
  const fields = [['queue', t.queue], ['command', t.cmd ? t.cmd.join(' ') : 'fn ' + t.fn], ['priority', t.priority],
    ['retries allowed', t.retries], ['errors', t.errors], ['suspicious', t.suspicious], ['deaths', t.deaths ?? 0], ['submitted', clock(t.created_at)],
    ['changed', clock(t.updated_at)], ['error', t.error || '']];
  $('task-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  const actions = $('task-actions');
  if (writable && !actions.childElementCount) {
    actions.append(el('button', {class: 'act', id: 'retry', onclick: () => act('retry')}, 'Retry'), ' ',
      el('button', {class: 'act', id: 'cancel', onclick: () => act('cancel')}, 'Cancel'));
  }
  renderTimeline(t, now);
  fill($('attempts').tBodies[0], t.attempts.map((a) => el('tr', {}, el('td', {}, a.attempt), el('td', {}, a.worker),
    el('td', {}, clock(a.started_at)), el('td', {}, clock(a.ended_at)), el('td', {}, a.blame ? a.outcome + ' (' + a.blame + ')' : a.outcome), el('td', {}, a.exit_code),
    el('td', {class: 'err'}, a.error))));
}

function route() {
  const m = location.hash.match(/^#\/task\/(.+)$/);
  taskKey = m ? decodeURIComponent(m[1]) : null;
  $('overview').hidden = !!taskKey;
  $('taskpage').hidden = !taskKey;
  $('task-actions').replaceChildren();
  tick();
}

let busy = false;
async function tick() {
  if (busy) return;
  busy = true;
  try {
    const first = history.length === 0;
    const st = await get('/api/status' + (first ? '?history=1' : ''));
    // The broker's samples (one a second) before this page was opened.
    if (first && st.history) history = st.history.filter((h) => h.t < st.now);
    renderStatus(st);
    if (taskKey) {
      await renderTask(st.now);
    } else {
      renderWorkers(await get('/api/workers?limit=' + PAGE + '&offset=' + workerOffset), st.now);
      await renderTasks();
    }
    $('conn').textContent = 'live'; $('conn').className = 'badge ok';
  } catch (e) {
    $('conn').textContent = 'no answer'; $('conn').className = 'badge bad';
  } finally {
    busy = false;
  }
}

$('prev').onclick = () => { workerOffset = Math.max(0, workerOffset - PAGE); tick(); };
$('next').onclick = () => { workerOffset += PAGE; tick(); };
$('task-state').onchange = () => tick();
window.addEventListener('hashchange', route);
route();
setInterval(tick, 1000);
