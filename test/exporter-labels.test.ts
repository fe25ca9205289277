import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { labelValue, MAX_LABEL_CHARS } from '../server/exporter/labelValue.js';
import { AddressLabeler, maskIp } from '../server/exporter/AddressLabeler.js';
import { ReverseDnsCache } from '../server/exporter/ReverseDnsCache.js';
import { ObjectFamilies, ObjectFamily, formatLabelSet, extendLabelSet, seriesLabels } from '../server/exporter/ObjectFamily.js';
import { PrecomputedHistogram, countObservations } from '../server/exporter/PrecomputedHistogram.js';
import { BlockPool } from '../server/exporter/BlockPool.js';
import { BuildBlocks } from '../server/exporter/BuildBlocks.js';
import { startPtrServer, resolverFor } from './support/dnsPtrServer.js';
import { until } from './support/until.js';

test('labelValue: lone surrogates and control characters become U+FFFD; cut at 128 code points, never inside a pair', () => {
	assert.equal(labelValue('ok "quoted" \\ back\nslash'), 'ok "quoted" \\ back\nslash', 'escaping is the exposition\'s job');
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
	const cache = new ReverseDnsCache({ resolver: resolverFor(ptr), ttlMs: 60_000 });
	try {
		const addresses = new AddressLabeler({ deidentify: false, numeric: false, dns: cache });
		const t0 = performance.now();
		assert.equal(addresses.format('127.0.0.5', 40000), '127.0.0.5:40000', 'the first call shows the IP');
		assert.ok(performance.now() - t0 < 20, 'and does not wait for DNS');
		assert.equal(addresses.format('127.0.0.5', 40001), '127.0.0.5:40001', 'still the IP while the look-up runs');
		await until('the name', () => addresses.format('127.0.0.5', 40000) === 'sfu.example.test:40000');
		assert.equal(ptr.queries.filter((q) => q === '5.0.0.127.in-addr.arpa').length, 1, 'one query: in-flight look-ups are shared, answers cached');
		assert.equal(cache.stats.lookups, 1);
		for (let i = 0; i < 5; i++) assert.equal(addresses.format('127.0.0.5', 1), 'sfu.example.test:1');
		assert.equal(ptr.queries.length, 1, 'a cached name costs no query');
		assert.equal(cache.name('not-an-ip'), undefined);
	} finally {
		cache.close();
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
		const t0 = performance.now();
		for (let i = 0; i < 100; i++) assert.equal(cache.name('127.0.0.3'), undefined);
		assert.ok(performance.now() - t0 < 50, `100 calls took ${performance.now() - t0} ms`);
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
	test(`ObjectFamily folds series that share labels and writes what prom-client writes; PrecomputedHistogram exposes cumulative buckets, and values counted by countObservations as prom-client's Histogram writes them (${format})`, async () => {
		const registry = new Registry() as Registry<RegistryContentType>;
		registry.setContentType(openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
		const sum = new ObjectFamily({ name: 'test_bytes', help: 'h', fold: 'sum' });
		const min = new ObjectFamily({ name: 'test_score', help: 'h', fold: 'min' });
		const max = new ObjectFamily({ name: 'test_jitter_seconds', help: 'h', fold: 'max' });
		for (const [room, value] of [['a', 3], ['a', 5], ['b', 7], ['a', Number.NaN], ['b', undefined]] as const) {
			const labelSet = formatLabelSet(['room'], { room });
			sum.add(labelSet, value);
			min.add(labelSet, value);
			max.add(labelSet, value);
		}
		const families = [sum, min, max].map((f) => Buffer.concat(f.render()).toString()).join(openMetrics ? '\n' : '\n\n');
		for (const line of ['test_bytes{room="a"} 8', 'test_bytes{room="b"} 7', 'test_score{room="a"} 3', 'test_jitter_seconds{room="a"} 5']) {
			assert.ok(families.split('\n').includes(line), `${line} in\n${families}`);
		}
		assert.ok(!/NaN|Nan/.test(families), 'non-finite values are left out');

		// Byte for byte what prom-client's Gauge writes for the same series, awkward values included.
		const awkward = { pid: '1', name: 'Zoë "the \\ quoter"\nline 2 😀', empty: '' };
		const names = ['pid', 'name', 'empty'];
		const reference = new Registry() as Registry<RegistryContentType>;
		reference.setContentType(registry.contentType);
		const gauge = new Gauge({ name: 'test_awkward', help: 'help with \\ and\nnewline', labelNames: [...names, 'state'], registers: [reference as Registry] });
		const mine = new ObjectFamily({ name: 'test_awkward', help: 'help with \\ and\nnewline', fold: 'sum' });
		for (const [state, value] of [['new', 0], ['connected', 1], ['closed', 1e21], ['x', -0.125]] as const) {
			gauge.set({ ...awkward, state }, value);
			mine.add(extendLabelSet(formatLabelSet(names, awkward), 'state', state), value);
		}
		const expected = await reference.metrics();
		assert.equal(Buffer.concat(mine.render()).toString(), expected.slice(0, expected.length - (openMetrics ? '\n# EOF\n' : '\n').length));
		assert.throws(() => new ObjectFamily({ name: 'bad name', help: 'h', fold: 'sum' }), TypeError);

		const histogram = new PrecomputedHistogram({ registry, name: 'test_duration_seconds', help: 'h', buckets: [0.1, 1] });
		histogram.set({ method: 'join' }, { cumulativeCounts: [2, 5], sum: 2.5, count: 6 });
		assert.throws(() => histogram.set({ method: 'x' }, { cumulativeCounts: [1], sum: 0, count: 1 }), TypeError);
		const body = await registry.metrics();
		for (const line of [
			'test_duration_seconds_bucket{le="0.1",method="join"} 2', 'test_duration_seconds_bucket{le="1",method="join"} 5',
			'test_duration_seconds_bucket{le="+Inf",method="join"} 6', 'test_duration_seconds_sum{method="join"} 2.5',
			'test_duration_seconds_count{method="join"} 6', '# TYPE test_duration_seconds histogram'
		]) assert.ok(body.split('\n').includes(line), `${line} in\n${body}`);
		assert.ok(!/NaN|Nan/.test(body), 'non-finite values are left out');

		// Values counted by countObservations come out byte for byte as prom-client's Histogram writes them.
		const observed = { producer: [0, 3, 7.5, 10, 10, 11], consumer: [] as number[] };
		const bounds = [0, 1, 5, 10];
		const byPromClient = new Registry() as Registry<RegistryContentType>;
		byPromClient.setContentType(registry.contentType);
		const promHistogram = new Histogram({ name: 'test_score', help: 'h', labelNames: ['role'], buckets: bounds, registers: [byPromClient as Registry] });
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

test('ObjectFamilies live across builds: each build starts empty, series of the last build only, truncate drops a failed collector\'s families', () => {
	const families = new ObjectFamilies();
	const build = (rooms: string[], extra = false): string[] => {
		families.begin();
		const bytes = families.family({ name: 'test_bytes', help: 'h', fold: 'sum' });
		for (const room of rooms) bytes.add(formatLabelSet(['room'], { room }), 1);
		if (extra) {
			const before = families.length;
			families.family({ name: 'test_half', help: 'h', fold: 'sum' }).add(seriesLabels('{}'), 1);
			families.truncate(before);
		}
		return families.render().map((pieces) => Buffer.concat(pieces).toString());
	};
	assert.deepEqual(build(['a', 'b']), ['# HELP test_bytes h\n# TYPE test_bytes gauge\ntest_bytes{room="a"} 1\ntest_bytes{room="b"} 1']);
	assert.deepEqual(build(['b']), ['# HELP test_bytes h\n# TYPE test_bytes gauge\ntest_bytes{room="b"} 1'], 'a closed object is gone from the next build');
	assert.deepEqual(build([], true), ['# HELP test_bytes h\n# TYPE test_bytes gauge'], 'an empty family keeps HELP and TYPE; a truncated one is gone');
	assert.equal(families.seriesCount, 0);
});

test('ObjectFamily written piecemeal (unique label sets): flush() writes what came so far, render(without) leaves out objects that closed', () => {
	const families = new ObjectFamilies({ uniqueLabelSets: true });
	families.begin();
	const bytes = families.family({ name: 'test_bytes', help: 'h', fold: 'sum' });
	const line = (id: string): string => `test_bytes{id="${id}"} `;
	bytes.add(formatLabelSet(['id'], { id: 'a' }), 1, 'a');
	bytes.add(formatLabelSet(['id'], { id: 'b' }), 2, 'b');
	families.flush();
	bytes.add(formatLabelSet(['id'], { id: 'c' }), 3, 'c');
	families.flush();
	families.flush();
	bytes.add(formatLabelSet(['id'], { id: 'd' }), 4, 'd');
	const [pieces] = families.render(new Set(['b', 'x']));
	assert.equal(pieces!.length, 4, 'HELP and TYPE, then one piece per flush (and the rest at render)');
	assert.equal(Buffer.concat(pieces!).toString(), `# HELP test_bytes h\n# TYPE test_bytes gauge\n${line('a')}1\n${line('c')}3\n${line('d')}4`);
	assert.equal(families.seriesCount, 4);

	// The next build knows the family's size: its flushes land one after another in one block and
	// go out as one piece (every piece is a write() call of the HTTP response).
	families.begin();
	const again = families.family({ name: 'test_bytes', help: 'h', fold: 'sum' });
	for (const [i, id] of ['a', 'c', 'd'].entries()) {
		again.add(formatLabelSet(['id'], { id }), 10 + i, id);
		families.flush();
	}
	const [joined] = families.render();
	assert.equal(joined!.length, 2, 'HELP and TYPE, then the three flushes as one piece');
	assert.equal(Buffer.concat(joined!).toString(), `# HELP test_bytes h\n# TYPE test_bytes gauge\n${line('a')}10\n${line('c')}11\n${line('d')}12`);

	const folding = new ObjectFamilies();
	folding.begin();
	folding.family({ name: 'test_folded', help: 'h', fold: 'sum' }).add(seriesLabels('{}'), 1);
	assert.throws(() => folding.flush(), /folding family/);
	assert.equal(Buffer.concat(folding.render()[0]!).toString(), '# HELP test_folded h\n# TYPE test_folded gauge\ntest_folded{} 1');
});

test('BlockPool lends the smallest free block that fits and keeps at most its bound, dropping small blocks first', () => {
	const pool = new BlockPool({ maxFreeBytes: 1000 });
	const [small, large, middle] = [pool.take(100), pool.take(600), pool.take(300)];
	assert.deepEqual([small.length, large.length, middle.length], [100, 600, 300]);
	assert.notEqual(small.buffer, large.buffer, 'every block has memory of its own');
	pool.give([small, large, middle]);
	assert.equal(pool.freeBytes, 1000);
	assert.equal(pool.take(200), middle, 'the smallest that fits');
	assert.equal(pool.take(700).length, 700, 'none fits: a new block');
	assert.equal(pool.freeBytes, 700);
	pool.give([Buffer.allocUnsafeSlow(500)]);
	assert.equal(pool.freeBytes, 600, 'over the bound: the 100- and 500-byte blocks are dropped');
	assert.equal(pool.take(1), large);
	assert.throws(() => new BlockPool({ maxFreeBytes: -1 }), TypeError);
});

test('BuildBlocks go back to the pool once the build is over and every lease is released, never before', () => {
	const pool = new BlockPool();
	const blocks = new BuildBlocks(pool);
	blocks.take(1000);
	const release = blocks.lease();
	blocks.close();
	blocks.close();
	assert.equal(pool.freeBytes, 0, 'leased');
	assert.throws(() => blocks.take(10), /over/);
	release();
	assert.equal(pool.freeBytes, 1000);
	assert.ok(blocks.returned);
	release();
	assert.equal(pool.freeBytes, 1000, 'a second release changes nothing');
	assert.throws(() => blocks.lease(), /reused/);
	const unleased = new BuildBlocks(pool);
	unleased.take(1000);
	unleased.close();
	assert.equal(pool.freeBytes, 1000, 'a build nobody leased gives its blocks back at once');
});

test('ObjectFamilies write later builds into the memory of released ones; a body still held stays intact', () => {
	const pool = new BlockPool();
	const families = new ObjectFamilies({ uniqueLabelSets: true, pool });
	const ids = Array.from({ length: 200 }, (_, i) => `object-${i}`);
	const build = (base: number): { parts: Buffer[][]; text: string; release: () => void } => {
		families.begin();
		const bytes = families.family({ name: 'test_bytes', help: 'h', fold: 'sum' });
		for (const [i, id] of ids.entries()) bytes.add(formatLabelSet(['id'], { id }), base + i, id);
		families.flush();
		const parts = families.render();
		return { parts, text: Buffer.concat(parts.flat()).toString(), release: families.blocks.lease() };
	};
	const memoryOf = (b: { parts: Buffer[][] }): ArrayBufferLike => b.parts[0]![1]!.buffer;
	const first = build(1000);
	assert.match(first.text, /^test_bytes\{id="object-0"\} 1000$/m);
	const second = build(2000);
	const third = build(3000);
	assert.equal(pool.freeBytes, 0, 'every body is still held');
	assert.equal(new Set([first, second, third].map(memoryOf)).size, 3);
	assert.equal(Buffer.concat(first.parts.flat()).toString(), first.text, 'a held body is intact after two later builds');
	first.release();
	second.release();
	assert.equal(pool.freeBytes, memoryOf(first).byteLength + memoryOf(second).byteLength, 'both over and released');
	third.release();
	const allocated = pool.allocatedBytes;
	const fourth = build(4000);
	assert.equal(pool.allocatedBytes, allocated, 'the fourth build made no new memory');
	assert.ok([first, second, third].some((b) => memoryOf(b) === memoryOf(fourth)), 'it wrote into a released build\'s');
	assert.equal(fourth.text, first.text.replace(/ 1(\d{3})$/gm, ' 4$1'), 'its own lines');
	fourth.release();
	for (let i = 5; i < 10; i++) build(i * 1000).release();
	assert.equal(pool.allocatedBytes, allocated, 'nor do the builds after it, each released before the next');
});
