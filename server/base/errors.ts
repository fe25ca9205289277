/**
 * The project's named errors, each name once. Three kinds:
 * - errors a client is told, as `{ name, message }` (socket.io signalling, the observer stream):
 *   their names are part of those protocols;
 * - the SFU's domain errors, which the signalling layer maps to the errors a client is told
 *   (server/signalling/clientErrors.ts), so the SFU knows nothing of the wire;
 * - errors of the server's own setup and of the command-line tools.
 * Every class's `name` is its class name, so a new error is one line and its name reaches logs and
 * clients without repeating it by hand.
 */
export class NamedError extends Error {
	constructor(message: string) {
		super(message);
		this.name = new.target.name;
	}
}

// --- Told to a client -------------------------------------------------------------------------

/** An error whose name and message a client may see (never a raw Error: that serialises to `{}`). */
export class ClientError extends NamedError {
	toJSON(): { name: string; message: string } {
		return { name: this.name, message: this.message };
	}
}

/** Malformed input: wrong type, missing or unknown field, too long; the message names the field. */
export class BadRequestError extends ClientError {}
export class UnknownMethodError extends ClientError {}
export class NotFoundError extends ClientError {}
export class NotJoinedError extends ClientError {
	constructor(message = 'join a room first') {
		super(message);
	}
}
export class AlreadyJoinedError extends ClientError {
	constructor(message = 'already joined; leave first') {
		super(message);
	}
}
export class RoomFullError extends ClientError {}
export class NotAllowedError extends ClientError {}
export class RateLimitError extends ClientError {}
/** The server could not do it (mediasoup refused, shutting down); the message says why. */
export class ServerError extends ClientError {}
/** The observer stream has no answer to give yet (e.g. no meeting server to count). */
export class UnavailableError extends ClientError {}

// --- The SFU's domain errors (server/sfu) --------------------------------------------------------

/** The request does not fit the media objects' state (not a send transport, an SSRC taken, …). */
export class InvalidMediaError extends NamedError {}
/** A limit or a setting forbids it (too many transports, TCP disabled). */
export class NotPermittedError extends NamedError {}
/** No such transport, producer or consumer of this peer, or it closed meanwhile. */
export class UnknownIdError extends NamedError {}
export class PeerClosedError extends NamedError {}
export class RoomCapacityError extends NamedError {}
export class RoomClosedError extends NamedError {}
export class ShuttingDownError extends NamedError {}
export class NoWorkerError extends NamedError {}

// --- Setup and tools -----------------------------------------------------------------------------

/** A command line or console command that does not fit its usage. */
export class UsageError extends NamedError {}
/** A file a tool would overwrite without being told it may. */
export class ExistingFileError extends NamedError {}
export class UnsafeSocketPathError extends NamedError {}
export class SocketInUseError extends NamedError {}
export class TlsFileError extends NamedError {
	constructor(file: string, reason: string) {
		super(`prometheus.tls: ${file}: ${reason}`);
	}
}
export class BearerTokenFileError extends NamedError {
	constructor(file: string, reason: string) {
		super(`prometheus.bearerTokenFile ${file}: ${reason}`);
	}
}
