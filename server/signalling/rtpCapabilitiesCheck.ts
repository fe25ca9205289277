/**
 * mediasoup validates rtpCapabilities only when a consumer is made, and its validator is not part
 * of its public API. Checking them at join, with mediasoup's own rules, turns a broken client into a
 * BadRequestError naming the bad key up front instead of a peer that silently receives nothing.
 */
import type { RtpCapabilities } from './contract.js';
import { BadRequestError } from './RequestError.js';

const MIME_TYPE = /^(audio|video)\/(.+)/i;

function bad(path: string, expected: string): never {
	throw new BadRequestError(`${path}: expected ${expected}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An optional array: absent is fine, anything else must be an array. */
function optionalArray(value: unknown, path: string): unknown[] {
	if (value === undefined) return [];
	if (!Array.isArray(value)) bad(path, 'an array');
	return value;
}

function checkCodec(codec: unknown, path: string): void {
	if (!isObject(codec)) bad(path, 'an object');
	const mimeType = typeof codec.mimeType === 'string' ? MIME_TYPE.exec(codec.mimeType) : null;
	if (!mimeType) bad(`${path}.mimeType`, 'a string such as "audio/opus" or "video/VP8"');
	if (codec.preferredPayloadType !== undefined && typeof codec.preferredPayloadType !== 'number') {
		bad(`${path}.preferredPayloadType`, 'a number');
	}
	if (typeof codec.clockRate !== 'number') bad(`${path}.clockRate`, 'a number');
	if (codec.channels !== undefined && typeof codec.channels !== 'number') bad(`${path}.channels`, 'a number');
	if (codec.parameters !== undefined) {
		if (!isObject(codec.parameters)) bad(`${path}.parameters`, 'an object');
		for (const [key, value] of Object.entries(codec.parameters)) {
			const expected = key === 'apt' ? 'a number' : 'a string or a number';
			if (key === 'apt' ? typeof value !== 'number' : typeof value !== 'string' && typeof value !== 'number') {
				bad(`${path}.parameters.${key}`, expected);
			}
		}
	}
	optionalArray(codec.rtcpFeedback, `${path}.rtcpFeedback`).forEach((fb, i) => {
		const at = `${path}.rtcpFeedback[${i}]`;
		if (!isObject(fb)) bad(at, 'an object');
		if (typeof fb.type !== 'string' || fb.type === '') bad(`${at}.type`, 'a non-empty string');
		if (fb.parameter !== undefined && typeof fb.parameter !== 'string') bad(`${at}.parameter`, 'a string');
	});
}

function checkHeaderExtension(ext: unknown, path: string): void {
	if (!isObject(ext)) bad(path, 'an object');
	if (ext.kind !== 'audio' && ext.kind !== 'video') bad(`${path}.kind`, '"audio" or "video"');
	if (typeof ext.uri !== 'string' || ext.uri === '') bad(`${path}.uri`, 'a non-empty string');
	if (typeof ext.preferredId !== 'number') bad(`${path}.preferredId`, 'a number');
	if (ext.preferredEncrypt !== undefined && typeof ext.preferredEncrypt !== 'boolean') bad(`${path}.preferredEncrypt`, 'true or false');
	if (ext.direction !== undefined && typeof ext.direction !== 'string') bad(`${path}.direction`, 'a string');
}

/** A copy of `value` (the peer owns it: mediasoup fills defaults in place), or a BadRequestError naming the bad key. */
export function checkRtpCapabilities(value: unknown, path: string): RtpCapabilities {
	if (!isObject(value)) bad(path, 'an object');
	optionalArray(value.codecs, `${path}.codecs`).forEach((codec, i) => checkCodec(codec, `${path}.codecs[${i}]`));
	optionalArray(value.headerExtensions, `${path}.headerExtensions`)
		.forEach((ext, i) => checkHeaderExtension(ext, `${path}.headerExtensions[${i}]`));
	return structuredClone(value) as RtpCapabilities;
}
