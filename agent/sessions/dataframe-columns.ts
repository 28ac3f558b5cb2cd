/**
 * The columns of a session dataframe, as a vantage6 5 node reports them to the hub
 * (`POST session/dataframe/<id>/column`): each column's name and `str(field.type)` of
 * `pyarrow.parquet.read_table(path).schema` under pyarrow 26. Only the file's first 4 bytes and
 * its footer are read, however large the file. A file that is not a readable parquet file is a
 * DataframeUnreadableError, which the node reports as `unexpected output`. The file is where an
 * algorithm writes, so it is opened as every such file is (hostile-files): a link, FIFO, device,
 * folder or hard link there is a RunFileRefusedError, as for any other run output.
 */
import type { FileHandle } from 'node:fs/promises';
import { parquetMetadata } from 'hyparquet';
import { DataframeUnreadableError, describe, type DataframeUnreadableReason } from '../errors.js';
import { openRegularFile } from '../runs/hostile-files.js';
import { decodeArrowSchema } from './arrow-ipc-schema.js';
import { typeString } from './arrow-type.js';
import { arrowFields, UnsupportedParquetTypeError } from './parquet-arrow-schema.js';

export { DataframeUnreadableError } from '../errors.js';

export interface DataframeColumn {
  name: string;
  /** pyarrow's name of the column's type: `int64`, `large_string`, `timestamp[us, tz=UTC]`, … */
  dtype: string;
}

export interface ReadColumnsOptions {
  /** A footer longer than this is refused rather than read into memory. */
  maxFooterBytes?: number;
}

/** Footers of files with thousands of columns and row groups run to a few MiB; this leaves room. */
export const DEFAULT_MAX_FOOTER_BYTES = 64 * 1024 * 1024;

const MAGIC = Buffer.from('PAR1');
const ENCRYPTED_MAGIC = Buffer.from('PARE');
/** The footer ends with its length (uint32, little endian) and the magic. */
const TAIL_BYTES = 8;
const ARROW_SCHEMA_KEY = 'ARROW:schema';

/**
 * The columns of the parquet file at `file`, as upstream's pyarrow reports them. Throws
 * DataframeUnreadableError for a file that is not readable parquet (or is not there), and
 * RunFileRefusedError for a name that is not a regular file of one name.
 */
export async function readDataframeColumns(file: string, options: ReadColumnsOptions = {}): Promise<DataframeColumn[]> {
  const fail = (reason: DataframeUnreadableReason, detail: string, cause?: unknown) => new DataframeUnreadableError(file, reason, detail, cause);
  const opened = await openRegularFile(file, file);
  if (!opened) throw fail('missing', 'there is no such file');
  const { handle, stats } = opened;
  try {
    const footer = await readFooter(handle, stats.size, options.maxFooterBytes ?? DEFAULT_MAX_FOOTER_BYTES, fail);
    const decode = <T>(what: string, run: () => T): T => {
      try {
        return run();
      } catch (error) {
        if (error instanceof UnsupportedParquetTypeError) throw fail('unsupported', error.message, error);
        throw fail('footer-unreadable', `${what} (${describe(error)})`, error);
      }
    };
    const metadata = decode('its footer is not parquet metadata', () => parquetMetadata(footer, { geoparquet: false }));
    const storedPair = metadata.key_value_metadata?.find((pair) => pair.key === ARROW_SCHEMA_KEY);
    const stored = storedPair && decode(`its ${ARROW_SCHEMA_KEY} metadata is not a readable Arrow schema`, () => decodeArrowSchema(storedPair.value ?? ''));
    const fields = decode('its parquet schema is not readable', () => arrowFields(metadata.schema, stored));
    return fields.map((column) => ({ name: column.name, dtype: typeString(column.type) }));
  } finally {
    await handle.close();
  }
}

type Fail = (reason: DataframeUnreadableReason, detail: string, cause?: unknown) => DataframeUnreadableError;

/** The footer with its length and magic: checks the magic at both ends and that the length fits the file. */
async function readFooter(handle: FileHandle, size: number, maxFooterBytes: number, fail: Fail): Promise<Uint8Array> {
  if (size === 0) throw fail('empty', 'the file is empty');
  const head = await readAt(handle, 0, Math.min(MAGIC.length, size), fail);
  if (!head.equals(MAGIC)) {
    throw fail('not-parquet', `it does not start with the parquet magic PAR1 (it starts with ${JSON.stringify(head.toString('latin1'))})`);
  }
  if (size < MAGIC.length + TAIL_BYTES) throw fail('truncated', `it starts as parquet but is only ${size} bytes, less than a parquet header and footer`);
  const tail = await readAt(handle, size - TAIL_BYTES, TAIL_BYTES, fail);
  const magic = tail.subarray(4);
  if (magic.equals(ENCRYPTED_MAGIC)) throw fail('encrypted', 'its footer is encrypted (magic PARE) and the node has no keys for it');
  if (!magic.equals(MAGIC)) throw fail('truncated', 'it starts as parquet but does not end with the magic PAR1: cut short, or still being written');
  const footerLength = tail.readUInt32LE(0);
  if (footerLength > size - MAGIC.length - TAIL_BYTES) {
    throw fail('footer-unreadable', `its footer length (${footerLength} bytes) points outside the file (${size} bytes)`);
  }
  if (footerLength > maxFooterBytes) throw fail('unsupported', `its footer is ${footerLength} bytes, more than the ${maxFooterBytes} this node reads`);
  return readAt(handle, size - TAIL_BYTES - footerLength, footerLength + TAIL_BYTES, fail);
}

/** Exactly `length` bytes at `position`: a file that shrinks while read is truncated. */
async function readAt(handle: FileHandle, position: number, length: number, fail: Fail): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw fail('truncated', `it ended after ${position + filled} bytes while being read`);
    filled += bytesRead;
  }
  return buffer;
}
