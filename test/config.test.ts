import test from 'ava';
import path from 'node:path';
import { ConfigError, loadConfig } from '../gateway/config.ts';

test("the defaults of the README's configuration table", (t) => {
  const config = loadConfig({}, '/srv/registry');
  t.deepEqual(config, {
    port: 3000,
    host: '127.0.0.1',
    dataDir: path.resolve('/srv/registry/data'),
    registryUrl: 'http://localhost:3000',
    smtpUrl: null,
    mailFrom: 'Gren Registry <registry@localhost>',
    packagesSiteUrl: null,
    webhookUrls: [],
    webhookSecret: null,
  });
});

test('every variable is read', (t) => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    REGISTRY_DATA: '/var/lib/gren',
    REGISTRY_URL: 'https://registry.gren-lang.org/',
    SMTP_URL: 'smtp://user:secret@mail.example.com:587',
    MAIL_FROM: 'Registry <noreply@gren-lang.org>',
    PACKAGES_SITE_URL: 'https://packages.gren-lang.org',
    WEBHOOK_URLS: 'https://a.example/hook, https://b.example/hook',
    WEBHOOK_SECRET: 's3cret',
  });
  t.is(config.port, 8080);
  t.is(config.host, '0.0.0.0');
  t.is(config.dataDir, '/var/lib/gren');
  t.is(config.registryUrl, 'https://registry.gren-lang.org');
  t.is(config.smtpUrl, 'smtp://user:secret@mail.example.com:587');
  t.is(config.mailFrom, 'Registry <noreply@gren-lang.org>');
  t.is(config.packagesSiteUrl, 'https://packages.gren-lang.org');
  t.deepEqual(config.webhookUrls, ['https://a.example/hook', 'https://b.example/hook']);
  t.is(config.webhookSecret, 's3cret');
});

const bad: Array<[Record<string, string>, string]> = [
  [{ PORT: 'eighty' }, 'PORT'],
  [{ PORT: '70000' }, 'PORT'],
  [{ REGISTRY_URL: 'not a url' }, 'REGISTRY_URL'],
  [{ REGISTRY_URL: 'ftp://example.com' }, 'REGISTRY_URL'],
  [{ SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL'],
  [{ MAIL_FROM: 'nobody' }, 'MAIL_FROM'],
  [{ PACKAGES_SITE_URL: 'packages.gren-lang.org' }, 'PACKAGES_SITE_URL'],
  [{ WEBHOOK_URLS: 'https://ok.example, nope' , WEBHOOK_SECRET: 'x' }, 'WEBHOOK_URLS'],
  [{ WEBHOOK_URLS: 'https://ok.example' }, 'WEBHOOK_SECRET'],
];

for (const [env, variable] of bad) {
  test(`a bad ${variable} is refused with the variable named (${JSON.stringify(env)})`, (t) => {
    const error = t.throws(() => loadConfig(env), { instanceOf: ConfigError });
    t.is(error?.variable, variable);
    t.true(error?.message.startsWith(`${variable}: `));
  });
}

test('a password in SMTP_URL never appears in an error', (t) => {
  const error = t.throws(() => loadConfig({ SMTP_URL: 'http://user:hunter2@mail.example.com' }));
  t.false(error?.message.includes('hunter2'));
});
