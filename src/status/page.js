// Live refresh: polls status.json every 2 s and updates the page in place. Node figures and
// statuses are written with textContent; when resources or nodes appear or disappear, the
// server-rendered tables are fetched again and swapped in (the server escapes them).
(function () {
  "use strict";
  var shape = null;
  function fmtBytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], u = 0, x = n;
    while (x >= 1024 && u + 1 < units.length) { x /= 1024; u++; }
    return u === 0 ? n + " B" : x.toFixed(1) + " " + units[u];
  }
  function txt(v) { return v === null || v === undefined ? "-" : String(v); }
  function shapeOf(d) {
    var ids = [];
    d.regions.forEach(function (r) {
      ids.push(r.account + "/" + r.region);
      ["clusters", "replication_groups", "serverless", "snapshots"].forEach(function (k) {
        r[k].forEach(function (x) { ids.push(k + ":" + (x.id || x.name)); });
      });
    });
    // Global datastores have no status cell of their own: a new status re-renders the tables.
    d.global_datastores.forEach(function (g) {
      ids.push("global:" + g.id + ":" + g.status + ":" + g.members.map(function (m) {
        return m.replication_group_id + "=" + m.role + "/" + m.status;
      }).join(","));
    });
    d.nodes.forEach(function (n) { ids.push("node:" + n.key + ":" + n.role); });
    return ids.join("\n");
  }
  function setFigures(n) {
    var row = document.querySelector('tr[data-node="' + CSS.escape(n.key) + '"]');
    if (!row) { return; }
    var f = {
      keys: txt(n.keys),
      memory: fmtBytes(n.used_memory) + " / " + (n.maxmemory ? fmtBytes(n.maxmemory) : "no limit"),
      ops: txt(n.ops_per_sec), connections: txt(n.connections), evictions: txt(n.evictions),
      offset: txt(n.replication_offset), lag: txt(n.replication_lag)
    };
    Object.keys(f).forEach(function (k) {
      var cell = row.querySelector('td[data-f="' + k + '"]');
      if (cell && cell.textContent !== f[k]) { cell.textContent = f[k]; }
    });
  }
  function setStatuses(d) {
    function put(kind, r, id, status) {
      var key = kind + "/" + r.account + "/" + r.region + "/" + id;
      var cell = document.querySelector('td[data-status="' + CSS.escape(key) + '"]');
      if (cell && cell.textContent !== status) {
        cell.textContent = status;
        cell.className = "status s-" + status;
      }
    }
    d.regions.forEach(function (r) {
      r.clusters.forEach(function (c) { put("cluster", r, c.id, c.status); });
      r.replication_groups.forEach(function (g) { put("group", r, g.id, g.status); });
      r.serverless.forEach(function (c) { put("serverless", r, c.name, c.status); });
      r.snapshots.forEach(function (s) { put("snapshot", r, s.name, s.status); });
    });
  }
  function swapTables() {
    return fetch("/", { cache: "no-store" }).then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        if (fresh) { document.getElementById("main").replaceChildren.apply(
          document.getElementById("main"), Array.from(fresh.childNodes)); }
      });
  }
  function poll() {
    fetch("/_elasticache_local/status.json", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        var s = shapeOf(d);
        var done = (shape !== null && s !== shape) ? swapTables() : Promise.resolve();
        if (shape === null) { shape = s; }
        return done.then(function () {
          shape = s;
          d.nodes.forEach(setFigures);
          setStatuses(d);
          document.getElementById("uptime").textContent = d.uptime_seconds;
          document.getElementById("refreshed").textContent =
            "refreshed " + new Date().toLocaleTimeString();
        });
      })
      .catch(function (e) {
        document.getElementById("refreshed").textContent = "refresh failed: " + e;
      })
      .finally(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 0);
})();
