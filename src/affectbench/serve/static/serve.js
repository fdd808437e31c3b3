// The page's only script: send the form to /v1/predict, draw the answer. No outside resources.
"use strict";
const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                "#ff9da7", "#9c755f", "#bab0ac"];
const $ = (id) => document.getElementById(id);
const colorOf = (() => { const seen = {}; return (label) =>
  seen[label] || (seen[label] = COLORS[Object.keys(seen).length % COLORS.length]); })();

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === "style" ? Object.assign(e.style, v) : e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

function probList(probs) {
  const box = el("div", {class: "probs"});
  Object.entries(probs || {}).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)).forEach(([k, v]) => {
    const p = v == null ? 0 : v;
    box.append(el("div", {class: "prob", "data-label": k, "data-p": p.toFixed(4)}, el("span", {}, k),
      el("div", {class: "bar", style: {width: `${Math.round(p * 100)}%`}}), el("span", {}, p.toFixed(3))));
  });
  return box;
}

function draw(res) {
  $("error").hidden = true;
  $("result").hidden = false;
  const msgs = $("messages"); msgs.replaceChildren(...(res.messages || []).map((m) => el("li", {}, m)));
  const segs = res.segments || [];
  $("summary").textContent = `${segs.length} segment(s); modalities: ${(res.modalities_present || []).join(", ")}; ` +
    `models: ${Object.entries(res.models_used || {}).map(([k, v]) => `${k}=${v}`).join(", ")}`;
  const tl = $("timeline"); tl.replaceChildren();
  const timed = segs.filter((s) => s.end != null && s.start != null);
  const total = Math.max(1e-6, ...timed.map((s) => s.end));
  tl.hidden = timed.length === 0;
  for (const s of timed) {
    tl.append(el("div", {class: "seg", title: `${s.start.toFixed(2)}–${s.end.toFixed(2)} s: ${s.label}`,
      "data-label": s.label, style: {left: `${100 * s.start / total}%`, width: `${100 * (s.end - s.start) / total}%`,
      background: colorOf(s.label)}}, s.label || ""));
  }
  const body = $("segments").tBodies[0]; body.replaceChildren();
  for (const s of segs) {
    const mods = el("div", {class: "mod"});
    for (const [m, r] of Object.entries(s.modalities || {})) mods.append(el("div", {}, `${m}: ${r.label ?? "–"}`));
    const fmt = (t) => (t == null ? (s.text ? `“${s.text}”` : "–") : t.toFixed(2));
    body.append(el("tr", {class: "segment"}, el("td", {}, fmt(s.start)), el("td", {}, s.end == null ? "" : fmt(s.end)),
      el("td", {class: "label"}, s.label ?? "(failed)"), el("td", {}, probList(s.probs)), el("td", {}, mods)));
  }
}

function fail(status, body) {
  $("result").hidden = true;
  const e = $("error"); e.hidden = false;
  e.textContent = `${status}: ${body.error || "error"} — ${body.detail || ""}`;
}

async function submit(ev) {
  ev.preventDefault();
  const file = $("file").files[0], text = $("text").value, model = $("model").value;
  let init;
  if (file) {
    const form = new FormData();
    form.append("file", file);
    if (text.trim()) form.append("text", text);
    if (model) form.append("model", model);
    init = {method: "POST", body: form};
  } else {
    init = {method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify(model ? {text, model} : {text})};
  }
  $("go").disabled = true; $("status").textContent = "working…";
  try {
    const r = await fetch("v1/predict", init);
    const body = await r.json().catch(() => ({error: "bad_response", detail: "the server's answer is not JSON"}));
    r.ok ? draw(body) : fail(r.status, body);
    $("status").textContent = r.ok ? "done" : "refused";
  } catch (e) {
    fail("network", {error: "network", detail: String(e)});
    $("status").textContent = "";
  } finally { $("go").disabled = false; }
}

$("predict-form").addEventListener("submit", submit);
