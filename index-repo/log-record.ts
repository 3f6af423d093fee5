import type { EncodedPack } from './pack-writer.ts';

/**
 * What one batch of commits changes in the repository's files, as the commit log keeps it:
 * the pack of its new objects (with its index), the content refs it sets and deletes, where
 * `main` moves, and the served paths it changes (to repair after a power cut).
 */
export type RepoRecord = {
  pack: EncodedPack | null;
  set: Array<[string, string]>;
  deleted: string[];
  main: string | null;
  served: string[];
};

type Header = { pack: string | null; packBytes: number; idxBytes: number; set: Array<[string, string]>; deleted: string[]; main: string | null; served: string[] };

/** Encodes a record: a JSON header (its length first), then the pack and index bytes. */
export function encodeRecord(record: RepoRecord): Buffer {
  const header: Header = {
    pack: record.pack?.name ?? null,
    packBytes: record.pack?.pack.length ?? 0,
    idxBytes: record.pack?.idx.length ?? 0,
    set: record.set,
    deleted: record.deleted,
    main: record.main,
    served: record.served,
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat(record.pack ? [length, json, record.pack.pack, record.pack.idx] : [length, json]);
}

export function decodeRecord(payload: Buffer): RepoRecord {
  const length = payload.readUInt32BE(0);
  const header = JSON.parse(payload.subarray(4, 4 + length).toString('utf8')) as Header;
  const packAt = 4 + length;
  const pack =
    header.pack === null
      ? null
      : { name: header.pack, pack: payload.subarray(packAt, packAt + header.packBytes), idx: payload.subarray(packAt + header.packBytes, packAt + header.packBytes + header.idxBytes) };
  return { pack, set: header.set, deleted: header.deleted, main: header.main, served: header.served };
}
