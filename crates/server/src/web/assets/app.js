// Guanxi: small enhancements over pages that work without script.
// Drag on the kanban, "use theirs" on edit conflicts, typeahead, confirmations.
(function () {
  "use strict";

  function on(sel, ev, fn) {
    document.addEventListener(ev, function (e) {
      var t = e.target.closest ? e.target.closest(sel) : null;
      if (t) fn(e, t);
    });
  }

  // Ask before destructive submits.
  on("[data-confirm]", "click", function (e, el) {
    if (!window.confirm(el.getAttribute("data-confirm"))) e.preventDefault();
  });

  // "Back" on an error page, when there is a page to go back to (the CSP allows no
  // javascript: links, so it is a script here).
  if (window.history.length > 1) {
    document.querySelectorAll("[data-back]").forEach(function (b) { b.hidden = false; });
  }
  on("[data-back] a", "click", function (e) {
    e.preventDefault();
    window.history.back();
  });

  // Selects and checkboxes that apply at once.
  on("[data-autosubmit]", "change", function (e, el) {
    if (el.form) el.form.submit();
  });
  document.querySelectorAll(".no-js").forEach(function (b) { b.hidden = true; });

  // Select every row of a list.
  on("[data-select-all]", "change", function (e, el) {
    var form = el.closest("form");
    form.querySelectorAll('input[name="sel"]').forEach(function (c) { c.checked = el.checked; });
  });

  // Edit conflict: take the other person's value into the input.
  on("[data-use-theirs]", "click", function (e, el) {
    var input = document.getElementById(el.getAttribute("data-use-theirs"));
    if (!input) return;
    var v = el.getAttribute("data-value");
    if (input.type === "checkbox") input.checked = v === "true"; else input.value = v;
    var box = el.closest(".field");
    if (box) box.classList.remove("differs");
    input.focus();
  });

  // Kanban: drag a card onto a lane; closing lanes ask for the reason first.
  var board = document.querySelector("[data-kanban]");
  if (board) {
    var dialog = document.getElementById("reason-dialog");
    var dragged = null;
    board.addEventListener("dragstart", function (e) {
      var card = e.target.closest(".deal");
      if (!card) return;
      dragged = card;
      card.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
    });
    board.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      board.querySelectorAll(".over").forEach(function (l) { l.classList.remove("over"); });
    });
    board.addEventListener("dragover", function (e) {
      var lane = e.target.closest(".lane");
      if (!lane || !dragged) return;
      e.preventDefault();
      lane.classList.add("over");
    });
    board.addEventListener("dragleave", function (e) {
      var lane = e.target.closest(".lane");
      if (lane && !lane.contains(e.relatedTarget)) lane.classList.remove("over");
    });
    board.addEventListener("drop", function (e) {
      var lane = e.target.closest(".lane");
      if (!lane || !dragged) return;
      e.preventDefault();
      var form = dragged.querySelector("form.move");
      if (!form) return;
      var stage = lane.getAttribute("data-stage");
      if (form.stage.value === stage) return;
      form.stage.value = stage;
      if (lane.getAttribute("data-closing") === "true") {
        askReason(form);
      } else {
        form.submit();
      }
    });
    // The keyboard path: choosing a closing stage in a card's select asks the same way.
    board.addEventListener("submit", function (e) {
      var form = e.target;
      if (!form.classList.contains("move")) return;
      var opt = form.stage.options[form.stage.selectedIndex];
      if (opt && opt.getAttribute("data-closing") === "true" && !form.reason.value.trim()) {
        e.preventDefault();
        askReason(form);
      }
    });
    function askReason(form) {
      if (!dialog || !dialog.showModal) { form.reason.focus(); return; }
      var input = dialog.querySelector("#reason-input");
      input.value = form.reason.value;
      dialog.returnValue = "";
      dialog.showModal();
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        if (dialog.returnValue === "ok" && input.value.trim()) {
          form.reason.value = input.value.trim();
          form.submit();
        }
      });
    }
  }

  // Typeahead: the search box suggests records; reference inputs look up names and keep
  // the id.
  var timer = null;
  function suggest(input, types, pick) {
    var list = input._list;
    if (!list) {
      list = document.createElement("ul");
      list.className = "suggest";
      list.setAttribute("role", "listbox");
      list.id = input.id + "-suggest";
      input.setAttribute("aria-controls", list.id);
      input.setAttribute("aria-autocomplete", "list");
      input.parentNode.insertBefore(list, input.nextSibling);
      input._list = list;
    }
    var q = input.value.trim();
    if (q.length < 1 || /^[0-9a-f-]{36}$/.test(q)) { list.innerHTML = ""; return; }
    clearTimeout(timer);
    timer = setTimeout(function () {
      var url = "/search?q=" + encodeURIComponent(q) + (types ? "&types=" + types : "");
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (data) {
          list.innerHTML = "";
          data.items.slice(0, 12).forEach(function (h) {
            var li = document.createElement("li");
            li.setAttribute("role", "option");
            li.tabIndex = -1;
            li.textContent = h.label + (h.detail ? " · " + h.detail : "");
            li.addEventListener("mousedown", function (ev) { ev.preventDefault(); pick(h); list.innerHTML = ""; });
            li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); pick(h); list.innerHTML = ""; } });
            list.appendChild(li);
          });
        })
        .catch(function () { list.innerHTML = ""; });
    }, 150);
  }
  function keys(input) {
    input.addEventListener("keydown", function (e) {
      var list = input._list;
      if (!list || !list.firstChild) return;
      if (e.key === "ArrowDown") { e.preventDefault(); list.firstChild.focus(); }
      if (e.key === "Escape") list.innerHTML = "";
    });
    input.addEventListener("blur", function () {
      setTimeout(function () { if (input._list && !input._list.contains(document.activeElement)) input._list.innerHTML = ""; }, 200);
    });
  }
  document.querySelectorAll("[data-typeahead]").forEach(function (input) {
    keys(input);
    input.addEventListener("input", function () {
      suggest(input, "", function (h) { window.location = h.href; });
    });
  });
  document.querySelectorAll("[data-ref]").forEach(function (input) {
    var types = input.getAttribute("data-ref");
    if (["accounts", "contacts", "leads", "opportunities"].indexOf(types) < 0) return;
    keys(input);
    input.addEventListener("input", function () {
      suggest(input, types, function (h) {
        input.value = h.id;
        var shown = input.parentNode.querySelector(".ref-name");
        if (!shown) {
          shown = document.createElement("span");
          shown.className = "muted ref-name";
          input.parentNode.appendChild(shown);
        }
        shown.textContent = h.label;
      });
    });
  });
  // List arrows: move between suggestions.
  document.addEventListener("keydown", function (e) {
    var li = e.target.closest ? e.target.closest(".suggest li") : null;
    if (!li) return;
    if (e.key === "ArrowDown" && li.nextSibling) { e.preventDefault(); li.nextSibling.focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); (li.previousSibling || li.parentNode.previousSibling).focus(); }
  });

  // Rule form: the field lists follow the entity, each action row shows the inputs its
  // type needs, and rows are added and removed (without script: blank rows to fill).
  var ruleForm = document.querySelector("[data-rule-form]");
  if (ruleForm) {
    var entity = ruleForm.querySelector("[data-rule-entity]");
    var words = function (el, name) { return (el.getAttribute(name) || "").split(" "); };
    var values = function (sel) {
      var box = sel.closest("[data-row]") || ruleForm;
      var input = sel.name === "on_field" ? ruleForm.querySelector("#r-on-to") : box.querySelector("[data-values]");
      if (input) input.setAttribute("list", "rv-" + entity.value + "-" + sel.value);
    };
    var fieldLists = function () {
      ruleForm.querySelectorAll("select[data-fields]").forEach(function (sel) {
        var tpl = document.getElementById("rf-" + sel.getAttribute("data-fields") + "-" + entity.value);
        if (!tpl) return;
        var v = sel.value, first = sel.options[0].textContent;
        sel.innerHTML = tpl.innerHTML;
        sel.options[0].textContent = first;
        sel.value = v;
        values(sel);
      });
    };
    var parts = function (row) {
      var ty = row.querySelector("[data-act-type]").value, how = row.querySelector("[data-how]").value;
      row.querySelectorAll("[data-for]").forEach(function (p) {
        p.hidden = words(p, "data-for").indexOf(ty) < 0 ||
          (p.hasAttribute("data-how-is") && words(p, "data-how-is").indexOf(how) < 0);
      });
    };
    var trigger = function () {
      var on = ruleForm.querySelector("[data-rule-on]").value;
      ruleForm.querySelectorAll("[data-on]").forEach(function (p) { p.hidden = p.getAttribute("data-on") !== on; });
    };
    var clear = function (row) {
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; i.removeAttribute("aria-invalid"); });
      row.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; s.removeAttribute("aria-invalid"); });
      row.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      row.querySelectorAll(".invalid").forEach(function (e) { e.classList.remove("invalid"); });
      if (row.hasAttribute("data-action-row")) parts(row);
    };
    ruleForm.querySelectorAll("[data-js-only]").forEach(function (b) { b.hidden = false; });
    ruleForm.querySelectorAll("[data-action-row]").forEach(parts);
    trigger();
    entity.addEventListener("change", fieldLists);
    ruleForm.addEventListener("change", function (e) {
      var el = e.target;
      if (el.matches("[data-rule-on]")) trigger();
      if (el.matches("select[data-fields]")) values(el);
      if (el.matches("[data-act-type], [data-how]")) parts(el.closest("[data-row]"));
    });
    on("[data-add-row]", "click", function (e, b) {
      var rows = document.getElementById(b.getAttribute("data-add-row"));
      var row = rows.lastElementChild.cloneNode(true);
      rows.appendChild(row);
      clear(row);
      var first = row.querySelector("select, input");
      if (first) first.focus();
    });
    on("[data-remove-row]", "click", function (e, b) {
      var row = b.closest("[data-row]");
      if (row.parentNode.children.length > 1) row.remove(); else clear(row);
    });
  }

  // Calendar form: working periods and special days are added and removed as rows
  // (without script: one blank row of each to fill, saved and shown again); a weekday
  // ticked "whole day" hides its periods.
  var calForm = document.querySelector("[data-calendar-form]");
  if (calForm) {
    var calClear = function (row) {
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; i.removeAttribute("aria-invalid"); });
      row.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; s.removeAttribute("aria-invalid"); });
      row.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      row.classList.remove("invalid");
      row.querySelectorAll(".invalid").forEach(function (e) { e.classList.remove("invalid"); });
    };
    var wholeDay = function (box) {
      var day = box.closest("[data-day]");
      day.querySelectorAll("[data-periods], [data-cal-add]").forEach(function (el) { el.hidden = box.checked; });
    };
    calForm.querySelectorAll("[data-js-only]").forEach(function (b) { b.hidden = false; });
    calForm.querySelectorAll("[data-whole-day]").forEach(wholeDay);
    calForm.addEventListener("change", function (e) {
      if (e.target.matches("[data-whole-day]")) wholeDay(e.target);
    });
    on("[data-cal-add]", "click", function (e, b) {
      var rows = document.getElementById(b.getAttribute("data-cal-add"));
      var row = rows.lastElementChild.cloneNode(true);
      rows.appendChild(row);
      calClear(row);
      var first = row.querySelector("input, select");
      if (first) first.focus();
    });
    on("[data-cal-remove]", "click", function (e, b) {
      var row = b.closest("[data-row]");
      if (row.parentNode.children.length > 1) row.remove(); else calClear(row);
    });
  }

  // Segment form: the field lists follow the entity, each fact row shows the inputs its
  // kind needs, a static list hides its conditions, rows are added and removed, and the
  // count is asked (debounced) on every change from GET /segments/count and shown in a
  // live region. Without script: blank rows to fill and a "Count" button.
  var segForm = document.querySelector("[data-segment-form]");
  if (segForm) {
    var segEntity = segForm.querySelector("[data-segment-entity]");
    var segKind = segForm.querySelector("[data-segment-kind]");
    var segOut = segForm.querySelector("[data-segment-count]");
    var segFacts = function (row) {
      var k = row.querySelector("[data-fact-kind]").value;
      row.querySelectorAll("[data-for]").forEach(function (p) {
        p.hidden = (p.getAttribute("data-for") || "").split(" ").indexOf(k) < 0;
      });
    };
    var segStatic = function () {
      segForm.querySelectorAll("[data-dynamic-only]").forEach(function (b) { b.hidden = segKind.value === "static"; });
    };
    var segFields = function () {
      var tpl = document.getElementById("sf-fields-" + segEntity.value);
      if (!tpl) return;
      segForm.querySelectorAll("select[data-segment-fields]").forEach(function (sel) {
        var v = sel.value;
        sel.innerHTML = tpl.innerHTML;
        sel.value = v;
      });
    };
    var segClear = function (row) {
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; i.removeAttribute("aria-invalid"); });
      row.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; s.removeAttribute("aria-invalid"); });
      row.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      row.classList.remove("invalid");
      row.querySelectorAll(".invalid").forEach(function (e) { e.classList.remove("invalid"); });
      if (row.hasAttribute("data-fact-row")) segFacts(row);
    };
    var segTimer = null, segAsked = 0;
    var segCount = function () {
      clearTimeout(segTimer);
      segTimer = setTimeout(function () {
        if (!window.fetch || !window.URLSearchParams) return;
        var params = new URLSearchParams(new FormData(segForm));
        params.delete("_csrf");
        params.delete("_version");
        var n = ++segAsked;
        segOut.textContent = segOut.getAttribute("data-counting") || "…";
        fetch("/segments/count?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (d) {
            if (n !== segAsked) return;
            segOut.classList.toggle("error", !!d.error);
            segOut.textContent = d.error ? (d.field ? d.field + ": " : "") + d.error : d.text;
          })
          .catch(function () { if (n === segAsked) segOut.textContent = ""; });
      }, 400);
    };
    segForm.querySelectorAll("[data-js-only]").forEach(function (b) { b.hidden = false; });
    segForm.querySelectorAll("[data-no-js-count]").forEach(function (b) { b.hidden = true; });
    segForm.querySelectorAll("[data-fact-row]").forEach(segFacts);
    segStatic();
    segForm.addEventListener("change", function (e) {
      var el = e.target;
      if (el === segEntity) segFields();
      if (el === segKind) segStatic();
      if (el.matches("[data-fact-kind]")) segFacts(el.closest("[data-row]"));
      segCount();
    });
    segForm.addEventListener("input", segCount);
    on("[data-seg-add]", "click", function (e, b) {
      var rows = document.getElementById(b.getAttribute("data-seg-add"));
      var row = rows.lastElementChild.cloneNode(true);
      rows.appendChild(row);
      segClear(row);
      var first = row.querySelector("select, input:not([type=hidden])");
      if (first) first.focus();
    });
    on("[data-seg-remove]", "click", function (e, b) {
      var row = b.closest("[data-row]");
      if (row.parentNode.children.length > 1) row.remove(); else segClear(row);
      segCount();
    });
    segCount();
  }

  // Case form: knowledge-base articles that may help, shown under the subject as it is
  // typed (GET /kb/suggest, or the portal's, which its subject names in data-kb-suggest).
  // Without script the form is the same, without suggestions.
  var subject = document.querySelector("input[data-kb-suggest]") ||
    document.querySelector('form.record-form[action^="/cases/"] input[name="subject"]');
  var kbUrl = (subject && subject.getAttribute("data-kb-suggest")) || "/kb/suggest";
  if (subject && window.fetch) {
    var kb = document.createElement("div");
    kb.className = "kb-suggest";
    kb.setAttribute("aria-live", "polite");
    kb.hidden = true;
    subject.parentNode.appendChild(kb);
    var kbTimer = null, kbLast = "";
    var kbLook = function () {
      var q = subject.value.trim();
      if (q === kbLast) return;
      kbLast = q;
      if (!q) { kb.hidden = true; kb.textContent = ""; return; }
      fetch(kbUrl + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (!d || q !== kbLast) return;
          kb.textContent = "";
          if (!d.items.length) { kb.hidden = true; return; }
          var h = document.createElement("p");
          h.className = "muted small";
          h.textContent = d.heading;
          kb.appendChild(h);
          var ul = document.createElement("ul");
          d.items.forEach(function (it) {
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = it.href;
            a.target = "_blank";
            a.rel = "noopener";
            a.textContent = it.title;
            li.appendChild(a);
            if (it.excerpt) {
              var ex = document.createElement("span");
              ex.className = "muted";
              ex.textContent = " — " + it.excerpt;
              li.appendChild(ex);
            }
            ul.appendChild(li);
          });
          kb.appendChild(ul);
          kb.hidden = false;
        })
        .catch(function () {});
    };
    subject.addEventListener("input", function () {
      clearTimeout(kbTimer);
      kbTimer = setTimeout(kbLook, 250);
    });
    kbLook();
  }
})();
