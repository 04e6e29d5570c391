// Images: the list with filters, sorting and paging; the detail page; shared-with-me.
import { call, get, session } from "./api.js";
import { attempt, clear, definitionList, errorBox, field, h, humanSize, isolate } from "./dom.js";
import { propertyEditor, settingsEditor } from "./editor.js";
import { membersPanel } from "./sharing.js";

const FILTERS = [["q", "Name contains"], ["status", "Status", ["", "queued", "saving", "importing", "active", "deactivated", "killed", "deleted"]],
  ["visibility", "Visibility", ["", "public", "private", "shared", "community", "all"]], ["owner", "Owner"], ["tag", "Tag"],
  ["disk_format", "Disk format", ["", "raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "ploop", "aki", "ari", "ami"]]];
const COLUMNS = [["name", "Name"], ["status", "Status"], ["disk_format", "Format"], ["size", "Size"], ["created_at", "Created"]];

export function imageLink(image) {
  return h("a", { href: `#/images/${encodeURIComponent(image.id)}`, text: image.name || image.id });
}

// The API's `name` filter is exact. "Name contains" (`q`) is matched here, in the browser, over the
// listing the API returns for the other filters: up to SCAN_MAX images per console page, read SCAN_PAGE
// at a time, so a search costs at most SCAN_MAX / SCAN_PAGE list requests; "Search further" goes on.
const SCAN_PAGE = 200, SCAN_MAX = 1000;

function matchesName(image, wanted) {
  return (image.name || "").toLocaleLowerCase().includes(wanted);
}

// One page of the listing: {images, next (the hash query of the following page, or null), scanned}.
async function listPage(params) {
  const wanted = (params.get("q") || "").trim().toLocaleLowerCase();
  if (!wanted) {
    const page = await get(`/v2/images?${params}`);
    const next = page.next ? new URLSearchParams(page.next.split("?")[1]) : null;
    return { images: page.images, next, scanned: null };
  }
  const size = Math.max(1, Math.min(Number(params.get("limit")) || 20, 100));
  const ask = new URLSearchParams(params);
  ask.delete("q"); ask.set("limit", String(SCAN_PAGE));
  const found = [];
  let scanned = 0, marker = params.get("marker"), more = true;
  while (more && found.length < size && scanned < SCAN_MAX) {
    if (marker) ask.set("marker", marker); else ask.delete("marker");
    const page = await get(`/v2/images?${ask}`);
    let seen = 0;
    for (const image of page.images) {
      scanned += 1; seen += 1; marker = image.id;
      if (matchesName(image, wanted)) found.push(image);
      if (found.length === size) break;
    }
    more = seen < page.images.length || (!!page.next && page.images.length > 0);
  }
  let next = null;
  if (more && marker) { next = new URLSearchParams(params); next.set("marker", marker); }
  return { images: found, next, scanned };
}

export async function imageList(view, query) {
  const params = new URLSearchParams(query);
  if (!params.has("limit")) params.set("limit", "20");
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter images" });
  for (const [name, label, choices] of FILTERS) {
    const input = choices
      ? h("select", { name }, choices.map((c) => h("option", { value: c, text: c || "any", selected: params.get(name) === c })))
      : h("input", { name, value: params.get(name) || "" });
    if (name === "q") input.setAttribute("aria-describedby", "q-note");
    form.append(field(label, input));
  }
  form.append(h("button", { type: "submit", text: "Filter" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) next.set(key, value);
    if (params.get("sort")) next.set("sort", params.get("sort"));
    location.hash = `#/images?${next}`;
  });
  view.append(h("h2", { text: "Images" }), form,
    h("p", { id: "q-note", class: "note", text: "Name contains: any part of the name, ignoring case. The API filters by "
      + "the other fields; the console matches names in your browser, looking through up to "
      + `${SCAN_MAX} of those images per page.` }));
  const slot = h("div");
  view.append(slot);
  const page = await attempt(slot, () => listPage(params));
  if (!page) return;
  const [sortKey, sortDir] = (params.get("sort") || "created_at:desc").split(":");
  const head = h("tr", {}, COLUMNS.map(([key, label]) => {
    const nextDir = key === sortKey && sortDir === "asc" ? "desc" : "asc";
    const sorted = key === sortKey ? (sortDir === "asc" ? "ascending" : "descending") : "none";
    return h("th", { scope: "col", "aria-sort": sorted }, h("button", {
      type: "button", text: label, onclick: () => {
        const next = new URLSearchParams(params); next.delete("marker"); next.set("sort", `${key}:${nextDir}`);
        location.hash = `#/images?${next}`;
      } }));
  }));
  const rows = page.images.map((image) => h("tr", {},
    h("td", {}, imageLink(image)), h("td", { text: image.status }), h("td", { text: image.disk_format || "—" }),
    h("td", { text: humanSize(image.size) }), h("td", { text: image.created_at })));
  slot.append(h("table", { id: "images" }, h("thead", {}, head), h("tbody", {}, rows)));
  if (!page.images.length) slot.append(h("p", { text: "No images match these filters." }));
  if (page.scanned !== null) {
    slot.append(h("p", { id: "scan-note", class: "note", "aria-live": "polite", text: `Names matched in the browser among `
      + `${page.scanned} listed image${page.scanned === 1 ? "" : "s"}${page.next ? "; more remain: search further for the rest" : ""}.` }));
  }
  const pager = h("div", { class: "pager" });
  if (params.get("marker")) {
    const first = new URLSearchParams(params); first.delete("marker");
    pager.append(h("a", { href: `#/images?${first}`, text: "First page" }));
  }
  if (page.next) pager.append(h("a", { href: `#/images?${page.next}`, text: page.scanned === null ? "Next page" : "Search further", rel: "next" }));
  slot.append(pager);
}

const SHOWN = ["id", "name", "status", "visibility", "owner", "protected", "os_hidden", "disk_format", "container_format",
  "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "min_disk", "min_ram", "stores",
  "created_at", "updated_at"];

export async function imageDetail(view, id) {
  const { data: image, etag } = await call("GET", `/v2/images/${encodeURIComponent(id)}`);
  const schema = await get("/v2/schemas/image");
  const reload = () => { clear(view); return imageDetail(view, id); };
  view.append(h("p", {}, h("a", { href: "#/images", text: "← All images" })), h("h2", { id: "image-name", text: image.name || image.id }));
  // Every field the API returned: the usual ones first, then the other base attributes (locations, file, ...).
  const base = (key) => { const rule = (schema.properties || {})[key]; return rule && rule.is_base !== false; };
  const rest = Object.keys(image).filter((key) => !SHOWN.includes(key) && key !== "tags"
    && (base(key) || key.startsWith("os_glance_"))).sort();
  view.append(definitionList([...SHOWN, ...rest].map((key) => [key, key === "size" || key === "virtual_size"
    ? (image[key] === null || image[key] === undefined ? "—" : `${humanSize(image[key])} (${image[key]} bytes)`)
    : typeof image[key] === "object" && image[key] !== null ? JSON.stringify(image[key]) : image[key]])));
  view.append(h("p", { class: "tags" }, "Tags: ", (image.tags || []).map((t) => h("span", { class: "tag", text: t }))));
  view.append(actions(image, etag, reload));
  view.append(settingsEditor(image, etag, reload));
  view.append(propertyEditor(image, etag, schema, reload));
  view.append(await storesPanel(image));
  if (image.visibility === "shared" || image.owner === (session() || {}).project) view.append(await membersPanel(image));
  view.append(await tasksPanel(image));
}

function actions(image, etag, reload) {
  const slot = h("div");
  const act = (label, run, cls) => h("button", { type: "button", class: cls, text: label,
    onclick: async () => { if (await attempt(slot, run) !== undefined) await reload(); } });
  const path = `/v2/images/${encodeURIComponent(image.id)}`;
  const panel = h("section", { class: "panel", "aria-label": "Actions" }, h("h3", { text: "Actions" }));
  if (image.status === "active") panel.append(act("Deactivate", () => call("POST", `${path}/actions/deactivate`), "secondary"));
  if (image.status === "deactivated") panel.append(act("Reactivate", () => call("POST", `${path}/actions/reactivate`), "secondary"));
  panel.append(" ", act("Delete…", async () => {
    if (!window.confirm(`Delete the image "${isolate(image.name || image.id)}"? This cannot be undone.`)) return undefined;
    await call("DELETE", path, { headers: { "If-Match": etag } });
    location.hash = "#/images";
    return null;
  }, "danger"));
  panel.append(slot);
  return panel;
}

async function storesPanel(image) {
  const panel = h("section", { class: "panel", "aria-label": "Stores" }, h("h3", { text: "Stores" }));
  let info, methods = [];
  try { info = await get("/v2/info/stores"); } catch (error) { panel.append(errorBox(error)); return panel; }
  try { methods = ((await get("/v2/info/import"))["import-methods"] || {}).value || []; } catch { /* no import */ }
  const have = (image.stores || "").split(",").filter(Boolean);
  const writable = (info.stores || []).filter((s) => !s["read-only"] && !have.includes(s.id));
  const where = h("p", { id: "image-stores", text: `In: ${have.join(", ") || (image.status === "active" ? "the default store" : "no data yet")}` });
  panel.append(where);
  if (image.os_glance_importing_to_stores) panel.append(h("p", { class: "note", text: `Being copied to: ${image.os_glance_importing_to_stores}.` }));
  if (image.os_glance_failed_import) panel.append(h("p", { class: "hint", text: `The last copy failed for: ${image.os_glance_failed_import}.` }));
  if (!writable.length || !have.length) return panel;
  if (!methods.includes("copy-image") || image.status !== "active") {
    panel.append(h("p", { class: "note", text: `Other stores of this node: ${writable.map((s) => s.id).join(", ")}`
      + (methods.includes("copy-image") ? " (an image is copied once it is active)." : " (this node does not offer copy-image).") }));
    return panel;
  }
  const boxes = writable.map((s) => h("input", { type: "checkbox", name: "copy-store", value: s.id }));
  const status = h("p", { id: "copy-status", "aria-live": "polite" });
  const slot = h("div");
  const form = h("form", { "aria-label": "Copy to other stores" },
    h("fieldset", {}, h("legend", { text: "Copy to other stores" }),
      writable.map((s, i) => h("div", { class: "field switch" }, boxes[i],
        h("label", { for: (boxes[i].id = `copy-${s.id}`), text: s.description ? `${s.id} — ${s.description}` : s.id })))),
    h("button", { type: "submit", text: "Copy" }), status, slot);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const stores = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!stores.length) { slot.replaceChildren(errorBox(new Error("Choose at least one store to copy to."))); return; }
    const path = `/v2/images/${encodeURIComponent(image.id)}`;
    const before = await attempt(slot, async () => new Set(((await get(`${path}/tasks`)).tasks || []).map((t) => t.id)));
    if (!before) return;
    const started = await attempt(slot, () => call("POST", `${path}/import`, { body: { method: { name: "copy-image" }, stores } }));
    if (started === undefined) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const now = await followCopy(path, before, stores, status, slot);
    button.disabled = false;
    if (!now) return;
    const holding = (now.stores || "").split(",").filter(Boolean);
    where.textContent = `In: ${holding.join(", ")}`;
    status.textContent = `Done: copied to ${stores.join(", ")}; the image is in ${holding.join(", ")}.`;
    for (const box of boxes) if (holding.includes(box.value)) box.closest(".field").remove();
    if (!form.querySelector("input[name=copy-store]")) {
      form.querySelector("fieldset").replaceWith(h("p", { class: "note", text: "The image is in every store of this node." }));
      button.remove();
    }
  });
  panel.append(form);
  return panel;
}

// Poll the copy's task (the one that was not there before the request) until it ends; the image once
// the copy succeeded, else null (the error shown in `slot`).
async function followCopy(path, before, stores, status, slot) {
  for (let i = 0; i < 900; i += 1) {
    // The task first, then the image: the service settles the image before it ends the task, so an
    // image read after a finished task shows where the copy went (read together, it could be older).
    const result = await attempt(slot, async () => {
      const task = ((await get(`${path}/tasks`)).tasks || []).find((t) => !before.has(t.id));
      return { now: await get(path), task };
    });
    if (!result) return;
    const { now, task } = result;
    const state = task ? task.status : "pending";
    status.textContent = `Copying to ${stores.join(", ")}: task ${state}; the image is in ${now.stores || "—"}.`;
    if (task && task.status === "failure") {
      slot.replaceChildren(errorBox(new Error(`The copy failed: ${task.message || "no reason given"} The image stays `
        + `${now.status} in ${now.stores || "its stores"}.`)));
      return null;
    }
    if (task && task.status === "success") return now;
    await new Promise((r) => setTimeout(r, 500));
  }
  slot.replaceChildren(errorBox(new Error("The copy is still running; reload the page later to see where the image is.")));
  return null;
}

async function tasksPanel(image) {
  const panel = h("section", { class: "panel", "aria-label": "Tasks" }, h("h3", { text: "Tasks" }));
  try {
    const data = await get(`/v2/images/${encodeURIComponent(image.id)}/tasks`);
    const tasks = data.tasks || [];
    if (!tasks.length) panel.append(h("p", { text: "No tasks." }));
    for (const task of tasks) panel.append(h("p", { class: "task", text: `${task.type} ${task.status}${task.message ? ` — ${isolate(task.message)}` : ""}` }));
  } catch (error) { panel.append(errorBox(error)); }
  return panel;
}

export async function sharedWithMe(view) {
  view.append(h("h2", { text: "Shared with me" }));
  const me = (session() || {}).project;
  for (const status of ["pending", "accepted", "rejected"]) {
    const data = await get(`/v2/images?visibility=shared&member_status=${status}&limit=100`);
    const section = h("section", { class: "panel", "aria-label": `${status} shares` }, h("h3", { text: status }));
    const mine = data.images.filter((image) => image.owner !== me);
    if (!mine.length) section.append(h("p", { text: "None." }));
    for (const image of mine) {
      const slot = h("span");
      const answer = (to) => h("button", { type: "button", class: to === "rejected" ? "secondary" : undefined,
        text: `${to === "accepted" ? "Accept" : "Reject"} ${isolate(image.name || image.id)}`, onclick: async () => {
          const done = await attempt(slot, () => call("PUT", `/v2/images/${encodeURIComponent(image.id)}/members/${encodeURIComponent(me)}`,
            { body: { status: to } }));
          if (done !== undefined) { clear(view); await sharedWithMe(view); }
        } });
      section.append(h("p", {}, imageLink(image), " ", status !== "accepted" ? answer("accepted") : null, " ",
        status !== "rejected" ? answer("rejected") : null, slot));
    }
    view.append(section);
  }
}
