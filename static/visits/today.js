/* Today: the route on a Leaflet map. Data comes from the json_script "today-map-data".
   The base and stops are markers and the route a polyline: vector layers that draw
   whether or not the tile server answers (offline the map is blank behind them). */
(function () {
  "use strict";

  function autosubmitPickers() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        select.form.submit();
      });
    });
  }

  function markerIcon(text, extraClass) {
    return L.divIcon({
      className: "fw-map-marker" + (extraClass ? " " + extraClass : ""),
      html: String(text),
      iconSize: [26, 26],
      iconAnchor: [13, 13],
      popupAnchor: [0, -13],
    });
  }

  function stopPopup(stop) {
    // Built as DOM nodes: a customer name is text, never HTML.
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = stop.url;
    link.textContent = stop.n + ". " + stop.name;
    var when = document.createElement("div");
    when.className = "small text-body-secondary";
    when.textContent = stop.time;
    box.appendChild(link);
    box.appendChild(when);
    return box;
  }

  function drawMap() {
    var element = document.getElementById("today-map");
    var source = document.getElementById("today-map-data");
    if (!element || !source || typeof L === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var base = data.base ? [data.base.lat, data.base.lon] : null;
    var stops = data.stops || [];
    if (!base && !stops.length) {
      element.classList.add("d-flex", "align-items-center", "justify-content-center", "text-body-secondary");
      element.textContent = element.dataset.emptyLabel || "";
      return;
    }
    var map = L.map(element, { scrollWheelZoom: false });
    L.tileLayer(data.tiles.url, { maxZoom: 19, attribution: data.tiles.attribution }).addTo(map);

    var route = [];
    if (base) {
      route.push(base);
      L.marker(base, { icon: markerIcon("⌂", "is-base"), title: data.base.label, keyboard: false, zIndexOffset: -100 })
        .bindTooltip(data.base.label)
        .addTo(map);
    }
    stops.forEach(function (stop) {
      var point = [stop.lat, stop.lon];
      route.push(point);
      L.marker(point, {
        icon: markerIcon(stop.n, stop.status === "completed" ? "is-done" : ""),
        title: stop.n + ". " + stop.name,
        alt: stop.n + ". " + stop.name,
      })
        .bindPopup(stopPopup(stop))
        .addTo(map);
    });
    if (base && stops.length) {
      route.push(base);
    }
    if (route.length > 1) {
      L.polyline(route, { color: "#1d3557", weight: 4, opacity: 0.75, dashArray: "8 6" }).addTo(map);
    }
    var bounds = L.latLngBounds(route);
    if (route.length === 1 || bounds.getNorthEast().equals(bounds.getSouthWest())) {
      map.setView(route[0], 13);
    } else {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
    }
  }

  function start() {
    autosubmitPickers();
    drawMap();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
