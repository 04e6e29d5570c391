// Sharing an image: its members (add, remove) as the owner sees them; as a member, your own answer.
import { call, get, session } from "./api.js";
import { attempt, clear, field, h, isolate } from "./dom.js";

export async function membersPanel(image) {
  const panel = h("section", { class: "panel", "aria-label": "Members" });
  const path = `/v2/images/${encodeURIComponent(image.id)}/members`;
  const me = (session() || {}).project;
  if (me && image.owner !== me) { await answerPanel(panel, `${path}/${encodeURIComponent(me)}`); return panel; }
  const render = async () => {
    clear(panel).append(h("h3", { text: "Members" }));
    const slot = h("div");
    let members = [];
    try { members = (await get(path)).members || []; } catch (error) { await attempt(slot, () => { throw error; }); }
    const list = h("ul", { id: "members" });
    for (const member of members) {
      list.append(h("li", {}, `${isolate(member.member_id)} — ${member.status} `, h("button", { type: "button", class: "secondary",
        text: `Remove ${isolate(member.member_id)}`, onclick: async () => {
          if (await attempt(slot, () => call("DELETE", `${path}/${encodeURIComponent(member.member_id)}`)) !== undefined) await render();
        } })));
    }
    if (!members.length) list.append(h("li", { text: "Not shared with any project." }));
    const project = h("input", { name: "member" });
    const form = h("form", {}, field("Share with project id", project), h("button", { type: "submit", text: "Share" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (await attempt(slot, () => call("POST", path, { body: { member: project.value.trim() } })) !== undefined) await render();
    });
    if (image.visibility !== "shared") panel.append(h("p", { class: "note", text: "Set visibility to shared for members to see the image." }));
    panel.append(list, form, slot);
  };
  await render();
  return panel;
}

// The image is shared with my project: my membership's status, and Accept / Reject.
async function answerPanel(panel, path) {
  clear(panel).append(h("h3", { text: "Shared with your project" }));
  const slot = h("div");
  let member;
  try { member = await get(path); } catch (error) {
    if (error.status === 404) { panel.append(h("p", { text: "Not shared with your project." })); return; }
    await attempt(slot, () => { throw error; }); panel.append(slot); return;
  }
  const answer = (to, label) => (member.status === to ? null : h("button", { type: "button",
    class: to === "rejected" ? "secondary" : undefined, text: label, onclick: async () => {
      if (await attempt(slot, () => call("PUT", path, { body: { status: to } })) !== undefined) await answerPanel(panel, path);
    } }));
  panel.append(h("p", { id: "my-membership", text: `Your project's answer: ${member.status}.` }),
    answer("accepted", "Accept"), " ", answer("rejected", "Reject"), slot);
}
