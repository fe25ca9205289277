import '../server/workerBinary.js';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer } from './support/signallingServer.js';
import { SignallingClient } from './support/signallingClient.js';
import { startPrometheus, type PrometheusInstance, type QuerySample } from './support/prometheus.js';
import { ALERT_RULES } from './support/prometheusExample.js';
import { ReportingReceiver } from './support/ReportingReceiver.js';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';

// The Grafana dashboards in config/grafana: their structure, and every PromQL expression in them
// (panels and template variables) evaluated by a real Prometheus scraping a live server with
// synthetic peers. An expression that errors or has no data fails, naming its panel.

const DASHBOARD_DIR = path.resolve('config/grafana');
const DASHBOARD_FILES = ['meter-sfu-fleet.json', 'meter-sfu-server.json'];
const JOB = 'meter-sfu';

type Target = { expr?: string; refId?: string; datasource?: { type?: string; uid?: string } };
type Panel = {
	id: number;
	type: string;
	title: string;
	description?: string;
	gridPos: { x: number; y: number; w: number; h: number };
	datasource?: { type?: string; uid?: string };
	targets?: Target[];
};
type Variable = { name: string; type: string; query?: string | { query: string }; datasource?: { uid?: string } };
type Dashboard = {
	uid: string;
	title: string;
	schemaVersion: number;
	tags: string[];
	panels: Panel[];
	templating: { list: Variable[] };
	__inputs?: { name: string; type: string; pluginId: string }[];
	links: { type: string; tags?: string[] }[];
};

const dashboards = DASHBOARD_FILES.map((file) => ({
	file,
	dashboard: JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, file), 'utf8')) as Dashboard
}));

/** Grafana's built-in variables, with the values Grafana would give them for "last 5 minutes" on a 15 s data source. */
const BUILTINS: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '5m' };

/** `$name` and `${name}` replaced from `values`; any variable left over is an error. */
function substitute(expr: string, values: Record<string, string>): string {
	const result = expr.replace(
		/\$\{(\w+)\}|\$(\w+)/g,
		(whole, braced: string | undefined, bare: string | undefined) => values[braced ?? bare!] ?? whole
	);
	assert.doesNotMatch(result, /\$/, `unresolved variable in ${expr}`);
	return result;
}

/** Every expression of a dashboard: panel targets, named "dashboard / panel [refId]". */
function panelExpressions(): { where: string; expr: string }[] {
	return dashboards.flatMap(({ dashboard }) =>
		dashboard.panels.flatMap((panel) =>
			(panel.targets ?? []).map((target) => ({
				where: `${dashboard.title} / ${panel.title} [${target.refId}]`,
				expr: target.expr ?? ''
			}))
		)
	);
}

function variableQuery(variable: Variable): string {
	return typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
}

/** Families documented in prom.md, with `mediasoup_P_*` expanded for producers and consumers. */
function documentedFamilies(): Set<string> {
	const names = [...fs.readFileSync('prom.md', 'utf8').matchAll(/`((?:edumeet|mediasoup|meter_sfu)_[a-zA-Z_]+)`/g)].map((m) => m[1]!);
	return new Set(
		names.flatMap((name) =>
			name.startsWith('mediasoup_P_') ? ['producer', 'consumer'].map((p) => name.replace('_P_', `_${p}_`)) : [name]
		)
	);
}

test('dashboards: schema 39, DS_PROMETHEUS everywhere, instance variable, unique ids, no overlapping panels, documented metrics', () => {
	const documented = documentedFamilies();
	const uids = new Set<string>();
	for (const { file, dashboard } of dashboards) {
		assert.equal(dashboard.schemaVersion, 39, file);
		assert.ok(!uids.has(dashboard.uid), `${file}: uid ${dashboard.uid} is unique`);
		uids.add(dashboard.uid);
		assert.ok(dashboard.tags.includes('meter-sfu'), `${file} is tagged meter-sfu`);
		assert.ok(
			dashboard.links.some((l) => l.type === 'dashboards' && l.tags?.includes('meter-sfu')),
			`${file} links the other meter-sfu dashboards`
		);
		assert.deepEqual(
			dashboard.__inputs?.map((i) => [i.name, i.type, i.pluginId]),
			[['DS_PROMETHEUS', 'datasource', 'prometheus']],
			`${file}: import input`
		);

		const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
		assert.equal(
			variables.get('DS_PROMETHEUS')?.type,
			'datasource',
			`${file}: DS_PROMETHEUS variable (for provisioning without import)`
		);
		assert.equal(variables.get('instance')?.type, 'query', `${file}: instance variable`);
		for (const variable of variables.values()) {
			if (variable.type === 'query') assert.equal(variable.datasource?.uid, '${DS_PROMETHEUS}', `${file}: variable ${variable.name}`);
		}

		const ids = new Set<number>();
		const placed: Panel[] = [];
		for (const panel of dashboard.panels) {
			const where = `${file} / ${panel.title}`;
			assert.ok(!ids.has(panel.id), `${where}: id ${panel.id} is unique`);
			ids.add(panel.id);
			const { x, y, w, h } = panel.gridPos;
			assert.ok(x >= 0 && w > 0 && h > 0 && x + w <= 24 && y >= 0, `${where}: gridPos inside 24 columns`);
			for (const other of placed) {
				const g = other.gridPos;
				const overlap = x < g.x + g.w && g.x < x + w && y < g.y + g.h && g.y < y + h;
				assert.ok(!overlap, `${where} overlaps ${other.title}`);
			}
			placed.push(panel);
			if (panel.type === 'row') continue;
			assert.ok(panel.title && panel.description, `${where}: title and description`);
			assert.equal(panel.datasource?.uid, '${DS_PROMETHEUS}', `${where}: panel data source`);
			assert.ok((panel.targets ?? []).length > 0, `${where}: has queries`);
			const refIds = new Set<string>();
			for (const target of panel.targets ?? []) {
				assert.equal(target.datasource?.uid, '${DS_PROMETHEUS}', `${where}: target data source`);
				assert.ok(target.expr && target.refId && !refIds.has(target.refId), `${where}: expr and a unique refId`);
				refIds.add(target.refId);
				for (const variable of target.expr.matchAll(/\$\{?(\w+)/g)) {
					assert.ok(variables.has(variable[1]!) || variable[1]! in BUILTINS, `${where}: $${variable[1]} is defined`);
				}
				for (const family of target.expr.matchAll(/\b((?:edumeet|mediasoup|meter_sfu)_\w+)/g)) {
					const name = family[1]!.replace(/_(bucket|count|sum)$/, '');
					assert.ok(documented.has(name), `${where}: ${family[1]} is documented in prom.md`);
				}
			}
		}
	}
});

describe('against a live server scraped by a real Prometheus', () => {
	let server: TestServer;
	let prometheus: PrometheusInstance;
	let instance: string;
	const peers: SyntheticPeer[] = [];
	let reporter: ReportingReceiver | undefined;
	const clients: SignallingClient[] = [];

	before(async () => {
		// room.maxPeers 4: room alpha is full (3 senders and the RTCP reporter), beta half full.
		server = await startTestServer({ syntheticPeers: { enabled: true }, room: { maxPeers: 4 } });
		instance = new URL(server.server.metricsUrl!).host;
		prometheus = await startPrometheus({ jobs: [{ job: JOB, targets: [instance] }], ruleFiles: [ALERT_RULES] });
		// Peers join once Prometheus is scraping, so the rates over the joins have samples on both sides.
		await prometheus.waitForQuery(`edumeet_rooms{job="${JOB}"}`, (r) => r.length === 1, 60_000);
		for (const [roomId, count] of [
			['alpha', 3],
			['beta', 2]
		] as const) {
			for (let i = 0; i < count; i++)
				peers.push(await SyntheticPeer.create({ url: server.url, roomId, displayName: `${roomId} ${i}`, videoBitrate: 150_000 }));
		}
		reporter = await ReportingReceiver.create({ url: server.url, roomId: 'alpha' });
		// A refused join (the room is full), so the signalling error panels have an error to show.
		const late = await SignallingClient.connect(server.url);
		clients.push(late);
		const lateJoin = async (): Promise<void> => {
			const { routerRtpCapabilities } = await late.requestOk('getRouterRtpCapabilities', { roomId: 'alpha' });
			const refused = await late.request('join', { roomId: 'alpha', displayName: 'late', rtpCapabilities: routerRtpCapabilities });
			assert.equal(refused.ok ? 'joined' : refused.error.name, 'RoomFullError');
		};
		await lateJoin();
		// The server's request counters appear with the first request of each method and result, so
		// rate() cannot see that first step: ask again once Prometheus has the series.
		await prometheus.waitForQuery(
			`edumeet_signalling_requests_total{job="${JOB}", result="RoomFullError"}`,
			(r) => r.length === 1,
			30_000
		);
		await lateJoin();
	});

	after(async () => {
		for (const client of clients) client.close();
		reporter?.close();
		for (const peer of peers) await peer.close();
		await prometheus?.stop();
		await server?.close();
	});

	test('every panel expression returns data (variables substituted), polled until ready', async () => {
		const values = { ...BUILTINS, DS_PROMETHEUS: 'unused', job: JOB, instance, room: '.*' };
		const expressions = panelExpressions().map(({ where, expr }) => ({ where, expr: substitute(expr, values) }));
		assert.ok(expressions.length >= 60, `${expressions.length} expressions`);
		// Rates need two samples after the peers joined and round-trip times a sender report and
		// its answer: poll until every expression has data, then report the ones that never did.
		const deadline = Date.now() + 60_000;
		let failures: string[];
		for (;;) {
			failures = [];
			for (const { where, expr } of expressions) {
				let result: QuerySample[];
				try {
					result = await prometheus.query(expr);
				} catch (error) {
					failures.push(`${where}: ${(error as Error).message}\n    ${expr}`);
					continue;
				}
				if (!result.some((s) => Number.isFinite(s.value)))
					failures.push(`${where}: ${result.length === 0 ? 'no data' : 'only NaN/Inf'}\n    ${expr}`);
			}
			if (failures.length === 0 || Date.now() > deadline) break;
			await new Promise((resolve) => setTimeout(resolve, 1000));
		}
		assert.deepEqual(failures, [], `expressions without data:\n${failures.join('\n')}`);

		// Spot checks that the numbers are the live ones, not just present.
		const one = async (expr: string): Promise<number> => (await prometheus.query(substitute(expr, values)))[0]!.value;
		assert.equal(await one('sum(edumeet_peers_by_client{job="$job", instance=~"$instance"})'), 6);
		assert.equal(await one('edumeet_room_max_peers{job="$job", instance="$instance"}'), 4);
		const rtt = await one('max(mediasoup_consumer_round_trip_seconds{job="$job", instance="$instance"})');
		assert.ok(rtt > 0.015 && rtt < 0.5, `round trip ${rtt} s reflects the reporter's simulated 20 ms`);
		const bitrateIn = await one('sum(mediasoup_bitrate_bps{job="$job", instance=~"$instance", direction="recv"})');
		assert.ok(bitrateIn > 5 * 100_000, `bitrate in ${bitrateIn} bps from 5 senders`);
	});

	test('every template variable query finds values', async () => {
		const values = { job: JOB, instance };
		for (const { dashboard } of dashboards) {
			for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
				const query = substitute(variableQuery(variable), values);
				const match = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
				assert.ok(match, `${dashboard.title} / $${variable.name}: label_values(selector, label), got ${query}`);
				const series = await prometheus.api<Record<string, string>[]>(`/api/v1/series?match[]=${encodeURIComponent(match[1]!)}`);
				const found = [...new Set(series.map((s) => s[match[2]!]).filter((v) => v !== undefined))].sort();
				assert.ok(found.length > 0, `${dashboard.title} / $${variable.name}: no values for ${query}`);
				if (variable.name === 'instance') assert.deepEqual(found, [instance]);
				if (variable.name === 'room') assert.deepEqual(found, ['alpha', 'beta']);
			}
		}
	});

	test('alert rules evaluate without errors on live data; only the full room is pending MeterSfuRoomNearPeerLimit, nothing fires', async () => {
		type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
		const rulesReady = async (): Promise<Rule[]> => {
			const deadline = Date.now() + 30_000;
			for (;;) {
				const { groups } = await prometheus.api<{ groups: { rules: Rule[] }[] }>('/api/v1/rules');
				const rules = groups.flatMap((g) => g.rules);
				if (rules.length > 0 && rules.every((r) => !r.lastEvaluation.startsWith('0001'))) return rules;
				if (Date.now() > deadline) assert.fail(`rules not evaluated: ${JSON.stringify(rules)}`);
				await new Promise((resolve) => setTimeout(resolve, 250));
			}
		};
		const rules = await rulesReady();
		assert.equal(rules.length, 8);
		for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);

		type Alert = { labels: Record<string, string>; state: string };
		const deadline = Date.now() + 30_000;
		let alerts: Alert[];
		for (;;) {
			alerts = (await prometheus.api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts;
			if (alerts.some((a) => a.labels.alertname === 'MeterSfuRoomNearPeerLimit') || Date.now() > deadline) break;
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
		const nearLimit = alerts.filter((a) => a.labels.alertname === 'MeterSfuRoomNearPeerLimit');
		assert.deepEqual(
			nearLimit.map((a) => [a.labels.room_id, a.labels.instance, a.state]),
			[['alpha', instance, 'pending']],
			'alpha (4 of 4) is near its limit, beta (2 of 4) is not'
		);
		// Other rules may go pending for a moment on a loaded machine (a slow scrape), but every rule
		// has a `for` longer than this test except MeterSfuWorkerDied, and no worker died.
		assert.deepEqual(
			alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname),
			[]
		);
	});
});
