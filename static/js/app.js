// Lockdev page behaviour. No inline scripts exist (the CSP forbids them); this file is
// loaded with the page's nonce and only wires up behaviour the server's HTML asks for.
(function () {
  "use strict";

  function toastRegion() {
    return document.getElementById("toasts");
  }

  // On a phone the main navigation folds behind a "Menu" button (without script it stays
  // open, wrapped: nothing is ever out of reach).
  var menuButton = document.querySelector("[data-menu-button]");
  var menu = document.getElementById("site-nav");
  if (menuButton && menu) {
    document.documentElement.classList.add("has-menu");
    menuButton.hidden = false;
    menuButton.addEventListener("click", function () {
      var open = menuButton.getAttribute("aria-expanded") !== "true";
      menuButton.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("site-nav--open", open);
    });
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

// Drafts that save themselves (forms marked data-autosave, the note form): htmx sends the
// form two seconds after the last keystroke and the server answers with the status line.
// When the connection is lost the text stays on the page, the status says so, and the
// save is tried again every few seconds and as soon as the browser is back online; leaving
// the page with unsaved text asks first. Nothing is written to browser storage: a draft
// is patient data and lives only on the page and on the server.
(function () {
  "use strict";
  var RETRY_MS = 5000;

  function autosaveForm(elt) {
    return elt && elt.closest ? elt.closest("form[data-autosave]") : null;
  }
  function setStatus(form, text) {
    var status = form.querySelector("#draft-status");
    if (status) status.textContent = text;
  }
  function retryLater(form) {
    if (form._lockdevRetry) return;
    form._lockdevRetry = setTimeout(function () {
      form._lockdevRetry = null;
      if (form.isConnected && form._lockdevDirty && window.htmx) window.htmx.trigger(form, "lockdev:retry");
    }, RETRY_MS);
  }

  document.addEventListener("input", function (event) {
    var form = autosaveForm(event.target);
    if (!form) return;
    form._lockdevDirty = true;
    form._lockdevEdits = (form._lockdevEdits || 0) + 1;
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.target;
    if (elt.matches && elt.matches("form[data-autosave]")) {
      // Signing carries the text itself; a save still waiting for its delay would only
      // reach a note that is already signed.
      if (elt._lockdevSigning || !elt.isConnected) {
        event.preventDefault();
        return;
      }
      elt._lockdevSent = elt._lockdevEdits || 0;
      return;
    }
    var form = autosaveForm(elt);
    if (form) form._lockdevSigning = true;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (!(form.matches && form.matches("form[data-autosave]"))) {
      // A sign request that did not go through leaves the form as it was: saving resumes.
      var signing = autosaveForm(form);
      if (signing && !(event.detail && event.detail.successful)) signing._lockdevSigning = false;
      return;
    }
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr.status === 200) {
      // Saved, unless more was typed while the save was on its way.
      if ((form._lockdevEdits || 0) === form._lockdevSent) form._lockdevDirty = false;
      else window.htmx.trigger(form, "lockdev:retry");
    } else if (!xhr || xhr.status === 0 || xhr.status >= 500) {
      setStatus(form, "Not saved: Lockdev cannot be reached. Your text stays on this page and is saved when the connection is back.");
      retryLater(form);
    }
  });
  // The generic "cannot reach Lockdev" toast is not needed for a draft: its status line says it.
  document.addEventListener("htmx:sendError", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-autosave]")) {
      setStatus(form, "Not saved: no connection. Your text stays on this page and is saved when the connection is back.");
      retryLater(form);
    }
  });
  window.addEventListener("online", function () {
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      if (form._lockdevDirty && window.htmx) window.htmx.trigger(form, "lockdev:retry");
    });
  });
  window.addEventListener("beforeunload", function (event) {
    var unsaved = Array.prototype.some.call(document.querySelectorAll("form[data-autosave]"), function (form) {
      return form._lockdevDirty;
    });
    if (unsaved) event.preventDefault();
  });
})();

// One request per press: a form without htmx (a plain post and a new page) ignores a
// second submit while the first is on its way, and shows its buttons as busy. htmx forms
// declare hx-disabled-elt themselves. Buttons come back if the page is shown again from the
// browser's back-forward cache.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("hx-post") || form.method.toLowerCase() !== "post") return;
    if (event.defaultPrevented) return;
    if (form.dataset.sending === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "true";
    // After this event, so the pressed button's name and value are still sent.
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      delete form.dataset.sending;
      form.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
    });
  });
})();

// A form refused for what one field holds (a control or text-direction character; see
// web/form_input.rs): the server names the field in an HX-Trigger event, and its message
// goes beside that field, as the server's own field errors do. The form was not swapped,
// so what was typed is still there to correct. Text only (textContent).
(function () {
  "use strict";
  document.addEventListener("lockdev:field-refused", function (event) {
    var detail = event.detail || {};
    var origin = event.target;
    if (typeof detail.field !== "string" || !origin || !origin.closest) return;
    var form = origin.closest("form");
    if (!form) return;
    var field = null;
    form.querySelectorAll("[name]").forEach(function (candidate) {
      if (!field && candidate.name === detail.field && candidate.type !== "hidden") field = candidate;
    });
    if (!field) return;
    var id = (field.id || "field-" + detail.field) + "-refused";
    var note = document.getElementById(id);
    if (!note) {
      note = document.createElement("p");
      note.className = "field__error";
      note.id = id;
      field.insertAdjacentElement("afterend", note);
    }
    note.textContent = String(detail.message || "");
    field.setAttribute("aria-invalid", "true");
    var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(id) < 0) {
      described.push(id);
      field.setAttribute("aria-describedby", described.join(" "));
    }
    field.focus();
  });
})();
