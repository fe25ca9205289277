import { consumerRequests } from './consumerRequests.js';
import { producerRequests } from './producerRequests.js';
import type { RequestHandlers } from './RequestHandler.js';
import { roomRequests } from './roomRequests.js';
import { transportRequests } from './transportRequests.js';

/** Every method of the contract, by domain; the type makes a missing method a compile error. */
export const requestHandlers: RequestHandlers = {
	...roomRequests,
	...transportRequests,
	...producerRequests,
	...consumerRequests
};
