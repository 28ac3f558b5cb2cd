/**
 * The Arrow schema pyarrow 26 reads from a parquet footer (`pyarrow.parquet.read_table(path).schema`):
 * first the types the parquet schema alone gives, then what the stored Arrow schema (the footer's
 * `ARROW:schema`, when it has as many fields) restores on top of them. The stored schema is not
 * simply taken: pyarrow restores only time zones, durations, dictionaries, large and view
 * string/binary/list types, fixed size lists, map key order, wide decimals and the canonical
 * extensions; a date64 still comes back as date32, a timestamp[s] as timestamp[ms], a uint32
 * written as parquet 1.0 as int64, and names are the parquet schema's (`element` for list items).
 * Pure: no I/O.
 */
import type { LogicalType, SchemaElement } from 'hyparquet';
import { children, field, typeString, type ArrowField, type ArrowType, type ListTypeId, type TimeUnit } from './arrow-type.js';

/** A parquet column whose types pyarrow reads but this node does not name (geometry, variant, …). */
export class UnsupportedParquetTypeError extends Error {}

/** Parquet nesting deeper than this is a damaged footer, not a dataframe. */
const MAX_DEPTH = 64;
/** Arrow's Decimal128 holds up to 38 digits; pyarrow reads wider ones as decimal256. */
const DECIMAL128_DIGITS = 38;

interface Node {
  element: SchemaElement;
  children: Node[];
}

/** The columns of a parquet schema (its flattened `SchemaElement` list), with the stored Arrow schema applied when it fits. */
export function arrowFields(schema: SchemaElement[], stored: ArrowField[] | undefined): ArrowField[] {
  const root = schemaTree(schema);
  const fields = root.children.map((node) => nodeField(node, 0));
  if (!stored || stored.length !== fields.length) return fields;
  return fields.map((inferred, i) => applyStored(stored[i]!, inferred));
}

/** Parquet's depth-first element list as a tree; a group is an element with children or without a physical type. */
function schemaTree(schema: SchemaElement[]): Node {
  let next = 0;
  const take = (depth: number): Node => {
    if (depth > MAX_DEPTH) throw new Error(`the parquet schema nests deeper than ${MAX_DEPTH}`);
    const element = schema[next];
    if (!element) throw new Error(`the parquet schema ends inside a group (${schema.length} elements)`);
    next += 1;
    const count = element.num_children ?? 0;
    const group = count > 0 || element.type === undefined;
    return { element, children: group ? Array.from({ length: count }, () => take(depth + 1)) : [] };
  };
  const root = take(0);
  if (next !== schema.length) throw new Error(`the parquet schema has ${schema.length - next} elements after its root's children`);
  return root;
}

function isGroup(node: Node): boolean {
  return node.children.length > 0 || node.element.type === undefined;
}

function repetition(node: Node): 'REQUIRED' | 'OPTIONAL' | 'REPEATED' {
  return node.element.repetition_type ?? 'REQUIRED';
}

function nodeField(node: Node, depth: number): ArrowField {
  if (depth > MAX_DEPTH) throw new Error(`the parquet schema nests deeper than ${MAX_DEPTH}`);
  const { name } = node.element;
  if (isGroup(node)) {
    const annotation = logicalType(node.element)?.type;
    if (annotation === 'LIST') return listField(node, depth);
    if (annotation === 'MAP') return mapField(node, depth);
    if (annotation === 'VARIANT') throw new UnsupportedParquetTypeError(`column '${name}' is a parquet VARIANT, which this node does not map to a dtype`);
    if (repetition(node) === 'REPEATED') {
      // A repeated group outside a LIST: a list of non-null structs.
      return field(name, { id: 'list', item: structField(node, depth) }, false);
    }
    return structField(node, depth);
  }
  const type = primitiveType(node.element);
  if (repetition(node) === 'REPEATED') return field(name, { id: 'list', item: field(name, type, false) }, false);
  return field(name, type, repetition(node) === 'OPTIONAL');
}

function structField(node: Node, depth: number): ArrowField {
  const fields = node.children.map((child) => nodeField(child, depth + 1));
  return field(node.element.name, { id: 'struct', fields }, repetition(node) === 'OPTIONAL');
}

/** The three-level LIST of the parquet spec, and the older two-level and `array`/`_tuple` forms it allows. */
function listField(node: Node, depth: number): ArrowField {
  const { name } = node.element;
  const [repeated] = node.children;
  if (node.children.length !== 1 || !repeated) throw new Error(`LIST group '${name}' has ${node.children.length} children`);
  if (repetition(node) === 'REPEATED') throw new Error(`LIST group '${name}' is repeated`);
  if (repetition(repeated) !== 'REPEATED') throw new Error(`LIST group '${name}' has a child that is not repeated`);
  let item: ArrowField;
  if (!isGroup(repeated)) {
    item = field(repeated.element.name, primitiveType(repeated.element), false);
  } else if (repeated.children.length !== 1) {
    if (repeated.children.length === 0) throw new Error(`LIST group '${name}' has an empty repeated group`);
    item = structField(repeated, depth + 1);
  } else if (repetition(repeated.children[0]!) === 'REPEATED') {
    if (logicalType(repeated.element)?.type !== 'LIST') throw new Error(`group '${repeated.element.name}' with one repeated child is not a LIST`);
    item = nodeField(repeated.children[0]!, depth + 1);
  } else if (repeated.element.name === 'array' || repeated.element.name === `${name}_tuple`) {
    item = structField(repeated, depth + 1);
  } else {
    item = nodeField(repeated.children[0]!, depth + 1);
  }
  return field(name, { id: 'list', item }, repetition(node) === 'OPTIONAL');
}

function mapField(node: Node, depth: number): ArrowField {
  const { name } = node.element;
  const [entries] = node.children;
  if (node.children.length !== 1 || !entries) throw new Error(`MAP group '${name}' has ${node.children.length} children`);
  if (repetition(node) === 'REPEATED') throw new Error(`MAP group '${name}' is repeated`);
  if (repetition(entries) !== 'REPEATED' || !isGroup(entries)) throw new Error(`MAP group '${name}' has no repeated key-value group`);
  const [key, value] = entries.children;
  if (!key || entries.children.length > 2) throw new Error(`MAP group '${name}' has ${entries.children.length} fields per entry`);
  if (repetition(key) !== 'REQUIRED') throw new Error(`MAP group '${name}' has keys that are not required`);
  // A map without values (a set) reads as a list of its keys.
  if (!value) return listField(node, depth);
  const pair = field(name, { id: 'struct', fields: [nodeField(key, depth + 2), nodeField(value, depth + 2)] }, false);
  return field(name, { id: 'map', entries: pair, keysSorted: false }, repetition(node) === 'OPTIONAL');
}

type Logical = LogicalType | { type: 'NONE' };

/** The element's logical type, or the one its legacy converted type stands for. */
function logicalType(element: SchemaElement): Logical | undefined {
  const logical = element.logical_type as Partial<LogicalType> | undefined;
  if (logical) {
    if (typeof logical.type !== 'string') throw new Error(`column '${element.name}' has a logical type this footer reader does not know`);
    return logical as LogicalType;
  }
  const precision = element.precision ?? 0;
  const scale = element.scale ?? 0;
  switch (element.converted_type) {
    case undefined:
      return undefined;
    case 'UTF8':
      return { type: 'STRING' };
    case 'MAP':
    case 'MAP_KEY_VALUE':
      return { type: 'MAP' };
    case 'LIST':
      return { type: 'LIST' };
    case 'ENUM':
    case 'JSON':
    case 'BSON':
    case 'DATE':
    case 'INTERVAL':
      return { type: element.converted_type };
    case 'DECIMAL':
      return { type: 'DECIMAL', precision, scale };
    case 'TIME_MILLIS':
      return { type: 'TIME', isAdjustedToUTC: true, unit: 'MILLIS' };
    case 'TIME_MICROS':
      return { type: 'TIME', isAdjustedToUTC: true, unit: 'MICROS' };
    case 'TIMESTAMP_MILLIS':
      return { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' };
    case 'TIMESTAMP_MICROS':
      return { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' };
    default: {
      const [, unsigned, bits] = /^(U?)INT_(\d+)$/.exec(element.converted_type) ?? [];
      if (bits) return { type: 'INTEGER', bitWidth: Number(bits), isSigned: unsigned === '' };
      return { type: 'NONE' };
    }
  }
}

const UNITS: Record<string, TimeUnit> = { MILLIS: 'ms', MICROS: 'us', NANOS: 'ns' };

/** Arrow's type for a parquet leaf: its physical type as its logical type annotates it. */
function primitiveType(element: SchemaElement): ArrowType {
  const logical = logicalType(element) ?? { type: 'NONE' };
  const { name, type: physical } = element;
  const wrong = (): never => {
    throw new Error(`column '${name}': logical type ${logical.type} cannot annotate ${physical}`);
  };
  if (logical.type === 'NULL') return { id: 'null' };
  if (['VARIANT', 'GEOMETRY', 'GEOGRAPHY', 'FILE'].includes(logical.type)) {
    throw new UnsupportedParquetTypeError(`column '${name}' has parquet logical type ${logical.type}, which this node does not map to a dtype`);
  }
  if (logical.type === 'DECIMAL' && physical !== 'BOOLEAN' && physical !== 'FLOAT' && physical !== 'DOUBLE' && physical !== 'INT96') {
    return { id: 'decimal', bitWidth: logical.precision <= DECIMAL128_DIGITS ? 128 : 256, precision: logical.precision, scale: logical.scale };
  }
  switch (physical) {
    case 'BOOLEAN':
      return { id: 'bool' };
    case 'FLOAT':
      return { id: 'float' };
    case 'DOUBLE':
      return { id: 'double' };
    case 'INT96':
      return { id: 'timestamp', unit: 'ns', timezone: '' };
    case 'INT32':
      if (logical.type === 'NONE') return { id: 'int32' };
      if (logical.type === 'INTEGER' && logical.bitWidth <= 32) return integerType(logical.bitWidth, logical.isSigned);
      if (logical.type === 'DATE') return { id: 'date32' };
      if (logical.type === 'TIME' && logical.unit === 'MILLIS') return { id: 'time32', unit: 'ms' };
      return wrong();
    case 'INT64':
      if (logical.type === 'NONE') return { id: 'int64' };
      if (logical.type === 'INTEGER' && logical.bitWidth === 64) return integerType(64, logical.isSigned);
      if (logical.type === 'TIMESTAMP') return { id: 'timestamp', unit: UNITS[logical.unit]!, timezone: logical.isAdjustedToUTC ? 'UTC' : '' };
      if (logical.type === 'TIME' && logical.unit !== 'MILLIS') return { id: 'time64', unit: UNITS[logical.unit]! };
      return wrong();
    case 'BYTE_ARRAY':
      if (logical.type === 'STRING') return { id: 'string' };
      if (logical.type === 'NONE' || logical.type === 'ENUM' || logical.type === 'BSON') return { id: 'binary' };
      // pyarrow 26 reads with Arrow's extension types on.
      if (logical.type === 'JSON') return { id: 'extension', name: 'arrow.json', storage: { id: 'string' } };
      return wrong();
    case 'FIXED_LEN_BYTE_ARRAY': {
      const byteWidth = element.type_length ?? 0;
      if (logical.type === 'FLOAT16') return { id: 'halffloat' };
      if (logical.type === 'UUID' && byteWidth === 16) return { id: 'extension', name: 'arrow.uuid', storage: { id: 'fixed_size_binary', byteWidth } };
      if (logical.type === 'NONE' || logical.type === 'INTERVAL' || logical.type === 'UUID') return { id: 'fixed_size_binary', byteWidth };
      return wrong();
    }
    default:
      throw new Error(`column '${name}' has no physical type`);
  }
}

function integerType(bits: number, signed: boolean): ArrowType {
  if (![8, 16, 32, 64].includes(bits)) throw new Error(`an integer of ${bits} bits`);
  return { id: `${signed ? '' : 'u'}int${bits}` as 'int8' };
}

const VIEWS_AND_LARGE: Partial<Record<ArrowType['id'], ArrowType['id']>> = {
  large_string: 'string',
  large_binary: 'binary',
  string_view: 'string',
  binary_view: 'binary',
};

/** What pyarrow restores of a stored field on the field the parquet schema gives (Arrow's ApplyOriginalMetadata). */
function applyStored(stored: ArrowField, inferred: ArrowField): ArrowField {
  const wanted = stored.type;
  if (wanted.id !== 'extension') return applyStoredStorage(stored, inferred);
  const restored = applyStoredStorage(field(stored.name, wanted.storage, stored.nullable), inferred);
  const fits =
    (inferred.type.id === 'extension' && inferred.type.name === wanted.name) ||
    (wanted.name === 'arrow.json' && ['string', 'large_string', 'string_view'].includes(inferred.type.id)) ||
    typeString(wanted.storage) === typeString(restored.type);
  return fits ? { ...restored, type: wanted } : restored;
}

function applyStoredStorage(stored: ArrowField, inferred: ArrowField): ArrowField {
  const wanted = stored.type;
  const type = inferred.type;
  const inferredChildren = children(type);
  const storedChildren = children(wanted);
  if (inferredChildren.length > 0 && storedChildren.length === inferredChildren.length) {
    const nested = rebuild(wanted, type, inferredChildren.map((child, i) => applyStored(storedChildren[i]!, child)));
    if (nested) return { ...inferred, type: nested };
  }
  if (wanted.id === 'timestamp' && type.id === 'timestamp' && type.timezone === 'UTC' && wanted.timezone !== '') {
    return { ...inferred, type: { ...type, timezone: wanted.timezone } };
  }
  if (wanted.id === 'duration' && type.id === 'int64') return { ...inferred, type: wanted };
  if (wanted.id === 'dictionary' && (type.id === 'string' || type.id === 'binary')) {
    return { ...inferred, type: { id: 'dictionary', indices: wanted.indices, values: type, ordered: wanted.ordered } };
  }
  if (VIEWS_AND_LARGE[wanted.id] !== undefined && VIEWS_AND_LARGE[wanted.id] === type.id) return { ...inferred, type: wanted };
  if (wanted.id === 'decimal' && type.id === 'decimal' && wanted.bitWidth !== 128 && type.bitWidth === 128) return { ...inferred, type: wanted };
  return inferred;
}

const LISTS: ListTypeId[] = ['list', 'large_list', 'list_view', 'large_list_view'];

/** The stored nested type rebuilt around the children read from parquet, where pyarrow does so. */
function rebuild(wanted: ArrowType, inferred: ArrowType, kids: ArrowField[]): ArrowType | undefined {
  const [first] = kids;
  if (!first) return undefined;
  if (inferred.id === 'struct' && wanted.id === 'struct') return { id: 'struct', fields: kids };
  if (inferred.id === 'map' && wanted.id === 'map') return { id: 'map', entries: first, keysSorted: wanted.keysSorted };
  if (inferred.id !== 'list') return undefined;
  if (wanted.id === 'fixed_size_list') return { id: 'fixed_size_list', item: first, size: wanted.size };
  const list = LISTS.find((id) => id === wanted.id);
  return list === undefined ? undefined : { id: list, item: first };
}
