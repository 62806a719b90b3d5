// The operator's desk: /api/desk read again on every event of theirs (/api/events), so the
// caller ringing their phone is on screen within a second; the wrap-up saved with the API.
const desk = { data: null, fetchedAt: performance.now(), wrapped: null };

const since = () => (performance.now() - desk.fetchedAt) / 1000;
const title = (titles) => titles?.[LANG] ?? titles?.en ?? "";
const topicName = (id) => t("topicNames")[id] ?? id;
const resolutionName = (id) => t("resolutionNames")[id] ?? id;

const loadTurn = newest();

async function load() {
  const mine = loadTurn();
  const reply = await api("/api/v1/desk");
  const answer = await reply.json();
  if (!mine()) return;  // a load made after it is on screen already
  if (!reply.ok) { document.getElementById("action-error").textContent = answer.detail; return; }
  desk.data = answer;
  desk.fetchedAt = performance.now();
  render();
}

function render() {
  if (!desk.data) return;
  renderMe();
  renderCall();
  renderNotifications();
  renderCallbacks();
  renderWrapUp();
}

function renderMe() {
  const { operator, pause_reasons: reasons } = desk.data;
  document.getElementById("organisation").textContent = desk.data.organisation.name;
  document.getElementById("my-name").textContent = `${operator.name} (${operator.id})`;
  const shown = operator.state === "available" && !operator.reachable ? "unreachable" : operator.state;
  const badge = document.getElementById("my-state");
  badge.className = `state state-${shown}`;
  badge.dataset.state = shown;
  const reason = operator.pause_reason ? ` (${t("reasons")[operator.pause_reason] ?? operator.pause_reason})` : "";
  badge.textContent = (t("states")[shown] ?? shown) + reason;
  document.getElementById("my-time").textContent = duration(operator.for == null ? null : operator.for + since());
  const picker = document.getElementById("pause-reason");
  if (picker.options.length !== reasons.length || picker.dataset.lang !== LANG) {
    const chosen = picker.value;
    picker.replaceChildren(...reasons.map((r) => el("option", { value: r }, t("reasons")[r] ?? r)));
    picker.dataset.lang = LANG;
    if (reasons.includes(chosen)) picker.value = chosen;
  }
  const s = operator.state;
  document.getElementById("go-available").disabled = !["logged_out", "paused"].includes(s);
  document.getElementById("go-pause").disabled = !["available", "wrap_up"].includes(s);
  document.getElementById("go-ready").disabled = s !== "wrap_up";
  document.getElementById("go-logout").disabled = ["logged_out", "ringing", "on_call"].includes(s);
}

function lineTitle(id) {
  const line = desk.data.lines.find((l) => l.id === id);
  return line ? title(line.titles) || id : id ?? "–";
}

function renderCall() {
  const call = desk.data.call;
  const box = document.getElementById("call");
  box.classList.toggle("hidden", !call);
  if (!call) { box.dataset.state = ""; box.dataset.call = ""; return; }
  const fresh = box.dataset.call !== call.id;
  if (fresh) box.dataset.shownAt = String(Date.now());  // when it popped up (the tests read it)
  box.dataset.call = call.id;
  box.dataset.state = call.state;
  document.getElementById("call-title").textContent = t(call.state === "ringing" ? "incoming" : "inProgress");
  document.getElementById("caller").textContent = call.caller || "–";
  document.getElementById("call-line").textContent = lineTitle(call.line);
  document.getElementById("call-line").dataset.line = call.line;
  document.getElementById("call-language").textContent = t("languages")[call.language] ?? call.language;
  document.getElementById("call-path").textContent = call.path.join(" > ") || "–";
  const waited = call.state === "ringing" ? call.waited + since() : call.waited;
  document.getElementById("call-waited").textContent = duration(waited);
  const alerts = document.getElementById("call-alerts");
  alerts.replaceChildren(
    ...call.notifications.map((n) => el("p", { class: "alert-line", "data-ref": n.ref },
      `${t("openNotification")} ${n.ref} (${new Date(n.at).toLocaleString(LANG)})`)),
    ...call.callbacks.map((c) => el("p", { class: "alert-line" }, `${t("pendingCallback")} ${c.number}`)));
  const previous = document.getElementById("previous");
  previous.replaceChildren();
  if (!call.previous.length) previous.append(el("tr", {}, el("td", { colSpan: 6 }, t("none"))));
  for (const p of call.previous) {
    previous.append(el("tr", { "data-call": p.id },
      el("td", {}, new Date(p.started).toLocaleString(LANG)), el("td", {}, lineTitle(p.line)),
      el("td", {}, p.operator ?? "–"), el("td", {}, p.topics.map(topicName).join(", ") || "–"),
      el("td", {}, p.resolution ? resolutionName(p.resolution) : "–"), el("td", { class: "note" }, p.note ?? "")));
  }
  document.getElementById("transfer-box").classList.toggle("hidden", call.state !== "talking");
  document.getElementById("notify-box").classList.toggle("hidden", call.state !== "talking");
  if (fresh) {
    document.getElementById("transfer-result").textContent = "";
    document.getElementById("notification-ref").textContent = "";
    const group = (label, items) => el("optgroup", { label }, ...items);
    document.getElementById("transfer-to").replaceChildren(
      group(t("lines"), desk.data.lines.filter((l) => l.id !== call.line)
        .map((l) => el("option", { value: `line:${l.id}` }, title(l.titles) || l.id))),
      group(t("operators"), desk.data.colleagues
        .map((c) => el("option", { value: `operator:${c.id}` }, `${c.name} (${c.id})${c.free ? "" : " – " + (t("states")[c.state] ?? c.state)}`))),
      group(t("centres"), desk.data.centres
        .map((c) => el("option", { value: `centre:${c.id}` }, `${c.name} – ${c.region}`))));
  }
}

function renderNotifications() {
  const body = document.getElementById("notifications");
  const open = desk.data.notifications;
  for (const n of open) {  // how each is being delivered, as it goes
    const cell = body.querySelector(`tr[data-ref="${n.ref}"] .escalation`);
    if (cell) cell.textContent = escalationText(n.escalation);
  }
  const shown = [...body.querySelectorAll("tr[data-ref]")].map((r) => r.dataset.ref).join();
  if (shown === open.map((n) => n.ref).join() && body.dataset.lang === LANG) return;  // (a playing message plays on)
  body.dataset.lang = LANG;
  body.replaceChildren();
  if (!open.length) body.append(el("tr", {}, el("td", { colSpan: 7 }, t("none"))));
  for (const n of open) {
    const callBack = el("button", { class: "call-back" }, t("callBack"));
    callBack.addEventListener("click", () => notificationCall(n.ref));
    const outcome = el("select", { class: "outcome" }, el("option", { value: "" }, "–"),
      ...desk.data.notification_outcomes.map((o) => el("option", { value: o }, t("outcomeNames")[o] ?? o)));
    const note = el("input", { class: "handled-note", type: "text", maxLength: 4000, placeholder: t("note") });
    const handled = el("button", { class: "handled" }, t("handled"));
    handled.addEventListener("click", async () => {
      const reply = await api(`/api/v1/notifications/${n.ref}/handled`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ outcome: outcome.value || null, note: note.value || null }),
      });
      if (!reply.ok) { status.textContent = (await reply.json()).detail; return; }
      await load();
    });
    const history = el("button", { class: "history" }, t("history"));
    history.addEventListener("click", () => showHistory(n.ref));
    const status = el("span", { class: "notification-status" });
    body.append(el("tr", { "data-ref": n.ref },
      el("td", {}, n.ref), el("td", {}, lineTitle(n.line)), el("td", {}, n.number),
      el("td", {}, new Date(n.at).toLocaleString(LANG)),
      el("td", { class: "escalation" }, escalationText(n.escalation)),
      el("td", {}, n.recorded ? el("audio", { controls: true, preload: "none", src: `/api/v1/notifications/${n.ref}/recording` })
        : n.taken_by ? `${t("takenBy")} ${n.taken_by}` : "–"),
      el("td", { class: "actions" }, callBack, " ", outcome, " ", note, " ", handled, " ", history, " ", status)),
      el("tr", { class: "history-row hidden", "data-history": n.ref }, el("td", { colSpan: 7 })));
  }
}

// Call the notification's number back: the operator's phone rings first (the service dials).
async function notificationCall(ref) {
  const status = document.querySelector(`tr[data-ref="${ref}"] .notification-status`);
  const reply = await api(`/api/v1/notifications/${ref}/call-back`, { method: "POST" });
  const body = await reply.json();
  status.className = `notification-status ${reply.ok ? "" : "error"}`;
  status.dataset.ok = String(reply.ok);
  status.textContent = reply.ok ? t("calling") : body.detail;
}

async function showHistory(ref) {
  const row = document.querySelector(`tr[data-history="${ref}"]`);
  row.classList.toggle("hidden");
  if (row.classList.contains("hidden")) return;
  const reply = await api(`/api/v1/notifications/${ref}`);
  const body = await reply.json();
  if (!reply.ok) { row.firstChild.textContent = body.detail; return; }
  const who = (h) => h.by ?? h.operator ?? h.person ?? "";
  row.firstChild.replaceChildren(el("ol", { class: "history" }, ...body.history.map((h) =>
    el("li", { "data-kind": h.kind }, `${new Date(h.at).toLocaleString(LANG)}: ${t("historyKinds")[h.kind] ?? h.kind}`
      + (who(h) ? ` (${who(h)})` : "") + (h.outcome ? `: ${t("outcomeNames")[h.outcome] ?? h.outcome}` : "")
      + (h.status ? `: ${h.status}` : "")))));
}

async function takeNotification() {
  const out = document.getElementById("notification-ref");
  const reply = await api(`/api/v1/calls/${desk.data.call.id}/notification`, { method: "POST" });
  const body = await reply.json();
  out.className = reply.ok ? "reference" : "error";
  out.textContent = reply.ok ? `${t("readOut")} ${body.ref}` : body.detail;
  out.dataset.ref = reply.ok ? body.ref : "";
  await load();
}

function renderCallbacks() {
  const body = document.getElementById("callbacks");
  const rows = desk.data.callbacks;
  body.replaceChildren(...(rows.length ? rows.map((c) => el("tr", { "data-call": c.call },
    el("td", {}, c.at ? new Date(c.at).toLocaleString(LANG) : t("asSoonAsFree")),
    el("td", {}, lineTitle(c.line)), el("td", {}, c.number), el("td", {}, c.by ?? "–")))
    : [el("tr", {}, el("td", { colSpan: 4 }, t("none")))]));
}

function renderWrapUp() {
  const last = desk.data.last_call;
  const box = document.getElementById("wrapup");
  const show = !!last && !desk.data.call;
  box.classList.toggle("hidden", !show);
  if (!show || box.dataset.call === last.id && box.dataset.lang === LANG) return;
  box.dataset.call = last.id;
  box.dataset.lang = LANG;
  const line = desk.data.lines.find((l) => l.id === last.line);
  document.getElementById("topics").replaceChildren(...(line?.topics ?? []).map((topic) =>
    el("label", { class: "choice" }, el("input", { type: "checkbox", name: "topic", value: topic, checked: last.topics.includes(topic) }),
      " ", topicName(topic))));
  const resolution = document.getElementById("resolution");
  resolution.replaceChildren(...desk.data.resolutions.map((r) => el("option", { value: r }, resolutionName(r))));
  if (last.resolution) resolution.value = last.resolution;
  document.getElementById("note").value = last.note ?? "";
  document.getElementById("callback-at").value = "";
  document.getElementById("wrapup-status").textContent = last.resolution ? t("saved") : "";
}

async function act(action, query = "") {
  const error = document.getElementById("action-error");
  error.textContent = "";
  const reply = await api(`/api/v1/agents/${desk.data.operator.id}/${action}${query}`, { method: "POST" });
  if (!reply.ok) error.textContent = (await reply.json()).detail;
  await load();
}

async function transfer() {
  const [kind, id] = document.getElementById("transfer-to").value.split(":");
  const result = document.getElementById("transfer-result");
  const reply = await api(`/api/v1/calls/${desk.data.call.id}/transfer`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ [kind]: id }),
  });
  const body = await reply.json();
  result.className = reply.ok ? "" : "error";
  result.textContent = reply.ok ? `${t("transferred")} ${id}` : body.detail;
  result.dataset.ok = String(reply.ok);
}

async function saveWrapUp(event) {
  event.preventDefault();
  const call = document.getElementById("wrapup").dataset.call;
  const topics = [...document.querySelectorAll("#topics input:checked")].map((i) => i.value);
  const status = document.getElementById("wrapup-status");
  const callbackAt = document.getElementById("callback-at").value;  // (the browser's time zone)
  const reply = await api(`/api/v1/calls/${call}/wrap-up`, {
    method: "PUT", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ topics, resolution: document.getElementById("resolution").value, note: document.getElementById("note").value,
      ...(callbackAt ? { callback_at: new Date(callbackAt).toISOString() } : {}) }),
  });
  const body = await reply.json();
  status.className = reply.ok ? "" : "error";
  status.dataset.ok = String(reply.ok);
  // no topic ticked: said in the page's language, not the API's
  const noTopic = body.errors?.some((e) => e.loc[0] === "body" && e.loc[1] === "topics" && e.type === "too_short");
  const planned = body.callback ? `; ${t("callbackPlanned")} ${new Date(body.callback.at).toLocaleString(LANG)}` : "";
  status.textContent = reply.ok ? t("saved") + planned : (noTopic ? t("chooseTopic") : body.detail);
  if (reply.ok && body.callback) { document.getElementById("callback-at").value = ""; await load(); }
}

// Live: every event of theirs reads the desk again (at most one read in flight).
let pending = false, again = false;
async function refresh() {
  if (pending) { again = true; return; }
  pending = true;
  try { await load(); } catch (e) { /* shown by the connection state */ }
  pending = false;
  if (again) { again = false; refresh(); }
}

function connect() {
  const badge = document.getElementById("connection");
  const source = new EventSource("/api/v1/events");
  source.onopen = () => { badge.className = "live"; badge.dataset.state = "live"; badge.textContent = t("live"); refresh(); };
  source.onerror = () => {
    badge.className = "lost"; badge.dataset.state = "lost"; badge.textContent = t("lost");
    fetch("/api/v1/session", { credentials: "same-origin" }).then((r) => { if (r.status === 401) { source.close(); showLogin(); } }).catch(() => {});
  };
  source.onmessage = () => refresh();
}

async function start() {
  const who = await fetch("/api/v1/session", { credentials: "same-origin" });
  if (!who.ok) { showLogin(); return; }
  const { role } = await who.json();
  document.getElementById("app").classList.remove("hidden");
  await load().catch(() => {});
  if (role === "operator" && !phone.ua) phoneOn();  // the operator's own desk: its phone
  connect();
  setInterval(() => { if (desk.data) { renderMe(); if (desk.data.call?.state === "ringing") renderCall(); } }, 1000);
}

document.getElementById("go-available").addEventListener("click", () =>
  act(desk.data.operator.state === "paused" ? "resume" : "login"));
document.getElementById("go-pause").addEventListener("click", () =>
  act("pause", `?reason=${encodeURIComponent(document.getElementById("pause-reason").value)}`));
document.getElementById("go-ready").addEventListener("click", () => act("ready"));
document.getElementById("go-logout").addEventListener("click", () => act("logout"));
document.getElementById("transfer").addEventListener("click", transfer);
document.getElementById("take-notification").addEventListener("click", takeNotification);
document.getElementById("wrapup-form").addEventListener("submit", saveWrapUp);
setupLanguagePicker(render);
setupLogin(start);
start();
