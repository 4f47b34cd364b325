/** Semantic versions (semver.org 2.0.0): MAJOR.MINOR.PATCH, optional -prerelease and +build. */

// The regular expression semver.org recommends, without its named groups.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: string[];
  build: string[];
}

export function parseSemver(text: string): SemVer | null {
  const m = SEMVER.exec(text);
  if (!m) return null;
  const [major, minor, patch] = [m[1], m[2], m[3]].map(Number);
  if (![major, minor, patch].every(Number.isSafeInteger)) return null;
  return { major, minor, patch, prerelease: m[4]?.split('.') ?? [], build: m[5]?.split('.') ?? [] };
}

/** Why `text` is not a semantic version, or null when it is one. */
export function semverProblem(text: string): string | null {
  if (parseSemver(text)) return null;
  if (/^v\d/.test(text)) return `"${text}" is not a semantic version: drop the leading "v" (e.g. ${text.slice(1)})`;
  if (/^\d+(\.\d+)?$/.test(text)) return `"${text}" is not a semantic version: it needs three numbers, MAJOR.MINOR.PATCH (e.g. ${text}${text.includes('.') ? '.0' : '.0.0'})`;
  return `"${text}" is not a semantic version: expected MAJOR.MINOR.PATCH (e.g. 1.0.0, 1.2.0-rc.1), numbers without leading zeros`;
}

/** Semver precedence: negative when a < b, 0 when equal (build metadata is ignored), positive when a > b. */
export function compareSemver(a: SemVer, b: SemVer): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core !== 0) return core;
  // A pre-release sorts before its release; identifiers compare numerically when both are numbers.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length;
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const [x, y] = [a.prerelease[i], b.prerelease[i]];
    const [nx, ny] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    const c = nx && ny ? Number(x) - Number(y) : nx ? -1 : ny ? 1 : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return a.prerelease.length - b.prerelease.length;
}
