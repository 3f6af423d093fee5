import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

/** Every relative import of the TypeScript files under `folder`, as paths from the project's root. */
function relativeImports(folder: string): Array<{ file: string; target: string }> {
  const found: Array<{ file: string; target: string }> = [];
  for (const entry of fs.readdirSync(path.join(root, folder), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    for (const match of fs.readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
      found.push({ file: path.relative(root, file), target: path.relative(root, path.resolve(path.dirname(file), match[1] as string)) });
    }
  }
  return found;
}

test('index-repo/ is the bottom layer: it imports nothing from the gateway, the scripts or the client', (t) => {
  const imports = relativeImports('index-repo');
  t.true(imports.length > 50, `the scan finds the imports (${imports.length})`);
  const climbing = imports.filter(({ target }) => !target.startsWith(`index-repo${path.sep}`));
  t.deepEqual(climbing, []);
});
