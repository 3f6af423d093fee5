import { git } from './git-cli.ts';
import { parseContentRef } from '../../gateway/packages/version-index.ts';

/**
 * Checks that no private package ever reached the public repository: no content ref of the
 * public repository is in a private package's namespace, no path of any commit reachable from
 * any ref of the public repository lies under a package that the private repository holds (names compared case-insensitively, as the registry does), and no
 * gren.json on public `main` says `"private": true`.
 */
export async function checkPrivacy(publicGitDir: string, privatePackages: string[], publicPrivateOutlines: string[], publicRefs: string[]): Promise<string[]> {
  const findings = publicPrivateOutlines.map((p) => `public: ${p} says "private": true`);
  if (privatePackages.length === 0) return findings;
  const namespaces = new Set(privatePackages.map((p) => p.toLowerCase()));
  for (const ref of publicRefs) {
    const parsed = parseContentRef(ref);
    if (parsed && namespaces.has(parsed.fullName.toLowerCase())) findings.push(`public: the content ref ${ref} belongs to the private package ${parsed.fullName}`);
  }
  const result = await git(publicGitDir, ['log', '--all', '-m', '--format=', '--name-only', '--no-renames', '-z']);
  if (result.code !== 0) return [...findings, `public: git log failed: ${result.stderr.trim()}`];
  const wanted = new Set(privatePackages.map((p) => p.toLowerCase()));
  const leaked = new Set<string>();
  for (const file of result.stdout.toString('utf8').split(/[\0\n]/)) {
    const [top, author, name] = file.split('/');
    if (top !== 'packages' || author === undefined || name === undefined) continue;
    const pkg = `${author}/${name}`.toLowerCase();
    if (wanted.has(pkg)) leaked.add(pkg);
  }
  for (const pkg of [...leaked].sort()) findings.push(`public: the history of the public index holds files of the private package ${pkg}`);
  return findings;
}
