/** Gren's author rule: 1–39 ASCII letters, digits and single dashes, not starting or ending with a dash. */
export function isIdentityName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 39 && /^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/.test(name);
}

/** The key identity names are unique under: `Gren-Lang` and `gren-lang` are one identity. */
export function identityKey(name: string): string {
  return name.toLowerCase();
}
