/**
 * Decodes the `ARROW:schema` value pyarrow writes into a parquet footer: base64 of an Arrow IPC
 * Schema message, a flatbuffer (Arrow's format/Message.fbs and Schema.fbs). Only the tables a
 * schema needs are read, with the bounds and alignment checks of a flatbuffer verifier, so a
 * damaged value is an error here as it is for pyarrow. Pure: no I/O.
 */
import { field, type ArrowField, type ArrowType, type ListTypeId, type TimeUnit } from './arrow-type.js';

const CONTINUATION = 0xffffffff;
/** MetadataVersion V4 and V5 (Arrow 0.8 on): older ones pyarrow refuses too. */
const READABLE_VERSIONS = new Set([3, 4]);
const HEADER_SCHEMA = 1;
/** Nesting deeper than this is a damaged schema, not a dataframe. */
const MAX_DEPTH = 64;
const TIME_UNITS: TimeUnit[] = ['s', 'ms', 'us', 'ns'];
/** The canonical extension types pyarrow registers by itself; others read as their storage type. */
const KNOWN_EXTENSIONS = new Set(['arrow.json', 'arrow.uuid', 'arrow.bool8']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The top-level fields of a stored Arrow schema; throws an Error saying what is wrong with it. */
export function decodeArrowSchema(base64: string): ArrowField[] {
  if (!BASE64.test(base64)) throw new Error('it is not base64');
  const bytes = Buffer.from(base64, 'base64');
  const fb = new FlatBuffer(messageBody(bytes));
  const message = fb.root();
  const version = fb.int16(message, 0, 0);
  if (!READABLE_VERSIONS.has(version)) throw new Error(`metadata version ${version} is not one pyarrow reads (V4 or V5)`);
  if (fb.uint8(message, 1, 0) !== HEADER_SCHEMA) throw new Error('the message is not a Schema');
  const schema = fb.table(message, 2);
  if (!schema) throw new Error('the Schema message has no schema');
  return fb.tables(schema, 1).map((t) => decodeField(fb, t, 0));
}

/** The flatbuffer of an encapsulated IPC message: [0xFFFFFFFF] int32 length, then the message. */
function messageBody(bytes: Buffer): Uint8Array {
  if (bytes.length < 4) throw new Error(`it is ${bytes.length} bytes, too short for an IPC message`);
  const continued = bytes.readUInt32LE(0) === CONTINUATION;
  const start = continued ? 8 : 4;
  if (bytes.length < start) throw new Error('the IPC message has no length');
  const length = bytes.readInt32LE(start - 4);
  if (length === 0) throw new Error('the IPC message is empty');
  if (length < 0 || start + length > bytes.length) throw new Error(`the IPC message length ${length} runs past its ${bytes.length - start} bytes`);
  return bytes.subarray(start, start + length);
}

function decodeField(fb: FlatBuffer, t: number, depth: number): ArrowField {
  if (depth > MAX_DEPTH) throw new Error(`fields nest deeper than ${MAX_DEPTH}`);
  const name = fb.string(t, 0) ?? '';
  const nullable = fb.bool(t, 1, false);
  const kids = fb.tables(t, 5).map((child) => decodeField(fb, child, depth + 1));
  let type = decodeType(fb, fb.uint8(t, 2, 0), fb.table(t, 3), kids, name);
  const dictionary = fb.table(t, 4);
  if (dictionary) {
    const index = fb.table(dictionary, 1);
    const indices = index ? intType(fb, index) : ({ id: 'int32' } as const);
    type = { id: 'dictionary', indices, values: type, ordered: fb.bool(dictionary, 2, false) };
  }
  const extension = metadataValue(fb, t, 'ARROW:extension:name');
  if (extension !== undefined && KNOWN_EXTENSIONS.has(extension)) type = { id: 'extension', name: extension, storage: type };
  return field(name, type, nullable);
}

function metadataValue(fb: FlatBuffer, t: number, key: string): string | undefined {
  for (const pair of fb.tables(t, 6)) {
    if (fb.string(pair, 0) === key) return fb.string(pair, 1) ?? '';
  }
  return undefined;
}

/** Tags of Schema.fbs's Type union whose type has no parameters (union and run-end encoded: none that parquet holds). */
const PLAIN_TAGS: Record<number, ArrowType> = {
  1: { id: 'null' },
  4: { id: 'binary' },
  5: { id: 'string' },
  6: { id: 'bool' },
  14: { id: 'other', name: 'union' },
  19: { id: 'large_binary' },
  20: { id: 'large_string' },
  22: { id: 'other', name: 'run_end_encoded' },
  23: { id: 'binary_view' },
  24: { id: 'string_view' },
};
/** Tags of the list types, whose one child is the item. */
const LIST_TAGS: Record<number, ListTypeId> = { 12: 'list', 21: 'large_list', 25: 'list_view', 26: 'large_list_view' };
const INTERVALS = ['month_interval', 'day_time_interval', 'month_day_nano_interval'] as const;

/** The Type union of Schema.fbs: `kind` is its type tag, `t` its table. */
function decodeType(fb: FlatBuffer, kind: number, t: number | undefined, kids: ArrowField[], name: string): ArrowType {
  const only = (): ArrowField => {
    const [item] = kids;
    if (kids.length !== 1 || !item) throw new Error(`field '${name}' is a list or map with ${kids.length} children`);
    return item;
  };
  const plain = PLAIN_TAGS[kind];
  if (plain) return plain;
  const list = LIST_TAGS[kind];
  if (list) return { id: list, item: only() };
  if (kind === 13) return { id: 'struct', fields: kids };
  // Every other type has a table, if only for its defaults.
  const get16 = (slot: number, fallback: number) => (t === undefined ? fallback : fb.int16(t, slot, fallback));
  const get32 = (slot: number, fallback: number) => (t === undefined ? fallback : fb.int32(t, slot, fallback));
  switch (kind) {
    case 2:
      if (t === undefined) throw new Error(`field '${name}' is an integer without its width`);
      return intType(fb, t);
    case 3:
      return floatType(get16(0, 0), name);
    case 7:
      return { id: 'decimal', precision: get32(0, 0), scale: get32(1, 0), bitWidth: get32(2, 128) };
    case 8:
      return { id: get16(0, 1) === 0 ? 'date32' : 'date64' };
    case 9:
      return { id: get32(1, 32) === 64 ? 'time64' : 'time32', unit: timeUnit(get16(0, 1), name) };
    case 10:
      return { id: 'timestamp', unit: timeUnit(get16(0, 0), name), timezone: (t !== undefined && fb.string(t, 1)) || '' };
    case 11:
      return { id: INTERVALS[get16(0, 0)] ?? 'month_interval' };
    case 15:
      return { id: 'fixed_size_binary', byteWidth: get32(0, 0) };
    case 16:
      return { id: 'fixed_size_list', item: only(), size: get32(0, 0) };
    case 17:
      return { id: 'map', entries: only(), keysSorted: t !== undefined && fb.bool(t, 0, false) };
    case 18:
      return { id: 'duration', unit: timeUnit(get16(0, 1), name) };
    default:
      throw new Error(`field '${name}' has unknown type tag ${kind}`);
  }
}

function intType(fb: FlatBuffer, t: number): ArrowType {
  const bits = fb.int32(t, 0, 0);
  if (![8, 16, 32, 64].includes(bits)) throw new Error(`an integer of ${bits} bits`);
  return { id: `${fb.bool(t, 1, false) ? '' : 'u'}int${bits}` as 'int8' };
}

function floatType(precision: number, name: string): ArrowType {
  const id = (['halffloat', 'float', 'double'] as const)[precision];
  if (!id) throw new Error(`field '${name}' has floating point precision ${precision}`);
  return { id };
}

function timeUnit(value: number, name: string): TimeUnit {
  const unit = TIME_UNITS[value];
  if (!unit) throw new Error(`field '${name}' has time unit ${value}`);
  return unit;
}

/**
 * Reads flatbuffer tables by slot, checking what a verifier checks: every offset, table and
 * vtable inside the buffer and aligned, a string's terminating zero present.
 */
class FlatBuffer {
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  root(): number {
    return this.tableAt(this.follow(0));
  }

  int16(t: number, slot: number, fallback: number): number {
    const at = this.slot(t, slot, 2);
    return at === 0 ? fallback : this.view.getInt16(at, true);
  }

  int32(t: number, slot: number, fallback: number): number {
    const at = this.slot(t, slot, 4);
    return at === 0 ? fallback : this.view.getInt32(at, true);
  }

  uint8(t: number, slot: number, fallback: number): number {
    const at = this.slot(t, slot, 1);
    return at === 0 ? fallback : this.view.getUint8(at);
  }

  bool(t: number, slot: number, fallback: boolean): boolean {
    const at = this.slot(t, slot, 1);
    return at === 0 ? fallback : this.view.getUint8(at) !== 0;
  }

  table(t: number, slot: number): number | undefined {
    const at = this.slot(t, slot, 4);
    return at === 0 ? undefined : this.tableAt(this.follow(at));
  }

  string(t: number, slot: number): string | undefined {
    const at = this.slot(t, slot, 4);
    if (at === 0) return undefined;
    const start = this.follow(at);
    const length = this.u32(start);
    this.check(start + 4 + length + 1, 'a string');
    if (this.bytes[start + 4 + length] !== 0) throw new Error('a flatbuffer string is not terminated');
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start + 4, length).toString('utf8');
  }

  tables(t: number, slot: number): number[] {
    const at = this.slot(t, slot, 4);
    if (at === 0) return [];
    const start = this.follow(at);
    const count = this.u32(start);
    this.check(start + 4 + count * 4, 'a vector');
    return Array.from({ length: count }, (_, i) => this.tableAt(this.follow(start + 4 + i * 4)));
  }

  /** Where a table's field is, or 0 when the vtable leaves it out (its default then applies). */
  private slot(t: number, slot: number, size: number): number {
    const vtable = t - this.view.getInt32(t, true);
    const entry = 4 + slot * 2;
    if (entry >= this.view.getUint16(vtable, true)) return 0;
    const offset = this.view.getUint16(vtable + entry, true);
    if (offset === 0) return 0;
    if (offset + size > this.view.getUint16(vtable + 2, true)) throw new Error('a flatbuffer field lies outside its table');
    this.aligned(t + offset, Math.min(size, 4), 'a field');
    return t + offset;
  }

  private tableAt(t: number): number {
    this.aligned(t, 4, 'a table');
    this.check(t + 4, 'a table');
    const vtable = t - this.view.getInt32(t, true);
    this.aligned(vtable, 2, 'a vtable');
    if (vtable < 0) throw new Error('a flatbuffer vtable lies before the buffer');
    this.check(vtable + 4, 'a vtable');
    const vtableSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw new Error(`a flatbuffer vtable has size ${vtableSize}`);
    this.check(vtable + vtableSize, 'a vtable');
    if (tableSize < 4) throw new Error(`a flatbuffer table has size ${tableSize}`);
    this.check(t + tableSize, 'a table');
    return t;
  }

  /** The position an unsigned offset at `at` points to. */
  private follow(at: number): number {
    this.aligned(at, 4, 'an offset');
    const offset = this.u32(at);
    if (offset === 0) throw new Error('a flatbuffer offset points at itself');
    return at + offset;
  }

  private u32(at: number): number {
    this.check(at + 4, 'an offset');
    return this.view.getUint32(at, true);
  }

  private aligned(at: number, size: number, what: string): void {
    if (at % size !== 0) throw new Error(`${what} in the flatbuffer is not aligned`);
  }

  private check(end: number, what: string): void {
    if (end > this.bytes.length) throw new Error(`${what} runs past the end of the flatbuffer`);
  }
}
