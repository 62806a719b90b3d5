// Search the call log (the filters of /api/calls), open a call: its timeline and recording.
const OUTCOMES = ["answered", "abandoned", "called-back", "callback-failed", "handled",
  "after-hours", "finished", "hung-up", "unknown-number", "failed", "rejected", "handed-over", "interrupted",
  "transferred"];
let offset = 0;
const searchTurn = newest();

function query() {
  const form = new FormData(document.getElementById("filters"));
  const params = new URLSearchParams();
  for (const [key, value] of form.entries()) if (value) params.set(key, value);
  return params;
}

async function search(more = false) {
  offset = more ? offset + 50 : 0;
  const params = query();
  params.set("limit", 50); params.set("offset", offset);
  const mine = searchTurn();
  const reply = await api(`/api/v1/calls?${params}`);
  const answer = await reply.json();
  if (!mine()) return;  // a search made after it is on screen already
  const error = document.getElementById("error");
  const body = document.getElementById("calls");
  if (!more) body.replaceChildren();
  if (!reply.ok) {
    error.textContent = answer.detail;  // a sentence naming each wrong filter
    return;
  }
  error.textContent = "";
  const calls = answer;
  for (const c of calls) {
    const row = el("tr", { class: "clickable", "data-call": c.id },
      el("td", {}, new Date(c.started).toLocaleString(LANG)), el("td", {}, c.caller),
      el("td", {}, c.line ?? "–"), el("td", {}, c.operator ?? "–"),
      el("td", { class: "num" }, duration(c.wait)), el("td", { class: "num" }, duration(c.talk)),
      el("td", {}, c.outcome ?? "…"));
    row.addEventListener("click", () => open(c.id));
    body.append(row);
  }
  const total = Number(reply.headers.get("X-Total-Count") || 0);
  document.getElementById("more").classList.toggle("hidden", offset + calls.length >= total);
}

async function open(id) {
  const reply = await api(`/api/v1/calls/${encodeURIComponent(id)}`);
  if (!reply.ok) return;
  const call = await reply.json();
  document.getElementById("detail").classList.remove("hidden");
  document.getElementById("detail-id").textContent = id;
  const timeline = document.getElementById("timeline");
  timeline.replaceChildren(...call.events.map((e) => el("tr", {},
    el("td", {}, new Date(e.at).toLocaleTimeString(LANG)), el("td", {}, e.kind),
    el("td", {}, Object.entries(e.data).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ")))));
  const player = document.getElementById("player");
  const kinds = call.events.map((e) => e.kind);
  player.replaceChildren(kinds.includes("recording.stored") && !kinds.includes("recording.deleted")
    ? el("audio", { controls: true, preload: "none", src: `/api/v1/calls/${encodeURIComponent(id)}/recording` })
    : el("p", {}, t("noRecording")));
}

async function start() {
  const who = await fetch("/api/v1/session", { credentials: "same-origin" });
  if (!who.ok) { showLogin(); return; }
  document.getElementById("app").classList.remove("hidden");
  const queues = await api("/api/v1/queues");
  const lines = document.querySelector("select[name=line]");
  if (queues.ok) for (const name of Object.keys(await queues.json())) lines.append(el("option", { value: name }, name));
  const outcomes = document.querySelector("select[name=outcome]");
  for (const name of OUTCOMES) outcomes.append(el("option", { value: name }, name));
  search();
}

document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); search(); });
document.getElementById("more").addEventListener("click", () => search(true));
setupLanguagePicker(() => {});
setupLogin(start);
start();
