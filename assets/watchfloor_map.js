/*
 * Watchfloor map assembly in the browser (clientside callback "watchfloor.mapFigure").
 *
 * The server sends the figure without hexagon polygons (the map-spec store) and, once per
 * resolution and viewport, the hexagon cells as 64-bit H3 ids in base64 word pairs (the
 * hex-cells store). Here the cells become polygons with h3-js (assets/vendor, served by
 * Watchfloor itself: nothing is fetched from elsewhere), cached until the cells change, and the
 * typed arrays of values (layers/encoding.py) become plain arrays for plotly.
 */
(function () {
  "use strict";

  var TYPES = {
    f4: Float32Array, f8: Float64Array, u1: Uint8Array, u2: Uint16Array,
    u4: Uint32Array, i4: Int32Array
  };

  function bytes(b64) {
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  /* A typed-array spec {dtype, bdata, shape} as a plain array (rows of arrays when 2-D). */
  function decode(spec) {
    if (!spec || typeof spec !== "object" || typeof spec.bdata !== "string") { return spec; }
    var flat = new TYPES[spec.dtype](bytes(spec.bdata).buffer);
    var shape = String(spec.shape || flat.length).split(",").map(Number);
    if (shape.length < 2) {
      return Array.from(flat, function (v) { return Number.isNaN(v) ? null : v; });
    }
    var rows = new Array(shape[0]);
    for (var r = 0; r < shape[0]; r++) {
      rows[r] = Array.from(flat.subarray(r * shape[1], (r + 1) * shape[1]));
    }
    return rows;
  }

  var held = { words: null, geometry: null };

  /* Polygons of the cells in the hex-cells store, rebuilt only when the cells change. */
  function geometry(hex) {
    if (held.words === hex.cells) { return held.geometry; }
    var words = new Uint32Array(bytes(hex.cells).buffer);
    var n = words.length / 2;
    var ids = new Array(n);
    var features = new Array(n);
    for (var i = 0; i < n; i++) {
      var id = window.h3.splitLongToH3Index(words[2 * i], words[2 * i + 1]);
      ids[i] = id;
      features[i] = {
        type: "Feature", id: id,
        geometry: { type: "Polygon", coordinates: [window.h3.cellToBoundary(id, true)] }
      };
    }
    held = {
      words: hex.cells,
      geometry: { locations: ids, geojson: { type: "FeatureCollection", features: features } }
    };
    return held.geometry;
  }

  // Merged into the namespace: other assets (watchfloor_live.js) add functions to it too.
  var dc = window.dash_clientside || {};
  window.dash_clientside = Object.assign({}, dc, {
    watchfloor: Object.assign({}, dc.watchfloor, {
      /* Keep a relayout event only if it is a pan or zoom (it carries map.zoom). */
      mapView: function (relayout) {
        if (!relayout || relayout["map.zoom"] === undefined) {
          return window.dash_clientside.no_update;
        }
        var view = { "map.zoom": relayout["map.zoom"], "map.center": relayout["map.center"] };
        if (relayout["map._derived"]) { view["map._derived"] = relayout["map._derived"]; }
        return view;
      },
      mapFigure: function (spec, hex) {
        if (!spec || !spec.data) { return window.dash_clientside.no_update; }
        var data = spec.data.map(function (trace) {
          if (trace.uid !== "hexes") { return trace; }
          var out = Object.assign({}, trace, {
            z: decode(trace.z), customdata: decode(trace.customdata)
          });
          if (!trace.locations && hex && hex.cells) {
            var g = geometry(hex);
            if (g.locations.length === out.z.length) {
              out.locations = g.locations;
              out.geojson = g.geojson;
            }
          }
          return out;
        });
        return Object.assign({}, spec, { data: data });
      }
    })
  });
})();
