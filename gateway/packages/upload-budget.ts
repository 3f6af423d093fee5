import { limited } from '../errors.ts';
import type { UploadLimits } from '../config.ts';
import type { BundleMemory } from './bundle.ts';
import { mebibytes } from './shown.ts';

/** One upload's share of the budget: its bundle's memory, and `release` once done with all of it. */
export type Upload = BundleMemory & { release(): void };

export type UploadBudget = { open(userId: number): Upload };

/** How long a refused client is told to wait: uploads in flight end within seconds, or at the request timeout. */
const retryAfterSeconds = 10;

/**
 * The memory publishes in flight may hold, in two parts, so that no client behaviour can
 * grow the process past their sum:
 * - what uploads still arriving have received (clients decide how long they hold it):
 *   at most `receivedBytes` in all and `receivedPerUserBytes` per user; past the user's
 *   share `429 rate_limited`, past the whole `503 unavailable`, both with Retry-After;
 * - what complete bundles weigh while they are decoded, checked and committed (the registry
 *   decides how long): at most `decodingBytes`; a bundle waits, first come first served,
 *   for room for its whole weight, then holds it until its publish is answered.
 */
export function createUploadBudget(limits: UploadLimits): UploadBudget {
  let received = 0;
  const perUser = new Map<number, number>();
  const decoding = createRoom(limits.decodingBytes);
  const refuse = (userId: number, bytes: number) => {
    const retryAfter = { 'Retry-After': String(retryAfterSeconds) };
    if ((perUser.get(userId) ?? 0) + bytes > limits.receivedPerUserBytes) {
      throw limited('rate_limited', 'upload_memory_user', `Your uploads in flight hold ${mebibytes(limits.receivedPerUserBytes)} already; wait for them to finish.`, retryAfter);
    }
    if (received + bytes > limits.receivedBytes) {
      throw limited('unavailable', 'upload_memory', `The registry is receiving too many uploads; try again in ${retryAfterSeconds} seconds.`, retryAfter);
    }
  };
  return {
    open(userId) {
      let mine = 0;
      let leaveRoom = () => {};
      const giveBackReceived = () => {
        received -= mine;
        const left = (perUser.get(userId) ?? 0) - mine;
        if (left > 0) perUser.set(userId, left);
        else perUser.delete(userId);
        mine = 0;
      };
      return {
        hold(bytes) {
          refuse(userId, bytes);
          mine += bytes;
          received += bytes;
          perUser.set(userId, (perUser.get(userId) ?? 0) + bytes);
        },
        async decode(weight) {
          // While it waits, the bundle stays counted as received; once in, its bytes are part of its weight.
          leaveRoom = await decoding.enter(weight);
          giveBackReceived();
        },
        release() {
          giveBackReceived();
          leaveRoom();
          leaveRoom = () => {};
        },
      };
    },
  };
}

/** Room for `capacity` bytes, handed out first come, first served, each weight whole (at most the capacity). */
function createRoom(capacity: number) {
  let used = 0;
  const waiting: Array<{ weight: number; enter(): void }> = [];
  const admit = () => {
    for (let next = waiting[0]; next !== undefined && used + next.weight <= capacity; next = waiting[0]) {
      waiting.shift();
      used += next.weight;
      next.enter();
    }
  };
  return {
    /** Waits until `weight` fits; answers the function that gives the room back. */
    enter(weight: number): Promise<() => void> {
      const fitting = Math.min(weight, capacity);
      return new Promise((resolve) => {
        const leave = () => {
          used -= fitting;
          admit();
        };
        waiting.push({ weight: fitting, enter: () => resolve(leave) });
        admit();
      });
    },
  };
}
