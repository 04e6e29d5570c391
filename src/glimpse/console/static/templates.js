// Server templates: list, detail, a form generated from the parameters schema, render, copy or download.
import { call, get } from "./api.js";
import { attempt, definitionList, field, h } from "./dom.js";
import { problem } from "./editor.js";

export async function templateList(view) {
  const data = await get("/v2/templates");
  view.append(h("h2", { text: "Templates" }));
  const rows = (data.templates || []).map((t) => h("tr", {},
    h("td", {}, h("a", { href: `#/templates/${encodeURIComponent(t.id)}`, text: t.name })),
    h("td", { text: t.version }), h("td", { text: t.image_id })));
  view.append(h("table", { id: "templates" }, h("thead", {}, h("tr", {}, ["Name", "Version", "Image"].map((c) => h("th", { scope: "col", text: c })))), h("tbody", {}, rows)));
  if (!rows.length) view.append(h("p", { text: "No templates." }));
}

function inputFor(name, rule) {
  const text = rule.default === undefined ? "" : typeof rule.default === "object" ? JSON.stringify(rule.default) : String(rule.default);
  if (rule.type === "boolean") return h("select", { name }, ["true", "false"].map((v) => h("option", { value: v, text: v, selected: text === v })));
  if (rule.enum) return h("select", { name }, rule.enum.map((v) => h("option", { value: String(v), text: String(v), selected: text === String(v) })));
  return h("input", { name, value: text, type: rule.writeOnly || rule.format === "password" ? "password" : "text" });
}

function valueOf(rule, raw) {
  if (rule.type === "integer" || rule.type === "number") return Number(raw);
  if (rule.type === "boolean") return raw === "true";
  if (rule.type === "array" || rule.type === "object") return JSON.parse(raw);
  return raw;
}

export async function templateDetail(view, id) {
  const path = `/v2/templates/${encodeURIComponent(id)}`;
  const template = await get(path);
  const schema = await get(`${path}/parameters-schema`);
  view.append(h("p", {}, h("a", { href: "#/templates", text: "← All templates" })), h("h2", { text: `${template.name} ${template.version || ""}` }));
  view.append(definitionList(["id", "name", "version", "image_id", "description", "owner", "visibility", "created_at"].map((k) => [k, template[k]])));
  const form = h("form", { class: "panel", "aria-label": "Render", novalidate: true }, h("h3", { text: "Parameters" }));
  const inputs = [];
  const required = new Set(schema.required || []);
  for (const [name, rule] of Object.entries(schema.properties || {})) {
    const input = inputFor(name, rule);
    const hint = h("p", { class: "hint", "aria-live": "polite" });
    const check = () => {
      let reason = required.has(name) && input.value === "" ? "Required." : problem(rule, input.value);
      if (!reason && (rule.type === "array" || rule.type === "object") && input.value) {
        try { JSON.parse(input.value); } catch { reason = "Must be JSON."; }
      }
      hint.textContent = reason; input.setAttribute("aria-invalid", reason ? "true" : "false");
      return !reason;
    };
    input.addEventListener("input", check);
    inputs.push({ name, rule, input, check });
    form.append(field(`${rule.title || name}${required.has(name) ? " *" : ""}`, input, rule.description ? h("p", { class: "desc", text: rule.description }) : null, hint));
  }
  const format = h("select", { name: "format" }, ["nova", "heat"].map((v) => h("option", { value: v, text: v })));
  const output = h("pre", { id: "render-output", tabindex: "0", "aria-label": "Launch body" });
  const slot = h("div");
  const copied = h("span", { class: "note", "aria-live": "polite" });
  const copy = h("button", { type: "button", class: "secondary", text: "Copy", hidden: true,
    onclick: () => attempt(slot, async () => {
      copied.textContent = "";
      try { await navigator.clipboard.writeText(output.textContent); } catch (error) {
        throw new Error(`The browser refused the clipboard (${error.message}); select the launch body and copy it instead.`);
      }
      copied.textContent = "Copied.";
      return true;
    }) });
  const download = h("a", { hidden: true, text: "Download", download: `${template.name}-launch.json` });
  form.append(field("Launch body for", format), h("button", { type: "submit", text: "Render" }), " ", copy, " ", copied, " ", download, slot, output);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (inputs.filter(({ check }) => !check()).length) return;
    const parameters = {};
    for (const { name, rule, input } of inputs) if (input.value !== "") parameters[name] = valueOf(rule, input.value);
    const done = await attempt(slot, () => call("POST", `${path}/render?format=${format.value}`, { body: { parameters } }));
    if (!done) return;
    output.textContent = JSON.stringify(done.data, null, 2);
    if (download.href) URL.revokeObjectURL(download.href);
    download.href = URL.createObjectURL(new Blob([output.textContent], { type: "application/json" }));
    copy.hidden = false; download.hidden = false;
  });
  view.append(form);
}
