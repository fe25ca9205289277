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
import { NamedError } from '../server/NamedError.js';

const USAGE = `usage: scripts/exporter [--socket PATH] [--listen IP] [--port N]
  --socket PATH   the server's observer socket (default: observer.socketPath of the config in use)
  --listen IP     bind address of /metrics (default: prometheus.listen)
  --port N        TCP port of /metrics (default: prometheus.port; use another one than an embedded
                  exporter on the same machine, or set prometheus.enabled = false in the server)
Other options (deidentify, numeric, quiet, personalLabels, ...) come from the config's prometheus block.`;

class UsageError extends NamedError {}

type Options = { socket?: string; listen?: string; port?: number; help: boolean };

function parseArgs(argv: string[]): Options {
	const options: Options = { help: false };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i]!;
		const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
		const value = (): string => {
			const v = inline ?? argv[++i];
			if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
			return v;
		};
		if (flag === '-h' || flag === '--help') options.help = true;
		else if (flag === '--socket') options.socket = value();
		else if (flag === '--listen') {
			options.listen = value();
			if (!net.isIP(options.listen)) throw new UsageError(`--listen: expected an IPv4 or IPv6 address, got ${JSON.stringify(options.listen)}`);
		} else if (flag === '--port') {
			const port = Number(value());
			if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port: expected an integer from 0 to 65535');
			options.port = port;
		} else throw new UsageError(`unknown argument ${arg}`);
	}
	return options;
}

async function main(): Promise<void> {
	const options = parseArgs(process.argv.slice(2));
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
		service.close().then(() => {
			console.info(`meter-sfu exporter: stopped (${signal})`);
			process.exit(0);
		}, (error: Error) => {
			console.error(`meter-sfu exporter: error while stopping: ${error.message}`);
			process.exit(1);
		});
	};
	process.on('SIGINT', () => stop('SIGINT'));
	process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: Error) => {
	console.error(`meter-sfu exporter: ${error.message}`);
	if (error instanceof UsageError) console.error(USAGE);
	process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
});
