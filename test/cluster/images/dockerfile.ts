// What a Dockerfile takes from outside: its base images (FROM, other than earlier stages) and the
// paths it copies from the build context (COPY/ADD without --from). Pure; used to key the build
// cache by exactly the inputs of the build and to check that every base was made here.

export interface Instruction {
  keyword: string;
  flags: Record<string, string>;
  args: string[];
}

/** The instructions, with `\` continuations joined and comments dropped; ARG substitution is not done. */
export function parseDockerfile(text: string): Instruction[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  if (pending !== '') lines.push(pending);
  const instructions: Instruction[] = [];
  for (const line of lines) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    const [keyword, ...rest] = words;
    if (keyword === undefined) continue;
    const flags: Record<string, string> = {};
    while (rest[0]?.startsWith('--')) {
      const [name, value = 'true'] = rest.shift()!.slice(2).split(/=(.*)/s);
      flags[name!] = value;
    }
    instructions.push({ keyword: keyword.toUpperCase(), flags, args: rest });
  }
  return instructions;
}

/** The images the stages start from, excluding earlier stages (`FROM build AS …`), in order. */
export function baseImages(instructions: readonly Instruction[]): string[] {
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const { keyword, args } of instructions) {
    if (keyword !== 'FROM') continue;
    const [image, as, stage] = args;
    if (image === undefined) throw new Error('FROM without an image');
    if (image.includes('$')) throw new Error(`FROM ${image}: build arguments in FROM are not supported here; write the image name`);
    if (!stages.has(image.toLowerCase()) && image !== 'scratch' && !bases.includes(image)) bases.push(image);
    if (as?.toUpperCase() === 'AS' && stage !== undefined) stages.add(stage.toLowerCase());
  }
  return bases;
}

/** The context paths COPY and ADD read (not `--from` stages), as written (`./agent`, `.`, `*.json`). */
export function contextSources(instructions: readonly Instruction[]): string[] {
  const sources: string[] = [];
  for (const { keyword, flags, args } of instructions) {
    if ((keyword !== 'COPY' && keyword !== 'ADD') || flags.from !== undefined) continue;
    if (args[0]?.startsWith('[')) throw new Error(`${keyword} in JSON form is not supported here: ${args.join(' ')}`);
    for (const source of args.slice(0, -1)) {
      if (/^[a-z]+:\/\//.test(source)) throw new Error(`${keyword} ${source}: nothing is fetched from the network during image builds here`);
      sources.push(source);
    }
  }
  return sources;
}
