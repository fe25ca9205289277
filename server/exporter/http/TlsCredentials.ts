import fs from 'node:fs';
import type tls from 'node:tls';
import type { Config } from '../../../config/configSchema.js';
import { Logger } from '../../base/Logger.js';
import { TlsFileError } from '../../base/errors.js';

const logger = new Logger('TlsCredentials');

export type TlsFiles = { certFile: string; keyFile: string; clientCaFile: string | null };

type Loaded = { options: tls.SecureContextOptions & tls.TlsOptions; stamp: string };

function stampOf(files: string[]): string {
	return files
		.map((file) => {
			let st: fs.Stats;
			try {
				st = fs.statSync(file);
			} catch (error) {
				throw new TlsFileError(file, (error as Error).message);
			}
			return `${st.ino}:${st.size}:${st.mtimeMs}`;
		})
		.join('|');
}

/**
 * The metrics port's certificate, key and optional client CA (mutual TLS: requestCert and
 * rejectUnauthorized, so a client without a certificate from that CA never gets past the
 * handshake). Certificates get renewed: `watch()` looks at the files again on a new connection at
 * most every `checkIntervalMs` and swaps the server's secure context when they changed, so a
 * renewal needs no restart of the SFU (a broken renewal keeps the old context and warns).
 */
export class TlsCredentials {
	readonly #files: TlsFiles;
	readonly #checkIntervalMs: number;
	#loaded: Loaded;
	#lastCheck = performance.now();

	/** null when the config has no certificate (plain HTTP). Throws TlsFileError for unreadable files. */
	static fromOptions(tlsOptions: Config['prometheus']['tls'], { checkIntervalMs = 30_000 } = {}): TlsCredentials | null {
		const { certFile, keyFile, clientCaFile } = tlsOptions;
		if (certFile === null || keyFile === null) return null;
		return new TlsCredentials({ certFile, keyFile, clientCaFile }, checkIntervalMs);
	}

	private constructor(files: TlsFiles, checkIntervalMs: number) {
		this.#files = files;
		this.#checkIntervalMs = checkIntervalMs;
		this.#loaded = this.#load();
	}

	get mutual(): boolean {
		return this.#files.clientCaFile !== null;
	}

	/** Options for https.createServer(). */
	serverOptions(): tls.TlsOptions {
		return { ...this.#loaded.options };
	}

	/** Reloads changed files into `server` as connections arrive (checked before their handshake). */
	watch(server: tls.Server): void {
		server.prependListener('connection', () => {
			const now = performance.now();
			if (now - this.#lastCheck < this.#checkIntervalMs) return;
			this.#lastCheck = now;
			try {
				if (stampOf(this.#paths()) === this.#loaded.stamp) return;
				const next = this.#load();
				server.setSecureContext(next.options);
				this.#loaded = next;
				logger.debug('reloaded %s', this.#paths().join(', '));
			} catch (error) {
				logger.warn('keeping the old certificate: %s', (error as Error).message);
			}
		});
	}

	#paths(): string[] {
		const { certFile, keyFile, clientCaFile } = this.#files;
		return clientCaFile === null ? [certFile, keyFile] : [certFile, keyFile, clientCaFile];
	}

	#load(): Loaded {
		const read = (file: string): Buffer => {
			try {
				return fs.readFileSync(file);
			} catch (error) {
				throw new TlsFileError(file, (error as Error).message);
			}
		};
		// Stamp first: a file replaced between stamping and reading is read again at the next check.
		const stamp = stampOf(this.#paths());
		const { certFile, keyFile, clientCaFile } = this.#files;
		const options: Loaded['options'] = { cert: read(certFile), key: read(keyFile), minVersion: 'TLSv1.2' };
		if (clientCaFile !== null) Object.assign(options, { ca: read(clientCaFile), requestCert: true, rejectUnauthorized: true });
		return { options, stamp };
	}
}
