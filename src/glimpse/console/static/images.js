// Images: the list with filters, sorting and paging; the detail page; shared-with-me.
import { call, get, session } from "./api.js";
import { attempt, clear, definitionList, errorBox, field, h, humanSize } from "./dom.js";
import { propertyEditor, settingsEditor } from "./editor.js";
import { membersPanel } from "./sharing.js";

const FILTERS = [["name", "Name (exact)"], ["status", "Status", ["", "queued", "saving", "importing", "active", "deactivated", "killed", "deleted"]],
  ["visibility", "Visibility", ["", "public", "private", "shared", "community", "all"]], ["owner", "Owner"], ["tag", "Tag"],
  ["disk_format", "Disk format", ["", "raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "ploop", "aki", "ari", "ami"]]];
const COLUMNS = [["name", "Name"], ["status", "Status"], ["disk_format", "Format"], ["size", "Size"], ["created_at", "Created"]];

export function imageLink(image) {
  return h("a", { href: `#/images/${encodeURIComponent(image.id)}`, text: image.name || image.id });
}

export async function imageList(view, query) {
  const params = new URLSearchParams(query);
  if (!params.has("limit")) params.set("limit", "20");
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter images" });
  for (const [name, label, choices] of FILTERS) {
    const input = choices
      ? h("select", { name }, choices.map((c) => h("option", { value: c, text: c || "any", selected: params.get(name) === c })))
      : h("input", { name, value: params.get(name) || "" });
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
  view.append(h("h2", { text: "Images" }), form);
  const slot = h("div");
  view.append(slot);
  const page = await attempt(slot, () => get(`/v2/images?${params}`));
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
  const pager = h("div", { class: "pager" });
  if (params.get("marker")) pager.append(h("a", { href: "#/images", text: "First page" }));
  if (page.next) {
    const next = new URLSearchParams(page.next.split("?")[1]);
    pager.append(h("a", { href: `#/images?${next}`, text: "Next page", rel: "next" }));
  }
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
  view.append(definitionList(SHOWN.map((key) => [key, key === "size" || key === "virtual_size"
    ? (image[key] === null || image[key] === undefined ? "—" : `${humanSize(image[key])} (${image[key]} bytes)`) : image[key]])));
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
    if (!window.confirm(`Delete the image "${image.name || image.id}"? This cannot be undone.`)) return undefined;
    await call("DELETE", path, { headers: { "If-Match": etag } });
    location.hash = "#/images";
    return null;
  }, "danger"));
  panel.append(slot);
  return panel;
}

async function storesPanel(image) {
  const panel = h("section", { class: "panel", "aria-label": "Stores" }, h("h3", { text: "Stores" }));
  let info;
  try { info = await get("/v2/info/stores"); } catch (error) { panel.append(errorBox(error)); return panel; }
  const have = (image.stores || "").split(",").filter(Boolean);
  const others = (info.stores || []).map((s) => s.id).filter((s) => !have.includes(s));
  panel.append(h("p", { text: `In: ${have.join(", ") || (image.status === "active" ? "the default store" : "no data yet")}` }));
  if (others.length) panel.append(h("p", { class: "note", text: `Other stores of this node: ${others.join(", ")}.` }));
  return panel;
}

async function tasksPanel(image) {
  const panel = h("section", { class: "panel", "aria-label": "Tasks" }, h("h3", { text: "Tasks" }));
  try {
    const data = await get(`/v2/images/${encodeURIComponent(image.id)}/tasks`);
    const tasks = data.tasks || [];
    if (!tasks.length) panel.append(h("p", { text: "No tasks." }));
    for (const task of tasks) panel.append(h("p", { text: `${task.type} ${task.status}${task.message ? ` — ${task.message}` : ""}` }));
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
        text: to === "accepted" ? `Accept ${image.name || image.id}` : `Reject ${image.name || image.id}`, onclick: async () => {
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
