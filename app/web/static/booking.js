// The booking page at a mail link. It talks to Roundtable only through the public GraphQL
// API, sending the link token in X-Roundtable-Link, as any other client would.
"use strict";

(function () {
  const app = document.getElementById("app");
  if (!app) return;
  const TOKEN = app.dataset.link;
  const ENDPOINT = app.dataset.graphql || "/graphql";

  const INTERVIEW_FIELDS = `id round status durationMinutes timeZone bookedStart bookedEnd
    conference { url provider } alternativeTimesRequested alternativeTimesMessage
    cancellation { at } windows { start end }`;
  const ACCESS = `query Access { linkAccess { scope actions email user { name timeZone }
    interview { ${INTERVIEW_FIELDS}
      proposal { candidate { name } project { title organization { name }
        accountManager { name email } } } } } }`;
  const SLOTS = `query Slots($id: ID!, $tz: String!) {
    availableSlots(interviewId: $id, timeZone: $tz) { days { date slots { start end } } warning } }`;
  const UPDATE_ME = `mutation SaveZone($tz: String!) {
    updateMe(input: { timeZone: $tz }) { user { timeZone } errors { code message field } } }`;
  const BOOK = `mutation Book($input: BookInterviewInput!) { bookInterview(input: $input) {
    interview { ${INTERVIEW_FIELDS} } errors { code message field } } }`;
  const ASK = `mutation Ask($input: AlternativeTimesInput!) { requestAlternativeTimes(input: $input) {
    interview { ${INTERVIEW_FIELDS} } errors { code message field } } }`;
  const CANCEL = `mutation Cancel($input: CancelInterviewInput!) { cancelInterview(input: $input) {
    interview { ${INTERVIEW_FIELDS} } errors { code message field } } }`;
  const MOVE_OPTIONS = `query MoveOptions($id: ID!, $tz: String!) {
    moveOptions(interviewId: $id, timeZone: $tz) { days { date slots { start end } } } }`;
  const MOVE = `mutation Move($input: MoveBookingInput!) { moveBooking(input: $input) {
    interview { ${INTERVIEW_FIELDS} } errors { code message field } } }`;

  const state = {
    access: null,
    interview: null,
    zone: browserZone(),
    savedZone: null,
    days: [],
    warning: null,
    month: null, // [year, monthIndex]
    date: null, // "YYYY-MM-DD", the candidate's local date
    slot: null, // ISO start
    step: "choose", // choose | confirm
    notice: null, // { kind: "alert" | "warning" | "success", text }
    cancelling: false,
    moving: false,
    moveDays: [], // the other free slots of the request, for moving the booking
    asking: false,
    busy: false,
  };

  // ---------- talking to the API ----------
  async function gql(query, variables) {
    const response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Roundtable-Link": TOKEN },
      body: JSON.stringify({ query, variables: variables || {} }),
      credentials: "omit",
    });
    const body = await response.json();
    if (body.errors && body.errors.length) {
      const error = new Error(body.errors[0].message);
      error.code = (body.errors[0].extensions || {}).code;
      throw error;
    }
    return body.data;
  }

  // ---------- time helpers ----------
  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    } catch (_) {
      return "UTC";
    }
  }
  function zones() {
    let list = [];
    try {
      list = Intl.supportedValuesOf("timeZone");
    } catch (_) {
      list = [];
    }
    const all = new Set(list);
    ["UTC", state.zone, state.savedZone].forEach((z) => z && all.add(z));
    return Array.from(all).sort();
  }
  function fmt(iso, zone, options) {
    return new Intl.DateTimeFormat("en-GB", { timeZone: zone, ...options }).format(new Date(iso));
  }
  const time = (iso, zone) => fmt(iso, zone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const longDate = (iso, zone) =>
    fmt(iso, zone, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  // A calendar date "YYYY-MM-DD" (already local to the chosen zone), shown as itself.
  const dayLabel = (date) => longDate(`${date}T12:00:00Z`, "UTC");
  const span = (start, end, zone) =>
    `${longDate(start, zone)}, ${time(start, zone)} – ${time(end, zone)} (${zone})`;

  // ---------- building the DOM ----------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function focusLater(id) {
    requestAnimationFrame(() => {
      const node = document.getElementById(id);
      if (node) node.focus();
    });
  }

  function header() {
    const i = state.interview;
    const project = i.proposal.project;
    return h(
      "header",
      {},
      h("p", { class: "eyebrow" }, project.organization.name),
      h("h1", { id: "title", tabindex: "-1" }, project.title),
      h("p", { class: "meta" }, `Interview round ${i.round} · ${i.durationMinutes} minutes`),
    );
  }

  function noticeBox() {
    if (!state.notice) return null;
    const role = state.notice.kind === "success" ? "status" : "alert";
    return h("div", { class: state.notice.kind, role, id: "notice", tabindex: "-1" }, state.notice.text);
  }

  function contact() {
    const manager = state.interview.proposal.project.accountManager;
    return h(
      "p",
      { class: "contact" },
      `Questions? Contact your account manager, ${manager.name}, at `,
      h("a", { href: `mailto:${manager.email}` }, manager.email),
      ".",
    );
  }

  function render() {
    const i = state.interview;
    const parts = [header(), noticeBox()];
    const candidate = state.access.scope === "CANDIDATE";
    if (i.status === "CANCELLED") parts.push(cancelledView());
    else if (i.status === "BOOKED") parts.push(bookedView(candidate));
    else if (!candidate) parts.push(pendingForViewer());
    else if (state.step === "confirm") parts.push(confirmView());
    else parts.push(chooseView());
    parts.push(contact());
    app.replaceChildren(...parts.filter(Boolean));
  }

  // ---------- candidate: choose a zone, a date and a time ----------
  function chooseView() {
    const wrap = h("div", {});
    if (state.interview.alternativeTimesRequested && !state.notice) {
      wrap.append(
        h(
          "div",
          { class: "success", role: "status" },
          "You asked for other times. Your account manager will be in touch; you can still " +
            "book one of the times below.",
        ),
      );
    }
    wrap.append(
      h(
        "section",
        { "aria-labelledby": "step-zone" },
        h("h2", { id: "step-zone" }, "1. Your time zone"),
        h("label", { for: "zone" }, "Time zone"),
        h(
          "select",
          { id: "zone", "aria-describedby": "zone-hint", onchange: onZoneChange },
          zones().map((z) => h("option", { value: z, selected: z === state.zone }, z.replace(/_/g, " "))),
        ),
        h(
          "p",
          { class: "hint", id: "zone-hint" },
          "Times are shown in this zone. It is saved to your profile, so emails and " +
            "invitations use it too.",
        ),
      ),
    );
    if (state.warning) {
      wrap.append(h("div", { class: "warning", role: "alert", id: "slots-warning" }, state.warning));
    }
    wrap.append(dateSection(), timeSection(), askSection());
    return wrap;
  }

  function dateSection() {
    const section = h(
      "section",
      { "aria-labelledby": "step-date" },
      h("h2", { id: "step-date" }, "2. Choose a date"),
    );
    if (!state.days.length) {
      section.append(h("p", { class: "muted" }, "No times are available right now."));
      return section;
    }
    const [year, month] = state.month;
    const first = state.days[0].date;
    const last = state.days[state.days.length - 1].date;
    const key = (y, m) => y * 12 + m;
    const canBack = key(year, month) > key(+first.slice(0, 4), +first.slice(5, 7) - 1);
    const canNext = key(year, month) < key(+last.slice(0, 4), +last.slice(5, 7) - 1);
    const title = fmt(Date.UTC(year, month, 1), "UTC", { month: "long", year: "numeric" });
    section.append(
      h(
        "div",
        { class: "cal-head" },
        h("button", { type: "button", "aria-label": "Previous month", disabled: !canBack, onclick: () => moveMonth(-1) }, "‹"),
        h("h3", { id: "month-label", "aria-live": "polite" }, title),
        h("button", { type: "button", "aria-label": "Next month", disabled: !canNext, onclick: () => moveMonth(1) }, "›"),
      ),
    );
    section.append(monthTable(year, month));
    section.append(h("p", { class: "hint" }, "Highlighted dates have times available."));
    return section;
  }

  function monthTable(year, month) {
    const byDate = new Map(state.days.map((d) => [d.date, d.slots.length]));
    const head = h(
      "tr",
      {},
      ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"].map((d, n) =>
        h("th", { scope: "col", abbr: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][n] }, d),
      ),
    );
    const body = h("tbody", {});
    const offset = (new Date(Date.UTC(year, month, 1)).getUTCDay() + 6) % 7; // Monday first
    const length = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    let row = h("tr", {});
    for (let n = 0; n < offset; n++) row.append(h("td", {}));
    for (let day = 1; day <= length; day++) {
      const date = `${year}-${String(month + 1).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
      const count = byDate.get(date) || 0;
      const label = `${dayLabel(date)}, ${count ? `${count} time${count > 1 ? "s" : ""} available` : "no times"}`;
      row.append(
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: count ? "available" : "",
              disabled: !count,
              "aria-label": label,
              "aria-pressed": count ? String(state.date === date) : false,
              "data-date": date,
              onclick: () => chooseDate(date),
            },
            String(day),
          ),
        ),
      );
      if ((offset + day) % 7 === 0) {
        body.append(row);
        row = h("tr", {});
      }
    }
    if (row.children.length) body.append(row);
    return h("table", { class: "calendar", "aria-labelledby": "month-label" }, h("thead", {}, head), body);
  }

  function timeSection() {
    const section = h(
      "section",
      { "aria-labelledby": "step-time" },
      h("h2", { id: "step-time" }, "3. Choose a time"),
    );
    const day = state.days.find((d) => d.date === state.date);
    if (!day) {
      section.append(h("p", { class: "muted" }, "Choose a highlighted date to see its times."));
      return section;
    }
    section.append(
      h(
        "fieldset",
        {},
        h("legend", { id: "slots-legend", tabindex: "-1" }, `Times on ${dayLabel(day.date)} (${state.zone})`),
        h(
          "div",
          { class: "slots" },
          day.slots.map((s) =>
            h(
              "label",
              { class: "slot" },
              h("input", {
                type: "radio",
                name: "slot",
                value: s.start,
                checked: state.slot === s.start,
                onchange: () => {
                  state.slot = s.start;
                  document.getElementById("send").disabled = false;
                },
              }),
              `${time(s.start, state.zone)} – ${time(s.end, state.zone)}`,
            ),
          ),
        ),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", id: "send", disabled: !state.slot, onclick: toConfirm }, "Send Time"),
      ),
    );
    return section;
  }

  function askSection() {
    const section = h("section", { class: "alt" });
    section.append(
      h(
        "label",
        { class: "check", id: "alt-label" },
        h("input", {
          type: "checkbox",
          id: "none-works",
          checked: state.asking,
          onchange: (event) => {
            state.asking = event.target.checked;
            render();
            if (state.asking) focusLater("alt-message");
          },
        }),
        "I did not find a date and time that works for me",
      ),
    );
    if (state.asking) {
      section.append(
        h("label", { for: "alt-message" }, "Message to your account manager (optional)"),
        h("textarea", { id: "alt-message", maxlength: "2000", "aria-describedby": "alt-hint" }),
        h("p", { class: "hint", id: "alt-hint" }, "Say which days or times would suit you."),
        h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "send-message", onclick: askForOtherTimes }, "Send message")),
      );
    }
    return section;
  }

  function confirmView() {
    const day = state.days.find((d) => d.date === state.date);
    const slot = day && day.slots.find((s) => s.start === state.slot);
    return h(
      "section",
      { "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title", tabindex: "-1" }, "Confirm your interview time"),
      h("p", { class: "choice" }, slot ? span(slot.start, slot.end, state.zone) : ""),
      h("p", {}, "Booking is immediate: everyone taking part receives an invitation."),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", id: "confirm", disabled: state.busy, onclick: book }, "Confirm and book"),
        h("button", { type: "button", id: "back", onclick: () => { state.step = "choose"; render(); focusLater("step-time"); } }, "Choose another time"),
      ),
    );
  }

  // ---------- after booking ----------
  function bookedView(candidate) {
    const i = state.interview;
    const zone = state.zone;
    const past = new Date(i.bookedEnd) < new Date();
    const section = h(
      "section",
      { "aria-labelledby": "booked-title" },
      h(
        "h2",
        { id: "booked-title", tabindex: "-1" },
        past ? "This interview has taken place" : candidate ? "Your interview is booked" : "The interview is booked",
      ),
      h(
        "dl",
        { class: "details" },
        h("dt", {}, "When"),
        h("dd", { id: "booked-when" }, span(i.bookedStart, i.bookedEnd, zone)),
        h("dt", {}, "Where"),
        h(
          "dd",
          {},
          i.conference
            ? [h("a", { href: i.conference.url, id: "join", rel: "noopener noreferrer", target: "_blank" }, "Join the interview"),
               h("br", {}), h("span", { class: "hint", id: "conference-url" }, i.conference.url)]
            : "The meeting link will follow by email.",
        ),
      ),
    );
    if (!candidate || past) return section;
    section.append(h("p", { class: "hint" }, "An invitation was sent by email; it carries the same link."));
    if (state.moving) {
      section.append(moveSection());
      return section;
    }
    if (!state.cancelling) {
      section.append(
        h("div", { class: "actions" },
          h("button", { type: "button", id: "move-open", onclick: openMove }, "Move to another time"),
          h("button", { type: "button", id: "cancel-open", onclick: () => { state.cancelling = true; render(); focusLater("reason"); } }, "Cancel interview")),
      );
      return section;
    }
    section.append(
      h("h3", {}, "Cancel this interview"),
      h("label", { for: "reason" }, "Reason (the hiring team will read it)"),
      h("textarea", { id: "reason", maxlength: "2000" }),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "danger", id: "cancel-confirm", disabled: state.busy, onclick: cancel }, "Cancel the interview"),
        h("button", { type: "button", id: "cancel-keep", onclick: () => { state.cancelling = false; render(); focusLater("cancel-open"); } }, "Keep it"),
      ),
    );
    return section;
  }

  function moveSection() {
    const zone = state.zone;
    const part = h("div", { id: "move" }, h("h3", { id: "move-title", tabindex: "-1" }, `Choose a new time (${zone})`));
    if (!state.moveDays.length) {
      part.append(h("p", {}, "No other time of this request is free. Keep this one, cancel it, or contact your account manager."));
    }
    for (const day of state.moveDays) {
      part.append(
        h("h4", {}, dayLabel(day.date)),
        h("div", { class: "actions" },
          ...day.slots.map((s) =>
            h("button", { type: "button", class: "move-slot", "data-start": s.start, onclick: () => moveTo(s.start) },
              `${time(s.start, zone)} \u2013 ${time(s.end, zone)}`))),
      );
    }
    part.append(
      h("div", { class: "actions" },
        h("button", { type: "button", id: "move-keep", onclick: () => { state.moving = false; render(); focusLater("move-open"); } }, "Keep the current time")),
    );
    return part;
  }

  function cancelledView() {
    return h(
      "section",
      { "aria-labelledby": "cancelled-title" },
      h("h2", { id: "cancelled-title", tabindex: "-1" }, "This interview was cancelled"),
      h("p", {}, "Everyone taking part was told. Your account manager will be in touch to find another time if one is needed."),
    );
  }

  function pendingForViewer() {
    const i = state.interview;
    const zone = state.zone;
    return h(
      "section",
      { "aria-labelledby": "pending-title" },
      h("h2", { id: "pending-title" }, `Waiting for ${i.proposal.candidate.name} to choose a time`),
      i.alternativeTimesRequested ? h("p", { class: "warning" }, "The candidate asked for other times.") : null,
      h("p", {}, `Times offered, in your time zone (${zone}):`),
      h("ul", { class: "windows" }, i.windows.map((w) => h("li", {}, span(w.start, w.end, zone)))),
    );
  }

  // ---------- actions ----------
  async function loadSlots() {
    const data = await gql(SLOTS, { id: state.interview.id, tz: state.zone });
    state.days = data.availableSlots.days;
    state.warning = data.availableSlots.warning;
    if (state.date && !state.days.some((d) => d.date === state.date)) state.date = null;
    if (state.slot && !state.days.some((d) => d.slots.some((s) => s.start === state.slot))) state.slot = null;
    const shown = state.date || (state.days[0] && state.days[0].date);
    state.month = shown ? [+shown.slice(0, 4), +shown.slice(5, 7) - 1] : null;
  }

  async function saveZone() {
    if (state.zone === state.savedZone) return;
    const data = await gql(UPDATE_ME, { tz: state.zone });
    const result = data.updateMe;
    if (result.errors.length) throw new Error(result.errors[0].message);
    state.savedZone = result.user.timeZone;
  }

  async function run(work) {
    state.busy = true;
    try {
      await work();
    } catch (error) {
      state.notice = { kind: "alert", text: `Something went wrong: ${error.message}` };
      render();
      focusLater("notice");
    } finally {
      state.busy = false;
    }
  }

  function onZoneChange(event) {
    state.zone = event.target.value;
    state.date = null;
    state.slot = null;
    run(async () => {
      await saveZone();
      await loadSlots();
      state.notice = { kind: "success", text: `Times are now shown in ${state.zone}; it was saved to your profile.` };
      render();
      focusLater("zone");
    });
  }

  function moveMonth(delta) {
    const [year, month] = state.month;
    const next = new Date(Date.UTC(year, month + delta, 1));
    state.month = [next.getUTCFullYear(), next.getUTCMonth()];
    render();
    focusLater("month-label");
  }

  function chooseDate(date) {
    state.date = date;
    state.slot = null;
    state.notice = null;
    render();
    focusLater("slots-legend");
  }

  function toConfirm() {
    if (!state.slot) return;
    state.step = "confirm";
    state.notice = null;
    render();
    focusLater("confirm-title");
  }

  function book() {
    run(async () => {
      await saveZone();
      const data = await gql(BOOK, {
        input: { interviewId: state.interview.id, start: state.slot, timeZone: state.zone },
      });
      const result = data.bookInterview;
      if (result.errors.length) {
        const error = result.errors[0];
        state.step = "choose";
        state.notice = {
          kind: "warning",
          text: error.code === "SLOT_UNAVAILABLE"
            ? "That time is no longer available. Please choose another one."
            : error.message,
        };
        await loadSlots();
        render();
        focusLater("notice");
        return;
      }
      state.interview = { ...state.interview, ...result.interview };
      state.notice = null; // the heading says it, and takes the focus
      render();
      focusLater("booked-title");
    });
  }

  function askForOtherTimes() {
    const message = document.getElementById("alt-message").value;
    run(async () => {
      await saveZone();
      const data = await gql(ASK, { input: { interviewId: state.interview.id, message } });
      const result = data.requestAlternativeTimes;
      if (result.errors.length) throw new Error(result.errors[0].message);
      state.interview = { ...state.interview, ...result.interview };
      state.asking = false;
      const manager = state.interview.proposal.project.accountManager;
      state.notice = {
        kind: "success",
        text: `Your message was sent. ${manager.name}, your account manager, will help you find a time.`,
      };
      render();
      focusLater("notice");
    });
  }

  function cancel() {
    const reason = document.getElementById("reason").value;
    run(async () => {
      const data = await gql(CANCEL, { input: { interviewId: state.interview.id, reason } });
      const result = data.cancelInterview;
      if (result.errors.length) throw new Error(result.errors[0].message);
      state.interview = { ...state.interview, ...result.interview };
      state.cancelling = false;
      state.notice = null;
      render();
      focusLater("cancelled-title");
    });
  }

  async function loadMoveOptions() {
    const data = await gql(MOVE_OPTIONS, { id: state.interview.id, tz: state.zone });
    state.moveDays = data.moveOptions.days;
  }

  function openMove() {
    run(async () => {
      try {
        await loadMoveOptions();
      } catch (error) {
        if (error.code !== "INVALID_STATE") throw error;
        state.notice = { kind: "warning", text: error.message };
        render();
        focusLater("notice");
        return;
      }
      state.moving = true;
      state.notice = null;
      render();
      focusLater("move-title");
    });
  }

  function moveTo(start) {
    if (state.busy) return; // one move at a time
    run(async () => {
      await saveZone();
      const data = await gql(MOVE, {
        input: { interviewId: state.interview.id, start, timeZone: state.zone },
      });
      const result = data.moveBooking;
      if (result.errors.length) {
        const error = result.errors[0];
        if (error.code !== "SLOT_UNAVAILABLE") throw new Error(error.message);
        await loadMoveOptions();
        state.notice = { kind: "warning", text: "That time is no longer available; your interview keeps its time. Choose another one." };
        render();
        focusLater("notice");
        return;
      }
      state.interview = { ...state.interview, ...result.interview };
      state.moving = false;
      state.notice = { kind: "success", text: "Your interview was moved. Everyone taking part was told, and the invitation was updated." };
      render();
      focusLater("notice");
    });
  }

  // ---------- start ----------
  async function start() {
    try {
      const data = await gql(ACCESS);
      if (!data.linkAccess) throw new Error("this link cannot be read");
      state.access = data.linkAccess;
      state.interview = data.linkAccess.interview;
      state.savedZone = data.linkAccess.user ? data.linkAccess.user.timeZone : null;
      if (state.access.scope === "CANDIDATE" && state.interview.status === "PENDING") {
        try {
          await loadSlots();
        } catch (error) {
          // A zone this server does not know: fall back to the one saved in the profile.
          if (!state.savedZone || state.savedZone === state.zone) throw error;
          state.zone = state.savedZone;
          await loadSlots();
        }
      }
      render();
    } catch (error) {
      if (error.code === "UNAUTHENTICATED") {
        // Revoked or expired while the page was open: the server's page says what happened.
        app.replaceChildren(
          h("h1", { id: "title" }, "This link no longer works"),
          h("p", {}, error.message),
          h("p", {}, h("a", { href: window.location.href }, "Reload this page to see why")),
        );
        return;
      }
      app.replaceChildren(
        h("h1", { id: "title" }, "Your interview"),
        h("div", { class: "alert", role: "alert" }, `This page could not load: ${error.message}. Please try again.`),
      );
    }
  }

  start();
})();
