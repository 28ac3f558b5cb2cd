/**
 * Arrow data types, as far as a parquet file can carry them, and their names as pyarrow prints
 * them (`str(field.type)`), which is what a vantage6 5 node posts as a dataframe column's dtype.
 * Pure: no I/O.
 */

export type TimeUnit = 's' | 'ms' | 'us' | 'ns';

/** Types whose name is their id. */
export type SimpleTypeId =
  | 'null'
  | 'bool'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'halffloat'
  | 'float'
  | 'double'
  | 'string'
  | 'binary'
  | 'large_string'
  | 'large_binary'
  | 'string_view'
  | 'binary_view'
  | 'date32'
  | 'date64'
  | 'month_interval'
  | 'day_time_interval'
  | 'month_day_nano_interval';

export type ListTypeId = 'list' | 'large_list' | 'list_view' | 'large_list_view';

export type ArrowType =
  | { id: SimpleTypeId }
  | { id: 'fixed_size_binary'; byteWidth: number }
  | { id: 'decimal'; bitWidth: number; precision: number; scale: number }
  | { id: 'time32' | 'time64'; unit: TimeUnit }
  | { id: 'timestamp'; unit: TimeUnit; timezone: string }
  | { id: 'duration'; unit: TimeUnit }
  | { id: ListTypeId; item: ArrowField }
  | { id: 'fixed_size_list'; item: ArrowField; size: number }
  | { id: 'struct'; fields: ArrowField[] }
  /** `entries` is the non-null struct<key, value> field, as in Arrow. */
  | { id: 'map'; entries: ArrowField; keysSorted: boolean }
  | { id: 'dictionary'; indices: ArrowType; values: ArrowType; ordered: boolean }
  /** Only the canonical extensions pyarrow registers by itself (arrow.json, arrow.uuid, arrow.bool8). */
  | { id: 'extension'; name: string; storage: ArrowType }
  /** A type no parquet column can have (union, run-end encoded): kept so a stored schema still decodes. */
  | { id: 'other'; name: string };

export interface ArrowField {
  name: string;
  type: ArrowType;
  nullable: boolean;
}

export function field(name: string, type: ArrowType, nullable: boolean): ArrowField {
  return { name, type, nullable };
}

/** The nested fields of a type, in Arrow's order: a list's item, a struct's fields, a map's entries. */
export function children(type: ArrowType): ArrowField[] {
  switch (type.id) {
    case 'list':
    case 'large_list':
    case 'list_view':
    case 'large_list_view':
    case 'fixed_size_list':
      return [type.item];
    case 'struct':
      return type.fields;
    case 'map':
      return [type.entries];
    default:
      return [];
  }
}

/** pyarrow's `str(type)`. */
export function typeString(type: ArrowType): string {
  switch (type.id) {
    case 'date32':
      return 'date32[day]';
    case 'date64':
      return 'date64[ms]';
    case 'fixed_size_binary':
      return `fixed_size_binary[${type.byteWidth}]`;
    case 'decimal':
      return `decimal${type.bitWidth}(${type.precision}, ${type.scale})`;
    case 'time32':
    case 'time64':
    case 'duration':
      return `${type.id}[${type.unit}]`;
    case 'timestamp':
      return type.timezone === '' ? `timestamp[${type.unit}]` : `timestamp[${type.unit}, tz=${type.timezone}]`;
    case 'list':
    case 'large_list':
    case 'list_view':
    case 'large_list_view':
      return `${type.id}<${fieldString(type.item)}>`;
    case 'fixed_size_list':
      return `fixed_size_list<${fieldString(type.item)}>[${type.size}]`;
    case 'struct':
      return `struct<${type.fields.map(fieldString).join(', ')}>`;
    case 'map':
      return mapString(type.entries, type.keysSorted);
    case 'dictionary':
      return `dictionary<values=${typeString(type.values)}, indices=${typeString(type.indices)}, ordered=${type.ordered ? 1 : 0}>`;
    case 'extension':
      return `extension<${type.name}>`;
    case 'other':
      return type.name;
    default:
      return type.id;
  }
}

/** A nested field as pyarrow prints it inside its parent: `name: type`, and ` not null` when it is. */
function fieldString(child: ArrowField): string {
  return `${child.name}: ${typeString(child.type)}${child.nullable ? '' : ' not null'}`;
}

/** `map<key, value>`, naming a key, value or entries field only where it has another name than Arrow's own. */
function mapString(entries: ArrowField, keysSorted: boolean): string {
  const named = (child: ArrowField, usual: string) => (child.name === usual ? '' : ` ('${child.name}')`);
  const [key, value] = children(entries.type);
  if (!key || !value) return `map<${typeString(entries.type)}>`;
  const sorted = keysSorted ? ', keys_sorted' : '';
  return `map<${typeString(key.type)}${named(key, 'key')}, ${typeString(value.type)}${named(value, 'value')}${sorted}${named(entries, 'entries')}>`;
}
