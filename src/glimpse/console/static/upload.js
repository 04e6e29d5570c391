// Upload: create an image and send a local file with progress, speed, time left and cancel;
// or import one from a URL (web-download) and follow its task.
import { call, get, upload } from "./api.js";
import { attempt, errorBox, field, h, humanDuration, humanSize } from "./dom.js";

const DISK = ["raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"];
const CONTAINER = ["bare", "ovf", "ova", "docker"];

function metadataFields() {
  return {
    name: h("input", { name: "name", required: true }),
    disk: h("select", { name: "disk_format" }, DISK.map((d) => h("option", { value: d, text: d }))),
    container: h("select", { name: "container_format" }, CONTAINER.map((c) => h("option", { value: c, text: c }))),
    visibility: h("select", { name: "visibility" }, ["private", "shared", "community", "public"].map((v) => h("option", { value: v, text: v }))),
  };
}

function create(f) {
  return call("POST", "/v2/images", { body: { name: f.name.value, disk_format: f.disk.value,
    container_format: f.container.value, visibility: f.visibility.value } });
}

export async function uploadPage(view) {
  let stores = [];
  try { stores = ((await get("/v2/info/stores")).stores || []).filter((s) => !s["read-only"]); } catch { /* one store */ }
  view.append(h("h2", { text: "Upload an image" }), fileForm(stores));
  let methods = [];
  try { methods = ((await get("/v2/info/import"))["import-methods"] || {}).value || []; } catch { /* no import */ }
  if (methods.includes("web-download")) view.append(urlForm(stores));
}

// With several stores: where the data goes (one for an upload; several for an import).
function storePicker(stores, multiple) {
  if (stores.length < 2) return null;
  return h("select", { name: "stores", multiple }, stores.map((s) => h("option", {
    value: s.id, text: s.description ? `${s.id} — ${s.description}` : s.id, selected: !!s.default })));
}

function fileForm(stores) {
  const f = metadataFields();
  const store = storePicker(stores, false);
  const file = h("input", { type: "file", name: "file", required: true });
  const bar = h("progress", { id: "upload-progress", max: 100, value: 0, "aria-label": "Upload progress" });
  const status = h("p", { id: "upload-status", "aria-live": "polite" });
  const slot = h("div");
  const cancel = h("button", { type: "button", class: "secondary", text: "Cancel upload", hidden: true });
  const form = h("form", { class: "panel", "aria-label": "Upload a file" }, h("h3", { text: "From a file" }),
    field("Name", f.name), field("Disk format", f.disk), field("Container format", f.container),
    field("Visibility", f.visibility), store ? field("Store", store) : null, field("File", file),
    h("button", { type: "submit", text: "Upload" }), " ", cancel,
    bar, status, slot);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) { slot.replaceChildren(errorBox(new Error("Choose a file to upload."))); return; }
    const created = await attempt(slot, () => create(f));
    if (!created) return;
    const image = created.data;
    const started = performance.now();
    const sending = upload(image.id, chosen, (loaded, total) => {
      const seconds = (performance.now() - started) / 1000, speed = loaded / Math.max(seconds, 0.001);
      bar.value = total ? Math.round((100 * loaded) / total) : 0;
      status.textContent = `${bar.value}% — ${humanSize(loaded)} of ${humanSize(total)}, ${humanSize(speed)}/s, ${humanDuration((total - loaded) / speed)} left`;
    }, store ? { "X-Image-Meta-Store": store.value } : {});
    cancel.hidden = false;
    cancel.onclick = () => sending.cancel();
    try {
      await sending.promise;
      bar.value = 100;
      status.textContent = "100% — uploaded; the image is being checked…";
      const after = await get(`/v2/images/${encodeURIComponent(image.id)}`);
      status.replaceChildren(`Done: the image is ${after.status}. `, h("a", { href: `#/images/${encodeURIComponent(image.id)}`, text: "Open it" }));
    } catch (error) {
      let state = "unknown";
      try { state = (await get(`/v2/images/${encodeURIComponent(image.id)}`)).status; } catch { /* gone */ }
      error.message = `${error.message} The image record stays, with status ${state}; upload again or delete it.`;
      slot.replaceChildren(errorBox(error), h("a", { href: `#/images/${encodeURIComponent(image.id)}`, text: "Open the image" }));
    } finally { cancel.hidden = true; }
  });
  return form;
}

function urlForm(stores) {
  const f = metadataFields();
  const targets = storePicker(stores, true);
  const url = h("input", { name: "uri", type: "url", required: true });
  const status = h("p", { id: "import-status", "aria-live": "polite" });
  const slot = h("div");
  const form = h("form", { class: "panel", "aria-label": "Import from a URL" }, h("h3", { text: "From a URL (web-download)" }),
    field("Name", f.name), field("Disk format", f.disk), field("Container format", f.container),
    field("Visibility", f.visibility), targets ? field("Stores (one or more)", targets) : null, field("URL", url),
    h("button", { type: "submit", text: "Import" }), status, slot);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const created = await attempt(slot, () => create(f));
    if (!created) return;
    const image = created.data, path = `/v2/images/${encodeURIComponent(image.id)}`;
    if (await attempt(slot, () => call("POST", `${path}/import`, { body: { method: { name: "web-download", uri: url.value },
        ...(targets ? { stores: [...targets.selectedOptions].map((o) => o.value) } : {}) } })) === undefined) return;
    for (let i = 0; i < 600; i += 1) {
      // The task first, then the image: the service settles the image before it ends the task, so the
      // image read after an ended task is the import's outcome (read together, it could be older).
      const task = ((await get(`${path}/tasks`)).tasks || [])[0];
      const now = await get(path);
      status.textContent = `Image ${now.status}; task ${task ? task.status : "pending"}${task && task.message ? ` — ${task.message}` : ""}`;
      if ((task && ["success", "failure"].includes(task.status)) || (!task && ["killed", "deleted"].includes(now.status))) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  });
  return form;
}
