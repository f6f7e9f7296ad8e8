// Lockdev page behaviour. No inline scripts exist (the CSP forbids them); this file is
// loaded with the page's nonce and only wires up behaviour the server's HTML asks for.
(function () {
  "use strict";

  function toastRegion() {
    return document.getElementById("toasts");
  }

  // Close buttons on toasts, including toasts swapped in later by htmx.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss-toast]");
    if (button) {
      var toast = button.closest(".toast");
      if (toast) toast.remove();
    }
  });

  // When the server cannot be reached at all there is no response to show, so say so
  // here. Text only (textContent): nothing from the network is ever parsed as HTML.
  function showLocalToast(title, message) {
    var region = toastRegion();
    if (!region) return;
    var toast = document.createElement("div");
    toast.className = "toast toast--error";
    toast.setAttribute("role", "alert");
    var body = document.createElement("div");
    body.className = "toast__body";
    var heading = document.createElement("p");
    heading.className = "toast__title";
    heading.textContent = title;
    var text = document.createElement("p");
    text.className = "toast__message";
    text.textContent = message;
    body.appendChild(heading);
    body.appendChild(text);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("data-dismiss-toast", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    toast.appendChild(body);
    toast.appendChild(close);
    region.appendChild(toast);
  }

  // Other scripts (passkeys.js) report problems through this event.
  document.addEventListener("lockdev:toast", function (event) {
    var detail = event.detail || {};
    showLocalToast(detail.title || "Something went wrong", detail.message || "");
  });

  document.addEventListener("htmx:sendError", function () {
    showLocalToast("Cannot reach Lockdev", "Check your connection and try again. Nothing was sent.");
  });
  document.addEventListener("htmx:timeout", function () {
    showLocalToast("No answer", "The server did not answer in time. Please try again.");
  });

  // Keep aria-busy honest while a request is in flight.
  document.addEventListener("htmx:beforeRequest", function (event) {
    event.target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    event.target.removeAttribute("aria-busy");
  });
})();

// Chart tabs load their section with htmx; keep the current tab marked for assistive
// technology (aria-current), and move focus to the new section.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "chart-section") return;
    var trigger = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (trigger && trigger.hasAttribute("data-tab")) {
      document.querySelectorAll("[data-tab]").forEach(function (tab) {
        if (tab === trigger) tab.setAttribute("aria-current", "page");
        else tab.removeAttribute("aria-current");
      });
      target.focus({ preventScroll: true });
    }
  });

  // Live schedule: the server names each appointment that changed in this clinic (from
  // any app process); the schedule then reloads itself through a normal request. Bursts
  // are folded into one reload. EventSource reconnects by itself after a drop.
  var live = document.querySelector("[data-live-schedule]");
  if (live && window.EventSource) {
    var source = new EventSource(live.getAttribute("data-live-schedule"));
    var pending = null;
    source.addEventListener("schedule", function () {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        var target = document.getElementById("schedule-live");
        if (!target || !window.htmx) return;
        // The reload address is one the server declares background: a change someone
        // else made is not this person's activity, so an open schedule does not keep an
        // idle session alive.
        window.htmx.ajax("GET", target.getAttribute("data-live-reload"), {
          target: "#schedule-live",
          select: "#schedule-live",
          swap: "outerHTML",
        });
      }, 300);
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }
})();
