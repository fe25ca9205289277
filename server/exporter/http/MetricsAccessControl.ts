import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../../config/configSchema.js';
import { BearerTokenFileError } from '../../base/errors.js';
import { Logger } from '../../base/Logger.js';
import { BasicAuthVerifier } from './BasicAuthVerifier.js';
import { IpAllowList } from './IpAllowList.js';

const logger = new Logger('MetricsAccessControl');

const REALM = 'meter-sfu metrics';

/** The `prometheus` keys that decide who may use the metrics port. */
export type AccessOptions = Pick<Config['prometheus'], 'basicAuthUsers' | 'bearerToken' | 'bearerTokenFile' | 'allowFrom'>;

type Auth = { scheme: 'none' } | { scheme: 'basic'; verifier: BasicAuthVerifier } | { scheme: 'bearer'; digest: Buffer };

function sha256(value: string): Buffer {
	return crypto.createHash('sha256').update(value).digest();
}

/**
 * Guards every request on the metrics port (metrics, landing page, overview and its data), in the
 * spirit of Prometheus' exporter-toolkit web config: first the address allow-list (403), then basic
 * auth against bcrypt hashes or a bearer token (401 with a `WWW-Authenticate` challenge). Neither
 * credentials nor user names are ever logged.
 */
export class MetricsAccessControl {
	readonly #allowList: IpAllowList;
	readonly #auth: Auth;

	/** Reads the bearer token file if there is one; warns when a non-loopback port is wide open. */
	static async create({ options, listenIp }: { options: AccessOptions; listenIp: string }): Promise<MetricsAccessControl> {
		const users = options.basicAuthUsers;
		if (Object.keys(users).length > 0 && (options.bearerToken !== null || options.bearerTokenFile !== null)) {
			throw new TypeError('basic auth users and a bearer token exclude each other');
		}
		let token = options.bearerToken;
		if (options.bearerTokenFile !== null) {
			let text: string;
			try {
				text = await fs.readFile(options.bearerTokenFile, 'utf8');
			} catch (error) {
				throw new BearerTokenFileError(options.bearerTokenFile, (error as Error).message);
			}
			token = text.trim();
			if (token.length < 16) throw new BearerTokenFileError(options.bearerTokenFile, 'the token must have at least 16 characters');
		}
		const auth: Auth =
			Object.keys(users).length > 0
				? { scheme: 'basic', verifier: new BasicAuthVerifier({ users }) }
				: token !== null
					? { scheme: 'bearer', digest: sha256(token) }
					: { scheme: 'none' };
		const loopback = listenIp === '::1' || (net.isIPv4(listenIp) && listenIp.startsWith('127.'));
		if (auth.scheme === 'none' && options.allowFrom.length === 0 && !loopback) {
			logger.warn(
				'metrics port on %s has neither authentication nor an allow-list: whoever reaches it reads it (see prom.md, "Securing the endpoint")',
				listenIp
			);
		}
		return new MetricsAccessControl(new IpAllowList(options.allowFrom), auth);
	}

	private constructor(allowList: IpAllowList, auth: Auth) {
		this.#allowList = allowList;
		this.#auth = auth;
	}

	get scheme(): Auth['scheme'] {
		return this.#auth.scheme;
	}

	/** bcrypt comparisons run so far (basic auth only): shows the verification cache working. */
	get bcryptRuns(): number {
		return this.#auth.scheme === 'basic' ? this.#auth.verifier.bcryptRuns : 0;
	}

	/** Express/connect middleware: calls `next()` for an allowed request, answers it otherwise. */
	readonly handle = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
		const address = req.socket.remoteAddress;
		if (!this.#allowList.allows(address)) {
			logger.debug('403 for %s: not in allowFrom', address);
			this.#refuse(res, 403, 'forbidden');
			return;
		}
		const auth = this.#auth;
		if (auth.scheme === 'none') {
			next();
			return;
		}
		const [scheme = '', credentials = ''] = (req.headers.authorization ?? '').trim().split(/\s+/, 2);
		if (auth.scheme === 'bearer') {
			// Equal-length digests: timingSafeEqual compares in constant time whatever was sent.
			if (scheme.toLowerCase() === 'bearer' && crypto.timingSafeEqual(sha256(credentials), auth.digest)) {
				next();
				return;
			}
			logger.debug('401 for %s: %s', address, scheme ? 'wrong bearer token' : 'no credentials');
			this.#challenge(res, scheme ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`);
			return;
		}
		const decoded = scheme.toLowerCase() === 'basic' ? Buffer.from(credentials, 'base64').toString('utf8') : '';
		const colon = decoded.indexOf(':');
		if (colon < 0) {
			logger.debug('401 for %s: no basic credentials', address);
			this.#challenge(res, `Basic realm="${REALM}", charset="UTF-8"`);
			return;
		}
		auth.verifier.verify(decoded.slice(0, colon), decoded.slice(colon + 1)).then((outcome) => {
			if (outcome === 'ok') {
				next();
			} else if (outcome === 'busy') {
				logger.warn('503 for %s: too many password checks at once', address);
				res.setHeader('Retry-After', '1');
				this.#refuse(res, 503, 'busy');
			} else {
				logger.debug('401 for %s: wrong user or password', address);
				this.#challenge(res, `Basic realm="${REALM}", charset="UTF-8"`);
			}
		}, next);
	};

	#challenge(res: ServerResponse, challenge: string): void {
		res.setHeader('WWW-Authenticate', challenge);
		this.#refuse(res, 401, 'unauthorized');
	}

	#refuse(res: ServerResponse, status: number, text: string): void {
		res.statusCode = status;
		res.setHeader('Content-Type', 'text/plain; charset=utf-8');
		res.setHeader('Cache-Control', 'no-store');
		res.end(`${text}\n`);
	}
}
