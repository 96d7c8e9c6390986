/**
 * Writes examples/sample-backup.json: a small Gofannon export in the app's own layout, as the
 * seed's export.py writes it from CouchDB (metadata first, indent 2, non-ASCII escaped, Python's
 * float spelling: `100.0`, `4.2e-05`). Field names and types follow the app's pydantic models as
 * they serialise (`model_dump(by_alias=True, mode="json")`) and its services' raw dicts; the layout
 * is checked against ../shared/design.md by test/sample-layout.test.ts.
 *
 * Deterministic (a seeded generator, fixed tables): `npm run sample` rewrites the same bytes, and
 * the test checks that the committed file is exactly what this script writes.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gofannonCollections } from '../src/gofannon.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { copyValue } from '../src/stores/memory/store.js';
import type { Doc, JsonValue } from '../src/types.js';

/** mulberry32: a tiny seeded generator, so every run gives the same file. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The generator and the clock start afresh for each sampleData() call: the same file every time.
let random = generator(0x60fa22);
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
const hex = (n: number) => bytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
/** Python's uuid.uuid4() text. */
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[int(0, 3)]}${hex(3)}-${hex(12)}`;
/** Python's secrets.token_urlsafe(n). */
const token = (n: number) => bytes(n).toString('base64url');

/** Python's repr of a float, as json.dump writes it: `100.0`, `4.2e-05`, `0.30000000000000004`. */
function pyFloat(x: number): JsonValue {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return new ExactNumber(x.toFixed(1));
  if (x !== 0 && (Math.abs(x) < 1e-4 || Math.abs(x) >= 1e16)) {
    return new ExactNumber(x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2'));
  }
  return x;
}

/** datetime.utcnow().isoformat(): naive, with microseconds. */
const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}.${String(int(1, 999_999)).padStart(6, '0')}`;
/** Times advance through the sample, as the app wrote it over some weeks. */
const start = Date.UTC(2025, 8, 1, 8, 0, 0);
let clock = start;
function later(maxHours = 24): string {
  clock += int(60, maxHours * 3600) * 1000;
  return iso(clock);
}
const stamps = () => {
  const created = later();
  return { created, updated: later(24) };
};

// ---------------------------------------------------------------------------------------------
// Users and their auth sessions. Two test accounts (@example.test), as the redaction example drops.
interface Person { uid: string; name: string; email: string; plan: string | null; keys: string[] }
const people: Person[] = [
  { uid: 'google:108234567890123456789', name: 'Ada Okafor', email: 'ada.okafor@example.com', plan: 'pro', keys: ['openai', 'anthropic'] },
  { uid: 'github:5821347', name: 'Ben Carter', email: 'ben@example.org', plan: 'free', keys: ['gemini'] },
  { uid: 'asf:jdoe', name: 'Jane Doe', email: 'jdoe@example.org', plan: 'team', keys: ['openai', 'anthropic', 'gemini', 'perplexity', 'openrouter'] },
  { uid: 'microsoft:3f2a9c1e-77d0-4b1a-9e55-0c6d2b8e4f10', name: 'Chen Wei', email: 'chen.wei@example.com', plan: 'pro', keys: ['openrouter'] },
  { uid: 'google:117765432109876543210', name: 'Priya Raman', email: 'priya@example.com', plan: null, keys: [] },
  { uid: 'github:9034411', name: 'Tomás García', email: 'tomas.garcia@example.org', plan: 'free', keys: ['anthropic'] },
  { uid: 'dev_stub:alice', name: 'Alice (dev stub)', email: 'alice@example.test', plan: 'free', keys: ['openai'] },
  { uid: 'dev_stub:qa-bot', name: 'QA bot', email: 'qa-bot@example.test', plan: 'free', keys: ['openai', 'gemini'] },
];

/** Obviously fake keys, shaped loosely like each provider's. */
const fakeKey: Record<string, (slug: string) => string> = {
  openai: (s) => `sk-proj-FAKE-${s}-${hex(24)}`,
  anthropic: (s) => `sk-ant-FAKE-${s}-${hex(24)}`,
  gemini: (s) => `AIza-FAKE-${s}-${hex(20)}`,
  perplexity: (s) => `pplx-FAKE-${s}-${hex(24)}`,
  openrouter: (s) => `sk-or-v1-FAKE-${s}-${hex(24)}`,
};

const models = {
  openai: { provider: 'openai', model: 'gpt-4.1', parameters: { temperature: 0.2, max_tokens: 4096 } },
  reasoning: { provider: 'openai', model: 'gpt-5.1', parameters: { reasoning_effort: 'medium' } },
  anthropic: { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', parameters: { temperature: pyFloat(1), max_tokens: 16384, reasoning_effort: 'disable' } },
  gemini: { provider: 'gemini', model: 'gemini-2.5-flash', parameters: { temperature: 0.7, reasoning_effort: 'low' } },
};
type ModelName = keyof typeof models;
/** ProviderConfig as the app dumps it by alias (agents, demos). */
const providerConfig = (m: ModelName): JsonValue => ({ ...copyValue(models[m]), builtInTool: null });

function user(p: Person): Doc {
  const { created, updated } = stamps();
  const allowance = p.plan === 'team' ? 500 : p.plan === 'pro' ? 250 : 100;
  // The app subtracts each response's cost from spendRemaining in floats: its figures carry
  // the binary rounding (499.96046100000007) that a copy must keep digit for digit.
  let remaining = allowance;
  const usage: JsonValue[] = Array.from({ length: p.keys.length === 0 ? 0 : int(1, 5) }, (_, i) => {
    const cost = i % 3 === 2 ? int(5, 95) / 1e6 : int(1, 40_000) / 1e6;
    remaining = Math.max(0, remaining - cost);
    const metadata = i % 2 === 0 ? null : { model: 'openai/gpt-4.1', promptTokens: int(200, 9000), completionTokens: int(20, 2000) };
    return { timestamp: later(6), responseCost: pyFloat(cost), metadata };
  });
  const slug = p.uid.split(':')[1]!.slice(0, 8).replace(/[^a-z0-9]/gi, '');
  const keyOf = (k: string) => (p.keys.includes(k) ? fakeKey[k]!(slug) : null);
  return {
    _id: p.uid,
    createdAt: created,
    updatedAt: updated,
    basicInfo: { displayName: p.name, email: p.email },
    billingInfo: { plan: p.plan, status: p.plan ? 'active' : null },
    usageInfo: {
      monthlyAllowance: pyFloat(allowance),
      allowanceResetDate: pyFloat(p.plan ? Date.UTC(2025, 9, 1) / 1000 : 0),
      spendRemaining: pyFloat(remaining),
      usage,
    },
    apiKeys: {
      openaiApiKey: keyOf('openai'),
      anthropicApiKey: keyOf('anthropic'),
      geminiApiKey: keyOf('gemini'),
      perplexityApiKey: keyOf('perplexity'),
      openrouterApiKey: keyOf('openrouter'),
    },
  };
}

function userSession(p: Person, siteAdmin: boolean): Doc {
  const [provider, external] = p.uid.split(/:(.*)/) as [string, string];
  const created = later();
  const workspaces: JsonValue[] = [{ workspaceId: `personal:${p.uid}`, role: 'member', displayName: 'Personal', source: 'auto_personal', description: null }];
  if (provider === 'asf') workspaces.push({ workspaceId: 'project:tomcat', role: 'admin', displayName: 'Apache Tomcat', source: 'ldap_pmc', description: null });
  if (provider === 'dev_stub') workspaces.push({ workspaceId: 'project:sandbox', role: 'member', displayName: 'Sandbox', source: 'dev_stub', description: `stub login for ${external}` });
  return {
    _id: token(32),
    userUid: p.uid,
    providerType: provider,
    displayName: p.name,
    email: p.email,
    workspaces,
    isSiteAdmin: siteAdmin,
    createdAt: created,
    updatedAt: created,
    expiresAt: iso(clock + 7 * 24 * 3600 * 1000),
    lastRefreshAt: later(2),
  };
}

// ---------------------------------------------------------------------------------------------
// Agents, their deployments, demos built on them.
const agentCode = (name: string, model: ModelName, body: string) =>
  `async def run(input_dict: dict, tools: dict) -> dict:\n    """${name}"""\n    text = input_dict.get("inputText", "")\n${body}\n    resp = await call_llm(provider="${models[model].provider}", model="${models[model].model}", messages=[{"role": "user", "content": prompt}])\n    return {"outputText": resp.content}\n`;

interface AgentRow {
  name: string;
  friendly: string;
  model: ModelName;
  description: string;
  tools: { [url: string]: string[] };
  body: string;
  store: { namespace: string; access: string; description: string | null }[];
}
const agentTable: AgentRow[] = [
  { name: 'weather_reporter', friendly: 'weather-reporter', model: 'openai', description: 'Fetches the forecast for a city and summarises it in two sentences.', tools: { 'https://api.weather.gov/openapi.json': ['get_forecast', 'get_alerts'] }, body: '    forecast = await tools["get_forecast"](city=text)\n    prompt = f"Summarise for a commuter: {forecast}"', store: [{ namespace: 'weather-cache', access: 'both', description: 'Forecasts by city, 30 minutes' }] },
  { name: 'pr_reviewer', friendly: 'pr-reviewer', model: 'anthropic', description: 'Reviews a GitHub pull request and flags risky changes — migrations, auth, money.', tools: {}, body: '    prompt = f"Review this diff and list risky changes:\\n{text}"', store: [] },
  { name: 'invoice_extractor', friendly: 'invoice-extractor', model: 'gemini', description: 'Pulls supplier, date, line items and totals out of an invoice text.', tools: {}, body: '    prompt = f"Return JSON with supplier, date, lines, total: {text}"', store: [{ namespace: 'invoices', access: 'write', description: null }] },
  { name: 'standup_summarizer', friendly: 'standup-summarizer', model: 'reasoning', description: 'Turns a day of chat messages into a stand-up note: done, doing, blocked.', tools: {}, body: '    prompt = f"Write a stand-up note (done / doing / blocked) from:\\n{text}"', store: [{ namespace: 'standups', access: 'both', description: 'One note per day' }] },
  { name: 'trip_planner', friendly: 'trip-planner', model: 'openai', description: 'Plans a day trip: asks the weather reporter, then suggests a route. Émigré-friendly: answers in the asker\'s language.', tools: {}, body: '    weather = await gofannon_client.call("weather-reporter", {"inputText": text})\n    prompt = f"Plan a day trip to {text}. Weather: {weather}"', store: [] },
];

let agentIds: string[] = [];

function agent(a: AgentRow, i: number): Doc {
  const { created, updated } = stamps();
  const composite = a.name === 'trip_planner';
  return {
    _id: agentIds[i]!,
    name: a.name,
    description: a.description,
    code: agentCode(a.description, a.model, a.body),
    docstring: a.description,
    friendlyName: a.friendly,
    tools: copyValue(a.tools),
    swaggerSpecs: a.name === 'weather_reporter'
      ? [{ name: 'weather.gov', content: '{"openapi": "3.0.0", "info": {"title": "api.weather.gov", "version": "1.0"}, "paths": {"/points/{point}/forecast": {"get": {"operationId": "get_forecast"}}}}' }]
      : [],
    inputSchema: { inputText: 'string' },
    outputSchema: { outputText: 'string' },
    invokableModels: [providerConfig(a.model)],
    gofannonAgents: composite ? [agentIds[0]!] : [],
    composerThoughts: i % 2 === 0 ? { summary: `Planned ${a.name} in ${int(2, 5)} steps.`, steps: ['read the request', 'call the tools', 'answer briefly'] } : null,
    composerModelConfig: providerConfig(i === 1 ? 'anthropic' : 'reasoning'),
    dataStoreConfig: a.store.map((s) => ({ ...s })),
    // Agent inherits CreateAgentRequest's to_camel alias generator: its dates are written camelCase.
    createdAt: created,
    updatedAt: updated,
  };
}

const deployment = (i: number): Doc => ({ _id: agentTable[i]!.friendly, agentId: agentIds[i]! });

/** DeployedApi as a demo stores it. */
const deployedApi = (i: number): JsonValue => ({
  friendlyName: agentTable[i]!.friendly,
  agentId: agentIds[i]!,
  description: agentTable[i]!.description,
  inputSchema: { inputText: 'string' },
  outputSchema: { outputText: 'string' },
});

function demo(name: string, description: string | null, apis: number[], prompt: string, model: ModelName): Doc {
  const { created, updated } = stamps();
  return {
    _id: uuid(),
    name,
    description,
    selectedApis: apis.map(deployedApi),
    modelConfig: providerConfig(model),
    userPrompt: prompt,
    generatedCode: {
      html: `<main id="app"><h1>${name}</h1><textarea id="q"></textarea><button id="go">Ask</button><pre id="out"></pre></main>`,
      css: '#app { max-width: 40rem; margin: 2rem auto; font-family: system-ui; }\n#out { white-space: pre-wrap; }',
      js: `document.getElementById('go').onclick = async () => {\n  const r = await callApi('${agentTable[apis[0]!]!.friendly}', { inputText: document.getElementById('q').value });\n  document.getElementById('out').textContent = r.outputText;\n};`,
      thoughts: null,
    },
    composerThoughts: { plan: 'one input, one button, one output' },
    created_at: created,
    updated_at: updated,
  };
}

// ---------------------------------------------------------------------------------------------
// Chat: sessions hold a provider configuration (dumped by field name), tickets the requests.
function session(model: ModelName): Doc {
  const { created, updated } = stamps();
  return { _id: uuid(), provider_config: { ...copyValue(models[model]), built_in_tool: null }, created_at: created, updated_at: updated };
}

function ticket(status: 'completed' | 'failed' | 'processing', model: ModelName, question: string, answer: string): Doc {
  const created = later();
  const doc: Doc = {
    _id: uuid(),
    status,
    created_at: created,
    request: { messages: [{ role: 'user', content: question }], provider: models[model].provider, model: models[model].model, parameters: copyValue(models[model].parameters), stream: false, builtInTools: [] },
  };
  if (status === 'processing') return doc;
  doc.completed_at = later(1);
  if (status === 'completed') doc.result = { content: answer, thoughts: null, model: `${models[model].provider}/${models[model].model}` };
  else doc.error = answer;
  return doc;
}

// ---------------------------------------------------------------------------------------------
// The agents' data store: values of every JSON type.
function record(userId: string, namespace: string, key: string, value: JsonValue, agentName: string | null, accessCount: number): Doc {
  const { created, updated } = stamps();
  return {
    // The app's _make_doc_id: base64.urlsafe_b64encode, padding kept.
    _id: `${userId}:${namespace}:${Buffer.from(key).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`,
    userId,
    namespace,
    key,
    value,
    metadata: agentName ? { source: agentName } : {},
    createdByAgent: agentName,
    lastAccessedByAgent: agentName,
    accessCount,
    createdAt: created,
    updatedAt: updated,
    lastAccessedAt: agentName ? later(12) : null,
  };
}

function audit(actor: string, target: string | null, workspace: string | null, route: string, method: string, detail: string | null): Doc {
  return { _id: token(16), actorUid: actor, targetUid: target, workspaceId: workspace, route, method, writeMode: method !== 'GET', detail, ts: later() };
}

export function sampleData(): Record<string, Doc[]> {
  random = generator(0x60fa22);
  clock = start;
  agentIds = agentTable.map(() => uuid());
  const [ada, ben, jane, chen, , , alice] = people as [Person, Person, Person, Person, Person, Person, Person];
  const data: Record<string, Doc[]> = {
    agents: agentTable.map(agent),
    deployments: [0, 1, 2, 4].map(deployment),
    users: people.map(user),
    sessions: (['openai', 'anthropic', 'gemini', 'reasoning', 'openai'] as const).map(session),
    tickets: [
      ticket('completed', 'openai', 'What is the capital of Australia?', 'Canberra.'),
      ticket('completed', 'anthropic', 'Résumé this in one line: the deploy failed because the migration locked the users table.', 'A table lock from the migration broke the deploy.'),
      ticket('completed', 'gemini', 'Translate "good morning" to Japanese.', 'おはようございます (ohayō gozaimasu)'),
      ticket('failed', 'openai', 'Summarise the attached 300-page PDF.', 'litellm.RateLimitError: OpenAIException - Rate limit reached for gpt-4.1'),
      ticket('completed', 'reasoning', 'Is 1000003 prime?', 'Yes, 1000003 is prime.'),
      ticket('failed', 'anthropic', 'Hello?', 'No API key found for provider anthropic'),
      ticket('processing', 'gemini', 'Draft a release note for 2.4.0 🚀', ''),
    ],
    demos: [
      demo('Commute weather', 'Morning forecast for the office city.', [0], 'A page with a city field that shows the forecast summary.', 'openai'),
      demo('Invoice inbox', null, [2], 'Paste an invoice, see the extracted JSON as a table.', 'gemini'),
      demo('Weekend planner', 'Day trips with the weather in mind.', [4, 0], 'A form for a destination; show the plan and the forecast side by side.', 'anthropic'),
    ],
    agent_data_store: [
      record(ada.uid, 'weather-cache', 'Amsterdam', { tempC: 11.5, summary: 'Light rain, clearing by noon', fetchedAt: '2025-09-14T06:30:00Z' }, 'weather_reporter', 14),
      record(ada.uid, 'weather-cache', 'São Paulo', { tempC: 24, summary: 'Sunny', alerts: [] }, 'weather_reporter', 3),
      record(ben.uid, 'invoices', 'INV-2025/0042', { supplier: 'Acme GmbH', total: 1299.99, currency: 'EUR', lines: [{ sku: 'A-1', qty: 3, price: 433.33 }] }, 'invoice_extractor', 1),
      record(jane.uid, 'standups', '2025-09-15', ['shipped the exporter', 'reviewing the DynamoDB PR', 'blocked on CI quota'], 'standup_summarizer', 7),
      record(jane.uid, 'standups', 'last-note-day', '2025-09-15', 'standup_summarizer', 22),
      record(jane.uid, 'counters', 'runs', 1042, 'standup_summarizer', 1042),
      record(chen.uid, 'settings', 'temperature', 0.35, null, 0),
      record(chen.uid, 'settings', 'dark mode?', true, null, 5),
      record(chen.uid, 'settings', 'last error', null, 'pr_reviewer', 2),
      record(alice.uid, 'scratch', 'notes/today', 'Déjà vu: the résumé agent ran twice ✔', 'trip_planner', 0),
    ],
    user_sessions: [userSession(ada, false), userSession(ben, false), userSession(jane, true), userSession(jane, true), userSession(chen, false), userSession(alice, false)],
    site_admin_audit: [
      audit(jane.uid, ada.uid, `personal:${ada.uid}`, '/agents', 'GET', null),
      audit(jane.uid, ben.uid, `personal:${ben.uid}`, '/data-store/namespaces', 'GET', 'support ticket #311'),
      audit(jane.uid, chen.uid, `personal:${chen.uid}`, '/users/{user_id}/usage-info', 'PUT', 'raised monthly allowance to 250.0'),
      audit(jane.uid, null, 'project:tomcat', '/demos', 'GET', null),
    ],
  };
  // In the app's order, as export.py lists them.
  return Object.fromEntries(gofannonCollections.map((c) => [c, data[c]!]));
}

/** The export file's text, as export.py writes it (json.dump, indent 2, ensure_ascii). */
export function sampleBackupText(): string {
  const data = sampleData();
  const metadata = { provider: 'couchdb', exported_at: later(), collections: Object.keys(data) };
  const text = stringifyExact({ metadata, data }, 2);
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const samplePath = join(root, 'examples', 'sample-backup.json');

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(samplePath, sampleBackupText());
  console.log(`wrote ${samplePath}`);
}
