// Editing an image: its settings and tags, and its typed properties, with editors generated from
// /v2/schemas/image (catalog properties carry title, description and their rules) and checked as you
// type. Changes go as one JSON Patch with If-Match, so a concurrent change is reported, not overwritten.
import { call, PATCH_TYPE } from "./api.js";
import { attempt, field, h } from "./dom.js";

function send(image, etag, operations, slot, reload) {
  return attempt(slot, async () => {
    if (!operations.length) throw new Error("Nothing changed.");
    try {
      await call("PATCH", `/v2/images/${encodeURIComponent(image.id)}`,
        { body: operations, type: PATCH_TYPE, headers: { "If-Match": etag } });
    } catch (error) {
      if (error.status === 412) error.message = "Someone changed this image since you opened it; nothing was saved. Reload to see their change.";
      throw error;
    }
    await reload();
    return true;
  });
}

export function settingsEditor(image, etag, reload) {
  const form = h("form", { class: "panel", "aria-label": "Settings" }, h("h3", { text: "Settings" }));
  const name = h("input", { name: "name", value: image.name || "" });
  const visibility = h("select", { name: "visibility" },
    ["private", "shared", "community", "public"].map((v) => h("option", { value: v, text: v, selected: image.visibility === v })));
  const protect = h("input", { type: "checkbox", role: "switch", name: "protected", checked: !!image.protected });
  const hidden = h("input", { type: "checkbox", role: "switch", name: "os_hidden", checked: !!image.os_hidden });
  const tags = h("input", { name: "tags", value: (image.tags || []).join(", ") });
  const slot = h("div");
  form.append(field("Name", name), field("Visibility", visibility), field("Protected", protect),
    field("Hidden (os_hidden)", hidden), field("Tags (comma separated)", tags, h("p", { class: "desc", text: "Each tag at most 255 characters." })),
    h("button", { type: "submit", text: "Save settings" }), slot);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const ops = [];
    if (name.value !== (image.name || "")) ops.push({ op: "replace", path: "/name", value: name.value });
    if (visibility.value !== image.visibility) ops.push({ op: "replace", path: "/visibility", value: visibility.value });
    if (protect.checked !== !!image.protected) ops.push({ op: "replace", path: "/protected", value: protect.checked });
    if (hidden.checked !== !!image.os_hidden) ops.push({ op: "replace", path: "/os_hidden", value: hidden.checked });
    const wanted = tags.value.split(",").map((t) => t.trim()).filter(Boolean);
    if (wanted.join("\u0000") !== (image.tags || []).join("\u0000")) ops.push({ op: "replace", path: "/tags", value: wanted });
    send(image, etag, ops, slot, reload);
  });
  return form;
}

function kindOf(rule) {
  if (rule.metadef && rule.metadef.type) return rule.metadef.type;
  const types = [].concat(rule.type || "string").filter((t) => t !== "null");
  return types.find((t) => t !== "string") || "string";
}

// The first reason `raw` breaks `rule`, or "".
export function problem(rule, raw) {
  const kind = kindOf(rule), spec = rule.metadef || rule;
  if (raw === "") return "";
  if (kind === "integer" || kind === "number") {
    const value = Number(raw);
    if (raw.trim() === "" || !isFinite(value) || (kind === "integer" && !Number.isInteger(value))) return `Must be ${kind === "integer" ? "a whole number" : "a number"}.`;
    if (spec.minimum !== undefined && value < spec.minimum) return `Must be at least ${spec.minimum}.`;
    if (spec.maximum !== undefined && value > spec.maximum) return `Must be at most ${spec.maximum}.`;
    return "";
  }
  if (spec.enum && kind !== "array" && !spec.enum.includes(raw)) return `Must be one of ${spec.enum.join(", ")}.`;
  if (spec.pattern && kind === "string") {
    try { if (!new RegExp(spec.pattern, "u").test(raw)) return `Must match the pattern ${spec.pattern}.`; } catch { /* a pattern JS cannot read: the server checks */ }
  }
  if (spec.maxLength !== undefined && raw.length > spec.maxLength) return `At most ${spec.maxLength} characters.`;
  if (spec.minLength !== undefined && raw.length < spec.minLength) return `At least ${spec.minLength} characters.`;
  return "";
}

function editorFor(name, rule, current) {
  const kind = kindOf(rule), spec = rule.metadef || rule;
  const text = current === undefined || current === null ? "" : String(current);
  if (kind === "boolean") return booleanSwitch(name, text.toLowerCase());
  if (spec.enum && kind === "string") {
    return h("select", { name }, ["", ...spec.enum].map((v) => h("option", { value: v, text: v || "(not set)", selected: text === v })));
  }
  const input = h("input", { name, value: text, inputmode: kind === "integer" ? "numeric" : kind === "number" ? "decimal" : undefined });
  if (kind === "integer" || kind === "number") {
    const what = kind === "integer" ? "A whole number" : "A number";
    const low = spec.minimum, high = spec.maximum;
    const range = low !== undefined && high !== undefined ? ` from ${low} to ${high}` : low !== undefined ? ` of at least ${low}`
      : high !== undefined ? ` of at most ${high}` : "";
    input.extras = [h("p", { class: "desc bounds", text: `${what}${range}.` })];
  }
  return input;
}

// A boolean property: a switch, plus "not set" (a property the image does not have is neither true nor false).
// Its `value` reads "true", "false" or "" (not set), like the other editors.
function booleanSwitch(name, current) {
  const input = h("input", { type: "checkbox", role: "switch", name, checked: current === "true" });
  const state = h("span", { class: "note", "aria-hidden": "true" });
  const unset = h("button", { type: "button", class: "secondary", text: "Clear", "aria-label": `Clear ${name} (not set)` });
  let isSet = current === "true" || current === "false";
  const show = () => {
    input.indeterminate = !isSet;
    state.textContent = isSet ? (input.checked ? "true" : "false") : "(not set)";
    unset.hidden = !isSet;
  };
  input.addEventListener("change", () => { isSet = true; show(); input.dispatchEvent(new Event("input")); });
  unset.addEventListener("click", () => { isSet = false; input.checked = false; show(); input.focus(); });
  Object.defineProperty(input, "value", { get: () => (isSet ? String(input.checked) : "") });
  show();
  input.extras = [state, unset];
  return input;
}

export function propertyEditor(image, etag, schema, reload) {
  const form = h("form", { class: "panel", "aria-label": "Properties", novalidate: true }, h("h3", { text: "Properties" }));
  const slot = h("div");
  const rules = Object.entries(schema.properties || {}).filter(([, rule]) => rule.is_base === false && !rule.readOnly);
  const inputs = [];
  for (const [name, rule] of rules.sort(([a], [b]) => a.localeCompare(b))) {
    const input = editorFor(name, rule, image[name]);
    const hint = h("p", { class: "hint", id: `hint-${name}`, "aria-live": "polite" });
    input.setAttribute("aria-describedby", `hint-${name}`);
    const check = () => {
      const reason = problem(rule, input.value);
      hint.textContent = reason;
      input.setAttribute("aria-invalid", reason ? "true" : "false");
      return !reason;
    };
    input.addEventListener("input", check);
    inputs.push({ name, input, check });
    form.append(field(`${rule.title || name} (${name})`, input, ...(input.extras || []),
      rule.description ? h("p", { class: "desc", text: rule.description }) : null, hint));
  }
  // Properties the image has that no definition describes: editable as text.
  const known = new Set(Object.keys(schema.properties || {}));
  for (const [name, value] of Object.entries(image)) {
    if (known.has(name) || typeof value !== "string" || name.startsWith("os_glance_")) continue;  // os_glance_*: the API's own
    const input = h("input", { name, value });
    inputs.push({ name, input, check: () => true });
    form.append(field(`${name} (custom)`, input));
  }
  const newName = h("input", { name: "new-name" }), newValue = h("input", { name: "new-value" });
  form.append(h("fieldset", {}, h("legend", { text: "Add a property" }), field("Name", newName), field("Value", newValue)));
  form.append(h("button", { type: "submit", text: "Save properties" }), slot);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const bad = inputs.filter(({ check }) => !check());
    if (bad.length) { bad[0].input.focus(); slot.replaceChildren(h("div", { class: "error", role: "alert", text: `Fix ${bad.map((b) => b.name).join(", ")} first.` })); return; }
    const ops = [];
    for (const { name, input } of inputs) {
      const before = image[name] === undefined || image[name] === null ? "" : String(image[name]);
      if (input.value === before) continue;
      const path = `/${name.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (input.value === "") ops.push({ op: "remove", path });
      else ops.push({ op: image[name] === undefined ? "add" : "replace", path, value: input.value });
    }
    if (newName.value.trim()) ops.push({ op: "add", path: `/${newName.value.trim().replace(/~/g, "~0").replace(/\//g, "~1")}`, value: newValue.value });
    send(image, etag, ops, slot, reload);
  });
  return form;
}
