import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, visit, type Document } from 'yaml';
import cron from 'node-cron';
import type { z } from 'zod';
import { createRoutingPolicy, routingPolicyNames } from '../../policies/routing/index.ts';
import { createComparedScalingPolicy, createScalingPolicy, scalingPolicyNames } from '../../policies/scaling/index.ts';
import { Catalog, editDistance } from '../catalog/catalog.ts';
import { BudgetSchedule } from '../control/budget-schedule.ts';
import { defaultBackendId, normalizeOrigin, poolProblem } from '../routing/backends.ts';
import { serves } from '../routing/types.ts';
import { ServiceProfiles } from '../catalog/profiles.ts';
import { ConfigError, MixscaleError } from '../core/errors.ts';
import { configSchema, type Config } from './schema.ts';

/** A validated config with what it refers to loaded. */
export interface LoadedConfig {
  readonly config: Config;
  /** File the config came from ('<inline>' for objects). */
  readonly source: string;
  readonly catalog: Catalog;
  readonly profiles: ServiceProfiles;
  /** Resolves a path written in the config relative to the config file's folder. */
  resolvePath(p: string): string;
  /** The error for a problem found after loading, naming the file, the line and the field as the loader does. */
  problemAt(path: ReadonlyArray<PropertyKey>, message: string): ConfigError;
}

/** Renders a path like `pools[1].type`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s === '' ? String(p) : `.${String(p)}`;
  }
  return s === '' ? '(top level)' : s;
}

/** The value at `path` in a parsed document (undefined where there is none). */
export function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** The keys the schema allows in the object at `path` (best effort: [] where it cannot tell). */
function keysAt(schema: z.core.$ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  interface Def {
    type: string;
    shape?: Record<string, z.core.$ZodType>;
    innerType?: z.core.$ZodType;
    element?: z.core.$ZodType;
    options?: z.core.$ZodType[];
    in?: z.core.$ZodType;
  }
  const def = schema._zod.def as unknown as Def;
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  if (inner !== undefined) return keysAt(inner, path);
  if (def.type === 'union') return [...new Set((def.options ?? []).flatMap((o) => keysAt(o, path)))];
  if (path.length === 0) return def.type === 'object' ? Object.keys(def.shape ?? {}) : [];
  const [head, ...rest] = path;
  if (def.type === 'array' && typeof head === 'number' && def.element !== undefined) return keysAt(def.element, rest);
  const next = def.type === 'object' && typeof head === 'string' ? def.shape?.[head] : undefined;
  return next === undefined ? [] : keysAt(next, rest);
}

/** A known key close to a misspelt one (two edits, or a third of its length), if one is. */
function closeKey(key: string, known: readonly string[]): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d <= Math.max(2, Math.floor(k.length / 3)) && (best === undefined || d < best.d)) best = { k, d };
  }
  return best?.k;
}

/** `meant`: for an unknown-keys issue, the known key each unknown one is close to (if any). */
function describeIssue(issue: z.core.$ZodIssue, input: unknown, meant: ReadonlyArray<string | undefined> = []): string {
  const at = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length === 0 ? '' : `${at}: `;
    const named = issue.keys.map((k, i) => {
      const near = meant[i];
      return `"${k}"${near !== undefined ? ` (did you mean "${near}"?)` : ''}`;
    });
    const hint = named.some((n) => n.includes('did you mean')) ? '' : ' (check the spelling; see docs/config.md)';
    return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${named.join(', ')}${hint}`;
  }
  const bad = valueAt(input, issue.path);
  const shown = bad === undefined ? 'missing' : `got ${asShown(bad)}`;
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `${at}: ${shown}; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_union' && bad !== null && typeof bad === 'object' && 'kind' in bad) {
    return `${at}.kind: ${JSON.stringify((bad as { kind: unknown }).kind)} is not a known kind`;
  }
  return `${at}: ${plainWording(issue, bad) ?? `${issue.message} (${shown})`}`;
}

/** A value as an error shows it: as JSON, but YAML's .nan and .inf as such (JSON would say null). */
function asShown(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
}

/** What each JSON type is called in a YAML file. */
const YAML_KINDS: Readonly<Record<string, string>> = { object: 'a mapping', array: 'a list', number: 'a number', int: 'an integer', string: 'a string', boolean: 'true or false' };

/**
 * zod's own wording for a wrong type or a value out of range ("Invalid input: expected object,
 * received number", "Too big: expected number to be <=1024") in the config's terms. Undefined
 * for a message the schema wrote itself.
 */
function plainWording(issue: z.core.$ZodIssue, bad: unknown): string | undefined {
  // An empty value is shown as nothing.
  const value = (v: unknown): string => (v === null ? 'nothing' : asShown(v));
  const got = (v: unknown): string => (Array.isArray(v) ? `got ${v.length} item${v.length === 1 ? '' : 's'}` : typeof v === 'string' ? `got ${v.length} character${v.length === 1 ? '' : 's'}` : `got ${value(v)}`);
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
    const kind = YAML_KINDS[issue.expected] ?? issue.expected;
    return bad === undefined ? `missing (expected ${kind})` : `expected ${kind} (got ${value(bad)})`;
  }
  if ((issue.code === 'too_big' || issue.code === 'too_small') && /^Too (big|small)/.test(issue.message)) {
    const big = issue.code === 'too_big';
    const limit = Number(big ? issue.maximum : issue.minimum);
    const unit = issue.origin === 'array' ? ' item' : issue.origin === 'string' ? ' character' : '';
    const bound = big ? (issue.inclusive ? 'at most' : 'below') : issue.inclusive ? 'at least' : 'above';
    return `${bound} ${limit}${unit}${unit !== '' && limit !== 1 ? 's' : ''} (${got(bad)})`;
  }
  return undefined;
}

/** Validates a plain object against the schema; throws ConfigError naming every bad field. */
function parseConfig(input: unknown, source = '<inline>', lineOf: (path: ReadonlyArray<PropertyKey>) => number | undefined = () => undefined): Config {
  const r = configSchema.safeParse(input);
  if (r.success) return r.data;
  // A required key reported missing beside an unknown key that is its misspelling is one
  // mistake: the unknown key's line says it (with "did you mean"), the missing one is not repeated.
  const meant = new Map<z.core.$ZodIssue, Array<string | undefined>>();
  const misspelt = new Set<string>();
  for (const issue of r.error.issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = keysAt(configSchema, issue.path);
    const near = issue.keys.map((k) => closeKey(k, known));
    meant.set(issue, near);
    for (const n of near) if (n !== undefined) misspelt.add(formatPath([...issue.path, n]));
  }
  const shown = r.error.issues.filter((issue) => issue.code === 'unrecognized_keys' || valueAt(input, issue.path) !== undefined || !misspelt.has(formatPath(issue.path)));
  const lines = shown.map((issue) => {
    // An unknown key is reported at its own line, not at its object's.
    const line = lineOf(issue.code === 'unrecognized_keys' && issue.keys.length > 0 ? [...issue.path, issue.keys[0]!] : issue.path);
    return `${source}${line !== undefined ? `:${line}` : ''}: ${describeIssue(issue, input, meant.get(issue))}`;
  });
  const first = shown[0]!;
  throw new ConfigError(lines.join('\n'), { file: source, path: formatPath(first.path), issues: lines.length });
}

function lineFinder(doc: Document, counter: LineCounter): (path: ReadonlyArray<PropertyKey>) => number | undefined {
  return (path) => {
    // Walk up until a node exists (a missing key is reported at its parent).
    for (let n = path.length; n >= 0; n--) {
      if (n > 0) {
        // The key's own line: a value (a nested map, say) may start on a later one.
        const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1) as unknown[], true);
        const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[n - 1]) : undefined;
        if (pair !== undefined && isNode(pair.key) && pair.key.range) return counter.linePos(pair.key.range[0]).line;
      }
      const node = doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

/** Reads, validates and cross-checks a YAML config file. */
export function loadConfigFile(path: string): LoadedConfig {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ConfigError(`cannot read config ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { file: path });
  }
  // UTF-16 (a byte-order mark FF FE or FE FF, or NUL bytes) reads as one long string of garbage.
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || bytes.subarray(0, 4096).includes(0)) {
    throw new ConfigError(`${path}: not UTF-8 text (UTF-16?): save it as UTF-8`, { file: path });
  }
  const text = bytes.toString('utf8');
  const counter = new LineCounter();
  // Known tags off: `!!binary`, `!!set`, `!!omap` or `!!timestamp` would otherwise become a Buffer,
  // Set, Map or Date, which the schema then reports by their methods. Plain YAML is what a config holds.
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, resolveKnownTags: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = counter.linePos(e.pos[0]).line;
    throw new ConfigError(`${path}:${line}: YAML syntax error: ${e.message.split('\n')[0]}`, { file: path, line });
  }
  const tag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tag !== undefined) {
    const line = counter.linePos(tag.pos[0]).line;
    const name = /tag:yaml\.org,2002:(\w+)/.exec(tag.message)?.[1];
    const what = name !== undefined ? `!!${name}` : /Unresolved tag: (\S+)/.exec(tag.message)?.[1] ?? 'tag';
    throw new ConfigError(`${path}:${line}: YAML tag ${what} is not supported in a config: write a plain number, string, list or map`, { file: path, line });
  }
  const input = toPlain(doc, counter, path);
  const config = parseConfig(input, path, lineFinder(doc, counter));
  return finishLoad(config, path, dirname(path), lineFinder(doc, counter));
}

/**
 * The document as plain data. An alias with no anchor before it, or aliases that expand
 * without bound (an "alias bomb"), are mistakes in the file: one line naming it (and the alias's line).
 */
function toPlain(doc: Document, counter: LineCounter, path: string): unknown {
  try {
    return doc.toJS() ?? {};
  } catch (e) {
    let line: number | undefined;
    let alias = '';
    visit(doc, {
      Alias(_key, node) {
        if (node.resolve(doc) !== undefined) return undefined;
        alias = node.source;
        if (node.range) line = counter.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    const why = alias !== '' ? `alias *${alias} has no anchor &${alias} before it` : /alias count/i.test((e as Error).message) ? 'its aliases expand too far (aliases of aliases of ...: an alias bomb?)' : (e as Error).message.split('\n')[0]!;
    throw new ConfigError(`${path}${line !== undefined ? `:${line}` : ''}: YAML error: ${why}`, { file: path, ...(line !== undefined ? { line } : {}) });
  }
}

/** Validates a config given as an object (tests, embedded use). Paths resolve against `baseDir`. */
export function loadConfigObject(input: unknown, baseDir = process.cwd()): LoadedConfig {
  return finishLoad(parseConfig(input), '<inline>', baseDir, () => undefined);
}

function finishLoad(config: Config, source: string, baseDir: string, lineOf: (path: ReadonlyArray<PropertyKey>) => number | undefined): LoadedConfig {
  const resolvePath = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const problemAt = (path: ReadonlyArray<PropertyKey>, msg: string): ConfigError => {
    const line = lineOf(path);
    return new ConfigError(`${source}${line !== undefined ? `:${line}` : ''}: ${formatPath(path)}: ${msg}`, { file: source, path: formatPath(path) });
  };
  const fail = (path: ReadonlyArray<PropertyKey>, msg: string): never => {
    throw problemAt(path, msg);
  };

  let catalog = Catalog.load(config.catalog.path !== undefined ? resolvePath(config.catalog.path) : undefined);
  for (const type of Object.keys(config.catalog.prices)) {
    if (!catalog.has(type)) wrapUnknown(() => catalog.get(type), ['catalog', 'prices', type], fail);
  }
  catalog = catalog.withPrices(config.catalog.prices);
  const extra = config.profiles.map((p) => ServiceProfiles.load(resolvePath(p)));
  const base = ServiceProfiles.load();
  const profiles = extra.length === 0 ? base : mergeProfiles([base, ...extra]);

  const poolNames = new Set<string>();
  const classModels = new Set(config.classes.map((c) => c.model));
  config.pools.forEach((pool, i) => {
    if (poolNames.has(pool.name)) fail(['pools', i, 'name'], `duplicate pool name "${pool.name}"`);
    poolNames.add(pool.name);
    if (!catalog.has(pool.type)) wrapUnknown(() => catalog.get(pool.type), ['pools', i, 'type'], fail);
    if (pool.minCount > pool.maxCount) fail(['pools', i, 'minCount'], `minCount ${pool.minCount} is above maxCount ${pool.maxCount}`);
    pool.models?.forEach((m, j) => {
      if (!classModels.has(m)) fail(['pools', i, 'models', j], `no class serves model "${m}"; class models: ${[...classModels].join(', ')}`);
    });
    for (const cls of config.classes) {
      if (!serves(pool, cls.model)) continue;
      if (!profiles.has(pool.type, cls.model)) {
        fail(['pools', i, 'type'], `no service-time profile for model "${cls.model}" (class "${cls.name}") on ${pool.type}; profiled types: ${profiles.types().join(', ')}${pool.models === undefined ? ' (set pools[].models to the models this pool serves)' : ''}`);
      }
    }
  });
  config.classes.forEach((cls, i) => {
    if (!config.pools.some((p) => serves(p, cls.model))) fail(['classes', i, 'model'], `no pool serves model "${cls.model}" (pools[].models)`);
  });
  const classNames = new Set<string>();
  config.classes.forEach((cls, i) => {
    if (classNames.has(cls.name)) fail(['classes', i, 'name'], `duplicate class name "${cls.name}"`);
    classNames.add(cls.name);
  });
  // Every budget in force (the base and each scheduled one) must pay for the pools' minCount, and
  // some budget must buy an instance (a schedule may turn the fleet off at night, not always).
  const minUsd = config.pools.reduce((a, p) => a + p.minCount * catalog.price(p.type), 0);
  const budgets: Array<{ usd: number; path: PropertyKey[] }> = [
    { usd: config.budget.usdPerHour, path: ['budget', 'usdPerHour'] },
    ...config.budget.schedule.map((e, i) => ({ usd: e.usdPerHour, path: ['budget', 'schedule', i, 'usdPerHour'] })),
  ];
  for (const b of budgets) if (minUsd > b.usd + 1e-9) fail(b.path, `$${b.usd}/h cannot pay for the pools' minCount ($${minUsd.toFixed(3)}/h)`);
  const cheapest = config.pools.reduce<{ type: string; price: number } | undefined>((a, p) => (a === undefined || catalog.price(p.type) < a.price ? { type: p.type, price: catalog.price(p.type) } : a), undefined);
  const most = Math.max(...budgets.map((b) => b.usd));
  if (cheapest !== undefined && cheapest.price > most + 1e-9) {
    fail(['budget', 'usdPerHour'], `$${config.budget.usdPerHour}/h buys no instance${budgets.length > 1 ? ', nor does any scheduled budget' : ''}: the cheapest pool type, ${cheapest.type}, costs $${cheapest.price}/h`);
  }
  checkBackends(config, catalog, fail);
  // What the controller's scheduler (node-cron) and the budget schedule (also the simulator's) accept.
  config.budget.schedule.forEach((entry, i) => {
    const where = ['budget', 'schedule', i, 'cron'];
    try {
      new BudgetSchedule(config.budget.usdPerHour, [entry]);
    } catch (e) {
      if (e instanceof MixscaleError) fail(where, e.message.replace(/^budget\.schedule\[\d+\]\.cron: /, ''));
      throw e;
    }
    if (!cron.validate(entry.cron)) fail(where, `"${entry.cron}" is not a node-cron expression (e.g. "0 0 9 * * *")`);
  });
  const scalingNames = scalingPolicyNames();
  // What the policies are built with at run time, and the pools' types their options may name.
  const context = { lateBinding: config.routing.lateBinding, poolTypes: config.pools.map((p) => p.type) };
  const unknownScaling = (path: ReadonlyArray<PropertyKey>, name: string): void => {
    if (!scalingNames.includes(name)) fail(path, `unknown scaling policy "${name}" (available: ${scalingNames.join(', ')})`);
  };
  unknownScaling(['scaling', 'policy'], config.scaling.policy);
  config.sim?.compare?.forEach((name, i) => {
    unknownScaling(['sim', 'compare', i], name);
    // Runs are told apart by policy (the report's panels select by it): one named twice would count twice.
    if (config.sim!.compare!.indexOf(name) !== i) fail(['sim', 'compare', i], `"${name}" is named twice; name each scaling policy once`);
    // A compared policy other than scaling.policy runs with its defaults: it must be able to.
    if (name === config.scaling.policy) return;
    try {
      createComparedScalingPolicy(name, config.scaling.policy, config.scaling.options, context);
    } catch (e) {
      if (e instanceof MixscaleError && e.userFault) fail(['sim', 'compare', i], e.message);
      throw e;
    }
  });
  const routingNames = routingPolicyNames();
  if (!routingNames.includes(config.routing.policy)) fail(['routing', 'policy'], `unknown routing policy "${config.routing.policy}" (available: ${routingNames.join(', ')})`);
  // Options are checked by building the configured policies (cheap, no side effects). A
  // policy's error names its option (`scaling.options.headroom: ...`); the line is that option's.
  checkOptions('scaling', () => createScalingPolicy(config.scaling.policy, config.scaling.options, context), source, lineOf);
  checkOptions('routing', () => createRoutingPolicy(config.routing.policy, config.routing.options), source, lineOf);
  return { config, source, catalog, profiles, resolvePath, problemAt };
}

/**
 * Static backends (`router.backends[]`) are checked as the admin API checks one (a catalog
 * type, an http URL), and each must belong to a config pool: that pool says which models it
 * serves and its slots, so a type no pool declares (or a pool the config does not name) is an
 * error rather than a pool invented for it. Two entries with the same id or URL are an error.
 */
function checkBackends(config: Config, catalog: Catalog, fail: (path: ReadonlyArray<PropertyKey>, msg: string) => never): void {
  const ids = new Map<string, number>();
  const origins = new Map<string, number>();
  config.router?.backends.forEach((b, i) => {
    const at = (key: string): PropertyKey[] => ['router', 'backends', i, key];
    if (!catalog.has(b.type)) wrapUnknown(() => catalog.get(b.type), at('type'), fail);
    let origin = '';
    try {
      origin = normalizeOrigin(b.url);
    } catch (e) {
      if (e instanceof MixscaleError) fail(at('url'), e.message.replace(/^url: /, ''));
      throw e;
    }
    const sameUrl = origins.get(origin);
    if (sameUrl !== undefined) fail(at('url'), `${origin} is already router.backends[${sameUrl}]; list each backend once`);
    origins.set(origin, i);
    const id = b.id ?? defaultBackendId(origin);
    const sameId = ids.get(id);
    if (sameId !== undefined) fail(at(b.id !== undefined ? 'id' : 'url'), `duplicate backend id "${id}" (router.backends[${sameId}] has it${b.id === undefined ? '; the id defaults to host:port' : ''})`);
    ids.set(id, i);
    const problem = poolProblem(config.pools, b.type, b.pool);
    if (problem !== undefined) fail(at(problem.field), problem.message.replace("name one as the backend's pool", `set router.backends[${i}].pool to one of them`));
  });
}

function checkOptions(section: 'scaling' | 'routing', build: () => unknown, source: string, lineOf: (path: ReadonlyArray<PropertyKey>) => number | undefined): void {
  try {
    build();
  } catch (e) {
    if (!(e instanceof MixscaleError) || !e.userFault) throw e;
    const prefix = `${section}.options`;
    // `scaling.options.mix.g4dn.xlarge: ...`: the line of `mix` (keys may hold dots).
    const named = e.message.startsWith(`${prefix}.`) ? /^([^.:\s]+)[^:]*:/.exec(e.message.slice(prefix.length + 1)) : null;
    const path = named !== null ? [section, 'options', named[1]!] : [section, 'options'];
    const line = lineOf(path);
    const at = `${source}${line !== undefined ? `:${line}` : ''}`;
    const message = e.message.startsWith(prefix) ? e.message : `${prefix}: ${e.message}`;
    throw new ConfigError(`${at}: ${message}`, { file: source, path: formatPath(path) });
  }
}

function wrapUnknown(fn: () => unknown, path: ReadonlyArray<PropertyKey>, fail: (path: ReadonlyArray<PropertyKey>, msg: string) => never): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof MixscaleError) fail(path, e.message);
    throw e;
  }
}

function mergeProfiles(sets: ServiceProfiles[]): ServiceProfiles {
  const tables = sets.flatMap((s) => s.types().flatMap((t) => s.modelsFor(t).map((m) => s.table(t, m))));
  return new ServiceProfiles(tables);
}

/** The models a pool names (`pools[].models`); undefined: it serves every model (also a pool the config does not name). */
export function declaredModels(config: Pick<Config, 'pools'>): (pool: string) => readonly string[] | undefined {
  const byPool = new Map(config.pools.map((p) => [p.name, p.models]));
  return (pool) => byPool.get(pool);
}

/** The models each pool's instances serve, spelled out: its `models`, else every class's model. */
export function modelsOfPool(config: Pick<Config, 'pools' | 'classes'>): (pool: string) => readonly string[] {
  const all = [...new Set(config.classes.map((c) => c.model))];
  const declared = declaredModels(config);
  return (pool) => declared(pool) ?? all;
}
