/** A Git remote the registry pushes to: its URL as configured, and the name it goes by in logs (no secret in it). */
export type GitRemote = { url: string; name: string };

/** How `git` is pointed at a remote: the URL it is given, and what its environment adds. */
export type RemoteInvocation = { url: string; env: Record<string, string> };

/**
 * Keeps an HTTP(S) remote's credentials off every command line (where `ps` shows them to any
 * user of the machine, and where Git's transport helper would receive them): the URL goes to
 * `git` without its user and password, and they go as an `Authorization: Basic` header through
 * the environment (`GIT_CONFIG_*`, readable by the registry's user only), scoped to that URL so
 * that no other host ever receives it. Credential helpers are turned off for such a remote: none
 * is needed, and none may offer other credentials or store these. Other remotes pass as they are.
 */
export function remoteInvocation(remote: GitRemote): RemoteInvocation {
  let url: URL;
  try {
    url = new URL(remote.url);
  } catch {
    return { url: remote.url, env: {} };
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || (url.username === '' && url.password === '')) return { url: remote.url, env: {} };
  const basic = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = '';
  url.password = '';
  const bare = url.toString();
  return {
    url: bare,
    env: {
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: `http.${bare}.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
      GIT_CONFIG_KEY_1: 'credential.helper',
      GIT_CONFIG_VALUE_1: '',
    },
  };
}

/** `text` with a remote's URL replaced by its name, and its user and password, raw or decoded, by `***`. */
export function scrubRemote(text: string, remote: GitRemote): string {
  let scrubbed = text.split(remote.url).join(remote.name);
  const secrets: string[] = [];
  try {
    const url = new URL(remote.url);
    for (const part of [url.username, url.password]) if (part !== '') secrets.push(part, decodeURIComponent(part));
  } catch {
    // Not a URL: no credentials in it.
  }
  for (const secret of secrets.sort((a, b) => b.length - a.length)) if (secret.length >= 3) scrubbed = scrubbed.split(secret).join('***');
  return scrubbed;
}
