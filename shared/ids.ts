import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

let lastTime = -1;
let lastRandom: number[] = [];

function freshRandom(): number[] {
  return [...randomBytes(16)].map((b) => b % 32);
}

/** Adds one to a base-32 digit array; ids made in the same millisecond keep their creation order. */
function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] < 31) {
      next[i] += 1;
      return next;
    }
    next[i] = 0;
  }
  return freshRandom(); // 32^16 ids in one millisecond: start over rather than overflow
}

/**
 * Time-sortable ids (ULID layout: 10 characters of milliseconds, 16 of randomness) with a type prefix,
 * so that an id in a log says what it names. Monotonic within a process: a later id sorts later.
 */
export function newId(prefix: 'ct' | 'ev' | 'cv' | 'mg' | 'sg', now: number = Date.now()): string {
  const time = Math.max(now, lastTime);
  lastRandom = time === lastTime ? increment(lastRandom) : freshRandom();
  lastTime = time;
  let encodedTime = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    encodedTime = ALPHABET[t % 32] + encodedTime;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${encodedTime}${lastRandom.map((d) => ALPHABET[d]).join('')}`;
}
