// The console's entry point: sign-in, sign-out and the hash router (#/images, #/images/<id>, ...).
import { AUTH, call, endSession, get, keystoneSignIn, onUnauthorized, saveSession, session } from "./api.js";
import { clear, errorBox } from "./dom.js";
import { imageDetail, imageList, sharedWithMe } from "./images.js";
import { uploadPage } from "./upload.js";
import { templateDetail, templateList } from "./templates.js";

const view = document.getElementById("view");
const dialog = document.getElementById("sign-in");
const form = document.getElementById("sign-in-form");
let waiting = [];

function showWho() {
  const current = session();
  const who = document.getElementById("who");
  const until = current && current.expires_at ? ` until ${new Date(current.expires_at).toLocaleTimeString()}` : "";
  who.textContent = current ? `Signed in${current.label ? ` as ${current.label}` : ""}${until}` : "Not signed in";
  document.getElementById("sign-out").hidden = !current;
}

function askSignIn(reason) {
  document.getElementById("sign-in-reason").textContent = reason || "";
  clear(document.getElementById("sign-in-error"));
  for (const part of form.querySelectorAll("[data-mode]")) part.hidden = part.dataset.mode !== AUTH;
  if (!dialog.open) dialog.showModal();
  return new Promise((resolve) => waiting.push(resolve));
}

async function signIn(event) {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  const slot = document.getElementById("sign-in-error");
  clear(slot);
  try {
    if (AUTH === "keystone") {
      const answer = await keystoneSignIn({ username: data.username, password: data.password,
                                            project: data.project, domain: data.domain });
      saveSession({ token: answer.token, expires_at: answer.expires_at, label: `${answer.user} (${data.project})` });
    } else if (AUTH === "tokens") {
      saveSession({ token: data.token.trim(), label: "token" });
    } else {
      saveSession({ project: data.project_id.trim(), roles: data.roles.trim(), user: data.user_id.trim(),
                    label: data.project_id.trim() || "administrator" });
    }
    await call("GET", "/v2/images?limit=1", { retried: true });  // check the credentials; a 401 shows here
  } catch (error) {
    endSession();
    slot.append(errorBox(error));
    return;
  }
  form.reset();
  dialog.close();
  showWho();
  const resolved = waiting; waiting = [];
  for (const resolve of resolved) resolve();
}

let generation = 0;

async function route(moved) {
  const mine = ++generation;  // a later navigation wins over a slower earlier one
  const path = location.hash.replace(/^#/, "") || "/images";
  for (const link of document.querySelectorAll("header nav a")) {
    if (path.startsWith(link.getAttribute("href").slice(1))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!session()) await askSignIn("Sign in to use the console.");
  if (mine !== generation) return;
  const [, section, id] = path.split("/");
  const page = document.createElement("div");
  try {
    if (section === "images" && id) await imageDetail(page, decodeURIComponent(id));
    else if (section === "upload") await uploadPage(page);
    else if (section === "shared") await sharedWithMe(page);
    else if (section === "templates" && id) await templateDetail(page, decodeURIComponent(id));
    else if (section === "templates") await templateList(page);
    else await imageList(page, new URLSearchParams(location.hash.split("?")[1] || ""));
  } catch (error) {
    page.append(errorBox(error));
  }
  if (mine !== generation) return;
  view.replaceChildren(page);
  if (moved === true) view.focus();  // after a navigation, keyboard and screen reader users start at the new page
}

async function offerTemplates() {
  try { await get("/v2/extensions/templates"); document.getElementById("nav-templates").hidden = false; }
  catch { /* the node does not offer server templates */ }
}

// The skip link moves focus to the page's content without touching the hash the router reads.
document.querySelector("a.skip").addEventListener("click", (event) => { event.preventDefault(); view.focus(); });
form.addEventListener("submit", signIn);
dialog.addEventListener("cancel", (event) => event.preventDefault());  // a session is needed to go on
document.getElementById("sign-out").addEventListener("click", () => {
  endSession(); showWho(); clear(view); location.hash = "#/images"; askSignIn("You have signed out.").then(() => route());
});
onUnauthorized((reason) => { endSession(); showWho(); return askSignIn(reason); });
window.addEventListener("hashchange", () => route(true));
showWho();
route().then(() => { showWho(); offerTemplates(); });
