// The mca dashboard: one page, hash-routed, reading the service's own API; charts drawn by BokehJS.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const HORIZONS = ["1h", "4h", "1d", "1w", "1m"];
const WINDOWS = ["1d", "30d", "90d", "365d", "all"];
const SEGMENT_TYPES = ["all", "category", "liquidity_bucket", "tte_bucket", "volume_bucket"];
const view = document.getElementById("view");
let stopPolling = () => {};

// ---- small helpers ---------------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

class ApiError extends Error {}

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(`${response.status} ${detail}`);
  }
  return (response.headers.get("content-type") || "").includes("json") ? response.json() : response.text();
}

const fmt = (v, digits = 3) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const when = (ts) => (ts ? new Date(ts).toISOString().replace("T", " ").slice(0, 19) : "–");
const num = (v, digits) => h("td", { class: "num" }, fmt(v, digits));

function table(columns, rows, rowAttrs = () => ({})) {
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((r) => h("tr", rowAttrs(r), columns.map(([, cell]) => cell(r))))));
}

function select(name, values, current, blank = null) {
  const options = (blank === null ? [] : [h("option", { value: "" }, blank)])
    .concat(values.map((v) => h("option", { value: v, selected: v === current }, v)));
  return h("label", {}, name.replace("_", " "), h("select", { name }, options));
}

function filterForm(fields, state, onChange) {
  const form = h("form", { class: "filters" }, fields);
  form.addEventListener("change", () => onChange(Object.fromEntries(new FormData(form))));
  form.addEventListener("submit", (e) => { e.preventDefault(); onChange(Object.fromEntries(new FormData(form))); });
  return form;
}

function failure(error) {
  return h("p", { class: "error" }, error instanceof ApiError ? `The API answered ${error.message}.` : String(error));
}

// ---- grades (the rule: mca_serving/dashboard/grades.py, docs/dashboard.md) ------------------------------

function grade(row) {
  const g = CONFIG.grades;
  const ece = row.ece_debiased ?? row.ece;
  if (ece === null || ece === undefined || !row.n) return "–";
  let index = g.ece_bounds.findIndex((bound) => Math.max(ece, 0) <= bound);
  if (index < 0) index = g.letters.length - 1;
  if (row.brier !== null && row.uncertainty !== null && row.brier >= row.uncertainty) index += g.no_skill_penalty;
  const letter = g.letters[Math.min(index, g.letters.length - 1)];
  return row.low_confidence ? `${letter}?` : letter;
}

const gradeCell = (row) => { const g = grade(row); return h("td", { class: `grade grade-${g[0]}` }, g); };

// ---- charts ----------------------------------------------------------------------------------------------

const P = () => Bokeh.Plotting;

async function draw(figure, container, points) {
  container.replaceChildren();
  await P().show(figure, container);
  container.dataset.points = String(points);  // drawn (a count, or JSON per horizon): the headless check reads it
}

function reliabilityFigure(title, bins) {
  const fig = P().figure({
    title, width: 300, height: 300, x_range: [-0.03, 1.03], y_range: [-0.03, 1.03],
    x_axis_label: "forecast p (bin mean)", y_axis_label: "observed YES rate", tools: "pan,wheel_zoom,reset,save",
  });
  fig.line([0, 1], [0, 1], { line_dash: "dashed", line_color: "#9ca3af", legend_label: "y = x" });
  const data = {
    p: bins.map((b) => b.p_mean), y: bins.map((b) => b.y_rate), lo: bins.map((b) => b.y_rate_ci_low),
    hi: bins.map((b) => b.y_rate_ci_high), n: bins.map((b) => b.n),
    size: bins.map((b) => 8 + 1.5 * Math.sqrt(Math.min(b.n, 400))),
  };
  const source = new Bokeh.ColumnDataSource({ data });
  fig.segment({ x0: { field: "p" }, y0: { field: "lo" }, x1: { field: "p" }, y1: { field: "hi" }, source,
    line_color: "#2563eb", line_width: 2, legend_label: "Wilson 95%" });
  const dots = fig.scatter({ x: { field: "p" }, y: { field: "y" }, size: { field: "size" }, source,
    fill_color: "#2563eb", line_color: "#1e3a8a", fill_alpha: 0.8 });
  fig.add_tools(new Bokeh.HoverTool({ renderers: [dots],
    tooltips: [["p", "@p{0.000}"], ["YES rate", "@y{0.000}"], ["interval", "@lo{0.000} – @hi{0.000}"], ["n", "@n"]] }));
  fig.legend.location = "bottom_right";
  return fig;
}

function marketFigure(detail) {
  const fig = P().figure({ title: "probability path and forecast band", width: 760, height: 320, x_axis_type: "datetime",
    y_range: [0, 1], y_axis_label: "P(YES)", tools: "pan,xwheel_zoom,box_zoom,reset,save" });
  const ms = (points) => points.map((p) => Date.parse(p.ts));
  let drawn = 0;
  if (detail.path.length) {
    fig.line(ms(detail.path), detail.path.map((p) => p.p), { line_color: "#374151", legend_label: "daily path" });
    drawn += detail.path.length;
  }
  if (detail.live_path.length) {
    fig.line(ms(detail.live_path), detail.live_path.map((p) => p.p),
      { line_color: "#2563eb", line_width: 2, legend_label: "intraday (5 min)" });
    drawn += detail.live_path.length;
  }
  const band = detail.band.filter((b) => b.q10 !== null && b.q90 !== null);
  if (band.length) {
    const x = band.map((b) => Date.parse(b.ts));
    fig.varea(x, band.map((b) => b.q10), band.map((b) => b.q90),
      { fill_color: "#f59e0b", fill_alpha: 0.3, legend_label: "forecast q10–q90" });
    fig.line(x, band.map((b) => b.q50), { line_color: "#b45309", line_dash: "dashed", legend_label: "forecast q50" });
    drawn += band.length;
  }
  fig.legend.location = "top_left";
  return [fig, drawn];
}

function trustFigure(trust) {
  const names = Object.keys(trust.components).filter((k) => trust.components[k] !== null);
  const fig = P().figure({ title: `trust ${fmt(trust.trust_score, 1)} (${trust.formula_version ?? "?"})`,
    width: 380, height: 40 + 28 * Math.max(names.length, 1), y_range: names, x_range: [0, 1], tools: "save",
    x_axis_label: "component (0 worst, 1 best)" });
  fig.hbar({ y: names, right: names.map((k) => trust.components[k]), height: 0.6, fill_color: "#10b981",
    line_color: null });
  return [fig, names.length];
}

// ---- views -----------------------------------------------------------------------------------------------

async function scoreboardView(params) {
  const state = { window: params.window || "90d", horizon: params.horizon || "", segment_type: params.segment_type || "",
    category: params.category || "", liquidity_bucket: params.liquidity_bucket || "" };
  const rows = await api("/scoreboard", state);
  const overall = rows.filter((r) => r.segment_type === "all");
  const cards = h("div", { class: "cards" }, overall.map((r) => {
    const g = grade(r);
    return h("div", { class: "card", "data-horizon": r.horizon },
      h("div", { class: "label" }, `horizon ${r.horizon} · all markets`),
      h("div", { class: `grade grade-${g[0]}` }, g),
      h("div", { class: "label" }, `Brier ${fmt(r.brier)} · ECE ${fmt(r.ece_debiased ?? r.ece)} · n ${r.n}`));
  }));
  const form = filterForm([
    select("window", WINDOWS, state.window),
    select("horizon", HORIZONS, state.horizon, "every horizon"),
    select("segment_type", SEGMENT_TYPES, state.segment_type, "every segment"),
    select("liquidity_bucket", ["LOW", "MID", "HIGH"], state.liquidity_bucket, "any liquidity"),
    h("label", {}, "category", h("input", { name: "category", value: state.category, placeholder: "e.g. politics" })),
  ], state, (values) => go("scoreboard", values));
  view.replaceChildren(h("h2", {}, `Scoreboard (${rows[0]?.dt ?? "no scored day"}, window ${state.window})`), form,
    cards,
    table([
      ["horizon", (r) => h("td", {}, r.horizon)], ["segment", (r) => h("td", {}, `${r.segment_type}: ${r.segment}`)],
      ["grade", gradeCell], ["n", (r) => num(r.n, 0)], ["events", (r) => num(r.n_events, 0)],
      ["Brier", (r) => num(r.brier)], ["Brier 95% CI", (r) => h("td", { class: "num" }, `${fmt(r.brier_ci_low)} – ${fmt(r.brier_ci_high)}`)],
      ["log loss", (r) => num(r.log_loss)], ["ECE", (r) => num(r.ece)], ["ECE debiased", (r) => num(r.ece_debiased)],
      ["resolution", (r) => num(r.resolution)], ["uncertainty", (r) => num(r.uncertainty)],
      ["slope", (r) => num(r.slope, 2)], ["intercept", (r) => num(r.intercept, 2)],
      ["reliability", (r) => h("td", {}, h("a", { href: `#/reliability?window=${r.window}&segment_type=${r.segment_type}&segment=${encodeURIComponent(r.segment)}` }, "diagram"))],
    ], rows, (r) => ({ "data-row": `${r.horizon}|${r.segment_type}|${r.segment}`, "data-grade": grade(r) })),
    h("p", { class: "muted" }, "Grade: calibration error (debiased ECE) A ≤ 0.02 < B ≤ 0.05 < C ≤ 0.10 < D ≤ 0.20 < F; ",
      "one letter lower when the Brier score does not beat the base rate; ? = low confidence (few events)."));
}

async function reliabilityView(params) {
  const state = { window: params.window || "90d", segment_type: params.segment_type || "all", segment: params.segment || "" };
  const filters = { window: state.window, segment_type: state.segment_type };  // both at once: one round trip
  const [scores, allBins] = await Promise.all([api("/scoreboard", filters), api("/reliability", filters)]);
  const segments = [...new Set(scores.map((r) => r.segment))].sort();
  if (!segments.includes(state.segment)) state.segment = segments[0] || "";
  const form = filterForm([
    select("window", WINDOWS, state.window), select("segment_type", SEGMENT_TYPES, state.segment_type),
    select("segment", segments, state.segment),
  ], state, (values) => go("reliability", values.segment_type !== state.segment_type ? { ...values, segment: "" } : values));
  const charts = h("div", { class: "charts" });
  view.replaceChildren(h("h2", {}, `Reliability diagrams (window ${state.window}, ${state.segment_type}: ${state.segment || "–"})`),
    form, charts, h("p", { class: "muted" }, "Dots: the mean forecast of each bin against the observed YES rate (size ~ √n); ",
      "bars: Wilson 95% intervals of the rate; dashed: perfect calibration."));
  if (!state.segment) { charts.append(h("p", { class: "muted" }, "Nothing scored for this segment type.")); return; }
  const bins = allBins.filter((b) => b.segment === state.segment && b.p_mean !== null && b.y_rate !== null);
  const drawn = HORIZONS.map((horizon) => [horizon, bins.filter((b) => b.horizon === horizon)]).filter(([, b]) => b.length);
  if (!drawn.length) { charts.append(h("p", { class: "muted" }, "No bins for this segment.")); return; }
  const figures = drawn.map(([horizon, mine]) => {
    const score = scores.find((r) => r.horizon === horizon && r.segment === state.segment);
    return reliabilityFigure(`${horizon} · grade ${score ? grade(score) : "–"} · n ${score?.n ?? "?"}`, mine);
  });
  // one document for every horizon: one layout pass and one shared toolbar
  const box = h("div", { class: "chart", "data-chart": "reliability" });
  charts.append(box);
  const grid = P().gridplot(figures, { ncols: Math.min(figures.length, 4), merge_tools: true, toolbar_location: "right" });
  await draw(grid, box, JSON.stringify(Object.fromEntries(drawn.map(([horizon, mine]) => [horizon, mine.length]))));
}

function alertsTable(alerts, fresh = new Set()) {
  return table([
    ["time (UTC)", (a) => h("td", {}, when(a.ts))], ["severity", (a) => h("td", { class: `sev-${a.severity}` }, a.severity)],
    ["source", (a) => h("td", {}, a.source)],
    ["market", (a) => h("td", {}, a.market_id ? h("a", { href: `#/market/${encodeURIComponent(a.market_id)}` }, a.market_id) : "–")],
    ["reasons", (a) => h("td", {}, a.reason_codes.join(", "))], ["message", (a) => h("td", { class: "wrap" }, a.message ?? "")],
  ], alerts, (a) => ({ class: fresh.has(a.alert_id) ? "fresh" : null, "data-alert": a.alert_id }));
}

async function alertsView(params) {
  const state = { severity: params.severity || "", source: params.source || "" };
  const seen = new Set();
  const status = h("p", { class: "muted", id: "feed-status" }, "loading…");
  const holder = h("div", { id: "feed", "data-polls": "0" });
  view.replaceChildren(h("h2", {}, "Alert feed (newest first, live)"),
    filterForm([select("severity", ["HIGH", "MED", "FYI"], state.severity, "any severity"),
      select("source", ["rule", "check", "drift"], state.source, "any source")], state, (v) => go("alerts", v)),
    status, holder);
  let timer = null;
  let alive = true;
  async function poll() {
    try {
      const page = await api("/alerts", { ...state, limit: CONFIG.alerts_page });
      const fresh = new Set(seen.size ? page.items.filter((a) => !seen.has(a.alert_id)).map((a) => a.alert_id) : []);
      page.items.forEach((a) => seen.add(a.alert_id));
      holder.replaceChildren(page.items.length ? alertsTable(page.items, fresh) : h("p", { class: "muted" }, "No alerts."));
      holder.dataset.polls = String(Number(holder.dataset.polls) + 1);
      status.textContent = `${page.items.length} alerts · ${fresh.size} new · refreshed ${when(new Date())} · every ${CONFIG.alerts_poll_ms / 1000} s`;
    } catch (error) {
      status.replaceChildren(failure(error));
    }
    if (alive) timer = setTimeout(poll, CONFIG.alerts_poll_ms);
  }
  stopPolling = () => { alive = false; clearTimeout(timer); };
  await poll();
}

async function marketsView(params) {
  const state = { q: params.q || "", status: params.status || "", category: params.category || "",
    liquidity_bucket: params.liquidity_bucket || "", min_trust_score: params.min_trust_score || "" };
  const page = await api("/markets", { ...state, limit: 100 });
  view.replaceChildren(h("h2", {}, `Markets (${page.total})`),
    filterForm([
      h("label", {}, "search", h("input", { name: "q", value: state.q, placeholder: "words in the question" })),
      select("status", ["live", "closed", "resolved", "unseen"], state.status, "any status"),
      h("label", {}, "category", h("input", { name: "category", value: state.category })),
      select("liquidity_bucket", ["LOW", "MID", "HIGH"], state.liquidity_bucket, "any liquidity"),
      h("label", {}, "min trust", h("input", { name: "min_trust_score", value: state.min_trust_score, type: "number", min: 0, max: 100 })),
    ], state, (v) => go("markets", v)),
    table([
      ["market", (m) => h("td", { class: "wrap" }, h("a", { href: `#/market/${encodeURIComponent(m.market_id)}` }, m.question || m.market_id))],
      ["category", (m) => h("td", {}, m.category ?? "–")], ["status", (m) => h("td", {}, m.label ? `${m.status} (${m.label})` : m.status)],
      ["P(YES)", (m) => num(m.p_yes)], ["volume $", (m) => num(m.volume_usd, 0)], ["liquidity", (m) => h("td", {}, m.liquidity_bucket ?? "–")],
      ["trust", (m) => num(m.trust_score, 1)], ["ends", (m) => h("td", {}, when(m.end_ts))],
    ], page.items));
}

async function marketView(marketId) {
  const m = await api(`/markets/${encodeURIComponent(marketId)}`);
  const latest = m.latest || {};
  const facts = h("dl", { class: "kv" },
    [["market", m.registry.market_id], ["category", m.registry.category], ["status", m.resolution ? `resolved ${m.resolution.label}` : (latest.closed ? "closed" : "live")],
      ["P(YES)", fmt(latest.p_yes)], ["bid / ask", `${fmt(latest.best_bid)} / ${fmt(latest.best_ask)}`], ["volume $", fmt(latest.volume_usd, 0)],
      ["liquidity", latest.liquidity_bucket ?? "–"], ["ends", when(latest.end_ts)], ["seen", `${m.registry.first_seen_dt} .. ${m.registry.last_seen_dt}`]]
      .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]));
  const pathBox = h("div", { class: "chart", "data-chart": "market-path" });
  const trustBox = h("div", { class: "chart", "data-chart": "trust" });
  const band = m.band[0];
  view.replaceChildren(h("h2", {}, m.registry.question || m.registry.market_id),
    h("div", { class: "grid2" },
      h("div", {}, pathBox, band ? h("p", { class: "muted" }, `band: ${band.model_name} on ${band.runtime}, as of ${when(band.as_of_ts)}`,
        band.fallback_reason ? ` (fallback: ${band.fallback_reason})` : "") : h("p", { class: "muted" }, "No forecast band in this snapshot.")),
      h("div", {}, facts, h("h3", {}, "Trust breakdown"), m.trust ? trustBox : h("p", { class: "muted" }, "No trust score."),
        m.trust ? h("p", { class: "muted" }, Object.entries(m.trust.details).map(([k, v]) => `${k}: ${v ?? "–"}`).join(" · ")) : null,
        m.resolution ? h("p", {}, h("a", { href: `#/postmortem/${encodeURIComponent(m.registry.market_id)}` }, "postmortem")) : null)),
    h("h3", {}, `Alerts (${m.alerts.length})`), m.alerts.length ? alertsTable(m.alerts) : h("p", { class: "muted" }, "No alerts."));
  const [fig, points] = marketFigure(m);
  if (points) await draw(fig, pathBox, points);
  else { pathBox.replaceChildren(h("p", { class: "muted" }, "No path in this snapshot.")); pathBox.dataset.points = "0"; }
  if (m.trust) { const [tfig, n] = trustFigure(m.trust); await draw(tfig, trustBox, n); }
}

async function postmortemsView() {
  const items = await api("/dashboard/postmortems");
  view.replaceChildren(h("h2", {}, `Postmortems (${items.length})`), items.length ? table([
    ["day", (p) => h("td", {}, p.dt)], ["label", (p) => h("td", {}, p.label ?? "–")],
    ["market", (p) => h("td", { class: "wrap" }, h("a", { href: `#/postmortem/${encodeURIComponent(p.market_id)}` }, p.question || p.market_id))],
  ], items) : h("p", { class: "muted" }, "No postmortems yet."));
}

async function postmortemView(marketId) {
  const html = await api(`/dashboard/postmortem/${encodeURIComponent(marketId)}`);
  const body = h("article", { class: "markdown", id: "postmortem" });
  body.innerHTML = html;  // rendered server-side from markdown with raw HTML escaped
  view.replaceChildren(h("p", {}, h("a", { href: `#/market/${encodeURIComponent(marketId)}` }, "← market page"), " · ",
    h("a", { href: `/postmortem/${encodeURIComponent(marketId)}/markdown` }, "markdown")), body);
}

// ---- routing and the operator's status line ------------------------------------------------------------

function go(name, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== ""));
  location.hash = `#/${name}${query.toString() ? `?${query}` : ""}`;
}

async function route() {
  stopPolling();
  stopPolling = () => {};
  const [path, query] = (location.hash.slice(2) || "scoreboard").split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  const [name, id] = path.split("/").map(decodeURIComponent);
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === name ||
    (name === "market" && a.dataset.view === "markets") || (name === "postmortem" && a.dataset.view === "postmortems")));
  const views = { scoreboard: scoreboardView, reliability: reliabilityView, alerts: alertsView, markets: marketsView,
    market: () => marketView(id), postmortems: postmortemsView, postmortem: () => postmortemView(id) };
  view.dataset.ready = "false";
  view.replaceChildren(h("p", { class: "muted" }, "loading…"));
  try {
    await (views[name] || scoreboardView)(params);
  } catch (error) {
    view.replaceChildren(failure(error));
  }
  view.dataset.ready = "true";
  view.dataset.route = name;
}

async function snapshotLine() {
  const box = document.getElementById("snapshot");
  try {
    const ready = await api("/ready");
    const s = ready.snapshot;
    box.textContent = s.present
      ? `snapshot ${s.name} (${s.source}) · ${Math.round(s.age_s / 60)} min old · forecaster ${ready.degradation_mode}, tollama ${ready.tollama}`
      : "no snapshot published yet";
  } catch (error) {
    box.textContent = `status unavailable: ${error.message}`;
  }
}

window.addEventListener("hashchange", route);
route();
snapshotLine();
setInterval(snapshotLine, 60000);
