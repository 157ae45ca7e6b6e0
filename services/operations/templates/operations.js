// The operations page's script: asks the JSON API with the person's bearer token and
// keeps the tables up to date. Data is put in the page as text only (never as HTML);
// the plots are SVG drawn by the server, parsed as XML and kept only if made of the few
// drawing elements the server writes (no script, style, link or event handler).
// Every text shown comes translated from the page (#ops-texts, JSON): say(key, values).
// (Included in a Jinja template: keep Jinja's brace sequences out of this file.)
(function () {
  "use strict";
  var TOKEN_KEY = "grantflow.operations.token";
  var CALL_KEY = "grantflow.operations.call";
  var refreshMs = Number(document.body.dataset.refreshMs) || 5000;
  var token = null;
  var selected = null;   // proposal whose timeline is open
  var rendered = {};     // table id -> JSON of what it shows (re-render only on change)
  var busy = false;
  // the plots change with the call's events only and weigh more than the tables: asked
  // for at most every 15 s (and at once on a new call or "Refresh now")
  var PLOTS_EVERY_MS = Math.max(refreshMs, 15000);
  var plotsAskedAt = 0;

  function $(id) { return document.getElementById(id); }

  var TEXTS = JSON.parse($("ops-texts").textContent);
  function say(key, values) {
    return TEXTS[key].replace(/%\((\w+)\)s/g, function (_, name) { return String(values[name]); });
  }

  // ------------------------------------------------------------------ token
  function takeTokenFromFragment() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var fromLink = params.get("token");
    if (fromLink) {
      localStorage.setItem(TOKEN_KEY, fromLink);
      // drop the fragment so the token is not left in the address bar or history
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    token = localStorage.getItem(TOKEN_KEY);
  }

  function askForToken(message) {
    token = null;
    localStorage.removeItem(TOKEN_KEY);
    $("session").hidden = true;
    $("content").hidden = true;
    $("token-form").hidden = false;
    setStatus(message || say("ask_token"), Boolean(message));
    $("token-input").focus();
  }

  // ------------------------------------------------------------------ API
  function api(path, options) {
    options = options || {};
    var headers = { "Authorization": "Bearer " + token, "Accept": "application/json" };
    if (options.body) { headers["Content-Type"] = "application/json"; }
    return fetch(path, {
      method: options.method || "GET", body: options.body, headers: headers,
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer"
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) {
          var error = new Error((body && body.message) || response.statusText);
          error.status = response.status;
          throw error;
        }
        return body;
      });
    });
  }

  // ------------------------------------------------------------------ rendering helpers
  function text(value) { return value === null || value === undefined || value === "" ? "–" : String(value); }
  function human(state) { return state ? String(state).replace(/_/g, " ") : "–"; }
  function when(iso) { return iso ? String(iso).replace("T", " ").replace(/(:\d\d)(\.\d+)?(\+00:00|Z)$/, "$1") : "–"; }
  function localTime(iso) { return iso ? String(iso).replace("T", " ").slice(0, 16) : "–"; }
  function money(amount) {
    if (amount === null || amount === undefined) { return "–"; }
    return Number(amount).toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function cell(content, className) {
    var td = document.createElement("td");
    if (content instanceof Node) { td.appendChild(content); } else { td.textContent = text(content); }
    if (className) { td.className = className; }
    return td;
  }

  function row(cells, className) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) { tr.appendChild(c); });
    if (className) { tr.className = className; }
    return tr;
  }

  function fill(tableId, items, makeRow) {
    var key = JSON.stringify(items);
    if (rendered[tableId] === key) { return false; }
    rendered[tableId] = key;
    var body = $(tableId).tBodies[0];
    body.replaceChildren.apply(body, items.map(makeRow));
    return true;
  }

  function setStatus(message, isError) {
    $("status").textContent = message;
    $("status").className = isError ? "error" : "";
  }

  // ------------------------------------------------------------------ sections
  function renderCalls(calls) {
    var select = $("call-select");
    var wanted = select.value || localStorage.getItem(CALL_KEY);
    var ids = calls.map(function (c) { return c.id; });
    if (select.options.length !== ids.length || ids.some(function (id, i) { return select.options[i].value !== id; })) {
      select.replaceChildren.apply(select, calls.map(function (c) {
        var option = document.createElement("option");
        option.value = c.id;
        option.textContent = c.id + (c.title ? " – " + c.title : "");
        return option;
      }));
    }
    if (ids.indexOf(wanted) >= 0) { select.value = wanted; }
    return select.value || null;
  }

  function renderTimetable(overview) {
    var stage = overview.current_stage;
    var milestone = overview.timetable.filter(function (m) { return m.current; })[0];
    var at = milestone && milestone.local ? say("at_call_time", { when: localTime(milestone.local) })
      : (stage ? say("at_utc", { when: when(stage.at) }) : "");
    $("current-stage").textContent = stage ? say("stage_at", { stage: stage.label, when: at }) : say("no_stage");
    fill("timetable", overview.timetable, function (m) {
      var status = m.current ? say("current_stage") : (m.reached ? say("reached") : say("upcoming"));
      var tr = row([cell(m.label), cell(m.local ? localTime(m.local) : when(m.at)), cell(status)],
                   m.current ? "current" : (m.reached ? "reached" : "upcoming"));
      if (m.current) { tr.setAttribute("aria-current", "step"); }
      return tr;
    });
  }

  function renderCounts(overview) {
    var counts = overview.counts;
    var rows = [];
    Object.keys(counts.by_state).forEach(function (state) {
      var isFinal = Object.prototype.hasOwnProperty.call(counts.by_final_state, state);
      if (isFinal || counts.by_state[state] > 0) {
        rows.push({ state: state, final: isFinal, n: counts.by_state[state] });
      }
    });
    fill("counts", rows, function (r) {
      return row([cell(human(r.state), r.final ? "final" : ""), cell(r.final ? say("final") : say("in_progress")),
                  cell(r.n, "num")]);
    });
    var totals = overview.totals;
    var facts = [[say("proposals"), counts.proposals], [say("final_total"), counts.final],
                 [say("grants_signed"), totals.grants_signed], [say("granted"), money(totals.granted_total)],
                 [say("letters_sent"), totals.letters_sent],
                 [say("delivered"), totals.notifications.delivered],
                 [say("failed"), totals.notifications.failed],
                 [say("retrying"), totals.notifications.retrying]];
    var key = JSON.stringify(facts);
    if (rendered.totals !== key) {
      rendered.totals = key;
      var list = $("totals");
      list.replaceChildren();
      facts.forEach(function (f) {
        var dt = document.createElement("dt"); dt.textContent = f[0];
        var dd = document.createElement("dd"); dd.textContent = text(f[1]);
        list.appendChild(dt); list.appendChild(dd);
      });
    }
  }

  function renderTopics(overview) {
    fill("topics", overview.topics, function (t) {
      var name = t.topic_id + (t.title ? " – " + t.title : "");
      return row([cell(name), cell(money(t.budget), "num"),
                  cell(t.ranked ? money(t.ranking_funded_total) : say("not_ranked"), "num"),
                  cell(money(t.signed_total), "num"), cell(money(t.remaining), "num"),
                  cell(t.main, "num"), cell(t.reserve, "num"), cell(t.rejected, "num"),
                  cell(t.promoted, "num"), cell(t.grants_signed, "num")]);
    });
  }

  function renderProposals(listing) {
    fill("proposals", listing.proposals, function (p) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dataset.proposal = p.id;
      button.textContent = p.id;
      button.addEventListener("click", function () { openTimeline(p.id); });
      return row([cell(button), cell(p.acronym), cell(p.topic),
                  cell(human(p.state), p.final_state ? "final" : ""), cell(p.total_score, "num"),
                  cell(p.rank, "num"), cell(p.list), cell((p.failed_rules || []).join(", "))]);
    });
  }

  function renderLoads(loads) {
    $("loads-empty").hidden = loads.experts.length > 0;
    $("loads").hidden = loads.experts.length === 0;
    fill("loads", loads.experts, function (e) {
      var byTopic = Object.keys(e.by_topic).map(function (t) { return t + ": " + e.by_topic[t]; }).join(", ");
      return row([cell((e.name || e.expert_id) + " (" + e.expert_id + ")"), cell(e.current, "num"),
                  cell(byTopic), cell(e.reports_due, "num"), cell(e.released, "num")]);
    });
  }

  function errorText(error) {
    var message = text(error);
    if (message.length <= 120) { return message; }
    var details = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = message.slice(0, 100) + "…";
    var full = document.createElement("pre");
    full.textContent = message;
    details.appendChild(summary);
    details.appendChild(full);
    return details;
  }

  function renderDeadLetters(dlq) {
    $("dlq-empty").hidden = dlq.count > 0;
    $("dead-letters").hidden = dlq.count === 0;
    $("replay-all").hidden = dlq.count === 0;
    fill("dead-letters", dlq.letters, function (letter) {
      var what = document.createElement("span");
      what.textContent = text(letter.event_type) + " ";
      var id = document.createElement("code");
      id.className = "id";
      id.textContent = text(letter.event_id);
      what.appendChild(id);
      var action;
      if (letter.event_id) {
        action = document.createElement("button");
        action.type = "button";
        action.textContent = say("replay");
        action.dataset.eventId = letter.event_id;
        action.setAttribute("aria-label", say("replay_label", { event: text(letter.event_type), id: letter.event_id }));
        action.addEventListener("click", function () { replay(letter.event_id, action); });
      } else {
        action = document.createTextNode(say("no_event_id"));
      }
      var tr = row([cell(what), cell(letter.queue), cell(letter.attempts, "num"),
                    cell(errorText(letter.error), "error"), cell(when(letter.dead_lettered_at)),
                    cell(action)]);
      tr.dataset.eventId = letter.event_id || "";
      return tr;
    });
  }

  // ------------------------------------------------------------------ plots
  var SVG_ELEMENTS = ["svg", "title", "desc", "g", "rect", "line", "path", "text"];

  function cleanSvg(markup) {
    var parsed = new DOMParser().parseFromString(markup, "image/svg+xml");
    var root = parsed.documentElement;
    if (root.localName !== "svg") { return null; }
    var all = [root].concat(Array.prototype.slice.call(root.querySelectorAll("*")));
    for (var i = 0; i < all.length; i++) {
      if (SVG_ELEMENTS.indexOf(all[i].localName) < 0) { return null; }
      for (var j = 0; j < all[i].attributes.length; j++) {
        var name = all[i].attributes[j].name.toLowerCase();
        if (name.indexOf("on") === 0 || name.indexOf("href") >= 0 || name === "style") { return null; }
      }
    }
    return document.importNode(root, true);
  }

  function dataTable(table) {
    var element = document.createElement("table");
    var caption = document.createElement("caption");
    caption.textContent = table.caption;
    element.appendChild(caption);
    var head = element.createTHead().insertRow();
    table.columns.forEach(function (column) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = column;
      head.appendChild(th);
    });
    var body = element.createTBody();
    table.rows.forEach(function (values) {
      body.appendChild(row(values.map(function (v) { return cell(v); })));
    });
    return element;
  }

  function renderPlots(listing) {
    var key = JSON.stringify(listing.plots.map(function (p) { return [p.id, p.svg]; }));
    if (rendered.plots === key) { return; }
    rendered.plots = key;
    var figures = listing.plots.map(function (plot) {
      var figure = document.createElement("figure");
      figure.className = "plot";
      figure.dataset.plot = plot.id;
      var caption = document.createElement("figcaption");
      caption.textContent = plot.title;
      figure.appendChild(caption);
      var svg = cleanSvg(plot.svg);
      if (svg) { figure.appendChild(svg); }
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = say("data_table");
      details.appendChild(summary);
      details.appendChild(dataTable(plot.table));
      figure.appendChild(details);
      return figure;
    });
    $("plots").replaceChildren.apply($("plots"), figures);
  }

  // ------------------------------------------------------------------ timeline
  function renderTimeline(detail) {
    $("timeline-heading").textContent = say("timeline_of", {
      proposal: detail.acronym ? detail.acronym + " (" + detail.id + ")" : detail.id });
    var state = { state: human(detail.state) };
    var facts = [detail.final_state ? say("state_final", state) : say("state", state)];
    if (detail.total_score !== null) { facts.push(say("score", { score: detail.total_score })); }
    if (detail.rank !== null) { facts.push(say("rank", { rank: detail.rank, list: detail.list })); }
    if (detail.failed_rules.length) { facts.push(say("failed_rules", { rules: detail.failed_rules.join(", ") })); }
    $("timeline-facts").textContent = facts.join(" · ");
    fill("timeline", detail.timeline, function (e) {
      return row([cell(when(e.occurred_at)), cell(human(e.event_type)), cell(e.summary)]);
    });
    $("timeline-panel").hidden = false;
  }

  function openTimeline(proposalId) {
    selected = proposalId;
    rendered.timeline = null;
    return api("/proposals/" + encodeURIComponent(proposalId)).then(function (detail) {
      renderTimeline(detail);
      $("timeline-heading").focus();
      $("timeline-panel").scrollIntoView({ block: "nearest" });
    }).catch(report);
  }

  function closeTimeline() {
    selected = null;
    $("timeline-panel").hidden = true;
  }

  // ------------------------------------------------------------------ actions
  function replay(eventId, button) {
    if (button) { button.disabled = true; }
    var body = JSON.stringify(eventId ? { event_id: eventId } : { all: true });
    return api("/dead-letters/replay", { method: "POST", body: body }).then(function (result) {
      setStatus(say("replayed", { count: result.count }));
      return refresh();
    }).catch(function (error) {
      if (button) { button.disabled = false; }
      report(error);
    });
  }

  function report(error) {
    if (error && (error.status === 401 || error.status === 403)) {
      askForToken(say("token_refused", { reason: error.message }));
    } else {
      setStatus(say("could_not_refresh", { reason: error && error.message ? error.message : error }), true);
    }
  }

  // ------------------------------------------------------------------ refresh
  function refresh() {
    if (!token) { askForToken(); return Promise.resolve(); }
    if (busy) { return Promise.resolve(); }
    busy = true;
    return api("/calls").then(function (listing) {
      var callId = renderCalls(listing.calls);
      var calls = callId ? [
        api("/calls/" + encodeURIComponent(callId) + "/overview"),
        api("/calls/" + encodeURIComponent(callId) + "/proposals"),
        api("/loads?call_id=" + encodeURIComponent(callId)),
        Date.now() - plotsAskedAt >= PLOTS_EVERY_MS ? api("/calls/" + encodeURIComponent(callId) + "/plots") : null
      ] : [];
      if (calls[3]) { plotsAskedAt = Date.now(); }
      var timeline = selected ? api("/proposals/" + encodeURIComponent(selected)) : null;
      return Promise.all([api("/dead-letters"), timeline].concat(calls)).then(function (found) {
        $("token-form").hidden = true;
        $("session").hidden = false;
        $("content").hidden = false;
        $("no-call").hidden = Boolean(callId);
        document.querySelectorAll("[data-call-section]").forEach(function (section) {
          section.hidden = !callId;
        });
        $("call-select").disabled = !callId;
        renderDeadLetters(found[0]);
        if (found[1]) { renderTimeline(found[1]); }
        if (callId) {
          renderTimetable(found[2]);
          renderCounts(found[2]);
          renderTopics(found[2]);
          renderProposals(found[3]);
          renderLoads(found[4]);
          if (found[5]) { renderPlots(found[5]); }
        }
        var time = new Date().toLocaleTimeString("en-GB");
        setStatus(callId ? say("showing_call", { call: callId, time: time }) : say("showing_no_call", { time: time }));
      });
    }).catch(report).then(function () { busy = false; });
  }

  // ------------------------------------------------------------------ start
  $("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var given = $("token-input").value.trim();
    if (!given) { return; }
    localStorage.setItem(TOKEN_KEY, given);
    token = given;
    $("token-input").value = "";
    rendered = {};
    refresh();
  });
  $("forget-token").addEventListener("click", function () { askForToken(say("token_forgotten")); });
  $("refresh-now").addEventListener("click", function () { plotsAskedAt = 0; refresh(); });
  $("close-timeline").addEventListener("click", closeTimeline);
  $("replay-all").addEventListener("click", function () { replay(null, $("replay-all")); });
  $("call-select").addEventListener("change", function () {
    localStorage.setItem(CALL_KEY, $("call-select").value);
    rendered = {};
    plotsAskedAt = 0;
    closeTimeline();
    refresh();
  });

  takeTokenFromFragment();
  refresh();
  window.setInterval(refresh, refreshMs);
}());
