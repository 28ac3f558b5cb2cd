/**
 * Whether Python's `json.loads(text)` accepts `text`. It accepts what `JSON.parse` accepts plus
 * the bare constants `NaN`, `Infinity` and `-Infinity` where a value may stand. vantage6 uses this
 * test to tell the node's plain JSON from the UI's base64-wrapped JSON after decryption.
 *
 * Not covered: Python's recursion limit (nesting deeper than about 1,000 levels makes Python raise
 * RecursionError; we accept such text).
 */
const PYTHON_CONSTANTS = ['-Infinity', 'Infinity', 'NaN'];

export function isPythonJson(text: string): boolean {
  return parses(text) || parses(withPythonConstantsReplaced(text));
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Outside string literals, each Python constant becomes ` 0 `: a value of its own wherever the
 * constant would be one, and a syntax error wherever it would not (`1NaN`, `-NaN`, `{NaN: 1}`).
 */
function withPythonConstantsReplaced(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    const constant = PYTHON_CONSTANTS.find((c) => text.startsWith(c, i));
    if (constant === undefined) {
      out += ch;
    } else {
      out += ' 0 ';
      i += constant.length - 1;
    }
  }
  return out;
}
