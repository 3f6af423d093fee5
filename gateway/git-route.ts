import { isAuthor, isName } from './packages/package-name.ts';
import { isVersion } from './packages/range.ts';

/** Which Git repository a URL names: the public index whole, or one package (seen by one compiler version, or by any). */
export type GitRepository = { kind: 'index' } | { kind: 'package'; author: string; name: string; gren: string | null };

/** A URL below one of the Git repositories: the repository, and the path after it (`info/refs`, `git-upload-pack`, ...). */
export type GitRoute = { repository: GitRepository; file: string };

export const GIT_PREFIXES = ['/index.git/', '/git/'];

const packagePattern = /^\/git\/(?:gren-([^/]+)\/)?([^/]+)\/([^/]+?)(?:\.git)?\/(.*)$/;

/**
 * Reads `/index.git/<file>`, `/git/<author>/<name>.git/<file>` and
 * `/git/gren-<compiler version>/<author>/<name>.git/<file>` (`.git` may be left out, as Git
 * hosts allow). `gren-` and a version can never be an author: author names hold no dots.
 * Null for anything else, including names that cannot be a package's.
 */
export function gitRoute(path: string): GitRoute | null {
  if (path.startsWith('/index.git/')) return { repository: { kind: 'index' }, file: path.slice('/index.git/'.length) };
  const match = packagePattern.exec(path);
  if (!match) return null;
  const [, gren, author = '', name = '', file = ''] = match;
  if (!isAuthor(author) || !isName(name.toLowerCase())) return null;
  if (gren !== undefined && !isVersion(gren)) return null;
  return { repository: { kind: 'package', author, name, gren: gren ?? null }, file };
}
