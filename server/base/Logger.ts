import debug from 'debug';

const APP_NAME = 'meter-sfu';

/**
 * Logging through `debug` namespaces, as mediasoup does: `meter-sfu:Room` for debug output and
 * `meter-sfu:WARN:Room` / `meter-sfu:ERROR:Room` for warnings and errors (enabled by default in
 * scripts/start through DEBUG).
 */
export class Logger {
	readonly debug: debug.Debugger;
	readonly warn: debug.Debugger;
	readonly error: debug.Debugger;

	constructor(prefix?: string) {
		const ns = prefix ? `${APP_NAME}:${prefix}` : APP_NAME;
		this.debug = debug(ns);
		this.warn = debug(prefix ? `${APP_NAME}:WARN:${prefix}` : `${APP_NAME}:WARN`);
		this.error = debug(prefix ? `${APP_NAME}:ERROR:${prefix}` : `${APP_NAME}:ERROR`);
		this.debug.log = console.info.bind(console);
		this.warn.log = console.warn.bind(console);
		this.error.log = console.error.bind(console);
	}

	child(name: string): Logger {
		return new Logger(name);
	}
}
