// contactsync settings: shows the UTC times of the page in the browser's
// time zone and relative to now ("3 minutes ago"), and updates the page by
// itself while the server marks something as running (body data-refresh).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";

  function relative(date) {
    if (!window.Intl || !Intl.RelativeTimeFormat) return "";
    var rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    var s = (date.getTime() - Date.now()) / 1000, a = Math.abs(s);
    if (a < 45) return rtf.format(0, "second");
    if (a < 45 * 60) return rtf.format(Math.round(s / 60), "minute");
    if (a < 22 * 3600) return rtf.format(Math.round(s / 3600), "hour");
    if (a < 26 * 86400) return rtf.format(Math.round(s / 86400), "day");
    if (a < 320 * 86400) return rtf.format(Math.round(s / (30 * 86400)), "month");
    return rtf.format(Math.round(s / (365 * 86400)), "year");
  }

  function showTimes(root) {
    var abs = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
    var els = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      var text = abs.format(d), rel = el.hasAttribute("data-relative") ? relative(d) : "";
      el.textContent = rel ? rel + " (" + text + ")" : text;
      el.setAttribute("title", el.getAttribute("datetime"));
    }
  }

  // The page's own URL without a one-time notice (?done=…).
  function pageURL() {
    var u = new URL(window.location.href);
    u.searchParams.delete("done");
    return u.pathname + u.search;
  }

  function typing() {
    var a = document.activeElement, main = document.querySelector("main");
    return a && a !== document.body && main && main.contains(a) && a !== main;
  }

  var timer = 0;
  function schedule(seconds) {
    clearTimeout(timer);
    if (seconds > 0) timer = setTimeout(refresh, seconds * 1000);
  }

  function refresh() {
    fetch(pageURL(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main"), main = document.querySelector("main");
        var every = Number(doc.body.getAttribute("data-refresh")) || 0;
        if (fresh && main && !typing()) {
          main.replaceWith(document.importNode(fresh, true));
          showTimes(document);
          if (every) document.body.setAttribute("data-refresh", String(every));
          else document.body.removeAttribute("data-refresh");
        }
        // Keep going while something runs; once it stopped, one last
        // update has shown the result.
        schedule(every || (typing() ? 5 : 0));
      })
      .catch(function () { schedule(30); });
  }

  showTimes(document);
  if (window.history && window.location.search.indexOf("done=") >= 0) {
    window.history.replaceState(null, "", pageURL() + window.location.hash);
  }
  setInterval(function () { showTimes(document); }, 30000);
  schedule(Number(document.body.getAttribute("data-refresh")) || 0);
})();
