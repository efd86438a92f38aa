/**
 * Schema errors of a request body -> one message per field (pure). Each names the field by its
 * path (`body.region.rect.x`, `body.classes[2]`) and, for a field the schema does not know or a
 * value outside an enumeration, the closest valid name when one is close enough to be a typo.
 * Needs ajv's `verbose` errors (the failing schema and its parent travel with each error).
 */
import type { ErrorObject } from 'ajv';

/** Most messages one answer lists: the rest are usually consequences of the first. */
const MAX_MESSAGES = 10;

export function bodyErrorMessages(errors: readonly ErrorObject[]): string[] {
  // A oneOf failure comes with one error per branch at the same path: keep the oneOf's summary.
  const oneOfPaths = new Set<string>();
  for (const e of errors) if (e.keyword === 'oneOf') oneOfPaths.add(e.instancePath);
  const kept = errors.filter((e) => e.keyword === 'oneOf' || !oneOfPaths.has(e.instancePath));
  const out: string[] = [];
  for (const e of kept) {
    // A body of 100,000 unknown keys has as many errors: stop at the first few, never compare all.
    if (out.length >= MAX_MESSAGES) break;
    const m = bodyErrorMessage(e);
    if (!out.includes(m)) out.push(m);
  }
  return out;
}

export function bodyErrorMessage(e: ErrorObject): string {
  const at = fieldPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {});
      const hint = didYouMean(name, known);
      return `${child(at, name)} is not a field here${hint || `; the fields are ${known.join(', ')}`}`;
    }
    case 'required':
      return `${child(at, String(p.missingProperty))} is required`;
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const given = typeof e.data === 'string' ? didYouMean(e.data, allowed) : '';
      return `${at} must be one of ${allowed.join(', ')}${given}`;
    }
    case 'oneOf': {
      const types = ((e.schema as Array<{ type?: string }> | undefined) ?? []).map((s) =>
        s.type === 'integer' ? 'an integer' : `a ${s.type}`,
      );
      return types.length > 0 ? `${at} must be ${types.join(' or ')}` : `${at} ${e.message ?? 'is not valid'}`;
    }
    default:
      return `${at} ${e.message ?? 'is not valid'}`;
  }
}

/** JSON pointer -> `body.a.b[2].c` (RFC 6901 escapes undone). */
export function fieldPath(pointer: string): string {
  let out = 'body';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : child('', seg);
  }
  return out;
}

function child(at: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${at}.${name}` : `${at}[${JSON.stringify(name)}]`;
}

function didYouMean(given: string, names: readonly string[]): string {
  const best = closestName(given, names);
  return best === null ? '' : ` (did you mean "${best}"?)`;
}

/**
 * The name a typo most likely meant: the same name in another case first, then the nearest by
 * edit distance when it is within a third of the name's length (at least 1), then a name that
 * shares most of its beginning with the given one (`class` for `classes`); else null.
 */
export function closestName(given: string, names: readonly string[]): string | null {
  const g = given.toLowerCase();
  const sameCase = names.find((n) => n.toLowerCase() === g);
  if (sameCase !== undefined) return sameCase;
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(g.length / 3)) + 1;
  for (const n of names) {
    const d = editDistance(g, n.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best ?? names.find((n) => sharesBeginning(g, n.toLowerCase())) ?? null;
}

function sharesBeginning(a: string, b: string): boolean {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k >= 4 && k >= Math.ceil(0.7 * Math.min(a.length, b.length));
}

/** Edit distance with adjacent transpositions (optimal string alignment): 1 per edit. */
export function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.max(a.length, b.length); // no quadratic work on absurd keys
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
