import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { usageError } from './cli-error.ts';

export type OptionSpec = {
  type: 'string' | 'boolean';
  short?: string;
  /** The placeholder shown in help for a string option, such as URL. */
  value?: string;
  description: string;
};

export type CommandInput = {
  positionals: string[];
  options: Record<string, string | boolean | undefined>;
  /** For a command that runs another one: that command line, untouched (empty otherwise). */
  rest: string[];
};

/** One command of the command line; `Context` is what the entry point gives every command. */
export type CommandSpec<Context> = {
  /** The words that name it: `whoami`, `identity create`. */
  name: string;
  /** Its positional arguments, optional ones in brackets: `['NAME', '[EMAIL]']`; a last one ending in `...` takes any number. */
  args: string[];
  /**
   * Set for a command that runs another command: its placeholder in the help (`COMMAND [ARGS...]`).
   * That command line starts after `--`, or at the first word after this command's own options,
   * and is handed over untouched in `input.rest`.
   */
  rest?: string;
  summary: string;
  /** Further paragraphs for `--help`. */
  details?: string[];
  options?: Record<string, OptionSpec>;
  examples?: string[];
  /** Does the work; a command that runs another one resolves with that command's exit code. */
  run(context: Context, input: CommandInput): Promise<void | number>;
};

export const globalOptions: Record<string, OptionSpec> = {
  registry: { type: 'string', value: 'URL', description: "The registry's address (default: $GREN_REGISTRY, or http://localhost:3000)." },
  json: { type: 'boolean', description: 'Print the answer as one JSON document on stdout, for scripts.' },
  help: { type: 'boolean', short: 'h', description: 'Show the help of the command.' },
};

export type ParsedCommandLine<Context> =
  | { kind: 'command'; command: CommandSpec<Context>; input: CommandInput }
  | { kind: 'help'; text: string };

function toParseOptions(options: Record<string, OptionSpec>): ParseArgsOptionsConfig {
  return Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, spec.short ? { type: spec.type, short: spec.short } : { type: spec.type }]));
}

/** The positional words of argv and their indexes, reading every known option with its value. */
function leadingWords<C>(argv: string[], commands: CommandSpec<C>[]): Array<{ value: string; index: number }> {
  const every: Record<string, OptionSpec> = { ...globalOptions };
  for (const command of commands) Object.assign(every, command.options ?? {});
  const { tokens } = parseArgs({ args: argv, options: toParseOptions(every), strict: false, allowPositionals: true, tokens: true });
  return tokens.flatMap((token) => (token.kind === 'positional' ? [{ value: token.value, index: token.index }] : []));
}

function findCommand<C>(words: string[], commands: CommandSpec<C>[]): CommandSpec<C> | null {
  const two = words.slice(0, 2).join(' ');
  return commands.find((c) => c.name === two) ?? commands.find((c) => c.name === words[0]) ?? null;
}

/** node:util's parse errors, as one short sentence. */
function parseErrorSentence(commandName: string, message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `gren-registry ${commandName} has no option ${unknown[1]}.`;
  const missing = /Option '([^' ]+)[^']*' argument missing/.exec(message);
  if (missing) return `The option ${missing[1]} needs a value.`;
  return message.split('\n')[0] ?? message;
}

/** Wraps a paragraph at 80 columns for --help. */
function wrap(text: string, indent = ''): string[] {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(/\s+/)) {
    if (line.trim() !== '' && line.length + 1 + word.length > 80) {
      lines.push(line);
      line = indent;
    }
    line += line.trim() === '' ? word : ` ${word}`;
  }
  lines.push(line);
  return lines;
}

function readInput<C>(command: CommandSpec<C>, args: string[], rest: string[]): CommandInput {
  let parsed;
  try {
    parsed = parseArgs({ args, options: toParseOptions({ ...globalOptions, ...command.options }), strict: true, allowPositionals: true });
  } catch (err) {
    throw usageError(parseErrorSentence(command.name, (err as Error).message), `Run gren-registry ${command.name} --help.`);
  }
  const input: CommandInput = { positionals: parsed.positionals, options: parsed.values as CommandInput['options'], rest };
  if (input.options['help']) return input;
  const required = command.args.filter((a) => !a.startsWith('[')).length;
  if (input.positionals.length < required) {
    const missing = command.args[input.positionals.length] ?? '';
    throw usageError(`gren-registry ${command.name} needs ${missing}.`, `Usage: gren-registry ${usageLine(command)}`);
  }
  if (command.rest !== undefined && rest.length === 0) {
    throw usageError(`gren-registry ${command.name} needs the command to run, after --.`, `Usage: gren-registry ${usageLine(command)}`);
  }
  const variadic = command.args.at(-1)?.replace(/\]$/, '').endsWith('...') === true;
  if (!variadic && input.positionals.length > command.args.length) {
    throw usageError(`gren-registry ${command.name} takes ${command.args.length === 0 ? 'no arguments' : `at most ${command.args.length} argument(s)`}; got "${input.positionals.slice(command.args.length).join(' ')}".`, `Usage: gren-registry ${usageLine(command)}`);
  }
  return input;
}

/** Finds the command named by argv and reads its arguments; `--help` and `help` give help texts. */
export function parseCommandLine<C>(argv: string[], commands: CommandSpec<C>[]): ParsedCommandLine<C> {
  const words = leadingWords(argv, commands);
  const values = words.map((w) => w.value);
  if (values[0] === 'help') return { kind: 'help', text: helpFor(values.slice(1), commands) };
  const command = findCommand(values, commands);
  if (!command) {
    const asksHelp = argv.includes('--help') || argv.includes('-h');
    if (values.length === 0 || (asksHelp && isGroup(values[0] ?? '', commands) && values.length === 1)) {
      return { kind: 'help', text: helpFor(values, commands) };
    }
    if (isGroup(values[0] ?? '', commands)) {
      throw usageError(`"${values.slice(0, 2).join(' ')}" is not a command.`, `Run gren-registry ${values[0]} --help to see its commands.`);
    }
    throw usageError(`"${values[0]}" is not a command.`, 'Run gren-registry --help to see the commands.');
  }
  const used = new Set(words.slice(0, command.name.split(' ').length).map((w) => w.index));
  const { own, rest } = command.rest === undefined ? { own: argv, rest: [] } : splitRest(command, argv, used);
  const input = readInput(command, own.filter((_, index) => !used.has(index)), rest);
  if (input.options['help']) return { kind: 'help', text: commandHelp(command) };
  return { kind: 'command', command, input };
}

/**
 * For a command that runs another one: argv up to the command line it runs, and that command
 * line, which starts after `--` or at the first word that is neither an option of this command
 * (with its value) nor one of this command's own words (`used`).
 */
function splitRest<C>(command: CommandSpec<C>, argv: string[], used: Set<number>): { own: string[]; rest: string[] } {
  const options = toParseOptions({ ...globalOptions, ...command.options });
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const start = tokens.find((t) => t.kind === 'option-terminator' || (t.kind === 'positional' && !used.has(t.index)));
  if (!start) return { own: argv, rest: [] };
  return { own: argv.slice(0, start.index), rest: argv.slice(start.kind === 'option-terminator' ? start.index + 1 : start.index) };
}

/** The arguments meant for gren-registry itself: everything before a `--`. */
export function ownArguments(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

function isGroup<C>(word: string, commands: CommandSpec<C>[]): boolean {
  return commands.some((c) => c.name.startsWith(`${word} `));
}

export function usageLine<C>(command: CommandSpec<C>): string {
  const rest = command.rest === undefined ? [] : ['--', command.rest];
  return [command.name, ...command.args, '[options]', ...rest].join(' ');
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

export function commandHelp<C>(command: CommandSpec<C>): string {
  const lines = [`Usage: gren-registry ${usageLine(command)}`, '', command.summary];
  for (const paragraph of command.details ?? []) lines.push('', ...wrap(paragraph));
  if (command.options && Object.keys(command.options).length > 0) lines.push('', 'Options:', ...optionLines(command.options));
  lines.push('', 'Common options:', ...optionLines(globalOptions));
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}

function helpFor<C>(words: string[], commands: CommandSpec<C>[]): string {
  const command = findCommand(words, commands);
  if (command) return commandHelp(command);
  const group = words[0] !== undefined && isGroup(words[0], commands) ? words[0] : null;
  const listed = group ? commands.filter((c) => c.name.startsWith(`${group} `)) : commands;
  const heads = listed.map((c) => usageLine(c).replace(/ \[options\]$/, ''));
  const width = Math.max(...heads.map((head) => head.length));
  const lines = [
    group ? `Usage: gren-registry ${group} COMMAND [options]` : 'Usage: gren-registry COMMAND [options]',
    '',
    group ? `The ${group} commands:` : 'The command line client of the Gren package registry. Commands:',
    ...listed.map((c, index) => `  ${(heads[index] ?? '').padEnd(width)}  ${c.summary}`),
    '',
    'Common options:',
    ...optionLines(globalOptions),
    '',
    'Run gren-registry COMMAND --help for the options of one command.',
  ];
  return lines.join('\n') + '\n';
}
