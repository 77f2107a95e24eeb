// The dashboard's pages (docs/dashboard.md). The whole view lives in the
// URL's query; each page fetches its JSON view from /dashboard/api/ and
// draws it. Every value from telemetry is set with textContent, never as
// HTML.
'use strict';

(function () {
  const api = '/dashboard/api/';
  const pages = ['overview', 'funnels', 'retention', 'performance', 'levels', 'explorer', 'jobs'];
  const presets = { '24h': 24, '7d': 7 * 24, '30d': 30 * 24, '90d': 90 * 24 };
  const kinds = ['player', 'funnel', 'gameplay', 'realtime'];
  // filters are the page filters (docs/dashboard.md, "Filters"), by their
  // URL and API name and their input; retention takes only build and region,
  // the levels page picks its level itself, the player timeline and the
  // jobs take none.
  const filters = { build_id: 'f-build', region: 'f-region', input_method: 'f-input', level_id: 'f-level' };
  const noFilters = { retention: ['input_method', 'level_id'], levels: ['level_id'], jobs: Object.keys(filters) };
  // The Levels page lives in levels.js (loaded before this file).
  const levelsPage = window.gpLevelsPage;
  const $ = (id) => document.getElementById(id);
  let charts = [];

  // el builds an element; text children are text nodes, never markup.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function fmtInt(n) { return n === null || n === undefined ? '–' : String(n); }
  function fmtPct(r) { return r === null || r === undefined ? '–' : (r * 100).toFixed(1) + '%'; }
  function fmtSec(s) { return s === null || s === undefined ? '–' : s.toFixed(1) + ' s'; }
  function fmtFps(f) { return f === null || f === undefined ? '–' : f.toFixed(1); }
  function label(v) { return v === null || v === undefined ? '(none)' : v; }
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);

  // view reads the page's state from the URL, with defaults.
  function view() {
    const q = new URLSearchParams(location.search);
    const page = pages.includes(q.get('page')) ? q.get('page') : 'overview';
    const v = {
      page,
      range: q.get('range') || '7d',
      from: q.get('from') || '', to: q.get('to') || '',
      steps: q.get('steps') || '', window: q.get('window') || '1h',
      per: q.get('per') || 'player', fby: q.get('fby') || '', by: q.get('by') || 'build_id',
      kind: (page === 'explorer' && q.get('kind')) || 'gameplay', jkind: q.get('jkind') || '', player: q.get('player') || '', session: q.get('session') || '', name: q.get('name') || '',
      filters: {},
    };
    for (const k of Object.keys(filters)) if (q.get(k)) v.filters[k] = q.get(k);
    if (page === 'levels' && levelsPage) v.lv = levelsPage.read(q);
    if (!(v.range in presets) && v.range !== 'custom') v.range = '7d';
    return v;
  }

  function viewQuery(v) {
    const q = new URLSearchParams({ page: v.page, range: v.range });
    if (v.range === 'custom') { q.set('from', v.from); q.set('to', v.to); }
    for (const [k, val] of Object.entries(v.filters || {})) if (val) q.set(k, val);
    if (v.page === 'funnels') {
      q.set('steps', v.steps); q.set('window', v.window); q.set('per', v.per);
      if (v.fby) q.set('fby', v.fby);
    }
    if (v.page === 'performance') q.set('by', v.by);
    if (v.page === 'explorer') {
      q.set('kind', v.kind);
      for (const k of ['player', 'session', 'name']) if (v[k]) q.set(k, v[k]);
    }
    if (v.page === 'jobs' && v.jkind) q.set('jkind', v.jkind);
    if (v.page === 'levels' && levelsPage) levelsPage.write(v.lv, q);
    return '?' + q.toString();
  }

  // rangeParams is the API's from/to for a view, with the filters that
  // apply to its page.
  function rangeParams(v) {
    let r;
    if (v.range === 'custom') r = { from: v.from, to: v.to };
    else {
      const to = new Date();
      const from = new Date(to.getTime() - presets[v.range] * 3600 * 1000);
      r = { from: from.toISOString().replace(/\.\d+Z$/, 'Z'), to: to.toISOString().replace(/\.\d+Z$/, 'Z') };
    }
    const skip = noFilters[v.page] || [];
    for (const [k, val] of Object.entries(v.filters || {})) if (val && !skip.includes(k)) r[k] = val;
    return r;
  }

  // getJSON fetches a JSON view. An error answer throws an Error with its
  // message, carrying the status and the JSON body (docs/dashboard.md,
  // "The JSON views": error, field, and for too_many_cells min_cell).
  async function getJSON(path, params) {
    const res = await fetch(api + path + '?' + new URLSearchParams(params).toString(), { credentials: 'same-origin' });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) { showSignIn(); throw new Error('signed out'); }
    if (!res.ok) throw Object.assign(new Error(body.message || ('HTTP ' + res.status)), { status: res.status, body });
    return body;
  }

  function showSignIn() {
    $('main').hidden = true; $('nav').hidden = true; $('signout').hidden = true;
    $('signin').hidden = false;
    $('signin-next').value = location.search;
    const err = new URLSearchParams(location.search).get('signin_error');
    const messages = {
      invalid_key: 'That is not a valid secret key for any app.',
      rate_limited: 'Too many sign-in attempts from this address; wait a minute and retry.',
      unavailable: 'The server cannot check keys right now; retry shortly.',
      invalid_request: 'The sign-in form could not be read; retry.',
    };
    if (err) { $('signin-error').hidden = false; $('signin-error').textContent = messages[err] || 'Sign-in failed.'; }
  }

  // countRange starts a chart of counts at zero, so a bar's height is its
  // count (uPlot's automatic range starts near the smallest value).
  const countRange = (u, min, max) => [0, max > 0 ? max * 1.1 : 1];

  function chart(title, days, series, opts) {
    const panel = el('div', { class: 'panel' }, el('h2', {}, title));
    $('view').append(panel);
    if (typeof uPlot === 'undefined') return panel;
    const width = Math.max(320, Math.min(1100, panel.clientWidth - 20));
    const u = new uPlot(Object.assign({
      width, height: 220,
      series: [{}].concat(series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 2, fill: s.fill }))),
      scales: { x: { time: true }, y: { range: countRange } },
      tzDate: (t) => uPlot.tzDate(new Date(t * 1e3), 'Etc/UTC'),
    }, opts || {}), [days].concat(series.map((s) => s.values)), panel);
    charts.push(u);
    return panel;
  }
  const palette = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6'];

  function table(headers, rows, id) {
    const t = el('table', id ? { id, class: 'data' } : { class: 'data' });
    t.append(el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))));
    const body = el('tbody');
    for (const r of rows) body.append(el('tr', {}, ...r.map((c, i) => el('td', i === 0 ? { class: 'name' } : {}, c))));
    t.append(body);
    return t;
  }

  function card(labelText, value, key) {
    return el('div', { class: 'card' }, el('div', { class: 'value', 'data-key': key }, value), el('div', { class: 'label' }, labelText));
  }

  const dayTime = (d) => Date.parse(d + 'T00:00:00Z') / 1000;

  async function renderOverview(v) {
    const d = await getJSON('overview', rangeParams(v));
    const t = d.totals;
    $('view').append(el('div', { class: 'cards' },
      card('active players', fmtInt(t.active_players), 'active_players'),
      card('new players', fmtInt(t.new_players), 'new_players'),
      card('sessions', fmtInt(t.sessions), 'sessions'),
      ...kinds.map((k) => card(k + ' events', fmtInt(t.events[k]), 'events_' + k)),
      card('rejected', fmtInt(sum(Object.values(d.rejected.totals))), 'rejected'),
      card('dead-lettered', fmtInt(t.dead_lettered), 'dead_lettered')));
    const days = d.days.map((x) => dayTime(x.day));
    chart('Events per kind per day', days, kinds.map((k) => ({ label: k, values: d.days.map((x) => x.events[k]) })));
    chart('Players per day', days, [
      { label: 'active', values: d.days.map((x) => x.active_players) },
      { label: 'new', values: d.days.map((x) => x.new_players) },
      { label: 'sessions', values: d.days.map((x) => x.sessions) },
    ]);
    const days2 = el('div', { class: 'panel' }, el('h2', {}, 'Per day'),
      table(['day', 'active players', 'new players', 'sessions'].concat(kinds),
        d.days.map((x) => [x.day, fmtInt(x.active_players), fmtInt(x.new_players), fmtInt(x.sessions)].concat(kinds.map((k) => fmtInt(x.events[k])))), 'days'));
    $('view').append(days2);
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'Top gameplay events'),
      table(['event name', 'events', 'players'], d.top_events.map((e) => [e.name, fmtInt(e.events), fmtInt(e.players)]), 'top-events')));
    renderRejected(d, days);
  }

  // renderRejected shows the events the api refused per day and reason
  // (the most first), beside the dead-lettered total; a reason is an error
  // code, shown as text.
  function renderRejected(d, days) {
    const r = d.rejected;
    const reasons = Object.keys(r.totals).sort((a, b) => r.totals[b] - r.totals[a] || (a < b ? -1 : 1));
    if (reasons.length > 0) {
      chart('Rejected events per day by reason', days, reasons.map((x) => ({ label: x, values: r.days.map((y) => y.reasons[x] || 0) })));
    }
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'Rejected and dead-lettered events'),
      el('p', { class: 'note' }, 'Events the api refused, by the error code it answered (whole UTC days). ' +
        'Dead-lettered events, accepted and then refused by the sink: ' + fmtInt(d.totals.dead_lettered) + ' in the range.'),
      table(['day', 'rejected'].concat(reasons),
        r.days.map((y) => [y.day, fmtInt(sum(Object.values(y.reasons)))].concat(reasons.map((x) => fmtInt(y.reasons[x] || 0)))), 'rejected-days')));
  }

  // loadSavedFunnels fills the saved-funnel picker; picking one opens it.
  let saved = [];
  function loadSavedFunnels(v) {
    return getJSON('funnels', {}).then((d) => {
      saved = d.funnels;
      $('saved-funnels').replaceChildren(el('option', { value: '' }, '–'), ...saved.map((f) => el('option', { value: f.name }, f.name)));
      const cur = saved.find((f) => f.steps.join(',') === v.steps);
      if (cur) { $('saved-funnels').value = cur.name; $('funnel-name').value = cur.name; }
    }).catch(() => {});
  }

  function openSaved() {
    const f = saved.find((x) => x.name === $('saved-funnels').value);
    if (!f) return;
    const v = view();
    Object.assign(v, { page: 'funnels', steps: f.steps.join(','), window: f.window, per: f.per, fby: f.by, filters: Object.assign({}, f.filters) });
    go(viewQuery(v));
  }

  async function sendFunnel(method, path, body) {
    const res = await fetch(api + path, {
      method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status === 204) return {};
    const out = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(out.message || ('HTTP ' + res.status));
    return out;
  }

  async function saveFunnel() {
    const v = view();
    try {
      const f = await sendFunnel('POST', 'funnels', {
        name: $('funnel-name').value, steps: $('steps').value.split(',').map((x) => x.trim()),
        window: $('window').value.trim(), per: $('per').value, by: $('funnel-by').value, filters: v.filters,
      });
      $('status').textContent = 'Saved "' + f.name + '".';
      loadSavedFunnels(view());
    } catch (e) { $('status').textContent = e.message; }
  }

  async function deleteFunnel() {
    const name = $('saved-funnels').value;
    if (!name) return;
    try {
      await sendFunnel('DELETE', 'funnels/' + encodeURIComponent(name));
      $('status').textContent = 'Deleted "' + name + '".';
      loadSavedFunnels(view());
    } catch (e) { $('status').textContent = e.message; }
  }

  async function renderFunnels(v) {
    const r = rangeParams(v);
    // The pickers load beside the funnel; the page is ready once all are.
    const pickers = Promise.all([loadSavedFunnels(v), getJSON('funnel/steps', r).then((s) => {
      const list = $('step-names');
      list.replaceChildren(...s.steps.map((x) => el('option', { value: x.name })));
    }).catch(() => {})]);
    if (!v.steps) {
      $('status').textContent = 'Pick the steps, in order, separated by commas.';
      await pickers;
      return;
    }
    const params = Object.assign({ steps: v.steps, window: v.window, per: v.per }, r);
    if (v.fby) params.by = v.fby;
    const d = await getJSON('funnel', params);
    const groups = d.groups ? d.groups : [{ value: undefined, steps: d.steps }];
    const wrap = el('div', { class: 'groups' });
    for (const g of groups) {
      const byName = { build_id: 'build', region: 'region', input_method: 'input method' };
      const title = g.value === undefined ? 'Funnel' : (byName[d.by] + ' ' + label(g.value));
      const panel = el('div', { class: 'panel funnel' }, el('h2', {}, title),
        table([d.per === 'session' ? 'step (sessions)' : 'step (players)', 'count', 'from first', 'from previous', 'drop-off', 'median from previous', 'p90 from previous'],
          g.steps.map((s) => [s.name, fmtInt(s.players), fmtPct(s.conversion_from_first), fmtPct(s.conversion_from_previous),
            fmtInt(s.drop_off), fmtSec(s.median_seconds), fmtSec(s.p90_seconds)])));
      wrap.append(panel);
      if (typeof uPlot !== 'undefined' && g.steps.length > 0) {
        const u = new uPlot({
          width: 420, height: 200, scales: { x: { time: false, range: [-0.5, g.steps.length - 0.5] }, y: { range: countRange } },
          axes: [{ values: (_, ticks) => ticks.map((i) => (g.steps[i] ? g.steps[i].name : '')) }, {}],
          series: [{}, { label: 'count', stroke: palette[0], fill: 'rgba(51,102,204,.3)', paths: uPlot.paths.bars({ size: [0.6] }) }],
        }, [g.steps.map((_, i) => i), g.steps.map((s) => s.players)], panel);
        charts.push(u);
      }
    }
    $('view').append(wrap);
    await pickers;
  }

  async function renderRetention(v) {
    const d = await getJSON('retention', rangeParams(v));
    const cell = (x) => (x === null ? 'not yet' : fmtInt(x.players) + ' (' + fmtPct(x.rate) + ')');
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'Cohorts by first-seen day (UTC)'),
      table(['first seen', 'players', 'day 1', 'day 7', 'day 30'],
        d.cohorts.map((c) => [c.day, fmtInt(c.players), cell(c.returned['1']), cell(c.returned['7']), cell(c.returned['30'])]), 'cohorts')));
  }

  async function renderPerformance(v) {
    const d = await getJSON('performance', Object.assign({ by: v.by }, rangeParams(v)));
    const names = { build_id: 'build', gpu: 'GPU', level_id: 'level' };
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'fps by ' + names[d.by] + ', slowest first'),
      table([names[d.by], 'trajectories', 'players', 'fps_mean p50', 'fps_mean p10', 'fps_low_5 p50', 'fps_low_1 p50', 'under 30 fps'],
        d.groups.map((g) => [label(g.value), fmtInt(g.trajectories), fmtInt(g.players), fmtFps(g.fps_mean.p50), fmtFps(g.fps_mean.p10),
          fmtFps(g.fps_low_5.p50), fmtFps(g.fps_low_1.p50), fmtPct(g.slow_share)]), 'perf-groups')));
    const panel = el('div', { class: 'panel' }, el('h2', {}, 'fps_mean histogram (trajectories)'));
    $('view').append(panel);
    if (typeof uPlot !== 'undefined') {
      charts.push(new uPlot({
        width: 700, height: 220, scales: { x: { time: false }, y: { range: countRange } },
        series: [{}, { label: 'trajectories', stroke: palette[1], fill: 'rgba(220,57,18,.3)', paths: uPlot.paths.bars({ size: [0.9] }) }],
      }, [d.histogram.map((b) => b.from + 5), d.histogram.map((b) => b.trajectories)], panel));
    }
  }

  // explorerLink is a link to the explorer narrowed to one player or
  // session; the href is a query string built by URLSearchParams.
  function explorerLink(v, text, extra) {
    const a = el('a', {}, text);
    a.setAttribute('href', viewQuery(Object.assign({}, v, { page: 'explorer', player: '', session: '', name: '' }, extra)));
    return a;
  }

  async function renderExplorer(v) {
    const r = rangeParams(v);
    if (v.player) {
      const p = await getJSON('player', { player_id: v.player, from: r.from, to: r.to });
      const id = p.identity;
      const panel = el('div', { class: 'panel', id: 'player' }, el('h2', {}, 'Player ' + p.player_id),
        el('p', {}, id ? ('first seen ' + id.first_seen + ', last seen ' + id.last_seen + ', build ' + label(id.build_id) +
          ', region ' + label(id.region) + ', hardware ' + JSON.stringify(id.hardware)) : 'No identity row (never sent Create_Player).'),
        table(['session', 'start', 'end', 'gameplay', 'funnel', 'realtime', 'levels', 'funnel steps', 'build', 'input'],
          p.sessions.map((s) => [explorerLink(v, s.session_id, { player: p.player_id, session: s.session_id }), s.start, s.end,
            fmtInt(s.gameplay), fmtInt(s.funnel), fmtInt(s.realtime), s.levels.join(', '), s.funnel_steps.join(', '),
            label(s.build_id), s.input_methods.join(', ')]), 'sessions'));
      $('view').append(panel);
    }
    const params = Object.assign({ kind: v.kind }, r);
    if (v.player) params.player_id = v.player;
    if (v.session) params.session_id = v.session;
    if (v.name) params.name = v.name;
    const d = await getJSON('events', params);
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'Latest ' + d.kind + ' events'),
      table(['time', 'player', 'session', 'build', 'name', 'fields'],
        d.events.map((e) => [e.timestamp, explorerLink(v, e.player_id, { player: e.player_id }), label(e.session_id), label(e.build_id),
          label(e.name), el('pre', { class: 'fields' }, JSON.stringify(e.fields, null, 1))]), 'events')));
  }

  // renderJobs shows the app's emotes and generations created in the
  // range: counts by status per day, durations of succeeded jobs and the
  // latest failures. Error messages are shown as text.
  async function renderJobs(v) {
    const params = rangeParams(v);
    if (v.jkind) params.kind = v.jkind;
    const d = await getJSON('jobs', params);
    // statuses are those with a job in the range, in the order of the
    // kinds' vocabularies (docs/jobs.md).
    const statuses = [];
    for (const k of d.kinds) {
      for (const s of d.statuses[k]) if (d.totals[k][s] > 0 && !statuses.includes(s)) statuses.push(s);
    }
    const perDay = (x, s) => d.kinds.reduce((sum, k) => sum + (x.counts[k][s] || 0), 0);
    $('view').append(el('div', { class: 'cards' },
      ...d.kinds.map((k) => card(k + 's', fmtInt(sum(Object.values(d.totals[k]))), 'jobs_' + k))));
    const days = d.days.map((x) => dayTime(x.day));
    chart('Jobs created per day by status', days, statuses.map((s) => ({ label: s, values: d.days.map((x) => perDay(x, s)) })));
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'Per day'),
      table(['day'].concat(statuses), d.days.map((x) => [x.day].concat(statuses.map((s) => fmtInt(perDay(x, s))))), 'job-days')));
    const totals = [];
    for (const k of d.kinds) for (const s of d.statuses[k]) if (d.totals[k][s] > 0) totals.push([k, s, fmtInt(d.totals[k][s])]);
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'By status (statuses with jobs)'), table(['kind', 'status', 'jobs'], totals, 'job-totals')));
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'Duration of succeeded jobs (created to finished)'),
      table(['kind', 'succeeded', 'p50', 'p90'], d.kinds.map((k) => {
        const x = d.durations[k];
        return [k, fmtInt(x.succeeded), fmtSec(x.p50_seconds), fmtSec(x.p90_seconds)];
      }), 'job-durations')));
    // The table fits its panel: an id shows its start (all of it in its
    // title, on hover), a message wraps; classes only, as the page's CSP
    // allows no inline style.
    const failures = table(['finished', 'kind', 'id', 'status', 'error', 'message', 'created'],
      d.failures.map((x) => [label(x.finished_at), x.kind, el('span', { class: 'clip', title: x.id }, x.id), x.status,
        label(x.error_code), el('span', { class: 'wrap' }, label(x.error_message)), x.created_at]), 'job-failures');
    failures.classList.add('fit');
    $('view').append(el('div', { class: 'panel' }, el('h2', {}, 'Latest failures'), failures));
  }

  // renderLevels hands the Levels page what it shares with the others.
  function renderLevels(v) {
    if (!levelsPage) throw new Error('The Levels page script did not load.');
    return levelsPage.render(v, { el, getJSON, rangeParams, viewQuery, go });
  }

  const renderers = { overview: renderOverview, funnels: renderFunnels, retention: renderRetention, performance: renderPerformance,
    levels: renderLevels, explorer: renderExplorer, jobs: renderJobs };

  // syncControls shows the view's state in the form.
  function syncControls(v) {
    for (const a of document.querySelectorAll('#nav a')) {
      const p = a.getAttribute('data-page');
      a.setAttribute('href', viewQuery(Object.assign({}, v, { page: p })));
      if (p === v.page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    $('range').value = v.range;
    $('custom-range').hidden = v.range !== 'custom';
    $('from').value = v.from.replace(/Z$/, '');
    $('to').value = v.to.replace(/Z$/, '');
    $('funnel-controls').hidden = v.page !== 'funnels';
    $('performance-controls').hidden = v.page !== 'performance';
    $('steps').value = v.steps; $('window').value = v.window; $('per').value = v.per;
    $('funnel-by').value = v.fby; $('perf-by').value = v.by;
    $('explorer-controls').hidden = v.page !== 'explorer';
    $('jobs-controls').hidden = v.page !== 'jobs';
    $('job-kind').value = v.jkind;
    $('kind').value = v.kind; $('player').value = v.player; $('session').value = v.session; $('name').value = v.name;
    const skip = noFilters[v.page] || [];
    for (const [k, id] of Object.entries(filters)) {
      $(id).value = v.filters[k] || '';
      $(id).closest('label').hidden = skip.includes(k);
    }
  }

  async function render() {
    const v = view();
    syncControls(v);
    for (const c of charts) c.destroy();
    charts = [];
    if (levelsPage) levelsPage.stop();
    $('view').replaceChildren();
    $('status').textContent = 'Loading…';
    document.body.setAttribute('data-state', 'loading');
    try {
      await renderers[v.page](v);
      if ($('status').textContent === 'Loading…') $('status').textContent = '';
      document.body.setAttribute('data-state', 'ready');
    } catch (e) {
      $('status').textContent = e.message;
      document.body.setAttribute('data-state', 'error');
    }
  }

  function go(search) {
    history.pushState(null, '', search);
    render();
  }

  function onSubmit(ev) {
    ev.preventDefault();
    const v = view();
    v.range = $('range').value;
    if (v.range === 'custom') {
      const iso = (s) => (s.length === 16 ? s + ':00' : s) + 'Z';
      v.from = $('from').value ? iso($('from').value) : rangeParams({ range: '7d' }).from;
      v.to = $('to').value ? iso($('to').value) : rangeParams({ range: '7d' }).to;
    }
    v.steps = $('steps').value.trim(); v.window = $('window').value.trim();
    v.per = $('per').value; v.fby = $('funnel-by').value; v.by = $('perf-by').value;
    v.kind = $('kind').value; v.player = $('player').value.trim(); v.session = $('session').value.trim(); v.name = $('name').value.trim();
    v.jkind = $('job-kind').value;
    v.filters = {};
    for (const [k, id] of Object.entries(filters)) if ($(id).value.trim()) v.filters[k] = $(id).value.trim();
    go(viewQuery(v));
  }

  async function start() {
    if (typeof uPlot === 'undefined') {
      $('notice').hidden = false;
      $('notice').textContent = 'The charting library is not built into this server (run make build); charts are left out, tables still show.';
    }
    let session;
    try {
      const res = await fetch(api + 'session', { credentials: 'same-origin' });
      session = await res.json();
      if (res.status === 401 || !session.signed_in) { showSignIn(); document.body.setAttribute('data-state', 'signin'); return; }
    } catch (e) {
      $('notice').hidden = false; $('notice').textContent = 'Cannot reach the server: ' + e.message;
      return;
    }
    $('app-name').textContent = session.app_name + ' (' + session.app_id + ')';
    $('main').hidden = false; $('nav').hidden = false; $('signout').hidden = false;
    $('nav').addEventListener('click', (ev) => {
      const a = ev.target.closest('a');
      if (!a) return;
      ev.preventDefault();
      go(a.getAttribute('href'));
    });
    $('controls').addEventListener('submit', onSubmit);
    $('saved-funnels').addEventListener('change', openSaved);
    $('save-funnel').addEventListener('click', saveFunnel);
    $('delete-funnel').addEventListener('click', deleteFunnel);
    $('range').addEventListener('change', () => { $('custom-range').hidden = $('range').value !== 'custom'; });
    window.addEventListener('popstate', render);
    render();
  }

  start();
}());
