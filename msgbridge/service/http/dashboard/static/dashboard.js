// The msgbridge dashboard: polls /dashboard/state.json every second and draws it.
// Text goes in with textContent only (nothing from the server is parsed as HTML); charts are SVG built
// with DOM calls, sized by attributes, so the page needs no inline script or style (see its CSP).
"use strict";

const STATE_URL = "/dashboard/state.json";
const PERIOD_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
// Colours of the statuses in a campaign's mix, and the order they are stacked in.
const STATUS_CLASS = {
  DELIVERED: "ok", PARTIALLY_DELIVERED: "ok",
  SUBMITTED: "sent", ACCEPTED: "sent",
  QUEUED: "queued", MAYBE_SUBMITTED: "doubt", UNKNOWN: "doubt",
  UNDELIVERABLE: "bad", REJECTED: "bad", EXPIRED: "bad", FAILED: "bad", DELETED: "bad",
  CANCELED: "off",
};
const STATUS_ORDER = Object.keys(STATUS_CLASS);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function setText(id, value) {
  document.getElementById(id).textContent = String(value);
}

function clock(at) {
  return at ? new Date(at * 1000).toLocaleTimeString() : "";
}

function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? cell : el("td", cell));
  return tr;
}

function errorText(error) {
  if (!error) return "";
  return [error.code, error.native_code, error.native_message].filter((p) => p).join(" ");
}

// A routed-to transport's circuit: closed is healthy, open is skipped by the routes, half open is probed.
const CIRCUIT_CLASS = { closed: "up", open: "down", half_open: "warn" };

function circuitCell(circuit) {
  if (!circuit) return el("td", "");
  return el("td", circuit.state.replace("_", " "), CIRCUIT_CLASS[circuit.state] || "");
}

function drawTransports(transports) {
  const body = document.querySelector("#transports tbody");
  body.replaceChildren(...transports.map((t) => {
    const results = sum(Object.values(t.sent));
    const failed = sum(Object.entries(t.sent).filter(([s]) => STATUS_CLASS[s] === "bad").map(([, n]) => n));
    const tr = row([
      t.name, t.scheme, el("td", t.up ? "up" : "down", t.up ? "up" : "down"),
      t.binds === null ? "" : `${t.binds_up}/${t.binds}`, circuitCell(t.circuit),
      t.in_flight, el("td", t.throttled ? "yes" : "no", t.throttled ? "warn" : ""),
      results, failed, t.receipts_matched, t.receipts_parked,
      t.last_error ? `${clock(t.last_error_at)} ${errorText(t.last_error)}` : "",
    ]);
    tr.dataset.transport = t.name;
    tr.dataset.results = String(results);
    return tr;
  }));
}

const MINUTE = 60;

function drawSeries(chart, sent, receipts, top) {
  // One chart: results as a filled area, receipts as a line, both scaled to ``top`` per second.
  const height = 160;
  const y = (v) => (height - 2 - (v / top) * (height - 8)).toFixed(1);
  const line = (values) => values.map((v, i) => `${i},${y(v)}`).join(" ");
  const area = `0,${height} ${line(sent)} ${sent.length - 1},${height}`;
  chart.replaceChildren(
    svg("polygon", { points: area, class: "sent" }),
    svg("polyline", { points: line(receipts), class: "receipts" }),
  );
  chart.dataset.sent = String(sum(sent));
  chart.dataset.receipts = String(sum(receipts));
  chart.dataset.points = String(sent.length);
}

function drawChart(throughput) {
  const { sent, receipts } = throughput;
  const top = Math.max(1, ...sent, ...receipts);
  drawSeries(document.getElementById("chart"), sent, receipts, top);
  drawSeries(document.getElementById("chart-minute"), sent.slice(-MINUTE), receipts.slice(-MINUTE), top);
  setText("chart-top", top === 1 && !sum(sent) && !sum(receipts) ? 0 : top);
  setText("rate", throughput.sent_per_second.toFixed(1));
  setText("sent-window", sum(sent));
  setText("receipts-window", sum(receipts));
}

function stacked(target, parts, width, height) {
  // parts: [[class, n], ...] -> rects side by side, widths in proportion to n
  const total = sum(parts.map(([, n]) => n));
  let x = 0;
  const rects = [];
  for (const [cls, n] of parts) {
    if (!n) continue;
    const w = (n / total) * width;
    const rect = svg("rect", { x: x.toFixed(2), y: 0, width: w.toFixed(2), height, class: cls });
    const title = svg("title", {});
    title.textContent = `${cls}: ${n}`;
    rect.append(title);
    rects.push(rect);
    x += w;
  }
  target.replaceChildren(...rects);
}

function drawReceipts(receipts) {
  setText("receipts-matched", receipts.matched);
  setText("receipts-parked", receipts.parked);
  stacked(document.getElementById("receipts-bar"), [["ok", receipts.matched], ["doubt", receipts.parked]], 300, 16);
}

function drawBacklog(backlog) {
  setText("backlog-pending", backlog ? backlog.pending : "n/a");
  setText("backlog-failed", backlog ? backlog.failed : "n/a");
  setText("backlog-oldest", backlog ? (backlog.oldest_pending_at ? clock(backlog.oldest_pending_at) : "none") : "n/a");
}

function drawCampaigns(campaigns) {
  const box = document.getElementById("campaigns");
  if (!campaigns.length) {
    box.replaceChildren(el("p", "No campaign yet.", "empty"));
    return;
  }
  box.replaceChildren(...campaigns.map((c) => {
    const item = el("div", null, "campaign");
    item.dataset.campaign = c.name;
    item.dataset.done = String(c.done);
    item.dataset.total = String(c.total);
    const bar = el("progress");
    bar.max = Math.max(1, c.total);
    bar.value = c.done;
    const mix = svg("svg", { viewBox: "0 0 300 10", preserveAspectRatio: "none", class: "mix" });
    const counts = STATUS_ORDER.filter((s) => c.counts[s]).map((s) => [s, c.counts[s]]);
    stacked(mix, counts.map(([s, n]) => [STATUS_CLASS[s], n]), 300, 10);
    const legend = el("p", counts.map(([s, n]) => `${s} ${n}`).join(" · "), "legend");
    item.append(
      el("h3", c.name),
      el("span", `${c.done} / ${c.total} done (${Math.floor(c.progress * 100)}%) · ${c.transport || ""}`, "done"),
      bar, mix, legend,
    );
    return item;
  }));
}

function drawErrors(errors) {
  const body = document.querySelector("#errors tbody");
  if (!errors.length) {
    const none = el("td", "No error since the server started.", "empty");
    none.colSpan = 5;
    body.replaceChildren(row([none]));
    return;
  }
  body.replaceChildren(...errors.map((e) => row([
    clock(e.at), e.transport, e.error.code, e.error.native_code || "", e.error.native_message || "",
  ])));
}

function draw(state) {
  drawTransports(state.transports);
  drawChart(state.throughput);
  drawReceipts(state.receipts);
  drawBacklog(state.backlog);
  drawCampaigns(state.campaigns);
  drawErrors(state.errors);
  setText("updated", clock(state.generated_at));
  document.body.dataset.generatedAt = String(state.generated_at);
}

async function refresh() {
  try {
    const response = await fetch(STATE_URL, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) {
      window.location.assign("/"); // the session ended: the login form again
      return;
    }
    if (response.ok) {
      draw(await response.json());
      document.body.classList.remove("stale");
    } else {
      document.body.classList.add("stale");
    }
  } catch (_) {
    document.body.classList.add("stale"); // the server is away; keep the last numbers, marked stale
  }
  window.setTimeout(refresh, PERIOD_MS);
}

document.addEventListener("DOMContentLoaded", refresh);
