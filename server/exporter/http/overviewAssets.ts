/**
 * The overview page's static assets, served by OverviewPage from this origin (the CSP allows
 * nothing inline and nothing from elsewhere). Plain DOM and SVG, no framework: the script polls
 * overview.json, keeps the history in the tab and redraws the charts. Kept as strings so the build
 * needs no asset step; the script avoids backticks and template placeholders for that reason.
 */

/** How often the page polls, and how much history it keeps (in the browser only). */
export const OVERVIEW_POLL_MS = 3000;
export const OVERVIEW_WINDOW_MINUTES = 10;

export const OVERVIEW_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meter-sfu overview</title>
<link rel="stylesheet" href="overview.css">
<script src="overview.js" defer></script>
</head>
<body>
<header>
<h1>meter-sfu overview</h1>
<p id="status" role="status">loading…</p>
</header>
<section class="tiles" aria-label="now">
<div class="tile"><span class="label">Rooms</span><span class="value" id="rooms-value">–</span></div>
<div class="tile"><span class="label">Peers</span><span class="value" id="peers-value">–</span></div>
<div class="tile"><span class="label">Producers / consumers</span><span class="value" id="streams-value">–</span></div>
<div class="tile"><span class="label">Into the SFU</span><span class="value" id="recv-value">–</span></div>
<div class="tile"><span class="label">Out of the SFU</span><span class="value" id="send-value">–</span></div>
<div class="tile"><span class="label">Worker CPU</span><span class="value" id="cpu-value">–</span></div>
</section>
<section class="charts">
<figure><figcaption>Rooms</figcaption><svg id="rooms-chart" class="chart" viewBox="0 0 640 180" role="img" aria-label="rooms over time"></svg></figure>
<figure><figcaption>Peers</figcaption><svg id="peers-chart" class="chart" viewBox="0 0 640 180" role="img" aria-label="peers over time"></svg></figure>
<figure><figcaption>Bitrate</figcaption><svg id="bitrate-chart" class="chart" viewBox="0 0 640 180" role="img" aria-label="bitrate over time"></svg></figure>
<figure><figcaption>Worker CPU (% of one core)</figcaption><svg id="cpu-chart" class="chart" viewBox="0 0 640 180" role="img" aria-label="worker CPU over time"></svg></figure>
</section>
<footer>
Refreshed every ${OVERVIEW_POLL_MS / 1000} s; this tab keeps the last ${OVERVIEW_WINDOW_MINUTES} minutes (nothing is kept on the server).
<a href="./">exporter</a> · <a href="metrics">/metrics</a> · <a href="overview.json">overview.json</a>
</footer>
</body>
</html>
`;

export const OVERVIEW_CSS = `
:root { color-scheme: light dark; --fg: #1d232a; --muted: #5d6873; --bg: #f6f7f9; --panel: #fff; --grid: #dde2e7; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e8ec; --muted: #9aa5b1; --bg: #15191d; --panel: #1e2429; --grid: #333c44; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem 1.5rem; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1.5rem; flex-wrap: wrap; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
#status { margin: 0; color: var(--muted); }
#status.bad { color: #c0392b; font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .75rem; margin: .75rem 0; }
.tile { background: var(--panel); border-radius: 6px; padding: .6rem .8rem; display: flex; flex-direction: column; }
.label { color: var(--muted); font-size: .8rem; }
.value { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: .75rem; }
figure { margin: 0; background: var(--panel); border-radius: 6px; padding: .5rem .75rem; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
.chart { width: 100%; height: auto; display: block; }
.chart text { fill: var(--muted); font-size: 11px; }
.chart .grid { stroke: var(--grid); stroke-width: 1; }
.chart .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
footer { margin-top: 1rem; color: var(--muted); font-size: .8rem; }
a { color: inherit; }
`;

export const OVERVIEW_SCRIPT = String.raw`'use strict';
(function () {
	var POLL_MS = ${OVERVIEW_POLL_MS};
	var WINDOW_MS = ${OVERVIEW_WINDOW_MINUTES} * 60 * 1000;
	var SVG = 'http://www.w3.org/2000/svg';
	var COLORS = ['#2e86de', '#e67e22', '#27ae60', '#8e44ad', '#c0392b', '#16a085', '#d35400', '#7f8c8d'];
	var W = 640, H = 180, LEFT = 78, RIGHT = 8, TOP = 10, BOTTOM = 22;

	/** {t, rooms, peers, recv, send, cpu: {pid: percent}} per poll, oldest first, in this tab only. */
	var history = [];
	var previous = null;

	function count(v) { return String(Math.round(v)); }
	function bits(v) {
		if (v >= 1e9) return (v / 1e9).toFixed(2) + ' Gbit/s';
		if (v >= 1e6) return (v / 1e6).toFixed(2) + ' Mbit/s';
		if (v >= 1e3) return (v / 1e3).toFixed(1) + ' kbit/s';
		return Math.round(v) + ' bit/s';
	}
	/** Axis labels: short enough for the left margin. */
	function bitsAxis(v) {
		if (v >= 1e6) return +(v / 1e6).toFixed(2) + ' Mb/s';
		if (v >= 1e3) return +(v / 1e3).toFixed(1) + ' kb/s';
		return Math.round(v) + ' b/s';
	}
	function percent(v) { return v.toFixed(v < 10 ? 1 : 0) + ' %'; }
	function text(id, value) { document.getElementById(id).textContent = value; }

	/** The smallest 1-2-5 step times 4 that is at least v, so the y axis has round labels (whole ones for counts). */
	function niceMax(v, integer) {
		if (integer) v = Math.max(v, 4);
		if (!(v > 0)) return 1;
		var step = Math.pow(10, Math.floor(Math.log10(v / 4)));
		var steps = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
		for (var i = 0; i < steps.length; i++) if (steps[i] * step * 4 >= v) return steps[i] * step * 4;
		return 40 * step;
	}

	function el(name, attrs, content) {
		var node = document.createElementNS(SVG, name);
		for (var key in attrs) node.setAttribute(key, String(attrs[key]));
		if (content !== undefined) node.textContent = content;
		return node;
	}

	/** series: [{label, color, values: [{t, v}]}]; format: axis label of a value; integer: a count. */
	function draw(id, series, format, integer) {
		var svg = document.getElementById(id);
		while (svg.firstChild) svg.removeChild(svg.firstChild);
		var last = history.length ? history[history.length - 1].t : Date.now();
		var first = history.length ? history[0].t : last;
		var t0 = last - Math.max(60000, last - first);
		var max = 0, points = 0;
		series.forEach(function (s) {
			s.values.forEach(function (p) { if (p.v > max) max = p.v; });
			points = Math.max(points, s.values.length);
		});
		max = niceMax(max, integer);
		var x = function (t) { return LEFT + (t - t0) / (last - t0 || 1) * (W - LEFT - RIGHT); };
		var y = function (v) { return TOP + (1 - v / max) * (H - TOP - BOTTOM); };
		for (var i = 0; i <= 4; i++) {
			var v = max * i / 4;
			svg.appendChild(el('line', { class: 'grid', x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v) }));
			svg.appendChild(el('text', { x: LEFT - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
		}
		var minutes = Math.round((last - t0) / 60000);
		svg.appendChild(el('text', { x: LEFT, y: H - 6 }, '−' + minutes + ' min'));
		svg.appendChild(el('text', { x: W - RIGHT, y: H - 6, 'text-anchor': 'end' }, 'now'));
		series.forEach(function (s, index) {
			var coords = s.values.map(function (p) { return x(p.t).toFixed(1) + ',' + y(p.v).toFixed(1); }).join(' ');
			if (s.values.length > 1) svg.appendChild(el('polyline', { class: 'line', stroke: s.color, points: coords }));
			if (s.values.length > 0) {
				var end = s.values[s.values.length - 1];
				svg.appendChild(el('circle', { cx: x(end.t), cy: y(end.v), r: 3, fill: s.color }));
			}
			if (series.length > 1) {
				// Legend along the time axis: a swatch in the line's colour, then the name.
				var lx = LEFT + 70 + index * 130;
				svg.appendChild(el('line', { class: 'line', stroke: s.color, x1: lx, x2: lx + 16, y1: H - 10, y2: H - 10 }));
				svg.appendChild(el('text', { x: lx + 20, y: H - 6 }, s.label));
			}
		});
		svg.setAttribute('data-points', String(points));
	}

	function column(key) {
		return history.map(function (h) { return { t: h.t, v: h[key] }; });
	}

	function render() {
		draw('rooms-chart', [{ label: 'rooms', color: COLORS[0], values: column('rooms') }], count, true);
		draw('peers-chart', [{ label: 'peers', color: COLORS[0], values: column('peers') }], count, true);
		draw('bitrate-chart', [
			{ label: 'into the SFU', color: COLORS[0], values: column('recv') },
			{ label: 'out of the SFU', color: COLORS[1], values: column('send') }
		], bitsAxis);
		var pids = [];
		history.forEach(function (h) { for (var pid in h.cpu) if (pids.indexOf(pid) < 0) pids.push(pid); });
		draw('cpu-chart', pids.map(function (pid, i) {
			return {
				label: 'worker ' + pid, color: COLORS[i % COLORS.length],
				values: history.filter(function (h) { return pid in h.cpu; }).map(function (h) { return { t: h.t, v: h.cpu[pid] }; })
			};
		}), percent);
	}

	function add(sample) {
		var cpu = {}, cpuTotal = null;
		if (previous && sample.at > previous.at) {
			var seconds = (sample.at - previous.at) / 1000;
			sample.workers.forEach(function (w) {
				var before = previous.workers.filter(function (p) { return p.pid === w.pid; })[0];
				// A replaced worker starts from zero: no rate across the restart.
				if (before && w.cpuSeconds >= before.cpuSeconds) {
					cpu[w.pid] = (w.cpuSeconds - before.cpuSeconds) / seconds * 100;
					cpuTotal = (cpuTotal || 0) + cpu[w.pid];
				}
			});
		}
		if (!previous || sample.at > previous.at) {
			history.push({ t: sample.at, rooms: sample.rooms, peers: sample.peers, recv: sample.bitrate.recv, send: sample.bitrate.send, cpu: cpu });
			previous = sample;
		}
		while (history.length && history[0].t < sample.at - WINDOW_MS) history.shift();
		text('rooms-value', count(sample.rooms));
		text('peers-value', count(sample.peers));
		text('streams-value', count(sample.producers) + ' / ' + count(sample.consumers));
		text('recv-value', bits(sample.bitrate.recv));
		text('send-value', bits(sample.bitrate.send));
		if (cpuTotal !== null) text('cpu-value', percent(cpuTotal));
	}

	function status(message, bad) {
		var node = document.getElementById('status');
		node.textContent = message;
		node.className = bad ? 'bad' : '';
	}

	function poll() {
		if (document.hidden) {
			setTimeout(poll, POLL_MS);
			return;
		}
		fetch('overview.json', { cache: 'no-store', credentials: 'same-origin' }).then(function (response) {
			if (!response.ok) throw new Error('overview.json: HTTP ' + response.status);
			return response.json();
		}).then(function (sample) {
			add(sample);
			render();
			var when = new Date(sample.at).toLocaleTimeString();
			if (!sample.up) status('exporter not connected to the server (' + when + ')', true);
			else status('updated ' + when + (sample.timedOut ? ' (snapshot hit its deadline: partial)' : ''), sample.timedOut);
		}).catch(function (error) {
			status(String(error.message || error), true);
		}).then(function () {
			setTimeout(poll, POLL_MS);
		});
	}

	render();
	poll();
})();
`;
