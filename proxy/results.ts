/**
 * Results as algorithms receive them through the proxy (spec A10): every result not kept in the
 * blob store decrypted with the node's cryptor and handed over as base64 of the plaintext. A
 * result that cannot be decrypted is handed over as stored, as upstream's `decrypt_result` does,
 * and reported so the caller can log it. Pure.
 *
 * Memory: the string form cannot be decrypted as a stream (the ciphertext is base64 inside JSON),
 * so a page is parsed whole and decrypted one result at a time; a page of results costs about
 * three times its JSON size at the peak (the text, the parsed page, one decrypted result and the
 * re-encoded answer). Large payloads belong in the blob store, which streams.
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

/** One result object (`GET result/<id>`). */
export function decryptResult(item: Record<string, unknown>, cryptor: Cryptor): DecryptedResults<Record<string, unknown>> {
  if (item.blob_storage_used || typeof item.result !== 'string') return { body: item, undecrypted: [] };
  const outcome = decryptOrPassThrough(cryptor, item.result);
  if (!outcome.decrypted) return { body: item, undecrypted: [{ id: item.id, code: outcome.error.code }] };
  return { body: { ...item, result: b64encode(outcome.data) }, undecrypted: [] };
}

/** A page of results (`GET result?task_id=`): each item of `data` as `decryptResult` does it. */
export function decryptResultPage(page: Record<string, unknown>, cryptor: Cryptor): DecryptedResults<Record<string, unknown>> {
  if (!Array.isArray(page.data)) return { body: page, undecrypted: [] };
  const undecrypted: UndecryptedResult[] = [];
  const data = page.data.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) return item;
    const outcome = decryptResult(item as Record<string, unknown>, cryptor);
    undecrypted.push(...outcome.undecrypted);
    return outcome.body;
  });
  return { body: { ...page, data }, undecrypted };
}
