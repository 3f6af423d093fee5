import { CliError } from './cli-error.ts';

/**
 * The git settings that point today's gren at the registry. The compiler finds a package
 * `<author>/<name>` with `git ls-remote --tags https://github.com/<author>/<name>.git` and
 * `git clone --branch <version> --depth 1` of the same URL; git rewrites that URL with
 * `url.<base>.insteadOf`, so these settings send it to the registry's package repositories.
 */

/** One git configuration setting, as `git config <key> <value>` would write it. */
export type GitSetting = { key: string; value: string };

/** Where every package repository is found on GitHub, the prefix the compiler's URLs start with. */
export const githubBase = 'https://github.com/';

/**
 * The registry's package repositories: `<registry>/git/gren-<version>/`, which offers each
 * package only the versions whose `gren-version` range admits that compiler, or with no
 * compiler version `<registry>/git/`, which offers every version.
 */
export function packagesBase(registry: string, grenVersion: string | null): string {
  return grenVersion === null ? `${registry}/git/` : `${registry}/git/gren-${grenVersion}/`;
}

/** Sends every GitHub repository URL to the registry: for one command, which only fetches packages. */
export function rewriteAll(registry: string, grenVersion: string | null): GitSetting {
  return { key: `url.${packagesBase(registry, grenVersion)}.insteadOf`, value: githubBase };
}

/** The characters that may follow a prefix inside a GitHub repository URL: owner, name, `.git`, `/`. */
const urlCharacters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/';

/**
 * Settings that take precedence over `configured` rewrites of GitHub URLs (from the user's git
 * config files) for one command, sending those URLs under `base` too. Git takes the longest
 * matching `insteadOf` and, between equal ones, the first read, which is a config file's; so a
 * configured `https://github.com/gren-lang/` (say, from git-config) is outdone by one setting per
 * character that can follow it, `https://github.com/gren-lang/a` and so on, each one longer.
 */
export function outdoRewrites(configured: string[], base: string): GitSetting[] {
  const settings: GitSetting[] = [];
  for (const value of new Set(configured)) {
    if (!value.startsWith(githubBase)) continue;
    const path = value.slice(githubBase.length);
    for (const character of urlCharacters) settings.push({ key: `url.${base}${path}${character}.insteadOf`, value: `${value}${character}` });
  }
  return settings;
}

/** Sends one publishing identity's GitHub URLs to the registry, so that other GitHub repositories keep working. */
export function rewriteIdentity(registry: string, identity: string, grenVersion: string | null): GitSetting {
  return { key: `url.${packagesBase(registry, grenVersion)}${identity}/.insteadOf`, value: `${githubBase}${identity}/` };
}

/** Sends the token with every request git makes to the registry (a private package's repository answers nothing without it). */
export function bearerHeader(registry: string, token: string): GitSetting {
  return { key: `http.${registry}/.extraHeader`, value: `Authorization: Bearer ${token}` };
}

/**
 * `env` with `settings` added the way git reads settings from the environment
 * (`GIT_CONFIG_COUNT`, `GIT_CONFIG_KEY_<n>`, `GIT_CONFIG_VALUE_<n>`), after any the caller set
 * already, which are kept as they are. Settings given this way override every config file.
 */
export function withGitSettings(env: Record<string, string | undefined>, settings: GitSetting[]): Record<string, string | undefined> {
  const raw = env['GIT_CONFIG_COUNT']?.trim() ?? '';
  if (raw !== '' && !/^\d+$/.test(raw)) {
    throw new CliError('invalid_environment', `GIT_CONFIG_COUNT is "${raw}", which git would refuse: it must be a whole number.`);
  }
  const first = raw === '' ? 0 : Number(raw);
  const added: Record<string, string> = { GIT_CONFIG_COUNT: String(first + settings.length) };
  for (const [offset, setting] of settings.entries()) {
    added[`GIT_CONFIG_KEY_${first + offset}`] = setting.key;
    added[`GIT_CONFIG_VALUE_${first + offset}`] = setting.value;
  }
  return { ...env, ...added };
}
