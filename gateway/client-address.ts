import net from 'node:net';
import type Koa from 'koa';
import type { Config, TrustProxy } from './config.ts';

/** Where a request comes from, as the registry records and limits it. */
export type Client = {
  /** The client's IP address: the socket's, or the one a trusted proxy forwarded (see `createClientAddress`). */
  address: string;
  /** The User-Agent header, printable and at most 200 characters; '' when absent. */
  userAgent: string;
};

/** An address as compared and shown: IPv4-mapped IPv6 as plain IPv4, IPv6 in lower case; null when not an IP address. */
export function plainAddress(raw: string): string | null {
  const text = raw.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text)?.[1];
  if (mapped !== undefined && net.isIPv4(mapped)) return mapped;
  if (net.isIPv4(text)) return text;
  if (net.isIPv6(text)) return text.toLowerCase();
  return null;
}

/**
 * The client address of a connection from `socketAddress` carrying `forwardedFor` (the
 * X-Forwarded-For header, '' when absent). The chain is read from the right, starting at the
 * socket: while the address in hand is a trusted proxy, the entry it appended is the next
 * one. The first address that is not trusted is the client; a malformed entry stops the walk
 * at the proxy that passed it on. Without `trust`, the header is never read.
 */
export function createClientAddress(trust: TrustProxy | null): (socketAddress: string | undefined, forwardedFor: string) => string {
  const trusted = trust === null ? () => false : 'hops' in trust ? (_: string, hop: number) => hop < trust.hops : inRanges(trust.proxies);
  return (socketAddress, forwardedFor) => {
    let client = plainAddress(socketAddress ?? '') ?? 'unknown';
    if (trust === null || forwardedFor.trim() === '') return client;
    const chain = forwardedFor.split(',').reverse();
    for (let hop = 0; hop < chain.length && trusted(client, hop); hop++) {
      const next = plainAddress(chain[hop] as string);
      if (next === null) break;
      client = next;
    }
    return client;
  };
}

function inRanges(ranges: Extract<TrustProxy, { proxies: unknown }>['proxies']): (address: string) => boolean {
  const list = new net.BlockList();
  for (const range of ranges) list.addSubnet(range.address, range.prefix, range.family);
  return (address) => net.isIP(address) !== 0 && list.check(address, net.isIPv4(address) ? 'ipv4' : 'ipv6');
}

/**
 * The key per-client limits count by: an IPv4 address as it is, an IPv6 address by the /64 it
 * is in, since one subscriber usually holds a whole /64 and can use any address of it.
 */
export function clientKey(address: string): string {
  if (!net.isIPv6(address)) return address;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros (an embedded IPv4 tail becomes two groups). */
function ipv6Groups(address: string): string[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const split = (part: string) => (part === '' ? [] : part.split(':'));
  const groups = tail === undefined ? split(head) : [...split(head), ...Array<string>(8 - split(head).length - split(tail).length).fill('0'), ...split(tail)];
  return groups.map((group) => parseInt(group, 16).toString(16));
}

const userAgentLength = 200;

/** Sets `ctx.state.client` for everything after it: the one place a request's client address is decided. */
export function identifyClient(config: Pick<Config, 'trustProxy'>): Koa.Middleware {
  const addressOf = createClientAddress(config.trustProxy);
  return async (ctx, next) => {
    const client: Client = {
      address: addressOf(ctx.req.socket.remoteAddress, ctx.get('x-forwarded-for')),
      userAgent: ctx.get('user-agent').replace(/[^\x20-\x7e]/g, '').trim().slice(0, userAgentLength),
    };
    ctx.state.client = client;
    await next();
  };
}

/** The client of a request (set by `identifyClient`). */
export function clientOf(ctx: Koa.Context): Client {
  return ctx.state.client as Client;
}
