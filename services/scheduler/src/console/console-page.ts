/**
 * The console page: one HTML document with its CSS and JS inline, so it works where nothing
 * outside the system can be reached. It asks for an API key (kept in sessionStorage, sent only
 * as `authorization: Bearer`), reads `/console/events` with fetch (an EventSource cannot send
 * that header) and draws each snapshot with plain DOM and an SVG sparkline.
 */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard console</title>
<style>
  :root { --fg: #1d2330; --muted: #6b7385; --line: #e3e6ec; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --accent: #0969da; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f8fa; }
  header { display: flex; gap: 16px; align-items: center; padding: 10px 20px; background: #1d2330; color: #fff; }
  header h1 { font-size: 16px; margin: 0; }
  header form { margin-left: auto; display: flex; gap: 6px; }
  header input { width: 320px; padding: 4px 6px; border-radius: 4px; border: 0; }
  button { cursor: pointer; padding: 4px 10px; border-radius: 4px; border: 1px solid var(--line); background: #fff; }
  button.drain { color: var(--bad); } button.undrain { color: var(--ok); }
  #who { font-size: 12px; color: #c9d1d9; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; overflow: auto; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: 3px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th:first-child, td:first-child, td.text, th.text { text-align: left; }
  td.reason { max-width: 0; width: 50%; overflow: hidden; text-overflow: ellipsis; text-align: left; }
  .healthy { color: var(--ok); } .degraded, .drained { color: var(--warn); } .down { color: var(--bad); }
  #message { margin: 0 20px; padding: 8px 12px; border-radius: 6px; display: none; }
  #message.refused, #message.error { display: block; background: #ffebe9; border: 1px solid #ff8182; color: var(--bad); }
  #message.info { display: block; background: #ddf4ff; border: 1px solid #54aeff; }
  .kpis { display: flex; gap: 28px; align-items: flex-end; }
  .kpi b { display: block; font-size: 22px; }
  .kpi span { color: var(--muted); font-size: 12px; }
  svg { display: block; }
</style>
</head>
<body>
<header>
  <h1>Switchyard console</h1>
  <span id="who">not connected</span>
  <form id="login">
    <input id="key" type="password" placeholder="API key (sy_...)" autocomplete="off">
    <button id="connect" type="submit">Connect</button>
    <button id="forget" type="button">Forget key</button>
  </form>
</header>
<p id="message" role="status"></p>
<main>
  <section class="wide">
    <h2>Throughput <small id="window"></small></h2>
    <div class="kpis">
      <div class="kpi"><b id="req-per-s">-</b><span>completed req/s</span></div>
      <div class="kpi"><b id="tok-per-s">-</b><span>tokens/s</span></div>
      <svg id="spark" width="480" height="48" viewBox="0 0 480 48" aria-label="tokens per second, last 2 minutes"><polyline fill="none" stroke="#0969da" stroke-width="2" points=""></polyline></svg>
    </div>
  </section>
  <section class="wide">
    <h2>Tiers: TTFT and attainment</h2>
    <table><thead><tr><th>tier</th><th>adm/s</th><th>done/s</th><th>rej/s</th><th>fail/s</th><th>tok/s</th><th>TTFT p50 ms</th><th>p95</th><th>p99</th><th>within SLO</th></tr></thead>
    <tbody id="tiers"></tbody></table>
  </section>
  <section class="wide">
    <h2>Pools</h2>
    <table><thead><tr><th>pool</th><th class="text">health</th><th>workers</th><th>running</th><th>queue</th><th>free</th><th>KV</th><th>util</th><th>served/s</th><th class="text">drain</th><th></th></tr></thead>
    <tbody id="pools"></tbody></table>
  </section>
  <section>
    <h2>Spend per tenant (window)</h2>
    <table><thead><tr><th>tenant</th><th>requests</th><th>spend $</th><th>$/h</th></tr></thead><tbody id="tenants"></tbody></table>
  </section>
  <section>
    <h2>Latest decisions</h2>
    <table><thead><tr><th>time</th><th class="text">service</th><th class="text">action</th><th class="text">tenant</th><th class="text">chosen / reason</th></tr></thead><tbody id="decisions"></tbody></table>
  </section>
</main>
<script>
(() => {
  const KEY = 'switchyard-console-key';
  const $ = (id) => document.getElementById(id);
  const num = (v, d = 1) => (typeof v === 'number' && isFinite(v) ? v.toFixed(d) : '-');
  const pct = (v) => (typeof v === 'number' && isFinite(v) ? (v * 100).toFixed(0) + '%' : '-');
  let abort;
  const history = [];

  function message(kind, text) {
    const m = $('message');
    m.className = kind || '';
    m.textContent = text || '';
  }

  function cell(tr, text, cls, name) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    if (name) td.dataset.cell = name;
    tr.appendChild(td);
    return td;
  }

  function rows(tbody, list, fill) {
    const body = $(tbody);
    body.replaceChildren(...list.map((x) => { const tr = document.createElement('tr'); fill(tr, x); return tr; }));
  }

  function draw(s) {
    $('who').textContent = 'key ' + s.viewer.keyId + ' (tenant ' + s.viewer.tenant + ', ' + (s.viewer.operator ? 'operator' : 'viewer') + ')';
    $('window').textContent = 'over ' + Math.round(s.heardMs / 1000) + ' s of a ' + Math.round(s.windowMs / 1000) + ' s window';
    $('req-per-s').textContent = num(s.totals.requestsPerS, 2);
    $('tok-per-s').textContent = num(s.totals.tokensPerS, 0);
    history.push(s.totals.tokensPerS);
    if (history.length > 120) history.shift();
    const max = Math.max(1, ...history);
    $('spark').firstElementChild.setAttribute('points', history.map((v, i) => (i * 4) + ',' + (46 - (v / max) * 44).toFixed(1)).join(' '));
    rows('tiers', s.tiers, (tr, t) => {
      tr.dataset.tier = t.tier;
      cell(tr, t.tier);
      cell(tr, num(t.admittedPerS, 2), '', 'admitted');
      cell(tr, num(t.completedPerS, 2), '', 'completed');
      cell(tr, num(t.rejectedPerS, 2), '', 'rejected');
      cell(tr, num(t.failedPerS, 2), '', 'failed');
      cell(tr, num(t.tokensPerS, 0), '', 'tokens');
      cell(tr, num(t.ttftMs.p50, 0), '', 'ttft-p50');
      cell(tr, num(t.ttftMs.p95, 0), '', 'ttft-p95');
      cell(tr, num(t.ttftMs.p99, 0), '', 'ttft-p99');
      cell(tr, pct(t.ttftAttainment), '', 'attainment');
    });
    rows('pools', s.pools, (tr, p) => {
      tr.dataset.pool = p.pool;
      cell(tr, p.pool);
      cell(tr, p.health, 'text ' + p.health, 'health');
      cell(tr, p.healthyWorkers + '/' + p.workers);
      cell(tr, String(p.running), '', 'running');
      cell(tr, String(p.waiting), '', 'queue');
      cell(tr, String(p.freeSlots));
      cell(tr, pct(p.kvUsed));
      cell(tr, pct(p.utilisation), '', 'utilisation');
      cell(tr, num(p.servedPerS, 2), '', 'served');
      cell(tr, p.drained ? 'drained' + (p.drainReason ? ': ' + p.drainReason : '') : 'in service', 'text', 'drain-state');
      const td = cell(tr, '');
      const b = document.createElement('button');
      b.className = p.drained ? 'undrain' : 'drain';
      b.textContent = p.drained ? 'Undrain' : 'Drain';
      b.onclick = () => act(p.pool, p.drained ? 'undrain' : 'drain');
      td.appendChild(b);
    });
    rows('tenants', s.tenants, (tr, t) => {
      cell(tr, t.tenant);
      cell(tr, String(t.requests));
      cell(tr, num(t.spendMicros / 1e6, 6), '', 'spend');
      cell(tr, num(t.spendPerHourMicros / 1e6, 4));
    });
    rows('decisions', s.decisions, (tr, d) => {
      tr.dataset.service = d.service;
      cell(tr, new Date(d.atMs).toISOString().slice(11, 23));
      cell(tr, d.service, 'text');
      cell(tr, d.action, 'text', 'action');
      cell(tr, d.tenant || '-', 'text');
      cell(tr, (d.chosen ? d.chosen + ': ' : '') + (d.reason || ''), 'reason').title = d.reason || '';
    });
  }

  async function refusal(res) {
    try { const b = await res.json(); return (b.error && b.error.message) || res.statusText; } catch { return res.statusText; }
  }

  async function act(pool, verb) {
    const res = await fetch('/console/pools/' + encodeURIComponent(pool) + '/' + verb, {
      method: 'POST',
      headers: { authorization: 'Bearer ' + sessionStorage.getItem(KEY), 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    if (res.ok) { message('info', 'pool ' + pool + ': ' + verb + ' done'); return; }
    const why = await refusal(res);
    message(res.status === 403 ? 'refused' : 'error', (res.status === 403 ? 'Refused: ' : 'Failed: ') + why);
  }

  async function follow() {
    const key = sessionStorage.getItem(KEY);
    if (!key) return;
    abort?.abort();
    abort = new AbortController();
    try {
      const res = await fetch('/console/events', { headers: { authorization: 'Bearer ' + key }, signal: abort.signal });
      if (!res.ok) { message('error', 'Not connected: ' + (await refusal(res))); $('who').textContent = 'not connected'; return; }
      message('', '');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\\n\\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\\n');
          if (data) draw(JSON.parse(data));
        }
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      message('error', 'Connection lost: ' + e.message + '; reconnecting');
    }
    setTimeout(follow, 1000);
  }

  $('login').onsubmit = (e) => {
    e.preventDefault();
    const key = $('key').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    $('key').value = '';
    follow();
  };
  $('forget').onclick = () => { sessionStorage.removeItem(KEY); abort?.abort(); $('who').textContent = 'not connected'; };
  follow();
})();
</script>
</body>
</html>
`;
