// A container's log as the kubelet keeps it: one file per container in the CRI format
// (`<RFC 3339 time> <stream> F <line>`), written synchronously so a reader that reads the file and
// then subscribes misses nothing. Reading supports tailLines, sinceTime, timestamps and follow.
import { EventEmitter } from 'node:events';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';

export interface LogReadOptions {
  /** Keep streaming new lines until the container terminates. */
  follow?: boolean;
  /** Only the last N lines (of what exists when reading starts). */
  tailLines?: number;
  /** Only lines logged at or after this time (RFC 3339). */
  sinceTime?: string;
  /** Prefix each line with its RFC 3339 timestamp, as `kubectl logs --timestamps`. */
  timestamps?: boolean;
}

interface Entry {
  time: string;
  text: string;
}

function parseLine(line: string): Entry | undefined {
  const match = /^(\S+) (?:stdout|stderr) [FP] (.*)$/.exec(line);
  return match ? { time: match[1]!, text: match[2]! } : undefined;
}

function format(entry: Entry, options: LogReadOptions): string {
  return options.timestamps === true ? `${entry.time} ${entry.text}\n` : `${entry.text}\n`;
}

export class ContainerLog {
  readonly path: string;
  readonly #now: () => number;
  readonly #pending = { stdout: '', stderr: '' };
  readonly #events = new EventEmitter();
  #closed = false;

  constructor(path: string, now: () => number) {
    this.path = path;
    this.#now = now;
    writeFileSync(path, '');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Appends output; complete lines are written at once, a partial line when it ends or on close. */
  write(stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    if (this.#closed) return;
    const lines = (this.#pending[stream] + chunk.toString()).split('\n');
    this.#pending[stream] = lines.pop()!;
    for (const line of lines) this.#append(stream, line);
  }

  /** Flushes partial lines and ends followers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#pending[stream] !== '') this.#append(stream, this.#pending[stream]);
    }
    this.#closed = true;
    this.#events.emit('close');
  }

  /** The log as `GET pods/log` returns it; with `follow`, a stream that ends when the container does. */
  read(options: LogReadOptions = {}): Readable {
    const since = options.sinceTime === undefined ? undefined : Date.parse(options.sinceTime);
    const wanted = (entry: Entry): boolean => since === undefined || Date.parse(entry.time) >= since;
    let entries = readFileSync(this.path, 'utf8').split('\n').flatMap((line) => parseLine(line) ?? []).filter(wanted);
    if (options.tailLines !== undefined) entries = options.tailLines <= 0 ? [] : entries.slice(-options.tailLines);
    const initial = entries.map((e) => format(e, options));
    if (options.follow !== true || this.#closed) return Readable.from(initial.length > 0 ? [initial.join('')] : []);

    const stream = new Readable({ read() {} });
    if (initial.length > 0) stream.push(initial.join(''));
    const onEntry = (entry: Entry): void => {
      if (wanted(entry)) stream.push(format(entry, options));
    };
    const onClose = (): void => {
      detach();
      stream.push(null);
    };
    const detach = (): void => {
      this.#events.off('entry', onEntry);
      this.#events.off('close', onClose);
    };
    this.#events.on('entry', onEntry);
    this.#events.on('close', onClose);
    stream.once('close', detach);
    return stream;
  }

  #append(stream: 'stdout' | 'stderr', text: string): void {
    const entry = { time: new Date(this.#now()).toISOString(), text };
    appendFileSync(this.path, `${entry.time} ${stream} F ${text}\n`);
    this.#events.emit('entry', entry);
  }
}
