// Must come first: it points mediasoup at the worker binary before mediasoup loads.
import './workerBinary.js';
import { loadConfig, ConfigError } from './config/loadConfig.js';
import { Server } from './Server.js';
import { Logger } from './base/Logger.js';

const logger = new Logger('main');

async function main(): Promise<void> {
	let loaded;
	try {
		loaded = await loadConfig();
	} catch (error) {
		if (error instanceof ConfigError) {
			console.error(error.message);
			process.exit(2);
		}
		throw error;
	}
	const { config, file } = loaded;
	const server = await Server.create({ config });
	console.info(`meter-sfu: config ${file}`);
	console.info(`meter-sfu: app at ${server.appUrl}/ (${server.workerPool.workers.length} mediasoup workers)`);
	if (server.metricsUrl) console.info(`meter-sfu: metrics at ${server.metricsUrl}`);

	let stopping = false;
	const stop = (signal: string): void => {
		if (stopping) return;
		stopping = true;
		logger.debug('%s: shutting down', signal);
		server.close().then(
			() => {
				console.info(`meter-sfu: stopped (${signal})`);
				process.exit(0);
			},
			(error: Error) => {
				console.error(`meter-sfu: error while stopping: ${error.message}`);
				process.exit(1);
			}
		);
	};
	process.on('SIGINT', () => stop('SIGINT'));
	process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: Error) => {
	console.error(`meter-sfu: failed to start: ${error.stack ?? error.message}`);
	process.exit(1);
});
