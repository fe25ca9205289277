/**
 * The bench's chart: scrape latency (p50, ms) against consumers for the exporter, the sequential
 * sweep and the concurrent floor, as a hand-written SVG (no dependencies, readable in any browser
 * and on GitHub).
 */
export type ChartPoint = { consumers: number; exporterMs: number; sequentialMs: number; floorMs: number };

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { left: 64, right: 24, top: 40, bottom: 56 };
const SERIES = [
	{ key: 'sequentialMs', name: 'sequential getStats (edumeet)', color: '#d62728', dash: '6 4' },
	{ key: 'exporterMs', name: 'exporter /metrics', color: '#1f77b4', dash: '' },
	{ key: 'floorMs', name: 'concurrent floor (Promise.all)', color: '#2ca02c', dash: '2 3' }
] as const;

/** A round step for about five ticks from 0 to `max`. */
function tickStep(max: number): number {
	const raw = max / 5;
	const power = 10 ** Math.floor(Math.log10(raw));
	const scaled = raw / power;
	return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function latencyChart(points: readonly ChartPoint[], { title, subtitle }: { title: string; subtitle: string }): string {
	const sorted = [...points].sort((a, b) => a.consumers - b.consumers);
	const maxX = Math.max(1, ...sorted.map((p) => p.consumers));
	const maxY = Math.max(1, ...sorted.flatMap((p) => [p.exporterMs, p.sequentialMs, p.floorMs]));
	const xStep = tickStep(maxX);
	const yStep = tickStep(maxY);
	const xTop = Math.ceil(maxX / xStep) * xStep;
	const yTop = Math.ceil(maxY / yStep) * yStep;
	const plotW = WIDTH - MARGIN.left - MARGIN.right;
	const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
	const x = (v: number): number => MARGIN.left + (v / xTop) * plotW;
	const y = (v: number): number => MARGIN.top + plotH - (v / yTop) * plotH;
	const out: string[] = [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
		`<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
		`<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escape(title)}</text>`,
		`<text x="${WIDTH / 2}" y="33" text-anchor="middle" fill="#555">${escape(subtitle)}</text>`
	];
	for (let v = 0; v <= yTop + 1e-9; v += yStep) {
		out.push(
			`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`
		);
		out.push(`<text x="${MARGIN.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${+v.toPrecision(6)}</text>`);
	}
	for (let v = 0; v <= xTop + 1e-9; v += xStep) {
		out.push(
			`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" stroke="#333"/>`
		);
		out.push(`<text x="${x(v).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${+v.toPrecision(6)}</text>`);
	}
	out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
	out.push(
		`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`
	);
	out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">consumers</text>`);
	out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">p50 latency, ms</text>`);
	for (const s of SERIES) {
		const coords = sorted.map((p) => `${x(p.consumers).toFixed(1)},${y(p[s.key]).toFixed(1)}`);
		out.push(
			`<polyline points="${coords.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`
		);
		for (const p of sorted) {
			out.push(
				`<circle cx="${x(p.consumers).toFixed(1)}" cy="${y(p[s.key]).toFixed(1)}" r="3.5" fill="${s.color}"><title>${escape(`${s.name}: ${p[s.key]} ms at ${p.consumers} consumers`)}</title></circle>`
			);
		}
	}
	SERIES.forEach((s, i) => {
		const ly = MARGIN.top + 12 + i * 18;
		const lx = MARGIN.left + 12;
		out.push(
			`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`
		);
		out.push(`<text x="${lx + 30}" y="${ly + 4}">${escape(s.name)}</text>`);
	});
	out.push('</svg>');
	return `${out.join('\n')}\n`;
}
