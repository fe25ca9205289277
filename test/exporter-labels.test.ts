import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { labelValue, MAX_LABEL_CHARS } from '../server/exporter/labels/labelValue.js';
import { AddressLabeler, maskIp } from '../server/exporter/labels/AddressLabeler.js';
import { ReverseDnsCache } from '../server/exporter/labels/ReverseDnsCache.js';
import { GaugeFamily, formatLabelSet, extendLabelSet, seriesLabels } from '../server/exporter/perObject/GaugeFamily.js';
import { LineMemory } from '../server/exporter/perObject/LineMemory.js';
import { createPerObjectSeries } from '../server/exporter/perObject/PerObjectSeries.js';
import { PrecomputedHistogram, countObservations } from '../server/exporter/collectors/PrecomputedHistogram.js';
import { emptyState, type ObservedState, type TransportRecord } from '../server/observer/ObservedState.js';
import { STATS_FIELDS, type StatsRow } from '../server/exporter/snapshot/mediasoupStats.js';
import { startPtrServer, resolverFor } from './support/dnsPtrServer.js';
import { startHeldDnsRelay, resolverForRelay } from './support/heldDnsRelay.js';
import { until } from './support/until.js';

test('labelValue: lone surrogates and control characters become U+FFFD; cut at 128 code points, never inside a pair', () => {
	assert.equal(labelValue('ok "quoted" \\ back\nslash'), 'ok "quoted" \\ back\nslash', "escaping is the exposition's job");
	assert.equal(labelValue('a\uD800b'), 'a\uFFFDb');
	assert.equal(labelValue('a\uDC00b'), 'a\uFFFDb');
	assert.equal(labelValue('end\uD83D'), 'end\uFFFD');
	assert.equal(labelValue('\uD83D\uDE00'), '\uD83D\uDE00', 'a valid pair stays');
	assert.equal(labelValue('nul\u0000bell\u0007cr\rdel\u007Fc1\u0085tab\t'), 'nul\uFFFDbell\uFFFDcr\uFFFDdel\uFFFDc1\uFFFDtab\t');
	const emoji = '😀'.repeat(1000);
	const cut = labelValue(emoji);
	assert.equal([...cut].length, MAX_LABEL_CHARS);
	assert.equal(cut, '😀'.repeat(MAX_LABEL_CHARS));
	const shifted = labelValue(`a${emoji}`);
	assert.equal([...shifted].length, MAX_LABEL_CHARS);
	assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(shifted), 'no half pair at the cut');
	assert.equal(labelValue('x'.repeat(1000)).length, MAX_LABEL_CHARS);
	assert.equal(Buffer.from(labelValue(`${'é'.repeat(200)}\uD800`)).toString(), 'é'.repeat(MAX_LABEL_CHARS), 'round-trips through UTF-8');
});

test('maskIp masks IPv4, IPv6 and IPv4-mapped addresses; AddressLabeler formats per option', () => {
	assert.equal(maskIp('192.168.17.42'), '192.168.x.x');
	assert.equal(maskIp('2001:db8:85a3::8a2e:370:7334'), '2001:db8:x:x:x:x:x:x');
	assert.equal(maskIp('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8:x:x:x:x:x:x');
	assert.equal(maskIp('::1'), '0:0:x:x:x:x:x:x');
	assert.equal(maskIp('fe80::1%eth0'), 'fe80:0:x:x:x:x:x:x');
	assert.equal(maskIp('::ffff:10.1.2.3'), '10.1.x.x');
	assert.equal(maskIp('64:ff9b::10.1.2.3'), '64:ff9b:x:x:x:x:x:x');
	assert.equal(maskIp('not an address'), 'x');

	const deidentified = new AddressLabeler({ deidentify: true, numeric: false });
	assert.equal(deidentified.format('10.1.2.3', 40000), '10.1.x.x:40000');
	assert.equal(deidentified.format('2001:db8::1', 40000), '[2001:db8:x:x:x:x:x:x]:40000');
	assert.equal(deidentified.format('::ffff:10.1.2.3', 5), '10.1.x.x:5');
	assert.equal(deidentified.format('10.1.2.3'), '10.1.x.x', 'no port under quiet');
	const numeric = new AddressLabeler({ deidentify: false, numeric: true });
	assert.equal(numeric.format('10.1.2.3', 40000), '10.1.2.3:40000');
	assert.equal(numeric.format('2001:db8::1', 443), '[2001:db8::1]:443');
});

test('ReverseDnsCache: answers at once, looks up in the background, shows the name on later calls', async () => {
	const ptr = await startPtrServer(new Map([['5.0.0.127.in-addr.arpa', 'sfu.example.test']]));
	// The DNS server holds its answer until released: the calls below return while the look-up is provably pending.
	const relay = await startHeldDnsRelay(ptr);
	const cache = new ReverseDnsCache({ resolver: resolverForRelay(relay), ttlMs: 60_000 });
	try {
		const addresses = new AddressLabeler({ deidentify: false, numeric: false, dns: cache });
		assert.equal(addresses.format('127.0.0.5', 40000), '127.0.0.5:40000', 'the first call shows the IP');
		await until('the look-up to reach the DNS server', () => relay.held === 1);
		assert.equal(addresses.format('127.0.0.5', 40001), '127.0.0.5:40001', 'still the IP while the look-up is held');
		assert.deepEqual(
			[cache.stats, relay.answered],
			[{ lookups: 1, failures: 0, entries: 0 }, 0],
			'both calls answered while the one look-up waited for its answer'
		);
		relay.release();
		await until('the name', () => addresses.format('127.0.0.5', 40000) === 'sfu.example.test:40000');
		assert.equal(
			ptr.queries.filter((q) => q === '5.0.0.127.in-addr.arpa').length,
			1,
			'one query: in-flight look-ups are shared, answers cached'
		);
		assert.equal(cache.stats.lookups, 1);
		for (let i = 0; i < 5; i++) assert.equal(addresses.format('127.0.0.5', 1), 'sfu.example.test:1');
		assert.equal(ptr.queries.length, 1, 'a cached name costs no query');
		assert.equal(cache.name('not-an-ip'), undefined);
	} finally {
		cache.close();
		relay.close();
		ptr.close();
	}
});

test('ReverseDnsCache: a stale name is shown while it is refreshed; failures are remembered and keep the last name', async () => {
	const names = new Map([['2.0.0.127.in-addr.arpa', 'old.example.test']]);
	const ptr = await startPtrServer(names);
	const cache = new ReverseDnsCache({ resolver: resolverFor(ptr), ttlMs: 100, negativeTtlMs: 100 });
	try {
		cache.name('127.0.0.2');
		await until('the first name', () => cache.name('127.0.0.2') === 'old.example.test');
		names.set('2.0.0.127.in-addr.arpa', 'new.example.test');
		await until('the refreshed name', () => {
			const name = cache.name('127.0.0.2');
			assert.ok(name === 'old.example.test' || name === 'new.example.test', `never blank while refreshing, got ${name}`);
			return name === 'new.example.test';
		});
		names.delete('2.0.0.127.in-addr.arpa');
		const failuresBefore = cache.stats.failures;
		await until('an NXDOMAIN answer', () => {
			assert.equal(cache.name('127.0.0.2'), 'new.example.test', 'a failed refresh keeps the last name');
			return cache.stats.failures > failuresBefore;
		});
		assert.equal(cache.name('127.0.0.9'), undefined);
		await until('the NXDOMAIN for an unknown address', () => cache.stats.failures > failuresBefore + 1);
		assert.equal(cache.name('127.0.0.9'), undefined);
	} finally {
		cache.close();
		ptr.close();
	}
});

test('ReverseDnsCache: a DNS server that never answers costs the caller nothing; the query times out in the background', async () => {
	const ptr = await startPtrServer(new Map([['3.0.0.127.in-addr.arpa', 'slow.example.test']]));
	ptr.silent = true;
	const cache = new ReverseDnsCache({ resolver: resolverFor(ptr, 200), negativeTtlMs: 60_000 });
	try {
		for (let i = 0; i < 100; i++) assert.equal(cache.name('127.0.0.3'), undefined);
		assert.deepEqual(cache.stats, { lookups: 1, failures: 0, entries: 0 }, 'the 100 calls returned with the one look-up still pending');
		await until('the query to reach the DNS server', () => ptr.queries.length === 1);
		await until('the query to time out', () => cache.stats.failures === 1);
		assert.equal(cache.stats.lookups, 1, 'one look-up for 100 calls');
		assert.equal(cache.name('127.0.0.3'), undefined, 'the failure is remembered');
		assert.equal(cache.stats.lookups, 1, 'and not retried before its TTL');
	} finally {
		cache.close();
		ptr.close();
	}
});

for (const openMetrics of [false, true]) {
	const format = openMetrics ? 'OpenMetrics' : 'text';
	test(`GaugeFamily folds series that share labels and writes what prom-client writes; PrecomputedHistogram exposes cumulative buckets, and values counted by countObservations as prom-client's Histogram writes them (${format})`, async () => {
		const registry = new Registry() as Registry<RegistryContentType>;
		registry.setContentType(openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
		const sum = new GaugeFamily({ name: 'test_bytes', help: 'h', fold: 'sum', slot: 0 });
		const min = new GaugeFamily({ name: 'test_score', help: 'h', fold: 'min', slot: 1 });
		const max = new GaugeFamily({ name: 'test_jitter_seconds', help: 'h', fold: 'max', slot: 2 });
		for (const [room, value] of [
			['a', 3],
			['a', 5],
			['b', 7],
			['a', Number.NaN],
			['b', undefined]
		] as const) {
			const labelSet = formatLabelSet(['room'], { room });
			sum.add(labelSet, value);
			min.add(labelSet, value);
			max.add(labelSet, value);
		}
		const families = [sum, min, max].map((f) => Buffer.concat(f.render()).toString()).join(openMetrics ? '\n' : '\n\n');
		for (const line of [
			'test_bytes{room="a"} 8',
			'test_bytes{room="b"} 7',
			'test_score{room="a"} 3',
			'test_jitter_seconds{room="a"} 5'
		]) {
			assert.ok(families.split('\n').includes(line), `${line} in\n${families}`);
		}
		assert.ok(!/NaN|Nan/.test(families), 'non-finite values are left out');

		// Byte for byte what prom-client's Gauge writes for the same series, awkward values included.
		const awkward = { pid: '1', name: 'Zoë "the \\ quoter"\nline 2 😀', empty: '' };
		const names = ['pid', 'name', 'empty'];
		const reference = new Registry() as Registry<RegistryContentType>;
		reference.setContentType(registry.contentType);
		const gauge = new Gauge({
			name: 'test_awkward',
			help: 'help with \\ and\nnewline',
			labelNames: [...names, 'state'],
			registers: [reference as Registry]
		});
		const mine = new GaugeFamily({ name: 'test_awkward', help: 'help with \\ and\nnewline', fold: 'sum', slot: 0 });
		for (const [state, value] of [
			['new', 0],
			['connected', 1],
			['closed', 1e21],
			['x', -0.125]
		] as const) {
			gauge.set({ ...awkward, state }, value);
			mine.add(extendLabelSet(formatLabelSet(names, awkward), 'state', state), value);
		}
		const expected = await reference.metrics();
		assert.equal(
			Buffer.concat(mine.render()).toString(),
			expected.slice(0, expected.length - (openMetrics ? '\n# EOF\n' : '\n').length)
		);
		assert.throws(() => new GaugeFamily({ name: 'bad name', help: 'h', fold: 'sum', slot: 0 }), TypeError);

		const histogram = new PrecomputedHistogram({ registry, name: 'test_duration_seconds', help: 'h', buckets: [0.1, 1] });
		histogram.set({ method: 'join' }, { cumulativeCounts: [2, 5], sum: 2.5, count: 6 });
		assert.throws(() => histogram.set({ method: 'x' }, { cumulativeCounts: [1], sum: 0, count: 1 }), TypeError);
		const body = await registry.metrics();
		for (const line of [
			'test_duration_seconds_bucket{le="0.1",method="join"} 2',
			'test_duration_seconds_bucket{le="1",method="join"} 5',
			'test_duration_seconds_bucket{le="+Inf",method="join"} 6',
			'test_duration_seconds_sum{method="join"} 2.5',
			'test_duration_seconds_count{method="join"} 6',
			'# TYPE test_duration_seconds histogram'
		])
			assert.ok(body.split('\n').includes(line), `${line} in\n${body}`);
		assert.ok(!/NaN|Nan/.test(body), 'non-finite values are left out');

		// Values counted by countObservations come out byte for byte as prom-client's Histogram writes them.
		const observed = { producer: [0, 3, 7.5, 10, 10, 11], consumer: [] as number[] };
		const bounds = [0, 1, 5, 10];
		const byPromClient = new Registry() as Registry<RegistryContentType>;
		byPromClient.setContentType(registry.contentType);
		const promHistogram = new Histogram({
			name: 'test_score',
			help: 'h',
			labelNames: ['role'],
			buckets: bounds,
			registers: [byPromClient as Registry]
		});
		const counted = new Registry() as Registry<RegistryContentType>;
		counted.setContentType(registry.contentType);
		const countedHistogram = new PrecomputedHistogram({ registry: counted, name: 'test_score', help: 'h', buckets: bounds });
		for (const role of ['producer', 'consumer'] as const) {
			promHistogram.zero({ role });
			for (const value of observed[role]) promHistogram.observe({ role }, value);
			countedHistogram.set({ role }, countObservations(bounds, [...observed[role], Number.NaN]));
		}
		assert.equal(await counted.metrics(), await byPromClient.metrics());
		assert.equal(body.endsWith('# EOF\n'), openMetrics);
	});
}

test('GaugeFamily lives across sweeps: each sweep starts empty, series of the last sweep only, an empty family keeps HELP and TYPE', () => {
	const bytes = new GaugeFamily({ name: 'test_bytes', help: 'h', fold: 'sum', slot: 0 });
	const sweep = (rooms: string[]): string => {
		bytes.clear();
		for (const room of rooms) bytes.add(formatLabelSet(['room'], { room }), 1);
		return Buffer.concat(bytes.render()).toString();
	};
	assert.equal(sweep(['a', 'b']), '# HELP test_bytes h\n# TYPE test_bytes gauge\ntest_bytes{room="a"} 1\ntest_bytes{room="b"} 1');
	assert.equal(
		sweep(['b']),
		'# HELP test_bytes h\n# TYPE test_bytes gauge\ntest_bytes{room="b"} 1',
		'a closed object is gone from the next sweep'
	);
	assert.equal(sweep([]), '# HELP test_bytes h\n# TYPE test_bytes gauge', 'an empty family keeps HELP and TYPE');
	assert.equal(bytes.size, 0);
});

test('GaugeFamily written piecemeal (unique label sets): flush() writes what came so far, render(without) leaves out objects that closed', () => {
	const bytes = new GaugeFamily({ name: 'test_bytes', help: 'h', fold: 'sum', unique: true, slot: 0 });
	const line = (id: string): string => `test_bytes{id="${id}"} `;
	bytes.add(formatLabelSet(['id'], { id: 'a' }), 1, 'a');
	bytes.add(formatLabelSet(['id'], { id: 'b' }), 2, 'b');
	bytes.flush();
	bytes.add(formatLabelSet(['id'], { id: 'c' }), 3, 'c');
	bytes.flush();
	bytes.flush();
	bytes.add(formatLabelSet(['id'], { id: 'd' }), 4, 'd');
	const pieces = bytes.render(new Set(['b', 'x']));
	assert.equal(pieces.length, 4, 'HELP and TYPE, then one piece per flush (and the rest at render)');
	assert.equal(
		Buffer.concat(pieces).toString(),
		`# HELP test_bytes h\n# TYPE test_bytes gauge\n${line('a')}1\n${line('c')}3\n${line('d')}4`
	);
	assert.equal(bytes.size, 4);

	// The next sweep knows the family's size: its flushes land one after another in one block and
	// go out as one piece (every piece is a write() call of the HTTP response).
	bytes.clear();
	for (const [i, id] of ['a', 'c', 'd'].entries()) {
		bytes.add(formatLabelSet(['id'], { id }), 10 + i, id);
		bytes.flush();
	}
	const joined = bytes.render();
	assert.equal(joined.length, 2, 'HELP and TYPE, then the three flushes as one piece');
	assert.equal(
		Buffer.concat(joined).toString(),
		`# HELP test_bytes h\n# TYPE test_bytes gauge\n${line('a')}10\n${line('c')}11\n${line('d')}12`
	);

	const folding = new GaugeFamily({ name: 'test_folded', help: 'h', fold: 'sum', slot: 0 });
	folding.add(seriesLabels('{}'), 1, 'a');
	folding.add(seriesLabels('{}'), 2, 'b');
	folding.add(seriesLabels('{}'), 4, 'c');
	assert.throws(() => folding.flush(), /folding family/);
	assert.equal(
		Buffer.concat(folding.render(new Set(['b']))).toString(),
		'# HELP test_folded h\n# TYPE test_folded gauge\ntest_folded{} 5',
		'folded without the objects left out'
	);
});

test('LineMemory lends the smallest free block that fits and keeps at most its bound, dropping small blocks first', () => {
	const memory = new LineMemory({ maxFreeBytes: 1000 });
	const [small, large, middle] = [memory.take(100), memory.take(600), memory.take(300)];
	assert.deepEqual([small.length, large.length, middle.length], [100, 600, 300]);
	assert.notEqual(small.buffer, large.buffer, 'every block has memory of its own');
	memory.nextSweep();
	assert.equal(memory.freeBytes, 1000);
	assert.equal(memory.take(200), middle, 'the smallest that fits');
	assert.equal(memory.take(700).length, 700, 'none fits: a new block');
	assert.equal(memory.freeBytes, 700);
	assert.equal(memory.allocatedBytes, 1700);
	memory.nextSweep();
	assert.equal(memory.freeBytes, 700, 'over the bound: the 100-, 300- and 600-byte blocks are dropped');
	assert.equal(memory.take(1).length, 700);
	assert.throws(() => new LineMemory({ maxFreeBytes: -1 }), TypeError);
});

test("LineMemory: a sweep's blocks go back once the next sweep began and every lease is released, never before", () => {
	const memory = new LineMemory();
	memory.take(1000);
	const lease = memory.leaser();
	const release = lease();
	memory.nextSweep();
	memory.nextSweep();
	assert.equal(memory.freeBytes, 0, 'leased');
	release();
	assert.equal(memory.freeBytes, 1000);
	release();
	assert.equal(memory.freeBytes, 1000, 'a second release changes nothing');
	assert.throws(() => lease(), /reused/);
	memory.take(1000);
	assert.equal(memory.freeBytes, 0);
	memory.nextSweep();
	assert.equal(memory.freeBytes, 1000, 'a sweep nobody leased gives its blocks back at once');
});

test('GaugeFamily writes later sweeps into the memory of released ones; a body still held stays intact', () => {
	const memory = new LineMemory();
	const bytes = new GaugeFamily({
		name: 'test_bytes',
		help: 'h',
		fold: 'sum',
		unique: true,
		slot: 0,
		allocate: (b, n) => memory.take(b, n)
	});
	const ids = Array.from({ length: 200 }, (_, i) => `object-${i}`);
	const sweep = (base: number): { parts: Buffer[]; text: string; release: () => void } => {
		memory.nextSweep();
		bytes.clear();
		for (const [i, id] of ids.entries()) bytes.add(formatLabelSet(['id'], { id }), base + i, id);
		bytes.flush();
		const parts = bytes.render();
		return { parts, text: Buffer.concat(parts).toString(), release: memory.leaser()() };
	};
	const memoryOf = (b: { parts: Buffer[] }): ArrayBufferLike => b.parts[1]!.buffer;
	const first = sweep(1000);
	assert.match(first.text, /^test_bytes\{id="object-0"\} 1000$/m);
	const second = sweep(2000);
	const third = sweep(3000);
	assert.equal(memory.freeBytes, 0, 'every body is still held');
	assert.equal(new Set([first, second, third].map(memoryOf)).size, 3);
	assert.equal(Buffer.concat(first.parts).toString(), first.text, 'a held body is intact after two later sweeps');
	first.release();
	second.release();
	assert.equal(memory.freeBytes, memoryOf(first).byteLength + memoryOf(second).byteLength, 'both over and released');
	third.release();
	const allocated = memory.allocatedBytes;
	const fourth = sweep(4000);
	assert.equal(memory.allocatedBytes, allocated, 'the fourth sweep made no new memory');
	assert.ok(
		[first, second, third].some((b) => memoryOf(b) === memoryOf(fourth)),
		"it wrote into a released sweep's"
	);
	assert.equal(fourth.text, first.text.replace(/ 1(\d{3})$/gm, ' 4$1'), 'its own lines');
	fourth.release();
	for (let i = 5; i < 10; i++) sweep(i * 1000).release();
	assert.equal(memory.allocatedBytes, allocated, 'nor do the sweeps after it, each released before the next');
});

test('PerObjectSeries: written as answers arrive; at the end closed objects are left out and changed labels written again; a failed sweep has no series', () => {
	const transport = (id: string, protocol?: 'udp'): TransportRecord => ({
		id,
		type: 'plain',
		routerId: 'router',
		roomId: 'room',
		peerId: 'peer',
		direction: 'send',
		iceState: null,
		dtlsState: null,
		createdAt: 0,
		tuple: protocol ? { localIp: '127.0.0.1', localPort: 4000, remoteIp: '127.0.0.1', remotePort: 5000, protocol } : null
	});
	const received = (bytes: number): StatsRow[] => [
		STATS_FIELDS.map((f) => (f === 'type' ? 'plain-rtp-transport' : f === 'bytesReceived' ? bytes : null))
	];
	const live: ObservedState = emptyState();
	live.routers.router = { id: 'router', workerPid: 7, roomId: 'room', createdAt: 0 };
	for (const id of ['kept', 'closing', 'changing']) live.transports[id] = transport(id);
	const series = createPerObjectSeries({
		source: { state: live },
		options: { quiet: false, personalLabels: false },
		addresses: new AddressLabeler({ deidentify: false, numeric: true })
	});
	const lines = (families: readonly Buffer[][]): string[] =>
		families
			.map((pieces) => Buffer.concat(pieces).toString())
			.join('\n')
			.split('\n')
			.filter((l) => l.startsWith('mediasoup_transport_received_bytes{'));

	series.sweepStarted();
	series.statsArrived(
		new Map([
			['kept', received(1)],
			['closing', received(2)],
			['changing', received(3)]
		])
	);
	// During the sweep: one transport closes, another gets its tuple (its labels change).
	const end: ObservedState = { ...live, transports: { kept: live.transports.kept!, changing: transport('changing', 'udp') } };
	const body = series.finish(
		end,
		new Map([
			['kept', received(1)],
			['changing', received(3)]
		])
	);
	assert.deepEqual(lines(body.families), [
		'mediasoup_transport_received_bytes{pid="7",room_id="room",peer_id="peer",transport_id="kept",transport_type="plain",direction="send",proto="",local_addr="",remote_addr=""} 1',
		'mediasoup_transport_received_bytes{pid="7",room_id="room",peer_id="peer",transport_id="changing",transport_type="plain",direction="send",proto="udp",local_addr="127.0.0.1:4000",remote_addr=""} 3'
	]);
	assert.equal(body.families.length, 29, 'every per-object family, also those without series');

	series.sweepStarted();
	series.statsArrived(new Map([['kept', 42 as unknown as StatsRow[]]]));
	assert.throws(() => series.finish(end, new Map([['kept', received(1)]])), TypeError, "a write that failed fails the sweep's series");
	series.sweepStarted();
	series.statsArrived(new Map([['kept', received(5)]]));
	assert.equal(lines(series.finish(end, new Map([['kept', received(5)]])).families).length, 1, 'the next sweep is whole again');
});
