/*
 * ccseg chat widget: a popup that asks the chat service about the page the visitor is reading.
 *
 * Embed with the snippet from `ccseg chatbot embed-snippet https://CHAT-HOST` (a versioned URL
 * with its Subresource Integrity hash). Options, as attributes of the script tag:
 *   data-endpoint="https://CHAT-HOST"   when the API lives elsewhere than the script;
 *   data-keep-query="true"              also send the URL's query string and fragment (off by
 *                                       default: they often hold tokens, ids and search terms);
 *   data-private-selector="CSS"         elements never to send, on top of [data-chat-private].
 * The page's address, title and visible text are sent with each question; the answer streams in
 * as server-sent events and is rendered as text only: model output never reaches innerHTML.
 * The widget first gets a short-lived session token (POST /api/session) and sends it as
 * `Authorization: Bearer`; the service refuses chat requests without one.
 */
(function () {
  "use strict";

  var LIMITS = { message: 2000, title: 300, text: 40000, url: 2048 };
  var SESSION_KEY = "ccseg-chat-session";
  var REQUEST_TIMEOUT_MS = 35000;
  var TOKEN_RENEW_MARGIN_MS = 30000;
  var PRIVATE_SELECTOR = "[data-chat-private]";
  var script = document.currentScript;
  if (!script || !script.src) {
    return;
  }
  var endpoint = (script.dataset.endpoint || new URL(script.src).origin).replace(/\/+$/, "");
  var cssUrl = new URL("chat-widget.css", script.src).href;
  var keepQuery = script.dataset.keepQuery === "true";
  var privateSelector = script.dataset.privateSelector
    ? PRIVATE_SELECTOR + ", " + script.dataset.privateSelector
    : PRIVATE_SELECTOR;

  // Characters the service refuses: control characters (except line breaks and tabs) and
  // unpaired UTF-16 surrogates, which a cut in the middle of an emoji would leave behind.
  var CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
  var LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/g;

  function clean(value, limit, keepLines) {
    var text = String(value || "").replace(CONTROL, " ");
    if (!keepLines) {
      text = text.replace(/[\r\n\t]+/g, " ");
    }
    text = text.slice(0, limit);
    return text.replace(LONE_SURROGATE, function (match) {
      return match.length > 1 ? match.charAt(0) : "";
    });
  }

  function randomId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  var fallbackSessionId = null;

  function storedSessionId() {
    try {
      return window.sessionStorage.getItem(SESSION_KEY);
    } catch (error) {
      return fallbackSessionId;
    }
  }

  function storeSessionId(id) {
    fallbackSessionId = id;
    try {
      window.sessionStorage.setItem(SESSION_KEY, id);
    } catch (error) {
      // Storage blocked (privacy mode): the id lives as long as the page.
    }
  }

  function sessionId() {
    var id = storedSessionId();
    if (!id) {
      id = randomId();
      storeSessionId(id);
    }
    return id;
  }

  var SKIPPED_TAGS = { SCRIPT: 1, STYLE: 1, NOSCRIPT: 1, TEMPLATE: 1 };

  // innerText of whole subtrees (it follows the layout, so hidden text stays out), descending
  // only into elements that contain something private, so private elements are never read.
  function collectText(parent, host, parts) {
    var nodes = parent.childNodes;
    for (var i = 0; i < nodes.length; i += 1) {
      var node = nodes[i];
      if (node.nodeType === Node.TEXT_NODE) {
        if (node.textContent.trim()) {
          parts.push(node.textContent);
        }
      } else if (
        node.nodeType === Node.ELEMENT_NODE &&
        node !== host &&
        !SKIPPED_TAGS[node.tagName] &&
        !node.matches(privateSelector)
      ) {
        if (node.querySelector(privateSelector)) {
          if (node.getClientRects().length) {
            collectText(node, host, parts);
          }
        } else {
          parts.push(node.innerText || "");
        }
      }
    }
  }

  function visibleText(host) {
    var parts = [];
    try {
      if (document.body) {
        collectText(document.body, host, parts);
      }
    } catch (error) {
      // A site's data-private-selector that is not valid CSS: send no text rather than risk it.
      return "";
    }
    return parts.join("\n");
  }

  function pageAddress() {
    var location = window.location;
    if (keepQuery) {
      return location.href;
    }
    return location.origin + location.pathname;
  }

  function pageContext(host) {
    return {
      url: clean(pageAddress(), LIMITS.url, false),
      title: clean(document.title, LIMITS.title, false),
      text: clean(visibleText(host), LIMITS.text, true),
    };
  }

  var grant = null;

  // A token for this session and this page's origin; renewed shortly before it expires.
  async function sessionToken(renew) {
    if (!renew && grant && Date.now() < grant.expiresAt - TOKEN_RENEW_MARGIN_MS) {
      return grant.token;
    }
    var response = await fetch(endpoint + "/api/session", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: sessionId() }),
    });
    if (!response.ok) {
      throw response;
    }
    var issued = await response.json();
    storeSessionId(issued.session_id);
    grant = { token: issued.token, expiresAt: Date.now() + issued.expires_in * 1000 };
    return grant.token;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function parseEvent(raw) {
    var event = { type: "message", data: "" };
    raw.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) {
        event.type = line.slice(6).trim();
      } else if (line.indexOf("data:") === 0) {
        event.data += line.slice(5).trim();
      }
    });
    try {
      event.payload = JSON.parse(event.data);
    } catch (error) {
      event.payload = {};
    }
    return event;
  }

  function build() {
    var host = element("div", "ccseg-chat-host");
    host.setAttribute("data-ccseg-chat", "");
    var root = host.attachShadow({ mode: "open" });
    var stylesheet = element("link");
    stylesheet.rel = "stylesheet";
    stylesheet.href = cssUrl;
    root.appendChild(stylesheet);

    var launcher = element("button", "launcher", "Ask about this page");
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("data-testid", "chat-launcher");

    var panel = element("section", "panel");
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Page assistant");
    var header = element("header", "header", "Page assistant");
    var close = element("button", "close", "\u00d7");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    header.appendChild(close);
    var log = element("div", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("data-testid", "chat-log");
    var form = element("form", "form");
    var input = element("textarea", "input");
    input.maxLength = LIMITS.message;
    input.rows = 2;
    input.placeholder = "Ask a question about this page";
    input.setAttribute("aria-label", "Your question");
    input.setAttribute("data-testid", "chat-input");
    var send = element("button", "send", "Send");
    send.type = "submit";
    send.setAttribute("data-testid", "chat-send");
    form.appendChild(input);
    form.appendChild(send);
    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(form);
    root.appendChild(launcher);
    root.appendChild(panel);

    function setOpen(open) {
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      if (open) {
        input.focus();
      }
    }

    function addBubble(kind, text) {
      var bubble = element("p", "bubble " + kind, text);
      log.appendChild(bubble);
      log.scrollTop = log.scrollHeight;
      return bubble;
    }

    function pause(seconds) {
      send.disabled = true;
      window.setTimeout(function () {
        send.disabled = false;
      }, Math.min(seconds, 60) * 1000);
    }

    async function readStream(response, bubble) {
      var reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) {
          return;
        }
        buffer += chunk.value;
        var end = buffer.indexOf("\n\n");
        while (end >= 0) {
          var event = parseEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event.type === "delta" && typeof event.payload.text === "string") {
            bubble.appendChild(document.createTextNode(event.payload.text));
            log.scrollTop = log.scrollHeight;
          } else if (event.type === "error") {
            bubble.classList.add("error");
            bubble.appendChild(
              document.createTextNode(" " + (event.payload.message || "The answer was cut short."))
            );
          } else if (event.type === "done") {
            bubble.classList.add("done");
          }
          end = buffer.indexOf("\n\n");
        }
      }
    }

    async function postQuestion(question, renew, signal) {
      var token = await sessionToken(renew);
      return fetch(endpoint + "/api/chat/stream", {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/event-stream",
          Authorization: "Bearer " + token,
        },
        body: JSON.stringify({
          message: question,
          page: pageContext(host),
          session_id: sessionId(),
        }),
        signal: signal,
      });
    }

    async function ask(question) {
      addBubble("user", question);
      var bubble = addBubble("assistant", "");
      bubble.setAttribute("data-testid", "chat-answer");
      var controller = new AbortController();
      var timer = window.setTimeout(function () {
        controller.abort();
      }, REQUEST_TIMEOUT_MS);
      var paused = false;
      send.disabled = true;
      try {
        var response;
        try {
          response = await postQuestion(question, false, controller.signal);
          if (response.status === 401) {
            // Expired or from a previous deployment's key: one fresh token, one more try.
            response = await postQuestion(question, true, controller.signal);
          }
        } catch (refused) {
          if (!(refused instanceof Response)) {
            throw refused;
          }
          response = refused; // the session endpoint said no (origin not allowed, too many)
        }
        if (response.ok) {
          await readStream(response, bubble);
        } else {
          var problem = {};
          try {
            problem = await response.json();
          } catch (error) {
            problem = {};
          }
          bubble.classList.add("error");
          bubble.textContent = problem.message || "The assistant is unavailable right now.";
          var retryAfter = parseInt(response.headers.get("Retry-After") || "0", 10);
          if (retryAfter > 0) {
            paused = true;
            pause(retryAfter);
          }
        }
      } catch (error) {
        bubble.classList.add("error");
        bubble.textContent = "The assistant could not be reached. Please try again.";
      } finally {
        window.clearTimeout(timer);
        bubble.classList.add("done");
        if (!paused) {
          send.disabled = false;
        }
      }
    }

    launcher.addEventListener("click", function () {
      setOpen(panel.hidden);
    });
    close.addEventListener("click", function () {
      setOpen(false);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var question = clean(input.value, LIMITS.message, true).trim();
      if (!question || send.disabled) {
        return;
      }
      input.value = "";
      ask(question);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    document.body.appendChild(host);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", build);
  } else {
    build();
  }
})();
