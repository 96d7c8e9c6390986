/**
 * examples/sample-backup.json is a Gofannon export in the app's layout as ../shared/design.md
 * describes it: the collections and their field names are read from design.md (test/design-layout.ts);
 * the JSON type of each field is kept here, and every field design.md names must have one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { sampleBackupText } from '../scripts/make-sample.js';
import { gofannonCollections } from '../src/gofannon.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { parseJson } from '../src/formats/parse.js';
import type { Doc, JsonValue } from '../src/types.js';
import { fieldPaths, readDesignLayout, type DesignLayout } from './design-layout.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const designPath = join(root, '..', 'shared', 'design.md');
const samplePath = join(root, 'examples', 'sample-backup.json');

/**
 * Where the app's models write another name than design.md's prose: models/agent.py's Agent
 * inherits CreateAgentRequest's `alias_generator=to_camel`, so `model_dump(by_alias=True)` writes
 * its created_at/updated_at as createdAt/updatedAt.
 */
const writtenAs: Record<string, Record<string, string>> = { agents: { created_at: 'createdAt', updated_at: 'updatedAt' } };

/** Fields the prose names without backticks: tickets' "result/error", the audit's "what was done, when". */
const proseFields: Record<string, Record<string, string>> = {
  tickets: { completed_at: 'iso', result: 'object', error: 'string' },
  site_admin_audit: { targetUid: 'string|null', workspaceId: 'string|null', route: 'string', method: 'string', writeMode: 'bool', detail: 'string|null', ts: 'iso' },
};

/** The JSON type of every field design.md names (paths as fieldPaths writes them). */
const types: Record<string, Record<string, string>> = {
  users: {
    _id: 'string', createdAt: 'iso', updatedAt: 'iso',
    basicInfo: 'object', 'basicInfo.displayName': 'string|null', 'basicInfo.email': 'string|null',
    billingInfo: 'object', 'billingInfo.plan': 'string|null', 'billingInfo.status': 'string|null',
    usageInfo: 'object', 'usageInfo.monthlyAllowance': 'float', 'usageInfo.allowanceResetDate': 'float', 'usageInfo.spendRemaining': 'float',
    'usageInfo.usage': 'array', 'usageInfo.usage[].timestamp': 'iso', 'usageInfo.usage[].responseCost': 'float', 'usageInfo.usage[].metadata': 'any',
    apiKeys: 'object', 'apiKeys.openaiApiKey': 'string|null', 'apiKeys.anthropicApiKey': 'string|null', 'apiKeys.geminiApiKey': 'string|null',
    'apiKeys.perplexityApiKey': 'string|null', 'apiKeys.openrouterApiKey': 'string|null',
  },
  agents: {
    _id: 'uuid', name: 'string', description: 'string', code: 'string', docstring: 'string|null', friendlyName: 'string|null',
    tools: 'string-lists', swaggerSpecs: 'array', 'swaggerSpecs[].name': 'string', 'swaggerSpecs[].content': 'string',
    inputSchema: 'object|null', outputSchema: 'object|null', invokableModels: 'array|null', gofannonAgents: 'array|null',
    composerThoughts: 'any', composerModelConfig: 'object|null', dataStoreConfig: 'array', 'dataStoreConfig[].namespace': 'string',
    'dataStoreConfig[].access': 'string', 'dataStoreConfig[].description': 'string|null', createdAt: 'iso', updatedAt: 'iso',
  },
  demos: {
    _id: 'uuid', name: 'string', description: 'string|null', selectedApis: 'array', modelConfig: 'object', userPrompt: 'string',
    generatedCode: 'object', 'generatedCode.html': 'string', 'generatedCode.css': 'string', 'generatedCode.js': 'string',
    'generatedCode.thoughts': 'any', composerThoughts: 'any', created_at: 'iso', updated_at: 'iso',
  },
  deployments: { _id: 'string', agentId: 'uuid' },
  sessions: { _id: 'string', provider_config: 'object|null', created_at: 'iso', updated_at: 'iso' },
  tickets: { _id: 'string', status: 'string', created_at: 'iso', request: 'object' },
  agent_data_store: {
    _id: 'string', userId: 'string', namespace: 'string', key: 'string', value: 'any', metadata: 'object',
    createdByAgent: 'string|null', lastAccessedByAgent: 'string|null', accessCount: 'int', createdAt: 'iso', updatedAt: 'iso', lastAccessedAt: 'iso|null',
  },
  user_sessions: {
    _id: 'string', userUid: 'string', providerType: 'string', displayName: 'string', email: 'string|null', workspaces: 'array',
    isSiteAdmin: 'bool', createdAt: 'iso', updatedAt: 'iso', expiresAt: 'iso', lastRefreshAt: 'iso',
  },
  site_admin_audit: { _id: 'string', actorUid: 'string' },
};

/** design.md's hints and the types they demand. */
const hintTypes: Record<string, string> = { int: 'int', uuid: 'uuid', 'any JSON': 'any' };

const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const dateName = /(^|_)at$|[a-z]At$|^timestamp$|^ts$/;
const isObject = (v: unknown): v is { [key: string]: JsonValue } => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ExactNumber);
const isNumber = (v: unknown) => typeof v === 'number' || v instanceof ExactNumber;
/** A Python float as json.dump writes it: a fraction or exponent, `100.0` included. */
const isFloat = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v)) || (v instanceof ExactNumber && !v.isInteger);
const isInt = (v: unknown) => (typeof v === 'number' && Number.isInteger(v)) || (v instanceof ExactNumber && v.isInteger);

function hasType(v: JsonValue, type: string): boolean {
  return type.split('|').some((t) => {
    switch (t) {
      case 'any': return true;
      case 'null': return v === null;
      case 'string': return typeof v === 'string';
      case 'iso': return typeof v === 'string' && iso.test(v) && !Number.isNaN(Date.parse(v));
      case 'uuid': return typeof v === 'string' && uuid.test(v);
      case 'bool': return typeof v === 'boolean';
      case 'int': return isInt(v);
      case 'float': return isFloat(v);
      case 'object': return isObject(v);
      case 'array': return Array.isArray(v);
      case 'string-lists': return isObject(v) && Object.values(v).every((l) => Array.isArray(l) && l.every((s) => typeof s === 'string'));
      default: throw new Error(`unknown type ${t}`);
    }
  });
}

function describeValue(v: JsonValue): string {
  return v instanceof ExactNumber ? v.text : JSON.stringify(v)?.slice(0, 40) ?? String(v);
}

/** The values at a path (`a.b[].c`), with where each is; a missing key is reported, not skipped. */
function valuesAt(doc: JsonValue, path: string, where: string, problems: string[]): { value: JsonValue; where: string }[] {
  const [head, ...rest] = path.split('.');
  const array = head!.endsWith('[]');
  const key = array ? head!.slice(0, -2) : head!;
  if (!isObject(doc) || !(key in doc)) {
    problems.push(`${where}: no field ${key}`);
    return [];
  }
  const value = doc[key]!;
  const here = `${where}.${key}`;
  if (rest.length === 0) return [{ value, where: here }];
  if (!array) return valuesAt(value, rest.join('.'), here, problems);
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, i) => valuesAt(item, rest.join('.'), `${here}[${i}]`, problems));
}

/** Every date-named field, at any depth, holds an ISO string (or null). */
function checkDates(value: JsonValue, where: string, problems: string[]): void {
  if (Array.isArray(value)) value.forEach((v, i) => checkDates(v, `${where}[${i}]`, problems));
  else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (dateName.test(k) && !hasType(v, 'iso|null')) problems.push(`${where}.${k}: ${describeValue(v)} is not an ISO date string`);
      checkDates(v, `${where}.${k}`, problems);
    }
  }
}

/** The `_id` a format such as `userId:namespace:base64url(key)` gives: base64url as Python's urlsafe_b64encode (padded). */
function idFromFormat(format: string, doc: Doc): string {
  return format.split(':').map((part) => {
    const call = /^base64url\((\w+)\)$/.exec(part);
    if (call) return Buffer.from(String(doc[call[1]!])).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    return String(doc[part]);
  }).join(':');
}

/** Everything wrong with an export against the layout; empty when it matches. */
function layoutProblems(exported: { metadata?: JsonValue; data?: { [c: string]: JsonValue } }, layout: DesignLayout): string[] {
  const problems: string[] = [];
  const data = exported.data ?? {};
  for (const collection of layout.collections) {
    const docs = data[collection];
    if (!Array.isArray(docs) || docs.length === 0) {
      problems.push(`${collection}: missing or empty`);
      continue;
    }
    const design = layout.fields[collection] ?? [];
    const rename = (path: string) => path.replace(/^[^.[]+/, (top) => writtenAs[collection]?.[top] ?? top);
    const paths = fieldPaths(design).map(rename);
    const known = new Set([...paths.filter((p) => !/[.[]/.test(p)), ...Object.keys(proseFields[collection] ?? {})]);
    docs.forEach((doc, i) => {
      const where = `${collection}[${i}] ${isObject(doc) ? String(doc._id) : ''}`;
      if (!isObject(doc)) return problems.push(`${where}: not an object`);
      for (const key of Object.keys(doc)) if (!known.has(key)) problems.push(`${where}: ${key} is not in the app's layout`);
      for (const path of paths) {
        for (const { value, where: at } of valuesAt(doc, path, where, problems)) {
          const type = types[collection]?.[path];
          if (type && !hasType(value, type)) problems.push(`${at}: ${describeValue(value)} is not ${type}`);
        }
      }
      for (const [key, type] of Object.entries(proseFields[collection] ?? {})) {
        if (key in doc && !hasType(doc[key]!, type)) problems.push(`${where}.${key}: ${describeValue(doc[key]!)} is not ${type}`);
      }
      for (const field of design) {
        if (field.format && doc[field.name] !== idFromFormat(field.format, doc)) {
          problems.push(`${where}: ${field.name} is not ${field.format} (${idFromFormat(field.format, doc)})`);
        }
      }
      if (layout.datesAreIso) checkDates(doc, where, problems);
    });
  }
  const extra = Object.keys(data).filter((c) => !layout.collections.includes(c));
  if (extra.length) problems.push(`collections not in the app's layout: ${extra.join(', ')}`);
  return [...new Set(problems)];
}

function designLayout(): DesignLayout {
  if (!existsSync(designPath)) throw new Error(`${designPath} is missing: shared/ must sit beside the clone`);
  return readDesignLayout(designPath);
}

const text = readFileSync(samplePath, 'utf8');
const sample = parseJson(text) as { metadata: { [k: string]: JsonValue }; data: { [c: string]: Doc[] } };

describe('design.md as the test reads it', () => {
  const layout = designLayout();

  test('names the nine collections src/gofannon.ts knows, each with its fields', () => {
    expect([...layout.collections].sort()).toEqual([...gofannonCollections].sort());
    for (const c of layout.collections) expect(layout.fields[c]?.length, c).toBeGreaterThan(1);
    expect(layout.datesAreIso).toBe(true);
    expect(fieldPaths(layout.fields.users!)).toContain('usageInfo.usage[].responseCost');
    expect(layout.fields.agent_data_store!.find((f) => f.name === '_id')?.format).toBe('userId:namespace:base64url(key)');
  });

  test('every field it names has a JSON type here, and its hints agree with them', () => {
    for (const c of layout.collections) {
      const paths = fieldPaths(layout.fields[c]!).map((p) => p.replace(/^[^.[]+/, (top) => writtenAs[c]?.[top] ?? top));
      expect(Object.keys(types[c]!).sort(), c).toEqual(paths.sort());
      for (const f of layout.fields[c]!) {
        const path = writtenAs[c]?.[f.name] ?? f.name;
        if (f.hint && hintTypes[f.hint]) expect(types[c]![path], `${c}.${f.name} (${f.hint})`).toBe(hintTypes[f.hint]);
        // "(floats)": every number under the field is a float.
        if (f.hint === 'floats') {
          const numeric = Object.entries(types[c]!).filter(([p, t]) => p.startsWith(`${path}.`) && /int|float/.test(t));
          expect(numeric.length).toBeGreaterThan(0);
          for (const [p, t] of numeric) expect(t, `${c}.${p}`).toBe('float');
        }
      }
    }
  });
});

describe('examples/sample-backup.json', () => {
  const layout = designLayout();

  test('is an export.py file: metadata then data, indent 2, the nine collections, json.load-able', () => {
    expect(text.startsWith('{\n  "metadata": {\n    "provider": ')).toBe(true);
    expect(Object.keys(sample)).toEqual(['metadata', 'data']);
    expect(sample.metadata.collections).toEqual([...gofannonCollections]);
    expect(Object.keys(sample.data)).toEqual([...gofannonCollections]);
    expect(hasType(sample.metadata.exported_at!, 'iso')).toBe(true);
    expect(() => JSON.parse(text)).not.toThrow();
    const docs = Object.values(sample.data).flat();
    expect(docs.every((d) => typeof d._id === 'string')).toBe(true);
    expect(docs.length).toBeLessThan(300);
  });

  test('matches the layout design.md describes, field by field', () => {
    expect(layoutProblems(sample, layout)).toEqual([]);
  });

  test('holds what a real database holds: API keys, test accounts, float figures, data-store values of every JSON type', () => {
    const { users, agent_data_store: records, agents, deployments, demos, user_sessions: sessions, site_admin_audit: audit } = sample.data as Record<string, Doc[]>;
    const keys = users!.map((u) => u.apiKeys as Record<string, JsonValue>);
    for (const name of Object.keys(keys[0]!)) expect(keys.some((k) => typeof k[name] === 'string'), name).toBe(true);
    expect(users!.filter((u) => String((u.basicInfo as Doc).email).endsWith('@example.test')).length).toBeGreaterThanOrEqual(2);
    const figures = users!.flatMap((u) => {
      const info = u.usageInfo as Doc;
      return [info.spendRemaining, ...(info.usage as Doc[]).map((e) => e.responseCost)];
    });
    expect(figures.filter((f) => typeof f === 'number' && !Number.isInteger(f)).length).toBeGreaterThan(5);
    const kinds = new Set(records!.map(({ value: v }) => (v === null ? 'null' : Array.isArray(v) ? 'array' : isInt(v) ? 'int' : isNumber(v) ? 'float' : typeof v)));
    expect([...kinds].sort()).toEqual(['array', 'boolean', 'float', 'int', 'null', 'object', 'string']);
    // References hold together, as the app made them.
    const agentIds = new Set(agents!.map((a) => a._id));
    const uids = new Set(users!.map((u) => u._id));
    for (const d of deployments!) expect(agentIds.has(d.agentId as string)).toBe(true);
    for (const d of demos!) for (const api of d.selectedApis as Doc[]) expect(agentIds.has(api.agentId as string)).toBe(true);
    for (const a of agents!) for (const id of a.gofannonAgents as string[]) expect(agentIds.has(id)).toBe(true);
    for (const s of sessions!) expect(uids.has(s.userUid as string)).toBe(true);
    for (const r of records!) expect(uids.has(r.userId as string)).toBe(true);
    for (const a of audit!) expect(uids.has(a.actorUid as string)).toBe(true);
  });

  test('is exactly what scripts/make-sample.ts writes', () => {
    expect(text).toBe(sampleBackupText());
  });
});

describe('the layout check', () => {
  test('names each way an export departs from the layout (snake_case, wrong types, a bad _id)', () => {
    const broken = parseJson(text) as typeof sample;
    const agent = broken.data.agents![0]!;
    agent.friendly_name = agent.friendlyName!;
    delete agent.friendlyName;
    const user = broken.data.users![0]!;
    user.api_keys = user.apiKeys!;
    delete user.apiKeys;
    broken.data.agent_data_store![0]!.accessCount = '3';
    broken.data.agent_data_store![1]!.key = 'another key';
    (broken.data.users![1]!.usageInfo as Doc).spendRemaining = 100;
    broken.data.demos![0]!.created_at = 1757000000;
    delete broken.data.site_admin_audit;
    const problems = layoutProblems(broken, designLayout());
    const expected = [
      /^agents\[0\] .*: friendly_name is not in the app's layout$/,
      /^agents\[0\] .*: no field friendlyName$/,
      /^users\[0\] .*: api_keys is not in the app's layout$/,
      /^users\[0\] .*: no field apiKeys$/,
      /^agent_data_store\[0\] .*\.accessCount: "3" is not int$/,
      /^agent_data_store\[1\] .*: _id is not userId:namespace:base64url\(key\)/,
      /^users\[1\] .*\.usageInfo\.spendRemaining: 100 is not float$/,
      /^demos\[0\] .*\.created_at: 1757000000 is not iso$/,
      /^site_admin_audit: missing or empty$/,
    ];
    for (const pattern of expected) expect(problems.some((p) => pattern.test(p)), `${pattern}\n${problems.join('\n')}`).toBe(true);
  });
});
