// The Levels page (docs/dashboard.md, "Pages"): a level's model in 3D with
// the players' heatmap, paths and a replay laid over it, or a top-down 2D
// heatmap. app.js owns the page frame (URL, range, filters, sign-in) and
// calls gpLevelsPage.render; this file draws the page. three.js comes from
// the bundle vendor/gp3.iife.min.js (window.GP3); without it the 2D view
// still works. Every value from telemetry is set with textContent, never as
// HTML (canvas text is drawn, not parsed).
'use strict';

(function () {
  const metrics = ['count', 'fps_mean', 'fps_low_1'];
  // A model's alignment when the server sends none (the contract's default).
  const noAlignment = { up_axis: 'y', scale: 1, offset: [0, 0, 0] };
  // fps colours run from red at fpsRed and below to green at fpsGreen and
  // above (the Performance page counts under 30 fps as slow).
  const fpsRed = 15, fpsGreen = 60;
  // The 2D view draws a model's triangles as its outline up to this many,
  // else its bounding box alone.
  const maxOutlineTriangles = 60000;
  const sessionColors = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#9a6324'];

  // keep is what outlives one render of the page: the WebGL renderer (one
  // for the page's life: browsers allow few contexts), models downloaded by
  // id, and what the test hook reads.
  const keep = {
    three: null, threeError: null, loads: new Map(), fitKey: '', gen: 0,
    cellsMesh: null, cells2D: 0, heat: null, marker: null, playing: 0, onResize: null, model: null,
  };

  // read is the page's state from the URL (the contract's page parameters).
  function read(q) {
    const num = (s) => (s && Number(s) > 0 ? s : '');
    return {
      level: q.get('level'),
      model: q.get('model') || '',
      kind: q.get('kind') === 'gameplay' ? 'gameplay' : 'trajectory',
      events: q.get('events') || '',
      metric: metrics.includes(q.get('metric')) ? q.get('metric') : 'count',
      view: ['3d', '2d'].includes(q.get('view')) ? q.get('view') : '',
      cell: num(q.get('cell')),
      up: q.get('up') === 'z' ? 'z' : '',
      sessions: (q.get('sessions') || '').split(',').filter(Boolean).slice(0, 20),
      replay: q.get('replay') || '',
    };
  }

  // write puts the page's state into the query q.
  function write(lv, q) {
    if (!lv) return;
    if (lv.level !== null && lv.level !== undefined) q.set('level', lv.level);
    for (const k of ['model', 'view', 'cell', 'up', 'replay']) if (lv[k]) q.set(k, lv[k]);
    q.set('kind', lv.kind);
    if (lv.kind === 'gameplay' && lv.events) q.set('events', lv.events);
    if (lv.kind === 'trajectory' && lv.metric !== 'count') q.set('metric', lv.metric);
    if (lv.sessions.length) q.set('sessions', lv.sessions.join(','));
  }

  // aligner maps a telemetry point to the model's space (y up):
  // q = R(up)·(scale·p) + offset, R the identity for y and
  // (x, y, z) → (x, z, −y) for z. unaligner is its inverse.
  function aligner(a) {
    const s = a.scale, o = a.offset;
    if (a.up_axis === 'z') return (x, y, z) => [s * x + o[0], s * z + o[1], -s * y + o[2]];
    return (x, y, z) => [s * x + o[0], s * y + o[1], s * z + o[2]];
  }
  function unaligner(a) {
    const s = a.scale, o = a.offset;
    if (a.up_axis === 'z') return (x, y, z) => [(x - o[0]) / s, -(z - o[2]) / s, (y - o[1]) / s];
    return (x, y, z) => [(x - o[0]) / s, (y - o[1]) / s, (z - o[2]) / s];
  }

  // pow2up is the smallest power of two at least x (x > 0).
  const pow2up = (x) => Math.pow(2, Math.ceil(Math.log2(x) - 1e-9));

  // Colours: viridis for counts (log scale), red to green for fps.
  const viridis = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function ramp(t) {
    t = Math.min(1, Math.max(0, t)) * (viridis.length - 1);
    const i = Math.min(viridis.length - 2, Math.floor(t)), f = t - i;
    return viridis[i].map((c, k) => Math.round(c + (viridis[i + 1][k] - c) * f));
  }
  function hsl(h, s, l) {
    const k = (n) => (n + h / 30) % 12, a = s * Math.min(l, 1 - l);
    const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
    return [f(0), f(8), f(4)].map((c) => Math.round(c * 255));
  }
  // cellColor is [r, g, b] (0–255) for a cell's value under the answer's
  // metric; null values (no fps in the cell) are grey.
  function cellColor(heat, value) {
    if (value === null || value === undefined) return [150, 150, 150];
    if (heat.metric === 'count') {
      const lo = Math.max(1, heat.min_value || 1), hi = Math.max(lo, heat.max_value || 1);
      return ramp(hi > lo ? Math.log(value / lo) / Math.log(hi / lo) : 1);
    }
    return hsl(120 * Math.min(1, Math.max(0, (value - fpsRed) / (fpsGreen - fpsRed))), 0.75, 0.45);
  }
  const css = (c, alpha) => 'rgba(' + c[0] + ',' + c[1] + ',' + c[2] + ',' + (alpha === undefined ? 1 : alpha) + ')';

  // column reads a cell's field by the answer's column names.
  function columns(heat) {
    const at = {};
    heat.columns.forEach((c, i) => { at[c] = i; });
    return at;
  }

  // ---- models ------------------------------------------------------------

  // loadModel downloads a model (once per id, with its progress) and parses
  // it by format. The entry's promise resolves to {object} or {error}.
  function loadModel(m) {
    let entry = keep.loads.get(m.id);
    if (entry) return entry;
    entry = { loaded: 0, total: m.size || 0, listeners: new Set(), state: 'loading', error: '' };
    const tell = () => { for (const f of entry.listeners) f(entry); };
    entry.promise = (async () => {
      let buf;
      try {
        const res = await fetch(m.file_url, { credentials: 'same-origin' });
        if (!res.ok) throw new Error('the download failed (HTTP ' + res.status + ')');
        entry.total = Number(res.headers.get('Content-Length')) || entry.total;
        const reader = res.body.getReader(), parts = [];
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(value);
          entry.loaded += value.length;
          tell();
        }
        buf = new Uint8Array(entry.loaded);
        let at = 0;
        for (const p of parts) { buf.set(p, at); at += p.length; }
      } catch (e) {
        keep.loads.delete(m.id); // a failed download is tried again next time
        entry.state = 'error'; entry.error = e.message; tell();
        return { error: 'The model could not be downloaded: ' + e.message };
      }
      try {
        const object = await parseModel(m.format, buf.buffer);
        const { THREE } = window.GP3;
        object.updateMatrixWorld(true);
        const box = new THREE.Box3().setFromObject(object);
        if (box.isEmpty()) throw new Error('it holds no geometry');
        outline(THREE, object);
        entry.state = 'loaded'; tell();
        return { object, box };
      } catch (e) {
        entry.state = 'error'; entry.error = String(e && e.message ? e.message : e); tell();
        return { error: 'The model (' + m.format + ') could not be read: ' + entry.error };
      }
    })();
    keep.loads.set(m.id, entry);
    return entry;
  }

  // outline adds its feature edges to each mesh of a model (faces of one
  // colour and direction, a block's top and the floor, read apart), up to
  // maxOutlineTriangles in all.
  function outline(THREE, object) {
    let tris = 0;
    const meshes = [];
    object.traverse((o) => {
      if (!o.isMesh || !o.geometry || !o.geometry.attributes.position) return;
      meshes.push(o);
      tris += (o.geometry.index ? o.geometry.index.count : o.geometry.attributes.position.count) / 3;
    });
    if (tris > maxOutlineTriangles) return;
    const material = new THREE.LineBasicMaterial({ color: 0x3c4456, transparent: true, opacity: 0.5 });
    for (const m of meshes) m.add(new THREE.LineSegments(new THREE.EdgesGeometry(m.geometry, 20), material));
  }

  function parseModel(format, buf) {
    if (typeof window.GP3 === 'undefined') return Promise.reject(new Error('the 3D library is not built into this server (run make build)'));
    const G = window.GP3;
    return new Promise((resolve, reject) => {
      try {
        if (format === 'glb' || format === 'gltf') new G.GLTFLoader().parse(buf, '', (g) => resolve(g.scene), (e) => reject(e));
        else if (format === 'obj') {
          // An OBJ's materials live in a separate MTL file, which an upload
          // does not carry: its objects get matte colours in turn, not the
          // loader's white that vanishes against the background.
          const object = new G.OBJLoader().parse(new TextDecoder().decode(buf));
          const tones = [0xb9bcc4, 0xc8b89a, 0xa9b8a4].map((c) => new G.THREE.MeshLambertMaterial({ color: c }));
          let n = 0;
          object.traverse((o) => { if (o.isMesh) o.material = tones[n++ % tones.length]; });
          resolve(object);
        }
        else if (format === 'fbx') resolve(new G.FBXLoader().parse(buf, ''));
        else reject(new Error('unknown format ' + format));
      } catch (e) { reject(e); }
    });
  }

  // defaultCell is the model's largest side in telemetry units / 64,
  // rounded up to a power of two (at most 64 cells along it), as the
  // server rounds its own default from the level's bounds.
  function defaultCell(box, a) {
    const size = box.getSize(new window.GP3.THREE.Vector3());
    const side = Math.max(size.x, size.y, size.z) / a.scale;
    return side > 0 ? pow2up(side / 64) : 0;
  }

  // ---- 3D ----------------------------------------------------------------

  // three builds the renderer, scene and controls once.
  function three() {
    if (keep.three || keep.threeError) return keep.three;
    if (typeof window.GP3 === 'undefined') { keep.threeError = 'The 3D library is not built into this server (run make build); the 2D view works.'; return null; }
    const { THREE, OrbitControls } = window.GP3;
    let renderer;
    try {
      renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    } catch (e) {
      keep.threeError = 'WebGL is not available in this browser (' + e.message + '); the 2D view works.';
      return null;
    }
    renderer.domElement.id = 'level-canvas';
    const scene = new THREE.Scene();
    scene.background = new THREE.Color(0xf4f6fa);
    scene.add(new THREE.HemisphereLight(0xffffff, 0x8090a0, 1.6));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(0.6, 1, 0.4);
    scene.add(sun);
    const camera = new THREE.PerspectiveCamera(50, 16 / 9, 0.1, 1e6);
    const controls = new OrbitControls(camera, renderer.domElement);
    const t = { THREE, renderer, scene, camera, controls, model: new THREE.Group(), overlay: new THREE.Group(), live: new THREE.Group() };
    scene.add(t.model, t.overlay, t.live);
    t.draw = () => renderer.render(scene, camera);
    controls.addEventListener('change', t.draw);
    keep.three = t;
    return t;
  }

  // clearGroup removes a group's children and frees their GPU buffers; a
  // model's own geometry stays cached for the next render.
  function clearGroup(g, dispose) {
    for (const c of [...g.children]) {
      g.remove(c);
      if (!dispose) continue;
      c.traverse((o) => {
        if (o.geometry) o.geometry.dispose();
        if (o.material) for (const m of [].concat(o.material)) m.dispose();
      });
    }
  }

  // buildCells draws the heatmap's cells as one InstancedMesh, each cell a
  // box of the cell's size at its aligned centre.
  function buildCells(t, heat, align, scale) {
    const { THREE } = t;
    const at = columns(heat), n = heat.cells.length;
    const size = heat.cell * scale;
    const mesh = new THREE.InstancedMesh(new THREE.BoxGeometry(1, 1, 1),
      new THREE.MeshBasicMaterial({ transparent: true, opacity: 0.8, depthWrite: false }), n);
    const m = new THREE.Matrix4(), q = new THREE.Quaternion(), s = new THREE.Vector3(size, size, size).multiplyScalar(0.9);
    const col = new THREE.Color();
    const o = heat.origin;
    heat.cells.forEach((c, idx) => {
      const p = align(o[0] + (c[at.i] + 0.5) * heat.cell, o[1] + (c[at.j] + 0.5) * heat.cell, o[2] + (c[at.k] + 0.5) * heat.cell);
      m.compose(new THREE.Vector3(p[0], p[1], p[2]), q, s);
      mesh.setMatrixAt(idx, m);
      const rgb = cellColor(heat, c[at.value]);
      mesh.setColorAt(idx, col.setRGB(rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, THREE.SRGBColorSpace));
    });
    mesh.count = n;
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
    mesh.name = 'heatmap';
    return mesh;
  }

  // buildPaths draws each trajectory of the paths answer as a line, one
  // colour per session.
  function buildPaths(t, paths, align) {
    const { THREE } = t;
    const g = new THREE.Group();
    paths.forEach((p, i) => {
      // Drawn over everything: a path shows through the cells and walls.
      const material = new THREE.LineBasicMaterial({ color: sessionColors[i % sessionColors.length], depthTest: false, transparent: true });
      for (const tr of p.trajectories) {
        const pts = [];
        for (let k = 0; k + 2 < tr.positions.length; k += 3) pts.push(...align(tr.positions[k], tr.positions[k + 1], tr.positions[k + 2]));
        if (pts.length < 6) continue;
        const geom = new THREE.BufferGeometry();
        geom.setAttribute('position', new THREE.Float32BufferAttribute(pts, 3));
        const line = new THREE.Line(geom, material);
        line.renderOrder = 2;
        g.add(line);
      }
    });
    g.name = 'paths';
    return g;
  }

  // fit points the camera at a box from above and to the side.
  function fit(t, box) {
    const { THREE } = t;
    const c = box.getCenter(new THREE.Vector3()), size = box.getSize(new THREE.Vector3());
    const r = Math.max(size.x, size.y, size.z, 1);
    t.camera.near = r / 1000; t.camera.far = r * 100;
    t.camera.position.set(c.x + r * 0.6, c.y + r * 0.9, c.z + r * 1.0);
    t.camera.updateProjectionMatrix();
    t.controls.target.copy(c);
    t.controls.update();
  }

  // ---- replay ------------------------------------------------------------

  // timeline spreads each trajectory's points evenly over its
  // timestamp_start … timestamp_end (one point at the start when there is
  // no end), as docs/dashboard.md ("Levels") says.
  function timeline(path) {
    const segs = [];
    for (const tr of path.trajectories) {
      const n = Math.floor(tr.positions.length / 3);
      if (n === 0) continue;
      const s = Date.parse(tr.timestamp_start), e = tr.timestamp_end ? Date.parse(tr.timestamp_end) : s;
      segs.push({ s, e: n > 1 ? Math.max(s, e) : s, n, pos: tr.positions, fps: tr.fps });
    }
    segs.sort((a, b) => a.s - b.s);
    if (!segs.length) return null;
    return { segs, t0: segs[0].s, t1: Math.max(...segs.map((x) => x.e)) };
  }

  // positionAt is the player's telemetry position at time t: within a
  // trajectory, between its two points around t; between trajectories, the
  // last point of the one before (the player was not tracked).
  function positionAt(tl, t) {
    let seg = tl.segs[0];
    for (const s of tl.segs) if (s.s <= t) seg = s;
    const p = (k) => [seg.pos[3 * k], seg.pos[3 * k + 1], seg.pos[3 * k + 2]];
    if (t <= seg.s || seg.n === 1) return { p: p(0), seg };
    if (t >= seg.e) return { p: p(seg.n - 1), seg };
    const f = ((t - seg.s) / (seg.e - seg.s)) * (seg.n - 1), k = Math.min(seg.n - 2, Math.floor(f)), w = f - k;
    const a = p(k), b = p(k + 1);
    return { p: a.map((v, i) => v + (b[i] - v) * w), seg };
  }

  // ---- the page ----------------------------------------------------------

  function stop() {
    if (keep.playing) cancelAnimationFrame(keep.playing);
    keep.playing = 0;
    if (keep.onResize) window.removeEventListener('resize', keep.onResize);
    keep.onResize = null;
  }

  async function render(v, ctx) {
    stop();
    const gen = ++keep.gen;
    const stale = () => gen !== keep.gen;
    const { el } = ctx;
    const lv = v.lv;
    const r = ctx.rangeParams(v);
    keep.cellsMesh = null; keep.cells2D = 0; keep.heat = null; keep.marker = null; keep.model = null;
    if (keep.three) clearGroup(keep.three.live, true);
    const go = (changes) => ctx.go(ctx.viewQuery(Object.assign({}, v, { lv: Object.assign({}, lv, changes) })));

    const list = await ctx.getJSON('levels', r);
    if (stale()) return;
    const levels = list.levels || [];
    if (list.truncated) $view(ctx).append(el('p', { class: 'note' }, 'Only the first ' + levels.length + ' levels are listed.'));
    if (!levels.length) {
      $view(ctx).append(el('p', { class: 'note', id: 'no-levels' }, 'No level has events, trajectories or a model in this range.'));
      return;
    }
    const level = levels.find((l) => l.ref === lv.level) || levels[0];
    const models = level.models || [];
    const model = models.find((m) => m.id === lv.model) || models[0] || null;
    const align = model ? Object.assign({}, noAlignment, model.alignment || {}) : Object.assign({}, noAlignment, { up_axis: lv.up || 'y' });
    const built = typeof window.GP3 !== 'undefined';
    const view3d = (lv.view || (model && built ? '3d' : '2d')) === '3d';

    // Controls: the page's choices, each applied at once.
    const levelName = (l) => (l.level_id === null ? '(unknown level)' : l.level_id);
    const levelSel = el('select', { id: 'lv-level' }, ...levels.map((l) => el('option', { value: l.ref },
      levelName(l) + (l.models.length ? ' — model v' + l.models[0].version + ' (' + l.models[0].format + ')' : ' — no model'))));
    levelSel.value = level.ref;
    levelSel.addEventListener('change', () => go({ level: levelSel.value, model: '', cell: '', sessions: [], replay: '' }));
    const modelSel = el('select', { id: 'lv-model' }, ...(models.length ? models.map((m, i) => el('option', { value: m.id },
      'v' + m.version + (i === 0 ? ' (latest)' : '') + ' ' + m.format + ', ' + m.filename + ', ' + m.created_at)) : [el('option', { value: '' }, 'none uploaded')]));
    modelSel.value = model ? model.id : '';
    modelSel.disabled = !models.length;
    modelSel.addEventListener('change', () => go({ model: modelSel.value === (models[0] && models[0].id) ? '' : modelSel.value, cell: '' }));
    const viewSel = el('select', { id: 'lv-view' }, el('option', { value: '3d' }, '3D'), el('option', { value: '2d' }, '2D (top-down)'));
    viewSel.value = view3d ? '3d' : '2d';
    viewSel.addEventListener('change', () => go({ view: viewSel.value }));
    const kindSel = el('select', { id: 'lv-kind' }, el('option', { value: 'trajectory' }, 'trajectories'), el('option', { value: 'gameplay' }, 'gameplay events'));
    kindSel.value = lv.kind;
    kindSel.addEventListener('change', () => go({ kind: kindSel.value, metric: 'count' }));
    const eventsIn = el('input', { id: 'lv-events', size: '24', list: 'lv-event-names', placeholder: 'every event with a position' });
    eventsIn.value = lv.events;
    eventsIn.addEventListener('change', () => go({ events: eventsIn.value.split(',').map((x) => x.trim()).filter(Boolean).join(',') }));
    const names = el('datalist', { id: 'lv-event-names' });
    const metricSel = el('select', { id: 'lv-metric' }, el('option', { value: 'count' }, 'count'),
      el('option', { value: 'fps_mean' }, 'fps (mean)'), el('option', { value: 'fps_low_1' }, 'fps (1% low)'));
    metricSel.value = lv.kind === 'trajectory' ? lv.metric : 'count';
    metricSel.disabled = lv.kind !== 'trajectory';
    metricSel.addEventListener('change', () => go({ metric: metricSel.value }));
    const cellOut = el('span', { id: 'lv-cell' }, '…');
    const finer = el('button', { type: 'button', id: 'lv-cell-half' }, '÷ 2');
    const coarser = el('button', { type: 'button', id: 'lv-cell-double' }, '× 2');
    const label = (text, control) => el('label', {}, text, control);
    const bar = el('div', { class: 'controls levels-controls' }, label('Level', levelSel), label('Model version', modelSel),
      label('View', viewSel), label('Heatmap of', kindSel));
    if (lv.kind === 'gameplay') bar.append(label('Events (comma-separated)', eventsIn), names);
    bar.append(label('Colour by', metricSel), el('span', { class: 'cellsize' }, 'Cell ', cellOut, ' (telemetry units) ', finer, coarser));
    if (!model) {
      const upSel = el('select', { id: 'lv-up' }, el('option', { value: 'y' }, 'y'), el('option', { value: 'z' }, 'z'));
      upSel.value = align.up_axis;
      upSel.addEventListener('change', () => go({ up: upSel.value === 'z' ? 'z' : '' }));
      bar.append(label('Up axis', upSel));
    }
    const counts = el('p', { class: 'note', id: 'lv-counts' }, levelName(level) + ': ' + level.gameplay_events + ' gameplay events (' +
      level.positioned_events + ' with a position), ' + level.trajectories + ' trajectories, ' + level.points + ' points.');
    const status = el('p', { class: 'note', id: 'lv-status' });
    const viewer = el('div', { class: 'panel viewer' });
    const side = el('div', { class: 'levels-side' });
    $view(ctx).append(bar, counts, el('div', { class: 'levels-main' }, viewer, side));
    const ref = encodeURIComponent(level.ref);
    // The Events input suggests the level's own names with a position (the
    // ones a gameplay heatmap can draw), the most frequent first; without
    // them it still takes any name.
    if (lv.kind === 'gameplay') {
      ctx.getJSON('levels/' + ref + '/events', r).then((d) => {
        if (!stale()) names.replaceChildren(...d.events.map((e) => el('option', { value: e.name }, e.positioned_events + ' with a position')));
      }).catch(() => {});
    }

    // The model: downloaded (with progress) and parsed, in both views: the
    // 3D view shows it, the 2D view draws its outline.
    let loaded = null;
    const msg = el('p', { class: 'error', id: 'model-message', hidden: '' });
    if (model && !built) {
      viewer.append(msg);
      msg.hidden = false;
      msg.textContent = 'The 3D library is not built into this server (run make build): the model is not shown, the 2D view works.';
    } else if (model) {
      const progress = el('progress', { id: 'model-progress', max: '1', value: '0' });
      const progressText = el('span', { class: 'note' }, 'Downloading the model…');
      const box = el('div', { class: 'progress', id: 'model-loading' }, progress, ' ', progressText);
      viewer.append(box, msg);
      const entry = loadModel(model);
      const show = (e) => {
        if (e.total > 0) { progress.max = e.total; progress.value = e.loaded; }
        progressText.textContent = 'Downloading the model: ' + kib(e.loaded) + (e.total ? ' of ' + kib(e.total) : '') +
          (e.state === 'loading' ? '' : ' — ' + e.state);
      };
      show(entry);
      entry.listeners.add(show);
      loaded = await entry.promise;
      entry.listeners.delete(show);
      if (stale()) return;
      box.hidden = true;
      keep.model = { id: model.id, state: loaded.error ? 'error' : 'loaded', error: loaded.error || '' };
      if (loaded.error) { msg.hidden = false; msg.textContent = loaded.error + (view3d ? ' The overlays are drawn without it; the 2D view works.' : ''); }
    } else {
      viewer.append(msg);
    }

    // The cell size: the URL's, else from the model's bounds, else the
    // server's choice.
    let cell = lv.cell;
    if (!cell && loaded && loaded.box) cell = String(defaultCell(loaded.box, align) || '');
    const heatParams = (dims) => {
      const p = Object.assign({ kind: lv.kind, dims: String(dims) }, r);
      if (lv.kind === 'gameplay' && lv.events) p.events = lv.events;
      if (lv.kind === 'trajectory') p.metric = lv.metric;
      if (dims === 2) p.up = align.up_axis;
      if (cell) p.cell = cell;
      return p;
    };
    let heat, minCell = 0;
    try {
      heat = await ctx.getJSON('levels/' + ref + '/heatmap', heatParams(view3d ? 3 : 2));
    } catch (e) {
      if (stale()) return;
      heat = null;
      // A cell too small for the answer: the server names the smallest
      // that fits, one click away.
      if (e.body && e.body.error === 'too_many_cells' && e.body.min_cell > 0) {
        minCell = e.body.min_cell;
        viewer.append(tooSmall(ctx, cell, e.message, minCell, go));
      } else {
        status.textContent = 'Heatmap: ' + e.message;
        viewer.append(status);
      }
    }
    if (stale()) return;
    if (heat) heat.cells = heat.cells || [];
    keep.heat = heat;
    const base = heat ? heat.cell : Number(cell) || 0;
    if (base) {
      finer.addEventListener('click', () => go({ cell: String(base / 2) }));
      coarser.addEventListener('click', () => go({ cell: String(base * 2) }));
    } else {
      finer.disabled = true;
      coarser.disabled = true;
    }
    if (minCell) { cellOut.textContent = String(cell); finer.disabled = true; }
    if (heat) {
      cellOut.textContent = String(heat.cell);
      status.textContent = heat.cells.length + ' cells, ' + heat.total + (lv.kind === 'gameplay' ? ' events' : ' points') +
        (heat.metric === 'count' ? '' : ', colour by ' + heat.metric + ' (' + fpsRed + ' fps red … ' + fpsGreen + ' fps green; grey: no fps)');
      viewer.append(status, legend(ctx, heat));
    }

    // Sessions, their paths and the replay.
    const chosen = [...new Set(lv.sessions.concat(lv.replay ? [lv.replay] : []))];
    const [sess, paths] = await Promise.all([
      ctx.getJSON('levels/' + ref + '/sessions', r).catch((e) => ({ error: e.message, sessions: [] })),
      chosen.length ? ctx.getJSON('levels/' + ref + '/paths', pathParams(r, chosen)).catch((e) => ({ error: e.message, paths: [] })) : { paths: [] },
    ]);
    if (stale()) return;
    sess.sessions = sess.sessions || [];
    paths.paths = paths.paths || [];

    // redraw lays the overlays out again for an alignment: the saved one,
    // or the editor's while it changes.
    let redraw = () => {};
    // A new up axis changes the 2D view's axes, which the server bins by:
    // once saved, the page is drawn again.
    const saved = (a) => { if (!view3d && a.up_axis !== align.up_axis) go({}); };
    const editor = model ? alignmentEditor(ctx, model, align, (a) => redraw(a), saved) : null;
    if (view3d) {
      const t = three();
      if (!t) {
        viewer.append(el('p', { class: 'error', id: 'webgl-message' }, keep.threeError));
      } else {
        viewer.append(t.renderer.domElement);
        const resize = () => {
          const w = Math.max(320, Math.min(1400, viewer.clientWidth - 24)), h = Math.round(Math.min(640, w * 0.6));
          t.renderer.setSize(w, h);
          t.camera.aspect = w / h;
          t.camera.updateProjectionMatrix();
          t.draw();
        };
        keep.onResize = resize;
        window.addEventListener('resize', resize);
        clearGroup(t.model, false);
        if (loaded && loaded.object) t.model.add(loaded.object);
        let current = align;
        const replay = lv.replay ? replayControls(ctx, t, paths.paths, lv.replay, () => aligner(current), (heat ? heat.cell : 1) * align.scale) : null;
        redraw = (a) => {
          current = a;
          clearGroup(t.overlay, true);
          const fn = aligner(a);
          keep.cellsMesh = heat ? buildCells(t, heat, fn, a.scale) : null;
          if (keep.cellsMesh) t.overlay.add(keep.cellsMesh);
          if (paths.paths.length) t.overlay.add(buildPaths(t, paths.paths, fn));
          if (replay) replay.place();
          t.draw();
        };
        resize();
        redraw(align);
        const key = level.ref + '|' + (model ? model.id : '');
        if (keep.fitKey !== key) {
          keep.fitKey = key;
          const box = loaded && loaded.box ? loaded.box.clone() : new t.THREE.Box3().setFromObject(t.overlay);
          if (!box.isEmpty()) fit(t, box);
          t.draw();
        }
        if (replay) viewer.append(replay.panel);
      }
    } else {
      const canvas = el('canvas', { id: 'level-2d' });
      const readout = el('p', { class: 'note', id: 'lv-readout' }, 'Point at a cell for its numbers.');
      viewer.append(canvas, readout);
      let current = align;
      redraw = (a) => {
        current = a;
        keep.cells2D = draw2D(canvas, readout, heat, loaded && loaded.object, a, viewer.clientWidth - 24);
        if (a.up_axis !== align.up_axis) readout.textContent = 'The heatmap keeps the saved up axis until the alignment is saved.';
      };
      keep.onResize = () => redraw(current);
      window.addEventListener('resize', keep.onResize);
      redraw(align);
      if (lv.replay) viewer.append(el('p', { class: 'note' }, 'The replay plays in the 3D view.'));
    }
    if (editor) side.append(editor);
    else side.append(el('div', { class: 'panel' }, el('h2', {}, 'No model'),
      el('p', { class: 'note' }, 'Upload one for this level with POST /api/models (docs/models.md); its level_name must be the level id.')));
    $view(ctx).append(sessionsPanel(ctx, sess, paths, lv, go));
  }

  const $view = () => document.getElementById('view');
  const kib = (n) => (n / 1024).toFixed(1) + ' KiB';
  // shortTime shows an RFC 3339 time as "2026-03-01 10:00:00" (UTC).
  const shortTime = (s) => (typeof s === 'string' ? s.replace('T', ' ').replace(/(\.\d+)?Z$/, '') : String(s));

  function pathParams(r, sessions) {
    const q = new URLSearchParams(r);
    for (const s of sessions) q.append('session_id', s);
    return q;
  }

  // tooSmall explains a heatmap refused as too_many_cells at cell, with a
  // button that asks again at min_cell, the smallest cell the server allows.
  function tooSmall(ctx, cell, message, minCell, go) {
    const { el } = ctx;
    const use = el('button', { type: 'button', id: 'lv-min-cell' }, 'Use the smallest allowed cell (' + String(minCell) + ')');
    use.addEventListener('click', () => go({ cell: String(minCell) }));
    return el('div', { id: 'lv-too-small' },
      el('p', { class: 'error' }, 'Cell ' + cell + ' is too small for this heatmap. The smallest cell allowed is ' + String(minCell) + '.'),
      el('p', { class: 'note' }, message), use);
  }

  // legend is a small canvas with the colour scale of the answer.
  function legend(ctx, heat) {
    const c = ctx.el('canvas', { id: 'lv-legend', width: '260', height: '34' });
    const g = c.getContext('2d');
    for (let x = 0; x < 200; x++) {
      let v;
      if (heat.metric === 'count') {
        const lo = Math.max(1, heat.min_value || 1), hi = Math.max(lo, heat.max_value || 1);
        v = lo * Math.pow(hi / lo, x / 199);
      } else v = fpsRed - 5 + ((fpsGreen - fpsRed + 10) * x) / 199;
      g.fillStyle = css(cellColor(heat, v));
      g.fillRect(30 + x, 4, 1, 14);
    }
    g.fillStyle = '#333'; g.font = '11px system-ui, sans-serif';
    const lo = heat.metric === 'count' ? String(Math.max(1, heat.min_value || 1)) : '≤' + fpsRed;
    const hi = heat.metric === 'count' ? String(heat.max_value || 1) : '≥' + fpsGreen;
    g.fillText(lo, 30, 30);
    g.fillText(hi, 230 - g.measureText(hi).width, 30);
    return c;
  }

  // draw2D draws the dims=2 answer top-down on a 2D canvas, over the
  // model's outline (its triangles' edges, or its bounding box, projected
  // into telemetry units), and returns how many cells it drew.
  function draw2D(canvas, readout, heat, object, a, width) {
    const W = Math.max(320, Math.min(1200, width || 800));
    const un = unaligner(a);
    // Axes kept: for up y, x and z; for up z, x and y. Screen x is the
    // first; screen y runs down for z (y up) and up for y (z up), as the
    // 3D view seen from above.
    const up = heat ? heat.up : a.up_axis;
    const keepAxes = up === 'z' ? [0, 1] : [0, 2];
    const flip = up === 'z';
    let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
    const grow = (u, v) => { lo = [Math.min(lo[0], u), Math.min(lo[1], v)]; hi = [Math.max(hi[0], u), Math.max(hi[1], v)]; };
    // The outline: the model's feature edges (three's EdgesGeometry: the
    // edges between faces that meet at an angle, not the diagonals of flat
    // faces) and its upward faces filled faintly, so floors show and
    // stacked surfaces (a block on the floor) show darker.
    const edges = [], tops = [];
    let outlineBox = null;
    if (object) {
      const { THREE } = window.GP3;
      let tris = 0;
      object.traverse((o) => { if (o.isMesh && o.geometry && o.geometry.attributes.position) tris += (o.geometry.index ? o.geometry.index.count : o.geometry.attributes.position.count) / 3; });
      const flat = (x, y, z) => { const p = un(x, y, z); return [p[keepAxes[0]], p[keepAxes[1]]]; };
      if (tris <= maxOutlineTriangles) {
        object.traverse((o) => {
          if (!o.isMesh || !o.geometry || !o.geometry.attributes.position) return;
          const m = o.matrixWorld, v = new THREE.Vector3();
          const at = (attr, i) => { v.fromBufferAttribute(attr, i).applyMatrix4(m); return flat(v.x, v.y, v.z); };
          const eg = new THREE.EdgesGeometry(o.geometry, 20), ep = eg.attributes.position;
          for (let i = 0; i + 1 < ep.count; i += 2) edges.push([at(ep, i), at(ep, i + 1)]);
          eg.dispose();
          const pos = o.geometry.attributes.position, idx = o.geometry.index, n = idx ? idx.count : pos.count;
          const a = new THREE.Vector3(), b = new THREE.Vector3(), c = new THREE.Vector3();
          for (let i = 0; i + 2 < n; i += 3) {
            const k = (j) => (idx ? idx.getX(j) : j);
            a.fromBufferAttribute(pos, k(i)).applyMatrix4(m); b.fromBufferAttribute(pos, k(i + 1)).applyMatrix4(m); c.fromBufferAttribute(pos, k(i + 2)).applyMatrix4(m);
            const normal = new THREE.Vector3().subVectors(b, a).cross(new THREE.Vector3().subVectors(c, a));
            if (normal.y > 0.7 * normal.length()) tops.push([flat(a.x, a.y, a.z), flat(b.x, b.y, b.z), flat(c.x, c.y, c.z)]);
          }
        });
      }
      const b = new THREE.Box3().setFromObject(object);
      const corners = [];
      for (const x of [b.min.x, b.max.x]) for (const y of [b.min.y, b.max.y]) for (const z of [b.min.z, b.max.z]) corners.push(flat(x, y, z));
      outlineBox = [Math.min(...corners.map((c) => c[0])), Math.min(...corners.map((c) => c[1])),
        Math.max(...corners.map((c) => c[0])), Math.max(...corners.map((c) => c[1]))];
      grow(outlineBox[0], outlineBox[1]); grow(outlineBox[2], outlineBox[3]);
    }
    let at = null;
    if (heat && heat.cells.length) {
      at = columns(heat);
      for (const c of heat.cells) {
        const u = heat.origin[0] + c[at.i] * heat.cell, v = heat.origin[1] + c[at.j] * heat.cell;
        grow(u, v); grow(u + heat.cell, v + heat.cell);
      }
    }
    if (!isFinite(lo[0])) { lo = [0, 0]; hi = [1, 1]; }
    const span = [Math.max(hi[0] - lo[0], 1e-9), Math.max(hi[1] - lo[1], 1e-9)];
    const pad = 28;
    const k = Math.min((W - 2 * pad) / span[0], 640 / span[1]);
    const H = Math.round(span[1] * k + 2 * pad);
    canvas.width = W; canvas.height = H;
    const sx = (u) => pad + (u - lo[0]) * k;
    const sy = (v) => (flip ? H - pad - (v - lo[1]) * k : pad + (v - lo[1]) * k);
    const g = canvas.getContext('2d');
    g.fillStyle = '#fbfcfe'; g.fillRect(0, 0, W, H);
    g.fillStyle = 'rgba(90,100,120,.12)';
    for (const t of tops) {
      g.beginPath();
      g.moveTo(sx(t[0][0]), sy(t[0][1])); g.lineTo(sx(t[1][0]), sy(t[1][1])); g.lineTo(sx(t[2][0]), sy(t[2][1]));
      g.closePath();
      g.fill();
    }
    if (edges.length) {
      g.strokeStyle = 'rgba(60,70,90,.6)'; g.lineWidth = 1;
      g.beginPath();
      for (const e of edges) { g.moveTo(sx(e[0][0]), sy(e[0][1])); g.lineTo(sx(e[1][0]), sy(e[1][1])); }
      g.stroke();
    }
    if (outlineBox) {
      g.setLineDash([6, 4]); g.strokeStyle = '#556'; g.lineWidth = 1.5;
      const x0 = sx(outlineBox[0]), x1 = sx(outlineBox[2]), y0 = sy(outlineBox[1]), y1 = sy(outlineBox[3]);
      g.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
      g.setLineDash([]);
    }
    let drawn = 0;
    if (at) {
      const px = Math.max(1, heat.cell * k);
      for (const c of heat.cells) {
        const u = heat.origin[0] + c[at.i] * heat.cell, v = heat.origin[1] + c[at.j] * heat.cell;
        g.fillStyle = css(cellColor(heat, c[at.value]), 0.85);
        const y = flip ? sy(v + heat.cell) : sy(v);
        g.fillRect(sx(u), y, px, px);
        drawn++;
      }
    }
    // Axis names and the extent, in telemetry units.
    const names = up === 'z' ? ['x', 'y'] : ['x', 'z'];
    g.fillStyle = '#333'; g.font = '11px system-ui, sans-serif';
    g.fillText(names[0] + ' →  ' + lo[0].toFixed(1) + ' … ' + hi[0].toFixed(1), pad, H - 8);
    g.fillText(names[1] + (flip ? ' ↑  ' : ' ↓  ') + lo[1].toFixed(1) + ' … ' + hi[1].toFixed(1), pad, 16);
    canvas.onmousemove = (ev) => {
      if (!at) return;
      const rect = canvas.getBoundingClientRect();
      const u = lo[0] + (ev.clientX - rect.left - pad) / k;
      const v = flip ? lo[1] + (H - pad - (ev.clientY - rect.top)) / k : lo[1] + (ev.clientY - rect.top - pad) / k;
      const i = Math.floor((u - heat.origin[0]) / heat.cell), j = Math.floor((v - heat.origin[1]) / heat.cell);
      const c = heat.cells.find((x) => x[at.i] === i && x[at.j] === j);
      readout.textContent = c ? 'cell (' + i + ', ' + j + '): ' + c[at.count] + (heat.kind === 'gameplay' ? ' events' : ' points') +
        (heat.metric === 'count' ? '' : ', ' + heat.metric + ' ' + (c[at.value] === null ? '–' : c[at.value].toFixed(1))) : 'no data at (' + u.toFixed(1) + ', ' + v.toFixed(1) + ')';
    };
    return drawn;
  }

  // alignmentEditor edits a model version's alignment: changes show at once
  // (onChange), Save stores them with PUT …/alignment (then onSaved).
  function alignmentEditor(ctx, model, align, onChange, onSaved) {
    const { el } = ctx;
    const up = el('select', { id: 'al-up' }, el('option', { value: 'y' }, 'y'), el('option', { value: 'z' }, 'z'));
    up.value = align.up_axis;
    const num = (id, v) => { const i = el('input', { id, type: 'number', step: 'any', size: '7' }); i.value = String(v); return i; };
    const scale = num('al-scale', align.scale);
    const off = [0, 1, 2].map((i) => num('al-off-' + 'xyz'[i], align.offset[i]));
    const out = el('p', { class: 'note', id: 'al-status' });
    const current = () => {
      const s = Number(scale.value), o = off.map((i) => Number(i.value));
      if (!(s > 0) || o.some((x) => !isFinite(x))) return null;
      return { up_axis: up.value, scale: s, offset: o };
    };
    const changed = () => { const a = current(); if (a) onChange(a); out.textContent = a ? 'Not saved yet.' : 'Scale must be above 0 and offsets numbers.'; };
    for (const i of [up, scale, ...off]) i.addEventListener('input', changed);
    const save = el('button', { type: 'button', id: 'al-save' }, 'Save alignment');
    save.addEventListener('click', async () => {
      const a = current();
      if (!a) return;
      try {
        const res = await fetch('/dashboard/api/models/' + encodeURIComponent(model.id) + '/alignment', {
          method: 'PUT', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(a),
        });
        const body = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(body.message || ('HTTP ' + res.status));
        out.textContent = 'Saved for model v' + model.version + '.';
        onSaved(a);
      } catch (e) { out.textContent = 'Not saved: ' + e.message; }
    });
    return el('div', { class: 'panel', id: 'alignment' }, el('h2', {}, 'Alignment of model v' + model.version),
      el('p', { class: 'note' }, 'Maps telemetry to the model: scale, then the up axis (z up turns to y up), then the offset.'),
      el('div', { class: 'controls' }, el('label', {}, 'Telemetry up axis', up), el('label', {}, 'Scale', scale),
        el('label', {}, 'Offset x', off[0]), el('label', {}, 'Offset y', off[1]), el('label', {}, 'Offset z', off[2])),
      save, out);
  }

  // sessionsPanel lists the level's sessions; each can show its path and
  // be replayed.
  function sessionsPanel(ctx, sess, paths, lv, go) {
    const { el } = ctx;
    const panel = el('div', { class: 'panel', id: 'lv-sessions' }, el('h2', {}, 'Sessions (latest first)'));
    if (sess.error) panel.append(el('p', { class: 'error' }, sess.error));
    if (paths.error) panel.append(el('p', { class: 'error' }, 'Paths: ' + paths.error));
    if (!sess.sessions.length) { panel.append(el('p', { class: 'note' }, 'No session has trajectories on this level in the range.')); return panel; }
    const rows = sess.sessions.map((s) => {
      const box = el('input', { type: 'checkbox', 'data-session': s.session_id });
      box.checked = lv.sessions.includes(s.session_id);
      box.addEventListener('change', () => {
        const next = lv.sessions.filter((x) => x !== s.session_id);
        if (box.checked) next.push(s.session_id);
        go({ sessions: next.slice(0, 20) });
      });
      const play = el('button', { type: 'button', 'data-replay': s.session_id }, lv.replay === s.session_id ? 'Replaying' : 'Replay');
      play.addEventListener('click', () => go({ replay: s.session_id, view: '3d' }));
      return [box, s.player_id, s.session_id, String(s.trajectories), String(s.points), shortTime(s.start), play];
    });
    const t = el('table', { class: 'data', id: 'lv-session-table' });
    t.append(el('thead', {}, el('tr', {}, ...['path', 'player', 'session', 'traj.', 'points', 'start (UTC)', ''].map((h) => el('th', {}, h)))));
    const body = el('tbody');
    for (const r of rows) body.append(el('tr', {}, ...r.map((c) => el('td', {}, c))));
    t.append(body);
    panel.append(t);
    return panel;
  }

  // replayControls moves a marker along one session's positions over time:
  // a slider over the session's time and play/pause.
  function replayControls(ctx, t, paths, session, alignFn, size) {
    const { el } = ctx;
    const path = paths.find((p) => p.session_id === session);
    const panel = el('div', { class: 'replay', id: 'lv-replay' });
    const tl = path ? timeline(path) : null;
    if (!tl) {
      panel.append(el('p', { class: 'note' }, 'Session ' + session + ' has no positions on this level in the range.'));
      return { panel, place() {} };
    }
    const { THREE } = t;
    const marker = new THREE.Mesh(new THREE.SphereGeometry(1, 20, 14),
      new THREE.MeshBasicMaterial({ color: 0xff00aa, depthTest: false, transparent: true }));
    marker.name = 'replay-marker';
    marker.renderOrder = 3;
    marker.scale.setScalar(Math.max(size * 0.6, 1e-3));
    t.live.add(marker);
    const slider = el('input', { type: 'range', id: 'lv-replay-slider', min: '0', max: '1000', step: '1', value: '0' });
    const playBtn = el('button', { type: 'button', id: 'lv-replay-play' }, 'Play');
    const speed = el('select', { id: 'lv-replay-speed' }, el('option', { value: '1' }, '1×'), el('option', { value: '10' }, '10×'), el('option', { value: '60' }, '60×'));
    speed.value = '10';
    const when = el('span', { class: 'note', id: 'lv-replay-time' });
    const at = () => tl.t0 + ((tl.t1 - tl.t0) * Number(slider.value)) / 1000;
    const place = () => {
      const now = at(), r = positionAt(tl, now), q = alignFn()(r.p[0], r.p[1], r.p[2]);
      marker.position.set(q[0], q[1], q[2]);
      keep.marker = { telemetry: r.p, model: q, time: new Date(now).toISOString(), ms: now, slider: Number(slider.value) };
      when.textContent = new Date(now).toISOString() + (r.seg.fps && r.seg.fps.mean !== null ? ' — ' + r.seg.fps.mean.toFixed(1) + ' fps' : '');
      t.draw();
    };
    slider.addEventListener('input', place);
    let last = 0;
    const tick = (ms) => {
      if (last) {
        const span = Math.max(1, tl.t1 - tl.t0);
        const v = Number(slider.value) + ((ms - last) * Number(speed.value) * 1000) / span;
        slider.value = String(Math.min(1000, v));
        place();
        if (v >= 1000) { keep.playing = 0; playBtn.textContent = 'Play'; last = 0; return; }
      }
      last = ms;
      keep.playing = requestAnimationFrame(tick);
    };
    playBtn.addEventListener('click', () => {
      if (keep.playing) { cancelAnimationFrame(keep.playing); keep.playing = 0; last = 0; playBtn.textContent = 'Play'; return; }
      if (Number(slider.value) >= 1000) slider.value = '0';
      playBtn.textContent = 'Pause';
      keep.playing = requestAnimationFrame(tick);
    });
    panel.append(el('strong', {}, 'Replay of ' + session + ' '), playBtn, ' ', slider, ' ', speed, ' ', when);
    return { panel, place };
  }

  window.gpLevelsPage = { read, write, render, stop };

  // A read-only hook for the browser test (internal/e2e): what the page
  // drew, not a way to change it.
  window.gpLevels = {
    cellsDrawn: () => (keep.cellsMesh ? keep.cellsMesh.count : 0),
    cells2D: () => keep.cells2D,
    heatmap: () => keep.heat,
    markerPosition: () => keep.marker,
    model: () => keep.model,
    renderer: () => (keep.three ? keep.three.renderer : null),
    webgl: () => !!(keep.three && keep.three.renderer.getContext()),
  };
}());
