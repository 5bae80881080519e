import { MemeryError } from '../errors.js';
import { SearchQuerySchema, type SearchQuery, type SearchQueryObject } from './schemas.js';

export function parseQuery(q: SearchQuery): SearchQueryObject {
  const r = SearchQuerySchema.safeParse(q);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new MemeryError('E_USAGE', `Invalid query: ${issue.path.join('.') || '(query)'}: ${issue.message}`);
  }
  return typeof r.data === 'string' ? { text: r.data } : r.data;
}

/**
 * Weighted sum of the positive embeddings minus the negatives, renormalised. Each part is
 * normalised first, so weights mean what they say whatever the encoder's scale.
 */
export function combine(parts: Array<{ vector: Float32Array; weight: number }>): Float32Array {
  const dim = parts[0]!.vector.length;
  const out = new Float32Array(dim);
  for (const { vector, weight } of parts) {
    let n = 0;
    for (let i = 0; i < dim; i++) n += vector[i]! * vector[i]!;
    const s = n > 0 ? weight / Math.sqrt(n) : 0;
    for (let i = 0; i < dim; i++) out[i]! += vector[i]! * s;
  }
  let n = 0;
  for (let i = 0; i < dim; i++) n += out[i]! * out[i]!;
  if (n > 0) {
    const s = 1 / Math.sqrt(n);
    for (let i = 0; i < dim; i++) out[i]! *= s;
  }
  return out;
}
