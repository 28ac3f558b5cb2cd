/**
 * Results as algorithms receive them through the proxy (spec A10): every result not kept in the
 * blob store decrypted with the node's cryptor and handed over as base64 of the plaintext. A
 * result that cannot be decrypted is handed over as stored, as upstream's `decrypt_result` does,
 * and reported so the caller can log it. Pure.
 *
 * Memory: the string form cannot be decrypted as a stream (the ciphertext is base64 inside JSON),
 * so a page is parsed whole and decrypted one result at a time. The `…Lazy` forms leave each
 * decrypted result as a `Base64Of` (the plaintext bytes) for `json-answer.ts` to base64 in slices
 * while it writes the answer, so no base64 string of the plaintext and no JSON text of the whole
 * answer is ever built. Large payloads belong in the blob store, which streams.
 */
import { decryptOrPassThrough, type Cryptor } from '../agent/protocol/encryption.js';
import { b64encode } from '../agent/protocol/python-codecs.js';

/** A result left as stored, and why. */
export interface UndecryptedResult {
  readonly id: unknown;
  readonly code: string;
}

export interface DecryptedResults<T> {
  readonly body: T;
  readonly undecrypted: UndecryptedResult[];
}

/** Bytes that go to the algorithm as their base64 text (a JSON string). */
export class Base64Of {
  constructor(readonly data: Buffer) {}

  toJSON(): string {
    return b64encode(this.data);
  }
}

/** One result object (`GET result/<id>`). */
export function decryptResult(item: Record<string, unknown>, cryptor: Cryptor): DecryptedResults<Record<string, unknown>> {
  const { body, undecrypted } = decryptResultLazy(item, cryptor);
  return { body: withBase64Text(body), undecrypted };
}

/** A page of results (`GET result?task_id=`): each item of `data` as `decryptResult` does it. */
export function decryptResultPage(page: Record<string, unknown>, cryptor: Cryptor): DecryptedResults<Record<string, unknown>> {
  const { body, undecrypted } = decryptResultPageLazy(page, cryptor);
  if (!Array.isArray(body.data)) return { body, undecrypted };
  return { body: { ...body, data: body.data.map((item: unknown) => (typeof item === 'object' && item !== null ? withBase64Text(item as Record<string, unknown>) : item)) }, undecrypted };
}

/** `decryptResult` with the decrypted result as a `Base64Of`. */
export function decryptResultLazy(item: Record<string, unknown>, cryptor: Cryptor): DecryptedResults<Record<string, unknown>> {
  if (item.blob_storage_used || typeof item.result !== 'string') return { body: item, undecrypted: [] };
  const outcome = decryptOrPassThrough(cryptor, item.result);
  if (!outcome.decrypted) return { body: item, undecrypted: [{ id: item.id, code: outcome.error.code }] };
  return { body: { ...item, result: new Base64Of(outcome.data) }, undecrypted: [] };
}

/** `decryptResultPage` with the decrypted results as `Base64Of`s. */
export function decryptResultPageLazy(page: Record<string, unknown>, cryptor: Cryptor): DecryptedResults<Record<string, unknown>> {
  if (!Array.isArray(page.data)) return { body: page, undecrypted: [] };
  const undecrypted: UndecryptedResult[] = [];
  const data = page.data.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) return item;
    const outcome = decryptResultLazy(item as Record<string, unknown>, cryptor);
    undecrypted.push(...outcome.undecrypted);
    return outcome.body;
  });
  return { body: { ...page, data }, undecrypted };
}

function withBase64Text(item: Record<string, unknown>): Record<string, unknown> {
  return item.result instanceof Base64Of ? { ...item, result: item.result.toJSON() } : item;
}
