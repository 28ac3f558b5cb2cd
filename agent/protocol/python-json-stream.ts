/**
 * `isPythonJsonBytes` fed chunk by chunk: the same grammar (RFC 8259 plus `NaN`, `Infinity` and
 * `-Infinity` as values; inside strings, bytes from 0x20 up and the JSON escapes) checked by a
 * byte-level pushdown automaton, so a result of any size is checked in constant memory (the
 * nesting stack aside). UTF-8 validity is checked apart, as for `isPythonJsonBytes`.
 */
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, ESCAPED, isDigit, isHex, LITERALS, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from './python-json.js';

const enum S {
  Value, // a value must start (whitespace first)
  ValueOrCloseArray, // after '['
  KeyOrCloseObject, // after '{'
  Key, // after ',' in an object
  Colon, // after a key
  AfterValue, // ',' or a closing bracket, or the end at the top
  String,
  Escape,
  Unicode, // \uXXXX, `hex` digits seen
  Minus, // '-' seen: a digit or 'Infinity'
  Zero, // a leading 0
  Int,
  Dot, // '.' seen, a digit must follow
  Frac,
  E, // 'e' seen
  ESign, // 'e+' or 'e-' seen
  Exp,
  Literal, // inside one of LITERALS
  Invalid,
}

const MINUS_INFINITY = LITERALS.find((l) => l[0] === 0x2d)!;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export class PythonJsonChecker {
  #state = S.Value;
  readonly #stack: number[] = [];
  /** Whether the string being read is an object key. */
  #key = false;
  #hex = 0;
  #literal: Buffer = LITERALS[0]!;
  #at = 0;

  /** Feeds the next bytes; cheap to call with any chunking. */
  update(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    while (i < n && this.#state !== S.Invalid) {
      // Runs of plain string bytes and of digits, in tight loops: most of a large document.
      if (this.#state === S.String) {
        let c = chunk[i]!;
        while (c >= 0x20 && c !== QUOTE && c !== BACKSLASH && ++i < n) c = chunk[i]!;
        if (i === n) return;
      } else if (this.#state === S.Int || this.#state === S.Frac || this.#state === S.Exp) {
        while (i < n && isDigit(chunk[i]!)) i++;
        if (i === n) return;
      }
      this.#byte(chunk[i]!);
      i++;
    }
  }

  /** Whether all the bytes fed form one Python-JSON text. */
  end(): boolean {
    const s = this.#state;
    if (s === S.Literal && this.#at === this.#literal.length) this.#state = S.AfterValue;
    else if (s === S.Zero || s === S.Int || s === S.Frac || s === S.Exp) this.#state = S.AfterValue;
    return this.#state === S.AfterValue && this.#stack.length === 0;
  }

  #byte(c: number): void {
    switch (this.#state) {
      case S.String:
        if (c === QUOTE) this.#state = this.#key ? S.Colon : S.AfterValue;
        else if (c === BACKSLASH) this.#state = S.Escape;
        else if (c < 0x20) this.#state = S.Invalid;
        return;
      case S.Escape:
        if (c === 0x75) {
          this.#state = S.Unicode;
          this.#hex = 0;
        } else this.#state = ESCAPED.has(c) ? S.String : S.Invalid;
        return;
      case S.Unicode:
        if (!isHex(c)) this.#state = S.Invalid;
        else if (++this.#hex === 4) this.#state = S.String;
        return;
      case S.Value:
      case S.ValueOrCloseArray:
        if (isSpace(c)) return;
        if (c === CLOSE_ARRAY && this.#state === S.ValueOrCloseArray) return this.#close(OPEN_ARRAY);
        return this.#startValue(c);
      case S.KeyOrCloseObject:
      case S.Key:
        if (isSpace(c)) return;
        if (c === CLOSE_OBJECT && this.#state === S.KeyOrCloseObject) return this.#close(OPEN_OBJECT);
        if (c !== QUOTE) return void (this.#state = S.Invalid);
        this.#key = true;
        this.#state = S.String;
        return;
      case S.Colon:
        if (isSpace(c)) return;
        this.#state = c === 0x3a ? S.Value : S.Invalid;
        return;
      case S.AfterValue:
        return this.#afterValue(c);
      case S.Minus:
        if (c === 0x30) this.#state = S.Zero;
        else if (isDigit(c)) this.#state = S.Int;
        else if (c === 0x49) {
          this.#literal = MINUS_INFINITY;
          this.#at = 2;
          this.#state = S.Literal;
        } else this.#state = S.Invalid;
        return;
      case S.Zero:
      case S.Int:
        if (this.#state === S.Int && isDigit(c)) return;
        if (c === 0x2e) return void (this.#state = S.Dot);
        if (c === 0x65 || c === 0x45) return void (this.#state = S.E);
        return this.#afterValue(c);
      case S.Dot:
        this.#state = isDigit(c) ? S.Frac : S.Invalid;
        return;
      case S.Frac:
        if (isDigit(c)) return;
        if (c === 0x65 || c === 0x45) return void (this.#state = S.E);
        return this.#afterValue(c);
      case S.E:
        if (c === 0x2b || c === 0x2d) this.#state = S.ESign;
        else this.#state = isDigit(c) ? S.Exp : S.Invalid;
        return;
      case S.ESign:
        this.#state = isDigit(c) ? S.Exp : S.Invalid;
        return;
      case S.Exp:
        if (isDigit(c)) return;
        return this.#afterValue(c);
      case S.Literal:
        if (this.#at === this.#literal.length) return this.#afterValue(c);
        if (c === this.#literal[this.#at]) this.#at++;
        else this.#state = S.Invalid;
        return;
      case S.Invalid:
        return;
    }
  }

  #startValue(c: number): void {
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      this.#stack.push(c);
      this.#state = c === OPEN_OBJECT ? S.KeyOrCloseObject : S.ValueOrCloseArray;
    } else if (c === QUOTE) {
      this.#key = false;
      this.#state = S.String;
    } else if (c === 0x2d) {
      this.#state = S.Minus;
    } else if (c === 0x30) {
      this.#state = S.Zero;
    } else if (isDigit(c)) {
      this.#state = S.Int;
    } else {
      const literal = LITERALS.find((l) => l[0] === c && l[0] !== 0x2d);
      if (literal === undefined) return void (this.#state = S.Invalid);
      this.#literal = literal;
      this.#at = 1;
      this.#state = S.Literal;
    }
  }

  #afterValue(c: number): void {
    this.#state = S.AfterValue;
    if (isSpace(c)) return;
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined) return void (this.#state = S.Invalid);
    if (c === 0x2c) return void (this.#state = top === OPEN_OBJECT ? S.Key : S.Value);
    if (c === (top === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) return this.#close(top);
    this.#state = S.Invalid;
  }

  #close(open: number): void {
    if (this.#stack.pop() !== open) return void (this.#state = S.Invalid);
    this.#state = S.AfterValue;
  }
}
