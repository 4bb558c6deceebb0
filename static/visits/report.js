// The visit report form: "add a row" for the needs and follow-up formsets, and a draft
// kept in this browser (localStorage) while the rep types, so a report survives a lost
// connection or an expired session. The visit page clears the draft once the report is filed.
(function () {
  "use strict";

  function addRow(form, prefix) {
    var total = form.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var max = form.querySelector("input[name='" + prefix + "-MAX_NUM_FORMS']");
    var template = form.querySelector("template[data-formset-template='" + prefix + "']");
    var rows = form.querySelector("[data-formset-rows='" + prefix + "']");
    if (!total || !template || !rows) return false;
    var index = parseInt(total.value, 10);
    if (max && index >= parseInt(max.value, 10)) return false;
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    return true;
  }

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (element) {
      return element.name && element.name !== "csrfmiddlewaretoken" && element.type !== "submit" &&
        element.type !== "button" && !/-(INITIAL|MIN_NUM|MAX_NUM)_FORMS$/.test(element.name) &&
        element.dataset.geo === undefined;
    });
  }

  function snapshot(form) {
    var data = {};
    fields(form).forEach(function (element) {
      if (element.type === "checkbox") data[element.name] = element.checked;
      else if (element.type === "radio") { if (element.checked) data[element.name] = element.value; }
      else data[element.name] = element.value;
    });
    return data;
  }

  function restore(form, data) {
    ["needs", "followups"].forEach(function (prefix) {
      var wantedRows = parseInt(data[prefix + "-TOTAL_FORMS"] || "0", 10);
      var total = form.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
      while (total && parseInt(total.value, 10) < wantedRows && addRow(form, prefix)) { /* add */ }
    });
    fields(form).forEach(function (element) {
      if (!(element.name in data) || /-TOTAL_FORMS$/.test(element.name)) return;
      var value = data[element.name];
      if (element.type === "checkbox") element.checked = Boolean(value);
      else if (element.type === "radio") element.checked = element.value === value;
      else element.value = value;
    });
  }

  function storage() {
    try { return window.localStorage; } catch (error) { return null; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var store = storage();

    // The visit page: a filed report needs no draft any more.
    document.querySelectorAll("[data-report-filed]").forEach(function (element) {
      if (store) store.removeItem("fieldwise-visit-report-" + element.dataset.reportFiled);
    });

    var form = document.getElementById("report-form");
    if (!form) return;
    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-formset-add]");
      if (button && addRow(form, button.dataset.formsetAdd)) {
        var rows = form.querySelector("[data-formset-rows='" + button.dataset.formsetAdd + "']");
        var input = rows.lastElementChild && rows.lastElementChild.querySelector("input[type='text']");
        if (input) input.focus();
      }
    });
    if (!store) return;
    var key = form.dataset.draftKey;
    // A form sent back with errors is already filled by the server: that copy wins.
    if (!form.hasAttribute("data-bound")) {
      var saved = null;
      try { saved = JSON.parse(store.getItem(key) || "null"); } catch (error) { saved = null; }
      if (saved) {
        restore(form, saved);
        var notice = document.getElementById("report-draft-restored");
        if (notice) notice.classList.remove("d-none");
      }
    }
    var save = function () {
      try { store.setItem(key, JSON.stringify(snapshot(form))); } catch (error) { /* storage full or off */ }
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    var discard = document.getElementById("report-draft-discard");
    if (discard) {
      discard.addEventListener("click", function () {
        store.removeItem(key);
        window.location.reload();
      });
    }
  });
})();
