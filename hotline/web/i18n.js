// Labels in the hotline's languages; the browser's language picks one, the header switches.
const LABELS = {
  en: {
    reportsToday: "Detention reports today", acceptedCount: "accepted", medianAcceptance: "median time to acceptance", withinTarget: "within the target",
    delivery: "Delivery to the people on duty", ringingNow: "ringing", acceptedBy: "accepted by",
    restart: "Start again", skip: "Next step", acceptFor: "Accept for",
    escalationOutcomes: { accepted: "accepted", declined: "passed it on", NOANSWER: "no answer", BUSY: "busy",
      FAILED: "call failed", HUNGUP: "heard it, no key", UNKNOWN: "unknown", FENCED: "not made" },
    escalationStates: { acceptance: "waiting for their word", round: "again from the top soon",
      nobody: "nobody on duty: looking again", capped: "hourly calls used up: waiting", starting: "starting",
      accepted: "accepted", handled: "closed" },
    onDuty: "On duty now", rota: "Rota", dutyLawyers: "Duty lawyers", dutySupervisors: "Supervisor on duty",
    nextGap: "Next gap (14 days)", nobody: "nobody", noGap: "none",
    noOne: { lawyer: "No lawyer on duty", supervisor: "No supervisor on duty" },
    gapAlert: "Gaps in the duty rota: a detention report would reach nobody then.",
    shelterAlert: "Air-raid alert: offices in shelter, their calls answered elsewhere",
    offices: "Offices",
    office: "Office",
    inShelter: "in shelter for",
    until: "until",
    endShelter: "End the shelter",
    announcements: "Recorded announcements", announcementFile: "a WAV file", send: "Send", remove: "Remove", recordedBy: "by", forHours: "for",
    toShelter: "To shelter",
    shelterFor: "for how long",
    untilEnded: "until ended",
    working: "working",
    callBack: "Call back", calling: "Your phone rings; the number is dialled when you pick up.", history: "History",
    outcomeNames: { "lawyer-appointed": "lawyer appointed", "family-informed": "family informed",
      "passed-to-centre": "passed to a centre", "not-reached": "not reached", "not-a-detention": "not a detention" },
    historyKinds: { "notification.stored": "received", "callback.requested": "callback planned",
      "call.offered": "operator rung", "call.missed": "operator did not pick up", "call.answered": "in conversation",
      "callback.failed": "number not reached", "callback.refused": "callback refused", "call.ended": "call ended",
      "notification.handled": "handled", "notification.played": "message played", "notification.called": "called back from the desk",
      "escalation.started": "delivery started", "escalation.ringing": "person on duty rung",
      "escalation.declined": "passed on", "escalation.unanswered": "not reached", "escalation.accepted": "accepted",
      "escalation.waiting": "waiting", "escalation.notified": "message sent", "escalation.round": "again from the top",
      "escalation.restarted": "started again", "escalation.skipped": "step skipped", "escalation.stopped": "delivery over" },
    topicsToday: "What callers asked about today", topic: "Topic", callsCount: "Calls", handleTime: "Average handle time",
    takeNotification: "Detention notification taken", readOut: "Read out the reference:", handled: "Handled",
    takenBy: "taken by", message: "Message",
    desk: "Operator's desk", goAvailable: "Available", goPause: "Pause", goReady: "Ready for the next call",
    phone: "Phone", answer: "Answer", hangUp: "Hang up", mute: "Mute", unmute: "Unmute", hold: "Hold", resume: "Resume",
    phoneOn: "Use the phone here", microphone: "Microphone", headset: "Headset", level: "Level",
    phoneStates: { off: "off", connecting: "connecting…", ready: "ready", ringing: "ringing", talking: "in a call", calling: "calling", failed: "not registered", elsewhere: "in another tab" },
    phoneNoService: "the service does not answer", phoneTakenElsewhere: "the phone was opened in another window or browser, or the session ended",
    phoneReconnecting: "connection lost: reconnecting", phoneOtherTab: "this desk's phone is open in another tab",
    phoneNeedsHttps: "the browser lets a page use the microphone only over https://: open the desk at its https:// address",
    goLogout: "Log out of the queues", language: "Language", menuPath: "Menu path", waited: "Waited",
    previous: "Earlier calls from this number (90 days)", topics: "Topics", resolution: "Resolution",
    note: "Note", transferTo: "Transfer to", transfer: "Transfer", transferred: "Transferred to",
    wrapUp: "Wrap-up of the last call", save: "Save", saved: "Saved", chooseTopic: "Choose at least one topic.",
    when: "When", callBackAt: "Call the caller back from", callbackPlanned: "callback planned for", plannedCallbacks: "Callbacks waiting on your lines", plannedBy: "planned by", asSoonAsFree: "as soon as someone is free",
    incoming: "Incoming call", inProgress: "Call in progress", centres: "Legal aid centres",
    openNotification: "Open detention notification", pendingCallback: "Callback pending to",
    languages: { uk: "Ukrainian", en: "English", ka: "Georgian", ru: "Russian" },
    topicNames: { labour: "labour", "housing-property": "housing and property", family: "family",
      "domestic-violence": "domestic violence", criminal: "criminal", administrative: "administrative",
      "social-benefits": "social benefits", employment: "employment", documents: "documents", health: "health",
      "getting-legal-aid": "getting legal aid", "centre-address": "a centre's address",
      "other-hotlines": "other hotlines", other: "other" },
    resolutionNames: { "advice-given": "advice given", "referred-to-centre": "referred to a centre",
      "lawyer-appointed": "lawyer appointed", "callback-needed": "callback needed" },
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
      wrap_up: "wrap-up", paused: "paused", logged_out: "logged out",
      unreachable: "phone unreachable" },
    reasons: { break: "break", training: "training", admin: "admin", "missed-calls": "missed calls", shelter: "shelter" },
  },
  uk: {
    reportsToday: "Повідомлень про затримання сьогодні", acceptedCount: "прийнято", medianAcceptance: "медіана часу до прийняття", withinTarget: "у межах цілі",
    delivery: "Доставка черговим", ringingNow: "дзвонимо", acceptedBy: "прийняв",
    restart: "Почати знову", skip: "Наступний крок", acceptFor: "Прийняти за",
    escalationOutcomes: { accepted: "прийняв", declined: "передав далі", NOANSWER: "не відповів", BUSY: "зайнято",
      FAILED: "дзвінок не вдався", HUNGUP: "прослухав, без відповіді", UNKNOWN: "невідомо", FENCED: "не здійснено" },
    escalationStates: { acceptance: "чекаємо на відповідь", round: "незабаром знову з початку",
      nobody: "нікого на чергуванні: шукаємо знову", capped: "ліміт дзвінків: чекаємо", starting: "починаємо",
      accepted: "прийнято", handled: "закрито" },
    onDuty: "Зараз чергують", rota: "Графік", dutyLawyers: "Чергові адвокати", dutySupervisors: "Черговий керівник",
    nextGap: "Наступна прогалина (14 днів)", nobody: "ніхто", noGap: "немає",
    noOne: { lawyer: "Немає чергового адвоката", supervisor: "Немає чергового керівника" },
    gapAlert: "Прогалини в графіку чергувань: повідомлення про затримання тоді не дійде ні до кого.",
    shelterAlert: "Повітряна тривога: офіси в укритті, їхні дзвінки приймають інші",
    offices: "Офіси",
    office: "Офіс",
    inShelter: "в укритті вже",
    until: "до",
    endShelter: "Завершити укриття",
    announcements: "Записані оголошення", announcementFile: "файл WAV", send: "Надіслати", remove: "Прибрати", recordedBy: "записав(ла)", forHours: "на",
    toShelter: "В укриття",
    shelterFor: "на скільки",
    untilEnded: "до скасування",
    working: "працює",
    callBack: "Передзвонити", calling: "Ваш телефон дзвонить; номер наберуть, коли ви візьмете слухавку.", history: "Історія",
    outcomeNames: { "lawyer-appointed": "призначено адвоката", "family-informed": "родину поінформовано",
      "passed-to-centre": "передано до центру", "not-reached": "не додзвонилися", "not-a-detention": "не затримання" },
    historyKinds: { "notification.stored": "отримано", "callback.requested": "заплановано дзвінок",
      "call.offered": "дзвінок оператору", "call.missed": "оператор не відповів", "call.answered": "розмова",
      "callback.failed": "номер не відповів", "callback.refused": "дзвінок відхилено", "call.ended": "дзвінок завершено",
      "notification.handled": "опрацьовано", "notification.played": "прослухано повідомлення", "notification.called": "передзвонили з робочого місця",
      "escalation.started": "доставку розпочато", "escalation.ringing": "дзвінок черговому",
      "escalation.declined": "передано далі", "escalation.unanswered": "не додзвонилися", "escalation.accepted": "прийнято",
      "escalation.waiting": "очікування", "escalation.notified": "надіслано повідомлення", "escalation.round": "знову з початку",
      "escalation.restarted": "розпочато знову", "escalation.skipped": "крок пропущено", "escalation.stopped": "доставку завершено" },
    topicsToday: "Про що питали сьогодні", topic: "Тема", callsCount: "Дзвінки", handleTime: "Середня тривалість",
    takeNotification: "Прийнято повідомлення про затримання", readOut: "Назвіть номер:", handled: "Опрацьовано",
    takenBy: "прийняв", message: "Повідомлення",
    desk: "Робоче місце оператора", goAvailable: "Готовий", goPause: "Пауза", goReady: "Готовий до наступного дзвінка",
    phone: "Телефон", answer: "Відповісти", hangUp: "Завершити", mute: "Вимкнути мікрофон", unmute: "Увімкнути мікрофон", hold: "Утримувати", resume: "Продовжити",
    phoneOn: "Телефон тут", microphone: "Мікрофон", headset: "Гарнітура", level: "Рівень",
    phoneStates: { off: "вимкнено", connecting: "підключення…", ready: "готовий", ringing: "дзвонить", talking: "розмова", calling: "виклик", failed: "не зареєстровано", elsewhere: "в іншій вкладці" },
    phoneNoService: "сервіс не відповідає", phoneTakenElsewhere: "телефон відкрито в іншому вікні чи браузері, або сеанс завершено",
    phoneReconnecting: "з'єднання втрачено: перепідключення", phoneOtherTab: "телефон цього робочого місця відкрито в іншій вкладці",
    phoneNeedsHttps: "браузер дає сторінці мікрофон лише через https://: відкрийте робоче місце за адресою https://",
    goLogout: "Вийти з черг", language: "Мова", menuPath: "Шлях у меню", waited: "Очікування",
    previous: "Попередні дзвінки з цього номера (90 днів)", topics: "Теми", resolution: "Результат",
    note: "Примітка", transferTo: "Переадресувати", transfer: "Переадресувати", transferred: "Переадресовано:",
    wrapUp: "Підсумок останнього дзвінка", save: "Зберегти", saved: "Збережено", chooseTopic: "Оберіть хоча б одну тему.",
    when: "Коли", callBackAt: "Передзвонити абоненту з", callbackPlanned: "дзвінок заплановано на", plannedCallbacks: "Зворотні дзвінки на ваших лініях", plannedBy: "запланував(ла)", asSoonAsFree: "щойно хтось звільниться",
    incoming: "Вхідний дзвінок", inProgress: "Розмова", centres: "Центри правової допомоги",
    openNotification: "Відкрите повідомлення про затримання", pendingCallback: "Очікує зворотного дзвінка:",
    languages: { uk: "українська", en: "англійська", ka: "грузинська", ru: "російська" },
    topicNames: { labour: "трудові спори", "housing-property": "житло і майно", family: "сімейні",
      "domestic-violence": "домашнє насильство", criminal: "кримінальні", administrative: "адміністративні",
      "social-benefits": "соціальні виплати", employment: "працевлаштування", documents: "документи", health: "здоров'я",
      "getting-legal-aid": "отримання правової допомоги", "centre-address": "адреса центру",
      "other-hotlines": "інші гарячі лінії", other: "інше" },
    resolutionNames: { "advice-given": "надано консультацію", "referred-to-centre": "направлено до центру",
      "lawyer-appointed": "призначено адвоката", "callback-needed": "потрібен зворотний дзвінок" },
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
      wrap_up: "після розмови", paused: "пауза", logged_out: "не в системі",
      unreachable: "телефон недоступний" },
    reasons: { break: "перерва", training: "навчання", admin: "адміністративне", "missed-calls": "пропущені дзвінки", shelter: "укриття" },
  },
  ka: {
    reportsToday: "დაკავების შეტყობინებები დღეს", acceptedCount: "მიღებულია", medianAcceptance: "მიღებამდე მედიანური დრო", withinTarget: "მიზნის ფარგლებში",
    delivery: "მორიგეებისთვის მიწოდება", ringingNow: "ვრეკავთ", acceptedBy: "მიიღო",
    restart: "თავიდან დაწყება", skip: "შემდეგი ნაბიჯი", acceptFor: "მიღება ვისთვის:",
    escalationOutcomes: { accepted: "მიიღო", declined: "გადასცა", NOANSWER: "არ უპასუხა", BUSY: "დაკავებულია",
      FAILED: "ზარი ვერ განხორციელდა", HUNGUP: "მოისმინა, პასუხის გარეშე", UNKNOWN: "უცნობია", FENCED: "არ განხორციელდა" },
    escalationStates: { acceptance: "ველოდებით პასუხს", round: "მალე ისევ თავიდან",
      nobody: "მორიგე არავინაა: ისევ ვეძებთ", capped: "ზარების ლიმიტი: ველოდებით", starting: "იწყება",
      accepted: "მიღებულია", handled: "დახურულია" },
    onDuty: "ახლა მორიგეობენ", rota: "გრაფიკი", dutyLawyers: "მორიგე ადვოკატები", dutySupervisors: "მორიგე ხელმძღვანელი",
    nextGap: "შემდეგი ხარვეზი (14 დღე)", nobody: "არავინ", noGap: "არ არის",
    noOne: { lawyer: "მორიგე ადვოკატი არ არის", supervisor: "მორიგე ხელმძღვანელი არ არის" },
    gapAlert: "ხარვეზები მორიგეობის გრაფიკში: დაკავების შეტყობინება მაშინ ვერავის მიაღწევს.",
    shelterAlert: "საჰაერო განგაში: ოფისები თავშესაფარშია, მათ ზარებს სხვები პასუხობენ",
    offices: "ოფისები",
    office: "ოფისი",
    inShelter: "თავშესაფარში უკვე",
    until: "სანამ",
    endShelter: "თავშესაფრის დასრულება",
    announcements: "ჩაწერილი განცხადებები", announcementFile: "WAV ფაილი", send: "გაგზავნა", remove: "მოხსნა", recordedBy: "ჩაწერა", forHours: "ვადა",
    toShelter: "თავშესაფარში",
    shelterFor: "რამდენი ხნით",
    untilEnded: "გაუქმებამდე",
    working: "მუშაობს",
    callBack: "გადარეკვა", calling: "თქვენი ტელეფონი რეკავს; ნომერი აიკრიფება, როცა უპასუხებთ.", history: "ისტორია",
    outcomeNames: { "lawyer-appointed": "ადვოკატი დაინიშნა", "family-informed": "ოჯახი ინფორმირებულია",
      "passed-to-centre": "გადაეცა ცენტრს", "not-reached": "ვერ დაუკავშირდნენ", "not-a-detention": "არ არის დაკავება" },
    historyKinds: { "notification.stored": "მიღებულია", "callback.requested": "დაგეგმილია ზარი",
      "call.offered": "ოპერატორს დაურეკა", "call.missed": "ოპერატორმა არ უპასუხა", "call.answered": "საუბარი",
      "callback.failed": "ნომერმა არ უპასუხა", "callback.refused": "ზარი უარყოფილია", "call.ended": "ზარი დასრულდა",
      "notification.handled": "დამუშავებულია", "notification.played": "შეტყობინება მოსმენილია", "notification.called": "გადაირეკა სამუშაო ადგილიდან",
      "escalation.started": "მიწოდება დაიწყო", "escalation.ringing": "მორიგეს ვურეკავთ",
      "escalation.declined": "გადაცემულია", "escalation.unanswered": "ვერ დავუკავშირდით", "escalation.accepted": "მიღებულია",
      "escalation.waiting": "ლოდინი", "escalation.notified": "შეტყობინება გაიგზავნა", "escalation.round": "ისევ თავიდან",
      "escalation.restarted": "თავიდან დაიწყო", "escalation.skipped": "ნაბიჯი გამოტოვებულია", "escalation.stopped": "მიწოდება დასრულდა" },
    topicsToday: "რას ეკითხებოდნენ დღეს", topic: "თემა", callsCount: "ზარები", handleTime: "საშუალო ხანგრძლივობა",
    takeNotification: "დაკავების შეტყობინება მიღებულია", readOut: "წაუკითხეთ ნომერი:", handled: "დამუშავებულია",
    takenBy: "მიიღო", message: "შეტყობინება",
    desk: "ოპერატორის სამუშაო ადგილი", goAvailable: "მზად ვარ", goPause: "პაუზა", goReady: "მზად ვარ შემდეგი ზარისთვის",
    phone: "ტელეფონი", answer: "პასუხი", hangUp: "დასრულება", mute: "მიკროფონის გამორთვა", unmute: "მიკროფონის ჩართვა", hold: "მოცდა", resume: "გაგრძელება",
    phoneOn: "ტელეფონი აქ", microphone: "მიკროფონი", headset: "ყურსასმენი", level: "დონე",
    phoneStates: { off: "გამორთულია", connecting: "დაკავშირება…", ready: "მზადაა", ringing: "რეკავს", talking: "საუბარი", calling: "ზარი", failed: "არ არის რეგისტრირებული", elsewhere: "სხვა ჩანართში" },
    goLogout: "რიგებიდან გასვლა", language: "ენა", menuPath: "მენიუს გზა", waited: "ლოდინი",
    previous: "ამ ნომრიდან წინა ზარები (90 დღე)", topics: "თემები", resolution: "შედეგი",
    note: "შენიშვნა", transferTo: "გადამისამართება", transfer: "გადამისამართება", transferred: "გადამისამართდა:",
    wrapUp: "ბოლო ზარის შეჯამება", save: "შენახვა", saved: "შენახულია", chooseTopic: "აირჩიეთ ერთი თემა მაინც.",
    when: "როდის", callBackAt: "აბონენტს გადავურეკოთ", callbackPlanned: "ზარი დაგეგმილია", plannedCallbacks: "უკუზარები თქვენს ხაზებზე", plannedBy: "დაგეგმა", asSoonAsFree: "როგორც კი ვინმე გათავისუფლდება",
    incoming: "შემომავალი ზარი", inProgress: "საუბარი", centres: "იურიდიული დახმარების ცენტრები",
    openNotification: "ღია შეტყობინება დაკავების შესახებ", pendingCallback: "ელოდება უკუზარს:",
    languages: { uk: "უკრაინული", en: "ინგლისური", ka: "ქართული", ru: "რუსული" },
    topicNames: { labour: "შრომითი", "housing-property": "საცხოვრებელი და ქონება", family: "საოჯახო",
      "domestic-violence": "ოჯახში ძალადობა", criminal: "სისხლის სამართალი", administrative: "ადმინისტრაციული",
      "social-benefits": "სოციალური დახმარება", employment: "დასაქმება", documents: "დოკუმენტები", health: "ჯანმრთელობა",
      "getting-legal-aid": "იურიდიული დახმარების მიღება", "centre-address": "ცენტრის მისამართი",
      "other-hotlines": "სხვა ცხელი ხაზები", other: "სხვა" },
    resolutionNames: { "advice-given": "კონსულტაცია გაეწია", "referred-to-centre": "გადამისამართდა ცენტრში",
      "lawyer-appointed": "დაინიშნა ადვოკატი", "callback-needed": "საჭიროა უკუზარი" },
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
      wrap_up: "დასრულება", paused: "პაუზა", logged_out: "გასული",
      unreachable: "ტელეფონი მიუწვდომელია" },
    reasons: { break: "შესვენება", training: "სწავლება", admin: "ადმინისტრაციული", "missed-calls": "გამოტოვებული ზარები", shelter: "თავშესაფარი" },
  },
  ru: {
    reportsToday: "Сообщений о задержании сегодня", acceptedCount: "принято", medianAcceptance: "медиана времени до принятия", withinTarget: "в пределах цели",
    delivery: "Доставка дежурным", ringingNow: "звоним", acceptedBy: "принял",
    restart: "Начать заново", skip: "Следующий шаг", acceptFor: "Принять за",
    escalationOutcomes: { accepted: "принял", declined: "передал дальше", NOANSWER: "не ответил", BUSY: "занято",
      FAILED: "звонок не удался", HUNGUP: "прослушал, без ответа", UNKNOWN: "неизвестно", FENCED: "не совершён" },
    escalationStates: { acceptance: "ждём ответа", round: "скоро снова с начала",
      nobody: "никого на дежурстве: ищем снова", capped: "лимит звонков: ждём", starting: "начинаем",
      accepted: "принято", handled: "закрыто" },
    onDuty: "Сейчас дежурят", rota: "График", dutyLawyers: "Дежурные адвокаты", dutySupervisors: "Дежурный руководитель",
    nextGap: "Следующий пробел (14 дней)", nobody: "никто", noGap: "нет",
    noOne: { lawyer: "Нет дежурного адвоката", supervisor: "Нет дежурного руководителя" },
    gapAlert: "Пробелы в графике дежурств: сообщение о задержании тогда не дойдёт ни до кого.",
    shelterAlert: "Воздушная тревога: офисы в укрытии, их звонки принимают другие",
    offices: "Офисы",
    office: "Офис",
    inShelter: "в укрытии уже",
    until: "до",
    endShelter: "Завершить укрытие",
    announcements: "Записанные объявления", announcementFile: "файл WAV", send: "Отправить", remove: "Убрать", recordedBy: "записал(а)", forHours: "на",
    toShelter: "В укрытие",
    shelterFor: "на сколько",
    untilEnded: "до отмены",
    working: "работает",
    callBack: "Перезвонить", calling: "Ваш телефон звонит; номер наберут, когда вы возьмёте трубку.", history: "История",
    outcomeNames: { "lawyer-appointed": "назначен адвокат", "family-informed": "семья проинформирована",
      "passed-to-centre": "передано в центр", "not-reached": "не дозвонились", "not-a-detention": "не задержание" },
    historyKinds: { "notification.stored": "получено", "callback.requested": "запланирован звонок",
      "call.offered": "звонок оператору", "call.missed": "оператор не ответил", "call.answered": "разговор",
      "callback.failed": "номер не ответил", "callback.refused": "звонок отклонён", "call.ended": "звонок завершён",
      "notification.handled": "обработано", "notification.played": "сообщение прослушано", "notification.called": "перезвонили с рабочего места",
      "escalation.started": "доставка начата", "escalation.ringing": "звонок дежурному",
      "escalation.declined": "передано дальше", "escalation.unanswered": "не дозвонились", "escalation.accepted": "принято",
      "escalation.waiting": "ожидание", "escalation.notified": "отправлено сообщение", "escalation.round": "снова с начала",
      "escalation.restarted": "начато заново", "escalation.skipped": "шаг пропущен", "escalation.stopped": "доставка завершена" },
    topicsToday: "О чём спрашивали сегодня", topic: "Тема", callsCount: "Звонки", handleTime: "Средняя длительность",
    takeNotification: "Принято сообщение о задержании", readOut: "Назовите номер:", handled: "Обработано",
    takenBy: "принял", message: "Сообщение",
    desk: "Рабочее место оператора", goAvailable: "Готов", goPause: "Пауза", goReady: "Готов к следующему звонку",
    phone: "Телефон", answer: "Ответить", hangUp: "Завершить", mute: "Выключить микрофон", unmute: "Включить микрофон", hold: "Удержание", resume: "Продолжить",
    phoneOn: "Телефон здесь", microphone: "Микрофон", headset: "Гарнитура", level: "Уровень",
    phoneStates: { off: "выключен", connecting: "подключение…", ready: "готов", ringing: "звонит", talking: "разговор", calling: "вызов", failed: "не зарегистрирован", elsewhere: "в другой вкладке" },
    goLogout: "Выйти из очередей", language: "Язык", menuPath: "Путь в меню", waited: "Ожидание",
    previous: "Прежние звонки с этого номера (90 дней)", topics: "Темы", resolution: "Результат",
    note: "Заметка", transferTo: "Перевести", transfer: "Перевести", transferred: "Переведено:",
    wrapUp: "Итог последнего звонка", save: "Сохранить", saved: "Сохранено", chooseTopic: "Выберите хотя бы одну тему.",
    when: "Когда", callBackAt: "Перезвонить абоненту с", callbackPlanned: "звонок запланирован на", plannedCallbacks: "Обратные звонки на ваших линиях", plannedBy: "запланировал(а)", asSoonAsFree: "как только кто-то освободится",
    incoming: "Входящий звонок", inProgress: "Разговор", centres: "Центры правовой помощи",
    openNotification: "Открытое сообщение о задержании", pendingCallback: "Ожидает обратного звонка:",
    languages: { uk: "украинский", en: "английский", ka: "грузинский", ru: "русский" },
    topicNames: { labour: "трудовые споры", "housing-property": "жильё и имущество", family: "семейные",
      "domestic-violence": "домашнее насилие", criminal: "уголовные", administrative: "административные",
      "social-benefits": "социальные выплаты", employment: "трудоустройство", documents: "документы", health: "здоровье",
      "getting-legal-aid": "получение правовой помощи", "centre-address": "адрес центра",
      "other-hotlines": "другие горячие линии", other: "другое" },
    resolutionNames: { "advice-given": "дана консультация", "referred-to-centre": "направлен в центр",
      "lawyer-appointed": "назначен адвокат", "callback-needed": "нужен обратный звонок" },
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
      wrap_up: "после разговора", paused: "пауза", logged_out: "не в системе",
      unreachable: "телефон недоступен" },
    reasons: { break: "перерыв", training: "обучение", admin: "административное", "missed-calls": "пропущенные звонки", shelter: "укрытие" },
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

// The API with the login cookie; a 401 shows the login form. A 503 with Retry-After (an
// instance taking over, a standby with nobody active yet: a second or two) is asked again,
// a few times, as it says.
async function api(path, options = {}) {
  for (let tries = 1; ; tries++) {
    const reply = await fetch(path, { credentials: "same-origin", ...options });
    if (reply.status === 401) { showLogin(); throw new Error("unauthorised"); }
    const wait = Number(reply.headers.get("Retry-After"));
    if (reply.status !== 503 || !wait || tries >= 5) return reply;
    await new Promise((done) => setTimeout(done, Math.min(wait, 5) * 1000));
  }
}

// Requests of one kind may answer out of order: an answer is shown unless one of a request
// made after it was shown already (then it is older than what is on screen).
// `const turn = newest(); ... const mine = turn(); await ...; if (!mine()) return;`
function newest() {
  let made = 0, shown = 0;
  return () => {
    const me = ++made;
    return () => { if (me < shown) return false; shown = me; return true; };
  };
}

// A report's escalation in a line: each call and how it went, who is rung now, who accepted.
function escalationText(e) {
  if (!e) return "–";
  const said = e.calls.filter((c) => c.outcome && c.outcome !== "accepted")
    .map((c) => `${c.person}: ${t("escalationOutcomes")[c.outcome] ?? c.outcome}`);
  if (e.ringing) said.push(`${t("ringingNow")} ${e.ringing}`);
  if (e.accepted) said.push(`${t("acceptedBy")} ${e.accepted.person}`);
  else if (!e.ringing) said.push(t("escalationStates")[e.state] ?? e.state);
  return said.join(" · ");
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
    const reply = await fetch("/api/v1/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
    });
    if (!reply.ok) { document.getElementById("login-error").textContent = t("badToken"); return; }
    document.getElementById("login").classList.add("hidden");
    document.getElementById("app").classList.remove("hidden");
    onLoggedIn();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/api/v1/session", { method: "DELETE", credentials: "same-origin" });
    location.reload();
  });
}
