// The board's one script: live updates. It follows /live (the marketplace's events, as the
// signed-in viewer may see them) and, when an event concerns what the page shows, fetches
// the page again and puts its new content in place: no reload. While the viewer has
// typed into a form on the page, nothing is replaced; a notice offers the fresh page.
// Without this script (or without EventSource) every page still works: it is only late.
"use strict";
(() => {
  const main = document.querySelector("main[data-live]");
  if (!main || !("EventSource" in window)) {
    return;
  }
  const task = main.dataset.task || null;
  const kinds = (main.dataset.kinds || "").split(" ").filter(Boolean);
  const notice = document.getElementById("live-status");
  // At most one refresh a second, however busy the marketplace.
  const gapMs = 1000;
  let running = false;
  let wanted = false;
  let last = 0;

  // Whether the viewer has changed a control on the page since it was drawn.
  const edited = () =>
    Array.from(main.querySelectorAll("input, textarea, select")).some((control) => {
      if (control.type === "hidden" || control.type === "submit") {
        return false;
      }
      if (control.type === "checkbox" || control.type === "radio") {
        return control.checked !== control.defaultChecked;
      }
      if (control.tagName === "SELECT") {
        const options = Array.from(control.options);
        const initial = Math.max(0, options.findIndex((option) => option.defaultSelected));
        return control.selectedIndex !== initial;
      }
      return control.value !== control.defaultValue;
    });

  const say = (text, offerRefresh) => {
    if (!notice) {
      return;
    }
    notice.replaceChildren(document.createTextNode(text));
    if (offerRefresh) {
      const link = document.createElement("a");
      link.href = location.href;
      link.textContent = "Show the changes";
      notice.append(" ", link);
    }
  };

  const refresh = async () => {
    if (running) {
      wanted = true;
      return;
    }
    const wait = last + gapMs - Date.now();
    if (wait > 0) {
      running = true;
      setTimeout(() => {
        running = false;
        refresh();
      }, wait);
      return;
    }
    running = true;
    last = Date.now();
    try {
      if (edited()) {
        say("This page has changed since you opened it.", true);
        return;
      }
      const response = await fetch(location.href, {
        headers: { Accept: "text/html" },
        credentials: "same-origin",
      });
      if (!response.ok) {
        return;
      }
      const fresh = new DOMParser()
        .parseFromString(await response.text(), "text/html")
        .querySelector("main[data-live]");
      if (!fresh) {
        return;
      }
      if (edited()) {
        say("This page has changed since you opened it.", true);
        return;
      }
      main.replaceChildren(...fresh.childNodes);
      say("Updated at " + new Date().toLocaleTimeString() + ".", false);
    } catch (_) {
      // The next event tries again.
    } finally {
      running = false;
      if (wanted) {
        wanted = false;
        refresh();
      }
    }
  };

  // The last event heard: a stream opened again resumes after it.
  let lastId = main.dataset.since || "0";
  const heard = (message) => {
    if (message.lastEventId) {
      lastId = message.lastEventId;
    }
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    if (task === null || event.task_id === task) {
      refresh();
    }
  };

  // After a dropped connection the browser reconnects with Last-Event-ID by itself; a
  // stream closed here is opened again from `lastId`. Either way the events missed come
  // first.
  let source = null;
  const connect = () => {
    if (source !== null) {
      return;
    }
    source = new EventSource("/live?after=" + encodeURIComponent(lastId));
    for (const kind of kinds) {
      source.addEventListener(kind, heard);
    }
  };
  const disconnect = () => {
    if (source !== null) {
      source.close();
      source = null;
    }
  };
  // A browser opens only a few connections to one server over HTTP/1.1, so a page out of
  // sight (another tab, or kept in the back-forward cache) holds none.
  document.addEventListener("visibilitychange", () => (document.hidden ? disconnect() : connect()));
  window.addEventListener("pagehide", disconnect);
  window.addEventListener("pageshow", () => {
    if (!document.hidden) {
      connect();
    }
  });
  if (!document.hidden) {
    connect();
  }
})();
