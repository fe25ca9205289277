import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsTable } from '../server/exporter/snapshot/StatsTable.js';
import { AT, STATS_FIELDS, isRtpStream, numberAt, transportRow, type StatsRow } from '../server/exporter/snapshot/mediasoupStats.js';

/** A row with these fields set and null elsewhere, as the server sends them. */
const row = (values: Partial<Record<(typeof STATS_FIELDS)[number], unknown>>): StatsRow =>
	STATS_FIELDS.map((field) => values[field] ?? null);

const consumer = row({
	type: 'outbound-rtp',
	ssrc: 1234,
	kind: 'video',
	mimeType: 'video/VP8',
	byteCount: 2 ** 40 + 1,
	roundTripTime: 1.25,
	score: 10
});
const simulcast = ['r0', 'r1', 'r2'].map((rid, i) =>
	row({ type: 'inbound-rtp', ssrc: 100 + i, rid, kind: 'video', mimeType: 'video/VP8', bitrate: 300_000 * (i + 1) })
);
const transport = row({ type: 'webrtc-transport', bytesReceived: 5, bytesSent: 6, recvBitrate: 7, sendBitrate: 8 });

test('StatsTable gives back the rows it was given: texts, numbers (-0 and Infinity too), null where there is none', () => {
	const table = StatsTable.create(4);
	table.add('consumer', [consumer]);
	table.add('producer', simulcast);
	table.add('transport', [transport]);
	table.add('empty', []);
	// A value of the wrong kind for its field (a number where a text goes, a text where a number
	// goes, a nested value) comes back as null: readers skip it either way.
	table.add('odd', [
		row({ type: 42, ssrc: 'x', kind: 'audio', rid: '', byteCount: Infinity, packetCount: -0, jitter: 3, score: { nested: 1 } })
	]);
	assert.equal(table.size, 5);
	assert.deepEqual(table.get('consumer'), [consumer]);
	assert.deepEqual(table.get('producer'), simulcast);
	assert.deepEqual(table.get('transport'), [transport]);
	assert.deepEqual(table.get('empty'), []);
	assert.deepStrictEqual(table.get('odd'), [row({ kind: 'audio', rid: '', byteCount: Infinity, packetCount: -0, jitter: 3 })]);
	assert.ok(Object.is(table.get('odd')![0]![AT.packetCount], -0));
	assert.equal(table.get('absent'), undefined);
	assert.equal(table.has('absent'), false);
	assert.equal(isRtpStream(table.get('producer')![2]!, 'inbound-rtp'), true);
	assert.equal(numberAt(transportRow(table.get('transport')!)!, AT.sendBitrate), 8);
	assert.notEqual(table.get('consumer')![0], table.get('consumer')![0], 'rows are made afresh for each reader');
});

test('StatsTable grows past its estimate, replaces what an id had, forgets dropped ids, keeps the order ids came in', () => {
	const table = StatsTable.create(1);
	table.add('consumer', [consumer]);
	table.add('producer', simulcast);
	for (let i = 0; i < 200; i++) table.add(`more-${i}`, [consumer, transport]);
	assert.equal(table.size, 202);
	assert.deepEqual(table.get('producer'), simulcast, 'rows added before the arrays grew');
	assert.deepEqual(table.get('more-199'), [consumer, transport], 'rows added after');
	table.add('consumer', [transport]);
	assert.deepEqual(table.get('consumer'), [transport], 'added again: replaced');
	assert.deepEqual(table.get('producer'), simulcast, 'the others untouched');
	table.drop('consumer');
	assert.equal(table.has('consumer'), false);
	assert.equal(table.size, 201);
	assert.deepEqual([...table.keys()].slice(0, 3), ['producer', 'more-0', 'more-1']);
});

test('StatsTable: a later table takes over the memory of an earlier one, which then throws on every use', () => {
	const first = StatsTable.create(8);
	for (let i = 0; i < 8; i++) first.add(`object-${i}`, [consumer]);
	const second = StatsTable.create(8, first);
	assert.equal(second.size, 0, 'a new table starts empty');
	second.add('object-0', [transport]);
	assert.deepEqual(second.get('object-0'), [transport]);
	for (const use of [
		() => first.get('object-1'),
		() => first.has('object-1'),
		() => first.size,
		() => first.keys(),
		() => first.drop('object-1'),
		() => first.add('x', [consumer])
	]) {
		assert.throws(use, /later sweep took their memory/);
	}
	const third = StatsTable.create(8, second);
	third.add('object-0', simulcast);
	assert.deepEqual(third.get('object-0'), simulcast);
	assert.throws(() => second.get('object-0'), /later sweep took their memory/);
});
