// Labels in the hotline's languages; the browser's language picks one, the header switches.
const LABELS = {
  en: {
    title: "Legal aid hotline", live: "Live", lost: "Connection lost: reconnecting...",
    calls: "Calls", dashboard: "Wallboard", logout: "Log out", login: "Log in",
    token: "API token", badToken: "This token is not valid.",
    lines: "Lines", line: "Line", waiting: "Waiting", longest: "Longest wait",
    estimate: "Estimated wait", sl: "Service level today", target: "target",
    answered: "Answered", abandoned: "Abandoned", operators: "Operators", operator: "Operator",
    state: "State", inState: "Time in state", callerWait: "Caller waited", talk: "Talk time",
    notifications: "Open detention notifications", none: "None", ref: "Reference",
    received: "Received", number: "Callback number", overdue: "overdue",
    overdueAlert: "A detention notification is waiting longer than its target!",
    chart: "Calls per hour: today and yesterday", today: "Today", yesterday: "Yesterday",
    search: "Search", from: "From", to: "To", outcome: "Outcome", caller: "Caller",
    started: "Started", wait: "Wait", any: "any", timeline: "Timeline",
    recording: "Recording", noRecording: "No recording", more: "More",
    states: { available: "available", ringing: "ringing", on_call: "on call",
      wrap_up: "wrap-up", paused: "paused", logged_out: "logged out" },
  },
  uk: {
    title: "Гаряча лінія правової допомоги", live: "Наживо", lost: "Зв'язок втрачено: перепідключення...",
    calls: "Дзвінки", dashboard: "Табло", logout: "Вийти", login: "Увійти",
    token: "Токен API", badToken: "Цей токен недійсний.",
    lines: "Лінії", line: "Лінія", waiting: "Очікують", longest: "Найдовше очікування",
    estimate: "Очікуваний час", sl: "Рівень обслуговування сьогодні", target: "ціль",
    answered: "Прийнято", abandoned: "Втрачено", operators: "Оператори", operator: "Оператор",
    state: "Стан", inState: "Час у стані", callerWait: "Абонент чекав", talk: "Розмова",
    notifications: "Відкриті повідомлення про затримання", none: "Немає", ref: "Номер",
    received: "Отримано", number: "Номер для зворотного дзвінка", overdue: "прострочено",
    overdueAlert: "Повідомлення про затримання чекає довше за норму!",
    chart: "Дзвінки за годину: сьогодні і вчора", today: "Сьогодні", yesterday: "Вчора",
    search: "Шукати", from: "Від", to: "До", outcome: "Результат", caller: "Абонент",
    started: "Початок", wait: "Очікування", any: "будь-який", timeline: "Хронологія",
    recording: "Запис", noRecording: "Запису немає", more: "Ще",
    states: { available: "вільний", ringing: "дзвінок", on_call: "розмова",
      wrap_up: "після розмови", paused: "пауза", logged_out: "не в системі" },
  },
  ka: {
    title: "იურიდიული დახმარების ცხელი ხაზი", live: "პირდაპირ", lost: "კავშირი დაიკარგა: ხელახლა დაკავშირება...",
    calls: "ზარები", dashboard: "დაფა", logout: "გასვლა", login: "შესვლა",
    token: "API ტოკენი", badToken: "ტოკენი არასწორია.",
    lines: "ხაზები", line: "ხაზი", waiting: "ელოდება", longest: "ყველაზე ხანგრძლივი ლოდინი",
    estimate: "სავარაუდო ლოდინი", sl: "მომსახურების დონე დღეს", target: "მიზანი",
    answered: "ნაპასუხები", abandoned: "მიტოვებული", operators: "ოპერატორები", operator: "ოპერატორი",
    state: "მდგომარეობა", inState: "დრო მდგომარეობაში", callerWait: "ლოდინი", talk: "საუბარი",
    notifications: "ღია შეტყობინებები დაკავების შესახებ", none: "არ არის", ref: "ნომერი",
    received: "მიღებულია", number: "უკუზარის ნომერი", overdue: "ვადაგადაცილებული",
    overdueAlert: "დაკავების შეტყობინება ნორმაზე დიდხანს ელოდება!",
    chart: "ზარები საათში: დღეს და გუშინ", today: "დღეს", yesterday: "გუშინ",
    search: "ძებნა", from: "დან", to: "მდე", outcome: "შედეგი", caller: "აბონენტი",
    started: "დაწყება", wait: "ლოდინი", any: "ნებისმიერი", timeline: "ქრონოლოგია",
    recording: "ჩანაწერი", noRecording: "ჩანაწერი არ არის", more: "მეტი",
    states: { available: "თავისუფალი", ringing: "რეკავს", on_call: "საუბრობს",
      wrap_up: "დასრულება", paused: "პაუზა", logged_out: "გასული" },
  },
  ru: {
    title: "Горячая линия правовой помощи", live: "В эфире", lost: "Связь потеряна: переподключение...",
    calls: "Звонки", dashboard: "Табло", logout: "Выйти", login: "Войти",
    token: "Токен API", badToken: "Этот токен недействителен.",
    lines: "Линии", line: "Линия", waiting: "Ожидают", longest: "Дольше всех ждёт",
    estimate: "Ожидаемое время", sl: "Уровень обслуживания сегодня", target: "цель",
    answered: "Принято", abandoned: "Потеряно", operators: "Операторы", operator: "Оператор",
    state: "Состояние", inState: "Время в состоянии", callerWait: "Абонент ждал", talk: "Разговор",
    notifications: "Открытые сообщения о задержании", none: "Нет", ref: "Номер",
    received: "Получено", number: "Номер для обратного звонка", overdue: "просрочено",
    overdueAlert: "Сообщение о задержании ждёт дольше нормы!",
    chart: "Звонки по часам: сегодня и вчера", today: "Сегодня", yesterday: "Вчера",
    search: "Искать", from: "С", to: "По", outcome: "Результат", caller: "Абонент",
    started: "Начало", wait: "Ожидание", any: "любой", timeline: "Хронология",
    recording: "Запись", noRecording: "Записи нет", more: "Ещё",
    states: { available: "свободен", ringing: "звонок", on_call: "разговор",
      wrap_up: "после разговора", paused: "пауза", logged_out: "не в системе" },
  },
};

function pickLanguage() {
  const saved = localStorage.getItem("hotline.lang");
  if (saved && LABELS[saved]) return saved;
  for (const lang of navigator.languages || [navigator.language || "en"]) {
    const code = lang.slice(0, 2).toLowerCase();
    if (LABELS[code]) return code;
  }
  return "en";
}

let LANG = pickLanguage();
const t = (key) => LABELS[LANG][key] ?? LABELS.en[key] ?? key;

function applyLabels() {
  document.documentElement.lang = LANG;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  const picker = document.getElementById("lang");
  if (picker) picker.value = LANG;
}

function setupLanguagePicker(onChange) {
  const picker = document.getElementById("lang");
  picker.addEventListener("change", () => {
    LANG = picker.value;
    localStorage.setItem("hotline.lang", LANG);
    applyLabels();
    onChange();
  });
  applyLabels();
}

// Seconds as m:ss or h:mm:ss.
function duration(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

// The API with the login cookie; a 401 shows the login form.
async function api(path, options = {}) {
  const reply = await fetch(path, { credentials: "same-origin", ...options });
  if (reply.status === 401) { showLogin(); throw new Error("unauthorised"); }
  return reply;
}

function showLogin() {
  document.getElementById("login").classList.remove("hidden");
  document.getElementById("app").classList.add("hidden");
}

function setupLogin(onLoggedIn) {
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = document.getElementById("token").value.trim();
    const reply = await fetch("/api/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
    });
    if (!reply.ok) { document.getElementById("login-error").textContent = t("badToken"); return; }
    document.getElementById("login").classList.add("hidden");
    document.getElementById("app").classList.remove("hidden");
    onLoggedIn();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/api/session", { method: "DELETE", credentials: "same-origin" });
    location.reload();
  });
}
