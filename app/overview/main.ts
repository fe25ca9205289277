/**
 * The overview page on the metrics port (server/exporter/http/OverviewPage.ts serves it): polls
 * overview.json, keeps the last minutes in this tab only and redraws plain SVG charts. No
 * framework, nothing inline (the page's CSP forbids it).
 */
import type { OverviewSample } from '../../server/exporter/http/OverviewPage.js';

const POLL_MS = 3000;
const WINDOW_MINUTES = 10;
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2e86de', '#e67e22', '#27ae60', '#8e44ad', '#c0392b', '#16a085', '#d35400', '#7f8c8d'];
const W = 640;
const H = 180;
const LEFT = 78;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 22;

type Point = { t: number; v: number };
type Series = { label: string; color: string; values: Point[] };
/** One poll, oldest first; `cpu` is each worker's % of one core since the poll before. */
type HistoryEntry = { t: number; rooms: number; peers: number; recv: number; send: number; cpu: Map<number, number> };

const history: HistoryEntry[] = [];
let previous: OverviewSample | undefined;

const count = (v: number): string => String(Math.round(v));
const percent = (v: number): string => `${v.toFixed(v < 10 ? 1 : 0)} %`;

function bits(v: number): string {
	if (v >= 1e9) return `${(v / 1e9).toFixed(2)} Gbit/s`;
	if (v >= 1e6) return `${(v / 1e6).toFixed(2)} Mbit/s`;
	if (v >= 1e3) return `${(v / 1e3).toFixed(1)} kbit/s`;
	return `${Math.round(v)} bit/s`;
}

/** Axis labels: short enough for the left margin. */
function bitsAxis(v: number): string {
	if (v >= 1e6) return `${+(v / 1e6).toFixed(2)} Mb/s`;
	if (v >= 1e3) return `${+(v / 1e3).toFixed(1)} kb/s`;
	return `${Math.round(v)} b/s`;
}

function byId(id: string): HTMLElement {
	const node = document.getElementById(id);
	if (!node) throw new Error(`the page has no #${id}`);
	return node;
}

function text(id: string, value: string): void {
	byId(id).textContent = value;
}

/** The smallest 1-2-5 step times 4 that is at least v, so the y axis has round labels (whole ones for counts). */
function niceMax(v: number, integer: boolean): number {
	const top = integer ? Math.max(v, 4) : v;
	if (!(top > 0)) return 1;
	const step = 10 ** Math.floor(Math.log10(top / 4));
	const steps = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
	for (const s of steps) if (s * step * 4 >= top) return s * step * 4;
	return 40 * step;
}

function svgElement(name: string, attrs: Record<string, string | number>, content?: string): SVGElement {
	const node = document.createElementNS(SVG, name);
	for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
	if (content !== undefined) node.textContent = content;
	return node;
}

function draw(id: string, series: Series[], format: (v: number) => string, integer = false): void {
	const svg = byId(id);
	svg.replaceChildren();
	const last = history.at(-1)?.t ?? Date.now();
	const first = history[0]?.t ?? last;
	const t0 = last - Math.max(60_000, last - first);
	let max = 0;
	let points = 0;
	for (const s of series) {
		for (const p of s.values) max = Math.max(max, p.v);
		points = Math.max(points, s.values.length);
	}
	max = niceMax(max, integer);
	const x = (t: number): number => LEFT + ((t - t0) / (last - t0 || 1)) * (W - LEFT - RIGHT);
	const y = (v: number): number => TOP + (1 - v / max) * (H - TOP - BOTTOM);
	for (let i = 0; i <= 4; i++) {
		const v = (max * i) / 4;
		svg.append(svgElement('line', { class: 'grid', x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v) }));
		svg.append(svgElement('text', { x: LEFT - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
	}
	svg.append(svgElement('text', { x: LEFT, y: H - 6 }, `−${Math.round((last - t0) / 60_000)} min`));
	svg.append(svgElement('text', { x: W - RIGHT, y: H - 6, 'text-anchor': 'end' }, 'now'));
	series.forEach((s, index) => {
		if (s.values.length > 1) {
			const coords = s.values.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
			svg.append(svgElement('polyline', { class: 'line', stroke: s.color, points: coords }));
		}
		const end = s.values.at(-1);
		if (end) svg.append(svgElement('circle', { cx: x(end.t), cy: y(end.v), r: 3, fill: s.color }));
		if (series.length > 1) {
			// Legend along the time axis: a swatch in the line's colour, then the name.
			const lx = LEFT + 70 + index * 130;
			svg.append(svgElement('line', { class: 'line', stroke: s.color, x1: lx, x2: lx + 16, y1: H - 10, y2: H - 10 }));
			svg.append(svgElement('text', { x: lx + 20, y: H - 6 }, s.label));
		}
	});
	svg.setAttribute('data-points', String(points));
}

function column(key: 'rooms' | 'peers' | 'recv' | 'send'): Point[] {
	return history.map((h) => ({ t: h.t, v: h[key] }));
}

function render(): void {
	draw('rooms-chart', [{ label: 'rooms', color: COLORS[0]!, values: column('rooms') }], count, true);
	draw('peers-chart', [{ label: 'peers', color: COLORS[0]!, values: column('peers') }], count, true);
	draw(
		'bitrate-chart',
		[
			{ label: 'into the SFU', color: COLORS[0]!, values: column('recv') },
			{ label: 'out of the SFU', color: COLORS[1]!, values: column('send') }
		],
		bitsAxis
	);
	const pids = [...new Set(history.flatMap((h) => [...h.cpu.keys()]))];
	draw(
		'cpu-chart',
		pids.map((pid, i) => ({
			label: `worker ${pid}`,
			color: COLORS[i % COLORS.length]!,
			values: history.filter((h) => h.cpu.has(pid)).map((h) => ({ t: h.t, v: h.cpu.get(pid)! }))
		})),
		percent
	);
}

function add(sample: OverviewSample): void {
	const cpu = new Map<number, number>();
	if (previous && sample.at > previous.at) {
		const seconds = (sample.at - previous.at) / 1000;
		for (const w of sample.workers) {
			const before = previous.workers.find((p) => p.pid === w.pid);
			// A replaced worker starts from zero: no rate across the restart.
			if (before && w.cpuSeconds >= before.cpuSeconds) cpu.set(w.pid, ((w.cpuSeconds - before.cpuSeconds) / seconds) * 100);
		}
	}
	if (!previous || sample.at > previous.at) {
		history.push({ t: sample.at, rooms: sample.rooms, peers: sample.peers, recv: sample.bitrate.recv, send: sample.bitrate.send, cpu });
		previous = sample;
	}
	while (history.length > 0 && history[0]!.t < sample.at - WINDOW_MINUTES * 60_000) history.shift();
	text('rooms-value', count(sample.rooms));
	text('peers-value', count(sample.peers));
	text('streams-value', `${count(sample.producers)} / ${count(sample.consumers)}`);
	text('recv-value', bits(sample.bitrate.recv));
	text('send-value', bits(sample.bitrate.send));
	if (cpu.size > 0) text('cpu-value', percent([...cpu.values()].reduce((a, b) => a + b, 0)));
}

function status(message: string, bad: boolean): void {
	const node = byId('status');
	node.textContent = message;
	node.className = bad ? 'bad' : '';
}

async function poll(): Promise<void> {
	if (!document.hidden) {
		try {
			const response = await fetch('overview.json', { cache: 'no-store', credentials: 'same-origin' });
			if (!response.ok) throw new Error(`overview.json: HTTP ${response.status}`);
			const sample = (await response.json()) as OverviewSample;
			add(sample);
			render();
			const when = new Date(sample.at).toLocaleTimeString();
			if (!sample.up) status(`exporter not connected to the server (${when})`, true);
			else status(`updated ${when}${sample.timedOut ? ' (snapshot hit its deadline: partial)' : ''}`, sample.timedOut);
		} catch (error) {
			status(error instanceof Error ? error.message : String(error), true);
		}
	}
	setTimeout(() => void poll(), POLL_MS);
}

text(
	'refresh-note',
	`Refreshed every ${POLL_MS / 1000} s; this tab keeps the last ${WINDOW_MINUTES} minutes (nothing is kept on the server).`
);
render();
void poll();
