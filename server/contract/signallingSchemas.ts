/**
 * The schema of every signalling request's `data` (Zod): the server checks each request against it
 * at the edge (server/signalling/RequestValidator.ts), and the request types of the contract
 * (signalling.ts) are inferred from it. Our own shapes are strict: an unknown field is an error.
 * mediasoup's structures (rtpParameters, dtlsParameters) are only checked to be objects: mediasoup
 * validates their details and its TypeErrors become BadRequestErrors. rtpCapabilities are the
 * exception: mediasoup checks them only when a consumer is made, so they get mediasoup's rules here.
 * The browser app imports only types from here.
 */
import { z } from 'zod';
import type { types as ms } from 'mediasoup';

/** mediasoup ids are UUIDs (36 characters). */
const MAX_ID_LENGTH = 64;

/** A string matching `pattern`; `description` is the expected form that messages name. */
const matching = (pattern: RegExp, description: string) => z.string().regex(pattern).describe(description);

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * mediasoup structures go to the worker as JSON, whose parser drops a message with a lone
 * surrogate (`\ud800`) without answering: the request would hang until mediasoup's 15 s timeout.
 * So none may carry one, in a key or a value.
 */
function noLoneSurrogate({ value, issues }: z.core.ParsePayload): void {
	const visit = (v: unknown, path: PropertyKey[]): boolean => {
		if (typeof v === 'string') {
			if (!LONE_SURROGATE.test(v)) return true;
			issues.push({ code: 'custom', input: v, path, message: 'not well-formed Unicode (a lone surrogate)' });
			return false;
		}
		if (typeof v !== 'object' || v === null) return true;
		return Object.entries(v).every(([key, item]) => {
			if (!LONE_SURROGATE.test(key)) return visit(item, [...path, Array.isArray(v) ? Number(key) : key]);
			issues.push({ code: 'custom', input: v, path, message: 'a key that is not well-formed Unicode (a lone surrogate)' });
			return false;
		});
	};
	visit(value, []);
}

/** A mediasoup structure, typed as mediasoup's `T`, checked by `schema` (by default: an object). */
const mediasoupObject = <T>(schema: z.ZodObject = z.looseObject({}).describe('an object')) =>
	schema.check(noLoneSurrogate) as unknown as z.ZodType<T, T>;

/** mediasoup's rules for RtpCapabilities (its ortc.validateRtpCapabilities, not public API); extra keys pass. */
export const rtpCapabilities = mediasoupObject<ms.RtpCapabilities>(
	z
		.looseObject({
			codecs: z
				.array(
					z.looseObject({
						mimeType: matching(/^(audio|video)\/(.+)/i, 'a string such as "audio/opus" or "video/VP8"'),
						preferredPayloadType: z.number().optional(),
						clockRate: z.number(),
						channels: z.number().optional(),
						parameters: z
							.object({ apt: z.number().optional() })
							.catchall(z.union([z.string(), z.number()]))
							.optional(),
						rtcpFeedback: z.array(z.looseObject({ type: z.string().min(1), parameter: z.string().optional() })).optional()
					})
				)
				.optional(),
			headerExtensions: z
				.array(
					z.looseObject({
						kind: z.enum(['audio', 'video']),
						uri: z.string().min(1),
						preferredId: z.number(),
						preferredEncrypt: z.boolean().optional(),
						direction: z.string().optional()
					})
				)
				.optional()
		})
		.describe('an object')
);

/** Control characters, bidi overrides/isolates (which can disguise a name in other peers' UIs), line/paragraph separators. */
const UNWANTED = /[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029]/gu;

/**
 * The display name as other peers will see it: cleaned (a lone surrogate, which strict JSON
 * readers choke on, becomes U+FFFD), trimmed, 1..maxLength characters (code points). The raw bound
 * leaves room for what cleaning strips.
 */
export const displayName = (maxLength: number) =>
	z
		.string()
		.min(1)
		.max(maxLength * 4)
		.describe(`a string of 1 to ${maxLength} characters`)
		.transform((raw, ctx) => {
			const name = raw.replace(UNWANTED, '').replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD').trim();
			const length = [...name].length;
			if (length > 0 && length <= maxLength) return name;
			ctx.issues.push({
				code: 'custom',
				input: raw,
				message: length === 0 ? 'empty after removing spaces and control characters' : `longer than ${maxLength} characters`
			});
			return z.NEVER;
		});

export type RequestLimits = { maxRoomIdLength: number; maxDisplayNameLength: number };

/** Each request method's data schema; bounds from config.room. */
export function requestSchemas({ maxRoomIdLength, maxDisplayNameLength }: RequestLimits) {
	const roomId = matching(/^[A-Za-z0-9_.-]+$/, `a room id (1 to ${maxRoomIdLength} of A-Z a-z 0-9 _ - .)`).max(maxRoomIdLength);
	const id = z.string().min(1).max(MAX_ID_LENGTH).describe(`an id (a string of 1 to ${MAX_ID_LENGTH} characters)`);
	const direction = z.enum(['send', 'recv']);
	const port = z.int().min(1).max(65535);
	const layer = z.int().min(0).max(15);
	return {
		join: z.strictObject({ roomId, displayName: displayName(maxDisplayNameLength), rtpCapabilities }),
		getRouterRtpCapabilities: z.strictObject({ roomId }),
		createWebRtcTransport: z.strictObject({ direction, forceTcp: z.boolean().optional() }),
		connectWebRtcTransport: z.strictObject({ transportId: id, dtlsParameters: mediasoupObject<ms.DtlsParameters>() }),
		restartIce: z.strictObject({ transportId: id }),
		createPlainTransport: z.strictObject({ direction }),
		connectPlainTransport: z.strictObject({
			transportId: id,
			ip: matching(/^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/, 'an IPv4 or IPv6 address')
				.min(2)
				.max(45),
			port,
			rtcpPort: port.optional()
		}),
		produce: z.strictObject({
			transportId: id,
			kind: z.enum(['audio', 'video']),
			rtpParameters: mediasoupObject<ms.RtpParameters>(),
			paused: z.boolean().optional(),
			appData: z.strictObject({ source: z.enum(['mic', 'webcam', 'synthetic']).optional() }).optional()
		}),
		pauseProducer: z.strictObject({ producerId: id }),
		resumeProducer: z.strictObject({ producerId: id }),
		closeProducer: z.strictObject({ producerId: id }),
		resumeConsumer: z.strictObject({ consumerId: id }),
		pauseConsumer: z.strictObject({ consumerId: id }),
		setConsumerPreferredLayers: z.strictObject({ consumerId: id, spatialLayer: layer, temporalLayer: layer.optional() }),
		leave: z.strictObject({})
	};
}

export type RequestSchemas = ReturnType<typeof requestSchemas>;
