import type { LoginRefusal, PendingLogin } from './login-requests.ts';

/**
 * The small pages behind the login link, in plain HTML: no script, no image, no style sheet,
 * nothing loaded from anywhere. Every value shown is escaped.
 */

/** Nothing cached or framed, no referrer (the address holds the link's secret), forms posted only here. */
export const loginPageHeaders = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const minuteUtc = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const refusals: Record<LoginRefusal, string> = {
  unknown: 'This link is not known here. Ask for a new one by logging in again.',
  expired: 'This link has expired. Ask for a new one by logging in again.',
  used: 'This login has been completed already. Nothing more to do.',
  dead: 'This login was closed after too many wrong codes. Ask for a new one by logging in again.',
  wrong: 'This link does not work. Ask for a new one by logging in again.',
  denied: 'This login was denied: nobody was logged in by it. Ask for a new one by logging in again.',
};

function page(title: string, body: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escape(title)} · Gren package registry</title></head>`,
    `<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; padding: 0 1em"><h1>${escape(title)}</h1>`,
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}

const paragraph = (text: string) => `<p>${escape(text)}</p>`;
const button = (action: string, label: string) =>
  `<form method="post" action="${escape(action)}" style="display: inline-block; margin-right: 1em"><button type="submit">${escape(label)}</button></form>`;

/** What is being confirmed, with a button to confirm and one to deny. `confirm` and `deny` are the forms' addresses. */
export function askPage(input: { login: PendingLogin; viewer: string; confirm: string; deny: string }): string {
  const { login } = input;
  const row = (label: string, value: string) => `<tr><th style="text-align: left; padding-right: 1em">${escape(label)}</th><td>${escape(value)}</td></tr>`;
  return page('Confirm this login?', [
    `<p>Someone asked to log in to the Gren package registry as <strong>${escape(login.email)}</strong>:</p>`,
    '<table>',
    row('When', minuteUtc(login.created)),
    row('From the address', login.address || 'unknown'),
    row('With the program', login.userAgent || 'unknown (it did not say)'),
    row('This page was opened from', input.viewer),
    '</table>',
    paragraph('Confirm only if you asked, from that computer: it will be logged in as you and may publish in your name. If not, deny it; nothing else happens.'),
    `<p>${button(input.confirm, 'Confirm the login')}${button(input.deny, 'Deny it')}</p>`,
    paragraph(`This link works until ${minuteUtc(login.expires)}.`),
  ]);
}

/** After a button: the login confirmed, or denied. */
export function answeredPage(outcome: { kind: 'confirmed' | 'denied'; email: string }): string {
  return outcome.kind === 'confirmed'
    ? page('Login confirmed', [paragraph(`The computer that asked is now logged in to the Gren package registry as ${outcome.email}. You can close this page.`)])
    : page('Login denied', [
        paragraph(`Nobody was logged in as ${outcome.email} by this link, and it works no more.`),
        paragraph('If you did not ask to log in, someone typed your address; there is nothing more to do.'),
      ]);
}

/** A link that can no longer be confirmed, and why. */
export function refusedPage(reason: LoginRefusal): string {
  return page('This link does not work', [paragraph(refusals[reason])]);
}

/** A button pressed somewhere else than on this registry's own page for the link. */
export function notFromPagePage(): string {
  return page('Open the link again', [
    paragraph('This answer did not come from the page this registry showed for the link, or that page is out of date. Nothing was confirmed or denied.'),
    paragraph('Open the link in the mail again and use the buttons of its page.'),
  ]);
}
