// The wallboard: state from the API, kept live by the event stream (/api/events). Durations
// tick in the browser from the server's figures, so a skewed clock never shows.
const state = { queues: {}, agents: [], offices: [], announcements: [], stats: null, yesterday: null, notifications: [],
  fetchedAt: performance.now(), waits: {}, canSeeNotifications: true, duty: null, role: null };

const since = () => (performance.now() - state.fetchedAt) / 1000;

const liveTurn = newest(), statsTurn = newest(), notificationsTurn = newest(), dutyTurn = newest();

async function loadLive() {
  const mine = liveTurn();
  const [queues, agents, offices, announcements] = await Promise.all(
    [api("/api/v1/queues"), api("/api/v1/agents"), api("/api/v1/offices"), api("/api/v1/announcements")]);
  const [q, a, o, n] = await Promise.all([queues.ok ? queues.json() : {}, agents.ok ? agents.json() : [],
    offices.ok ? offices.json() : [], announcements.ok ? announcements.json() : []]);
  if (!mine()) return;  // a refresh made after it is on screen already
  state.queues = q;
  state.agents = a;
  state.offices = o;
  state.announcements = n;
  state.fetchedAt = performance.now();
  render();
}

async function loadNotifications() {
  const mine = notificationsTurn();
  const reply = await api("/api/v1/notifications?open=true&limit=1000");
  const notifications = reply.ok ? await reply.json() : [];
  if (!mine()) return;
  state.canSeeNotifications = reply.ok;
  state.notifications = notifications;
  render();
}

async function loadStats() {
  const mine = statsTurn();
  const today = await api("/api/v1/stats?by=hour");
  if (!today.ok) return;
  const stats = await today.json();
  const start = new Date(stats.from);
  const from = new Date(start.getTime() - 86400000).toISOString();
  const yesterday = await api(`/api/v1/stats?by=hour&from=${encodeURIComponent(from)}&to=${encodeURIComponent(start.toISOString())}`);
  const before = yesterday.ok ? await yesterday.json() : null;
  if (!mine()) return;
  state.stats = stats;
  state.yesterday = before;
  render();
}

// Who is on duty in each rota, and the gaps of the next 14 days (GET /api/duty).
async function loadDuty() {
  const mine = dutyTurn();
  const reply = await api("/api/v1/duty");
  const duty = reply.ok ? await reply.json() : null;
  if (!mine()) return;
  state.duty = duty;
  renderDuty();
}

// A gap in the rota's own time zone: "No lawyer on duty Saturday, 12 December, 02:00 – 08:00".
function gapText(gap, timeZone) {
  const clock = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };  // (24 hours, as rotas are)
  const long = { timeZone, weekday: "long", day: "numeric", month: "long", ...clock };
  const day = (d) => d.toLocaleDateString("en-CA", { timeZone });
  const start = new Date(gap.start), end = new Date(gap.end);
  const until = day(start) === day(end)
    ? end.toLocaleTimeString(LANG, { timeZone, ...clock })
    : end.toLocaleString(LANG, long);
  return `${t("noOne")[gap.role]} ${start.toLocaleString(LANG, long)} – ${until} (${timeZone})`;
}

function renderDuty() {
  const rotas = state.duty?.rotas ?? [];
  document.getElementById("duty-box").classList.toggle("hidden", !rotas.length);
  const body = document.getElementById("duty");
  body.replaceChildren();
  const names = (people) => people.length ? people.map((p) => p.name).join(", ") : el("span", { class: "gap" }, t("nobody"));
  const alerts = [];
  // a token of every organisation: which organisation's each rota is
  const many = new Set(rotas.map((r) => r.organisation)).size > 1;
  for (const r of rotas) {
    const label = many ? `${r.organisation} / ${r.rota}` : r.rota;
    const next = r.gaps[0];
    // each role's first gap on the alert
    for (const role of ["lawyer", "supervisor"]) {
      const first = r.gaps.find((g) => g.role === role);
      if (first) alerts.push(el("li", { "data-rota": r.rota, "data-role": role }, `${label}: ${gapText(first, r.timezone)}`));
    }
    body.append(el("tr", { "data-rota": `${r.organisation}/${r.rota}` },
      el("td", {}, label),
      el("td", { class: "lawyers" }, names(r.lawyers)),
      el("td", { class: "supervisors" }, names(r.supervisors)),
      el("td", { class: next ? "next-gap gap" : "next-gap" }, next ? gapText(next, r.timezone) : t("noGap"))));
  }
  document.getElementById("duty-gaps").replaceChildren(...alerts);
  document.getElementById("duty-alert").classList.toggle("on", alerts.length > 0);
}

// Offices, and an air-raid alert's shelter: in red with how long it has lasted; a supervisor
// takes an office to shelter (for a while, or until they end it) and back.
function shelterText(s) {
  const until = s.until ? ` ${t("until")} ${new Date(s.until).toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" })}` : "";
  return `${t("inShelter")} ${duration(s.for + since())}${until}`;
}

function renderOffices() {
  const body = document.getElementById("offices");
  // (a rebuild keeps what a supervisor was choosing)
  const chosen = Object.fromEntries([...body.querySelectorAll("tr[data-office]")]
    .map((row) => [row.dataset.office, row.querySelector(".shelter-minutes")?.value ?? ""]));
  body.replaceChildren();
  const alerts = [];
  const supervisor = state.role === "supervisor";
  for (const office of state.offices) {
    const s = office.shelter;
    if (s) alerts.push(el("li", { "data-office": office.id }, `${office.id}: ${shelterText(s)}`));
    const actions = [];
    if (supervisor && s) {
      const end = el("button", { class: "shelter-end" }, t("endShelter"));
      end.addEventListener("click", () => shelterAct(office.id, "DELETE", ""));
      actions.push(end);
    } else if (supervisor) {
      const minutes = el("select", { class: "shelter-minutes", title: t("shelterFor") },
        el("option", { value: "" }, t("untilEnded")),
        ...[30, 60, 120, 240].map((m) => el("option", { value: m }, m < 60 ? `${m} min` : `${m / 60} h`)));
      minutes.value = chosen[office.id] ?? "";
      const go = el("button", { class: "shelter-start" }, t("toShelter"));
      go.addEventListener("click", () => shelterAct(office.id, "POST", minutes.value ? `?minutes=${minutes.value}` : ""));
      actions.push(minutes, " ", go);
    }
    body.append(el("tr", { "data-office": office.id, class: s ? "sheltered" : "" },
      el("td", {}, office.id), el("td", {}, office.lines.join(", ")),
      el("td", { class: "shelter-state" }, s ? `${shelterText(s)} (${s.by})` : t("working")),
      el("td", {}, ...actions)));
  }
  document.getElementById("offices-box").classList.toggle("hidden", !state.offices.length);
  document.getElementById("shelters").replaceChildren(...alerts);
  document.getElementById("shelter-alert").classList.toggle("on", alerts.length > 0);
}

// Every second: how long each shelter has lasted (the controls are left as they are).
function tickOffices() {
  for (const office of state.offices) {
    const s = office.shelter;
    if (!s) continue;
    const cell = document.querySelector(`#offices tr[data-office="${office.id}"] .shelter-state`);
    if (cell) cell.textContent = `${shelterText(s)} (${s.by})`;
    const item = document.querySelector(`#shelters li[data-office="${office.id}"]`);
    if (item) item.textContent = `${office.id}: ${shelterText(s)}`;
  }
}

async function shelterAct(office, method, query) {
  await api(`/api/v1/offices/${encodeURIComponent(office)}/shelter${query}`, { method });
  refreshSoon("live");
}

// The lines' recorded announcements: who recorded each and until when; a supervisor removes
// one, or sends a WAV file for a line (recording one by phone: *71 and the line's code).
function renderAnnouncements() {
  const supervisor = state.role === "supervisor";
  const lines = Object.keys(state.queues);
  document.getElementById("announcements-box").classList.toggle("hidden", !supervisor && !state.announcements.length);
  document.getElementById("announcement-form").classList.toggle("hidden", !supervisor);
  const body = document.getElementById("announcements");
  body.replaceChildren(...(state.announcements.length ? state.announcements.map((a) => {
    const remove = el("button", { class: "announcement-remove" }, t("remove"));
    remove.addEventListener("click", async () => {
      await api(`/api/v1/lines/${encodeURIComponent(a.line)}/announcement`, { method: "DELETE" });
      refreshSoon("live");
    });
    return el("tr", { "data-line": a.line }, el("td", {}, a.line), el("td", {}, a.by),
      el("td", {}, new Date(a.until).toLocaleString(LANG)), el("td", {}, supervisor ? remove : ""));
  }) : [el("tr", {}, el("td", { colSpan: 4 }, t("none")))]));
  const choice = document.getElementById("announcement-line");
  if (choice.dataset.lines !== lines.join() || choice.dataset.lang !== LANG) {
    const kept = choice.value;
    choice.replaceChildren(...lines.map((l) => el("option", { value: l }, l)));
    if (lines.includes(kept)) choice.value = kept;
    choice.dataset.lines = lines.join();
    choice.dataset.lang = LANG;
  }
}

async function sendAnnouncement(event) {
  event.preventDefault();
  const status = document.getElementById("announcement-status");
  const file = document.getElementById("announcement-file").files[0];
  if (!file) { status.textContent = t("announcementFile"); return; }
  const line = document.getElementById("announcement-line").value;
  const minutes = document.getElementById("announcement-hours").value;
  const reply = await api(`/api/v1/lines/${encodeURIComponent(line)}/announcement?minutes=${minutes}`, {
    method: "PUT", headers: { "Content-Type": "audio/wav" }, body: file,
  });
  status.className = reply.ok ? "" : "error";
  status.dataset.ok = String(reply.ok);
  status.textContent = reply.ok ? t("saved") : (await reply.json()).detail;
  if (reply.ok) document.getElementById("announcement-file").value = "";
  refreshSoon("live");
}

function render() {
  renderOffices();
  renderAnnouncements();
  renderDuty();
  renderNotifications();
  renderReports();
  renderLines();
  renderOperators();
  renderTopics();
  renderChart();
}

function renderTopics() {
  const body = document.getElementById("topics-today");
  body.replaceChildren();
  const topics = Object.entries(state.stats?.topics ?? {}).sort((a, b) => b[1].calls - a[1].calls);
  if (!topics.length) body.append(el("tr", {}, el("td", { colSpan: 3 }, t("none"))));
  for (const [topic, f] of topics) {
    body.append(el("tr", { "data-topic": topic },
      el("td", {}, t("topicNames")[topic] ?? topic), el("td", { class: "num calls" }, f.calls),
      el("td", { class: "num" }, duration(f.average_handle_time))));
  }
}

function renderNotifications() {
  document.getElementById("notifications-box").classList.toggle("hidden", !state.canSeeNotifications);
  const body = document.getElementById("notifications");
  body.replaceChildren();
  if (!state.notifications.length) body.append(el("tr", {}, el("td", { colSpan: 6 }, t("none"))));
  for (const n of state.notifications) {
    body.append(el("tr", { class: n.overdue ? "overdue" : "", "data-ref": n.ref },
      el("td", {}, n.ref), el("td", {}, n.line), el("td", {}, n.number),
      el("td", {}, new Date(n.at).toLocaleTimeString(LANG)), el("td", {}, n.overdue ? t("overdue") : ""),
      el("td", { class: "escalation", "data-state": n.escalation?.state ?? "" },
        escalationText(n.escalation), ...escalationActions(n))));
  }
  document.getElementById("alert").classList.toggle("on", state.notifications.some((n) => n.overdue));
}

// Today's detention reports: how many, how many a person on duty accepted, how fast.
function renderReports() {
  const r = state.stats?.reports;
  const box = document.getElementById("reports-today");
  box.querySelector(".reports").textContent = r ? r.reports : "–";
  box.querySelector(".accepted").textContent = r ? r.accepted : "–";
  box.querySelector(".median").textContent = duration(r?.time_to_acceptance.p50);
  const within = r?.within_target;
  box.querySelector(".within").textContent = within == null ? "–" : `${Math.round(within * 100)}%`;
}

// A supervisor's hands on an escalation under way: again from the top, the next step now, or
// the report accepted on behalf of the person rung (or last rung).
function escalationActions(n) {
  const e = n.escalation;
  if (!e || e.accepted || e.state === "handled") return [];
  const act = (action, label, person) => {
    const button = el("button", { class: `escalation-${action}` }, label);
    button.addEventListener("click", async () => {
      await api(`/api/v1/notifications/${n.ref}/escalation`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(person ? { action, person } : { action }),
      });
      refreshSoon("notifications");
    });
    return button;
  };
  const person = e.ringing ?? e.calls.at(-1)?.person;
  return [" ", act("restart", t("restart")), " ", act("skip", t("skip")),
    ...(person ? [" ", act("accept", `${t("acceptFor")} ${person}`, person)] : [])];
}

function renderLines() {
  const body = document.getElementById("lines");
  body.replaceChildren();
  const figures = state.stats?.lines ?? {};
  for (const [name, line] of Object.entries(state.queues)) {
    const f = figures[name] ?? {};
    const sl = f.service_level;
    const target = state.stats?.target ?? 0.8;
    const longest = line.waiting.length ? line.longest_wait + since() : 0;
    body.append(el("tr", { "data-line": name },
      el("td", {}, name),
      el("td", { class: "num big waiting" }, line.waiting.length),
      el("td", { class: "num longest" }, duration(longest)),
      el("td", { class: "num" }, line.estimated_wait == null ? "–" : duration(line.estimated_wait)),
      el("td", { class: `num ${sl == null ? "" : sl >= target ? "meets" : "below"}` },
        sl == null ? "–" : `${Math.round(sl * 100)}% (${t("target")} ${Math.round(target * 100)}%)`),
      el("td", { class: "num answered" }, f.answered ?? 0),
      el("td", { class: "num abandoned" }, f.abandoned ?? 0)));
  }
}

function renderOperators() {
  const body = document.getElementById("operators");
  body.replaceChildren();
  for (const op of state.agents) {
    const inState = op.for == null ? null : op.for + since();
    const talking = op.state === "on_call";
    // available, but their phone cannot be rung: said so, not shown in green
    const shown = op.state === "available" && !op.reachable ? "unreachable" : op.state;
    const reason = op.pause_reason ? ` (${t("reasons")[op.pause_reason] ?? op.pause_reason})` : "";
    body.append(el("tr", { "data-operator": op.id, "data-state": shown },
      el("td", {}, op.id),
      el("td", {}, el("span", { class: `state state-${shown}` }, (t("states")[shown] ?? shown) + reason)),
      el("td", { class: "num" }, duration(inState)),
      el("td", { class: "num" }, op.call && state.waits[op.call] != null ? duration(state.waits[op.call]) : "–"),
      el("td", { class: "num" }, talking ? duration(inState) : "–")));
  }
}

function renderChart() {
  const svg = document.getElementById("chart");
  const today = state.stats?.periods ?? [], before = state.yesterday?.periods ?? [];
  const counts = (periods) => { const c = Array(24).fill(0); periods.forEach((p, i) => { if (i < 24) c[i] = p.offered; }); return c; };
  const a = counts(today), b = counts(before);
  const top = Math.max(1, ...a, ...b);
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  for (let h = 0; h < 24; h++) {
    for (const [i, value, colour] of [[0, b[h], "#9aa7bd"], [1, a[h], "#20304a"]]) {
      const height = (value / top) * 130;
      const bar = document.createElementNS(ns, "rect");
      Object.entries({ x: h * 40 + 6 + i * 14, y: 140 - height, width: 13, height, fill: colour })
        .forEach(([k, v]) => bar.setAttribute(k, v));
      bar.setAttribute("data-hour", h); bar.setAttribute("data-day", i ? "today" : "yesterday");
      bar.setAttribute("data-count", value);
      svg.append(bar);
    }
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", h * 40 + 10); label.setAttribute("y", 160); label.setAttribute("font-size", 11);
    label.textContent = String(h).padStart(2, "0");
    svg.append(label);
  }
}

// Live: every event schedules a refresh (at most one in flight, within a few hundred ms).
let pending = null;
function refreshSoon(what) {
  if (pending) { pending.add(what); return; }
  pending = new Set([what]);
  setTimeout(async () => {
    const todo = pending; pending = null;
    const jobs = [loadLive()];
    if (todo.has("stats")) jobs.push(loadStats());
    if (todo.has("notifications")) jobs.push(loadNotifications());
    try { await Promise.all(jobs); } catch (e) { /* shown by the connection state */ }
  }, 150);
}

function connect() {
  const badge = document.getElementById("connection");
  const source = new EventSource("/api/v1/events");
  source.onopen = () => {
    badge.className = "live"; badge.dataset.state = "live"; badge.textContent = t("live");
    refreshSoon("stats"); refreshSoon("notifications");
  };
  source.onerror = () => {
    badge.className = "lost"; badge.dataset.state = "lost"; badge.textContent = t("lost");
    fetch("/api/v1/session", { credentials: "same-origin" }).then((r) => { if (r.status === 401) { source.close(); showLogin(); } }).catch(() => {});
  };
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.kind === "call.answered" && event.data.wait != null) state.waits[event.call_id] = event.data.wait;
    if (event.kind === "escalation.accepted" || event.kind === "notification.stored") refreshSoon("stats");
    const kinds = /^(notification|escalation)\./.test(event.kind) ? "notifications"
      : ["call.ended", "call.queued", "call.wrapped_up"].includes(event.kind) ? "stats" : "live";
    refreshSoon(kinds);
  };
}

async function start() {
  const who = await fetch("/api/v1/session", { credentials: "same-origin" });
  if (!who.ok) { showLogin(); return; }
  // the organisation this token sees (none: every organisation's lines)
  const me = await who.json();
  state.role = me.role;
  document.getElementById("organisation").textContent = me.organisation_name ?? "";
  document.getElementById("app").classList.remove("hidden");
  await Promise.all([loadLive(), loadStats(), loadNotifications(), loadDuty()]).catch(() => {});
  connect();
  setInterval(() => { renderLines(); renderOperators(); tickOffices(); }, 1000);
  setInterval(() => refreshSoon("stats"), 60000);
  setInterval(() => loadDuty().catch(() => {}), 30000);  // (the service reads the rotas again)
}

document.getElementById("announcement-form").addEventListener("submit", sendAnnouncement);
setupLanguagePicker(render);
setupLogin(start);
start();
