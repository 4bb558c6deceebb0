/* Week calendar: places the visit blocks on the grid and lets a mouse or pen drag a
   movable one to another time or day. A drop submits that visit's move form (the
   same form its dialog shows, for keyboard and phone users); the server checks the
   rules and answers with a message, and the page shows the plan as it now is, so a
   refused move puts the block back where it was. */
(function () {
  "use strict";

  function autosubmitPickers() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        select.form.submit();
      });
    });
  }

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  function clock(minutes) {
    return pad(Math.floor(minutes / 60)) + ":" + pad(Math.round(minutes % 60));
  }

  function setUp(calendar) {
    var first = Number(calendar.dataset.firstMinute);
    var last = Number(calendar.dataset.lastMinute);
    var span = Math.max(last - first, 60);
    var snap = Number(calendar.dataset.snap) || 15;
    var days = Array.prototype.slice.call(calendar.querySelectorAll(".fw-cal-day"));

    function percent(minute) {
      return ((minute - first) / span) * 100;
    }

    function place(element, start, end) {
      var top = Math.max(percent(start), 0);
      element.style.top = top + "%";
      element.style.height = Math.max(Math.min(percent(end), 100) - top, 0) + "%";
    }

    // Overlapping blocks of a day share its width side by side (lanes within a cluster).
    function layoutDay(day) {
      var blocks = Array.prototype.map
        .call(day.querySelectorAll(".fw-cal-visit"), function (element) {
          var start = Number(element.dataset.startMinute);
          return { element: element, start: start, end: start + Number(element.dataset.minutes) };
        })
        .sort(function (a, b) {
          return a.start - b.start || a.end - b.end;
        });
      var cluster = [];
      var clusterEnd = -Infinity;
      function flush() {
        var lanes = [];
        cluster.forEach(function (block) {
          var lane = lanes.findIndex(function (end) {
            return end <= block.start;
          });
          if (lane < 0) {
            lane = lanes.length;
            lanes.push(0);
          }
          lanes[lane] = block.end;
          block.lane = lane;
        });
        cluster.forEach(function (block) {
          block.lanes = lanes.length;
        });
        cluster = [];
      }
      blocks.forEach(function (block) {
        if (block.start >= clusterEnd) {
          flush();
          clusterEnd = -Infinity;
        }
        cluster.push(block);
        clusterEnd = Math.max(clusterEnd, block.end);
      });
      flush();
      blocks.forEach(function (block) {
        place(block.element, block.start, block.end);
        block.element.style.left = "calc(" + (block.lane / block.lanes) * 100 + "% + 2px)";
        block.element.style.width = "calc(" + 100 / block.lanes + "% - 4px)";
        block.element.style.right = "auto";
      });
      day.querySelectorAll(".fw-cal-band").forEach(function (band) {
        place(band, Number(band.dataset.startMinute), Number(band.dataset.endMinute));
      });
    }

    days.forEach(layoutDay);

    // A phone shows two or three days at a time: start with today in view.
    var scroller = calendar.parentElement;
    var today = calendar.querySelector(".fw-cal-day.is-today");
    var gutter = calendar.querySelector(".fw-cal-gutter");
    if (today && scroller.scrollWidth > scroller.clientWidth) {
      scroller.scrollLeft = today.offsetLeft - (gutter ? gutter.offsetWidth : 0);
    }

    function dayAt(x) {
      for (var i = 0; i < days.length; i += 1) {
        var rect = days[i].getBoundingClientRect();
        if (x >= rect.left && x < rect.right) {
          return days[i];
        }
      }
      return null;
    }

    // --- drag to move (mouse and pen; touch scrolls, and a tap opens the visit's dialog) ---
    var drag = null;
    var suppressClick = false;

    function restore() {
      var element = drag.element;
      element.classList.remove("is-dragging");
      element.style.transform = "";
      element.style.left = drag.saved.left;
      element.style.width = drag.saved.width;
      place(element, drag.start, drag.start + drag.minutes);
      drag.label.textContent = drag.saved.label;
    }

    function onMove(event) {
      if (!drag || event.pointerId !== drag.pointerId) {
        return;
      }
      if (!drag.moved) {
        if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) < 6) {
          return;
        }
        drag.moved = true;
        drag.element.classList.add("is-dragging");
        drag.element.style.left = "2px";
        drag.element.style.width = "calc(100% - 4px)";
      }
      event.preventDefault();
      var day = dayAt(event.clientX) || drag.day;
      var rect = day.getBoundingClientRect();
      var minute = first + ((event.clientY - drag.grabY - rect.top) / rect.height) * span;
      minute = Math.round(minute / snap) * snap;
      minute = Math.min(Math.max(minute, first), Math.max(first, last - drag.minutes));
      drag.day = day;
      drag.minute = minute;
      drag.element.style.transform =
        "translateX(" + (rect.left - drag.origin.getBoundingClientRect().left) + "px)";
      place(drag.element, minute, minute + drag.minutes);
      drag.label.textContent = clock(minute);
    }

    function stop() {
      document.removeEventListener("pointermove", onMove);
      document.removeEventListener("pointerup", onUp);
      document.removeEventListener("pointercancel", onCancel);
      document.removeEventListener("keydown", onKey);
      var current = drag;
      drag = null;
      return current;
    }

    function onUp(event) {
      if (!drag || event.pointerId !== drag.pointerId) {
        return;
      }
      var current = drag;
      if (!current.moved) {
        stop();
        return; // a click: the dialog opens
      }
      suppressClick = true;
      var unchanged = current.day === current.origin && current.minute === current.start;
      var form = document.getElementById(current.element.dataset.moveForm);
      var input = form && form.querySelector('input[name="start"]');
      if (unchanged || !input) {
        restore();
        stop();
        return;
      }
      stop();
      input.value = current.day.dataset.date + "T" + clock(current.minute);
      current.element.classList.remove("is-dragging");
      current.element.classList.add("is-saving");
      current.label.textContent = calendar.dataset.movingLabel || clock(current.minute);
      form.submit();
    }

    function onCancel() {
      if (drag) {
        restore();
        stop();
      }
    }

    function onKey(event) {
      if (event.key === "Escape" && drag) {
        if (drag.moved) {
          suppressClick = true;
        }
        restore();
        stop();
      }
    }

    calendar.addEventListener("pointerdown", function (event) {
      var element = event.target.closest(".fw-cal-visit[data-movable]");
      if (!element || event.button !== 0 || event.pointerType === "touch" || drag) {
        return;
      }
      var rect = element.getBoundingClientRect();
      drag = {
        element: element,
        pointerId: event.pointerId,
        x: event.clientX,
        y: event.clientY,
        grabY: event.clientY - rect.top,
        origin: element.parentElement,
        day: element.parentElement,
        start: Number(element.dataset.startMinute),
        minute: Number(element.dataset.startMinute),
        minutes: Number(element.dataset.minutes),
        moved: false,
        label: element.querySelector(".fw-cal-visit-time"),
        saved: { left: element.style.left, width: element.style.width, label: "" },
      };
      drag.saved.label = drag.label.textContent;
      document.addEventListener("pointermove", onMove);
      document.addEventListener("pointerup", onUp);
      document.addEventListener("pointercancel", onCancel);
      document.addEventListener("keydown", onKey);
    });

    // The click that ends a drag must not open the visit's dialog.
    calendar.addEventListener(
      "click",
      function (event) {
        if (suppressClick) {
          suppressClick = false;
          event.preventDefault();
          event.stopPropagation();
        }
      },
      true
    );

    // A click on an empty part of a day opens "Add visit" with that day and time filled in.
    var addModal = document.getElementById("add-visit-modal");
    var addStart = document.getElementById("id_new_start");
    calendar.addEventListener("click", function (event) {
      if (!addModal || !addStart || typeof bootstrap === "undefined" || event.target.closest(".fw-cal-visit")) {
        return;
      }
      var day = event.target.closest(".fw-cal-day");
      if (!day) {
        return;
      }
      var rect = day.getBoundingClientRect();
      var minute = Math.floor((first + ((event.clientY - rect.top) / rect.height) * span) / 30) * 30;
      addStart.value = day.dataset.date + "T" + clock(Math.min(Math.max(minute, first), last - 30));
      bootstrap.Modal.getOrCreateInstance(addModal).show();
    });
  }

  function start() {
    autosubmitPickers();
    var calendar = document.getElementById("week-calendar");
    if (calendar) {
      setUp(calendar);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
