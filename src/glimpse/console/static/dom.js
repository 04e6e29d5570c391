// Building the page: every value from the API goes in with textContent or as an attribute, never as HTML.

export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = String(value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A value from the API inside a longer text (a label, a message, a confirmation): wrapped in
// FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE so a right-to-left override in it stays inside it.
export function isolate(value) { return `\u2068${value}\u2069`; }

export function clear(node) { node.replaceChildren(); return node; }

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
export function humanSize(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  let value = Number(bytes), unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

export function humanDuration(seconds) {
  if (!isFinite(seconds)) return "—";
  seconds = Math.max(0, Math.round(seconds));
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m ? `${m} min ${s} s` : `${s} s`;
}

// A readable error next to what caused it: the API's message, its status and the request id.
export function errorBox(error) {
  const box = h("div", { class: "error", role: "alert" }, h("span", { class: "msg", text: error.message }));
  const parts = [];
  if (error.status) parts.push(`HTTP ${error.status}`);
  if (error.requestId) parts.push(`request ${error.requestId}`);
  if (parts.length) box.append(h("span", { class: "rid", text: parts.join(" · ") }));
  return box;
}

// Run an action, showing its error (or nothing) in `slot`; returns the action's result or undefined.
export async function attempt(slot, action) {
  clear(slot);
  try { return await action(); } catch (error) { slot.append(errorBox(error)); return undefined; }
}

export function field(label, input, ...extra) {
  if (!input.id) input.id = `f-${Math.random().toString(36).slice(2)}`;
  return h("div", { class: "field" }, h("label", { for: input.id, text: label }), input, ...extra);
}

export function definitionList(pairs) {
  const list = h("dl", { class: "fields" });
  for (const [name, value] of pairs) {
    list.append(h("dt", { text: name }),
      value instanceof Node ? h("dd", {}, value) : h("dd", { text: value === null || value === undefined ? "—" : String(value) }));
  }
  return list;
}
