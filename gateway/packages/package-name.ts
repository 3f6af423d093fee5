/**
 * Package names, `author/name`: the author follows the publishing identity rule (1 to 39
 * ASCII letters, digits and single dashes, not starting or ending with a dash), the name is
 * lowercase letters, digits and single dashes, starting with a letter, at most 64 characters.
 */

const authorRegex = /^(?=.{1,39}$)[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;
const nameRegex = /^(?=.{1,64}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export function isAuthor(text: string): boolean {
  return authorRegex.test(text);
}

export function isName(text: string): boolean {
  return nameRegex.test(text);
}

/** `author/name` with both parts valid. */
export function isPackageName(text: string): boolean {
  const slash = text.indexOf('/');
  return slash > 0 && isAuthor(text.slice(0, slash)) && isName(text.slice(slash + 1));
}

/** The key under which a package is unique: names differing only in case are the same package. */
export function packageKey(fullName: string): string {
  return fullName.toLowerCase();
}
