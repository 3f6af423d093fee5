import test from 'ava';
import {
  answerLoginLink,
  call,
  openLoginPage,
  pressButton,
  expectError,
  expectJson,
  fetchSession,
  mailRegistryFor,
  movableClock,
  readLoginMail,
  requestLogin,
  startRegistryWithMail,
} from './helpers/accounts.ts';

test('opening the link (GET, as mail scanners do) confirms nothing: the waiting fetch stays pending', async (t) => {
  const reg = await mailRegistryFor(t, { accounts: { linkWaitMs: 200 } });
  const fetchSessionToken = await requestLogin(reg, 'victim@example.com');
  const { link } = readLoginMail(await reg.smtp.waitForMail('victim@example.com'));
  for (let i = 0; i < 3; i++) {
    const page = await fetch(link);
    t.is(page.status, 200);
    t.notRegex(await page.text(), /Login confirmed/);
  }
  t.is((await fetch(link, { method: 'HEAD' })).status, 200);
  const res = await fetchSession(reg, { fetchSessionToken });
  t.is(res.status, 202, 'no session for whoever started the login');
  t.deepEqual(await res.json(), { status: 'pending' });
});

test('the link’s page says what is being confirmed: who asked, from where, with what, when', async (t) => {
  const clock = movableClock(new Date('2031-05-04T10:20:30Z'));
  const reg = await mailRegistryFor(t, { clock });
  await requestLogin(reg, 'robin@example.com', { 'user-agent': 'gren-registry/1.0 <script>alert(1)</script>' });
  const { link } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  const res = await fetch(link);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  t.is(res.headers.get('referrer-policy'), 'no-referrer');
  t.is(res.headers.get('cache-control'), 'no-store');
  t.is(res.headers.get('x-frame-options'), 'DENY');
  const csp = res.headers.get('content-security-policy') ?? '';
  for (const directive of ["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) t.true(csp.includes(directive), csp);
  const html = await res.text();
  t.regex(html, /robin@example\.com/);
  t.regex(html, /127\.0\.0\.1/);
  t.regex(html, /2031-05-04 10:20 UTC/);
  t.regex(html, /gren-registry\/1\.0 &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  t.false(html.includes('<script'), 'the user agent is shown as text');
  t.notRegex(html, /<(script|img|link|iframe)\b|\b(src|href)=/i, 'no external resource, no script');
  t.true(html.length < 4096, `a small page (${html.length} bytes)`);
  const page = await openLoginPage(link);
  t.truthy(page.confirm);
  t.truthy(page.deny);
});

test('the page’s confirm button (a POST) gives the session, and the held fetch wakes at once', async (t) => {
  const reg = await mailRegistryFor(t);
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { link } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));

  const held = fetchSession(reg, { fetchSessionToken });
  let settled = false;
  void held.then(() => (settled = true));
  const page = await openLoginPage(link);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.false(settled, 'the fetch waits for the button, not for the page');

  const pressed = performance.now();
  const answer = await pressButton(page.confirm!);
  t.is(answer.status, 200);
  t.is(answer.headers.get('referrer-policy'), 'no-referrer');
  const html = await answer.text();
  t.regex(html, /Login confirmed/);
  t.regex(html, /robin@example\.com/);

  const { sessionToken } = await expectJson(await held, 200);
  const wokeAfter = performance.now() - pressed;
  t.true(wokeAfter < 2000, `woke ${Math.round(wokeAfter)} ms after the button (the wait is 30 s)`);
  await expectJson(await call(reg.url, 'GET', '/session', { token: sessionToken }), 200);

  // The login is complete: the link, the button and the fetch token work no more.
  t.regex(await (await fetch(link)).text(), /completed already/);
  t.is((await pressButton(page.confirm!)).status, 400);
  await expectError(await fetchSession(reg, { fetchSessionToken }), 400, 'invalid_code');
});

test('the link way: 202 pending while the button is not pressed, then 200 once it is', async (t) => {
  const reg = await mailRegistryFor(t, { accounts: { linkWaitMs: 200 } });
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { link } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  const started = performance.now();
  const pending = await fetchSession(reg, { fetchSessionToken });
  t.is(pending.status, 202);
  t.deepEqual(await pending.json(), { status: 'pending' });
  t.true(performance.now() - started >= 150, 'held for the link-wait time');
  t.is((await answerLoginLink(link)).status, 200);
  const { sessionToken } = await expectJson(await fetchSession(reg, { fetchSessionToken }), 200);
  t.truthy(sessionToken);
});

test('denying kills the login: the held fetch answers 403 login_denied, and neither code nor link works after', async (t) => {
  const reg = await mailRegistryFor(t);
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { link, code } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  const held = fetchSession(reg, { fetchSessionToken });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const denied = await answerLoginLink(link, 'deny');
  t.is(denied.status, 200);
  t.regex(await denied.text(), /Login denied/);
  const { message } = await expectError(await held, 403, 'login_denied');
  t.regex(message, /denied/);
  await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: code }), 403, 'login_denied');
  const after = await fetch(link);
  t.is(after.status, 400);
  t.regex(await after.text(), /denied/);
  t.true(reg.log.lines.some((l) => l.event === 'login_denied'));
});

test('a confirmation not posted from the page itself confirms nothing', async (t) => {
  const reg = await mailRegistryFor(t, { accounts: { linkWaitMs: 100 } });
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { link } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  const page = await openLoginPage(link);
  const action = new URL(page.confirm!);
  const secret = new URL(link).searchParams.get('secret')!;
  const other = await requestLogin(reg, 'kim@example.com');
  const otherPage = await openLoginPage(readLoginMail(await reg.smtp.waitForMail('kim@example.com')).link);
  const refused: Array<[string, Promise<Response>]> = [
    ['from another site (Origin)', pressButton(action.href, { origin: 'https://evil.example' })],
    ['from another site (Sec-Fetch-Site)', pressButton(action.href, { 'sec-fetch-site': 'cross-site' })],
    ['from a sibling site', pressButton(action.href, { 'sec-fetch-site': 'same-site' })],
    ['from an opaque origin', pressButton(action.href, { origin: 'null' })],
    ['without the page token', pressButton(`${reg.url}/session/confirm?secret=${secret}`)],
    ['with a forged page token', pressButton(`${reg.url}/session/confirm?secret=${secret}&page=${'A'.repeat(43)}`)],
    ['with another login’s page token', pressButton(`${reg.url}/session/confirm?secret=${secret}&page=${new URL(otherPage.confirm!).searchParams.get('page')}`)],
  ];
  for (const [what, answer] of refused) {
    const res = await answer;
    t.is(res.status, 403, what);
    t.regex(await res.text(), /Nothing was confirmed/, what);
  }
  // A GET of the button's address is the page again, which confirms nothing.
  t.regex(await (await fetch(action.href)).text(), /Confirm this login\?/);
  t.is((await fetchSession(reg, { fetchSessionToken })).status, 202, 'still pending');
  // The page's own button still works, also from a client that sends neither header (curl).
  t.is((await fetch(action.href, { method: 'POST' })).status, 200);
  await expectJson(await fetchSession(reg, { fetchSessionToken }), 200);
  t.is((await fetchSession(reg, { fetchSessionToken: other })).status, 202);
});

test('behind a trusted proxy, the page shows the forwarded client address', async (t) => {
  const reg = await startRegistryWithMail({ env: { TRUST_PROXY: '1' } });
  t.teardown(() => reg.close());
  await requestLogin(reg, 'robin@example.com', { 'x-forwarded-for': '203.0.113.77' });
  const page = await openLoginPage(readLoginMail(await reg.smtp.waitForMail('robin@example.com')).link);
  t.regex(page.html, /203\.0\.113\.77/);
});

test('an unknown link answers a page saying so', async (t) => {
  const reg = await mailRegistryFor(t);
  for (const link of ['/session/confirm?secret=not-a-secret', '/session/confirm', '/session/confirm?secret=a&secret=b']) {
    const page = await fetch(`${reg.url}${link}`);
    t.is(page.status, 400);
    t.regex(await page.text(), /not known/);
  }
});
