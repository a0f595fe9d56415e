// Types for what the TypeScript tests use from the end-to-end helpers (plain JavaScript, run by node).
import type { GenericMessage } from '../shared';

/** The product's story as three Generic JSON deliveries: web chat, then email, then the phone line. */
export function story(tag: string): GenericMessage[];
/** Problems with a timeline answer to the story (empty when it is one contact with one timeline). */
export function checkTimeline(body: unknown, tag: string): string[];
