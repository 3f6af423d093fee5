/** One file of a version's source tree: a path relative to the checkout, and its bytes. */
export type SourceFile = { path: string; content: Uint8Array };

const moduleSegment = /^[A-Z][A-Za-z0-9_]*$/;
const kernelModule = /^Gren\.Kernel\.[A-Z][A-Za-z0-9_]*$/;

/** Whether `name` is a module name the compiler can have put in a bundle: capitalised parts joined by dots. */
export function isModuleName(name: string): boolean {
  return name.length <= 255 && name.split('.').every((segment) => moduleSegment.test(segment));
}

/**
 * Where the compiler reads a module from in a package's checkout: `A.B` from `src/A/B.gren`,
 * and kernel JavaScript `Gren.Kernel.X` from `src/Gren/Kernel/X.js` (the compiler takes `.js`
 * files only directly in that folder).
 */
export function modulePath(name: string): string {
  const file = name.split('.').join('/');
  return kernelModule.test(name) ? `src/${file}.js` : `src/${file}.gren`;
}

/**
 * The tree a version's Git repository holds, what `git clone --branch <version>` checks out
 * for the compiler: `gren.json` as published and every module of the bundle at its path. Building
 * a bundle from that checkout gives back the same outline and sources.
 */
export function sourceTree(outlineFile: Uint8Array, sources: Record<string, string>): SourceFile[] {
  const files: SourceFile[] = [{ path: 'gren.json', content: outlineFile }];
  for (const [name, text] of Object.entries(sources)) {
    if (!isModuleName(name)) throw new Error(`"${name}" is not a module name`);
    files.push({ path: modulePath(name), content: Buffer.from(text, 'utf8') });
  }
  return files;
}
