// The phone in the desk: JsSIP (vendored, /static/vendor) registered over Asterisk's secure
// WebSocket with credentials the service hands to this session alone (POST /api/v1/desk/phone:
// never shown or typed). One tab holds the phone: a newer tab of the same browser takes it
// (BroadcastChannel), and a newer session anywhere ends these credentials (the service).
const phone = {
  ua: null, session: null, config: null, state: "off", muted: false, held: false,
  ringer: null, meter: null, mic: localStorage.getItem("hotline.mic") || "",
  speaker: localStorage.getItem("hotline.speaker") || "",
};
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("hotline-desk-phone") : null;
const $ = (id) => document.getElementById(id);

function phoneState(state, detail = "") {
  phone.state = state;
  const badge = $("phone-state");
  badge.dataset.state = state;
  badge.className = `state phone-${state}`;
  badge.textContent = t("phoneStates")[state] ?? state;
  $("phone-detail").textContent = detail;
  const incoming = state === "ringing";
  const talking = state === "talking";
  $("phone-answer").disabled = !incoming;
  $("phone-hangup").disabled = !(incoming || talking || state === "calling");
  $("phone-mute").disabled = !talking;
  $("phone-hold").disabled = !talking;
  $("phone-keypad").classList.toggle("hidden", !talking);
  $("phone-on").classList.toggle("hidden", !["off", "failed", "elsewhere"].includes(state));
  $("phone-mute").textContent = t(phone.muted ? "unmute" : "mute");
  $("phone-hold").textContent = t(phone.held ? "resume" : "hold");
  $("phone-box").dataset.state = state;
  if (!incoming) ring(false);
}

// The ring tone: two tones, on and off, from the page itself (no file to fetch).
function ring(on) {
  if (!on) {
    if (phone.ringer) { clearInterval(phone.ringer.timer); phone.ringer.context.close(); phone.ringer = null; }
    return;
  }
  if (phone.ringer) return;
  const context = new AudioContext();
  const gain = context.createGain();
  gain.gain.value = 0;
  gain.connect(context.destination);
  for (const hz of [440, 480]) {
    const tone = context.createOscillator();
    tone.frequency.value = hz;
    tone.connect(gain);
    tone.start();
  }
  let beat = 0;
  const timer = setInterval(() => { gain.gain.value = beat++ % 3 === 0 ? 0.15 : 0; }, 700);
  phone.ringer = { context, timer };
}

// The microphone's level while talking: what the caller hears from this browser.
function meter(stream) {
  if (phone.meter) { cancelAnimationFrame(phone.meter.frame); phone.meter.context.close(); phone.meter = null; }
  if (!stream) { $("phone-level").value = 0; return; }
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    const rms = Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
    $("phone-level").value = Math.min(1, rms * 4);
    phone.meter.frame = requestAnimationFrame(tick);
  };
  phone.meter = { context, frame: requestAnimationFrame(tick) };
}

async function devices() {
  let found = [];
  try { found = await navigator.mediaDevices.enumerateDevices(); } catch (e) { return; }
  for (const [kind, id, chosen] of [["audioinput", "phone-mic", phone.mic], ["audiooutput", "phone-speaker", phone.speaker]]) {
    const picker = $(id);
    const options = found.filter((d) => d.kind === kind)
      .map((d, i) => el("option", { value: d.deviceId }, d.label || `${kind === "audioinput" ? t("microphone") : t("headset")} ${i + 1}`));
    picker.replaceChildren(...options);
    if (options.some((o) => o.value === chosen)) picker.value = chosen;
  }
  $("phone-speaker").disabled = !("setSinkId" in HTMLMediaElement.prototype);
}

async function phoneOn() {
  tabs?.postMessage("mine");  // the other tabs of this browser let go of it
  stopPhone(false);
  $("phone-box").classList.remove("hidden");
  if (!window.isSecureContext || !navigator.mediaDevices) {  // (no microphone for http://)
    phoneState("failed", t("phoneNeedsHttps"));
    return;
  }
  phoneState("connecting");
  let reply;
  try {
    reply = await api("/api/v1/desk/phone", { method: "POST" });
  } catch (e) { phoneState("failed", t("phoneNoService")); return; }
  const given = await reply.json();
  if (reply.status === 403 || reply.status === 404) { $("phone-box").classList.add("hidden"); return; }
  if (!reply.ok) { phoneState("failed", given.detail ?? reply.statusText); return; }
  $("phone-box").classList.remove("hidden");
  phone.config = given;
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(given.server)],
    uri: given.uri,
    authorization_user: given.username,
    password: given.password,
    realm: given.realm,
    register_expires: 120,
    session_timers: false,
    user_agent: "hotline-desk",
  });
  phone.ua = ua;
  ua.on("registered", () => { if (phone.ua === ua && !phone.session) phoneState("ready"); });
  ua.on("unregistered", () => { if (phone.ua === ua && !phone.session) phoneState("off"); });
  ua.on("registrationFailed", (e) => {
    if (phone.ua !== ua) return;
    // refused: another session holds the phone now, or this one ended
    stopPhone(false);
    phoneState("failed", e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR ? t("phoneTakenElsewhere") : e.cause);
  });
  ua.on("disconnected", () => { if (phone.ua === ua && !phone.session) phoneState("connecting", t("phoneReconnecting")); });
  ua.on("newRTCSession", ({ session, originator }) => {
    if (originator !== "remote") return;
    if (phone.session) { session.terminate({ status_code: 486 }); return; }  // (one call at a time)
    take(session);
  });
  ua.start();
  devices();
}

function take(session) {
  phone.session = session;
  phone.muted = phone.held = false;
  phoneState("ringing", session.remote_identity.display_name || session.remote_identity.uri.user);
  ring(true);
  const audio = $("phone-audio");
  session.on("peerconnection", ({ peerconnection }) => {
    peerconnection.addEventListener("track", (e) => { audio.srcObject = e.streams[0]; audio.play().catch(() => {}); });
  });
  session.on("accepted", () => {
    phoneState("talking");
    const pc = session.connection;
    const local = new MediaStream(pc.getSenders().map((s) => s.track).filter(Boolean));
    meter(local);
  });
  const ended = (e) => {
    if (phone.session !== session) return;
    phone.session = null;
    meter(null);
    audio.srcObject = null;
    phoneState(phone.ua?.isRegistered() ? "ready" : "off", e?.cause ?? "");
  };
  session.on("ended", ended);
  session.on("failed", ended);
  session.on("hold", () => { phone.held = true; phoneState("talking"); });
  session.on("unhold", () => { phone.held = false; phoneState("talking"); });
  window.phoneSession = session;  // (the tests read its RTCPeerConnection's figures)
}

function answer() {
  const session = phone.session;
  if (!session) return;
  ring(false);
  session.answer({
    mediaConstraints: { audio: phone.mic ? { deviceId: { exact: phone.mic } } : true, video: false },
    pcConfig: { iceServers: phone.config?.ice_servers ?? [] },
  });
  phoneState("talking");
}

function stopPhone(announce = true) {
  if (phone.session) { try { phone.session.terminate(); } catch (e) { /* gone already */ } }
  phone.session = null;
  meter(null);
  if (phone.ua) { const ua = phone.ua; phone.ua = null; ua.stop(); }
  if (announce) phoneState("off");
}

$("phone-on").addEventListener("click", phoneOn);
$("phone-answer").addEventListener("click", answer);
$("phone-hangup").addEventListener("click", () => phone.session?.terminate());
$("phone-mute").addEventListener("click", () => {
  if (!phone.session) return;
  phone.muted = !phone.muted;
  phone.muted ? phone.session.mute({ audio: true }) : phone.session.unmute({ audio: true });
  phoneState("talking");
});
$("phone-hold").addEventListener("click", () => {
  if (!phone.session) return;
  phone.held ? phone.session.unhold() : phone.session.hold();
});
for (const key of "123456789*0#") {
  const button = el("button", { type: "button", "data-key": key }, key);
  // (RFC 4733 events in the media; a short gap: ## must reach Asterisk within its second)
  button.addEventListener("click", () =>
    phone.session?.sendDTMF(key, { transportType: "RFC2833", duration: 120, interToneGap: 70 }));
  $("phone-keypad").append(button);
}
$("phone-mic").addEventListener("change", (e) => { phone.mic = e.target.value; localStorage.setItem("hotline.mic", phone.mic); });
$("phone-speaker").addEventListener("change", (e) => {
  phone.speaker = e.target.value;
  localStorage.setItem("hotline.speaker", phone.speaker);
  $("phone-audio").setSinkId?.(phone.speaker).catch(() => {});
});
tabs?.addEventListener("message", (e) => {
  if (e.data === "mine" && phone.ua) { stopPhone(false); phoneState("elsewhere", t("phoneOtherTab")); }
});
// leaving the page: the registration goes with it (a closed connection removes it anyway)
window.addEventListener("pagehide", () => stopPhone(false));
