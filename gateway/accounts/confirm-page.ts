import type { LoginRefusal } from './login-requests.ts';

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const refusals: Record<LoginRefusal, string> = {
  unknown: 'This link is not known here. Ask for a new one by logging in again.',
  expired: 'This link has expired. Ask for a new one by logging in again.',
  used: 'This login has been completed already. Nothing more to do.',
  dead: 'This login was closed after too many wrong codes. Ask for a new one by logging in again.',
  wrong: 'This link does not work. Ask for a new one by logging in again.',
};

/** The small page behind the login link: what happened, for a person, in plain HTML. */
export function confirmPage(outcome: { confirmed: true; email: string } | { confirmed: false; reason: LoginRefusal }): string {
  const title = outcome.confirmed ? 'Login confirmed' : 'This link does not work';
  const text = outcome.confirmed
    ? `You are logged in to the Gren package registry as ${outcome.email}. You can close this page and go back to your terminal.`
    : refusals[outcome.reason];
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escape(title)} · Gren package registry</title></head>`,
    `<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; padding: 0 1em"><h1>${escape(title)}</h1><p>${escape(text)}</p></body></html>`,
    '',
  ].join('\n');
}
