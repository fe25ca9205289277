import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters, type TestServer } from './support/signallingServer.js';
import type { RtpCapabilities } from '../server/contract/signalling.js';
import type { Room } from '../server/sfu/Room.js';
import { until } from './support/until.js';

// Life cycle of rooms and peers: grace period, concurrent first joins, worker death, shutdown,
// and the observer hooks the monitoring side listens to.

async function withServer(
	overrides: Parameters<typeof startTestServer>[0],
	fn: (server: TestServer, connect: () => Promise<SignallingClient>) => Promise<void>
): Promise<void> {
	const server = await startTestServer(overrides);
	const clients: SignallingClient[] = [];
	const connect = async (): Promise<SignallingClient> => {
		const client = await SignallingClient.connect(server.url);
		clients.push(client);
		return client;
	};
	try {
		await fn(server, connect);
	} finally {
		for (const c of clients) c.close();
		await server.close();
	}
}

async function capsFor(client: SignallingClient, roomId: string): Promise<RtpCapabilities> {
	return (await client.requestOk('getRouterRtpCapabilities', { roomId })).routerRtpCapabilities;
}

test('an empty room survives a rejoin within the grace period and closes after it', async () => {
	// Grace periods are timers of one length, which fire in the order they were set. So the rooms
	// only asked for their capabilities (their grace period begins when they are made) are clocks:
	// one made after the room emptied closes after the room's grace period would have ended.
	await withServer({ room: { emptyRoomGraceSeconds: 1 } }, async (server, connect) => {
		const ms = server.server.meetingServer;
		const before = ms.counters.snapshot();
		const closes: string[] = [];
		ms.observer.on('newroom', (room) => room.observer.once('close', () => closes.push(room.id)));
		const closed = (roomId: string): Promise<void> => until(`room ${roomId} to close`, () => closes.includes(roomId));
		const client = await connect();
		const caps = await capsFor(client, 'grace');
		const room = ms.rooms.get('grace')!;

		await client.requestOk('join', { roomId: 'grace', displayName: 'A', rtpCapabilities: caps });
		await client.requestOk('leave', {});
		assert.equal(room.closed, false, 'an empty room stays for its grace period');
		await capsFor(client, 'witness-1');
		assert.ok(ms.rooms.has('witness-1'));
		await client.requestOk('join', { roomId: 'grace', displayName: 'A', rtpCapabilities: caps });
		assert.equal(ms.rooms.get('grace'), room, 'same room, same router');
		// The room's grace period began before the witness's: it would have ended by now.
		await closed('witness-1');
		assert.equal(room.closed, false, 'the rejoin ended it');

		await capsFor(client, 'witness-2');
		await client.requestOk('leave', {});
		await closed('grace');
		assert.deepEqual(closes, ['witness-1', 'witness-2', 'grace'], 'not before a grace period begun before the last leave');
		assert.equal(ms.rooms.has('grace'), false);
		assert.equal(room.router.closed, true);

		const after = ms.counters.snapshot();
		assert.equal(after.roomsCreated - before.roomsCreated, 3);
		assert.equal(after.roomsClosed - before.roomsClosed, 3, 'a room only asked for its capabilities closes too');
		assert.equal(after.joins - before.joins, 2);
		assert.equal(after.leaves - before.leaves, 2);
	});
});

test('concurrent first joins to one room id make one router', async () => {
	await withServer({ room: { maxPeers: 10 } }, async (server, connect) => {
		const ms = server.server.meetingServer;
		const clients = await Promise.all(Array.from({ length: 6 }, () => connect()));
		// Capabilities from another room: every router has the same codecs, and asking for
		// the target room would create it before the race.
		const caps = await capsFor(clients[0]!, 'elsewhere');
		const created: Room[] = [];
		ms.observer.on('newroom', (room) => created.push(room));
		const joins = await Promise.all(
			clients.map((c, i) => c.requestOk('join', { roomId: 'race', displayName: `P${i}`, rtpCapabilities: caps }))
		);
		assert.equal(created.length, 1);
		const room = ms.rooms.get('race')!;
		assert.equal(room, created[0]);
		assert.equal(room.peers.size, 6);
		assert.deepEqual(new Set(joins.map((j) => j.peerId)), new Set(room.peers.keys()));
		// Every join saw the peers that were there before it.
		assert.deepEqual(joins.map((j) => j.peers.length).sort(), [0, 1, 2, 3, 4, 5]);
	});
});

test('a socket that disconnects while its join is under way leaves no peer behind', async () => {
	await withServer({ room: { emptyRoomGraceSeconds: 0.2 } }, async (server, connect) => {
		const ms = server.server.meetingServer;
		const client = await connect();
		const caps = await capsFor(client, 'elsewhere');
		const peers: { closed: boolean }[] = [];
		ms.observer.on('newroom', (room) => {
			room.observer.on('newpeer', (peer) => {
				const entry = { closed: false };
				peers.push(entry);
				peer.observer.on('close', () => {
					entry.closed = true;
				});
			});
		});
		// A stopped worker holds the join at router creation while the disconnect is processed.
		const workerPid = server.server.workerPool.workers[0]!.pid;
		process.kill(workerPid, 'SIGSTOP');
		try {
			client.rawEmit(
				'request',
				{ method: 'join', data: { roomId: 'vanishing', displayName: 'Ghost', rtpCapabilities: caps } },
				() => undefined
			);
			await new Promise((r) => setTimeout(r, 100));
			client.close();
			await until('the disconnect', () => ms.counters.snapshot().connectedSockets === 0);
		} finally {
			process.kill(workerPid, 'SIGCONT');
		}
		await until('the join to complete on the resumed worker', () => peers.length === 1);
		await until('the orphan peer to be closed', () => peers[0]!.closed);
		await until('the empty room to close', () => !ms.rooms.has('vanishing'));
		const counters = ms.counters.snapshot();
		assert.equal(counters.joins, 1);
		assert.equal(counters.leaves, 1);
		assert.equal(counters.requests.join?.NotJoinedError, 1);
	});
});

test('a room full at maxPeers refuses concurrent joins beyond it', async () => {
	await withServer({ room: { maxPeers: 3 } }, async (server, connect) => {
		const clients = await Promise.all(Array.from({ length: 5 }, () => connect()));
		const caps = await capsFor(clients[0]!, 'elsewhere');
		const responses = await Promise.all(
			clients.map((c, i) => c.request('join', { roomId: 'small', displayName: `P${i}`, rtpCapabilities: caps }))
		);
		const names = responses.map((r) => (r.ok ? 'ok' : r.error.name)).sort();
		assert.deepEqual(names, ['RoomFullError', 'RoomFullError', 'ok', 'ok', 'ok']);
		assert.equal(server.server.meetingServer.rooms.get('small')!.peers.size, 3);
	});
});

test('a SIGKILLed worker closes its rooms with roomClosed; joining again lands on the new worker', async () => {
	await withServer({}, async (server, connect) => {
		const ms = server.server.meetingServer;
		const alice = await connect();
		const bob = await connect();
		const caps = await capsFor(alice, 'doomed');
		await alice.requestOk('join', { roomId: 'doomed', displayName: 'Alice', rtpCapabilities: caps });
		await bob.requestOk('join', { roomId: 'doomed', displayName: 'Bob', rtpCapabilities: caps });
		const send = await alice.requestOk('createWebRtcTransport', { direction: 'send' });
		await bob.requestOk('createWebRtcTransport', { direction: 'recv' });
		await alice.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: opusParameters() });
		await bob.waitForNotification('newConsumer');
		const room = ms.rooms.get('doomed')!;
		const deadPid = room.workerPid;

		process.kill(deadPid, 'SIGKILL');
		assert.deepEqual(await alice.waitForNotification('roomClosed'), { reason: 'worker died' });
		assert.deepEqual(await bob.waitForNotification('roomClosed'), { reason: 'worker died' });
		assert.equal(room.closed, true);
		assert.equal(ms.rooms.has('doomed'), false);
		assert.equal(alice.connected, true, 'the socket stays');
		// Not joined any more.
		const notJoined = await alice.request('createWebRtcTransport', { direction: 'send' });
		assert.ok(!notJoined.ok && notJoined.error.name === 'NotJoinedError');

		// Until the pool has replaced the worker a join fails with ServerError; then it works.
		let rejoined: Awaited<ReturnType<typeof alice.request<'join'>>> | undefined;
		const deadline = Date.now() + 10_000;
		for (;;) {
			rejoined = await alice.request('join', { roomId: 'doomed', displayName: 'Alice', rtpCapabilities: caps });
			if (rejoined.ok) break;
			assert.equal(rejoined.error.name, 'ServerError', rejoined.error.message);
			if (Date.now() > deadline) throw new Error('no join after the worker died');
			await new Promise((r) => setTimeout(r, 50));
		}
		const newRoom = ms.rooms.get('doomed')!;
		assert.notEqual(newRoom, room);
		assert.notEqual(newRoom.workerPid, deadPid);
		await bob.requestOk('join', { roomId: 'doomed', displayName: 'Bob', rtpCapabilities: caps });
		const send2 = await alice.requestOk('createWebRtcTransport', { direction: 'send' });
		await bob.requestOk('createWebRtcTransport', { direction: 'recv' });
		const { producerId } = await alice.requestOk('produce', { transportId: send2.id, kind: 'audio', rtpParameters: opusParameters() });
		await bob.waitForNotification('newConsumer', (n) => n.producerId === producerId);

		const counters = ms.counters.snapshot();
		assert.equal(counters.workerDeaths, 1);
		assert.equal(counters.roomsCreated, 2);
		assert.equal(counters.roomsClosed, 1);
	});
});

test('observer hooks: newroom, newpeer, clean close order, appData; shutdown says roomClosed', async () => {
	const server = await startTestServer();
	const clients: SignallingClient[] = [];
	try {
		const ms = server.server.meetingServer;
		const workerPid = server.server.workerPool.workers[0]!.pid;
		const events: string[] = [];
		// What the hooks saw, asserted below: an assertion in a listener would throw into the server.
		const rooms: { createdAt: string; workerPid: number }[] = [];
		const peers: { roomId: string; userAgent: string; joinedSinceRoom: boolean }[] = [];
		ms.observer.on('newroom', (room) => {
			events.push(`newroom ${room.id}`);
			rooms.push({ createdAt: typeof room.createdAt, workerPid: room.workerPid });
			room.observer.on('newpeer', (peer) => {
				events.push(`newpeer ${peer.displayName} ${peer.clientType}`);
				peers.push({ roomId: peer.roomId, userAgent: peer.userAgent, joinedSinceRoom: peer.joinedAt >= room.createdAt });
				peer.observer.on('close', () => events.push(`peer close ${peer.displayName}`));
			});
			room.router.observer.on('close', () => events.push('router close'));
			room.observer.on('close', () => events.push('room close'));
		});
		for (const name of ['Alice', 'Bob']) {
			const client = await SignallingClient.connect(server.url, { extraHeaders: { 'user-agent': 'meter-test/1.0' } });
			clients.push(client);
			const caps = await capsFor(client, 'observed');
			await client.requestOk('join', { roomId: 'observed', displayName: name, rtpCapabilities: caps });
		}
		assert.equal(ms.counters.snapshot().connectedSockets, 2);
		await server.close();
		for (const client of clients) assert.deepEqual(await client.waitForNotification('roomClosed'), { reason: 'server shutting down' });
		assert.deepEqual(events, [
			'newroom observed',
			'newpeer Alice browser',
			'newpeer Bob browser',
			'peer close Alice',
			'peer close Bob',
			'router close',
			'room close'
		]);
		assert.deepEqual(rooms, [{ createdAt: 'number', workerPid }]);
		const peer = { roomId: 'observed', userAgent: 'meter-test/1.0', joinedSinceRoom: true };
		assert.deepEqual(peers, [peer, peer]);
		assert.equal(ms.rooms.size, 0);
		await until('the sockets to close', () => clients.every((c) => !c.connected));
	} finally {
		for (const c of clients) c.close();
		await server.close();
	}
});
