// llmatlas web UI: a hash router over the JSON API (OpenAPI at /docs).
//
// Safety: every string that comes from the API (model output above all) is put in the page with
// textContent / text nodes, never innerHTML, and links are made only from http(s) URLs. The
// Content-Security-Policy forbids inline scripts, inline style attributes and event-handler
// attributes, so everything here uses addEventListener and the CSSOM (element.style).

const view = document.getElementById("view");
const SVG_NS = "http://www.w3.org/2000/svg";
const NA = "undisclosed";

// ------------------------------------------------------------------ DOM helpers

/** Flatten children into the element: strings become text nodes, null/false are skipped. */
function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace the element's children (same rules as append). */
function fill(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

/** Create an HTML element. props: class, text, on:{event: fn}, dataset, href (checked), attributes. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    else if (key === "href") {
      const href = safeHref(value);
      if (href) el.setAttribute("href", href);
    } else if (key === "value") el.value = String(value);
    else if (key === "checked" || key === "disabled" || key === "selected") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return append(el, ...children);
}

/** Create an SVG element (attributes only: no inline style). */
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else el.setAttribute(key, String(value));
  }
  return append(el, ...children);
}

/** Only same-page, same-site and http(s) links; anything else (javascript:, data:) is dropped. */
function safeHref(url) {
  const s = String(url || "");
  if (s.startsWith("#") || (s.startsWith("/") && !s.startsWith("//"))) return s;
  return /^https?:\/\//i.test(s) ? s : null;
}

function externalLink(url, label) {
  const href = safeHref(url);
  if (!href) return h("span", { class: "source-text" }, label || url || NA);
  return h(
    "a",
    { href, target: "_blank", rel: "noopener noreferrer", class: "source-link", title: href },
    label || url,
  );
}

const enc = encodeURIComponent;
const modelHref = (id) => `#/model/${enc(id)}`;

function na(title = "not disclosed by the source") {
  return h("span", { class: "na", title }, NA);
}

function badge(text, kind = "", title) {
  return h("span", { class: ["badge", kind && `badge-${kind}`], title }, text);
}

/** A view's heading: its title, a one-paragraph lede (text and elements), then anything else (a TOC). */
function pageHead(title, lede, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, title), h("p", { class: "lede" }, ...lede), ...extra);
}

function section(title, props = {}, ...children) {
  return h("section", { class: ["panel", props.class], id: props.id }, h("h2", {}, title), ...children);
}

function errorBox(err) {
  return h("div", { class: "alert alert-error", role: "alert" }, h("strong", {}, "Error: "), errorText(err));
}

function errorText(err) {
  return err && err.message ? err.message : String(err);
}

function debounce(fn, ms = 250) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function field(label, control, hint) {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint && h("small", { class: "hint" }, hint),
  );
}

function numberInput(name, value, opts = {}) {
  return h("input", {
    type: "number",
    name,
    value,
    min: opts.min ?? 0,
    max: opts.max,
    step: opts.step ?? 1,
    inputmode: (opts.step ?? 1) === 1 ? "numeric" : "decimal",
    required: true,
  });
}

function select(name, options, value) {
  const el = h(
    "select",
    { name },
    options.map(([v, label]) => h("option", { value: v }, label)),
  );
  if (value !== undefined) el.value = value;
  return el;
}

// ------------------------------------------------------------------ formatting

function num(v, digits = 1) {
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits });
}

function money(v, currency = "USD") {
  const abs = Math.abs(v);
  const max = abs === 0 || abs >= 1 ? 2 : abs >= 0.01 ? 4 : 6;
  try {
    return new Intl.NumberFormat("en-US", {
      style: "currency",
      currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: max,
    }).format(v);
  } catch {
    return `${num(v, max)} ${currency}`;
  }
}

/** A cost's parts and total at the total's precision, the parts rounded (largest remainder) so
 * that they add up to the total as shown. */
function moneyParts(parts, currency = "USD") {
  const total = parts.reduce((a, b) => a + b, 0);
  const abs = Math.abs(total);
  const d = abs === 0 || abs >= 1 ? 2 : abs >= 0.01 ? 4 : 6;
  const scale = 10 ** d;
  const scaled = parts.map((p) => p * scale);
  const units = scaled.map(Math.floor);
  let short = Math.round(total * scale) - units.reduce((a, b) => a + b, 0);
  const order = scaled.map((x, i) => [x - units[i], i]).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) if (short-- > 0) units[i] += 1;
  const fmt = (v) => {
    try {
      return new Intl.NumberFormat("en-US", {
        style: "currency",
        currency,
        minimumFractionDigits: d,
        maximumFractionDigits: d,
      }).format(v);
    } catch {
      return `${v.toFixed(d)} ${currency}`;
    }
  };
  return [units.map((u) => fmt(u / scale)), fmt(Math.round(total * scale) / scale)];
}

const gib = (bytes) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const seconds = (s) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
const pct = (v) => `${Math.max(0, Math.min(100, v))}%`;
const or = (v, f) => (v === null || v === undefined ? na() : f(v));

function humanize(key) {
  const special = {
    total_b: "Total parameters (B)",
    active_b: "Active parameters (B)",
    tokens: "Context window (tokens)",
    max_output_tokens: "Max output tokens",
    commercial_use: "Commercial use",
    self_hostable: "Self-hostable",
    kv_heads: "KV heads",
    head_dim: "Head dim",
    input_per_m: "Input / 1M",
    output_per_m: "Output / 1M",
    cached_input_per_m: "Cached input / 1M",
    url: "Link",
    names: "Languages",
    date: "Date",
  };
  if (special[key]) return special[key];
  const s = key.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function value(v) {
  if (v === null || v === undefined) return na();
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return num(v, 4);
  if (Array.isArray(v))
    return v.length ? v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ") : na();
  if (typeof v === "object") return JSON.stringify(v);
  const s = String(v);
  return /^https?:\/\//i.test(s) ? externalLink(s, s) : s;
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorDetail(res) {
  try {
    const body = await res.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail
        .map((d) => {
          const where = (d.loc || []).slice(1).join(".");
          return where && !String(d.msg).includes(where) ? `${where}: ${d.msg}` : d.msg;
        })
        .join("; ");
    }
  } catch {
    /* not JSON */
  }
  return `${res.status} ${res.statusText}`;
}

async function api(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v === "" || v === null || v === undefined) continue;
    if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
    else url.searchParams.set(k, v);
  }
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new ApiError(res.status, await errorDetail(res));
  return res.json();
}

async function postJSON(path, body, signal) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw new ApiError(res.status, await errorDetail(res));
  return res.json();
}

/** POST JSON and read the server-sent events of the reply, calling ``handle`` with each event's data. */
async function postEvents(path, body, handle, signal) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw new ApiError(res.status, await errorDetail(res));
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const line = (text) => {
    if (!text.startsWith("data:")) return;
    let ev;
    try {
      ev = JSON.parse(text.slice(5).trim());
    } catch {
      return;
    }
    handle(ev);
  };
  for (;;) {
    const { value: chunk, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      line(buffer.slice(0, nl).replace(/\r$/, ""));
      buffer = buffer.slice(nl + 1);
    }
  }
  buffer += decoder.decode();
  if (buffer) line(buffer.trim());
}

const cache = new Map();
function cached(key, load) {
  if (!cache.has(key)) {
    const p = load();
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return cache.get(key);
}
const allModels = () => cached("models", () => api("/api/models", { limit: 1000 }).then((r) => r.models));
const gpuList = () => cached("gpus", () => api("/api/gpus"));
const backendList = () => cached("backends", () => api("/api/backends"));
const endpointsInfo = () => cached("endpoints", () => api("/api/endpoints"));

/** USD per unit of each non-USD currency in the catalog, from the cost estimator's exchange rates. */
function fxRates() {
  return cached("fx", async () => {
    const rows = await allModels();
    const byCurrency = new Map();
    for (const r of rows)
      if (r.currency && r.currency !== "USD" && !byCurrency.has(r.currency)) byCurrency.set(r.currency, r.id);
    const rates = { USD: 1 };
    if (byCurrency.size) {
      const est = await api("/api/cost", { model: [...byCurrency.values()], input_tokens: 1000, output_tokens: 0 });
      for (const e of est) if (e.currency && e.exchange_rate) rates[e.currency] = e.exchange_rate.usd_per_unit;
    }
    return rates;
  });
}

// ------------------------------------------------------------------ router

const routes = {
  advisor: advisorView,
  catalog: catalogView,
  model: modelView,
  calc: calcView,
  leaderboard: leaderboardView,
  playground: playgroundView,
  arena: arenaView,
};
let cleanup = null;
let generation = 0;

async function route() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const key = Object.hasOwn(routes, name) ? name : "catalog";
  const arg = rest.map((p) => decodeURIComponent(p)).join("/");
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* nothing to undo */
    }
    cleanup = null;
  }
  const token = ++generation;
  const stale = () => token !== generation;
  for (const a of document.querySelectorAll("[data-nav]")) {
    const active = a.dataset.nav === (key === "model" ? "catalog" : key);
    a.classList.toggle("active", active);
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  fill(view, h("p", { class: "muted loading" }, "Loading…"));
  const root = h("div", { class: `page page-${key}` });
  try {
    const result = await routes[key](root, arg, stale);
    if (stale()) return;
    fill(view, root);
    cleanup = typeof result === "function" ? result : null;
    const anchor = arg && !["model"].includes(key) ? document.getElementById(arg) : null;
    if (anchor) anchor.scrollIntoView();
    else window.scrollTo(0, 0);
    document.body.dataset.view = key;
  } catch (err) {
    if (!stale()) fill(view, root, errorBox(err));
  }
}

function title(text) {
  document.title = text ? `${text} · llmatlas` : "llmatlas";
}

// ------------------------------------------------------------------ advisor

const TASK_CATEGORIES = [
  ["reasoning", "Reasoning"],
  ["knowledge", "Knowledge"],
  ["math", "Math"],
  ["coding", "Coding"],
  ["chat", "Chat"],
  ["chinese", "Chinese"],
  ["medical", "Medical"],
  ["classification", "Classification"],
  ["long_documents", "Long documents"],
];
const CRITERIA = ["quality", "cost", "speed", "context", "languages"];
const advisorState = { example: "customer_support_chatbot", base: null, view: null, limit: 20 };

/** A form control bound to a requirements path ("workload.input_tokens"), with room for its error. */
function reqField(label, path, control, hint) {
  control.dataset.path = path;
  const el = field(label, control, hint);
  el.dataset.path = path;
  el.append(h("small", { class: "field-error", "aria-live": "polite" }));
  return el;
}

function textInput(name, opts = {}) {
  return h("input", {
    type: "text",
    name,
    maxlength: opts.max ?? 500,
    required: opts.required,
    placeholder: opts.placeholder,
  });
}

function optNumber(name, opts = {}) {
  const el = numberInput(name, "", opts);
  el.required = false;
  return el;
}

function checkbox(name) {
  return h("input", { type: "checkbox", name });
}

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== "object" || o[k] === null) o[k] = {};
    o = o[k];
  }
  if (value === undefined) delete o[keys.at(-1)];
  else o[keys.at(-1)] = value;
}

/** The requirements form: the same fields as a requirements file (those not shown are kept as loaded). */
function requirementsForm() {
  const controls = [];
  const add = (label, path, control, hint) => {
    controls.push(control);
    return reqField(label, path, control, hint);
  };
  const hostingMode = select("hosting.mode", [
    ["either", "API or self-hosted"],
    ["api", "API only"],
    ["self-host", "Self-hosted only"],
  ]);
  const el = h(
    "form",
    { class: "req-form", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, "Application"),
      add("Name", "name", textInput("name", { max: 200 })),
      add("Use case", "use_case", h("textarea", { name: "use_case", rows: 2, maxlength: 2000 })),
      add("Languages", "languages", textInput("languages", { placeholder: "English, Chinese" }), "comma-separated"),
      add("Min. context (tokens)", "min_context", optNumber("min_context", { min: 1 })),
    ),
    h(
      "fieldset",
      { class: "task-weights" },
      h("legend", {}, "Tasks (weights)"),
      TASK_CATEGORIES.map(([k, label]) => add(label, `tasks.${k}`, optNumber(`tasks.${k}`, { step: 0.05 }))),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Workload and budget"),
      add(
        "Requests per day",
        "workload.requests_per_day",
        optNumber("workload.requests_per_day", { min: 0, step: "any" }),
      ),
      add("Input tokens / request", "workload.input_tokens", optNumber("workload.input_tokens", { min: 1 })),
      add("Output tokens / request", "workload.output_tokens", optNumber("workload.output_tokens", { min: 1 })),
      add("Budget (USD / month)", "budget_usd_per_month", optNumber("budget_usd_per_month", { step: "any" })),
      add("Max. seconds per request", "latency.max_seconds", optNumber("latency.max_seconds", { step: "any" })),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Hosting and license"),
      add("Hosting", "hosting.mode", hostingMode),
      add(
        "GPU",
        "hosting.hardware.gpu",
        textInput("hosting.hardware.gpu", { max: 60, placeholder: "a100-80gb" }),
        "optional",
      ),
      add("GPUs", "hosting.hardware.count", optNumber("hosting.hardware.count", { min: 1, max: 64 })),
      add(
        "Your $/GPU-hour",
        "hosting.hardware.gpu_hour_usd",
        optNumber("hosting.hardware.gpu_hour_usd", { step: "any" }),
        "default: the hardware table's",
      ),
      add("Data stays on premises", "on_premises", checkbox("on_premises")),
      add("Commercial use", "commercial_use", checkbox("commercial_use")),
      add("Fine-tuning needed", "fine_tuning", checkbox("fine_tuning")),
    ),
    h(
      "fieldset",
      { class: "criteria-weights" },
      h("legend", {}, "Ranking weights"),
      CRITERIA.map((c) => add(humanize(c), `weights.${c}`, optNumber(`weights.${c}`, { step: 0.05 }))),
      add("Shortlist size", "shortlist", optNumber("shortlist", { min: 1, max: 50 })),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "btn btn-primary", id: "advise" }, "Recommend"),
    ),
  );

  const fillFrom = (req) => {
    for (const c of controls) {
      const v = getPath(req, c.dataset.path);
      if (c.type === "checkbox") c.checked = Boolean(v);
      else if (c.dataset.path === "languages") c.value = (v || []).join(", ");
      else c.value = v === undefined || v === null ? "" : String(v);
    }
    if (!req.hosting || !req.hosting.mode) hostingMode.value = "either";
  };

  /** The requirements: the loaded ones (fields the form lacks are kept) with the form's values. */
  const read = (base) => {
    const req = structuredClone(base || {});
    for (const c of controls) {
      const path = c.dataset.path;
      let v;
      if (c.type === "checkbox") v = c.checked;
      else if (path === "languages")
        v = c.value
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean);
      else if (c.type === "number") v = c.value.trim() === "" ? undefined : Number(c.value);
      else v = c.value.trim() === "" ? undefined : c.value.trim();
      setPath(req, path, v);
    }
    if (req.tasks) for (const k of Object.keys(req.tasks)) if (req.tasks[k] === undefined) delete req.tasks[k];
    const hw = req.hosting && req.hosting.hardware;
    if (hw && !hw.gpu && !hw.memory) delete req.hosting.hardware;
    if (req.latency && req.latency.max_seconds === undefined && req.latency.min_tokens_per_s === undefined)
      delete req.latency;
    return req;
  };

  /** Each error next to its field (or its nearest shown parent); the rest in the list given. */
  const showErrors = (problems, list) => {
    for (const e of el.querySelectorAll(".field-error")) e.textContent = "";
    for (const f of el.querySelectorAll(".field.invalid")) f.classList.remove("invalid");
    const rest = [];
    for (const p of problems) {
      let path = p.path;
      let target = null;
      while (path && !(target = el.querySelector(`.field[data-path="${CSS.escape(path)}"]`)))
        path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
      if (target) {
        target.classList.add("invalid");
        const slot = target.querySelector(".field-error");
        slot.textContent = slot.textContent ? `${slot.textContent}; ${p.msg}` : p.msg;
      } else rest.push(p);
    }
    fill(
      list,
      rest.map((p) => h("li", {}, p.where ? `${p.where}: ${p.msg}` : p.msg)),
    );
    const first = el.querySelector(".field.invalid input, .field.invalid textarea, .field.invalid select");
    if (first) first.focus();
  };
  return { el, fillFrom, read, showErrors };
}

/** The check's problems for the page: the field's path, and the file's line for an upload. */
function problemsOf(found, filename) {
  return found.map((p) => {
    const path = p.loc.join(".");
    const where = [p.line ? `${filename || "requirements.yaml"} line ${p.line}` : "", path].filter(Boolean).join(", ");
    return { path: filename ? "" : path, msg: p.msg, where };
  });
}

/** Check the requirements (every mistake at once, no error status), then rank with them. */
async function adviseOn(body) {
  if (body.example) return postJSON("/api/advisor/recommend", body);
  const checked = await postJSON("/api/advisor/check", body);
  if (!checked.ok) {
    const err = new Error("the requirements have mistakes");
    err.problems = problemsOf(checked.problems, body.filename);
    throw err;
  }
  return postJSON("/api/advisor/recommend", { requirements: checked.requirements });
}

function factText(f, kind) {
  if (!f || (f.value === null && !f.text)) return na(f && f.note ? f.note : "not known");
  if (f.text) return f.text;
  if (kind === "money") return money(f.value);
  if (kind === "seconds") return seconds(f.value);
  return num(f.value, 1) + (f.unit ? ` ${f.unit}` : "");
}

function sourceList(rec, ids) {
  const items = [...new Set(ids)].map((id) => rec.sources[id]).filter(Boolean);
  if (!items.length) return null;
  return h(
    "ul",
    { class: "source-list" },
    items.map((src) =>
      h(
        "li",
        {},
        externalLink(src.url, src.title),
        src.as_of ? h("span", { class: "muted" }, ` (${src.as_of})`) : null,
      ),
    ),
  );
}

function shortlistTable(rec) {
  const rows = rec.candidates.slice(0, rec.requirements.shortlist).map((c) => {
    const ev = c.quality.evidence;
    return h(
      "tr",
      { dataset: { model: c.model } },
      h("td", { class: "num" }, String(c.rank)),
      h("td", {}, h("a", { href: modelHref(c.model) }, c.name), h("div", { class: "muted small mono" }, c.model)),
      h("td", {}, c.deployment_text),
      h(
        "td",
        { class: "num" },
        factText(c.quality),
        " ",
        ev === "measured" || ev === "reported" ? evidenceBadge(ev) : badge(ev, "unknown"),
      ),
      h("td", { class: "num" }, factText(c.monthly_cost, "money")),
      h("td", { class: "num" }, factText(c.speed)),
      h("td", { class: "num" }, factText(c.latency, "seconds")),
      h("td", { class: "num" }, num(c.total * 100, 0)),
    );
  });
  return tableOf(
    [
      ["#", true],
      ["Model"],
      ["Deployment"],
      ["Quality", true],
      ["Cost / month", true],
      ["Speed", true],
      ["Latency", true],
      ["Score", true],
    ],
    rows,
    "shortlist",
  );
}

function candidateDetails(rec) {
  return rec.candidates.slice(0, rec.requirements.shortlist).map((c) =>
    h(
      "details",
      { class: "candidate" },
      h("summary", {}, `${c.rank}. ${c.name} — ${c.deployment_text}`),
      c.warnings.length
        ? h(
            "ul",
            { class: "warnings" },
            c.warnings.map((w) => h("li", {}, w)),
          )
        : null,
      h(
        "ul",
        { class: "criteria" },
        c.criteria.map((k) => h("li", {}, h("strong", {}, `${humanize(k.criterion)}: `), k.explanation)),
      ),
      h("p", { class: "muted small" }, "Sources:"),
      sourceList(rec, [
        ...c.quality.sources,
        ...c.monthly_cost.sources,
        ...c.speed.sources,
        ...c.context.sources,
        ...c.tasks.flatMap((t) => t.benchmarks.flatMap((b) => b.sources)),
      ]),
    ),
  );
}

function exclusionGroups(view) {
  const groups = new Map();
  for (const e of view.recommendation.excluded) {
    if (!groups.has(e.filter)) groups.set(e.filter, []);
    groups.get(e.filter).push(e);
  }
  return [...groups].map(([key, list]) =>
    h(
      "details",
      { class: "exclusion-group", dataset: { filter: key } },
      h("summary", {}, `${view.filter_names[key] || humanize(key)} — ${list.length}`),
      h(
        "ul",
        {},
        list.map((e) => h("li", {}, h("span", { class: "mono" }, e.model), ": ", e.reason)),
      ),
    ),
  );
}

function sensitivityTable(rec) {
  const rows = rec.sensitivity.map((s) =>
    h(
      "tr",
      {},
      h("td", {}, humanize(s.criterion)),
      h("td", { class: "num" }, `×${s.factor}`),
      h("td", {}, s.top, s.top_changed ? badge("changes the first choice", "warn") : null),
      h("td", {}, s.changes.map((c) => `${c.model} ${c.rank}→${c.new_rank}`).join(", ") || "—"),
    ),
  );
  return [
    h(
      "p",
      {},
      rec.stable ? "Stable: no ±20% change of one weight changes the first choice." : "Not stable: see below.",
    ),
    tableOf([["Weight"], ["Change", true], ["First choice"], ["Rank changes in the shortlist"]], rows, "sensitivity"),
  ];
}

function downloadLinks(view) {
  const labels = {
    html: "Report (HTML)",
    md: "Report (Markdown)",
    json: "Report (JSON)",
    requirements: "Requirements (YAML)",
  };
  return h(
    "p",
    { class: "downloads" },
    Object.entries(view.downloads).map(([k, url]) =>
      h("a", { href: url, download: "", class: "btn btn-quiet", dataset: { download: k } }, labels[k] || k),
    ),
  );
}

function measurePanel(view, onDone) {
  const plan = view.measure;
  const limit = numberInput("limit", advisorState.limit, { min: 1, max: 2000 });
  const go = h(
    "button",
    { type: "button", class: "btn btn-primary", id: "measure", disabled: !plan.runs.length },
    "Measure the shortlist",
  );
  const bar = h("progress", { max: 1, value: 0, class: "measure-bar" });
  const log = h("ul", { class: "measure-log", "aria-live": "polite" });
  const status = h("p", { class: "measure-status" });
  go.addEventListener("click", async () => {
    const n = Number(limit.value);
    const ok = limit.value !== "" && Number.isInteger(n) && n >= 1 && n <= 2000;
    limit.classList.toggle("invalid", !ok);
    if (!ok) return (status.textContent = "Items: a whole number from 1 to 2000.");
    advisorState.limit = n;
    go.disabled = true;
    fill(log);
    const runs = plan.runs.length;
    let finished = 0;
    bar.max = runs;
    bar.value = 0;
    status.textContent = `Measuring: ${runs} runs of ${n} items…`;
    let done = false;
    try {
      await postEvents(`/api/advisor/${enc(view.id)}/measure`, { limit: n }, (ev) => {
        if (ev.type === "message") append(log, h("li", {}, ev.text));
        else if (ev.type === "run") status.textContent = `${ev.model} · ${ev.task}: ${ev.done}/${ev.total}`;
        else if (ev.type === "progress") {
          bar.value = finished + (ev.todo ? ev.done / ev.todo : 0);
          status.textContent = `${ev.task}: ${ev.done}/${ev.todo} scored`;
        } else if (ev.type === "finished") {
          finished += 1;
          bar.value = finished;
          append(log, h("li", {}, `${ev.task}: ${ev.n} items, run ${String(ev.run_id).slice(0, 12)}`));
        } else if (ev.type === "done") {
          done = true;
          status.textContent = "Measured; ranked again with the measured scores.";
          onDone(ev);
        } else if (ev.type === "error") {
          status.textContent = `Error: ${ev.message}`;
        }
      });
    } catch (err) {
      status.textContent = `Error: ${errorText(err)}`;
    } finally {
      if (!done) go.disabled = false;
    }
  });
  return section(
    "Measure the shortlist",
    { id: "measure-panel" },
    h(
      "p",
      { class: "muted" },
      "Run the weighted tasks here on the shortlisted models this server can reach (the embedded and packaged models, your endpoints, APIs whose key is set), then rank again with the measured scores.",
    ),
    plan.runs.length
      ? h(
          "ul",
          {},
          plan.runs.map((r) => h("li", {}, h("span", { class: "mono" }, r.model), ` on ${r.task} (${r.spec})`)),
        )
      : h("p", { class: "alert alert-warn" }, "None of the shortlisted models can be run from this server."),
    plan.skipped.length
      ? h(
          "details",
          {},
          h("summary", {}, `Not reachable: ${plan.skipped.length}`),
          h(
            "ul",
            {},
            plan.skipped.map((w) => h("li", {}, w)),
          ),
        )
      : null,
    h("div", { class: "row" }, field("Items per task", limit), h("div", { class: "actions" }, go)),
    bar,
    status,
    log,
  );
}

function adviceResult(view, onMeasured) {
  const rec = view.recommendation;
  const measured = rec.extra && rec.extra.eval;
  return h(
    "div",
    { class: "advice", dataset: { id: view.id } },
    section(
      "Summary",
      { id: "summary" },
      measured ? h("p", { class: "alert alert-ok" }, `Ranked with ${measured.runs.length} runs measured here.`) : null,
      h(
        "ul",
        { class: "summary" },
        rec.summary.map((line) => h("li", {}, line)),
      ),
      downloadLinks(view),
    ),
    section(
      `Shortlist (${Math.min(rec.candidates.length, rec.requirements.shortlist)} of ${rec.considered} considered)`,
      { id: "shortlist" },
      rec.candidates.length
        ? shortlistTable(rec)
        : h("p", { class: "alert alert-warn" }, "No model passed the filters."),
      candidateDetails(rec),
    ),
    section(
      "Charts",
      { id: "charts" },
      view.charts.map((c) =>
        h(
          "figure",
          { class: "chart", dataset: { chart: c.key } },
          h("img", { src: c.image, alt: c.title }),
          h("figcaption", {}, h("strong", {}, c.title), " ", c.caption),
        ),
      ),
    ),
    section(`Excluded (${rec.excluded.length})`, { id: "excluded" }, exclusionGroups(view)),
    section("Sensitivity", { id: "sensitivity" }, sensitivityTable(rec)),
    section(
      "Assumptions",
      { id: "assumptions" },
      h(
        "ul",
        {},
        rec.assumptions.map((a) => h("li", {}, a)),
      ),
    ),
    measurePanel(view, onMeasured),
  );
}

async function advisorView(root) {
  title("Advisor");
  const st = advisorState;
  const examples = await cached("examples", () => api("/api/advisor/examples"));
  const form = requirementsForm();
  const problems = h("ul", { class: "problems", role: "alert" });
  const message = h("p", { class: "form-message", "aria-live": "polite" });
  const result = h("div", { class: "advice-result" });
  const pick = select(
    "example",
    examples.map((e) => [e.name, e.title]),
    st.example,
  );
  const upload = h("input", { type: "file", name: "upload", accept: ".yaml,.yml,text/yaml" });

  const show = (view) => {
    st.view = view;
    st.base = view.recommendation.requirements;
    form.fillFrom(st.base);
    fill(result, adviceResult(view, show));
    message.textContent = "";
  };
  const run = async (body, what) => {
    message.textContent = `Ranking the catalog for ${what}…`;
    form.showErrors([], problems);
    fill(result, h("p", { class: "muted loading" }, "Ranking…"));
    try {
      show(await adviseOn(body));
    } catch (err) {
      fill(result);
      message.textContent = "";
      if (err.problems) form.showErrors(err.problems, problems);
      else fill(problems, h("li", {}, errorText(err)));
    }
  };

  const useExample = h("button", { type: "button", class: "btn", id: "use-example" }, "Use this example");
  useExample.addEventListener("click", () => {
    st.example = pick.value;
    run({ example: pick.value }, `the example “${pick.selectedOptions[0].textContent}”`);
  });
  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (!file) return;
    if (file.size > 200_000)
      return fill(problems, h("li", {}, "That file is over 200 KB; a requirements file is a page of YAML."));
    run({ yaml: await file.text(), filename: file.name }, file.name);
    upload.value = "";
  });
  form.el.addEventListener("submit", (e) => {
    e.preventDefault();
    run({ requirements: form.read(st.base) }, "your requirements");
  });

  append(
    root,
    pageHead("Advisor", [
      "Describe the application; get a ranked shortlist with every number's source, what was excluded and why, how stable the choice is, and the report to share. Start from an example, upload a requirements file, or fill in the form.",
    ]),
    section(
      "Requirements",
      { id: "requirements" },
      h(
        "div",
        { class: "row start-from" },
        field("Start from an example", pick),
        h("div", { class: "actions" }, useExample),
        field("…or upload a requirements file", upload, "YAML, as `llmatlas recommend FILE` reads"),
      ),
      problems,
      form.el,
      message,
    ),
    result,
  );
  if (st.view) show(st.view);
  else {
    st.base = (examples.find((e) => e.name === st.example) || examples[0] || {}).requirements || {};
    form.fillFrom(st.base);
  }
}

// ------------------------------------------------------------------ catalog

const catalogState = {
  q: "",
  status: "live",
  developer: "",
  kind: "",
  access: "",
  commercial: "",
  max_params_b: "",
  sortKey: "id",
  sortDir: 1,
};

function priceCell(r, key) {
  const hosted = key === "input_price" ? r.hosted_input_price : r.hosted_output_price;
  if ((r[key] === null || r[key] === undefined) && hosted !== null && hosted !== undefined)
    return h(
      "span",
      { title: `cheapest hosted offer: ${r.hosted_provider}` },
      money(hosted, "USD"),
      h("small", { class: "sub" }, ` via ${r.hosted_provider}`),
    );
  if (r[key] === null || r[key] === undefined) {
    return na(
      r.api ? "API price not disclosed in the catalog" : "no priced API: self-host (see the memory calculator)",
    );
  }
  return money(r[key], r.currency || "USD");
}

function paramsCell(r) {
  if (r.params_b === null) return na("parameter count not disclosed");
  const total = `${num(r.params_b, 2)}B`;
  if (r.moe && r.active_params_b && r.active_params_b !== r.params_b) {
    return h("span", {}, total, h("small", { class: "sub" }, ` ${num(r.active_params_b, 1)}B active`));
  }
  return total;
}

const ACCESS_LABEL = { api: "API", open_weights: "open weights", chat_product: "chat app" };

/** The API's lifecycle today: a badge, with the shutdown date when one is set. */
function statusCell(r) {
  if (r.status === null || r.status === undefined) {
    const weightsOnly = r.access.length === 1 && r.access[0] === "open_weights";
    return weightsOnly
      ? badge("weights", "status-weights", "Open weights only: they never retire")
      : na("lifecycle undisclosed");
  }
  let text = r.status;
  if (r.shutdown) text += r.status === "retired" ? ` ${r.shutdown}` : ` → ${r.shutdown}`;
  const tip = r.replacement ? `replaced by ${r.replacement}` : undefined;
  return badge(text, `status-${r.status}`, tip);
}

const CATALOG_COLUMNS = [
  {
    key: "id",
    label: "Model",
    type: "text",
    sortValue: (r) => r.name.toLowerCase(),
    render: (r) => [
      h("a", { href: modelHref(r.id), class: "model-link" }, r.name),
      h(
        "span",
        { class: "model-id" },
        r.id,
        h("span", { class: "dev" }, ` · ${r.developer}`),
        r.kind !== "generative" ? [" ", badge(r.kind, "kind")] : null,
      ),
    ],
  },
  {
    key: "status",
    label: "Status",
    type: "text",
    render: statusCell,
    title: "The developer's API today: active, preview, deprecated (with its shutdown date) or retired",
  },
  { key: "params_b", label: "Params", type: "num", render: paramsCell, title: "Total parameters, billions" },
  {
    key: "context",
    label: "Context",
    type: "num",
    render: (r) => or(r.context, (v) => num(v, 0)),
    title: "Context window, tokens",
  },
  {
    key: "access",
    label: "Access",
    type: "text",
    sortValue: (r) => r.access.join(","),
    render: (r) =>
      h(
        "span",
        { class: "badges" },
        r.access.map((a) => badge(ACCESS_LABEL[a] || a, a)),
      ),
  },
  {
    key: "commercial",
    label: "Commercial",
    type: "text",
    render: (r) => or(r.commercial, (v) => badge(v, `commercial-${v}`)),
  },
  {
    key: "input_price",
    label: "Input /1M",
    type: "price",
    render: (r) => priceCell(r, "input_price"),
    title: "Price per million input tokens, in the currency the source states",
  },
  {
    key: "output_price",
    label: "Output /1M",
    type: "price",
    render: (r) => priceCell(r, "output_price"),
    title: "Price per million output tokens",
  },
  { key: "mmlu", label: "MMLU", type: "num" },
  { key: "humaneval", label: "HumanEval", type: "num" },
  { key: "gsm8k", label: "GSM8K", type: "num" },
  { key: "mt_bench", label: "MT-Bench", type: "num" },
  { key: "release", label: "Released", type: "text", render: (r) => or(r.release, String) },
];

function compareRows(col, dir, fx) {
  const get = col.sortValue || ((r) => r[col.key]);
  const key = (r) => {
    const v = get(r);
    if (v === null || v === undefined) return null;
    if (col.type === "price") return r.currency && fx[r.currency] ? v * fx[r.currency] : v;
    return v;
  };
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === null && y === null) return a.id.localeCompare(b.id);
    if (x === null) return 1; // unknown values always last, whatever the direction
    if (y === null) return -1;
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return c === 0 ? a.id.localeCompare(b.id) : c * dir;
  };
}

async function catalogView(root, _arg, stale) {
  title("Catalog");
  const [everything, fx] = await Promise.all([allModels(), fxRates().catch(() => ({ USD: 1 }))]);
  const st = catalogState;
  const distinct = (key) => [...new Set(everything.map((r) => r[key]).filter(Boolean))].sort();

  const q = h("input", {
    type: "search",
    id: "q",
    name: "q",
    value: st.q,
    placeholder: "Search id, name, developer, family…",
    autocomplete: "off",
    "aria-label": "Search models",
  });
  const developer = select(
    "developer",
    [["", "Any developer"], ...distinct("developer").map((d) => [d, d])],
    st.developer,
  );
  const kind = select("kind", [["", "Any kind"], ...distinct("kind").map((d) => [d, d])], st.kind);
  const status = select(
    "status",
    [
      ["live", "Usable today"],
      ["all", "Any status (retired too)"],
      ["active", "Active"],
      ["deprecated", "Deprecated"],
      ["preview", "Preview"],
      ["retired", "Retired"],
      ["undisclosed", "Lifecycle undisclosed"],
    ],
    st.status,
  );
  const access = select(
    "access",
    [
      ["", "Any access"],
      ["api", "API"],
      ["open_weights", "Open weights"],
      ["chat_product", "Chat app"],
    ],
    st.access,
  );
  const commercial = select(
    "commercial",
    [
      ["", "Any commercial use"],
      ["yes", "Commercial: yes"],
      ["conditional", "Conditional"],
      ["no", "Non-commercial"],
    ],
    st.commercial,
  );
  const maxParams = h("input", {
    type: "number",
    name: "max_params_b",
    min: 0,
    step: "any",
    value: st.max_params_b,
    placeholder: "e.g. 13",
  });
  const reset = h("button", { type: "button", class: "btn btn-quiet" }, "Reset");
  const count = h("p", { class: "count muted", "aria-live": "polite" });
  const tbody = h("tbody");
  const headRow = h("tr");
  const table = h("table", { class: "data catalog", id: "catalog-table" }, h("thead", {}, headRow), tbody);
  let rows = [];
  let request = 0;

  const renderHead = () => {
    fill(
      headRow,
      ...CATALOG_COLUMNS.map((col) => {
        const active = st.sortKey === col.key;
        const arrow = active ? (st.sortDir > 0 ? "▲" : "▼") : "";
        const th = h(
          "th",
          { class: [col.type !== "text" && "num", active && "sorted"], scope: "col", title: col.title },
          h(
            "button",
            {
              type: "button",
              class: "sort",
              title: `Sort by ${col.label}`,
              dataset: { sort: col.key },
              on: {
                click: () => {
                  if (st.sortKey === col.key) st.sortDir = -st.sortDir;
                  else {
                    st.sortKey = col.key;
                    st.sortDir = col.type === "text" ? 1 : -1;
                  }
                  renderHead();
                  renderBody();
                },
              },
            },
            col.label,
            arrow ? h("span", { class: "arrow", "aria-hidden": "true" }, arrow) : null,
          ),
        );
        th.setAttribute("aria-sort", active ? (st.sortDir > 0 ? "ascending" : "descending") : "none");
        return th;
      }),
    );
  };

  const renderBody = () => {
    const col = CATALOG_COLUMNS.find((c) => c.key === st.sortKey) || CATALOG_COLUMNS[0];
    const sorted = [...rows].sort(compareRows(col, st.sortDir, fx));
    fill(
      tbody,
      ...sorted.map((r) =>
        h(
          "tr",
          {
            dataset: { id: r.id },
            class: "clickable",
            on: {
              click: (ev) => {
                if (ev.target.closest("a")) return;
                location.hash = modelHref(r.id);
              },
            },
          },
          CATALOG_COLUMNS.map((c) =>
            h(
              "td",
              { class: [c.type !== "text" && "num", c.key === "id" && "model-cell"], dataset: { col: c.key } },
              c.render ? c.render(r) : or(r[c.key], (v) => (typeof v === "number" ? num(v, 2) : String(v))),
            ),
          ),
        ),
      ),
    );
    if (!sorted.length) {
      tbody.append(
        h("tr", {}, h("td", { colspan: CATALOG_COLUMNS.length, class: "empty" }, "No model matches these filters.")),
      );
    }
    count.textContent = `${sorted.length} of ${everything.length} models`;
  };

  const load = async () => {
    const mine = ++request;
    const maxP = st.max_params_b === "" ? "" : Number(st.max_params_b);
    const params = {
      q: st.q.trim(),
      developer: st.developer,
      status: st.status,
      kind: st.kind,
      access: st.access,
      commercial: st.commercial,
      max_params_b: Number.isFinite(maxP) && maxP >= 0 ? maxP : "",
      limit: 1000,
    };
    try {
      const res = await api("/api/models", params);
      if (mine !== request || stale()) return;
      rows = res.models;
      renderBody();
    } catch (err) {
      if (mine === request) fill(tbody, h("tr", {}, h("td", { colspan: CATALOG_COLUMNS.length }, errorBox(err))));
    }
  };
  const later = debounce(load, 200);

  const bind = (el, key, lazy) =>
    el.addEventListener(lazy ? "input" : "change", () => {
      st[key] = el.value;
      (lazy ? later : load)();
    });
  bind(q, "q", true);
  bind(maxParams, "max_params_b", true);
  bind(developer, "developer");
  bind(kind, "kind");
  bind(status, "status");
  bind(access, "access");
  bind(commercial, "commercial");
  reset.addEventListener("click", () => {
    Object.assign(st, { q: "", status: "live", developer: "", kind: "", access: "", commercial: "", max_params_b: "" });
    for (const el of [q, maxParams, developer, kind, access, commercial]) el.value = "";
    status.value = "live";
    load();
  });

  append(
    root,
    pageHead("Model catalog", [
      "Every model as sourced data: open a row for each fact with its source and date, the benchmark table and the cost and memory calculators. Unknown values read ",
      h("em", {}, NA),
      " — never 0.",
    ]),
    h(
      "form",
      { class: "filters", role: "search", on: { submit: (e) => e.preventDefault() } },
      h("div", { class: "filter-search" }, q),
      status,
      developer,
      kind,
      access,
      commercial,
      h("label", { class: "inline" }, h("span", {}, "Max params (B)"), maxParams),
      reset,
    ),
    count,
    h("div", { class: "table-wrap" }, table),
  );
  renderHead();
  await load();
}

// ------------------------------------------------------------------ model page

const BLOCKS = [
  ["release", "Release"],
  ["knowledge_cutoff", "Knowledge cutoff"],
  ["parameters", "Parameters"],
  ["architecture", "Architecture"],
  ["context", "Context window"],
  ["license", "License"],
  ["access", "Access"],
  ["modalities", "Modalities"],
  ["languages", "Languages"],
  ["fine_tuning", "Fine-tuning"],
];
const META = new Set(["source", "as_of", "note", "source_title"]);
const IDENTITY = new Set([
  "id",
  "name",
  "developer",
  "family",
  "kind",
  "variant_of",
  "description",
  "aliases",
  "origin",
]);
const LISTS = new Set(["pricing", "benchmarks", "quantizations"]);

function sourceLine(fact) {
  return h(
    "p",
    { class: "source" },
    "Source: ",
    externalLink(fact.source, fact.source_title || fact.source),
    fact.as_of ? h("span", { class: "as-of" }, ` · as of ${fact.as_of}`) : null,
  );
}

function factCard(label, fact) {
  if (!fact) {
    return h("article", { class: "fact-card" }, h("h3", {}, label), h("p", {}, na("no sourced fact in the catalog")));
  }
  const dl = h("dl", { class: "facts" });
  for (const [k, v] of Object.entries(fact)) {
    if (META.has(k)) continue;
    dl.append(h("dt", {}, humanize(k)), h("dd", {}, value(v)));
  }
  return h(
    "article",
    { class: "fact-card" },
    h("h3", {}, label),
    dl,
    fact.note ? h("p", { class: "note" }, fact.note) : null,
    sourceLine(fact),
  );
}

function tableOf(headers, rows, cls, tall = false) {
  return h(
    "div",
    { class: ["table-wrap", tall && "tall"] },
    h(
      "table",
      { class: ["data", cls] },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headers.map(([label, isNum]) => h("th", { scope: "col", class: isNum && "num" }, label)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

function benchmarkTable(list) {
  if (!list.length) return h("p", { class: "muted" }, "No benchmark score in the catalog for this model.");
  return tableOf(
    [
      ["Benchmark"],
      ["Score", true],
      ["Shots", true],
      ["Metric"],
      ["Method"],
      ["Reported by"],
      ["Source"],
      ["As of"],
      ["Note"],
    ],
    list.map((b) =>
      h(
        "tr",
        { dataset: { benchmark: b.benchmark } },
        h("td", {}, h("strong", {}, b.benchmark)),
        h("td", { class: "num" }, num(b.value, 2)),
        h("td", { class: "num" }, or(b.shots, String)),
        h("td", {}, or(b.metric, String)),
        h("td", {}, or(b.method, String)),
        h("td", {}, or(b.reported_by, String)),
        h("td", {}, externalLink(b.source, b.source_title || b.source)),
        h("td", { class: "nowrap" }, or(b.as_of, String)),
        h("td", { class: "note" }, b.note || ""),
      ),
    ),
    "benchmarks",
  );
}

function pricingTable(list) {
  if (!list.length) {
    return h(
      "p",
      { class: "muted" },
      "No API price in the catalog: this model is not free, it is unpriced (self-host it, or see the developer).",
    );
  }
  return tableOf(
    [
      ["Tier"],
      ["Input / 1M", true],
      ["Output / 1M", true],
      ["Cached input / 1M", true],
      ["In force"],
      ["Source"],
      ["Note"],
    ],
    list.map((p) => {
      const m = (v) => or(v, (x) => money(x, p.currency));
      return h(
        "tr",
        {},
        h("td", {}, or(p.tier, String)),
        h("td", { class: "num" }, m(p.input_per_m)),
        h("td", { class: "num" }, m(p.output_per_m)),
        h("td", { class: "num" }, m(p.cached_input_per_m)),
        h("td", { class: "nowrap" }, `${p.effective_from || "?"} → ${p.effective_to || "now"}`),
        h(
          "td",
          {},
          externalLink(p.source, p.source_title || p.source),
          p.as_of ? h("small", { class: "as-of" }, ` · ${p.as_of}`) : null,
        ),
        h("td", { class: "note" }, p.note || ""),
      );
    }),
    "pricing",
  );
}

function quantTable(list) {
  return tableOf(
    [["Name"], ["Bits / weight", true], ["File size", true], ["Source"]],
    list.map((q) =>
      h(
        "tr",
        {},
        h("td", {}, q.name),
        h(
          "td",
          { class: "num" },
          or(q.bits_per_weight, (v) => num(v, 2)),
        ),
        h("td", { class: "num" }, or(q.file_bytes, gib)),
        h("td", {}, externalLink(q.source, q.source_title || q.source)),
      ),
    ),
  );
}

function stat(label, content, title) {
  return h(
    "div",
    { class: "stat", title },
    h("span", { class: "stat-label" }, label),
    h("span", { class: "stat-value" }, content),
  );
}

/** One sentence on the API's lifecycle with its source, or nothing when undisclosed. */
function lifecycleNote(lc) {
  if (!lc || lc.status === null) return null;
  const cls = lc.status === "retired" ? "lifecycle bad" : lc.status === "deprecated" ? "lifecycle warn" : "lifecycle";
  const src =
    lc.source && /^https?:\/\//.test(lc.source) ? h("a", { href: lc.source, rel: "noreferrer" }, "source") : null;
  return h(
    "p",
    { class: cls, id: "lifecycle" },
    `API ${lc.text}`,
    lc.replacement ? [" · ", h("a", { href: modelHref(lc.replacement) }, `see ${lc.replacement}`)] : null,
    lc.as_of ? ` · as of ${lc.as_of}` : null,
    src ? [" · ", src] : null,
  );
}

async function modelView(root, id) {
  const [data, gpus] = await Promise.all([api(`/api/models/${enc(id)}`), gpuList()]);
  const { row: r, facts, lifecycle, offers = [] } = data;
  title(r.name);
  const cards = BLOCKS.map(([key, label]) => factCard(label, facts[key]));
  for (const [key, fact] of Object.entries(facts)) {
    if (BLOCKS.some(([k]) => k === key) || IDENTITY.has(key) || LISTS.has(key)) continue;
    if (fact && typeof fact === "object" && !Array.isArray(fact)) cards.push(factCard(humanize(key), fact));
  }
  const origin = String(facts.origin || "")
    .split(/[\\/]/)
    .pop();
  const priceText =
    r.input_price === null && r.output_price === null
      ? r.retired
        ? h("span", { class: "na", title: "a retired API has no price today" }, "retired: no price today")
        : na("no API price in the catalog")
      : [
          or(r.input_price, (v) => money(v, r.currency)),
          " in · ",
          or(r.output_price, (v) => money(v, r.currency)),
          " out",
        ];

  append(
    root,
    h("p", { class: "crumbs" }, h("a", { href: "#/catalog" }, "← Catalog")),
    h(
      "div",
      { class: "page-head model-head" },
      h("h1", {}, r.name),
      h(
        "p",
        { class: "model-meta" },
        h("code", {}, r.id),
        ` · ${r.developer} · ${r.family}`,
        r.variant_of ? [" · variant of ", h("a", { href: modelHref(r.variant_of) }, r.variant_of)] : null,
      ),
      facts.description ? h("p", { class: "lede" }, facts.description) : null,
      h(
        "p",
        { class: "badges" },
        badge(r.kind, "kind"),
        r.access.map((a) => badge(ACCESS_LABEL[a] || a, a)),
        r.commercial ? badge(`commercial: ${r.commercial}`, `commercial-${r.commercial}`) : null,
        r.moe ? badge("mixture of experts", "kind") : null,
        statusCell(r),
      ),
      lifecycleNote(lifecycle),
    ),
    h(
      "div",
      { class: "stats" },
      stat("Parameters", paramsCell(r)),
      stat(
        "Context",
        or(r.context, (v) => `${num(v, 0)} tokens`),
      ),
      stat("Price / 1M tokens", priceText),
      stat(
        "MMLU",
        or(r.mmlu, (v) => num(v, 1)),
      ),
      stat("Released", or(r.release, String)),
      stat("License", or(r.license, String)),
    ),
    h(
      "div",
      { class: "calc-grid" },
      section("Cost calculator", { class: "calc-panel" }, costCalculator(r.id, facts.pricing || [])),
      section(
        "Memory and speed",
        { class: "calc-panel" },
        memoryCalculator(() => r.id, gpus, Math.min(r.context || 4096, 8192)),
      ),
    ),
    section("API offers", { id: "offers" }, offersTable(offers)),
    section("Benchmarks", { id: "benchmarks" }, benchmarkTable(facts.benchmarks || [])),
    section("Pricing history", { id: "pricing" }, pricingTable(facts.pricing || [])),
    facts.quantizations && facts.quantizations.length
      ? section("Quantizations", {}, quantTable(facts.quantizations))
      : null,
    section(
      "Facts and sources",
      { id: "facts" },
      h(
        "p",
        { class: "muted" },
        "Every fact as the catalog holds it, with the source it comes from and the date it was true.",
      ),
      h("div", { class: "fact-grid" }, cards),
      h(
        "p",
        { class: "muted small" },
        facts.aliases && facts.aliases.length ? `Also known as: ${facts.aliases.join(", ")}. ` : "",
        origin ? `Catalog file: ${origin}.` : "",
      ),
    ),
  );
}

// ------------------------------------------------------------------ calculators

const LIMIT_TOKENS = 10_000_000;

function readInt(form, name, min, max) {
  const el = form.elements.namedItem(name);
  const v = Number(el.value);
  const ok = el.value !== "" && Number.isInteger(v) && v >= min && v <= max;
  el.classList.toggle("invalid", !ok);
  return ok ? v : null;
}

function workloadForm(defaults = {}) {
  return h(
    "form",
    { class: "calc-form", on: { submit: (e) => e.preventDefault() } },
    field("Input tokens", numberInput("input_tokens", defaults.input ?? 1000, { max: LIMIT_TOKENS }), "per request"),
    field("Output tokens", numberInput("output_tokens", defaults.output ?? 300, { max: LIMIT_TOKENS }), "per request"),
    field("Requests", numberInput("requests", defaults.requests ?? 1000, { max: 1e12 }), "in the workload"),
    field("Cached input", numberInput("cached_input_tokens", 0, { max: LIMIT_TOKENS }), "tokens, part of the input"),
  );
}

function readWorkload(form) {
  const w = {
    input_tokens: readInt(form, "input_tokens", 0, LIMIT_TOKENS),
    output_tokens: readInt(form, "output_tokens", 0, LIMIT_TOKENS),
    requests: readInt(form, "requests", 0, 1e12),
    cached_input_tokens: readInt(form, "cached_input_tokens", 0, LIMIT_TOKENS),
  };
  if (Object.values(w).some((v) => v === null)) return { error: "Enter whole numbers ≥ 0." };
  if (w.cached_input_tokens > w.input_tokens) {
    form.elements.namedItem("cached_input_tokens").classList.add("invalid");
    return { error: "Cached input tokens cannot exceed the input tokens." };
  }
  return w;
}

function outValue(name, text, raw) {
  return h("span", { class: "out", dataset: { out: name, value: raw ?? "" } }, text);
}

/** The cost estimate; pricing (the model's sourced price facts) turns the price's source into a link. */
function costResult(e, pricing = []) {
  const priceFact =
    pricing.find((p) => p.as_of === e.price_as_of && p.currency === e.currency && !p.effective_to) ||
    pricing.find((p) => p.as_of === e.price_as_of && p.currency === e.currency);
  const rows = [];
  if (e.total_usd === null || e.total_usd === undefined) {
    rows.push(
      h(
        "div",
        { class: "result-main unknown" },
        h("span", { class: "result-label" }, "Total"),
        outValue("total_usd", NA, ""),
      ),
      h("p", { class: "alert alert-warn" }, `No price: ${e.reason || "undisclosed"}. Unpriced is not free.`),
    );
    if (e.total !== null && e.total !== undefined && e.currency) {
      rows.push(h("p", {}, "In its own currency: ", outValue("total", money(e.total, e.currency), e.total)));
    }
    return rows;
  }
  const perRequest = e.requests ? e.total_usd / e.requests : null;
  const [[inputShown, outputShown], totalShown] = moneyParts([e.input_cost_usd, e.output_cost_usd]);
  if (e.provider && !e.first_party)
    rows.push(
      h(
        "p",
        { class: "source", id: "offer" },
        `Cheapest offer: via ${e.provider}`,
        e.quantization ? ` (${e.quantization})` : "",
      ),
    );
  rows.push(
    h(
      "div",
      { class: "result-main" },
      h("span", { class: "result-label" }, `Total for ${num(e.requests, 0)} requests`),
      outValue("total_usd", totalShown, e.total_usd),
      e.currency && e.currency !== "USD" ? h("small", {}, ` = ${money(e.total, e.currency)}`) : null,
    ),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, "Input"),
      h("dd", {}, outValue("input_cost_usd", inputShown, e.input_cost_usd)),
      h("dt", {}, "Output"),
      h("dd", {}, outValue("output_cost_usd", outputShown, e.output_cost_usd)),
      h("dt", {}, "Per request"),
      h("dd", {}, perRequest === null ? "—" : money(perRequest, "USD")),
      h("dt", {}, "Blended / 1M", h("small", { class: "muted" }, " (3:1)")),
      h(
        "dd",
        {},
        or(e.blended_per_m_usd, (v) => money(v, "USD")),
      ),
    ),
    h(
      "p",
      { class: "source" },
      "Price: ",
      priceFact
        ? externalLink(priceFact.source, priceFact.source_title || priceFact.source)
        : externalLink(e.price_source, e.price_source),
      e.price_as_of ? h("span", { class: "as-of" }, ` · as of ${e.price_as_of}`) : null,
    ),
    e.exchange_rate
      ? h(
          "p",
          { class: "source" },
          `Converted at ${e.exchange_rate.usd_per_unit} USD per ${e.exchange_rate.currency}`,
          h("span", { class: "as-of" }, ` · as of ${e.exchange_rate.as_of}`),
        )
      : null,
  );
  if (e.notes && e.notes.length)
    rows.push(
      h(
        "ul",
        { class: "notes" },
        e.notes.map((n) => h("li", {}, n)),
      ),
    );
  return rows;
}

/** Where the model can be called: the developer's own API and hosted providers, each with its
 * price in force, limits, number format, regions, state, published speed and source. Facts taken
 * from a third-party copy or a public dataset say so. */
function offersTable(offers) {
  if (!offers.length)
    return h("p", { class: "muted", id: "no-offers" }, "No known API offer: self-host it (see the memory calculator).");
  const sorted = [...offers].sort((a, b) => (a.input_per_m ?? Infinity) - (b.input_per_m ?? Infinity));
  const price = (o) =>
    o.input_per_m === null || o.output_per_m === null
      ? na("no price")
      : `${money(o.input_per_m, o.currency || "USD")} / ${money(o.output_per_m, o.currency || "USD")}`;
  const speed = (o) =>
    o.output_tokens_per_s || o.ttft_s !== null
      ? [
          o.output_tokens_per_s ? `${num(o.output_tokens_per_s, 0)} tok/s` : "",
          o.ttft_s !== null ? ` TTFT ${o.ttft_s} s` : "",
        ]
      : na("not published");
  const kind = (ev) =>
    ev === "dataset"
      ? badge("dataset", "dataset", "from a public dataset, not the provider's own page")
      : ev === "secondary"
        ? badge("third-party copy", "secondary", "from a third-party copy of the provider's page")
        : null;
  return tableOf(
    [
      ["Provider"],
      ["Model id there"],
      ["In / out per 1M", true],
      ["Context", true],
      ["Format"],
      ["Regions"],
      ["Status"],
      ["Speed"],
      ["Source"],
    ],
    sorted.map((o) =>
      h(
        "tr",
        { dataset: { provider: o.provider } },
        h("td", {}, o.first_party ? `${o.provider_name} (own API)` : o.provider_name),
        h("td", {}, h("code", {}, o.provider_model_id || "")),
        h("td", { class: "num" }, price(o)),
        h(
          "td",
          { class: "num" },
          or(o.context_tokens, (v) => num(v, 0)),
        ),
        h("td", {}, o.quantization || na("undisclosed")),
        h("td", {}, o.regions ? o.regions.join(", ") : na("undisclosed")),
        h(
          "td",
          {},
          o.status === "retired"
            ? badge(o.status_text, "status-retired")
            : o.status
              ? o.status_text
              : na("undisclosed"),
        ),
        h("td", {}, speed(o)),
        h(
          "td",
          {},
          externalLink(o.price_source || o.source, "source"),
          " ",
          kind(o.price_evidence || o.evidence),
          o.as_of ? h("span", { class: "as-of" }, ` ${o.as_of}`) : null,
        ),
      ),
    ),
    "offers",
  );
}

function costCalculator(modelId, pricing = []) {
  const form = workloadForm();
  const out = h("div", { class: "calc-out", "aria-live": "polite" });
  let request = 0;
  const run = async () => {
    const w = readWorkload(form);
    if (w.error) {
      fill(out, h("p", { class: "alert alert-warn" }, w.error));
      return;
    }
    const mine = ++request;
    out.classList.add("busy");
    try {
      const [e] = await api("/api/cost", { model: modelId, ...w });
      if (mine === request) fill(out, ...costResult(e, pricing));
    } catch (err) {
      if (mine === request) fill(out, errorBox(err));
    } finally {
      if (mine === request) out.classList.remove("busy");
    }
  };
  form.addEventListener("input", debounce(run, 250));
  run();
  return h("div", { class: "calc", dataset: { calc: "cost" } }, form, out);
}

const QUANTS = [
  ["fp32", "fp32 (32 bits)"],
  ["bf16", "bf16 (16 bits)"],
  ["fp16", "fp16 (16 bits)"],
  ["fp8", "fp8 (8 bits)"],
  ["int8", "int8 (8 bits)"],
  ["Q8_0", "GGUF Q8_0 (8.5 bpw)"],
  ["Q5_K_M", "GGUF Q5_K_M (5.69 bpw)"],
  ["Q4_K_M", "GGUF Q4_K_M (4.85 bpw)"],
  ["Q4_0", "GGUF Q4_0 (4.5 bpw)"],
  ["IQ4_XS", "GGUF IQ4_XS (4.25 bpw)"],
  ["int4", "int4 (4 bits)"],
  ["Q3_K_M", "GGUF Q3_K_M (3.91 bpw)"],
  ["Q2_K", "GGUF Q2_K (3.35 bpw)"],
];

function memoryBar(est, available) {
  const parts = [
    ["weights", "Weights", est.weights_bytes],
    ["kv", "KV cache", est.kv_cache_bytes],
    ["overhead", "Overhead", est.overhead_bytes],
  ];
  const scale = Math.max(est.total_bytes || 0, available || 0) || 1;
  const bar = h("div", { class: "stack", role: "img", "aria-label": "memory breakdown" });
  for (const [cls, label, bytes] of parts) {
    if (!bytes) continue;
    const seg = h("span", { class: `seg seg-${cls}`, title: `${label}: ${gib(bytes)}` });
    seg.style.width = pct((bytes / scale) * 100);
    bar.append(seg);
  }
  if (available) {
    const cap = h("span", { class: "cap", title: `available: ${gib(available)}` });
    cap.style.left = pct((available / scale) * 100);
    bar.append(cap);
  }
  const legend = h(
    "ul",
    { class: "legend" },
    parts.map(([cls, label, bytes]) =>
      h(
        "li",
        {},
        h("span", { class: `swatch seg-${cls}` }),
        `${label} `,
        bytes === null ? na() : outValue(`${cls}_gib`, gib(bytes), bytes),
      ),
    ),
    available ? h("li", {}, h("span", { class: "swatch cap-swatch" }), "GPU memory") : null,
  );
  return [bar, legend];
}

function memoryResult(a, gpu) {
  const e = a.estimate;
  const verdict =
    a.fits === true
      ? ["fit", "Fits"]
      : a.fits === false
        ? ["nofit", "Does not fit"]
        : ["unknown", a.hardware ? "Unknown" : "Pick a GPU"];
  const where = gpu ? `${a.gpus} × ${gpu.name}` : "";
  const nodes = [
    h(
      "div",
      { class: `verdict verdict-${verdict[0]}` },
      outValue("fits", verdict[1], a.fits === null ? "" : String(a.fits)),
      where ? h("span", {}, ` on ${where}`) : null,
    ),
    h(
      "div",
      { class: "result-main" },
      h("span", { class: "result-label" }, "Needs"),
      e.total_bytes === null
        ? [outValue("total_gib", NA, ""), " (parameter count undisclosed)"]
        : outValue("total_gib", gib(e.total_bytes), e.total_bytes),
      a.available_bytes ? h("small", {}, ` of ${gib(a.available_bytes)} available`) : null,
    ),
  ];
  if (e.total_bytes !== null) nodes.push(...memoryBar(e, a.available_bytes));
  const sp = a.speed;
  nodes.push(
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, "Weights"),
      h("dd", {}, e.params_b === null ? na() : `${num(e.params_b, 2)}B × ${num(e.bits_per_weight, 2)} bits`),
      h("dt", {}, "KV cache"),
      h("dd", {}, `${num(e.context, 0)} tokens × batch ${e.batch}, ${e.kv_dtype}`),
      h("dt", {}, "Decode bound"),
      h(
        "dd",
        {},
        sp && sp.decode_tokens_per_s !== null
          ? [
              outValue("decode", `${num(sp.decode_tokens_per_s, 1)} tok/s`, sp.decode_tokens_per_s),
              h("small", { class: "muted" }, " per sequence, upper bound"),
            ]
          : a.hardware
            ? na("needs the parameter count and the GPU bandwidth")
            : "pick a GPU",
      ),
      sp && sp.batch > 1 && sp.decode_tokens_per_s_total !== null
        ? [h("dt", {}, "Batch total"), h("dd", {}, `${num(sp.decode_tokens_per_s_total, 1)} tok/s`)]
        : null,
      sp
        ? [
            h("dt", {}, `Prefill ${num(sp.prompt_tokens, 0)} tok`),
            h(
              "dd",
              {},
              or(sp.prefill_seconds, (v) => `≥ ${seconds(v)}`),
            ),
          ]
        : null,
      sp && sp.bound_by ? [h("dt", {}, "Bound by"), h("dd", {}, sp.bound_by)] : null,
    ),
  );
  const notes = [...(e.notes || []), ...((sp && sp.notes) || [])];
  if (notes.length)
    nodes.push(
      h(
        "ul",
        { class: "notes" },
        notes.map((n) => h("li", {}, n)),
      ),
    );
  return nodes;
}

/** The memory/speed calculator; modelId is a function so a model picker can drive it. */
function memoryCalculator(modelId, gpus, defaultContext = 4096) {
  const defaultGpu = gpus.some((g) => g.id === "rtx-4090") ? "rtx-4090" : gpus[0] && gpus[0].id;
  const form = h(
    "form",
    { class: "calc-form", on: { submit: (e) => e.preventDefault() } },
    field("Quantization", select("quant", QUANTS, "fp16")),
    field("Context (tokens)", numberInput("context", defaultContext, { min: 1, max: LIMIT_TOKENS })),
    field("Batch", numberInput("batch", 1, { min: 1, max: 4096 })),
    h(
      "div",
      { class: "span-2" },
      field(
        "GPU",
        select(
          "gpu",
          gpus.map((g) => [g.id, `${g.name} · ${num(g.memory_gib, 0)} GiB`]),
          defaultGpu,
        ),
      ),
    ),
    field("GPUs", numberInput("count", 1, { min: 1, max: 64 })),
  );
  const out = h("div", { class: "calc-out", "aria-live": "polite" });
  let request = 0;
  const run = async () => {
    const context = readInt(form, "context", 1, LIMIT_TOKENS);
    const batch = readInt(form, "batch", 1, 4096);
    const count = readInt(form, "count", 1, 64);
    if (context === null || batch === null || count === null) {
      fill(out, h("p", { class: "alert alert-warn" }, "Context ≥ 1, batch 1–4096 and 1–64 GPUs, whole numbers."));
      return;
    }
    const gpu = form.elements.namedItem("gpu").value;
    const params = { model: modelId(), quant: form.elements.namedItem("quant").value, context, batch, gpu, count };
    const mine = ++request;
    out.classList.add("busy");
    try {
      const a = await api("/api/memory", params);
      if (mine === request)
        fill(
          out,
          ...memoryResult(
            a,
            gpus.find((g) => g.id === gpu),
          ),
        );
    } catch (err) {
      if (mine === request) fill(out, errorBox(err));
    } finally {
      if (mine === request) out.classList.remove("busy");
    }
  };
  form.addEventListener("input", debounce(run, 250));
  run();
  const el = h("div", { class: "calc", dataset: { calc: "memory" } }, form, out);
  el.refresh = run;
  return el;
}

// Current APIs of several providers; any that retires drops out (it has no price any more).
const DEFAULT_COMPARE = [
  "claude-sonnet-4.6",
  "claude-haiku-4.5",
  "claude-opus-4.8",
  "gemini-3.1-pro",
  "gemini-3-flash",
  "gpt-5-mini",
  "gpt-4.1-mini",
  "mistral-small-4",
];

async function calcView(root) {
  title("Calculators");
  const [models, gpus] = await Promise.all([allModels(), gpuList()]);
  const priced = models.filter((m) => m.input_price !== null).sort((a, b) => a.id.localeCompare(b.id));
  let chosen = new Set(DEFAULT_COMPARE.filter((id) => priced.some((m) => m.id === id)));
  if (!chosen.size) chosen = new Set(priced.slice(0, 5).map((m) => m.id));

  const form = workloadForm({ input: 1000, output: 300, requests: 100000 });
  const filter = h("input", { type: "search", placeholder: "Filter models…", "aria-label": "Filter models" });
  const picker = h("div", { class: "picker" });
  const out = h("div", { class: "calc-out", "aria-live": "polite" });
  const renderPicker = () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    fill(
      picker,
      ...priced
        .filter(
          (m) => words.every((w) => `${m.id} ${m.name} ${m.developer}`.toLowerCase().includes(w)) || chosen.has(m.id),
        )
        .map((m) =>
          h(
            "label",
            { class: "check" },
            h("input", {
              type: "checkbox",
              value: m.id,
              checked: chosen.has(m.id),
              on: {
                change: (e) => {
                  if (e.target.checked) chosen.add(m.id);
                  else chosen.delete(m.id);
                  run();
                },
              },
            }),
            h("span", {}, m.name),
          ),
        ),
    );
  };
  let request = 0;
  const run = async () => {
    const w = readWorkload(form);
    if (w.error) return fill(out, h("p", { class: "alert alert-warn" }, w.error));
    const ids = [...chosen].slice(0, 50);
    if (!ids.length) return fill(out, h("p", { class: "muted" }, "Tick at least one model."));
    const mine = ++request;
    try {
      const est = await api("/api/cost", { model: ids, ...w });
      if (mine !== request) return;
      est.sort((a, b) => (a.total_usd ?? Infinity) - (b.total_usd ?? Infinity) || a.model.localeCompare(b.model));
      const max = Math.max(...est.map((e) => e.total_usd || 0)) || 1;
      const name = (id) => (models.find((m) => m.id === id) || { name: id }).name;
      fill(
        out,
        tableOf(
          [
            ["Model"],
            ["Total (USD)", true],
            [""],
            ["Input", true],
            ["Output", true],
            ["Blended / 1M", true],
            ["Price"],
          ],
          est.map((e) => {
            const bar = h("span", { class: "hbar" }, h("span", { class: "fill" }));
            if (e.total_usd !== null) bar.firstChild.style.width = pct((e.total_usd / max) * 100);
            return h(
              "tr",
              { dataset: { model: e.model } },
              h(
                "td",
                {},
                h("a", { href: modelHref(e.model) }, name(e.model)),
                e.provider && !e.first_party ? h("small", { class: "sub" }, ` via ${e.provider}`) : null,
              ),
              h(
                "td",
                { class: "num" },
                e.total_usd === null
                  ? h("span", { class: "na", title: e.reason || "" }, `no price (${e.reason || NA})`)
                  : outValue("total_usd", money(e.total_usd), e.total_usd),
                e.currency && e.currency !== "USD" && e.total !== null
                  ? h("small", { class: "sub" }, money(e.total, e.currency))
                  : null,
              ),
              h("td", { class: "bar-cell" }, e.total_usd === null ? "" : bar),
              h(
                "td",
                { class: "num" },
                or(e.input_cost_usd, (v) => money(v)),
              ),
              h(
                "td",
                { class: "num" },
                or(e.output_cost_usd, (v) => money(v)),
              ),
              h(
                "td",
                { class: "num" },
                or(e.blended_per_m_usd, (v) => money(v)),
              ),
              h(
                "td",
                { class: "nowrap" },
                e.price_as_of ? h("a", { href: modelHref(e.model) }, `as of ${e.price_as_of}`) : na(),
              ),
            );
          }),
          "compare",
        ),
      );
    } catch (err) {
      if (mine === request) fill(out, errorBox(err));
    }
  };
  filter.addEventListener("input", renderPicker);
  form.addEventListener("input", debounce(run, 250));
  renderPicker();

  const memModels = models.filter((m) => m.kind === "generative").sort((a, b) => a.name.localeCompare(b.name));
  const memDefault = memModels.some((m) => m.id === "llama-3-8b") ? "llama-3-8b" : memModels[0] && memModels[0].id;
  const memPick = select(
    "model",
    memModels.map((m) => [m.id, `${m.name}${m.params_b ? ` (${num(m.params_b, 1)}B)` : ""}`]),
    memDefault,
  );
  const mem = memoryCalculator(() => memPick.value, gpus, 8192);
  memPick.addEventListener("change", () => mem.refresh());

  append(
    root,
    pageHead("Calculators", [
      "What a workload costs on each API, and what it takes to run a model yourself. Same estimators as `llmatlas cost` and `llmatlas fit`.",
    ]),
    section(
      "Compare API cost",
      { id: "compare", class: "compare-panel" },
      form,
      h("div", { class: "picker-head" }, h("strong", {}, "Models with an API price"), filter),
      picker,
      out,
    ),
    section("Memory and speed (self-hosting)", { id: "memory" }, field("Model", memPick), mem),
  );
  await run();
}

// ------------------------------------------------------------------ leaderboard

function scoreBar(value, low, high, scale) {
  const bar = h("span", { class: "sbar", "aria-hidden": "true" });
  const fill = h("span", { class: "fill" });
  fill.style.width = pct((value / scale) * 100);
  bar.append(fill);
  if (low !== null && low !== undefined && high !== null && high !== undefined) {
    const ci = h("span", { class: "ci" });
    ci.style.left = pct((low / scale) * 100);
    ci.style.width = pct(((high - low) / scale) * 100);
    bar.append(ci);
  }
  return bar;
}

function evidenceBadge(ev) {
  return ev === "measured"
    ? badge("measured here", "measured", "scored by llmatlas on this machine")
    : badge("reported", "reported", "reported by the developer or a paper (see source)");
}

/** How a leaderboard names a model: catalog ids link to their page, served specs show their label. */
function namer(models, backends) {
  const known = new Set(models.map((m) => m.id));
  const labels = new Map(backends.map((b) => [b.spec, b]));
  return (id) => {
    if (known.has(id)) return h("a", { href: modelHref(id) }, id);
    const b = labels.get(id);
    if (b) return h("span", { title: id }, h("span", { class: "mono" }, b.label), " ", badge(b.backend, "backend"));
    return h("span", { class: "mono", title: id }, id);
  };
}

function taskTable(scores, task, nameOf) {
  const scale = task.startsWith("mt_bench") ? 10 : 100;
  return tableOf(
    [
      ["#", true],
      ["Model"],
      ["Score", true],
      [""],
      ["95% CI", true],
      ["Evidence"],
      ["n", true],
      ["Shots", true],
      ["Metric"],
      ["Source"],
    ],
    scores.map((s, i) =>
      h(
        "tr",
        { dataset: { model: s.model, evidence: s.evidence } },
        h("td", { class: "num rank" }, String(i + 1)),
        h("td", {}, nameOf(s.model)),
        h("td", { class: "num strong" }, num(s.value, 2)),
        h("td", { class: "bar-cell" }, scoreBar(s.value, s.ci_low, s.ci_high, scale)),
        h(
          "td",
          { class: "num nowrap" },
          s.ci_low === null
            ? h("span", { class: "muted", title: "reported scores carry no interval" }, "—")
            : `${s.ci_low.toFixed(1)} – ${s.ci_high.toFixed(1)}`,
        ),
        h("td", {}, evidenceBadge(s.evidence)),
        h(
          "td",
          { class: "num" },
          s.n === null ? h("span", { class: "muted", title: "not stated by the source" }, "—") : num(s.n, 0),
        ),
        h("td", { class: "num" }, s.shots === null ? "—" : String(s.shots)),
        h("td", {}, s.metric),
        h(
          "td",
          { class: "source-cell" },
          s.evidence === "measured" ? h("code", {}, s.source) : externalLink(s.source, hostOf(s.source)),
        ),
      ),
    ),
    "scores",
    true,
  );
}

function hostOf(url) {
  try {
    return new URL(url).host.replace(/^www\./, "");
  } catch {
    return url;
  }
}

// Below this many votes a maximum-likelihood rating is mostly noise (one win and no loss has no
// finite upper bound), and a bootstrap over so few battles cannot show it: say so next to the number.
const PROVISIONAL_VOTES = 10;

function ratingsTable(arena, nameOf) {
  if (!arena.ratings.length) {
    return h(
      "p",
      { class: "empty-state" },
      "No votes yet. ",
      h("a", { href: "#/arena" }, "Vote in the arena"),
      " to rate the served models.",
    );
  }
  const lo = Math.min(...arena.ratings.map((r) => r.ci_low));
  const hi = Math.max(...arena.ratings.map((r) => r.ci_high));
  const span = hi - lo || 1;
  return tableOf(
    [["#", true], ["Model"], ["Rating", true], ["95% CI", true], [""], ["Votes", true], ["W / L / T", true]],
    arena.ratings.map((r, i) => {
      const bar = h("span", { class: "sbar" });
      const ci = h("span", { class: "ci" });
      ci.style.left = pct(((r.ci_low - lo) / span) * 100);
      ci.style.width = pct(Math.max(1, ((r.ci_high - r.ci_low) / span) * 100));
      const dot = h("span", { class: "dot" });
      dot.style.left = pct(((r.rating - lo) / span) * 100);
      bar.append(ci, dot);
      return h(
        "tr",
        { dataset: { model: r.model } },
        h("td", { class: "num rank" }, String(i + 1)),
        h("td", {}, nameOf(r.model)),
        h(
          "td",
          { class: "num strong" },
          num(r.rating, 0),
          r.votes < PROVISIONAL_VOTES
            ? [
                " ",
                badge(
                  "provisional",
                  "commercial-conditional",
                  `${r.votes} of ${PROVISIONAL_VOTES} votes: too few for a stable rating or interval`,
                ),
              ]
            : null,
        ),
        h("td", { class: "num nowrap" }, `${num(r.ci_low, 0)} – ${num(r.ci_high, 0)}`),
        h("td", { class: "bar-cell" }, bar),
        h("td", { class: "num", dataset: { col: "votes" } }, String(r.votes)),
        h("td", { class: "num nowrap" }, `${r.wins} / ${r.losses} / ${r.ties}`),
      );
    }),
    "ratings",
  );
}

function overallTable(rows, nameOf) {
  return tableOf(
    [["#", true], ["Model"], ["Mean score", true], [""], ["Tasks", true], ["Evidence"]],
    rows.map((r, i) =>
      h(
        "tr",
        { dataset: { model: r.model } },
        h("td", { class: "num rank" }, String(i + 1)),
        h("td", {}, nameOf(r.model)),
        h("td", { class: "num strong" }, num(r.value, 1)),
        h("td", { class: "bar-cell" }, scoreBar(r.value, null, null, 100)),
        h("td", { class: "num" }, String(r.tasks)),
        h("td", {}, evidenceBadge(r.evidence)),
      ),
    ),
    "overall",
    true,
  );
}

/** Quality vs blended price, log x, as inline SVG built with DOM calls; frontier connected. */
function paretoChart(points) {
  const W = 900;
  const H = 440;
  const m = { l: 58, r: 28, t: 22, b: 58 };
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-labelledby": "pareto-title pareto-desc",
    preserveAspectRatio: "xMidYMid meet",
  });
  chart.append(
    svg("title", { id: "pareto-title" }, "Quality (MMLU) against blended price per million tokens"),
    svg(
      "desc",
      { id: "pareto-desc" },
      `${points.length} priced models; the Pareto frontier (no cheaper model scores higher) is connected.`,
    ),
  );
  if (!points.length) {
    chart.append(
      svg(
        "text",
        { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis-label" },
        "No model has both an MMLU score and an API price.",
      ),
    );
    return chart;
  }
  const logs = points.map((p) => Math.log10(p.blended_usd_per_m));
  let x0 = Math.floor(Math.min(...logs));
  let x1 = Math.ceil(Math.max(...logs));
  if (x1 - x0 < 1) x1 = x0 + 1;
  const qs = points.map((p) => p.quality);
  const y0 = Math.max(0, Math.floor((Math.min(...qs) - 5) / 10) * 10);
  const y1 = Math.min(100, Math.ceil((Math.max(...qs) + 3) / 10) * 10);
  const px = (c) => m.l + ((Math.log10(c) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (q) => H - m.b - ((q - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);

  const grid = svg("g", { class: "grid" });
  for (let k = x0; k <= x1; k++) {
    const v = 10 ** k;
    grid.append(
      svg("line", { x1: px(v), x2: px(v), y1: m.t, y2: H - m.b, class: "major" }),
      svg(
        "text",
        { x: px(v), y: H - m.b + 18, "text-anchor": "middle", class: "tick" },
        `$${v >= 1 ? num(v, 0) : num(v, 3)}`,
      ),
    );
    if (k < x1)
      for (const f of [2, 5])
        grid.append(svg("line", { x1: px(f * v), x2: px(f * v), y1: m.t, y2: H - m.b, class: "minor" }));
  }
  for (let q = y0; q <= y1; q += 10) {
    grid.append(
      svg("line", { x1: m.l, x2: W - m.r, y1: py(q), y2: py(q), class: q === y0 ? "axis" : "major" }),
      svg("text", { x: m.l - 8, y: py(q) + 4, "text-anchor": "end", class: "tick" }, String(q)),
    );
  }
  grid.append(svg("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: "axis" }));
  chart.append(
    grid,
    svg(
      "text",
      { x: (m.l + W - m.r) / 2, y: H - 14, "text-anchor": "middle", class: "axis-label" },
      "Blended price, USD per 1M tokens (3 input : 1 output), log scale",
    ),
    svg(
      "text",
      {
        x: 16,
        y: (m.t + H - m.b) / 2,
        "text-anchor": "middle",
        class: "axis-label",
        transform: `rotate(-90 16 ${(m.t + H - m.b) / 2})`,
      },
      "MMLU (%)",
    ),
  );

  const frontier = points.filter((p) => p.frontier).sort((a, b) => a.blended_usd_per_m - b.blended_usd_per_m);
  if (frontier.length > 1) {
    chart.append(
      svg("polyline", {
        class: "frontier-line",
        points: frontier.map((p) => `${px(p.blended_usd_per_m)},${py(p.quality)}`).join(" "),
      }),
    );
  }

  // Labels: try right, left, above, below of each point; keep the first spot that overlaps nothing.
  const placed = [];
  const overlaps = (r) => placed.some((o) => r.x < o.x + o.w && o.x < r.x + r.w && r.y < o.y + o.h && o.y < r.y + r.h);
  for (const p of points) placed.push({ x: px(p.blended_usd_per_m) - 6, y: py(p.quality) - 6, w: 12, h: 12 });
  const layer = svg("g", { class: "points" });
  const ordered = [...points].sort((a, b) => Number(b.frontier) - Number(a.frontier) || b.quality - a.quality);
  for (const p of ordered) {
    const x = px(p.blended_usd_per_m);
    const y = py(p.quality);
    const tip = `${p.model}: MMLU ${num(p.quality, 1)} (${p.evidence}), ${money(p.blended_usd_per_m)} per 1M tokens blended${p.frontier ? " — on the frontier" : ""}`;
    const g = svg("g", {
      class: ["point", p.frontier && "frontier", p.evidence === "measured" && "measured"],
      tabindex: 0,
      role: "link",
      "aria-label": tip,
      on: {
        click: () => (location.hash = modelHref(p.model)),
        keydown: (e) => {
          if (e.key === "Enter") location.hash = modelHref(p.model);
        },
      },
    });
    g.setAttribute("data-model", p.model);
    g.append(svg("title", {}, tip), svg("circle", { cx: x, cy: y, r: p.frontier ? 6.5 : 5 }));
    const w = p.model.length * 6.4 + 4;
    const spots = [
      { x: x + 9, y: y - 7, anchor: "start", tx: x + 10, ty: y + 4 },
      { x: x - 9 - w, y: y - 7, anchor: "end", tx: x - 10, ty: y + 4 },
      { x: x - w / 2, y: y - 22, anchor: "middle", tx: x, ty: y - 11 },
      { x: x - w / 2, y: y + 8, anchor: "middle", tx: x, ty: y + 19 },
    ];
    const spot = spots.find((s) => s.x >= 0 && s.x + w <= W && s.y >= 0 && !overlaps({ ...s, w, h: 14 }));
    if (spot) {
      placed.push({ x: spot.x, y: spot.y, w, h: 14 });
      g.append(svg("text", { x: spot.tx, y: spot.ty, "text-anchor": spot.anchor, class: "label" }, p.model));
    }
    layer.append(g);
  }
  chart.append(layer);
  return chart;
}

async function leaderboardView(root) {
  title("Leaderboard");
  const [lb, models, backends] = await Promise.all([api("/api/leaderboard"), allModels(), backendList()]);
  const nameOf = namer(models, backends);
  const tasks = Object.keys(lb.tasks);
  const current = tasks.includes("mmlu") ? "mmlu" : tasks[0];
  const picker = select(
    "task",
    tasks.map((t) => {
      const measured = lb.tasks[t].filter((s) => s.evidence === "measured").length;
      return [t, `${t} (${lb.tasks[t].length}${measured ? `, ${measured} measured` : ""})`];
    }),
    current,
  );
  picker.id = "task-select";
  const holder = h("div", { class: "task-table" });
  const show = () =>
    fill(
      holder,
      tasks.length
        ? taskTable(lb.tasks[picker.value], picker.value, nameOf)
        : h("p", { class: "muted" }, "No score yet."),
    );
  picker.addEventListener("change", show);
  show();
  const frontierCount = lb.pareto.filter((p) => p.frontier).length;

  append(
    root,
    pageHead(
      "Leaderboard",
      [
        "Scores measured here (with 95% intervals) beside scores reported by developers and papers (with their sources). Every row says which it is.",
      ],
      h(
        "nav",
        { class: "toc", "aria-label": "On this page" },
        h("a", { href: "#/leaderboard/tasks" }, "By task"),
        h("a", { href: "#/leaderboard/pareto" }, "Quality vs price"),
        h("a", { href: "#/leaderboard/overall" }, "Overall"),
        h("a", { href: "#/leaderboard/arena" }, "Arena ratings"),
      ),
    ),
    section("By task", { id: "tasks" }, h("div", { class: "toolbar" }, field("Task", picker)), holder),
    section(
      "Quality vs price",
      { id: "pareto" },
      h(
        "figure",
        { class: "figure" },
        paretoChart(lb.pareto),
        h(
          "figcaption",
          {},
          h("span", { class: "key key-frontier" }),
          ` Pareto frontier (${frontierCount} models: none cheaper scores higher) `,
          h("span", { class: "key key-other" }),
          " dominated. Hover a point for its numbers; click to open the model.",
        ),
      ),
    ),
    section(
      "Overall",
      { id: "overall" },
      h("p", { class: "muted" }, "Mean over the tasks each model has (MT-Bench × 10); measured evidence ranks first."),
      overallTable(lb.overall, nameOf),
    ),
    section(
      "Arena ratings",
      { id: "arena" },
      h(
        "p",
        { class: "muted arena-summary" },
        outValue("votes", `${lb.arena.votes} ${lb.arena.votes === 1 ? "vote" : "votes"}`, lb.arena.votes),
        ` · Bradley–Terry ratings with bootstrap 95% intervals (${lb.arena.rounds} rounds) · `,
        h("a", { href: "#/arena" }, "vote in the arena"),
      ),
      ratingsTable(lb.arena, nameOf),
    ),
  );
}

// ------------------------------------------------------------------ playground

function pane(model, header) {
  const status = h("span", { class: "status" }, "waiting");
  const output = h("pre", { class: "output", tabindex: 0 });
  const stats = h("dl", { class: "run-stats" });
  const el = h(
    "article",
    { class: "pane", dataset: { model } },
    h("header", { class: "pane-head" }, header, status),
    output,
    stats,
  );
  return { el, status, output, stats };
}

function setStatus(p, state, text) {
  p.status.textContent = text || state;
  p.status.className = `status status-${state}`;
  p.el.dataset.state = state;
}

function showError(p, message) {
  setStatus(p, "error", "error");
  fill(p.stats, h("div", { class: "stat-item wide" }, h("dt", {}, "Error"), h("dd", { class: "error-text" }, message)));
}

function showStats(p, d) {
  const entries = [
    ["Latency", or(d.latency_s, seconds)],
    ["TTFT", or(d.ttft_s, seconds)],
    ["Output tokens", or(d.output_tokens, (v) => num(v, 0))],
    ["Tokens / s", or(d.output_tokens_per_s, (v) => num(v, 1))],
    [
      "Cost",
      d.cost_usd !== null && d.cost_usd !== undefined
        ? money(d.cost_usd)
        : h("span", { class: "cost-note" }, d.cost_note || "unknown (no price)"),
    ],
  ];
  fill(
    p.stats,
    ...entries.map(([k, v]) =>
      h(
        "div",
        { class: ["stat-item", k === "Cost" && d.cost_usd == null && "wide"] },
        h("dt", {}, k),
        h("dd", { dataset: { stat: k.toLowerCase() } }, v),
      ),
    ),
  );
}

async function streamInto(p, body, signal) {
  setStatus(p, "running", "starting…");
  let text = "";
  let finished = false;
  const handle = (ev) => {
    if (ev.type === "delta") {
      if (!text) setStatus(p, "running", "streaming…");
      text += ev.text;
      p.output.append(document.createTextNode(ev.text));
      p.output.scrollTop = p.output.scrollHeight;
    } else if (ev.type === "done") {
      finished = true;
      if (typeof ev.text === "string" && ev.text !== text) p.output.textContent = ev.text;
      showStats(p, ev);
      if (ev.error) {
        setStatus(p, "error", "error");
        p.stats.append(
          h("div", { class: "stat-item wide" }, h("dt", {}, "Error"), h("dd", { class: "error-text" }, ev.error)),
        );
      } else setStatus(p, "done", "done");
    } else if (ev.type === "error") {
      finished = true;
      showError(p, ev.message || "unknown error");
    }
  };
  try {
    await postEvents("/api/generate/stream", body, handle, signal);
    if (!finished) showError(p, "the stream ended before the model finished");
  } catch (err) {
    if (signal.aborted) {
      setStatus(p, "stopped", "stopped");
      return;
    }
    showError(p, errorText(err));
  }
}

/** Where the served models come from, and how to add one (the endpoints file, an example). */
function addModelHelp(info, open = false) {
  return h(
    "details",
    { class: "add-model", open },
    h("summary", {}, "Add a model"),
    h(
      "p",
      {},
      "Served here: the embedded SmolLM2 and the endpoints in ",
      h("code", {}, info.file),
      info.configured.length ? ` (now: ${info.configured.join(", ")})` : " (none yet)",
      ". Add one per line as ",
      h("code", {}, "name: SPEC"),
      " and restart ",
      h("code", {}, "llmatlas serve"),
      ". API keys stay in environment variables: the file names the variable, never the key, and no key reaches this page.",
    ),
    h("pre", { class: "example" }, info.example),
    info.demo
      ? h("p", { class: "muted small" }, "Demo mode: the mock models give canned answers, not a model's.")
      : null,
  );
}

function modelBadges(b) {
  return [badge(b.backend, "backend"), b.demo ? badge("demo", "demo", "a mock model: canned answers") : null];
}

const playgroundState = {
  prompt: "Explain in two sentences what a context window is.",
  chosen: null,
  maxTokens: 128,
  temperature: 0,
};

async function playgroundView(root) {
  title("Playground");
  const [backends, info] = await Promise.all([backendList(), endpointsInfo()]);
  const st = playgroundState;
  if (!st.chosen) st.chosen = new Set(backends.slice(0, 2).map((b) => b.spec));
  const prompt = h("textarea", { name: "prompt", rows: 4, maxlength: 20000, required: true, "aria-label": "Prompt" });
  prompt.value = st.prompt;
  const checks = h(
    "fieldset",
    { class: "model-checks" },
    h("legend", {}, "Models"),
    backends.map((b) =>
      h(
        "label",
        { class: "check" },
        h("input", { type: "checkbox", name: "model", value: b.spec, checked: st.chosen.has(b.spec) }),
        h("span", {}, b.label),
        ...modelBadges(b),
      ),
    ),
  );
  const maxTokens = numberInput("max_tokens", st.maxTokens, { min: 1, max: 2048 });
  const temperature = numberInput("temperature", st.temperature, { min: 0, max: 2, step: 0.1 });
  const runBtn = h("button", { type: "submit", class: "btn btn-primary", id: "run" }, "Run");
  const stopBtn = h("button", { type: "button", class: "btn btn-quiet", disabled: true }, "Stop");
  const message = h("p", { class: "form-message", "aria-live": "polite" });
  const panes = h("div", { class: "panes" });
  let controllers = [];

  const stop = () => {
    for (const c of controllers) c.abort();
    controllers = [];
  };
  stopBtn.addEventListener("click", stop);

  const form = h(
    "form",
    { class: "run-form" },
    field("Prompt", prompt),
    checks,
    h(
      "div",
      { class: "row" },
      field("Max tokens", maxTokens),
      field("Temperature", temperature),
      h("div", { class: "actions" }, runBtn, stopBtn),
    ),
    message,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const specs = [...checks.querySelectorAll("input:checked")].map((i) => i.value);
    st.prompt = prompt.value;
    st.chosen = new Set(specs);
    const mt = readInt(form, "max_tokens", 1, 2048);
    const temp = Number(temperature.value);
    if (!prompt.value.trim()) return (message.textContent = "Write a prompt first.");
    if (!specs.length) return (message.textContent = "Tick at least one model (two or more to compare).");
    if (mt === null) return (message.textContent = "Max tokens: a whole number from 1 to 2048.");
    if (!(temp >= 0 && temp <= 2)) return (message.textContent = "Temperature: from 0 to 2.");
    message.textContent = specs.length === 1 ? "Tip: tick two or more models to compare them side by side." : "";
    st.maxTokens = mt;
    st.temperature = temp;
    stop();
    const made = specs.map((spec) => {
      const b = backends.find((x) => x.spec === spec);
      return pane(
        spec,
        h(
          "div",
          { class: "pane-title" },
          h("strong", {}, b ? b.label : spec),
          " ",
          badge(b ? b.backend : "?", "backend"),
          b && b.catalog_id ? h("a", { href: modelHref(b.catalog_id), class: "small" }, " catalog") : null,
        ),
      );
    });
    fill(panes, ...made.map((p) => p.el));
    panes.classList.toggle("many", made.length > 2);
    runBtn.disabled = true;
    stopBtn.disabled = false;
    controllers = made.map(() => new AbortController());
    await Promise.allSettled(
      made.map((p, i) =>
        streamInto(
          p,
          { model: p.el.dataset.model, prompt: prompt.value, max_tokens: mt, temperature: temp },
          controllers[i].signal,
        ),
      ),
    );
    runBtn.disabled = false;
    stopBtn.disabled = true;
  });

  append(
    root,
    pageHead("Playground", [
      "One prompt, several models side by side, streamed as they write. Latency, time to first token, speed and cost are measured per answer.",
    ]),
    backends.length ? form : h("p", { class: "alert alert-warn" }, "No model is served yet."),
    addModelHelp(info, !backends.length),
    panes,
  );
  return stop;
}

// ------------------------------------------------------------------ arena

const VOTES = [
  ["a", "A is better"],
  ["b", "B is better"],
  ["tie", "Tie"],
  ["both_bad", "Both bad"],
];

async function arenaView(root) {
  title("Arena");
  const [backends, info] = await Promise.all([backendList(), endpointsInfo()]);
  const prompt = h("textarea", { name: "prompt", rows: 3, maxlength: 20000, required: true, "aria-label": "Prompt" });
  prompt.value = "Name three prime numbers and say why each is prime.";
  const maxTokens = numberInput("max_tokens", 128, { min: 1, max: 1024 });
  const start = h("button", { type: "submit", class: "btn btn-primary", id: "battle" }, "Start battle");
  const message = h("p", { class: "form-message", "aria-live": "polite" });
  const stage = h("div", { class: "battle" });
  const form = h(
    "form",
    { class: "run-form" },
    field("Prompt", prompt),
    h("div", { class: "row" }, field("Max tokens", maxTokens), h("div", { class: "actions" }, start)),
    message,
  );

  const sidePane = (side, text) => {
    const who = h("span", { class: "identity hidden-name" }, "hidden until you vote");
    const el = h(
      "article",
      { class: "pane", dataset: { side } },
      h(
        "header",
        { class: "pane-head" },
        h("div", { class: "pane-title" }, h("strong", {}, `Model ${side.toUpperCase()}`), " ", who),
      ),
      h("pre", { class: "output", tabindex: 0 }, text),
    );
    return { el, who };
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const mt = readInt(form, "max_tokens", 1, 1024);
    if (!prompt.value.trim()) return (message.textContent = "Write a prompt first.");
    if (mt === null) return (message.textContent = "Max tokens: a whole number from 1 to 1024.");
    message.textContent = "";
    start.disabled = true;
    fill(stage, h("p", { class: "muted loading" }, "Two anonymous models are answering…"));
    try {
      const b = await postJSON("/api/arena/battles", { prompt: prompt.value, max_tokens: mt });
      const A = sidePane("a", b.answer_a);
      const B = sidePane("b", b.answer_b);
      const result = h("div", { class: "vote-result", "aria-live": "polite" });
      const buttons = VOTES.map(([winner, label]) =>
        h("button", { type: "button", class: "btn vote", dataset: { winner } }, label),
      );
      const bar = h("div", { class: "vote-bar", role: "group", "aria-label": "Your vote" }, buttons);
      for (const btn of buttons) {
        btn.addEventListener("click", async () => {
          for (const x of buttons) x.disabled = true;
          try {
            const v = await postJSON(`/api/arena/battles/${enc(b.id)}/vote`, { winner: btn.dataset.winner });
            const label = (spec) => (backends.find((x) => x.spec === spec) || { label: spec }).label;
            for (const [pn, spec] of [
              [A, v.model_a],
              [B, v.model_b],
            ]) {
              pn.who.textContent = label(spec);
              pn.who.title = spec;
              pn.who.dataset.spec = spec;
              pn.who.classList.replace("hidden-name", "revealed");
            }
            btn.classList.add("chosen");
            const won = { a: [A], b: [B], tie: [A, B], both_bad: [] }[v.winner] || [];
            for (const pn of won) pn.el.classList.add("winner");
            if (v.winner === "both_bad") for (const pn of [A, B]) pn.el.classList.add("loser");
            const said = {
              a: `Model A (${label(v.model_a)}) wins`,
              b: `Model B (${label(v.model_b)}) wins`,
              tie: "A tie",
              both_bad: "Both answers were bad",
            }[v.winner];
            fill(
              result,
              h("strong", {}, "Thanks — vote recorded. "),
              `${said}. `,
              h("a", { href: "#/leaderboard/arena", class: "ratings-link" }, "See the arena ratings →"),
              " ",
              h(
                "button",
                { type: "button", class: "btn btn-quiet", on: { click: () => form.requestSubmit() } },
                "New battle",
              ),
            );
          } catch (err) {
            for (const x of buttons) x.disabled = false;
            fill(result, errorBox(err));
          }
        });
      }
      fill(
        stage,
        h("p", { class: "battle-prompt" }, h("span", { class: "muted" }, "Prompt: "), b.prompt),
        h("div", { class: "panes" }, A.el, B.el),
        bar,
        result,
      );
    } catch (err) {
      fill(stage, errorBox(err));
    } finally {
      start.disabled = false;
    }
  });

  append(
    root,
    pageHead("Arena", [
      "Two served models, drawn at random, answer your prompt with their names hidden. Vote for the better answer: votes become Bradley–Terry ratings with bootstrap intervals on the ",
      h("a", { href: "#/leaderboard/arena" }, "leaderboard"),
      ".",
    ]),
    backends.length < 2
      ? h(
          "p",
          { class: "alert alert-warn" },
          `The arena needs at least two served models; ${backends.length} is served.`,
        )
      : [form, stage],
    addModelHelp(info, backends.length < 2),
  );
}

// ------------------------------------------------------------------ start

window.addEventListener("hashchange", route);
if (!location.hash || location.hash === "#" || location.hash === "#/") history.replaceState(null, "", "#/catalog");
route();
