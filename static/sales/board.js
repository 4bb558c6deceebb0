/* Pipeline board: drag a card (SortableJS) to another stage to move the opportunity.

   A drop POSTs the move (with the board's filters in the URL, so the server counts the
   columns the way the page does). The answer carries the column headers and the moved
   card, swapped out of band by htmx, and a message. A refused move (the answer has the
   Fieldwise-Refused header) or a failed request puts the card back where it was. A drop
   on Lost first asks why in a dialog; cancelling the dialog puts the card back too. The
   server checks every rule: this script only reports what it says. */
(function () {
  "use strict";

  var DONE = "done";
  var REFUSED = "refused";
  var FAILED = "failed";

  function start() {
    var board = document.getElementById("pipeline-board");
    if (!board || typeof Sortable === "undefined" || typeof htmx === "undefined") {
      return;
    }
    var flash = document.getElementById("board-flash");
    var modalElement = document.getElementById("lose-modal");
    var loseForm = document.getElementById("lose-form");
    var loseReason = document.getElementById("lose-reason");
    var loseError = document.getElementById("lose-reason-error");
    var loseSubject = document.getElementById("lose-modal-subject");
    var loseSubmit = document.getElementById("lose-submit");
    var pending = null; // the drop on Lost waiting for its reason
    var lost = false; // the server accepted that reason

    function withQuery(url) {
      return board.dataset.query ? url + "?" + board.dataset.query : url;
    }

    function showFlash(text) {
      var alert = document.createElement("div");
      alert.className = "alert alert-danger py-2 mb-3";
      alert.setAttribute("role", "alert");
      alert.textContent = text;
      flash.replaceChildren(alert);
    }

    // The card back in its column, at the place it was dragged from.
    function putBack(drop) {
      drop.from.insertBefore(drop.item, drop.from.children[drop.oldIndex] || null);
    }

    // POST the fields; swap in the answer's out-of-band parts; resolve to DONE, REFUSED or FAILED.
    function post(url, fields) {
      return fetch(withQuery(url), {
        method: "POST",
        body: fields,
        credentials: "same-origin",
        headers: { "X-CSRFToken": board.dataset.csrf, "HX-Request": "true" },
      })
        .then(function (response) {
          return response.text().then(function (html) {
            if (!response.ok) {
              showFlash(board.dataset.serverError);
              return FAILED;
            }
            htmx.swap(flash, html, { swapStyle: "none" });
            return response.headers.get("Fieldwise-Refused") === "true" ? REFUSED : DONE;
          });
        })
        .catch(function () {
          showFlash(board.dataset.networkError);
          return FAILED;
        });
    }

    function move(drop, stageId) {
      var card = drop.item;
      var fields = new URLSearchParams();
      fields.append("stage", stageId);
      card.classList.add("is-saving");
      post(card.dataset.moveUrl, fields).then(function (outcome) {
        card.classList.remove("is-saving"); // the old node, if the answer replaced the card
        if (outcome !== DONE) {
          putBack(drop);
        }
      });
    }

    function askReason(drop) {
      pending = drop;
      lost = false;
      loseForm.reset();
      loseError.textContent = "";
      loseForm.setAttribute("action", drop.item.dataset.loseUrl);
      loseSubject.textContent = drop.item.dataset.title || "";
      window.bootstrap.Modal.getOrCreateInstance(modalElement).show();
    }

    modalElement.addEventListener("shown.bs.modal", function () {
      loseReason.focus();
    });

    // Closed without a saved reason (Cancel, Escape, the cross): the card goes back.
    modalElement.addEventListener("hidden.bs.modal", function () {
      if (pending && !lost) {
        putBack(pending);
      }
      pending = null;
    });

    loseForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!pending) {
        return;
      }
      loseSubmit.disabled = true;
      post(loseForm.getAttribute("action"), new URLSearchParams(new FormData(loseForm))).then(function (outcome) {
        loseSubmit.disabled = false;
        lost = outcome === DONE;
        // A refused reason shows under the field and the dialog stays open for another try; any
        // other answer closes it (a refusal of the move itself is in the board's message, and
        // closing without a loss puts the card back).
        if (outcome !== REFUSED || !loseError.textContent.trim()) {
          window.bootstrap.Modal.getOrCreateInstance(modalElement).hide();
        }
      });
    });

    board.querySelectorAll(".board-list").forEach(function (list) {
      Sortable.create(list, {
        group: { name: "pipeline", pull: list.dataset.kind === "open", put: true },
        sort: false, // the order within a column is not stored
        draggable: ".board-card",
        filter: ".is-closed", // won and lost deals stay where they are
        preventOnFilter: false, // their links still work
        forceFallback: true, // the same pointer-driven drag everywhere (mouse, pen, touch)
        fallbackOnBody: true,
        delayOnTouchOnly: true,
        delay: 200, // on a phone a short touch scrolls the board; a long press drags
        ghostClass: "is-ghost",
        chosenClass: "is-chosen",
        dragClass: "is-dragging",
        onAdd: function (event) {
          var drop = { item: event.item, from: event.from, oldIndex: event.oldIndex };
          if (event.to.dataset.kind === "lost") {
            askReason(drop);
          } else {
            move(drop, event.to.dataset.stageId);
          }
        },
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
