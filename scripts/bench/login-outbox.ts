import fs from 'node:fs/promises';
import path from 'node:path';
import { parseMail } from '../../test/helpers/smtp.ts';
import { readLoginMail } from '../../test/helpers/accounts.ts';

export type LoginMail = { code: string; link: string };

/**
 * The login mail a registry without SMTP_URL writes to its outbox folder, read as it arrives:
 * each file is read once, handed to whoever waits for its recipient, and deleted, so that the
 * folder stays small however many logins a run makes.
 */
export type LoginOutbox = {
  /** The next mail to `email`, waiting for it up to `timeoutMs`. */
  waitFor(email: string, timeoutMs: number): Promise<LoginMail>;
  close(): void;
};

/** A mail not claimed within this long is dropped. */
const keepUnclaimedMs = 60_000;

export function watchOutbox(dir: string): LoginOutbox {
  const arrived = new Map<string, Array<LoginMail & { at: number }>>();
  const waiters = new Map<string, Array<(mail: LoginMail) => void>>();
  let reading = false;

  /** The first of a recipient's list, the key dropped with its last entry so that the maps stay small. */
  const takeFirst = <T>(map: Map<string, T[]>, to: string): T | undefined => {
    const list = map.get(to);
    const first = list?.shift();
    if (list?.length === 0) map.delete(to);
    return first;
  };
  const hand = (to: string, mail: LoginMail) => {
    const waiting = takeFirst(waiters, to);
    if (waiting) return waiting(mail);
    arrived.set(to, [...(arrived.get(to) ?? []), { ...mail, at: Date.now() }]);
  };

  /** Reads one mail file; a file still being written (no code in it yet) is left for the next look. */
  const readOne = async (file: string) => {
    const raw = await fs.readFile(file, 'utf8').catch(() => '');
    const to = /^To: (.+)$/im.exec(raw)?.[1]?.trim().toLowerCase();
    let mail: LoginMail;
    try {
      mail = readLoginMail(parseMail(raw, to ? [to] : []));
    } catch {
      return;
    }
    await fs.rm(file, { force: true });
    if (to) hand(to, mail);
  };

  const look = async () => {
    if (reading) return;
    reading = true;
    try {
      const files = await fs.readdir(dir).catch(() => [] as string[]);
      for (const file of files.filter((f) => f.endsWith('.eml'))) await readOne(path.join(dir, file));
      for (const [to, mails] of arrived) {
        const fresh = mails.filter((m) => Date.now() - m.at < keepUnclaimedMs);
        if (fresh.length === 0) arrived.delete(to);
        else arrived.set(to, fresh);
      }
    } finally {
      reading = false;
    }
  };
  const timer = setInterval(() => void look(), 50);

  return {
    waitFor(email, timeoutMs) {
      const to = email.toLowerCase();
      const ready = takeFirst(arrived, to);
      if (ready) return Promise.resolve({ code: ready.code, link: ready.link });
      return new Promise((resolve, reject) => {
        const give = (mail: LoginMail) => {
          clearTimeout(timeout);
          resolve(mail);
        };
        const timeout = setTimeout(() => {
          const left = (waiters.get(to) ?? []).filter((w) => w !== give);
          if (left.length === 0) waiters.delete(to);
          else waiters.set(to, left);
          reject(new Error(`no login mail to ${email} within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        waiters.set(to, [...(waiters.get(to) ?? []), give]);
      });
    },
    close() {
      clearInterval(timer);
    },
  };
}
