// The console's client of the public Images API: the session, requests, errors and uploads.
// The session (token or development identity) lives in sessionStorage only: gone with the tab.

const KEY = "glimpse.console.session";
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
export const AUTH = meta("glimpse-auth-strategy");
export const PATCH_TYPE = "application/openstack-images-v2.1-json-patch";

export class ApiError extends Error {
  constructor(message, status, requestId, body) {
    super(message); this.status = status; this.requestId = requestId; this.body = body;
  }
}

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; }
}
export function saveSession(value) { sessionStorage.setItem(KEY, JSON.stringify(value)); }
export function endSession() { sessionStorage.removeItem(KEY); }

let reauthenticate = async () => { throw new ApiError("Not signed in.", 401); };
export function onUnauthorized(handler) { reauthenticate = handler; }

function identityHeaders() {
  const current = session() || {};
  const headers = {};
  if (current.token) headers["X-Auth-Token"] = current.token;
  if (AUTH === "noauth") {
    if (current.project) headers["X-Project-Id"] = current.project;
    if (current.roles) headers["X-Roles"] = current.roles;
    if (current.user) headers["X-User-Id"] = current.user;
  }
  return headers;
}

async function errorFrom(response) {
  let body = null, message = `${response.status} ${response.statusText}`;
  try { body = await response.json(); if (body && body.message) message = body.message; } catch { /* not JSON */ }
  const requestId = (body && body.request_id) || response.headers.get("x-openstack-request-id");
  return new ApiError(message, response.status, requestId, body);
}

// Whether the session's token has passed the expiry Keystone gave it (a token without one never expires here).
export function expired(current = session()) {
  return !!(current && current.expires_at && Date.parse(current.expires_at) <= Date.now());
}

// One API call; `body` is sent as JSON (or with `type`). Asks to sign in again on 401, or before sending
// with a token known to have expired, and retries once.
export async function call(method, path, { body, type, headers = {}, raw = false, retried = false } = {}) {
  if (!retried && expired()) {
    await reauthenticate("Your session has expired; sign in again to continue where you were.");
    return call(method, path, { body, type, headers, raw, retried: true });
  }
  const init = { method, headers: { Accept: "application/json", ...identityHeaders(), ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = type || "application/json";
  }
  let response;
  try { response = await fetch(path, init); } catch (error) {
    throw new ApiError(`The server could not be reached (${error.message}).`, 0, null);
  }
  if (response.status === 401 && !retried) {
    await reauthenticate("Your session has expired or was refused; sign in again to continue.");
    return call(method, path, { body, type, headers, raw, retried: true });
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  const text = await response.text();
  return { data: text ? JSON.parse(text) : null, etag: response.headers.get("etag"), response };
}

export async function get(path) { return (await call("GET", path)).data; }

// The Keystone exchange: the server posts the credentials to Keystone; the token comes back to us.
export async function keystoneSignIn(fields) {
  const response = await fetch("/console/sign-in", {
    method: "POST", credentials: "same-origin", body: JSON.stringify(fields),
    headers: { "Content-Type": "application/json", Accept: "application/json",
               "X-CSRF-Token": meta("glimpse-csrf-token") },
  });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

// Upload a File with XMLHttpRequest, for its progress events. Returns {promise, cancel}.
export function upload(imageId, file, onProgress, headers = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("PUT", `/v2/images/${encodeURIComponent(imageId)}/file`);
    for (const [name, value] of Object.entries(identityHeaders())) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) { resolve(); return; }
      let message = `${xhr.status} ${xhr.statusText}`, body = null;
      try { body = JSON.parse(xhr.responseText); message = body.message || message; } catch { /* not JSON */ }
      reject(new ApiError(message, xhr.status, (body && body.request_id) || xhr.getResponseHeader("x-openstack-request-id"), body));
    });
    xhr.addEventListener("error", () => reject(new ApiError("The upload was interrupted by a network error.", 0, null)));
    xhr.addEventListener("abort", () => reject(new ApiError("The upload was cancelled.", 0, null)));
    xhr.send(file);
  });
  return { promise, cancel: () => xhr.abort() };
}
