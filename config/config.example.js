// Configuration of the SFU. Copy to config/config.js and edit, or point CONFIG=/path/to/file.js at
// your own. Every key is validated at start-up: an unknown key, a wrong type or an out-of-range value
// stops the server with a message naming the key. Keys left out take the default shown here.
import os from 'node:os';

export default {
	// HTTP server for the meeting app and the socket.io signalling.
	listen: {
		// Bind address. 127.0.0.1 keeps the server private; use 0.0.0.0 (or a specific address) to
		// serve other machines, behind a TLS-terminating proxy (browsers need HTTPS for cameras).
		ip: '127.0.0.1',
		// TCP port of the app and signalling (0 picks a free port).
		port: 3000
	},

	mediasoup: {
		// Number of mediasoup workers (one process each). Default: the number of CPU cores.
		numWorkers: os.availableParallelism(),
		worker: {
			// mediasoup worker log level: 'debug', 'warn', 'error' or 'none'.
			logLevel: 'warn',
			// mediasoup worker log tags, e.g. ['info', 'ice', 'dtls', 'rtp', 'srtp', 'rtcp'].
			logTags: [],
			// UDP/TCP port range for media (open it in your firewall).
			rtcMinPort: 40000,
			rtcMaxPort: 49999
		},
		router: {
			// Codecs a room's router offers. mediasoup validates the details of each entry.
			mediaCodecs: [
				{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
				{
					kind: 'video',
					mimeType: 'video/VP8',
					clockRate: 90000,
					parameters: { 'x-google-start-bitrate': 1000 }
				}
			]
		},
		webRtcTransport: {
			// Addresses the WebRTC transports listen on. announcedIp: the public address to hand to
			// clients when `ip` is a private or wildcard address (null: announce `ip` itself).
			listenIps: [ { ip: '127.0.0.1', announcedIp: null } ],
			// Offer ICE candidates over UDP and/or TCP; prefer UDP when both are possible.
			enableUdp: true,
			enableTcp: true,
			preferUdp: true,
			// Starting estimate of the bandwidth towards each client, in bits per second.
			initialAvailableOutgoingBitrate: 1000000,
			// Cap on what one client may send, in bits per second (null: no cap).
			maxIncomingBitrate: 1500000
		}
	},

	room: {
		// Most peers one room admits; further joins are refused with RoomFullError.
		maxPeers: 50,
		// Seconds an empty room stays open (so a reload re-joins the same router) before closing.
		emptyRoomGraceSeconds: 10,
		// Longest room id and display name accepted, in characters.
		maxRoomIdLength: 64,
		maxDisplayNameLength: 64
	},

	// The observer stream: the SFU's state as newline-delimited JSON on a Unix domain socket, read
	// by the exporter and by scripts/connect. The socket is created with mode 0600 in a directory
	// only this user can write. Default: <tmpdir>/meter-sfu-<uid>/observer.sock.
	observer: {
		// socketPath: '/run/meter-sfu/observer.sock'
	},

	// Prometheus exporter (same process). Open its port to your Prometheus server only.
	prometheus: {
		// Serve /metrics.
		enabled: true,
		// Bind address of the metrics endpoint (127.0.0.1: only this machine can scrape).
		listen: '127.0.0.1',
		// TCP port of the metrics endpoint (edumeet's port).
		port: 8889,
		// Mask IP addresses in labels (IPv4 keeps its first two octets, IPv6 its first 32 bits).
		deidentify: false,
		// Show addresses as ip:port instead of looking up host names (no reverse DNS).
		numeric: false,
		// Blank the id labels (peer, transport, producer, consumer ids) to cut cardinality.
		quiet: false
	}
};
