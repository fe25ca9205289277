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
			// Ports for transports that do not use the WebRtcServer below: the synthetic peers' plain
			// transports (loopback only), and every WebRTC transport when webRtcServer is null.
			rtcMinPort: 41000,
			rtcMaxPort: 49999
		},
		// One WebRtcServer per worker: all browser media of worker i goes through one UDP and one
		// TCP port, `port` + i, so the firewall opens numWorkers ports (40000-40001 with 2 workers).
		// Port 0 takes any free port of rtcMinPort..rtcMaxPort. announcedIp: the public address to
		// hand to clients when `ip` is a private or wildcard address (null: announce `ip` itself).
		// null instead of this block: each WebRTC transport listens on its own port from
		// rtcMinPort..rtcMaxPort, at webRtcTransport.listenIps (the whole range must then be open).
		webRtcServer: {
			listenInfos: [
				{ protocol: 'udp', ip: '127.0.0.1', announcedIp: null, port: 40000 },
				{ protocol: 'tcp', ip: '127.0.0.1', announcedIp: null, port: 40000 }
			]
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
			// Addresses the WebRTC transports listen on when webRtcServer is null (otherwise the
			// WebRtcServer's listenInfos apply). announcedIp as above.
			listenIps: [{ ip: '127.0.0.1', announcedIp: null }],
			// Offer ICE candidates over UDP and/or TCP (of those the WebRtcServer listens on); prefer
			// UDP when both are possible.
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

	signalling: {
		// Largest socket.io message a client may send, in bytes (socket.io's maxHttpBufferSize); a
		// larger one closes the connection. A browser's rtpCapabilities take about 10 KB.
		maxMessageBytes: 65536,
		// Per-socket rate limit on inbound messages (a token bucket): `burst` at once, then
		// `requestsPerSecond` on average; beyond it requests are answered with RateLimitError and
		// counted in edumeet_rejected_messages_total{reason="rate_limit"}. A browser joining a room
		// of N peers sends about 10 + 2·N requests at once (one resumeConsumer per consumer).
		rateLimit: {
			requestsPerSecond: 50,
			burst: 200
		}
	},

	// Synthetic peers (tools/synthetic): clients that send and receive plain RTP instead of
	// WebRTC, for load tests. When enabled, only clients connecting from this machine (loopback)
	// may create plain transports, which listen on 127.0.0.1 and send to loopback addresses only.
	syntheticPeers: {
		enabled: false
	},

	// The observer stream: the SFU's state as newline-delimited JSON on a Unix domain socket, read
	// by the exporter and by scripts/connect. The socket is created with mode 0600 in a directory
	// only this user can write. Default: <tmpdir>/meter-sfu-<uid>/observer.sock.
	observer: {
		// socketPath: '/run/meter-sfu/observer.sock'
		// A client that stops reading is disconnected once this many bytes (on top of the snapshot
		// it was sent) wait unsent for it, so a stuck client cannot grow the server's memory.
		maxClientBacklogBytes: 8 * 1024 * 1024
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
		// Blank the id labels (peer, transport, producer, consumer ids, SSRCs) and drop address ports
		// to cut cardinality. Series that then share all labels are folded: counts and bitrates
		// summed, score the lowest, loss, jitter and round-trip time the highest.
		quiet: false,
		// Personal data in labels: display_name, user_agent and remote_addr are empty unless this is
		// true. Off by default: turn it on only where your privacy rules allow it.
		personalLabels: false,
		// Per-room, per-transport, per-producer and per-consumer series. false keeps only aggregates
		// (totals, histograms, per-worker series): for large deployments.
		perObjectMetrics: true,
		// Deadline of one scrape in ms (keep it below Prometheus' scrape_timeout). Past it the
		// exporter answers with what it has and sets meter_sfu_exporter_scrape_timed_out to 1.
		scrapeTimeoutMs: 5000,
		// Most objects whose getStats() may be in flight at once during a scrape's stats sweep (split
		// over about 4 small requests to the observer stream, which allows 64 per request; 1,024 at
		// most). Lower values stall a busy worker's media less per sweep but make the sweep slower
		// (prom.md, "Scrape performance").
		statsConcurrency: 256,
		// Access to the metrics port (/metrics, /overview and everything else on it). See prom.md,
		// "Securing the endpoint". Without any of these, anyone who can reach the port may read it.
		// Basic auth: user name → bcrypt hash (make one with `scripts/hash-password`). Verified
		// hashes are cached for a minute (keyed by a SHA-256 of the credentials), so frequent
		// scrapes do not pay bcrypt each time.
		basicAuthUsers: {},
		// Or a bearer token (at least 16 characters; `Authorization: Bearer TOKEN`), inline or,
		// better, read at start from a file (its surrounding white space ignored). Not together
		// with basicAuthUsers.
		bearerToken: null,
		bearerTokenFile: null,
		// HTTPS: PEM certificate (chain) and key files. clientCaFile (PEM) makes it mutual TLS: a
		// client must present a certificate signed by that CA. The files are read again when they
		// change (checked at most every 30 s, on new connections), so renewals need no restart.
		tls: {
			certFile: null,
			keyFile: null,
			clientCaFile: null
		},
		// Client addresses allowed to connect, as CIDRs (IPv4 and IPv6; IPv4-mapped IPv6
		// addresses are matched as IPv4); others get 403. Empty: no address filter.
		allowFrom: [],
		// Upper bounds of the histogram buckets (strictly ascending; +Inf is added).
		buckets: {
			// edumeet_room_peers: peers per room.
			roomPeers: [1, 2, 3, 4, 5, 10, 20, 50, 100, 200],
			// edumeet_room_audio_senders / edumeet_room_video_senders: senders per room.
			roomSenders: [0, 1, 2, 3, 4, 5, 10, 20, 50],
			// mediasoup_stream_score: mediasoup scores (0-10).
			score: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
		}
	}
};
