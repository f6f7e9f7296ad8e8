// Passkey ceremonies: the only part of signing in that needs JavaScript. The server sends
// WebAuthn options as JSON (binary fields in base64url); this file turns them into what
// navigator.credentials expects, and the result back into JSON. No inline code, no eval.
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        // A refusal that names where to go (confirm it is you first) goes there.
        if (!response.ok && json.redirect) window.location.assign(json.redirect);
        if (!response.ok) throw new Error(json.error || "The request was refused.");
        return json;
      });
    });
  }

  // What went wrong, in a sentence: the browser's own errors name a specification, not
  // what the person can do; the server's refusals are sentences already.
  function plain(error, fallback) {
    switch (error && error.name) {
      case "NotAllowedError":
        return "The passkey request was cancelled or took too long. Try again when you are ready.";
      case "InvalidStateError":
        return "This device already holds a passkey for your account. Use it, or choose another device.";
      case "SecurityError":
        return "Passkeys cannot be used at this address.";
      case "NotSupportedError":
        return "This browser or device cannot use passkeys of this kind.";
      case "AbortError":
        return "The passkey request was stopped. Try again.";
      case "Error":
        return error.message || fallback;
      default:
        return fallback;
    }
  }

  function say(message) {
    document.dispatchEvent(new CustomEvent("lockdev:toast", { detail: { title: "Passkey", message: message } }));
  }

  function creationOptions(json) {
    var o = json.publicKey;
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: o };
  }

  function requestOptions(json) {
    var o = json.publicKey;
    o.challenge = toBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: o };
  }

  function registrationJson(credential) {
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: {
        attestationObject: toB64url(credential.response.attestationObject),
        clientDataJSON: toB64url(credential.response.clientDataJSON),
        transports: credential.response.getTransports ? credential.response.getTransports() : []
      }
    };
  }

  function assertionJson(credential) {
    var r = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      }
    };
  }

  function authenticate(startUrl, finishUrl) {
    return post(startUrl)
      .then(function (options) { return navigator.credentials.get(requestOptions(options)); })
      .then(function (credential) { return post(finishUrl, assertionJson(credential)); })
      .then(function (result) { window.location.assign(result.redirect || "/"); })
      .catch(function (error) { say(plain(error, "The passkey could not be used. Try again, or sign in another way.")); });
  }

  function register(nameInputId) {
    var input = nameInputId ? document.getElementById(nameInputId) : null;
    var name = input && input.value.trim() ? input.value.trim() : "Passkey";
    return post("/account/passkeys/start")
      .then(function (options) { return navigator.credentials.create(creationOptions(options)); })
      .then(function (credential) {
        return post("/account/passkeys/finish", { name: name, credential: registrationJson(credential) });
      })
      .then(function (result) { window.location.assign(result.redirect || "/account"); })
      .catch(function (error) { say(plain(error, "The passkey could not be created. Try again.")); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll("[data-passkey-sign-in]").forEach(function (button) {
      if (supported) button.hidden = false;
      button.addEventListener("click", function () { authenticate("/sign-in/passkey/start", "/sign-in/passkey/finish"); });
    });
    document.querySelectorAll("[data-passkey-second-factor]").forEach(function (button) {
      if (!supported) button.disabled = true;
      button.addEventListener("click", function () { authenticate("/mfa/passkey/start", "/mfa/passkey/finish"); });
    });
    document.querySelectorAll("[data-passkey-register]").forEach(function (button) {
      if (!supported) button.disabled = true;
      button.addEventListener("click", function () { register(button.getAttribute("data-name-input")); });
    });
  });
})();
