/**
 * The exporter in a process of its own: `scripts/exporter [--socket PATH] [--listen IP] [--port N]`.
 * It reads the server only through the observer stream (like the embedded exporter) and serves the
 * same /metrics. Options not given come from the server's config (CONFIG, config/config.js,
 * config/config.example.js): observer.socketPath and the prometheus block. If the server is not up
 * yet, it serves meter_sfu_exporter_up 0 and keeps trying to connect.
 */
// Before anything that could load mediasoup (nothing here does today; cheap insurance).
import '../server/workerBinary.js';
import net from 'node:net';
import { loadConfig, ConfigError } from '../server/config/loadConfig.js';
import { ExporterService } from '../server/exporter/ExporterService.js';
import { UsageError } from '../server/base/errors.js';
import { parseCommandLine } from '../tools/cli/parseCommandLine.js';

const USAGE = `usage: scripts/exporter [--socket PATH] [--listen IP] [--port N]
  --socket PATH   the server's observer socket (default: observer.socketPath of the config in use)
  --listen IP     bind address of /metrics (default: prometheus.listen)
  --port N        TCP port of /metrics (default: prometheus.port; use another one than an embedded
                  exporter on the same machine, or set prometheus.enabled = false in the server)
Other options (deidentify, numeric, quiet, personalLabels, ...) come from the config's prometheus block.`;

type Options = { socket?: string; listen?: string; port?: number; help: boolean };

function parseOptions(argv: string[]): Options {
	const { values } = parseCommandLine({
		args: argv,
		options: {
			socket: { type: 'string' },
			listen: { type: 'string' },
			port: { type: 'string' },
			help: { type: 'boolean', short: 'h', default: false }
		},
		strict: true
	});
	const { socket, listen, port } = values;
	if (socket === '') throw new UsageError('--socket: expected a path, got ""');
	if (listen !== undefined && !net.isIP(listen))
		throw new UsageError(`--listen: expected an IPv4 or IPv6 address, got ${JSON.stringify(listen)}`);
	if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) <= 65535))
		throw new UsageError(`--port: expected an integer from 0 to 65535, got ${JSON.stringify(port)}`);
	return { socket, listen, port: port === undefined ? undefined : Number(port), help: values.help };
}

async function main(): Promise<void> {
	const options = parseOptions(process.argv.slice(2));
	if (options.help) {
		process.stdout.write(`${USAGE}\n`);
		return;
	}
	const { config, file } = await loadConfig();
	const socketPath = options.socket ?? config.observer.socketPath;
	const service = await ExporterService.create({
		socketPath,
		ip: options.listen ?? config.prometheus.listen,
		port: options.port ?? config.prometheus.port,
		options: config.prometheus,
		requireConnection: false
	});
	console.info(`meter-sfu exporter: config ${file}, observer socket ${socketPath}`);
	console.info(`meter-sfu exporter: metrics at ${service.url}/metrics`);
	let stopping = false;
	const stop = (signal: string): void => {
		if (stopping) return;
		stopping = true;
		service.close().then(
			() => {
				console.info(`meter-sfu exporter: stopped (${signal})`);
				process.exit(0);
			},
			(error: Error) => {
				console.error(`meter-sfu exporter: error while stopping: ${error.message}`);
				process.exit(1);
			}
		);
	};
	process.on('SIGINT', () => stop('SIGINT'));
	process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: Error) => {
	console.error(`meter-sfu exporter: ${error.message}`);
	if (error instanceof UsageError) console.error(USAGE);
	process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
});
