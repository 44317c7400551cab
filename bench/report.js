// The HTML report's script (bench/html.go inlines it into every page):
// sortable tables, methods shown or hidden in tables and figures
// together, the fixed-budget / fixed-target switch, and records opened
// from links. No library: the page must open from disk, offline.
(function () {
	"use strict";

	// Sorting. A cell's data-v holds the number it shows ("" for none,
	// sorted last); other cells sort by their text, numbers first.
	function key(cell) {
		var v = cell.getAttribute("data-v");
		if (v !== null) {
			return v === "" ? null : Number(v);
		}
		var t = cell.textContent.trim();
		var n = parseFloat(t.replace(/^[~<≥ ]+|,/g, ""));
		return isNaN(n) ? t : n;
	}
	function compare(a, b) {
		if (a === null || b === null) {
			return a === b ? 0 : (a === null ? 1 : -1);
		}
		if (typeof a === "number" && typeof b === "number") {
			return a < b ? -1 : (a > b ? 1 : 0);
		}
		if (typeof a === "number") {
			return -1;
		}
		if (typeof b === "number") {
			return 1;
		}
		return a.localeCompare(b);
	}
	function sortBy(th) {
		var table = th.closest("table");
		var body = table.tBodies[0];
		var col = Array.prototype.indexOf.call(th.parentNode.children, th);
		var state = th.getAttribute("aria-sort");
		var asc = state ? state !== "ascending" : th.getAttribute("data-first") !== "desc";
		var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
			return {row: row, i: i, k: key(row.children[col])};
		});
		rows.sort(function (x, y) {
			var c = compare(x.k, y.k);
			if (x.k !== null && y.k !== null && !asc) {
				c = -c;
			}
			return c || x.i - y.i;
		});
		rows.forEach(function (r) { body.appendChild(r.row); });
		th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
		th.setAttribute("aria-sort", asc ? "ascending" : "descending");
	}
	document.querySelectorAll("table").forEach(function (table) {
		if (!table.tHead || !table.tBodies.length) {
			return;
		}
		table.tHead.querySelectorAll("th").forEach(function (th) {
			th.tabIndex = 0;
			th.title = "sort by this column";
			th.addEventListener("click", function () { sortBy(th); });
			th.addEventListener("keydown", function (e) {
				if (e.key === "Enter" || e.key === " ") {
					e.preventDefault();
					sortBy(th);
				}
			});
		});
	});

	// Methods shown or hidden: rows, run lists, curves and legend entries
	// carry the method's name (data-alg in tables, data-series in SVG).
	var hidden = {};
	function apply() {
		document.querySelectorAll("[data-alg], [data-series]").forEach(function (el) {
			var name = el.getAttribute("data-alg");
			if (name === null) {
				name = el.getAttribute("data-series");
			}
			el.classList.toggle("off", hidden[name] === true);
		});
	}
	var boxes = document.querySelectorAll("#methods input[data-toggle]");
	boxes.forEach(function (box) {
		box.addEventListener("change", function () {
			hidden[box.getAttribute("data-toggle")] = !box.checked;
			apply();
		});
	});
	function setAll(on) {
		boxes.forEach(function (box) {
			box.checked = on;
			hidden[box.getAttribute("data-toggle")] = !on;
		});
		apply();
	}
	document.getElementById("show-all").addEventListener("click", function () { setAll(true); });
	document.getElementById("show-none").addEventListener("click", function () { setAll(false); });

	// Fixed budget, fixed target, or both.
	document.querySelectorAll("#view input[name=view]").forEach(function (radio) {
		radio.addEventListener("change", function () {
			if (radio.checked) {
				document.body.setAttribute("data-view", radio.value);
			}
		});
	});

	// A link to a run list or a record opens it.
	function openTarget() {
		var id = decodeURIComponent(location.hash.slice(1));
		var el = id ? document.getElementById(id) : null;
		for (; el; el = el.parentElement) {
			if (el.tagName === "DETAILS") {
				el.open = true;
			}
		}
	}
	window.addEventListener("hashchange", openTarget);
	openTarget();
}());
