/*
 * Watchfloor live watch desk in the browser (clientside callbacks, namespace "watchfloor"):
 * pausing the poll, the theme and wall-mode classes, the alert sound and the view URL.
 */
(function () {
  "use strict";

  var dc = window.dash_clientside || {};
  window.dash_clientside = Object.assign({}, dc, {
    watchfloor: Object.assign({}, dc.watchfloor, {
      /* The poll interval is disabled while "Pause live" is ticked. */
      pauseLive: function (value) {
        return Boolean(value && value.length);
      },
      /* The data version for the timeline, handed on at most every 30 seconds: its bars count
       * days, and redrawing them for every poll under a stream of reports is wasted work. */
      timelineToken: function (version, _tick, current) {
        if (typeof version !== "string") { return window.dash_clientside.no_update; }
        var now = Date.now();
        if (current && current.v === version) { return window.dash_clientside.no_update; }
        if (current && now - current.at < 30000) { return window.dash_clientside.no_update; }
        return {v: version, at: now};
      },
      /* The flags part of the data version ("<events>.<flags>") and the minute, handed on only
       * when one changed: the flag queue and alerts do not reload for every new event, and a
       * snoozed flag still wakes within a minute of its time. */
      flagToken: function (version, _tick, current) {
        if (typeof version !== "string") { return window.dash_clientside.no_update; }
        var minute = Math.floor(Date.now() / 60000);
        var token = version.split(".").slice(1).join(".") + "@" + minute;
        return token === current ? window.dash_clientside.no_update : token;
      },
      /* Theme and wall mode are classes on the page shell (assets/watchfloor.css). */
      shellClass: function (theme, wall) {
        var names = ["wf-shell"];
        if (theme === "dark") { names.push("wf-dark"); }
        if (wall && wall.length) { names.push("wf-wall"); }
        return names.join(" ");
      },
      /* Play the alert once per new flag when sound is on; a blocked autoplay is ignored. */
      alertSound: function (alert) {
        if (alert && alert.play) {
          try {
            var played = new Audio(alert.play).play();
            if (played && played.catch) { played.catch(function () { return null; }); }
          } catch (e) { /* no audio device: the toast and badge still show */ }
        }
        return window.dash_clientside.no_update;
      },
      /* The address bar follows the view without adding history entries. */
      replaceUrl: function (query) {
        if (typeof query !== "string") { return window.dash_clientside.no_update; }
        window.history.replaceState(window.history.state, "", window.location.pathname + query);
        return window.dash_clientside.no_update;
      }
    })
  });
})();
