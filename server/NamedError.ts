/**
 * An Error whose `name` is its class's name, so a named error class is one line
 * (`export class NotFoundError extends NamedError {}`) and the name reaches logs and clients
 * (`{ name, message }`) without repeating it by hand.
 */
export class NamedError extends Error {
	constructor(message: string) {
		super(message);
		this.name = new.target.name;
	}
}
